//! The host simulator: the lock core on Linux, its UART a pseudo-terminal, its flash a file.
//!
//! [`RunningSim::start`] runs a lock on background threads; a host opens
//! [`RunningSim::port_path`] like any serial port. The `latchkey-sim` binary is a thin wrapper
//! over it, and `latchkey --sim` and the tests run it in-process.

mod actions;
mod devices;
pub mod factory;
mod flash;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use latchkey_protocol::crypto::{SetupCode, SetupCodeError};
use latchkey_protocol::{Event, Ident, ResetReason};
use serialport::{SerialPort, TTYPort};

pub use actions::{
    ACTIONS_HELP, Action, ActionError, access_line, beep_line, event_line, failed_line, ok_line,
};
pub use devices::{SIM_SENSOR_SLOTS, SimBeeper, SimDevices, SimFingerprint, SimMotor, SimPhone};
pub use flash::{FlashFileError, SimFlash, SimFlashError};

use latchkey_firmware::factory::FactoryClaim;
use latchkey_firmware::hal::{Battery, Clock, Rng};
use latchkey_firmware::link::Link;
use latchkey_firmware::lock::{Identity, Lock};
use latchkey_firmware::store::{Store, StoreError};

/// Model name a simulator reports.
pub const SIM_MODEL: &str = "LK-100 sim";
/// Default serial number.
pub const DEFAULT_SERIAL: &str = "SIM-000001";
/// Default battery: 6.0 V, a healthy 4 x AA pack (85 %).
pub const DEFAULT_BATTERY_MV: u16 = 6000;
/// How far behind the host a fresh simulator's clock runs, so `time sync` has work to do.
pub const INITIAL_DRIFT_S: i64 = -90;
/// Requests the simulator accepts before answering the first: the pty's input queue (4 KiB)
/// holds 12 largest frames; 8 leaves room for the host's retries.
pub const SIM_MAX_IN_FLIGHT: u8 = 8;

/// How the simulator runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Flash image file (created erased if missing); `None` keeps the flash in memory.
    pub flash_path: Option<PathBuf>,
    /// Make a symlink here to the pty slave (a stable name for the port).
    pub link: Option<PathBuf>,
    /// Pace the UART like a line at this many baud, 8N1; `None` runs unpaced.
    pub baud: Option<u32>,
    /// Serial number, at most 24 bytes.
    pub serial: String,
    /// Battery voltage at rest, millivolts.
    pub battery_mv: u16,
    /// The setup code (`XXXX-XXXX-XXXX`, parsed leniently). `None`: the one in the flash's
    /// factory record, or a new random one written there on the first run, so a lock keeps
    /// its code across restarts on one flash file. A given code is written there too, as a
    /// factory programming the lock would.
    pub setup_code: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            flash_path: None,
            link: None,
            baud: None,
            serial: DEFAULT_SERIAL.to_owned(),
            battery_mv: DEFAULT_BATTERY_MV,
            setup_code: None,
        }
    }
}

/// Why the simulator could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The flash file could not be opened or created.
    #[error("cannot use flash file {}: {source}", path.display())]
    FlashFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: FlashFileError,
    },
    /// The store in the flash could not be mounted.
    #[error("cannot mount the lock's store: {0}")]
    Store(#[from] StoreError),
    /// The pseudo-terminal could not be created.
    #[error("cannot create a pseudo-terminal: {0}")]
    Pty(#[from] serialport::Error),
    /// The link symlink could not be made.
    #[error("cannot create link {}: {source}", path.display())]
    Link {
        /// The link path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Something other than a symlink is at the link path.
    #[error("{} exists and is not a symlink; not replacing it", path.display())]
    LinkOccupied {
        /// The link path.
        path: PathBuf,
    },
    /// The serial number is not 1 to 24 bytes of printable text.
    #[error("invalid serial number {0:?}: must be 1 to 24 printable bytes")]
    Serial(String),
    /// The setup code given is not one.
    #[error("invalid setup code {input:?}: {reason}")]
    SetupCode {
        /// What was given.
        input: String,
        /// Why it is not a setup code.
        reason: SetupCodeError,
    },
    /// The host's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Rng(getrandom::Error),
    /// The baud rate is zero.
    #[error("invalid baud rate 0")]
    Baud,
    /// A simulator thread could not be started.
    #[error("cannot start the simulator thread: {0}")]
    Thread(io::Error),
    /// A simulator thread panicked.
    #[error("the simulator thread panicked")]
    Panicked,
    /// The flash file could not be synced at exit.
    #[error("cannot flush the flash file: {0}")]
    FlashSync(io::Error),
    /// An action line was not understood.
    #[error("{0}")]
    Action(#[from] ActionError),
    /// The simulated lock is not running (stopped, or it could not boot after a power cut).
    #[error("the simulated lock is not running")]
    Stopped,
    /// The fingerprint sensor's memory file could not be read.
    #[error("cannot read the fingerprint sensor's memory {}: {source}", path.display())]
    SensorFile {
        /// The sidecar file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The factory page could not be written.
    #[error("cannot write the lock's factory page: {0:?}")]
    FactoryPage(latchkey_firmware::hal::NorFlashErrorKind),
    /// The label (the setup code beside the flash file) could not be written.
    #[error("cannot write the lock's label {}: {source}", path.display())]
    LabelFile {
        /// The label file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl SimError {
    /// A line telling the user what to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Self::FlashFile { source: FlashFileError::Size { .. }, .. } => {
                "point --flash at a file made by latchkey-sim, or at a path that does not exist yet"
            }
            Self::FlashFile { .. } => {
                "check that the directory exists and is writable, or omit --flash to keep the flash in memory"
            }
            Self::Store(_) => {
                "the flash image is damaged or from another firmware; start with a new --flash file"
            }
            Self::Link { .. } | Self::LinkOccupied { .. } => {
                "choose another --link path in a writable directory"
            }
            Self::Serial(_) => "use e.g. --serial SIM-000002",
            Self::SetupCode { .. } => {
                "a setup code is 12 characters of 0-9 and A-Z without U (I, L and O read as 1, 1 and 0), e.g. --setup-code 7K2M-9QXA-4RTD"
            }
            Self::Baud => "use e.g. --baud 115200, or omit it for an unpaced link",
            Self::Pty(_) => "check that /dev/ptmx is available (devpts mounted)",
            _ => return None,
        })
    }
}

/// `TTYPort::pair` is not thread-safe (ptsname and friends); serialize it process-wide.
static PTY_PAIR: Mutex<()> = Mutex::new(());

/// An action for the lock thread, and where to send the lines it produced.
struct Command {
    /// What to do; an error for a line that was not understood (then only acknowledged).
    action: Result<Action, ActionError>,
    /// The action line to acknowledge on the notice stream once the action is done, after
    /// every line it caused (`latchkey-sim: ok LINE`); `None`: no acknowledgement.
    ack: Option<String>,
    reply: SyncSender<Vec<String>>,
}

/// A handle that acts on a running simulator from any thread (the `latchkey-sim` binary's
/// standard-input reader holds one).
#[derive(Clone)]
pub struct SimControl {
    commands: SyncSender<Command>,
}

impl SimControl {
    /// Does what `line` says (`pin 058213`, `card 04A1B2C3`, ... see [`ACTIONS_HELP`]) and
    /// returns once the lock has reacted, with the lines describing what it did (an access
    /// decision, an enrollment step, an alarm).
    pub fn act_report(&self, line: &str) -> Result<Vec<String>, SimError> {
        let action = Action::parse(line)?;
        self.perform(action)
    }

    /// Does `action`; see [`Self::act_report`].
    pub fn perform(&self, action: Action) -> Result<Vec<String>, SimError> {
        self.send(Ok(action), None)
    }

    /// Like [`Self::act_report`], and also acknowledges the line on the notice stream
    /// ([`RunningSim::take_notices`]) after every line the action caused: [`ok_line`] once it
    /// is done, [`failed_line`] if the line was not understood. A reader of that stream that
    /// has seen the acknowledgement has seen everything the action did. (When the lock has
    /// stopped there is nobody to acknowledge: the caller gets [`SimError::Stopped`].)
    pub fn act_acknowledged(&self, line: &str) -> Result<Vec<String>, SimError> {
        let action = Action::parse(line);
        let understood = action.clone().map(drop);
        let lines = self.send(action, Some(line.trim().to_owned()))?;
        understood.map_err(SimError::Action)?;
        Ok(lines)
    }

    fn send(
        &self,
        action: Result<Action, ActionError>,
        ack: Option<String>,
    ) -> Result<Vec<String>, SimError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.commands.send(Command { action, ack, reply }).map_err(|_| SimError::Stopped)?;
        answer.recv().map_err(|_| SimError::Stopped)
    }
}

/// A simulated lock running on background threads.
pub struct RunningSim {
    control: SimControl,
    notices: Option<Receiver<String>>,
    port_path: PathBuf,
    link: Option<PathBuf>,
    stop: Arc<AtomicBool>,
    battery_mv: Arc<AtomicU16>,
    setup_code: String,
    reader: Option<JoinHandle<Result<(), SimError>>>,
    writer: Option<JoinHandle<()>>,
    /// Our own handle on the slave: while it is open, a host closing the port does not hang
    /// up the pty, and the next open works like re-plugging a cable.
    _slave: TTYPort,
}

impl RunningSim {
    /// Boots a lock: opens the flash, mounts the store, counts the boot, makes the pty and
    /// the link, and starts answering. Returns once the lock is ready.
    pub fn start(config: SimConfig) -> Result<RunningSim, SimError> {
        let serial =
            ident(&config.serial).ok_or_else(|| SimError::Serial(config.serial.clone()))?;
        if config.baud == Some(0) {
            return Err(SimError::Baud);
        }
        let given_code = match &config.setup_code {
            Some(text) => Some(
                SetupCode::parse(text)
                    .map_err(|reason| SimError::SetupCode { input: text.clone(), reason })?,
            ),
            None => None,
        };
        let mut flash = match &config.flash_path {
            Some(path) => SimFlash::open_file(path)
                .map_err(|source| SimError::FlashFile { path: path.clone(), source })?,
            None => SimFlash::erased(),
        };
        let rng = SimRng::new()?;
        let label = config.flash_path.as_deref().map(factory::label_path);
        let (claim, setup_code) = factory_step(&mut flash, given_code, label.as_deref())?;
        // A second handle on the image file, to fsync it at stop (the flash itself ends up
        // inside the store, out of reach).
        let flash_file = flash.try_clone_file().map_err(SimError::FlashSync)?;
        let battery_mv = Arc::new(AtomicU16::new(config.battery_mv));
        let time = SimTime::new();
        let store = Store::mount(flash)?;
        let setup_code_text = match &setup_code {
            Some(code) => String::from_utf8_lossy(&code.display()).into_owned(),
            None => "unknown (on the label of a lock made earlier)".to_string(),
        };
        let identity = Identity {
            model: ident(SIM_MODEL).unwrap_or_default(),
            serial,
            simulation: true,
            max_in_flight: SIM_MAX_IN_FLIGHT,
            claim: Some(claim),
        };
        let fingerprint = match &config.flash_path {
            Some(path) => {
                let sidecar = SimFingerprint::sidecar_for(path);
                SimFingerprint::with_file(&sidecar)
                    .map_err(|source| SimError::SensorFile { path: sidecar, source })?
            }
            None => SimFingerprint::new(),
        };
        let battery = SimBattery(battery_mv.clone());
        let motor = SimMotor { battery: Some(battery.clone()), ..SimMotor::default() };
        let devices = SimDevices { fingerprint, motor, beeper: SimBeeper::default() };
        // The simulator starts as a lock does when its batteries go in.
        let lock = Lock::boot(
            store,
            SimClock::with_time(time.clone()),
            battery.clone(),
            rng,
            devices,
            identity,
            ResetReason::PowerOn,
        )?;

        let (master, slave) = {
            let _guard = PTY_PAIR.lock().unwrap_or_else(|e| e.into_inner());
            TTYPort::pair()?
        };
        let port_path = PathBuf::from(slave.name().unwrap_or_default());
        if let Some(link) = &config.link {
            make_link(link, &port_path)?;
        }
        let cleanup_link = |e: SimError| {
            if let Some(link) = &config.link {
                let _ = std::fs::remove_file(link);
            }
            e
        };

        let mut rx_port = master.try_clone_native().map_err(|e| cleanup_link(e.into()))?;
        let mut tx_port = master;
        // Short timeouts so the threads notice `stop` promptly.
        rx_port.set_timeout(Duration::from_millis(50)).map_err(|e| cleanup_link(e.into()))?;
        tx_port.set_timeout(Duration::from_millis(50)).map_err(|e| cleanup_link(e.into()))?;
        let byte_time = config.baud.map(|baud| Duration::from_secs(10) / baud);
        let stop = Arc::new(AtomicBool::new(false));
        // A few frames of output queue; when full the reader waits, as a UART would.
        let (frames_tx, frames_rx) = mpsc::sync_channel::<Vec<u8>>(64);
        let (commands_tx, commands_rx) = mpsc::sync_channel::<Command>(4);
        let (notices_tx, notices_rx) = mpsc::sync_channel::<String>(256);

        let writer = thread::Builder::new()
            .name("latchkey-sim-tx".into())
            .spawn({
                let stop = stop.clone();
                move || write_loop(tx_port, frames_rx, byte_time, &stop)
            })
            .map_err(|e| cleanup_link(SimError::Thread(e)))?;
        let reader = thread::Builder::new().name("latchkey-sim-rx".into()).spawn({
            let stop = stop.clone();
            move || {
                let world = World { battery, time, commands: commands_rx, notices: notices_tx };
                let result = read_loop(rx_port, lock, world, frames_tx, byte_time, &stop);
                if let Some(file) = flash_file {
                    file.sync_all().map_err(SimError::FlashSync)?;
                }
                result
            }
        });
        let reader = match reader {
            Ok(reader) => reader,
            Err(e) => {
                stop.store(true, Ordering::SeqCst);
                let _ = writer.join();
                return Err(cleanup_link(SimError::Thread(e)));
            }
        };

        Ok(RunningSim {
            control: SimControl { commands: commands_tx },
            notices: Some(notices_rx),
            port_path,
            link: config.link,
            stop,
            battery_mv,
            setup_code: setup_code_text,
            reader: Some(reader),
            writer: Some(writer),
            _slave: slave,
        })
    }

    /// The pty slave path a host opens, e.g. `/dev/pts/7`.
    pub fn port_path(&self) -> &Path {
        &self.port_path
    }

    /// The symlink made for `SimConfig::link`, if any.
    pub fn link_path(&self) -> Option<&Path> {
        self.link.as_deref()
    }

    /// The lock's setup code as printed on its label, `XXXX-XXXX-XXXX`: what a host needs to
    /// claim or factory-reset it.
    pub fn setup_code(&self) -> String {
        self.setup_code.clone()
    }

    /// Does what `line` says, as the simulated person at the door (`pin 058213`,
    /// `card 04A1B2C3`, `finger ann-thumb 80`, `phone SEED_HEX`, `key`, `tamper on`,
    /// `door open`, `battery 4400`, `jam on`, `power-cut`; see [`ACTIONS_HELP`]). Returns once
    /// the lock has reacted.
    pub fn act(&self, line: &str) -> Result<(), SimError> {
        self.control.act_report(line).map(drop)
    }

    /// Like [`Self::act`], returning the lines that describe what the lock did, e.g.
    /// `latchkey-sim: access granted user 3 via keypad`.
    pub fn act_report(&self, line: &str) -> Result<Vec<String>, SimError> {
        self.control.act_report(line)
    }

    /// A handle to act from another thread.
    pub fn control(&self) -> SimControl {
        self.control.clone()
    }

    /// Every line the simulator reports (access decisions, enrollment steps, alarms, boots),
    /// including those that happen without an action (an enrollment timing out); once. Lines
    /// nobody takes are dropped after a few hundred.
    pub fn take_notices(&mut self) -> Option<Receiver<String>> {
        self.notices.take()
    }

    /// Changes the simulated battery voltage (millivolts at rest).
    pub fn set_battery_mv(&self, millivolts: u16) {
        self.battery_mv.store(millivolts, Ordering::Relaxed);
    }

    /// Stops the lock, flushes the flash file and removes the link.
    pub fn stop(mut self) -> Result<(), SimError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), SimError> {
        self.stop.store(true, Ordering::SeqCst);
        let mut result = Ok(());
        if let Some(reader) = self.reader.take() {
            result = reader.join().unwrap_or(Err(SimError::Panicked));
        }
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
            && result.is_ok()
        {
            result = Err(SimError::Panicked);
        }
        if let Some(link) = self.link.take() {
            // Only our own link: someone may have replaced it meanwhile.
            if std::fs::read_link(&link).is_ok_and(|target| target == self.port_path) {
                let _ = std::fs::remove_file(&link);
            }
        }
        result
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// The factory step: the lock's factory page (salt and verifier, all the flash keeps of its
/// setup code), and the code when this start knows it.
///
/// A code given (`--setup-code`) that the page does not verify is made the lock's code; a
/// fresh flash (or a damaged page) gets a random one. Either way its verifier is written, and
/// the code goes on the lock's label: printed, and kept in the `.label` file beside the flash
/// file, never in the flash. A later start on that flash reads the label.
fn factory_step(
    flash: &mut SimFlash,
    given: Option<SetupCode>,
    label: Option<&Path>,
) -> Result<(FactoryClaim, Option<SetupCode>), SimError> {
    let stored = FactoryClaim::read(flash).ok();
    let code = match (given, &stored) {
        (Some(code), Some(claim)) if factory::verifies(claim, &code) => {
            return Ok((claim.clone(), Some(code)));
        }
        (None, Some(claim)) => {
            let on_label = label.and_then(factory::read_label);
            let code = on_label.filter(|code| factory::verifies(claim, code));
            return Ok((claim.clone(), code));
        }
        (Some(code), _) => code,
        (None, None) => factory::random_code().map_err(SimError::Rng)?,
    };
    let claim = factory::claim_for(&code).map_err(SimError::Rng)?;
    claim.write(flash).map_err(SimError::FactoryPage)?;
    if let Some(path) = label {
        factory::write_label(path, &code)
            .map_err(|source| SimError::LabelFile { path: path.into(), source })?;
    }
    Ok((claim, Some(code)))
}

fn ident(s: &str) -> Option<Ident> {
    if s.is_empty() || s.chars().any(char::is_control) {
        return None;
    }
    Ident::try_from(s).ok()
}

/// Makes `link` a symlink to `target`, replacing a stale symlink but nothing else.
fn make_link(link: &Path, target: &Path) -> Result<(), SimError> {
    let err = |source| SimError::Link { path: link.to_owned(), source };
    match std::fs::symlink_metadata(link) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::remove_file(link).map_err(err)?,
        Ok(_) => return Err(SimError::LinkOccupied { path: link.to_owned() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    std::os::unix::fs::symlink(target, link).map_err(err)
}

type SimLock = Lock<SimFlash, SimClock, SimBattery, SimRng, SimDevices>;

/// What the lock thread needs besides the lock: the battery it can change, the time it can
/// move, the actions to carry out, and where to report.
struct World {
    battery: SimBattery,
    time: SimTime,
    commands: Receiver<Command>,
    notices: SyncSender<String>,
}

/// Whether an I/O error means "no host has the port open": keep waiting for the next one.
fn host_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe || e.raw_os_error() == Some(5 /* EIO */)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        thread::sleep(at - now);
    }
}

fn read_loop(
    mut port: TTYPort,
    lock: SimLock,
    world: World,
    frames: SyncSender<Vec<u8>>,
    byte_time: Option<Duration>,
    stop: &AtomicBool,
) -> Result<(), SimError> {
    let mut lock = Some(lock);
    let mut link = Link::new();
    let mut send = |frame: &[u8]| {
        // Like a UART's transmit FIFO: when nobody drains the line (no host plugged in), what
        // does not fit is lost rather than stopping the lock. A host that reads never fills it.
        let _ = frames.try_send(frame.to_vec());
    };
    if let Some(lock) = &lock {
        let boot_count = lock.boot_count();
        link.send_event(&Event::Booted { boot_count }, &mut send);
    }

    let mut buf = [0u8; 256];
    // Paced, read at most ~50 ms of line time at once, so `stop` is noticed promptly.
    let read_len = byte_time.map_or(buf.len(), |t| {
        (Duration::from_millis(50).as_nanos() / t.as_nanos().max(1)).clamp(1, 256) as usize
    });
    // When the last received byte finished arriving on the simulated line.
    let mut line_clock = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        // The person's actions, then time passing, then what the lock has to say about them.
        // A person (or a script on stdin) acting in a burst sends the next action as soon as
        // the last is answered: wait a moment for it rather than a whole port-read timeout.
        let mut acted = false;
        while let Some(command) = if acted {
            world.commands.recv_timeout(Duration::from_millis(2)).ok()
        } else {
            world.commands.try_recv().ok()
        } {
            acted = true;
            let mut lines = Vec::new();
            let action = match command.action {
                Ok(action) => action,
                Err(e) => {
                    if let Some(line) = &command.ack {
                        let _ = world.notices.try_send(failed_line(line, &e));
                    }
                    let _ = command.reply.send(lines);
                    continue;
                }
            };
            let current = lock.take().ok_or(SimError::Stopped)?;
            let next = act(current, &action, &world, &mut link, &mut send, &mut lines);
            let next = match next {
                Ok(next) => next,
                Err(e) => {
                    drop(command.reply);
                    return Err(e);
                }
            };
            let mut current = next;
            current.tick();
            flush_events(&mut current, &mut link, &mut send, &world, &mut lines);
            lock = Some(current);
            // Through the same channel as the lines above, so it is printed after them.
            if let Some(line) = &command.ack {
                let _ = world.notices.try_send(ok_line(line));
            }
            let _ = command.reply.send(lines);
        }
        let Some(current) = lock.as_mut() else {
            return Err(SimError::Stopped);
        };
        current.tick();
        flush_events(current, &mut link, &mut send, &world, &mut Vec::new());

        let n = match port.read(&mut buf[..read_len]) {
            Ok(0) => {
                thread::sleep(Duration::from_millis(20));
                continue;
            }
            Ok(n) => n,
            Err(e) if is_timeout(&e) => continue,
            Err(e) => {
                // Host gone (or a transient error): drop any half frame, wait for the next host.
                if !host_gone(&e) {
                    thread::sleep(Duration::from_millis(50));
                }
                link.reset();
                thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        let bytes = &buf[..n];
        match byte_time {
            None => link.receive(bytes, current, &mut send),
            Some(byte_time) => {
                // Each byte is "received" one byte time after the previous one, and a frame is
                // answered only once its last byte would have arrived.
                line_clock = line_clock.max(Instant::now());
                for &byte in bytes {
                    line_clock += byte_time;
                    let arrived = line_clock;
                    link.receive(&[byte], current, &mut |frame| {
                        sleep_until(arrived);
                        send(frame);
                    });
                }
                sleep_until(line_clock);
            }
        }
        flush_events(current, &mut link, &mut send, &world, &mut Vec::new());
    }
    Ok(())
}

/// Sends the lock's pending events on the link and reports each as a line.
fn flush_events(
    lock: &mut SimLock,
    link: &mut Link,
    send: &mut impl FnMut(&[u8]),
    world: &World,
    lines: &mut Vec<String>,
) {
    while let Some(event) = lock.next_event() {
        link.send_event(&event, send);
        if let Some(line) = event_line(&event) {
            let _ = world.notices.try_send(line.clone());
            lines.push(line);
        }
    }
    for (beep, volume) in std::mem::take(&mut lock.devices().beeper.played) {
        let line = beep_line(beep, volume);
        let _ = world.notices.try_send(line.clone());
        lines.push(line);
    }
}

/// Carries out one action of the simulated person; returns the lock (a new one after a power
/// cut).
fn act(
    mut lock: SimLock,
    action: &Action,
    world: &World,
    link: &mut Link,
    send: &mut impl FnMut(&[u8]),
    lines: &mut Vec<String>,
) -> Result<SimLock, SimError> {
    match action {
        Action::Pin(digits) => {
            lock.keypad_entry(digits);
        }
        Action::Card(uid) => {
            lock.card_tapped(uid);
        }
        Action::Finger { name, quality } => {
            let capture = lock.devices().fingerprint.place(name, *quality);
            lock.finger_placed(capture);
        }
        Action::Phone(seed) => {
            lock.phone_presented(&mut SimPhone::from_seed(seed));
        }
        Action::Key => {
            lock.mechanical_key();
        }
        Action::Tamper(on) => lock.tamper_changed(*on),
        Action::Door(open) => lock.door_changed(*open),
        Action::Jam(on) => lock.devices().motor.jammed = *on,
        Action::Battery(mv) => world.battery.set_millivolts(*mv),
        // The caller ticks the lock next: what fell due meanwhile happens then.
        Action::Clock(by) => world.time.advance(*by),
        Action::PowerCut => {
            // Whatever was in RAM (sessions, the last access, alarms, the clock) is gone; the
            // flash and the sensor's own memory stay.
            let identity = lock.identity().clone();
            let (flash, devices) = lock.power_off();
            let store = Store::mount(flash)?;
            let mut rebooted = Lock::boot(
                store,
                SimClock::with_time(world.time.clone()),
                world.battery.clone(),
                SimRng::new()?,
                devices,
                identity,
                ResetReason::PowerOn,
            )?;
            *link = Link::new();
            let booted = Event::Booted { boot_count: rebooted.boot_count() };
            link.send_event(&booted, send);
            if let Some(line) = event_line(&booted) {
                let _ = world.notices.try_send(line.clone());
                lines.push(line);
            }
            flush_events(&mut rebooted, link, send, world, lines);
            return Ok(rebooted);
        }
    }
    Ok(lock)
}

fn write_loop(
    mut port: TTYPort,
    frames: Receiver<Vec<u8>>,
    byte_time: Option<Duration>,
    stop: &AtomicBool,
) {
    // Chunk so pacing holds to ~1 ms, whatever the baud.
    let chunk_len = match byte_time {
        Some(t) => (Duration::from_millis(1).as_nanos() / t.as_nanos().max(1)).max(1) as usize,
        None => usize::MAX,
    };
    let mut line_clock = Instant::now();
    while let Ok(frame) = frames.recv() {
        for chunk in frame.chunks(chunk_len.min(frame.len().max(1))) {
            if let Some(t) = byte_time {
                line_clock = line_clock.max(Instant::now());
                sleep_until(line_clock);
                line_clock += t * chunk.len() as u32;
            }
            if !write_all(&mut port, chunk, stop) {
                break; // host gone: the rest of this frame is lost, as on a cable
            }
        }
    }
}

/// Writes `bytes`, retrying while the pty is full. False if they could not all be written.
fn write_all(port: &mut TTYPort, mut bytes: &[u8], stop: &AtomicBool) -> bool {
    while !bytes.is_empty() {
        match port.write(bytes) {
            Ok(0) => return false,
            Ok(n) => bytes = &bytes[n..],
            Err(e) if is_timeout(&e) && !stop.load(Ordering::SeqCst) => continue,
            Err(_) => return false,
        }
    }
    true
}

/// The simulated world's time: the host's, moved forward by the `clock +DURATION` action.
/// Clones share it; every [`SimClock`] made from it (one per boot) sees the same moves.
#[derive(Debug, Clone, Default)]
pub struct SimTime {
    ahead_ms: Arc<AtomicU64>,
}

impl SimTime {
    /// The host's time, not moved yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Time passes: everything reading this time sees `by` more of it, wall clock and
    /// uptime alike.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let _ = self.ahead_ms.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |ahead| {
            Some(ahead.saturating_add(ms))
        });
    }

    /// How far it has been moved ahead of the host's time, milliseconds.
    fn ahead_ms(&self) -> u64 {
        self.ahead_ms.load(Ordering::SeqCst)
    }

    /// Unix time in seconds.
    fn unix_seconds(&self) -> i64 {
        let host_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        i64::try_from(host_ms.saturating_add(self.ahead_ms()) / 1000).unwrap_or(i64::MAX)
    }
}

/// A simulated RTC: the simulated world's time plus an offset that `SetTime` adjusts.
#[derive(Debug)]
pub struct SimClock {
    time: SimTime,
    booted: Instant,
    /// How far `time` had been moved ahead at boot: uptime counts only the moves since.
    booted_ahead_ms: u64,
    offset_s: i64,
    is_set: bool,
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new()
    }
}

impl SimClock {
    /// A clock that was never set, running [`INITIAL_DRIFT_S`] from the host's.
    pub fn new() -> Self {
        Self::with_time(SimTime::new())
    }

    /// A clock that was never set, booting now in the world of `time` and running
    /// [`INITIAL_DRIFT_S`] from it.
    pub fn with_time(time: SimTime) -> Self {
        let booted_ahead_ms = time.ahead_ms();
        Self {
            time,
            booted: Instant::now(),
            booted_ahead_ms,
            offset_s: INITIAL_DRIFT_S,
            is_set: false,
        }
    }

    /// The world time this clock reads; moving it moves the clock.
    pub fn time(&self) -> &SimTime {
        &self.time
    }
}

impl Clock for SimClock {
    fn now(&self) -> u64 {
        u64::try_from(self.time.unix_seconds().saturating_add(self.offset_s)).unwrap_or(0)
    }

    fn is_set(&self) -> bool {
        self.is_set
    }

    fn set(&mut self, unix_seconds: u64) {
        let target = i64::try_from(unix_seconds).unwrap_or(i64::MAX);
        self.offset_s = target.saturating_sub(self.time.unix_seconds());
        self.is_set = true;
    }

    fn uptime_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.booted.elapsed().as_millis()).unwrap_or(u64::MAX);
        elapsed.saturating_add(self.time.ahead_ms().saturating_sub(self.booted_ahead_ms))
    }
}

/// The battery voltage, adjustable while running.
#[derive(Debug, Clone)]
pub struct SimBattery(Arc<AtomicU16>);

impl SimBattery {
    /// A battery at `millivolts`.
    pub fn new(millivolts: u16) -> Self {
        Self(Arc::new(AtomicU16::new(millivolts)))
    }

    /// Changes the voltage.
    pub fn set_millivolts(&self, millivolts: u16) {
        self.0.store(millivolts, Ordering::Relaxed);
    }
}

/// Internal resistance of the simulated 4 x AA pack, milliohms: about 0.2 Ω a fresh alkaline
/// cell, more as it empties.
pub fn internal_milliohms(rest_mv: u16) -> u32 {
    // 800 mΩ at 6.0 V and above, rising to 2 Ω at 4.4 V.
    let below = u32::from(6000u16.saturating_sub(rest_mv));
    800 + below * 1200 / 1600
}

impl Battery for SimBattery {
    fn millivolts(&mut self) -> u16 {
        self.0.load(Ordering::Relaxed)
    }

    /// The pack sags under the motor's current: rest − I · R_internal.
    fn loaded_millivolts(&mut self, load_ma: u16) -> u16 {
        let rest = self.millivolts();
        let drop = u32::from(load_ma) * internal_milliohms(rest) / 1000;
        rest.saturating_sub(u16::try_from(drop).unwrap_or(u16::MAX))
    }
}

/// The simulator's RNG: the host operating system's (`getrandom`).
#[derive(Debug, Clone, Copy)]
pub struct SimRng(());

impl SimRng {
    /// The OS generator, checked to work once, so a failure shows at start-up as an error.
    pub fn new() -> Result<Self, SimError> {
        let mut probe = [0u8; 8];
        getrandom::fill(&mut probe).map_err(SimError::Rng)?;
        Ok(Self(()))
    }
}

impl Rng for SimRng {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        // It worked at start-up; failing now means the OS is broken, and weak "random" bytes
        // would silently weaken every key: stop the lock instead (the simulator reports it).
        if let Err(e) = getrandom::fill(buf) {
            panic!("the operating system's random number generator failed: {e}");
        }
    }
}
