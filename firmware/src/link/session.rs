//! The lock's end of the secure link: the claim exchange, the session handshake, and sealed
//! frames. All crypto is `latchkey_protocol::crypto`'s; this is the state machine around it.
//!
//! - **Claim / factory reset**: `ClaimStart` gets an ephemeral X25519 key and a proof that the
//!   lock knows the setup code; `ClaimFinish` carries the payload sealed under a key only a
//!   host that knows the setup code can derive.
//! - **Session**: `SessionStart` / `SessionConfirm` prove both ends hold the role's lock key;
//!   then every request travels sealed (kind `SealedRequest`), answered sealed.
//! - **Back-off**: each failed authentication (claim or session, one shared count) makes the
//!   next `ClaimStart` / `SessionStart` wait `min(1 s · 2^(n-1), 60 s)`; a success resets it.
//!
//! What a role may do once a session is open is the role table's (`policy::authorize`).

use latchkey_protocol::crypto::{
    self, ClaimKeys, Opener, SealError, Sealer, SecretKey, SessionKeys, TAG_LEN, pake,
};
use latchkey_protocol::{
    ClaimIntent, EncodeError, Event, Header, Kind, LogEntry, MAX_BODY_LEN, MAX_ENCODED_LEN,
    Request, Response, Role, Status, encode_raw,
};
use zeroize::Zeroize;

use super::{LinkStats, LockPort};
use crate::store::LockKeys;

/// A session with no accepted sealed frame for this long is closed.
pub const SESSION_IDLE_MS: u64 = 60_000;
/// Back-off after the first failed authentication; it doubles with each further one.
pub const BACKOFF_BASE_MS: u64 = 1_000;
/// The longest back-off.
pub const BACKOFF_MAX_MS: u64 = 60_000;
/// Bytes of the claim payload: installer key ‖ technician key.
const CLAIM_PAYLOAD_LEN: usize = 64;

/// A handshake begun and not yet finished. One at a time: a new start replaces it.
enum Pending {
    None,
    Claim { intent: ClaimIntent, keys: ClaimKeys },
    Session { role: Role, keys: SessionKeys },
}

/// An open session.
struct Active {
    role: Role,
    sealer: Sealer,
    opener: Opener,
    /// Seals events, with a counter of their own (answers keep theirs for exact resends).
    events: Sealer,
    /// Uptime of the last accepted sealed frame (or of the handshake).
    last_activity_ms: u64,
    /// Tag of the last accepted sealed frame, to tell a resend of it from a replay.
    last_tag: [u8; TAG_LEN],
}

/// What became of a sealed frame.
pub(crate) enum Opened<'p> {
    /// No session (never opened, closed, or idle too long): answer plaintext `NotAuthorized`
    /// so the host re-handshakes.
    NoSession,
    /// Forged, altered or replayed: no answer at all.
    Dropped,
    /// An exact resend of the last accepted frame: send the cached answer again.
    Resend,
    /// Accepted: the plaintext body.
    Accepted(&'p [u8]),
}

/// The session layer's state. Static RAM on the MCU: keys, and one cached answer frame.
pub struct Session {
    pending: Pending,
    active: Option<Active>,
    /// Consecutive failed authentications.
    failures: u32,
    /// Uptime before which a new `ClaimStart` / `SessionStart` is refused.
    backoff_until_ms: u64,
    /// Whether `failures` has been read back from the lock's record since boot.
    restored: bool,
    /// The last sealed answer as sent, for an exact resend; `cached_len == 0` when none.
    cached: [u8; MAX_ENCODED_LEN],
    cached_len: usize,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    /// No session, no failures.
    pub const fn new() -> Self {
        Self {
            pending: Pending::None,
            active: None,
            failures: 0,
            backoff_until_ms: 0,
            restored: false,
            cached: [0; MAX_ENCODED_LEN],
            cached_len: 0,
        }
    }

    /// The role of the open session, if any (it may have expired; the next frame finds out).
    pub fn role(&self) -> Option<Role> {
        self.active.as_ref().map(|a| a.role)
    }

    /// Closes the open session, wiping its keys (by dropping them) and the cached answer.
    pub fn close(&mut self) {
        self.active = None;
        self.cached.zeroize();
        self.cached_len = 0;
    }

    /// Answers a plaintext handshake request (see `policy::is_handshake`), already allowed by
    /// `policy::authorize`.
    pub fn handshake(
        &mut self,
        request: &Request,
        lock: &mut impl LockPort,
        stats: &mut LinkStats,
    ) -> Response {
        self.restore(lock);
        let status = match request {
            Request::ClaimStart { intent, host_nonce, host_share } => {
                return self.claim_start(*intent, host_nonce, host_share, lock, stats);
            }
            Request::ClaimFinish { ciphertext, tag } => {
                self.claim_finish(ciphertext, tag, lock, stats)
            }
            Request::SessionStart { role, host_public } => {
                return self.session_start(*role, host_public, lock, stats);
            }
            Request::SessionConfirm { host_proof } => self.session_confirm(host_proof, lock, stats),
            _ => Status::InvalidField,
        };
        Response::Status(status)
    }

    fn claim_start(
        &mut self,
        intent: ClaimIntent,
        host_nonce: &[u8; 16],
        host_share: &[u8; 32],
        lock: &mut impl LockPort,
        stats: &mut LinkStats,
    ) -> Response {
        // Public knowledge (Hello says it), so answering it first reveals nothing.
        if intent == ClaimIntent::Claim && lock.is_claimed() {
            return Response::Status(Status::Occupied);
        }
        // A lock never provisioned has no verifier: nothing could prove a code to it.
        let Some(generator) = lock.claim_verifier().map(|v| *v.generator(intent)) else {
            return Response::Status(Status::Failure);
        };
        let now = lock.uptime_ms();
        if let Some(retry_after_ms) = self.backoff(now) {
            return Response::Backoff { retry_after_ms };
        }
        self.abandon_pending(lock, stats);
        let mut secret = [0u8; 32];
        lock.fill_random(&mut secret);
        let lock_share = pake::share(&secret, &generator);
        let shared = pake::shared(&secret, host_share);
        secret.zeroize();
        // A share of low order: a broken or hostile host, not a wrong guess.
        let Some(mut shared) = shared else {
            return Response::Status(Status::InvalidField);
        };
        let keys =
            ClaimKeys::derive(&shared, lock.serial(), intent, host_nonce, host_share, &lock_share);
        shared.zeroize();
        let lock_proof = keys.lock_proof();
        self.pending = Pending::Claim { intent, keys };
        Response::ClaimChallenge { lock_share, lock_proof }
    }

    fn claim_finish(
        &mut self,
        ciphertext: &[u8],
        tag: &[u8; TAG_LEN],
        lock: &mut impl LockPort,
        stats: &mut LinkStats,
    ) -> Status {
        // One finish per exchange, right or wrong: a guess costs a whole new exchange.
        let (intent, keys) = match core::mem::replace(&mut self.pending, Pending::None) {
            Pending::Claim { intent, keys } => (intent, keys),
            other => {
                self.pending = other;
                return Status::NotAuthorized;
            }
        };
        let mut payload = [0u8; CLAIM_PAYLOAD_LEN];
        let Some(payload) = payload.get_mut(..ciphertext.len()) else {
            return Status::InvalidField; // the type caps it at 64; kept for the indexing
        };
        payload.copy_from_slice(ciphertext);
        if !keys.open(payload, tag) {
            // The wrong setup code (or a tampered payload).
            self.fail(lock, stats, true);
            return Status::NotAuthorized;
        }
        // The host proved it knows the code: whatever the payload, that resets the back-off.
        self.succeed(lock);
        let status = match intent {
            ClaimIntent::Claim => match <&[u8; CLAIM_PAYLOAD_LEN]>::try_from(&*payload) {
                Ok(both) => {
                    let mut installer = [0u8; 32];
                    let mut technician = [0u8; 32];
                    installer.copy_from_slice(&both[..32]);
                    technician.copy_from_slice(&both[32..]);
                    let keys = LockKeys {
                        installer: SecretKey(installer),
                        technician: SecretKey(technician),
                    };
                    installer.zeroize();
                    technician.zeroize();
                    lock.install_keys(&keys)
                }
                Err(_) => Status::InvalidField,
            },
            ClaimIntent::FactoryReset if payload.is_empty() => {
                // A reset ends whatever session the previous owner had open.
                self.end(lock);
                lock.factory_reset()
            }
            ClaimIntent::FactoryReset => Status::InvalidField,
        };
        payload.zeroize();
        status
    }

    fn session_start(
        &mut self,
        role: Role,
        host_public: &[u8; 32],
        lock: &mut impl LockPort,
        stats: &mut LinkStats,
    ) -> Response {
        if !lock.is_claimed() {
            return Response::Status(Status::NotAuthorized);
        }
        // One host at a time: whoever starts a handshake has taken over the line.
        self.end(lock);
        let now = lock.uptime_ms();
        if let Some(retry_after_ms) = self.backoff(now) {
            return Response::Backoff { retry_after_ms };
        }
        self.abandon_pending(lock, stats);
        // An ephemeral key pair of the lock's, forgotten once the keys are derived.
        let mut secret = [0u8; 32];
        lock.fill_random(&mut secret);
        let lock_public = crypto::x25519_public(&secret);
        let shared = crypto::x25519_shared(&secret, host_public);
        secret.zeroize();
        // A low-order point: a broken or hostile host.
        let Some(mut shared) = shared else {
            return Response::Status(Status::InvalidField);
        };
        let Some(key) = lock.lock_key(role) else {
            shared.zeroize();
            return Response::Status(Status::NotAuthorized);
        };
        let keys =
            SessionKeys::derive(key, role, lock.serial(), host_public, &lock_public, &shared);
        shared.zeroize();
        let lock_proof = keys.lock_proof();
        self.pending = Pending::Session { role, keys };
        Response::SessionChallenge { lock_public, lock_proof }
    }

    fn session_confirm(
        &mut self,
        host_proof: &[u8; 32],
        lock: &mut impl LockPort,
        stats: &mut LinkStats,
    ) -> Status {
        let (role, keys) = match core::mem::replace(&mut self.pending, Pending::None) {
            Pending::Session { role, keys } => (role, keys),
            other => {
                self.pending = other;
                return Status::NotAuthorized;
            }
        };
        let now = lock.uptime_ms();
        if !crypto::proofs_match(host_proof, &keys.host_proof()) {
            self.fail(lock, stats, false);
            return Status::NotAuthorized;
        }
        let (sealer, opener) = keys.lock_ends();
        let events = keys.lock_event_sealer();
        self.end(lock);
        self.active = Some(Active {
            role,
            sealer,
            opener,
            events,
            last_activity_ms: now,
            last_tag: [0; TAG_LEN],
        });
        self.succeed(lock);
        lock.log_link(LogEntry::Session { role, opened: true });
        Status::Success
    }

    /// Milliseconds of back-off left at `now`, if any.
    fn backoff(&self, now: u64) -> Option<u32> {
        (now < self.backoff_until_ms)
            .then(|| u32::try_from(self.backoff_until_ms - now).unwrap_or(u32::MAX))
    }

    /// A claim exchange left unfinished by a new start counts as a failed attempt: each
    /// challenge lets its host test setup-code guesses offline against `lock_proof`, so
    /// collecting challenges is slowed like guessing. An unfinished session handshake is
    /// merely dropped: its proof is keyed by a 256-bit lock key, nothing to guess.
    fn abandon_pending(&mut self, lock: &mut impl LockPort, stats: &mut LinkStats) {
        if let Pending::Claim { .. } = core::mem::replace(&mut self.pending, Pending::None) {
            self.fail(lock, stats, true);
        }
    }

    /// A successful authentication ends any back-off.
    /// At the first handshake after boot: the failures recorded before a power cut, and their
    /// back-off again in full (how long the lock was off, nobody can tell).
    #[inline(never)]
    fn restore(&mut self, lock: &mut impl LockPort) {
        if self.restored {
            return;
        }
        self.restored = true;
        let recorded = lock.recorded_auth_failures();
        if recorded > self.failures {
            self.failures = recorded;
            self.backoff_until_ms = lock.uptime_ms().saturating_add(backoff_ms(recorded));
        }
    }

    fn succeed(&mut self, lock: &mut impl LockPort) {
        if self.failures != 0 {
            lock.record_auth_failures(0);
        }
        self.failures = 0;
        self.backoff_until_ms = 0;
    }

    /// Records a failed authentication at `now` and starts its back-off.
    /// `claim`: during a claim or factory-reset exchange (else a session handshake).
    fn fail(&mut self, lock: &mut impl LockPort, stats: &mut LinkStats, claim: bool) {
        let now = lock.uptime_ms();
        self.failures = self.failures.saturating_add(1);
        self.backoff_until_ms = now.saturating_add(backoff_ms(self.failures));
        lock.record_auth_failures(self.failures);
        stats.auth_failures = stats.auth_failures.saturating_add(1);
        lock.log_link(LogEntry::AuthFailed { claim });
    }

    /// Closes the open session, if any, and logs its end.
    pub(crate) fn end(&mut self, lock: &mut impl LockPort) {
        if let Some(role) = self.role() {
            self.close();
            lock.log_link(LogEntry::Session { role, opened: false });
        }
    }

    /// Opens a sealed request frame at uptime `now` into `out`.
    pub(crate) fn open<'p>(
        &mut self,
        header: &Header,
        body: &[u8],
        now: u64,
        out: &'p mut [u8],
        stats: &mut LinkStats,
    ) -> Opened<'p> {
        let Some(active) = &mut self.active else {
            return Opened::NoSession;
        };
        if now.saturating_sub(active.last_activity_ms) > SESSION_IDLE_MS {
            self.close();
            return Opened::NoSession;
        }
        let tag = body.len().checked_sub(TAG_LEN).and_then(|at| body.get(at..));
        match active.opener.open(header, body, out) {
            Ok((plain, _counter)) => {
                active.last_activity_ms = now;
                if let Some(tag) = tag {
                    active.last_tag.copy_from_slice(tag);
                }
                // The old answer is for an older frame now; the new one replaces it.
                self.cached_len = 0;
                Opened::Accepted(plain)
            }
            // Authentic (open checks the tag first) and the same counter and tag as the last
            // accepted frame: the very same frame, resent because our answer was lost.
            Err(SealError::Replayed { counter })
                if counter == active.opener.last_counter()
                    && tag == Some(&active.last_tag[..])
                    && self.cached_len > 0 =>
            {
                Opened::Resend
            }
            Err(_) => {
                stats.sealed_rejected = stats.sealed_rejected.saturating_add(1);
                Opened::Dropped
            }
        }
    }

    /// Seals `response` as the answer to sealed request `seq` and caches the frame for a
    /// resend; returns it. `plain` is scratch for the plaintext. `None`: the session cannot
    /// seal any more (closed, or its counter exhausted), and is closed.
    pub(crate) fn seal(
        &mut self,
        seq: u16,
        response: &Response,
        plain: &mut [u8],
    ) -> Option<&[u8]> {
        let active = self.active.as_mut()?;
        let header = Header::new(Kind::SealedResponse, seq);
        let mut body = [0u8; MAX_BODY_LEN];
        let mut sealed = seal_one(&mut active.sealer, &header, response, plain, &mut body);
        if sealed == Err(SealError::TooLong) {
            // Every response fits by construction; should one not, still answer its seq.
            let failure = Response::Status(Status::Failure);
            sealed = seal_one(&mut active.sealer, &header, &failure, plain, &mut body);
        }
        plain.zeroize();
        let len = match sealed {
            Ok(len) => len,
            Err(_) => {
                self.close();
                return None;
            }
        };
        let encoded = encode_raw(header, &body[..len], &mut self.cached);
        body.zeroize();
        match encoded {
            Ok(wire) => {
                self.cached_len = wire.len();
                self.cached()
            }
            Err(EncodeError::BodyTooLong | EncodeError::BufferTooSmall) => {
                self.close();
                None
            }
        }
    }

    /// Seals `event` as event `seq` into `out`; the frame's length. `None` without a
    /// session (or should it not fit, which no event does).
    pub(crate) fn seal_event(&mut self, seq: u16, event: &Event, out: &mut [u8]) -> Option<usize> {
        let active = self.active.as_mut()?;
        let header = Header::new(Kind::SealedEvent, seq);
        let mut plain = [0u8; MAX_BODY_LEN];
        let mut body = [0u8; MAX_BODY_LEN];
        let sealed = postcard::to_slice(event, &mut plain)
            .ok()
            .and_then(|text| active.events.seal(&header, text, &mut body).ok());
        plain.zeroize();
        let wire = sealed.and_then(|(len, _)| encode_raw(header, &body[..len], out).ok());
        let len = wire.map(|w| w.len());
        body.zeroize();
        len
    }

    /// The cached last sealed answer, if any.
    pub(crate) fn cached(&self) -> Option<&[u8]> {
        (self.cached_len > 0).then(|| &self.cached[..self.cached_len])
    }
}

/// Serializes `response` into `plain` and seals it into `body`; the sealed length.
fn seal_one(
    sealer: &mut Sealer,
    header: &Header,
    response: &Response,
    plain: &mut [u8],
    body: &mut [u8],
) -> Result<usize, SealError> {
    let plaintext = postcard::to_slice(response, plain).map_err(|_| SealError::TooLong)?;
    let (len, _counter) = sealer.seal(header, plaintext, body)?;
    Ok(len)
}

/// The back-off after `failures` failed authentications in a row: 1 s, doubling, at most
/// [`BACKOFF_MAX_MS`].
fn backoff_ms(failures: u32) -> u64 {
    let doublings = failures.saturating_sub(1).min(6); // 2^6 s already exceeds the cap
    (BACKOFF_BASE_MS << doublings).min(BACKOFF_MAX_MS)
}
