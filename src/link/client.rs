//! The request/response client: one per open port, used by every face (CLI, TUI, scripts).
//!
//! It frames requests, matches responses by sequence number, resends idempotent requests
//! when an answer does not come in time, and keeps unsolicited events for whoever wants them.
//! It is generic over its [`Transport`], so the same code runs over a serial port and, in
//! tests, over a scripted lock in memory.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use latchkey_protocol::crypto::{
    ClaimKeys, ClaimVerifier, MAX_SEALED_PLAINTEXT, Opener, SealError, Sealer, SecretKey,
    SessionKeys, SetupCode, pake, proofs_match, x25519_public, x25519_shared,
};
use latchkey_protocol::{
    AccessRecord, ActiveAlarm, CardUid, ClearTarget, Enrollment, LogHead, LogRecord, LogReport,
    Pin, Refusal, User, UserSpec, UserSummary, UserWrite,
};
use latchkey_protocol::{
    BatteryReport, ClaimIntent, ClockReading, Diagnostics, Event, FrameAccumulator, Header, Kind,
    LockInfo, MAX_BODY_LEN, MAX_ENCODED_LEN, PROTOCOL_VERSION, Request, Response, Role, Setting,
    Settings, Status, decode_body, encode_frame,
};
use serialport::TTYPort;
use tracing::{debug, trace};

use super::duration::TIMEOUT_RANGE;
use super::transport::Transport;

mod pipeline;

/// Line speed used when the port is a real UART. A pty ignores it.
pub const DEFAULT_BAUD: u32 = 115_200;
/// Total time a request may take, retries included, unless the user says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// How many times an idempotent request is sent before giving up.
pub const DEFAULT_ATTEMPTS: u32 = 3;

/// How long one attempt waits, at least, when a timeout longer than the default buys more
/// attempts ([`attempts_for`]).
pub const NOISY_ATTEMPT: Duration = Duration::from_millis(250);

/// The shortest wait in silence before a request is sent again, however fast the link
/// measured: a lock's answer may wait behind a flash write.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(50);

/// Attempts within `timeout`: [`DEFAULT_ATTEMPTS`] up to the default timeout; a longer one
/// (asked for a noisy line) is spent on more attempts of [`NOISY_ATTEMPT`] each rather than
/// on longer waits, since on a noisy line it is frames that are lost, not time.
pub fn attempts_for(timeout: Duration) -> u32 {
    if timeout <= DEFAULT_TIMEOUT {
        return DEFAULT_ATTEMPTS;
    }
    let n = timeout.as_millis() / NOISY_ATTEMPT.as_millis();
    u32::try_from(n).unwrap_or(u32::MAX).clamp(DEFAULT_ATTEMPTS, 1000)
}

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
    /// The lock answered, and refused: the status, and the field, limit or user it concerns.
    #[error("the lock refused: {0}")]
    Refused(Refusal),
    /// The lock speaks another protocol version (its answer's header says which).
    #[error("the lock speaks protocol {lock}, this latchkey speaks {PROTOCOL_VERSION}")]
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
    /// The lock is slowing down attempts after failed authentications.
    #[error("the lock refuses new attempts for another {:.1} s after failed authentication", .retry_after.as_secs_f64())]
    Backoff {
        /// How long to wait.
        retry_after: Duration,
    },
    /// The lock did not accept the setup code.
    #[error("wrong setup code: the lock refused it")]
    WrongSetupCode,
    /// The lock holds no factory data (its `Hello` has an all-zero claim salt).
    #[error("the lock holds no factory data: no setup code was ever provisioned for it")]
    NotProvisioned,
    /// None of the keys tried is the one this lock holds.
    #[error("none of the keys tried opens a session on this lock")]
    WrongKey,
    /// The lock ended the session (idle too long, or restarted) and a new one failed.
    #[error("the lock ended the session")]
    SessionExpired,
    /// The lock had ended the session before a request that is not safe to send twice, so
    /// it did not carry it out, and the client did not send it again. Nothing changed.
    #[error("the lock had ended the session, so it did not carry out the request")]
    NotCarriedOut {
        /// What was asked (the request's name, nothing of its contents).
        request: &'static str,
    },
    /// The lock restarted between the two steps of the session handshake: it forgot the
    /// handshake, so no session opened. Running the command again is safe.
    #[error("the lock restarted during the session handshake")]
    LockRestarted,
    /// No randomness from the operating system.
    #[error("cannot get random bytes: {0}")]
    Random(String),
    /// The request needs a session and none is open, so it was not sent: nothing but the
    /// identification, the claim and the handshake goes over the cable in clear.
    #[error("{request} needs a session with the lock, and none is open; it was not sent")]
    NeedsSession {
        /// What was asked (the request's name).
        request: &'static str,
    },
    /// Inside a session only a sealed answer counts. An answer in clear came (someone on the
    /// cable forging one, as the lock never answers a sealed request so) and no sealed one:
    /// whether the request was carried out is not confirmed.
    #[error("the answer to {request} came unsealed, so it does not count: not confirmed")]
    Unconfirmed {
        /// What was asked (the request's name).
        request: &'static str,
    },
}

/// An open management session: who we are, the keys that seal each direction, and what we
/// need to open a new one if the lock drops this one.
struct Session {
    role: Role,
    sealer: Sealer,
    opener: Opener,
    /// Opens the lock's sealed events (their own counter).
    events: Opener,
    lock_key: SecretKey,
    serial: String,
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
    /// Plaintext answers and events inside a session that only a sealed one may be (taken
    /// for nothing: a lock never sends them).
    pub unsealed: u32,
}

/// One frame as this end of the link handled it, for a frame inspector
/// ([`Client::set_frame_tap`]): sealed frames after opening, nothing secret in `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameNote {
    /// Sent by this end (a request), or received (a response or an event).
    pub outgoing: bool,
    /// The header's kind.
    pub kind: Kind,
    /// The header's sequence number.
    pub seq: u16,
    /// The frame's body, bytes (sealed: with its tag).
    pub len: usize,
    /// What it says: the message decoded, or why it was dropped.
    pub message: String,
}

/// Where [`FrameNote`]s go.
pub type FrameTap = Box<dyn FnMut(FrameNote) + Send>;

/// A connection to one lock over one line: a serial port unless said otherwise.
pub struct Client<T: Transport = TTYPort> {
    transport: T,
    path: PathBuf,
    options: LinkOptions,
    accumulator: FrameAccumulator,
    next_seq: u16,
    events: VecDeque<(u16, Event)>,
    stats: LinkStats,
    session: Option<Session>,
    /// `Booted` events seen so far: a lock that restarts mid-handshake forgets it.
    boots_seen: u32,
    /// Requests [`Client::pipeline`] keeps in flight.
    window: usize,
    /// Frames that arrived damaged (bad CRC, cut short): on a noisy line, most likely an
    /// answer, so a request waiting for one is sent again at once.
    damaged: u64,
    /// The link's round trip as measured.
    round_trip: RoundTrip,
    /// Who is told of each frame, if anyone.
    tap: Option<FrameTap>,
}

/// A smoothed round-trip time (RFC 6298's estimator), from answers to requests sent once
/// (an answer to a resend could be to either copy).
#[derive(Debug, Clone, Copy, Default)]
struct RoundTrip {
    smoothed: Option<Duration>,
    variation: Duration,
}

impl RoundTrip {
    fn sample(&mut self, rtt: Duration) {
        match self.smoothed {
            None => {
                self.smoothed = Some(rtt);
                self.variation = rtt / 2;
            }
            Some(srtt) => {
                let error = rtt.abs_diff(srtt);
                self.variation = (self.variation * 3 + error) / 4;
                self.smoothed = Some((srtt * 7 + rtt) / 8);
            }
        }
    }

    /// The round trip to plan for: the smoothed time plus its variation.
    fn estimate(&self) -> Option<Duration> {
        self.smoothed.map(|srtt| srtt + self.variation)
    }
}

impl<T: Transport> std::fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("path", &self.path).field("stats", &self.stats).finish()
    }
}

/// Events kept for a caller before the oldest are dropped.
const EVENT_BACKLOG: usize = 256;

/// How a request is sent again when an attempt gets no answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// Not at all: doing it twice could do it twice.
    Never,
    /// The very same bytes (same sequence number, same seal counter), so the lock can tell a
    /// resend from a new request, and a late answer to either copy is the answer.
    SameBytes,
    /// Under a new sequence number. For `SessionStart`: the lock answers each start with a
    /// new challenge that replaces the previous one, so a late challenge to an earlier copy
    /// must be stale, never confirmed against a handshake the lock has since replaced.
    NewSeq,
}

fn resend_rule(request: &Request) -> Resend {
    match request {
        Request::SessionStart { .. } => Resend::NewSeq,
        // The lock keeps a pending handshake until a confirm arrives: a lost or damaged
        // confirm can be sent again as it was.
        Request::SessionConfirm { .. } => Resend::SameBytes,
        request if request.is_idempotent() => Resend::SameBytes,
        _ => Resend::Never,
    }
}

/// An answer as it arrived, by the sequence number it answers.
type Arrived = (u16, Result<Response, ClientError>);

/// An answer, and how many times the request went out to get it.
struct Answer {
    response: Response,
    sends: u32,
}

/// Sends a request and takes the value out of the response variant that answers it; any
/// other answer is a refusal or a protocol surprise ([`unexpected`]). One place pairs each
/// request with its answer, instead of a `match` in every typed method.
macro_rules! call {
    ($client:expr, $request:expr, $answer:pat => $value:expr) => {
        match $client.request(&$request)? {
            $answer => Ok($value),
            other => Err(unexpected(other)),
        }
    };
}

/// `now + timeout`, without overflow: durations reaching the client are bounded
/// ([`TIMEOUT_RANGE`]), and anything beyond is cut to that bound.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout.min(TIMEOUT_RANGE.max)).unwrap_or(now)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Client<TTYPort> {
    /// Opens `path` exclusively. Fails at once with [`ClientError::PortBusy`] if another
    /// program holds it.
    pub fn open(path: &Path, options: LinkOptions) -> Result<Self, ClientError> {
        let port = serialport::new(path.to_string_lossy(), options.baud)
            .open_native()
            .map_err(|source| classify_open_error(path, source))?;
        debug!(path = %path.display(), baud = options.baud, "port opened");
        Ok(Self::with_transport(port, path, options))
    }
}

impl<T: Transport> Client<T> {
    /// A client over any line; `path` names it in errors.
    pub fn with_transport(transport: T, path: impl Into<PathBuf>, options: LinkOptions) -> Self {
        Self {
            transport,
            path: path.into(),
            options,
            accumulator: FrameAccumulator::new(),
            // Start from a varying point so a late answer meant for a previous run of the tool
            // is unlikely to match.
            next_seq: initial_seq(),
            events: VecDeque::new(),
            stats: LinkStats::default(),
            session: None,
            boots_seen: 0,
            window: 1,
            damaged: 0,
            round_trip: RoundTrip::default(),
            tap: None,
        }
    }

    /// Tells `tap` of every frame sent and received from now on (`None`: nobody). Costs
    /// nothing while unset.
    pub fn set_frame_tap(&mut self, tap: Option<FrameTap>) {
        self.tap = tap;
    }

    fn note(
        &mut self,
        outgoing: bool,
        kind: Kind,
        seq: u16,
        len: usize,
        message: impl FnOnce() -> String,
    ) {
        if let Some(tap) = &mut self.tap {
            tap(FrameNote { outgoing, kind, seq, len, message: message() });
        }
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

    /// The line itself (tests look at what was sent).
    #[cfg(test)]
    pub(crate) fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Sends `request` and waits for its response. Inside a session the request travels
    /// sealed. Idempotent requests are resent (the same bytes, so the same sequence number and
    /// counter) when an attempt times out; the whole call never takes much longer than the
    /// timeout. If the lock has dropped the session (idle, restarted), a new one is opened
    /// and an idempotent request sent again once; any other request is reported as
    /// [`ClientError::NotCarriedOut`].
    pub fn request(&mut self, request: &Request) -> Result<Response, ClientError> {
        match self.request_once(request) {
            Err(ClientError::SessionExpired) if self.session.is_some() => {
                let name = request_name(request);
                debug!(request = name, "the lock has no session for us; reopening it");
                if resend_rule(request) == Resend::Never {
                    // Not carried out, whatever happens next. A new session, if one opens,
                    // is for the requests that follow.
                    if let Err(error) = self.reopen_session() {
                        debug!(%error, "no new session");
                    }
                    debug!(request = name, "not sent again: it is not safe to send twice");
                    return Err(ClientError::NotCarriedOut { request: name });
                }
                self.reopen_session()?;
                self.request_once(request)
            }
            other => other,
        }
    }

    fn request_once(&mut self, request: &Request) -> Result<Response, ClientError> {
        self.exchange(request).map(|answer| answer.response)
    }

    /// Encodes `request` under sequence number `seq` (sealed inside a session) into `wire`;
    /// returns the frame's length.
    fn encode(
        &mut self,
        request: &Request,
        seq: u16,
        wire: &mut [u8; MAX_ENCODED_LEN + 1],
    ) -> Result<usize, ClientError> {
        // A leading 0x00 flushes any garbage left in the lock's receive buffer.
        wire[0] = 0;
        let sealed = self.session.is_some();
        let len = match &mut self.session {
            None => encode_frame(Header::new(Kind::Request, seq), request, &mut wire[1..])
                .map_err(ClientError::Encode)?
                .len(),
            Some(session) => {
                let header = Header::new(Kind::SealedRequest, seq);
                let mut plain = [0u8; MAX_SEALED_PLAINTEXT];
                let plain = postcard::to_slice(request, &mut plain).map_err(|_| {
                    ClientError::Encode(latchkey_protocol::EncodeError::BodyTooLong)
                })?;
                let mut body = [0u8; MAX_BODY_LEN];
                let sealed = session.sealer.seal(&header, plain, &mut body);
                zeroize::Zeroize::zeroize(plain);
                let (n, _) = sealed.map_err(|_| {
                    ClientError::Encode(latchkey_protocol::EncodeError::BodyTooLong)
                })?;
                encode_raw_frame(header, &body[..n], &mut wire[1..])?
            }
        };
        let kind = if sealed { Kind::SealedRequest } else { Kind::Request };
        self.note(true, kind, seq, len, || describe_request(request));
        Ok(len + 1)
    }

    /// Sends `request` and waits for its answer, resending it as [`resend_rule`] allows
    /// within the timeout: at once when a damaged frame arrives instead of the answer (most
    /// likely the answer, hit by line noise), and after [`Self::attempt_wait`] of silence.
    fn exchange(&mut self, request: &Request) -> Result<Answer, ClientError> {
        let name = request_name(request);
        if self.session.is_none() && !request.travels_in_clear() {
            return Err(ClientError::NeedsSession { request: name });
        }
        let unsealed_before = self.stats.unsealed;
        // Inside a session every request may go again as its identical frame: the lock
        // answers an exact resend from its cache without carrying it out twice.
        let rule = if self.session.is_some() && !request.travels_in_clear() {
            Resend::SameBytes
        } else {
            resend_rule(request)
        };
        // One attempt means one send. Otherwise sends go on until the deadline, within a
        // bound: at once after a damaged frame, and after each silence, longer each time.
        let attempts = if rule == Resend::Never { 1 } else { self.options.attempts.max(1) };
        let max_sends = if attempts == 1 { 1 } else { attempts.saturating_mul(4) };
        // A new SessionStart makes the lock start a key exchange over: give it time.
        let floor = if rule == Resend::NewSeq { NOISY_ATTEMPT } else { MIN_ATTEMPT };
        let started = Instant::now();
        let deadline = deadline_after(self.options.timeout);
        let mut wire = [0u8; MAX_ENCODED_LEN + 1];
        let mut seq = self.take_seq();
        let mut len = self.encode(request, seq, &mut wire)?;
        let mut sends = 0;
        let mut silences = 0;
        loop {
            if sends > 0 {
                self.stats.resent += 1;
                if rule == Resend::NewSeq {
                    seq = self.take_seq();
                    len = self.encode(request, seq, &mut wire)?;
                }
                debug!(request = name, seq, attempt = sends + 1, "sending again");
            }
            sends += 1;
            let sent_at = Instant::now();
            self.send(&wire[..len], deadline, sends)?;
            trace!(request = name, seq, len, sealed = self.session.is_some(), sends, "frame sent");
            // The last attempt waits out the whole budget.
            let attempt_deadline = if sends == max_sends {
                deadline
            } else {
                deadline_after(self.attempt_wait(silences, floor)).min(deadline)
            };
            let damaged_before = self.damaged;
            match self.wait_for_answer(seq, attempt_deadline, rule != Resend::Never)? {
                Some(response) => {
                    if sends == 1 {
                        self.round_trip.sample(sent_at.elapsed());
                    }
                    debug!(
                        request = name,
                        seq,
                        attempts = sends,
                        elapsed_ms = millis(started.elapsed()),
                        ok = response.is_ok(),
                        "answered"
                    );
                    return response.map(|response| Answer { response, sends });
                }
                None if self.damaged > damaged_before && Instant::now() < deadline => {
                    trace!(request = name, seq, "a damaged frame instead of the answer");
                }
                None => silences += 1,
            }
            if sends >= max_sends || Instant::now() >= deadline {
                break;
            }
        }
        debug!(request = name, sends, elapsed_ms = millis(started.elapsed()), "timed out");
        if self.stats.unsealed != unsealed_before {
            return Err(ClientError::Unconfirmed { request: name });
        }
        Err(ClientError::Timeout {
            path: self.path.clone(),
            timeout: self.options.timeout,
            attempts: sends,
        })
    }

    /// How long to wait in silence before sending a request again: four round trips as
    /// measured on this link, at least `floor` (so a lock busy with flash or a key exchange
    /// is not flooded), doubled after each silence, and at most the share of the timeout one
    /// of the configured attempts gets. Before any measurement, that share.
    fn attempt_wait(&self, silences: u32, floor: Duration) -> Duration {
        let share = self.options.timeout / self.options.attempts.max(1);
        let first = self.round_trip.estimate().map_or(share, |rtt| (rtt * 4).max(floor));
        first.saturating_mul(1 << silences.min(8)).min(share)
    }

    /// Waits up to `timeout` for an unsolicited event. Events that arrived while the client
    /// waited for answers come first, in the order they arrived.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<(u16, Event)>, ClientError> {
        if let Some(event) = self.events.pop_front() {
            return Ok(Some(event));
        }
        let _ = self.wait_for(None, deadline_after(timeout))?;
        Ok(self.events.pop_front())
    }

    fn take_seq(&mut self) -> u16 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        seq
    }

    fn send(&mut self, frame: &[u8], deadline: Instant, attempt: u32) -> Result<(), ClientError> {
        self.transport.send(frame, deadline).map_err(|source| {
            let path = self.path.clone();
            if source.kind() == io::ErrorKind::TimedOut {
                // The line would not take the request (nobody reads the other end).
                ClientError::Timeout { path, timeout: self.options.timeout, attempts: attempt }
            } else {
                ClientError::Io { path, source }
            }
        })?;
        self.stats.sent += 1;
        Ok(())
    }

    /// Reads until the response to `seq` arrives or `deadline` passes, or (`on_damage`) a
    /// damaged frame arrives first.
    fn wait_for_answer(
        &mut self,
        seq: u16,
        deadline: Instant,
        on_damage: bool,
    ) -> Result<Option<Result<Response, ClientError>>, ClientError> {
        let found = self.wait_any_or_damage(&[seq], deadline, on_damage)?;
        Ok(found.into_iter().next().map(|(_, answer)| answer))
    }

    /// Reads until the response to `seq` arrives or `deadline` passes; with no `seq`, until
    /// an event arrives. Events met on the way are queued; responses to other sequence
    /// numbers are counted as stale and dropped.
    fn wait_for(
        &mut self,
        seq: Option<u16>,
        deadline: Instant,
    ) -> Result<Option<Result<Response, ClientError>>, ClientError> {
        let wanted: &[u16] = match &seq {
            Some(seq) => std::slice::from_ref(seq),
            None => &[],
        };
        Ok(self.wait_any(wanted, deadline)?.into_iter().next().map(|(_, answer)| answer))
    }

    /// Reads until a response to one of `wanted` arrives or `deadline` passes; with nothing
    /// wanted, until an event arrives. Returns every wanted answer that arrived in the same
    /// read (a pipeline's answers come back to back), at most one per sequence number.
    fn wait_any(&mut self, wanted: &[u16], deadline: Instant) -> Result<Vec<Arrived>, ClientError> {
        self.wait_any_or_damage(wanted, deadline, false)
    }

    /// [`Self::wait_any`], returning early (with nothing found) after a read that brought a
    /// damaged frame when `on_damage`.
    fn wait_any_or_damage(
        &mut self,
        wanted: &[u16],
        deadline: Instant,
        on_damage: bool,
    ) -> Result<Vec<Arrived>, ClientError> {
        let mut buf = [0u8; 256];
        let damaged_before = self.damaged;
        let mut found: Vec<Arrived> = Vec::new();
        loop {
            let n = self
                .transport
                .receive(&mut buf, deadline)
                .map_err(|source| ClientError::Io { path: self.path.clone(), source })?;
            if n == 0 {
                return Ok(found);
            }
            for &byte in &buf[..n] {
                let Some(result) = self.accumulator.push(byte) else { continue };
                let frame = match result {
                    Ok(frame) => frame,
                    Err(reason) => {
                        trace!(?reason, "damaged frame dropped");
                        self.stats.dropped += 1;
                        self.damaged += 1;
                        continue;
                    }
                };
                self.stats.received += 1;
                let header = frame.header;
                let body = frame.body;
                let (kind, seq, len) = (header.kind, header.seq, body.len());
                let mut note: Option<String> = None;
                trace!(kind = ?header.kind, seq = header.seq, len = body.len(), "frame received");
                let awaited =
                    wanted.contains(&header.seq) && !found.iter().any(|(s, _)| *s == header.seq);
                match header.kind {
                    Kind::Event if header.version == PROTOCOL_VERSION => {
                        // The lock sends only `Booted` in clear; anything else is not its.
                        match decode_body::<Event>(body) {
                            Ok(event @ Event::Booted { .. }) => {
                                note = Some(format!("{event:?}"));
                                self.queue_event(header.seq, event);
                            }
                            Ok(_) => {
                                note = Some("plaintext event ignored".into());
                                debug!(seq = header.seq, "plaintext event ignored");
                                self.stats.unsealed += 1;
                            }
                            Err(_) => self.stats.dropped += 1,
                        }
                    }
                    Kind::SealedEvent if header.version == PROTOCOL_VERSION => {
                        // Sealed for a session of ours, or for one we no longer hold.
                        let Some(session) = &mut self.session else {
                            self.stats.dropped += 1;
                            continue;
                        };
                        let mut plain = [0u8; MAX_BODY_LEN];
                        let opened = session.events.open(&header, body, &mut plain);
                        match opened.map(|(plain, _)| decode_body::<Event>(plain)) {
                            Ok(Ok(event)) => {
                                note = Some(format!("{event:?}"));
                                self.queue_event(header.seq, event);
                            }
                            _ => {
                                note = Some("dropped: does not open".into());
                                self.stats.dropped += 1;
                            }
                        }
                    }
                    Kind::Response if awaited => {
                        if header.version != PROTOCOL_VERSION {
                            found.push((
                                header.seq,
                                Err(ClientError::VersionMismatch { lock: header.version }),
                            ));
                            continue;
                        }
                        match decode_body::<Response>(body) {
                            // A plain refusal to a sealed request: the lock has no session
                            // for us any more.
                            Ok(Response::Status(Status::NotAuthorized))
                                if self.session.is_some() =>
                            {
                                found.push((header.seq, Err(ClientError::SessionExpired)));
                            }
                            // Inside a session the lock seals every other answer: one in
                            // clear is not its, and is no answer. The wait goes on.
                            Ok(_) if self.session.is_some() => {
                                debug!(
                                    seq = header.seq,
                                    "plaintext answer inside a session ignored"
                                );
                                self.stats.unsealed += 1;
                            }
                            Ok(response) => {
                                note = Some(format!("{response:?}"));
                                found.push((header.seq, Ok(response)));
                            }
                            Err(_) => self.stats.dropped += 1,
                        }
                    }
                    Kind::SealedResponse if awaited => {
                        let Some(session) = &mut self.session else {
                            self.stats.dropped += 1;
                            continue;
                        };
                        let mut plain = [0u8; MAX_BODY_LEN];
                        match session.opener.open(&header, body, &mut plain) {
                            Ok((plain, _)) => match decode_body::<Response>(plain) {
                                Ok(response) => {
                                    note = Some(format!("{response:?}"));
                                    found.push((header.seq, Ok(response)));
                                }
                                Err(_) => self.stats.dropped += 1,
                            },
                            Err(SealError::Replayed { .. }) => {
                                debug!(seq = header.seq, "stale answer ignored (already opened)");
                                self.stats.stale += 1;
                            }
                            Err(_) => self.stats.dropped += 1,
                        }
                    }
                    Kind::Response | Kind::SealedResponse => {
                        debug!(seq = header.seq, ?wanted, "stale answer ignored");
                        note = Some("stale answer ignored".into());
                        self.stats.stale += 1;
                    }
                    _ => self.stats.dropped += 1,
                }
                self.note(false, kind, seq, len, || note.unwrap_or_else(|| "dropped".into()));
            }
            if !found.is_empty() {
                return Ok(found);
            }
            if on_damage && self.damaged > damaged_before {
                return Ok(found);
            }
            if wanted.is_empty() && !self.events.is_empty() {
                return Ok(found);
            }
        }
    }

    fn queue_event(&mut self, seq: u16, event: Event) {
        if let Event::Booted { boot_count } = event {
            debug!(boot_count, "the lock says it (re)started");
            self.boots_seen = self.boots_seen.wrapping_add(1);
        }
        if self.events.len() == EVENT_BACKLOG {
            self.events.pop_front();
        }
        self.events.push_back((seq, event));
    }

    // ---- typed requests ------------------------------------------------------------------

    /// Identity and capabilities.
    pub fn hello(&mut self) -> Result<LockInfo, ClientError> {
        call!(self, Request::Hello, Response::Hello(info) => info)
    }

    /// Round trip; returns the echoed nonce.
    pub fn ping(&mut self, nonce: u32) -> Result<u32, ClientError> {
        call!(self, Request::Ping { nonce }, Response::Pong { nonce } => nonce)
    }

    /// The lock's clock.
    pub fn time(&mut self) -> Result<ClockReading, ClientError> {
        call!(self, Request::GetTime, Response::Time(reading) => reading)
    }

    /// Sets the lock's clock; returns its reading afterwards.
    pub fn set_time(&mut self, unix_seconds: u64) -> Result<ClockReading, ClientError> {
        call!(self, Request::SetTime { unix_seconds }, Response::Time(reading) => reading)
    }

    /// The battery.
    pub fn battery(&mut self) -> Result<BatteryReport, ClientError> {
        call!(self, Request::GetBattery, Response::Battery(report) => report)
    }

    /// All settings.
    pub fn settings(&mut self) -> Result<Settings, ClientError> {
        call!(self, Request::GetSettings, Response::Settings(settings) => settings)
    }

    /// Changes one setting; returns all settings once the change is in the lock's flash.
    pub fn set_setting(&mut self, setting: Setting) -> Result<Settings, ClientError> {
        call!(self, Request::SetSetting(setting), Response::Settings(settings) => settings)
    }

    /// Link and store counters of the lock.
    pub fn diagnostics(&mut self) -> Result<Diagnostics, ClientError> {
        call!(self, Request::GetDiagnostics, Response::Diagnostics(diagnostics) => diagnostics)
    }
}

// ---- users and credentials -----------------------------------------------------------------

impl<T: Transport> Client<T> {
    fn expect_success(&mut self, request: &Request) -> Result<(), ClientError> {
        call!(self, *request, Response::Status(Status::Success) => ())
    }

    fn expect_user(&mut self, request: &Request) -> Result<User, ClientError> {
        call!(self, *request, Response::User(user) => user)
    }

    /// Creates or changes user `id`; returns the user as the lock now holds it. `Add` with
    /// `id` 0 lets the lock take its lowest free number (the returned user carries it).
    pub fn put_user(
        &mut self,
        id: u16,
        write: UserWrite,
        spec: UserSpec,
    ) -> Result<User, ClientError> {
        self.expect_user(&Request::PutUser { id, write, spec })
    }

    /// One user.
    pub fn user(&mut self, id: u16) -> Result<User, ClientError> {
        self.expect_user(&Request::GetUser { id })
    }

    /// Every user, page by page.
    pub fn users(&mut self) -> Result<Vec<UserSummary>, ClientError> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            match self.request(&Request::ListUsers { after })? {
                Response::Users { users, more } => {
                    let Some(last) = users.last().map(|u| u.id) else { return Ok(all) };
                    all.extend(users);
                    if !more || last <= after {
                        return Ok(all);
                    }
                    after = last;
                }
                other => return Err(unexpected(other)),
            }
        }
    }

    /// Deletes a user and their credentials.
    pub fn remove_user(&mut self, id: u16) -> Result<(), ClientError> {
        self.expect_success(&Request::RemoveUser { id })
    }

    /// Removes every credential of one kind, or every user; returns how many this request
    /// removed. Safe to repeat: a repeat finishes an interrupted clear.
    pub fn clear(&mut self, what: ClearTarget) -> Result<u16, ClientError> {
        match self.request(&Request::Clear { what })? {
            Response::Cleared { removed } => Ok(removed),
            other => Err(unexpected(other)),
        }
    }

    /// Sets a user's PIN (sent sealed; the lock keeps a keyed hash).
    pub fn set_pin(&mut self, user: u16, pin: Pin) -> Result<(), ClientError> {
        self.expect_success(&Request::SetPin { user, pin })
    }

    /// Removes a user's PIN.
    pub fn remove_pin(&mut self, user: u16) -> Result<(), ClientError> {
        self.expect_success(&Request::RemovePin { user })
    }

    /// Gives a user a card.
    pub fn add_card(&mut self, user: u16, uid: CardUid) -> Result<(), ClientError> {
        self.expect_success(&Request::AddCard { user, uid })
    }

    /// Takes a card from a user.
    pub fn remove_card(&mut self, user: u16, uid: CardUid) -> Result<(), ClientError> {
        self.expect_success(&Request::RemoveCard { user, uid })
    }

    /// Starts learning the next card tapped on the lock.
    pub fn learn_card(&mut self, user: u16) -> Result<(), ClientError> {
        self.expect_started(&Request::LearnCard { user })
    }

    /// Starts enrolling a finger on the lock's sensor.
    pub fn enroll_finger(&mut self, user: u16) -> Result<(), ClientError> {
        self.expect_started(&Request::EnrollFinger { user })
    }

    /// A learning or enrollment start is answered with its first state (or plain success).
    fn expect_started(&mut self, request: &Request) -> Result<(), ClientError> {
        call!(self, *request, Response::Status(Status::Success) | Response::Enrollment(_) => ())
    }

    /// Where a card learning or finger enrollment stands.
    pub fn enrollment(&mut self) -> Result<Enrollment, ClientError> {
        call!(self, Request::GetEnrollment, Response::Enrollment(state) => state)
    }

    /// Stops a card learning or finger enrollment.
    pub fn cancel_enrollment(&mut self) -> Result<(), ClientError> {
        self.expect_success(&Request::CancelEnrollment)
    }

    /// Removes an enrolled finger.
    pub fn remove_finger(&mut self, user: u16, slot: u8) -> Result<(), ClientError> {
        self.expect_success(&Request::RemoveFinger { user, slot })
    }

    /// Gives a user a phone key.
    pub fn add_phone(&mut self, user: u16, public_key: [u8; 32]) -> Result<(), ClientError> {
        self.expect_success(&Request::AddPhone { user, public_key })
    }

    /// Takes a phone key from a user.
    pub fn remove_phone(&mut self, user: u16, public_key: [u8; 32]) -> Result<(), ClientError> {
        self.expect_success(&Request::RemovePhone { user, public_key })
    }

    /// The lock's checksum of its users and credentials: (users, credentials, digest).
    pub fn checksum(&mut self) -> Result<(u16, u16, [u8; 16]), ClientError> {
        call!(self, Request::GetChecksum, Response::Checksum { users, credentials, digest } => (users, credentials, digest))
    }

    /// The last access attempt, as the lock decided it.
    pub fn last_access(&mut self) -> Result<Option<AccessRecord>, ClientError> {
        call!(self, Request::GetLastAccess, Response::LastAccess(record) => record)
    }

    /// The alarms now raised.
    pub fn alarms(&mut self) -> Result<Vec<ActiveAlarm>, ClientError> {
        call!(self, Request::GetAlarms, Response::Alarms(alarms) => alarms.into_iter().collect())
    }
}

// ---- the event log, alarms --------------------------------------------------------------------

/// One page of the lock's log.
#[derive(Debug, Clone)]
pub struct LogPage {
    /// Records, oldest first.
    pub records: Vec<LogRecord>,
    /// The oldest record the lock still holds.
    pub first_seq: u32,
    /// The sequence number of the next record.
    pub next_seq: u32,
}

impl<T: Transport> Client<T> {
    /// Log records with `seq >= from_seq`, one page.
    pub fn read_log(&mut self, from_seq: u32) -> Result<LogPage, ClientError> {
        call!(self, Request::ReadLog { from_seq }, Response::Log { records, first_seq, next_seq } => {
            LogPage { records: records.into_iter().collect(), first_seq, next_seq }
        })
    }

    /// Checks the log's hash chain on the lock.
    pub fn verify_log(&mut self) -> Result<LogReport, ClientError> {
        call!(self, Request::VerifyLog, Response::LogReport(report) => report)
    }

    /// The lock's device key (Ed25519 public key), which its log heads are signed with.
    pub fn device_key(&mut self) -> Result<[u8; 32], ClientError> {
        call!(self, Request::GetDeviceKey, Response::DeviceKey(key) => key)
    }

    /// A checkpoint of the log, saying whether the lock still holds record `seen` (the newest
    /// this host saw), signed with the lock's device key when it has one; with the fresh nonce
    /// the signature covers.
    pub fn log_head(&mut self, seen: u32) -> Result<(LogHead, [u8; 32]), ClientError> {
        let nonce = random()?;
        Ok((self.log_head_over(seen, nonce)?, nonce))
    }

    /// The log head signed over `nonce` (say, the digest of a report it vouches for).
    pub fn log_head_over(&mut self, seen: u32, nonce: [u8; 32]) -> Result<LogHead, ClientError> {
        call!(self, Request::GetLogHead { seen, nonce }, Response::LogHead(head) => head)
    }

    /// Erases the log (installer); the clearing itself is logged.
    pub fn clear_log(&mut self) -> Result<(), ClientError> {
        self.expect_success(&Request::ClearLog)
    }

    /// Clears the raised alarms (installer).
    pub fn clear_alarms(&mut self) -> Result<(), ClientError> {
        self.expect_success(&Request::ClearAlarms)
    }
}

// ---- claiming and sessions ------------------------------------------------------------------

impl<T: Transport> Client<T> {
    /// Whether a session is open, and as whom.
    pub fn session_role(&self) -> Option<Role> {
        self.session.as_ref().map(|s| s.role)
    }

    /// Claims a factory-new lock: proves knowledge of its setup code and hands it its
    /// installer and technician keys, encrypted. Nothing secret crosses the line in clear,
    /// and a recording of the exchange does not reveal the setup code or the keys.
    pub fn claim(
        &mut self,
        code: &SetupCode,
        lock: &LockInfo,
        installer_key: &SecretKey,
        technician_key: &SecretKey,
    ) -> Result<(), ClientError> {
        let mut payload = [0u8; 64];
        payload[..32].copy_from_slice(installer_key.as_bytes());
        payload[32..].copy_from_slice(technician_key.as_bytes());
        let result = self.claim_exchange(ClaimIntent::Claim, code, lock, &mut payload);
        zeroize::Zeroize::zeroize(&mut payload);
        result
    }

    /// Returns a lock to factory-new (keys, users and credentials erased; the log kept),
    /// proving physical access with its setup code.
    pub fn factory_reset(&mut self, code: &SetupCode, lock: &LockInfo) -> Result<(), ClientError> {
        self.session = None;
        self.claim_exchange(ClaimIntent::FactoryReset, code, lock, &mut [])
    }

    /// The claim PAKE ([`latchkey_protocol::crypto::pake`]) with the verifier of `code`
    /// under the lock's salt, then the payload sealed under the exchange's key.
    fn claim_exchange(
        &mut self,
        intent: ClaimIntent,
        code: &SetupCode,
        lock: &LockInfo,
        payload: &mut [u8],
    ) -> Result<(), ClientError> {
        // The lock says so with an all-zero salt, and would refuse the exchange.
        if !lock.has_factory_data() {
            return Err(ClientError::NotProvisioned);
        }
        let serial = lock.serial.as_str();
        let verifier = ClaimVerifier::derive(code, &lock.claim_salt);
        let host_nonce = random::<16>()?;
        let secret = zeroize::Zeroizing::new(random::<32>()?);
        let host_share = pake::share(&secret, verifier.generator(intent));
        let (lock_share, lock_proof) = call!(
            self,
            Request::ClaimStart { intent, host_nonce, host_share },
            Response::ClaimChallenge { lock_share, lock_proof } => (lock_share, lock_proof)
        )?;
        let shared = pake::shared(&secret, &lock_share)
            .map(zeroize::Zeroizing::new)
            .ok_or_else(|| ClientError::Unexpected("the lock sent an invalid share".into()))?;
        let keys =
            ClaimKeys::derive(&shared, serial, intent, &host_nonce, &host_share, &lock_share);
        let code_ok = proofs_match(&lock_proof, &keys.lock_proof());
        if !code_ok {
            // The lock does not know this code (or is not the lock). Send nothing of value,
            // but finish, so the lock counts the failed attempt.
            payload.iter_mut().for_each(|b| *b = 0);
        }
        let tag = keys.seal(payload);
        let ciphertext = heapless::Vec::from_slice(payload)
            .map_err(|_| ClientError::Encode(latchkey_protocol::EncodeError::BodyTooLong))?;
        let answer = self.request(&Request::ClaimFinish { ciphertext, tag });
        match answer {
            _ if !code_ok => Err(ClientError::WrongSetupCode),
            Ok(Response::Status(Status::Success)) => Ok(()),
            Ok(Response::Status(Status::NotAuthorized)) => Err(ClientError::WrongSetupCode),
            Ok(other) => Err(unexpected(other)),
            Err(e) => Err(e),
        }
    }

    /// Opens a management session as `role` with the first of `lock_keys` the lock accepts.
    /// Returns which one (0 = current). A key the lock does not hold is detected from the
    /// lock's proof before the host proves anything, so trying an older key costs the lock
    /// no failed attempt.
    pub fn open_session(
        &mut self,
        role: Role,
        serial: &str,
        lock_keys: &[SecretKey],
    ) -> Result<usize, ClientError> {
        self.session = None;
        for (index, key) in lock_keys.iter().enumerate() {
            if self.try_session(role, serial, key)? {
                return Ok(index);
            }
        }
        Err(ClientError::WrongKey)
    }

    /// One handshake with `key`: `Ok(false)` when the lock's proof shows it holds another
    /// key (nothing proved, so the lock counts no failure).
    ///
    /// A lost or damaged `SessionStart` or `SessionConfirm` is sent again like any request
    /// (see [`resend_rule`]). A `NotAuthorized` to a confirm sent once means the lock no
    /// longer has our handshake pending: it restarted (a `Booted` event often says so too),
    /// which is [`ClientError::LockRestarted`], not a refusal. To a confirm sent more than
    /// once it may be the answer to the second copy after the first opened the session, so
    /// the handshake starts over (a new start ends whatever session the first opened).
    fn try_session(
        &mut self,
        role: Role,
        serial: &str,
        key: &SecretKey,
    ) -> Result<bool, ClientError> {
        let started = Instant::now();
        let tries = self.options.attempts.max(1);
        for handshake in 1..=tries {
            let boots = self.boots_seen;
            // An ephemeral key pair for this handshake only: with it gone, a recording of the
            // session stays closed even to whoever steals the role key later.
            let secret = zeroize::Zeroizing::new(random::<32>()?);
            let host_public = x25519_public(&secret);
            let (lock_public, lock_proof) = match self
                .request_once(&Request::SessionStart { role, host_public })?
            {
                Response::SessionChallenge { lock_public, lock_proof } => (lock_public, lock_proof),
                other => return Err(unexpected(other)),
            };
            let Some(shared) = x25519_shared(&secret, &lock_public).map(zeroize::Zeroizing::new)
            else {
                return Err(ClientError::Unexpected(
                    "a low-order key in the lock's challenge".into(),
                ));
            };
            let keys = SessionKeys::derive(key, role, serial, &host_public, &lock_public, &shared);
            if !proofs_match(&lock_proof, &keys.lock_proof()) {
                debug!(?role, "the lock holds another key");
                return Ok(false);
            }
            let confirm = self.exchange(&Request::SessionConfirm { host_proof: keys.host_proof() });
            let restarted = self.boots_seen != boots;
            match confirm {
                Ok(Answer { response: Response::Status(Status::Success), .. }) => {}
                Ok(Answer { response: Response::Status(Status::NotAuthorized), sends }) => {
                    if restarted || sends == 1 {
                        debug!(?role, restarted, "the lock forgot the handshake");
                        return Err(ClientError::LockRestarted);
                    }
                    debug!(?role, handshake, "confirm answered only after a resend; starting over");
                    continue;
                }
                Ok(Answer { response, .. }) => return Err(unexpected(response)),
                Err(ClientError::Timeout { .. }) if restarted => {
                    return Err(ClientError::LockRestarted);
                }
                Err(e) => return Err(e),
            }
            let (sealer, opener) = keys.host_ends();
            self.session = Some(Session {
                role,
                sealer,
                opener,
                events: keys.host_event_opener(),
                lock_key: key.clone(),
                serial: serial.to_string(),
            });
            debug!(
                ?role,
                handshakes = handshake,
                elapsed_ms = millis(started.elapsed()),
                "session opened"
            );
            return Ok(true);
        }
        Err(ClientError::SessionExpired)
    }

    fn reopen_session(&mut self) -> Result<(), ClientError> {
        let Some(old) = self.session.take() else { return Err(ClientError::SessionExpired) };
        let started = Instant::now();
        match self.try_session(old.role, &old.serial, &old.lock_key) {
            Ok(true) => {
                debug!(elapsed_ms = millis(started.elapsed()), "session reopened");
                Ok(())
            }
            other => {
                // Keep what a new handshake needs, so the next request tries again.
                self.session = Some(old);
                Err(other.err().unwrap_or(ClientError::SessionExpired))
            }
        }
    }

    /// Replaces the lock's keys (installer session). The session goes on under its keys.
    pub fn rotate_keys(
        &mut self,
        installer_key: &SecretKey,
        technician_key: &SecretKey,
    ) -> Result<(), ClientError> {
        self.expect_success(&Request::RotateKeys {
            installer_key: *installer_key.as_bytes(),
            technician_key: *technician_key.as_bytes(),
        })
    }

    /// Ends the session, if one is open. Best effort: the lock also ends idle sessions.
    pub fn end_session(&mut self) {
        if self.session.is_some() {
            // Courtesy only (the lock also ends idle sessions): never hold the user up.
            let options = self.options;
            self.options.timeout = self.options.timeout.min(Duration::from_millis(300));
            self.options.attempts = 1;
            let _ = self.request_once(&Request::EndSession);
            self.options = options;
            self.session = None;
        }
    }
}

impl<T: Transport> Drop for Client<T> {
    fn drop(&mut self) {
        self.end_session();
    }
}

fn random<const N: usize>() -> Result<[u8; N], ClientError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| ClientError::Random(e.to_string()))?;
    Ok(out)
}

/// Frames an already-encoded (sealed) body.
fn encode_raw_frame(header: Header, body: &[u8], out: &mut [u8]) -> Result<usize, ClientError> {
    latchkey_protocol::frame::encode_raw(header, body, out)
        .map(|w| w.len())
        .map_err(ClientError::Encode)
}

/// A refusal becomes [`ClientError::Refused`]; anything else is a protocol surprise.
fn unexpected(response: Response) -> ClientError {
    match response {
        Response::Refused(refusal) => ClientError::Refused(refusal),
        Response::Status(status) => ClientError::Refused(status.into()),
        Response::Backoff { retry_after_ms } => {
            ClientError::Backoff { retry_after: Duration::from_millis(u64::from(retry_after_ms)) }
        }
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

/// A request's name for logs and errors: never its contents, which may be a PIN or a key.
/// A request for a frame inspector: decoded, but for those that carry keys, proofs or a
/// setup code's exchange, only their name.
fn describe_request(request: &Request) -> String {
    match request {
        Request::ClaimStart { .. }
        | Request::ClaimFinish { .. }
        | Request::SessionStart { .. }
        | Request::SessionConfirm { .. }
        | Request::RotateKeys { .. } => request_name(request).to_string(),
        // A PIN's Debug shows only its length.
        other => format!("{other:?}"),
    }
}

pub(super) fn request_name(request: &Request) -> &'static str {
    match request {
        Request::Hello => "Hello",
        Request::Ping { .. } => "Ping",
        Request::GetTime => "GetTime",
        Request::SetTime { .. } => "SetTime",
        Request::GetBattery => "GetBattery",
        Request::GetSettings => "GetSettings",
        Request::SetSetting(_) => "SetSetting",
        Request::GetDiagnostics => "GetDiagnostics",
        Request::ClaimStart { .. } => "ClaimStart",
        Request::ClaimFinish { .. } => "ClaimFinish",
        Request::SessionStart { .. } => "SessionStart",
        Request::SessionConfirm { .. } => "SessionConfirm",
        Request::RotateKeys { .. } => "RotateKeys",
        Request::EndSession => "EndSession",
        Request::PutUser { .. } => "PutUser",
        Request::GetUser { .. } => "GetUser",
        Request::ListUsers { .. } => "ListUsers",
        Request::RemoveUser { .. } => "RemoveUser",
        Request::SetPin { .. } => "SetPin",
        Request::RemovePin { .. } => "RemovePin",
        Request::AddCard { .. } => "AddCard",
        Request::RemoveCard { .. } => "RemoveCard",
        Request::LearnCard { .. } => "LearnCard",
        Request::EnrollFinger { .. } => "EnrollFinger",
        Request::GetEnrollment => "GetEnrollment",
        Request::CancelEnrollment => "CancelEnrollment",
        Request::RemoveFinger { .. } => "RemoveFinger",
        Request::AddPhone { .. } => "AddPhone",
        Request::RemovePhone { .. } => "RemovePhone",
        Request::GetChecksum => "GetChecksum",
        Request::GetLastAccess => "GetLastAccess",
        Request::GetAlarms => "GetAlarms",
        Request::ReadLog { .. } => "ReadLog",
        Request::VerifyLog => "VerifyLog",
        Request::ClearLog => "ClearLog",
        Request::Clear { .. } => "Clear",
        Request::ClearAlarms => "ClearAlarms",
        Request::GetDeviceKey => "GetDeviceKey",
        Request::GetLogHead { .. } => "GetLogHead",
    }
}
