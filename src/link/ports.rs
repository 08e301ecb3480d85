//! Finding the port a lock is on.
//!
//! Resolution order, first match wins: `--port PATH`, the `LATCHKEY_PORT` environment variable,
//! `port` in the config file, the one USB port whose VID:PID is a known lock adapter, an
//! interactive pick when a person is at a terminal. Otherwise an error lists the candidates.

use std::path::PathBuf;

use serde::Serialize;

/// USB serial adapters that lock service cables are built on.
pub const KNOWN_ADAPTERS: &[KnownAdapter] = &[
    KnownAdapter { vid: 0x0403, pid: 0x6015, name: "latchkey service cable (FTDI FT230X)" },
    KnownAdapter { vid: 0x0d28, pid: 0x0204, name: "micro:bit DAPLink (lock dev board)" },
    KnownAdapter { vid: 0x10c4, pid: 0xea60, name: "Silicon Labs CP210x service cable" },
];

/// A USB VID:PID that identifies a lock adapter.
#[derive(Debug, Clone, Copy)]
pub struct KnownAdapter {
    /// USB vendor id.
    pub vid: u16,
    /// USB product id.
    pub pid: u16,
    /// What it is.
    pub name: &'static str,
}

/// A serial port on this machine.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PortInfo {
    /// Device path, e.g. `/dev/ttyUSB0`.
    pub path: String,
    /// `usb`, `pci`, `bluetooth` or `other`.
    pub kind: &'static str,
    /// USB vendor id.
    pub vid: Option<u16>,
    /// USB product id.
    pub pid: Option<u16>,
    /// USB serial number.
    pub serial_number: Option<String>,
    /// USB manufacturer string.
    pub manufacturer: Option<String>,
    /// USB product string.
    pub product: Option<String>,
    /// The known lock adapter this is, if any.
    pub adapter: Option<&'static str>,
}

impl PortInfo {
    /// One line for a person: path, ids and names.
    pub fn describe(&self) -> String {
        let mut line = self.path.clone();
        if let (Some(vid), Some(pid)) = (self.vid, self.pid) {
            line.push_str(&format!("  {vid:04x}:{pid:04x}"));
        }
        for part in [&self.manufacturer, &self.product, &self.serial_number].into_iter().flatten() {
            line.push_str("  ");
            line.push_str(part);
        }
        if let Some(adapter) = self.adapter {
            line.push_str(&format!("  [{adapter}]"));
        }
        line
    }
}

/// The serial ports this machine has.
pub fn list_ports() -> Result<Vec<PortInfo>, serialport::Error> {
    let mut ports: Vec<PortInfo> = serialport::available_ports()?
        .into_iter()
        .map(|p| {
            let mut info = PortInfo {
                path: p.port_name,
                kind: "other",
                vid: None,
                pid: None,
                serial_number: None,
                manufacturer: None,
                product: None,
                adapter: None,
            };
            match p.port_type {
                serialport::SerialPortType::UsbPort(usb) => {
                    info.kind = "usb";
                    info.adapter = known_adapter(usb.vid, usb.pid).map(|a| a.name);
                    info.vid = Some(usb.vid);
                    info.pid = Some(usb.pid);
                    info.serial_number = usb.serial_number;
                    info.manufacturer = usb.manufacturer;
                    info.product = usb.product;
                }
                serialport::SerialPortType::PciPort => info.kind = "pci",
                serialport::SerialPortType::BluetoothPort => info.kind = "bluetooth",
                serialport::SerialPortType::Unknown => {}
            }
            info
        })
        .collect();
    ports.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(ports)
}

/// The known adapter with this VID:PID.
pub fn known_adapter(vid: u16, pid: u16) -> Option<&'static KnownAdapter> {
    KNOWN_ADAPTERS.iter().find(|a| a.vid == vid && a.pid == pid)
}

/// Where the port came from, so errors and `--verbose` can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortSource {
    /// `--port`.
    Flag,
    /// `LATCHKEY_PORT`.
    Env,
    /// The config file.
    ConfigFile,
    /// The only known adapter plugged in.
    Adapter,
    /// Picked by the person at the terminal.
    Picked,
}

/// Why no port could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No candidate at all.
    #[error("no lock adapter found{}", list_suffix(.candidates))]
    NoneFound {
        /// Other serial ports seen.
        candidates: Vec<PortInfo>,
    },
    /// Several candidates and nobody to pick.
    #[error("several ports could be the lock; choose one with --port{}", list_suffix(.candidates))]
    Ambiguous {
        /// The candidates.
        candidates: Vec<PortInfo>,
    },
    /// Listing ports failed.
    #[error("cannot list serial ports: {0}")]
    List(#[from] serialport::Error),
    /// The interactive pick was abandoned.
    #[error("no port chosen")]
    Cancelled,
}

fn list_suffix(candidates: &[PortInfo]) -> String {
    if candidates.is_empty() {
        return String::new();
    }
    let mut s = String::from("; serial ports seen:");
    for c in candidates {
        s.push_str("\n  ");
        s.push_str(&c.describe());
    }
    s
}

/// Asks a person to choose among ports; `None` when they decline.
pub type PortPicker<'a> = &'a dyn Fn(&[PortInfo]) -> Option<usize>;

/// Picks a port when no flag, variable or config file named one: the single known adapter,
/// else `pick` (a prompt, when a person is there) among all ports.
pub fn auto_detect(pick: Option<PortPicker<'_>>) -> Result<(PathBuf, PortSource), ResolveError> {
    let ports = list_ports()?;
    let adapters: Vec<&PortInfo> = ports.iter().filter(|p| p.adapter.is_some()).collect();
    if let [only] = adapters.as_slice() {
        return Ok((PathBuf::from(&only.path), PortSource::Adapter));
    }
    let candidates: Vec<PortInfo> =
        if adapters.is_empty() { ports.clone() } else { adapters.into_iter().cloned().collect() };
    match (pick, candidates.len()) {
        (_, 0) => Err(ResolveError::NoneFound { candidates }),
        (Some(pick), _) => match pick(&candidates) {
            Some(i) if i < candidates.len() => {
                Ok((PathBuf::from(&candidates[i].path), PortSource::Picked))
            }
            _ => Err(ResolveError::Cancelled),
        },
        (None, _) if ports.iter().all(|p| p.adapter.is_none()) => {
            Err(ResolveError::NoneFound { candidates })
        }
        (None, _) => Err(ResolveError::Ambiguous { candidates }),
    }
}
