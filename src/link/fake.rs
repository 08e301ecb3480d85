//! A scripted lock in memory, for the client's unit tests. It speaks the real wire: the
//! protocol crate's frame codec and session crypto, the lock's side of the handshake, sealed
//! answers, the exact-resend cache and plain `NotAuthorized` without a session. What it does
//! not have is the lock's domain (users, settings): a few requests get fixed answers. A test
//! scripts the line's and the lock's faults per request ([`Reaction`]).
//!
//! Time is the test's: a wait with nothing to read ends at once, as if its deadline passed.

use std::collections::VecDeque;
use std::io;
use std::time::Instant;

use latchkey_protocol::crypto::{
    Opener, SealError, Sealer, SecretKey, SessionKeys, x25519_public, x25519_shared,
};
use latchkey_protocol::{
    Event, FrameAccumulator, Header, Kind, MAX_BODY_LEN, MAX_ENCODED_LEN, Request, Response,
    Status, decode_body, encode_frame,
};

use super::client::request_name;
use super::transport::Transport;

/// The fake lock's serial number.
pub(crate) const SERIAL: &str = "FAKE-0001";

/// The lock key the fake lock holds for every role.
pub(crate) fn lock_key() -> SecretKey {
    SecretKey([0x42; 32])
}

/// What happens to one request frame, decided before the lock handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reaction {
    /// The lock handles it and answers at once.
    Answer,
    /// The frame is lost on the line: the lock never sees it.
    LoseFrame,
    /// The lock handles it; the answer is lost on the line.
    LoseAnswer,
    /// The lock handles it; the answer arrives only after the client's next frame.
    Late,
    /// The lock's session ends (idle too long) just before the frame arrives.
    ExpireSessionFirst,
    /// The lock restarts just before the frame arrives, forgetting any pending handshake and
    /// its session; `booted_event`: it says so with a `Booted` event (else that is lost).
    RestartFirst {
        /// Whether the client hears the `Booted` event.
        booted_event: bool,
    },
}

struct FakeSession {
    keys: SessionKeys,
    sealer: Sealer,
    opener: Opener,
    events: Sealer,
    /// The last accepted sealed frame (header and body) and the answer sent to it.
    last_frame: Vec<u8>,
    last_answer: Vec<u8>,
}

type Script = Box<dyn FnMut(&Request) -> Reaction>;

/// The scripted lock; the client's [`Transport`].
pub(crate) struct FakeLock {
    accumulator: FrameAccumulator,
    pending: Option<SessionKeys>,
    session: Option<FakeSession>,
    script: Script,
    /// Bytes the client can read now.
    out: VecDeque<u8>,
    /// Answers held back ([`Reaction::Late`]) until the client sends again.
    held: Vec<u8>,
    next_event_seq: u16,
    nonces: u8,
    boots: u32,
    /// Every write of the client, as it came.
    pub writes: Vec<Vec<u8>>,
    /// Every request that reached the lock intact and readable (sealed ones opened),
    /// in order, whatever the lock then did with it.
    pub seen: Vec<Request>,
    /// Requests the lock carried out (handshakes included); a refused one is not here.
    pub carried_out: Vec<Request>,
}

impl FakeLock {
    /// A claimed lock that answers everything at once.
    pub(crate) fn new() -> Self {
        Self {
            accumulator: FrameAccumulator::new(),
            pending: None,
            session: None,
            script: Box::new(|_| Reaction::Answer),
            out: VecDeque::new(),
            held: Vec::new(),
            next_event_seq: 1,
            nonces: 0,
            boots: 1,
            writes: Vec::new(),
            seen: Vec::new(),
            carried_out: Vec::new(),
        }
    }

    /// Decides the fate of each request frame from now on.
    pub(crate) fn script(mut self, script: impl FnMut(&Request) -> Reaction + 'static) -> Self {
        self.script = Box::new(script);
        self
    }

    /// Sends an event now: sealed inside a session (as the lock does for all but `Booted`),
    /// plain otherwise.
    pub(crate) fn emit(&mut self, event: &Event) {
        let seq = self.next_event_seq;
        self.next_event_seq = self.next_event_seq.wrapping_add(1);
        let plain_only = matches!(event, Event::Booted { .. });
        let frame = match &mut self.session {
            Some(session) if !plain_only => {
                seal(&mut session.events, Header::new(Kind::SealedEvent, seq), event)
            }
            _ => plain(Header::new(Kind::Event, seq), event),
        };
        self.out.extend(frame);
    }

    /// Requests of one kind that reached the lock (`name` as in `Request`'s variants).
    pub(crate) fn seen_named(&self, name: &str) -> usize {
        self.seen.iter().filter(|r| request_name(r) == name).count()
    }

    /// Requests of one kind the lock carried out.
    pub(crate) fn carried_out_named(&self, name: &str) -> usize {
        self.carried_out.iter().filter(|r| request_name(r) == name).count()
    }

    fn restart(&mut self, booted_event: bool) {
        self.pending = None;
        self.session = None;
        self.boots += 1;
        if booted_event {
            self.emit(&Event::Booted { boot_count: self.boots });
        }
    }

    /// Reads a frame's request without touching the lock's state (a sealed one is opened
    /// with a fresh opener of the session's keys).
    fn peek(&self, header: &Header, body: &[u8]) -> Option<Request> {
        match header.kind {
            Kind::Request => decode_body(body).ok(),
            Kind::SealedRequest => {
                let session = self.session.as_ref()?;
                let (_, mut opener) = session.keys.lock_ends();
                let mut plain = [0u8; MAX_BODY_LEN];
                let (plain, _) = opener.open(header, body, &mut plain).ok()?;
                decode_body(plain).ok()
            }
            _ => None,
        }
    }

    fn frame_arrived(&mut self, header: Header, body: &[u8]) {
        let reaction = match self.peek(&header, body) {
            Some(request) => {
                let reaction = (self.script)(&request);
                self.seen.push(request);
                reaction
            }
            None => Reaction::Answer,
        };
        match reaction {
            Reaction::LoseFrame => return,
            Reaction::ExpireSessionFirst => self.session = None,
            Reaction::RestartFirst { booted_event } => self.restart(booted_event),
            Reaction::Answer | Reaction::LoseAnswer | Reaction::Late => {}
        }
        let Some(answer) = self.handle(header, body) else { return };
        match reaction {
            Reaction::LoseAnswer => {}
            Reaction::Late => self.held.extend(answer),
            _ => self.out.extend(answer),
        }
    }

    /// What the lock sends back for a frame, if anything.
    fn handle(&mut self, header: Header, body: &[u8]) -> Option<Vec<u8>> {
        let answer_plain =
            |response: &Response| plain(Header::new(Kind::Response, header.seq), response);
        match header.kind {
            Kind::Request => {
                let request: Request = decode_body(body).ok()?;
                let response = self.handle_plain(&request);
                if response != Response::Status(Status::NotAuthorized) {
                    self.carried_out.push(request);
                }
                Some(answer_plain(&response))
            }
            Kind::SealedRequest => {
                let Some(session) = &mut self.session else {
                    return Some(answer_plain(&Response::Status(Status::NotAuthorized)));
                };
                let mut frame = Vec::from(header_bytes(&header));
                frame.extend_from_slice(body);
                let mut plain_buf = [0u8; MAX_BODY_LEN];
                match session.opener.open(&header, body, &mut plain_buf) {
                    Ok((plain_text, _)) => {
                        let request: Request = decode_body(plain_text).ok()?;
                        let response = answer(&request);
                        self.carried_out.push(request);
                        let sealed = seal(
                            &mut session.sealer,
                            Header::new(Kind::SealedResponse, header.seq),
                            &response,
                        );
                        session.last_frame = frame;
                        session.last_answer = sealed.clone();
                        Some(sealed)
                    }
                    // The very frame accepted last: its answer was lost, send it again.
                    Err(SealError::Replayed { .. }) if frame == session.last_frame => {
                        Some(session.last_answer.clone())
                    }
                    Err(_) => None,
                }
            }
            _ => None,
        }
    }

    fn handle_plain(&mut self, request: &Request) -> Response {
        match request {
            Request::Ping { nonce } => Response::Pong { nonce: *nonce },
            Request::SessionStart { role, host_public } => {
                // Whoever starts a handshake takes over the line; a new start replaces a
                // pending one.
                self.session = None;
                self.nonces = self.nonces.wrapping_add(1);
                let secret = [self.nonces; 32];
                let lock_public = x25519_public(&secret);
                let Some(shared) = x25519_shared(&secret, host_public) else {
                    return Response::Status(Status::InvalidField);
                };
                let keys = SessionKeys::derive(
                    &lock_key(),
                    *role,
                    SERIAL,
                    host_public,
                    &lock_public,
                    &shared,
                );
                let lock_proof = keys.lock_proof();
                self.pending = Some(keys);
                Response::SessionChallenge { lock_public, lock_proof }
            }
            Request::SessionConfirm { host_proof } => {
                let Some(keys) = self.pending.take() else {
                    return Response::Status(Status::NotAuthorized);
                };
                if keys.host_proof() != *host_proof {
                    return Response::Status(Status::NotAuthorized);
                }
                let (sealer, opener) = keys.lock_ends();
                let events = keys.lock_event_sealer();
                self.session = Some(FakeSession {
                    keys,
                    sealer,
                    opener,
                    events,
                    last_frame: Vec::new(),
                    last_answer: Vec::new(),
                });
                Response::Status(Status::Success)
            }
            // Everything else needs a session.
            _ => Response::Status(Status::NotAuthorized),
        }
    }
}

/// The fake lock's answers inside a session.
fn answer(request: &Request) -> Response {
    match request {
        Request::Ping { nonce } => Response::Pong { nonce: *nonce },
        Request::GetChecksum => Response::Checksum { users: 1, credentials: 2, digest: [7; 16] },
        // Nobody's PIN: a refusal, for the tests that need one.
        Request::RemovePin { .. } => Response::Status(Status::NotFound),
        _ => Response::Status(Status::Success),
    }
}

impl Transport for FakeLock {
    fn send(&mut self, bytes: &[u8], _deadline: Instant) -> io::Result<()> {
        self.writes.push(bytes.to_vec());
        // Answers held back arrive now, before anything this write causes.
        let held = std::mem::take(&mut self.held);
        self.out.extend(held);
        for &byte in bytes {
            let frame = match self.accumulator.push(byte) {
                Some(Ok(frame)) => (frame.header, frame.body.to_vec()),
                _ => continue,
            };
            self.frame_arrived(frame.0, &frame.1);
        }
        Ok(())
    }

    fn receive(&mut self, buf: &mut [u8], _deadline: Instant) -> io::Result<usize> {
        let n = buf.len().min(self.out.len());
        for (slot, byte) in buf.iter_mut().zip(self.out.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

fn plain<T: serde::Serialize>(header: Header, body: &T) -> Vec<u8> {
    let mut out = [0u8; MAX_ENCODED_LEN];
    encode_frame(header, body, &mut out).expect("fits a frame").to_vec()
}

fn seal<T: serde::Serialize>(sealer: &mut Sealer, header: Header, body: &T) -> Vec<u8> {
    let mut plain_buf = [0u8; MAX_BODY_LEN];
    let plain_text = postcard::to_slice(body, &mut plain_buf).expect("fits a frame");
    let mut sealed = [0u8; MAX_BODY_LEN];
    let (n, _) = sealer.seal(&header, plain_text, &mut sealed).expect("seals");
    let mut out = [0u8; MAX_ENCODED_LEN];
    latchkey_protocol::frame::encode_raw(header, &sealed[..n], &mut out).expect("fits").to_vec()
}

fn header_bytes(header: &Header) -> [u8; 4] {
    let seq = header.seq.to_le_bytes();
    [header.version, header.kind as u8, seq[0], seq[1]]
}
