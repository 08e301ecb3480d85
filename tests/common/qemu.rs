//! The micro:bit image under QEMU, for the end-to-end tests: build it once per test binary,
//! start `qemu-system-arm -M microbit` with its UART on a pty, drive QEMU over QMP.
//!
//! Facts this relies on (measured, see the shared notes on QEMU's micro:bit):
//! - QEMU drops UART output while nobody holds the pty open, and polls for a reader only once
//!   a second. So the VM starts stopped (`-S`), we open the pty and keep that descriptor for
//!   the whole run, and only then `cont`; later opens (each `latchkey` command) then answer
//!   within a millisecond.
//! - Flash survives a QMP `system_reset` within one QEMU process.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use latchkey_firmware::region::layout;
use latchkey_protocol::{
    FrameAccumulator, Header, Kind, MAX_ENCODED_LEN, Request, Response, decode_body, encode_frame,
};
use serde_json::{Value, json};
use wait_timeout::ChildExt;

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-arm";

/// RAM of the nRF51822: where and how much to read for the stack high-water mark.
pub const RAM_START: u32 = 0x2000_0000;
pub const RAM_SIZE: u32 = 16 * 1024;

/// How long a start or a reset may take on a loaded 2-core machine before it is a failure.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The board crate's folder.
pub fn board_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("firmware/boards/microbit")
}

/// Whether QEMU is installed. When it is not: with `CI` unset the caller skips its test and
/// says so; with `CI` set this panics, so a CI run without QEMU fails instead of passing empty.
pub fn available() -> bool {
    let found = Command::new(QEMU)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{QEMU} is not installed but CI is set: the QEMU suite must run in CI \
             (apt-get install -y qemu-system-arm)"
        );
        // Straight to the stderr handle: the test harness captures `eprintln!` of passing
        // tests, and a skip must be seen. Once per test binary is enough.
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {QEMU} is not installed, so the micro:bit image is not tested \
                 (apt-get install -y qemu-system-arm; with CI set this is a failure)"
            );
        });
    }
    found
}

/// The setup code the tests' locks are provisioned with (the label inside a real lock).
pub const SETUP_CODE: &str = "QEMX-7EST-C0DE";

/// The factory page of a lock provisioned with [`SETUP_CODE`], as the provisioning step
/// writes it. Made once per test binary: the slow KDF runs once.
pub fn factory_page() -> &'static [u8] {
    static PAGE: OnceLock<Vec<u8>> = OnceLock::new();
    PAGE.get_or_init(|| {
        let code = latchkey_protocol::crypto::SetupCode::parse(SETUP_CODE).expect("setup code");
        let claim = latchkey_sim::factory::claim_for(&code).expect("random salt");
        let file = latchkey_sim::factory::qemu_flash_file(&claim);
        let at = (layout::FACTORY.start - layout::STORE_START) as usize;
        file[at..].to_vec()
    })
}

/// Builds the image (release) once per test binary and returns the ELF's path.
///
/// Runs in the board's folder so its `.cargo/config.toml` (target, linker script) applies,
/// with its own target directory, the one `run-qemu` uses too.
pub fn image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let dir = board_dir();
        let target_dir = dir.join("target");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .current_dir(&dir)
            .args(["build", "--release", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir);
        if std::env::var_os("CI").is_some() {
            build.arg("--locked");
        }
        let status = build.status().expect("run cargo to build the micro:bit image");
        assert!(status.success(), "building the micro:bit image failed");
        let elf = target_dir.join("thumbv6m-none-eabi/release/latchkey-microbit");
        assert!(elf.exists(), "no image at {}", elf.display());
        elf
    })
}

/// A QMP connection: one JSON command per line, answers matched by order (QMP answers
/// commands in order; asynchronous events in between are skipped).
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Waits for QEMU, started as a QMP client of `listener`, to connect; then the greeting.
    fn accept(listener: &UnixListener, deadline: Instant) -> Result<Qmp, String> {
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        if !readable(listener, deadline) {
            return Err(format!("QEMU did not connect to QMP within {READY_TIMEOUT:?}"));
        }
        let (stream, _) = listener.accept().map_err(|e| format!("accepting QMP: {e}"))?;
        stream.set_nonblocking(false).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(READY_TIMEOUT)).map_err(|e| e.to_string())?;
        let writer = stream.try_clone().map_err(|e| e.to_string())?;
        let mut qmp = Qmp { reader: BufReader::new(stream), writer };
        let greeting = qmp.read_message()?;
        if greeting.get("QMP").is_none() {
            return Err(format!("not a QMP greeting: {greeting}"));
        }
        qmp.execute("qmp_capabilities", json!({}))?;
        Ok(qmp)
    }

    fn read_message(&mut self) -> Result<Value, String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("QMP connection closed".into()),
            Ok(_) => serde_json::from_str(&line).map_err(|e| format!("bad QMP line {line:?}: {e}")),
            Err(e) => Err(format!("reading QMP: {e}")),
        }
    }

    /// Runs a QMP command and returns its `return` value.
    pub fn execute(&mut self, command: &str, arguments: Value) -> Result<Value, String> {
        let mut message = json!({ "execute": command });
        if arguments.as_object().is_some_and(|a| !a.is_empty()) {
            message["arguments"] = arguments;
        }
        writeln!(self.writer, "{message}").map_err(|e| format!("writing QMP: {e}"))?;
        loop {
            let answer = self.read_message()?;
            if let Some(value) = answer.get("return") {
                return Ok(value.clone());
            }
            if let Some(error) = answer.get("error") {
                return Err(format!("QMP {command} failed: {error}"));
            }
            // An event ("RESET", "STOP", ...): not our answer.
        }
    }
}

/// One QEMU running the micro:bit image, quit on drop.
pub struct Qemu {
    child: Child,
    qmp: Qmp,
    pty: String,
    /// Held for the whole run, in raw mode: QEMU sends output only while the pty has a reader,
    /// and notices a new one only once a second. Also how `wait_ready` talks to the lock.
    /// A plain file, not a `serialport` port: that one takes a `flock`, and `latchkey`
    /// refuses a port someone holds a lock on.
    held: std::fs::File,
    seq: u16,
    dir: tempfile::TempDir,
    /// How long the first answer took after `cont`, for the report.
    pub first_answer: Duration,
}

impl Qemu {
    /// Starts QEMU on the image and returns once the lock answers on the pty.
    pub fn start() -> Qemu {
        Self::start_with(&[])
    }

    /// As [`Qemu::start`], with `extra` arguments for QEMU (e.g. `-icount shift=6`: one
    /// instruction per 64 ns, about a 16 MHz Cortex-M0, for timings).
    pub fn start_with(extra: &[&str]) -> Qemu {
        Self::launch(Some(factory_page()), extra)
    }

    /// A lock that skipped its provisioning step: no factory page.
    pub fn start_unprovisioned() -> Qemu {
        Self::launch(None, &[])
    }

    /// QEMU on the image; `factory` goes into the factory page. Only that page is loaded
    /// (QEMU's loader writes it again at every reset, which for a page the firmware never
    /// writes changes nothing); the store starts blank and lasts as long as the process.
    fn launch(factory: Option<&[u8]>, extra: &[&str]) -> Qemu {
        let elf = image();
        let dir = tempfile::tempdir().expect("temp dir");
        let sock = dir.path().join("qmp.sock");
        let log = dir.path().join("qemu.log");
        let factory_file = dir.path().join("factory.page");
        let mut loader = Vec::new();
        if let Some(page) = factory {
            std::fs::write(&factory_file, page).expect("write the factory page");
            loader.push("-device".to_string());
            loader.push(format!(
                "loader,file={},addr={:#x},force-raw=on",
                factory_file.display(),
                layout::FACTORY.start
            ));
        }
        // QEMU connects to our socket (QMP as a client), so the wait for it is an accept.
        let listener = UnixListener::bind(&sock).expect("QMP socket");
        let child = Command::new(QEMU)
            .args(["-M", "microbit", "-nographic", "-monitor", "none", "-serial", "pty", "-S"])
            .arg("-qmp")
            .arg(format!("unix:{}", sock.display()))
            .args(extra)
            .arg("-kernel")
            .arg(elf)
            .args(&loader)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("QEMU log file"))
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {QEMU}: {e}"));
        let mut child = KillOnDrop(Some(child));
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut qmp = Qmp::accept(&listener, deadline).unwrap_or_else(|e| panic!("{e}"));
        let pty = serial_pty(&mut qmp).unwrap_or_else(|e| panic!("{e}"));
        let held = hold_raw(&pty);
        let started = Instant::now();
        qmp.execute("cont", json!({})).unwrap_or_else(|e| panic!("{e}"));
        let mut qemu = Qemu {
            child: child.0.take().expect("child"),
            qmp,
            pty,
            held,
            seq: 0x7000,
            dir,
            first_answer: Duration::ZERO,
        };
        qemu.wait_ready();
        qemu.first_answer = started.elapsed();
        qemu
    }

    /// The pty path to give `latchkey --port`.
    pub fn port(&self) -> &str {
        &self.pty
    }

    /// Resets the MCU (QMP `system_reset`: RAM and peripherals reset, flash kept) and waits
    /// until the lock answers again.
    pub fn system_reset(&mut self) {
        self.qmp.execute("system_reset", json!({})).unwrap_or_else(|e| panic!("{e}"));
        self.wait_ready();
    }

    /// `size` bytes of the guest's memory at `address` (QMP `memsave`).
    pub fn memsave(&mut self, address: u32, size: u32) -> Vec<u8> {
        let file = self.dir.path().join(format!("mem-{address:08x}.bin"));
        self.qmp
            .execute(
                "memsave",
                json!({ "val": address, "size": size, "filename": file, "cpu-index": 0 }),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::read(&file).expect("read memsave file")
    }

    /// Direct access to QMP.
    pub fn qmp(&mut self) -> &mut Qmp {
        &mut self.qmp
    }

    /// Quits QEMU (QMP `quit`) and checks that it exited.
    pub fn quit(mut self) {
        let status = self.shutdown();
        assert!(status.is_some(), "QEMU did not exit after quit");
    }

    fn shutdown(&mut self) -> Option<std::process::ExitStatus> {
        // QEMU may close the socket before answering `quit`: its answer does not matter.
        let _ = self.qmp.execute("quit", json!({}));
        match self.child.wait_timeout(Duration::from_secs(10)) {
            Ok(Some(status)) => Some(status),
            _ => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                None
            }
        }
    }

    /// Pings the lock over the held descriptor until it answers: proves the firmware booted
    /// and QEMU forwards the pty both ways. Drains whatever came before (the boot event).
    fn wait_ready(&mut self) {
        let nonce = 0x5EED_0000 | u32::from(self.seq.wrapping_add(1));
        match self.ask(&Request::Ping { nonce }) {
            Response::Pong { nonce: got } if got == nonce => {}
            other => panic!("the micro:bit image answered a ping with {other:?}"),
        }
    }

    /// Sends `request` in a plaintext frame over the held descriptor and returns the answer
    /// to it (anything else on the line before it is skipped).
    pub fn ask(&mut self, request: &Request) -> Response {
        self.seq = self.seq.wrapping_add(1);
        let mut out = [0u8; MAX_ENCODED_LEN];
        let frame = encode_frame(Header::new(Kind::Request, self.seq), request, &mut out)
            .expect("encode the request");
        // A leading 0x00 ends any partial frame in the lock's receive buffer.
        self.held.write_all(&[0]).expect("write to pty");
        self.held.write_all(frame).expect("write to pty");
        let mut accumulator = FrameAccumulator::new();
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut buf = [0u8; 256];
        loop {
            assert!(
                Instant::now() < deadline,
                "the micro:bit image did not answer {request:?} within {READY_TIMEOUT:?}"
            );
            let n = match self.held.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    readable(&self.held, deadline);
                    continue;
                }
                Err(e) => panic!("reading the pty: {e}"),
            };
            for &byte in &buf[..n] {
                if let Some(Ok(frame)) = accumulator.push(byte)
                    && frame.header == Header::new(Kind::Response, self.seq)
                    && let Ok(response) = decode_body(frame.body)
                {
                    return response;
                }
            }
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.shutdown();
        }
    }
}

/// Kills QEMU if `start` panics before the `Qemu` owns it.
struct KillOnDrop(Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Opens `pty` non-blocking, without a lock, and leaves the terminal in raw mode: a pty
/// starts in cooked mode with echo, which would bounce the lock's frames back into it.
/// Waits until `fd` has something to read or `deadline` passes; whether it has.
fn readable(fd: impl AsFd, deadline: Instant) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let timeout = Timespec {
            tv_sec: left.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: left.subsec_nanos().into(),
        };
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => panic!("poll: {e}"),
        }
    }
}

fn hold_raw(pty: &str) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    // Linux's O_NOCTTY | O_NONBLOCK: not our controlling terminal; reads return WouldBlock.
    const FLAGS: i32 = 0o400 | 0o4000;
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(FLAGS)
        .open(pty)
        .unwrap_or_else(|e| panic!("cannot open {pty}: {e}"));
    // Terminal settings belong to the terminal, not to a descriptor: serialport's open puts
    // it in raw mode, and raw it stays after that handle (and its flock) is gone, as long as
    // `held` keeps the pty open. Serialized: serialport's pty handling is not thread-safe.
    static RAW_MODE: Mutex<()> = Mutex::new(());
    let _guard = RAW_MODE.lock().unwrap_or_else(|e| e.into_inner());
    let mut port =
        serialport::new(pty, 115_200).open_native().unwrap_or_else(|e| panic!("{pty}: {e}"));
    // Its open also set TIOCEXCL, which outlives the handle and keeps non-root users out.
    port.set_exclusive(false).unwrap_or_else(|e| panic!("{pty}: {e}"));
    drop(port);
    held
}

/// The pty QEMU made for `serial0`, from QMP `query-chardev` (`"filename": "pty:/dev/pts/N"`).
fn serial_pty(qmp: &mut Qmp) -> Result<String, String> {
    let devices = qmp.execute("query-chardev", json!({}))?;
    devices
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["label"] == "serial0")
        .and_then(|d| d["filename"].as_str())
        .and_then(|f| f.strip_prefix("pty:"))
        .map(str::to_owned)
        .ok_or_else(|| format!("no pty for serial0 in {devices}"))
}

/// Sections and symbols of the image that the size budget needs, read from its ELF.
#[derive(Debug, Default)]
pub struct ImageSize {
    /// Code and constants in flash (vector table, .text, .rodata).
    pub text: u64,
    /// Initialized statics: in flash, copied to RAM at boot.
    pub data: u64,
    /// Zeroed and uninitialized statics (.bss, .uninit): RAM only.
    pub bss: u64,
    /// The stack: `_stack_end .. _stack_start` (cortex-m-rt), all RAM above the statics.
    pub stack_bottom: u32,
    pub stack_top: u32,
}

impl ImageSize {
    /// Flash the image occupies.
    pub fn flash(&self) -> u64 {
        self.text + self.data
    }

    /// RAM taken by statics.
    pub fn static_ram(&self) -> u64 {
        self.data + self.bss
    }

    /// Reads a 32-bit little-endian ELF (what rustc makes for thumbv6m), like `size` and `nm`.
    pub fn of_elf(bytes: &[u8]) -> Result<ImageSize, String> {
        const SHF_ALLOC: u32 = 0x2;
        const SHT_NOBITS: u32 = 8;
        const SHT_SYMTAB: u32 = 2;
        if bytes.get(..6) != Some(&[0x7F, b'E', b'L', b'F', 1, 1][..]) {
            return Err("not a 32-bit little-endian ELF".into());
        }
        let u16_at = |at: usize| -> Result<u32, String> {
            let b = bytes.get(at..at + 2).ok_or("ELF truncated")?;
            Ok(u32::from(u16::from_le_bytes([b[0], b[1]])))
        };
        let u32_at = |at: usize| -> Result<u32, String> {
            let b = bytes.get(at..at + 4).ok_or("ELF truncated")?;
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let (shoff, shentsize, shnum) =
            (u32_at(0x20)? as usize, u16_at(0x2E)? as usize, u16_at(0x30)? as usize);
        let section = |i: usize| -> Result<[u32; 10], String> {
            let base = shoff + i * shentsize;
            let mut fields = [0u32; 10];
            for (k, field) in fields.iter_mut().enumerate() {
                *field = u32_at(base + 4 * k)?;
            }
            Ok(fields)
        };
        let c_str = |at: usize| -> String {
            let tail = bytes.get(at..).unwrap_or_default();
            let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
            String::from_utf8_lossy(&tail[..end]).into_owned()
        };
        let mut size = ImageSize::default();
        let (mut stack_end, mut stack_start) = (None, None);
        for i in 0..shnum {
            // name, type, flags, addr, offset, size, link, info, addralign, entsize
            let [_, kind, flags, addr, offset, len, link, _, _, entsize] = section(i)?;
            if flags & SHF_ALLOC != 0 && len > 0 {
                if kind == SHT_NOBITS {
                    size.bss += u64::from(len);
                } else if addr >= RAM_START {
                    size.data += u64::from(len);
                } else {
                    size.text += u64::from(len);
                }
            }
            if kind == SHT_SYMTAB && entsize == 16 {
                let strtab = section(link as usize)?[4] as usize;
                for sym in (offset as usize..(offset + len) as usize).step_by(16) {
                    let name = c_str(strtab + u32_at(sym)? as usize);
                    let value = u32_at(sym + 4)?;
                    match name.as_str() {
                        "_stack_end" => stack_end = Some(value),
                        "_stack_start" => stack_start = Some(value),
                        _ => {}
                    }
                }
            }
        }
        size.stack_bottom = stack_end.ok_or("no _stack_end symbol (cortex-m-rt 0.7.5+)")?;
        size.stack_top = stack_start.ok_or("no _stack_start symbol")?;
        Ok(size)
    }
}

/// cortex-m-rt's `paint-stack` fills the stack with this word at reset.
pub const STACK_PAINT: u32 = 0xCCCC_CCCC;

/// Bytes at the bottom of the stack the program never touched: the painted words, counted
/// upwards from `stack_bottom` until the first one that changed. `ram` starts at RAM_START.
pub fn stack_untouched(ram: &[u8], size: &ImageSize) -> u32 {
    let from = (size.stack_bottom - RAM_START) as usize;
    let to = (size.stack_top - RAM_START) as usize;
    let words = ram.get(from..to.min(ram.len())).unwrap_or_default().chunks_exact(4);
    let untouched =
        words.take_while(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) == STACK_PAINT).count();
    (untouched * 4) as u32
}
