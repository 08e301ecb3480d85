//! The request/response client: one per open port, used by every face (CLI, TUI, scripts).
//!
//! It frames requests, matches responses by sequence number, resends idempotent requests
//! when an answer does not come in time, and keeps unsolicited events for whoever wants them.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use latchkey_protocol::{
    BatteryReport, ClockReading, Diagnostics, Event, FrameAccumulator, Header, Kind, LockInfo,
    MAX_ENCODED_LEN, PROTOCOL_VERSION, Request, Response, Setting, Settings, Status, decode_body,
    encode_frame,
};
use serialport::{SerialPort, TTYPort};

/// Line speed used when the port is a real UART. A pty ignores it.
pub const DEFAULT_BAUD: u32 = 115_200;
/// Total time a request may take, retries included, unless the user says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// How many times an idempotent request is sent before giving up.
pub const DEFAULT_ATTEMPTS: u32 = 3;

/// How a link behaves.
#[derive(Debug, Clone, Copy)]
pub struct LinkOptions {
    /// Budget for one request, all attempts together.
    pub timeout: Duration,
    /// Attempts for an idempotent request within that budget (at least 1).
    pub attempts: u32,
    /// Baud rate for real UARTs.
    pub baud: u32,
}

impl Default for LinkOptions {
    fn default() -> Self {
        Self { timeout: DEFAULT_TIMEOUT, attempts: DEFAULT_ATTEMPTS, baud: DEFAULT_BAUD }
    }
}

/// What went wrong talking to a lock.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Another program (or another latchkey) holds the port.
    #[error("port {path} is busy: another program is using it")]
    PortBusy {
        /// The port.
        path: PathBuf,
    },
    /// The port does not exist or cannot be opened.
    #[error("cannot open port {path}: {source}")]
    Open {
        /// The port.
        path: PathBuf,
        /// Why.
        source: serialport::Error,
    },
    /// Nothing answered within the time allowed.
    #[error("no answer from the lock on {path} within {timeout:?} ({attempts} attempt(s))")]
    Timeout {
        /// The port.
        path: PathBuf,
        /// The budget that ran out.
        timeout: Duration,
        /// How many times the request was sent.
        attempts: u32,
    },
    /// Reading or writing the port failed (cable pulled, device gone).
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The port.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The lock answered, and refused.
    #[error("the lock refused: {0}")]
    Refused(Status),
    /// The lock speaks another protocol version.
    #[error("the lock speaks protocol version {lock}, this tool speaks {PROTOCOL_VERSION}")]
    VersionMismatch {
        /// The lock's version.
        lock: u8,
    },
    /// The lock answered something that does not fit the request.
    #[error("unexpected answer from the lock: {0}")]
    Unexpected(String),
    /// The request could not be encoded (a value too long for a frame).
    #[error("request too large to send: {0}")]
    Encode(latchkey_protocol::EncodeError),
}

/// Frames dropped by this end of the link, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Requests sent, resends included.
    pub sent: u32,
    /// Resends after a timeout.
    pub resent: u32,
    /// Frames received intact.
    pub received: u32,
    /// Frames dropped as damaged.
    pub dropped: u32,
    /// Responses whose sequence number matched no outstanding request.
    pub stale: u32,
}

/// A connection to one lock over one serial port.
pub struct Client {
    port: TTYPort,
    path: PathBuf,
    options: LinkOptions,
    accumulator: FrameAccumulator,
    next_seq: u16,
    events: VecDeque<(u16, Event)>,
    stats: LinkStats,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("path", &self.path).field("stats", &self.stats).finish()
    }
}

/// Events kept for a caller before the oldest are dropped.
const EVENT_BACKLOG: usize = 256;
/// Longest single wait on the port, so a deadline is never overshot by much.
const POLL_SLICE: Duration = Duration::from_millis(50);

impl Client {
    /// Opens `path` exclusively. Fails at once with [`ClientError::PortBusy`] if another
    /// program holds it.
    pub fn open(path: &Path, options: LinkOptions) -> Result<Self, ClientError> {
        let port = serialport::new(path.to_string_lossy(), options.baud)
            .timeout(POLL_SLICE)
            .open_native()
            .map_err(|source| classify_open_error(path, source))?;
        Ok(Self {
            port,
            path: path.to_path_buf(),
            options,
            accumulator: FrameAccumulator::new(),
            // Start from a varying point so a late answer meant for a previous run of the tool
            // is unlikely to match.
            next_seq: initial_seq(),
            events: VecDeque::new(),
            stats: LinkStats::default(),
        })
    }

    /// The port this client talks through.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Counters of this end of the link.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// The link options in force.
    pub fn options(&self) -> LinkOptions {
        self.options
    }

    /// Sends `request` and waits for its response. Idempotent requests are resent (same
    /// sequence number) when an attempt times out; the whole call never takes much longer than
    /// the timeout.
    pub fn request(&mut self, request: &Request) -> Result<Response, ClientError> {
        let seq = self.take_seq();
        let mut wire = [0u8; MAX_ENCODED_LEN + 1];
        // A leading 0x00 flushes any garbage left in the lock's receive buffer.
        wire[0] = 0;
        let len = encode_frame(Header::new(Kind::Request, seq), request, &mut wire[1..])
            .map_err(ClientError::Encode)?
            .len();
        let frame = &wire[..=len];

        let attempts = if request.is_idempotent() { self.options.attempts.max(1) } else { 1 };
        let started = Instant::now();
        let deadline = started + self.options.timeout;
        let per_attempt = self.options.timeout / attempts;
        for attempt in 1..=attempts {
            if attempt > 1 {
                self.stats.resent += 1;
            }
            self.send(frame)?;
            let attempt_deadline = if attempt == attempts {
                deadline
            } else {
                (Instant::now() + per_attempt).min(deadline)
            };
            if let Some(response) = self.wait_for(seq, attempt_deadline)? {
                return response;
            }
        }
        Err(ClientError::Timeout {
            path: self.path.clone(),
            timeout: self.options.timeout,
            attempts,
        })
    }

    /// Waits up to `timeout` for an unsolicited event.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<(u16, Event)>, ClientError> {
        if let Some(event) = self.events.pop_front() {
            return Ok(Some(event));
        }
        let deadline = Instant::now() + timeout;
        // No request is outstanding, so sequence 0 never matches a response here.
        let _ = self.wait_for_inner(None, deadline)?;
        Ok(self.events.pop_front())
    }

    fn take_seq(&mut self) -> u16 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        seq
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), ClientError> {
        self.port
            .write_all(frame)
            .and_then(|()| self.port.flush())
            .map_err(|source| ClientError::Io { path: self.path.clone(), source })?;
        self.stats.sent += 1;
        Ok(())
    }

    fn wait_for(
        &mut self,
        seq: u16,
        deadline: Instant,
    ) -> Result<Option<Result<Response, ClientError>>, ClientError> {
        self.wait_for_inner(Some(seq), deadline)
    }

    /// Reads until the response to `seq` arrives or `deadline` passes. Events met on the way
    /// are queued; responses to other sequence numbers are counted as stale and dropped.
    fn wait_for_inner(
        &mut self,
        seq: Option<u16>,
        deadline: Instant,
    ) -> Result<Option<Result<Response, ClientError>>, ClientError> {
        let mut buf = [0u8; 256];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let _ = self.port.set_timeout((deadline - now).min(POLL_SLICE));
            let n = match self.port.read(&mut buf) {
                Ok(0) => continue,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    if seq.is_none() && !self.events.is_empty() {
                        return Ok(None);
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(ClientError::Io { path: self.path.clone(), source }),
            };
            let mut found = None;
            for &byte in &buf[..n] {
                let Some(result) = self.accumulator.push(byte) else { continue };
                let frame = match result {
                    Ok(frame) => frame,
                    Err(_) => {
                        self.stats.dropped += 1;
                        continue;
                    }
                };
                self.stats.received += 1;
                let header = frame.header;
                match header.kind {
                    Kind::Event if header.version == PROTOCOL_VERSION => {
                        match decode_body::<Event>(frame.body) {
                            Ok(event) => {
                                if self.events.len() == EVENT_BACKLOG {
                                    self.events.pop_front();
                                }
                                self.events.push_back((header.seq, event));
                            }
                            Err(_) => self.stats.dropped += 1,
                        }
                    }
                    Kind::Response if Some(header.seq) == seq && found.is_none() => {
                        if header.version != PROTOCOL_VERSION {
                            found =
                                Some(Err(ClientError::VersionMismatch { lock: header.version }));
                            continue;
                        }
                        match decode_body::<Response>(frame.body) {
                            Ok(response) => found = Some(Ok(response)),
                            Err(_) => self.stats.dropped += 1,
                        }
                    }
                    Kind::Response => self.stats.stale += 1,
                    _ => self.stats.dropped += 1,
                }
            }
            if found.is_some() {
                return Ok(found);
            }
            if seq.is_none() && !self.events.is_empty() {
                return Ok(None);
            }
        }
    }

    // ---- typed requests ------------------------------------------------------------------

    /// Identity and capabilities.
    pub fn hello(&mut self) -> Result<LockInfo, ClientError> {
        match self.request(&Request::Hello)? {
            Response::Hello(info) => Ok(info),
            other => Err(unexpected(other)),
        }
    }

    /// Round trip; returns the echoed nonce.
    pub fn ping(&mut self, nonce: u32) -> Result<u32, ClientError> {
        match self.request(&Request::Ping { nonce })? {
            Response::Pong { nonce } => Ok(nonce),
            other => Err(unexpected(other)),
        }
    }

    /// The lock's clock.
    pub fn time(&mut self) -> Result<ClockReading, ClientError> {
        match self.request(&Request::GetTime)? {
            Response::Time(reading) => Ok(reading),
            other => Err(unexpected(other)),
        }
    }

    /// Sets the lock's clock; returns its reading afterwards.
    pub fn set_time(&mut self, unix_seconds: u64) -> Result<ClockReading, ClientError> {
        match self.request(&Request::SetTime { unix_seconds })? {
            Response::Time(reading) => Ok(reading),
            other => Err(unexpected(other)),
        }
    }

    /// The battery.
    pub fn battery(&mut self) -> Result<BatteryReport, ClientError> {
        match self.request(&Request::GetBattery)? {
            Response::Battery(report) => Ok(report),
            other => Err(unexpected(other)),
        }
    }

    /// All settings.
    pub fn settings(&mut self) -> Result<Settings, ClientError> {
        match self.request(&Request::GetSettings)? {
            Response::Settings(settings) => Ok(settings),
            other => Err(unexpected(other)),
        }
    }

    /// Changes one setting; returns all settings once the change is in the lock's flash.
    pub fn set_setting(&mut self, setting: Setting) -> Result<Settings, ClientError> {
        match self.request(&Request::SetSetting(setting))? {
            Response::Settings(settings) => Ok(settings),
            other => Err(unexpected(other)),
        }
    }

    /// Link and store counters of the lock.
    pub fn diagnostics(&mut self) -> Result<Diagnostics, ClientError> {
        match self.request(&Request::GetDiagnostics)? {
            Response::Diagnostics(diagnostics) => Ok(diagnostics),
            other => Err(unexpected(other)),
        }
    }
}

/// A refusal becomes [`ClientError::Refused`]; anything else is a protocol surprise.
fn unexpected(response: Response) -> ClientError {
    match response {
        Response::Status(status) => ClientError::Refused(status),
        other => ClientError::Unexpected(format!("{other:?}")),
    }
}

fn classify_open_error(path: &Path, source: serialport::Error) -> ClientError {
    let busy = match &source.kind {
        serialport::ErrorKind::Io(io::ErrorKind::ResourceBusy) => true,
        // serialport reports a held flock this way.
        serialport::ErrorKind::NoDevice => source.description.contains("exclusive lock"),
        _ => source.description.contains("Device or resource busy"),
    };
    if busy {
        ClientError::PortBusy { path: path.to_path_buf() }
    } else {
        ClientError::Open { path: path.to_path_buf(), source }
    }
}

fn initial_seq() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(1);
    ((nanos ^ std::process::id()) as u16).max(1)
}
