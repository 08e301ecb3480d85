//! The link layer: bytes in, frames out.
//!
//! It owns the frame accumulator, counts what it drops and why, and turns each intact request
//! into exactly one response frame with the request's sequence number (except sealed frames
//! that fail authentication, which get no answer). Handshakes and sealed frames go through
//! its [`Session`]; what each request may do is the role table's ([`authorize`]). The lock
//! is what the link talks to, through [`LockPort`].

pub mod session;

use latchkey_protocol::crypto::{ClaimVerifier, SecretKey};
use latchkey_protocol::{
    DropReason, Event, FrameAccumulator, Header, Kind, LogEntry, MAX_BODY_LEN, MAX_ENCODED_LEN,
    PROTOCOL_VERSION, Request, Response, Role, Status, decode_body, encode_frame,
};
use zeroize::Zeroize;

use crate::policy::{Via, authorize, is_handshake};
use crate::store::LockKeys;
use session::{Opened, Session};

/// The lock as the link sees it: it answers requests, and lends the session layer what a
/// handshake needs (randomness, the clock, the setup code, the stored keys).
pub trait LockPort {
    /// The response to `request`, which arrived `via` a plaintext frame or a session
    /// (checked against [`authorize`] here too, so no caller can skip it); `link` carries
    /// the link's counters.
    fn handle(&mut self, request: &Request, via: Via, link: &LinkStats) -> Response;
    /// Whether the lock holds keys: management then needs a session.
    fn is_claimed(&self) -> bool;
    /// Milliseconds since boot, for session expiry and back-off.
    fn uptime_ms(&self) -> u64;
    /// Fills `buf` from the lock's cryptographic RNG.
    fn fill_random(&mut self, buf: &mut [u8]);
    /// The lock's serial number, bound into every key derivation.
    fn serial(&self) -> &str;
    /// The setup code's verifier, the password of the claim exchange; `None` when the lock
    /// holds no factory data (it cannot be claimed).
    fn claim_verifier(&self) -> Option<&ClaimVerifier>;
    /// Failed authentications in a row as the lock last recorded them (they survive a power
    /// cut, so a back-off does too).
    fn recorded_auth_failures(&mut self) -> u32;
    /// Records failed authentications in a row (best effort: a flash fault must not open the
    /// door to guessing, so the count in RAM still rules until the next boot).
    fn record_auth_failures(&mut self, failures: u32);
    /// The stored lock key for `role`, if claimed.
    fn lock_key(&self, role: Role) -> Option<&SecretKey>;
    /// Claims the lock with `keys`: `Occupied` if already claimed, `Success` once in flash.
    fn install_keys(&mut self, keys: &LockKeys) -> Status;
    /// Returns the lock to unclaimed: erases the keys, the PIN key, every user and their
    /// credentials (not the settings, the event log or the setup code). `Success` once in
    /// flash.
    fn factory_reset(&mut self) -> Status;
    /// Records what the link saw (a session opened or closed, a failed authentication) in
    /// the event log.
    fn log_link(&mut self, entry: LogEntry);
}

/// Link counters, reported in `Diagnostics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames with a good CRC.
    pub frames_received: u32,
    /// Frames sent.
    pub frames_sent: u32,
    /// Dropped: longer than the maximum.
    pub dropped_too_long: u32,
    /// Dropped: bad COBS, too short, or unknown kind.
    pub dropped_malformed: u32,
    /// Dropped: CRC mismatch.
    pub dropped_bad_crc: u32,
    /// Intact but undecodable body (answered `BadFrame`).
    pub dropped_undecodable: u32,
    /// Another protocol version (answered `Unsupported`).
    pub wrong_version: u32,
    /// Sealed frames dropped: forged, altered, replayed or reordered.
    pub sealed_rejected: u32,
    /// Failed authentications (claim or session) since boot.
    pub auth_failures: u32,
}

/// The lock's end of the serial link.
pub struct Link {
    accumulator: FrameAccumulator,
    stats: LinkStats,
    event_seq: u16,
    session: Session,
}

impl Default for Link {
    fn default() -> Self {
        Self::new()
    }
}

impl Link {
    /// A link with nothing received yet.
    pub const fn new() -> Self {
        Self {
            accumulator: FrameAccumulator::new(),
            stats: LinkStats {
                frames_received: 0,
                frames_sent: 0,
                dropped_too_long: 0,
                dropped_malformed: 0,
                dropped_bad_crc: 0,
                dropped_undecodable: 0,
                wrong_version: 0,
                sealed_rejected: 0,
                auth_failures: 0,
            },
            event_seq: 0,
            session: Session::new(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// The role of the open session, if any.
    pub fn session_role(&self) -> Option<Role> {
        self.session.role()
    }

    /// Forgets a partial frame (after the host went away, say).
    pub fn reset(&mut self) {
        self.accumulator.reset();
    }

    /// Takes bytes from the line; calls `emit` with each encoded response frame, in order.
    pub fn receive(
        &mut self,
        bytes: &[u8],
        lock: &mut impl LockPort,
        emit: &mut impl FnMut(&[u8]),
    ) {
        for &byte in bytes {
            let Some(result) = self.accumulator.push(byte) else {
                continue;
            };
            let frame = match result {
                Ok(frame) => frame,
                Err(reason) => {
                    let counter = match reason {
                        DropReason::TooLong => &mut self.stats.dropped_too_long,
                        DropReason::BadCrc => &mut self.stats.dropped_bad_crc,
                        DropReason::Undecodable => &mut self.stats.dropped_undecodable,
                        DropReason::BadCobs | DropReason::TooShort | DropReason::BadKind => {
                            &mut self.stats.dropped_malformed
                        }
                    };
                    *counter = counter.saturating_add(1);
                    continue;
                }
            };
            self.stats.frames_received = self.stats.frames_received.saturating_add(1);
            let header = frame.header;
            let seq = header.seq;
            let response = if header.version != PROTOCOL_VERSION {
                // Its body may mean anything in that version: do not decode it.
                self.stats.wrong_version = self.stats.wrong_version.saturating_add(1);
                Response::Status(Status::Unsupported)
            } else if header.kind == Kind::SealedRequest {
                let sealed = receive_sealed(
                    &mut self.session,
                    &mut self.stats,
                    &header,
                    frame.body,
                    lock,
                    emit,
                );
                match sealed {
                    Some(plaintext) => plaintext,
                    None => continue,
                }
            } else if header.kind != Kind::Request {
                // Responses and events are for the host; a lock has nothing to say to them.
                continue;
            } else {
                match decode_body::<Request>(frame.body) {
                    Ok(request) => {
                        dispatch(&mut self.session, &mut self.stats, &request, Via::Plaintext, lock)
                    }
                    Err(_) => {
                        self.stats.dropped_undecodable =
                            self.stats.dropped_undecodable.saturating_add(1);
                        Response::Status(Status::BadFrame)
                    }
                }
            };
            self.send(Header::new(Kind::Response, seq), &response, emit);
        }
    }

    /// Sends an unsolicited event: sealed inside a session; outside one only
    /// [`Event::Booted`], in clear. Who came in, and when, is not for whoever holds the cable.
    pub fn send_event(&mut self, event: &Event, emit: &mut impl FnMut(&[u8])) {
        let seq = self.event_seq;
        let mut out = [0u8; MAX_ENCODED_LEN];
        let len = if self.session.role().is_some() {
            self.session.seal_event(seq, event, &mut out)
        } else if matches!(event, Event::Booted { .. }) {
            encode_frame(Header::new(Kind::Event, seq), event, &mut out).ok().map(|w| w.len())
        } else {
            None
        };
        if let Some(len) = len {
            self.event_seq = self.event_seq.wrapping_add(1);
            self.stats.frames_sent = self.stats.frames_sent.saturating_add(1);
            emit(&out[..len]);
        }
    }

    fn send(&mut self, header: Header, response: &Response, emit: &mut impl FnMut(&[u8])) {
        let mut out = [0u8; MAX_ENCODED_LEN];
        // Every response fits MAX_BODY_LEN by construction; should one not, the host still
        // gets an answer to its sequence number rather than a timeout.
        let wire = match encode_frame(header, response, &mut out) {
            Ok(wire) => wire.len(),
            Err(_) => match encode_frame(header, &Response::Status(Status::Failure), &mut out) {
                Ok(wire) => wire.len(),
                Err(_) => return,
            },
        };
        self.stats.frames_sent = self.stats.frames_sent.saturating_add(1);
        emit(&out[..wire]);
    }
}

/// Handles one sealed request frame. Emits the sealed answer itself (or nothing, for a frame
/// that fails authentication); returns a plaintext answer to send instead when there is no
/// session to seal it in.
fn receive_sealed(
    session: &mut Session,
    stats: &mut LinkStats,
    header: &Header,
    body: &[u8],
    lock: &mut impl LockPort,
    emit: &mut impl FnMut(&[u8]),
) -> Option<Response> {
    let mut plain = [0u8; MAX_BODY_LEN];
    let now = lock.uptime_ms();
    let role_before = session.role();
    let body = match session.open(header, body, now, &mut plain, stats) {
        // In clear, so a host whose session is gone learns to re-handshake.
        Opened::NoSession => {
            if let Some(role) = role_before {
                // It expired (idle): its end is logged now, when it is noticed.
                lock.log_link(LogEntry::Session { role, opened: false });
            }
            return Some(Response::Status(Status::NotAuthorized));
        }
        Opened::Dropped => return None,
        Opened::Resend => {
            if let Some(wire) = session.cached() {
                stats.frames_sent = stats.frames_sent.saturating_add(1);
                emit(wire);
            }
            return None;
        }
        Opened::Accepted(body) => body,
    };
    let (response, ended) = match (decode_body::<Request>(body), session.role()) {
        (Ok(mut request), Some(role)) => {
            let response = dispatch(session, stats, &request, Via::Session(role), lock);
            let ended =
                request == Request::EndSession && response == Response::Status(Status::Success);
            // Keys that arrived sealed do not linger in RAM.
            if let Request::RotateKeys { installer_key, technician_key } = &mut request {
                installer_key.zeroize();
                technician_key.zeroize();
            }
            (response, ended)
        }
        _ => {
            stats.dropped_undecodable = stats.dropped_undecodable.saturating_add(1);
            (Response::Status(Status::BadFrame), false)
        }
    };
    let role = session.role();
    let Some(wire) = session.seal(header.seq, &response, &mut plain) else {
        // The session could seal no more and is closed: say so in clear.
        if let Some(role) = role {
            lock.log_link(LogEntry::Session { role, opened: false });
        }
        return Some(Response::Status(Status::NotAuthorized));
    };
    stats.frames_sent = stats.frames_sent.saturating_add(1);
    emit(wire);
    if ended {
        session.end(lock);
    }
    None
}

/// Answers one decoded request that arrived `via` a plaintext frame or a session: refused by
/// the role table, a handshake for the session layer, or the lock's to carry out.
fn dispatch(
    session: &mut Session,
    stats: &mut LinkStats,
    request: &Request,
    via: Via,
    lock: &mut impl LockPort,
) -> Response {
    if let Err(status) = authorize(via, lock.is_claimed(), request) {
        return Response::Status(status);
    }
    if is_handshake(request) {
        session.handshake(request, lock, stats)
    } else {
        lock.handle(request, via, stats)
    }
}

// The link is static RAM on the MCU (16 KiB): the receive buffer, the cached sealed answer,
// the session's keys and the counters.
const _: () = assert!(core::mem::size_of::<Link>() <= 2 * MAX_ENCODED_LEN + 512);
