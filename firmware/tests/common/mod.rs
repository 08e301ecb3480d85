//! Helpers shared by the integration tests: a booted lock on an in-memory NOR flash, framing
//! for requests and responses, and the host's side of the claim exchange and of a session,
//! written with the protocol crate's crypto as a real host does. Everything on the lock's
//! side is the real core; nothing is mocked.
#![allow(dead_code)]
// each test binary uses a different part
// A refused handshake returns the lock's answer as it came; tests are no hot path.
#![allow(clippy::result_large_err)]

pub mod cut_flash;
pub mod fuse;
pub mod rig;
pub mod wear;
pub mod world;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use latchkey_firmware::factory::FactoryClaim;
use latchkey_firmware::hal::Clock;
use latchkey_firmware::{Identity, Link, Lock, LockKeys, LockPort, Store};
use latchkey_protocol::crypto::{
    self, CLAIM_SALT_LEN, ClaimKeys, ClaimVerifier, Opener, Sealer, SecretKey, SessionKeys,
    SetupCode, pake,
};
use latchkey_protocol::{
    BeeperVolume, CRC, ClaimIntent, DoorLabel, Event, FrameAccumulator, Header, Ident, Kind,
    MAX_BODY_LEN, MAX_ENCODED_LEN, PROTOCOL_VERSION, Request, ResetReason, Response, Role, Setting,
    Status, decode_body, encode_frame,
};
use latchkey_sim::{SimBattery, SimClock, SimDevices, SimFlash, SimRng};

pub type TestLock<'a> = Lock<&'a mut SimFlash, TestClock, SimBattery, SimRng, SimDevices>;

pub const SERIAL: &str = "TEST-0001";
pub const SETUP_CODE: &str = "ABCD-EFGH-JK01";

pub fn setup_code() -> SetupCode {
    SetupCode::parse(SETUP_CODE).unwrap()
}

/// The salt of the test locks' claim verifier.
pub const CLAIM_SALT: [u8; CLAIM_SALT_LEN] = [0x5A; CLAIM_SALT_LEN];

/// The factory claim record of [`SETUP_CODE`] (derived once: the KDF is slow on purpose).
pub fn factory_claim() -> FactoryClaim {
    static CLAIM: std::sync::OnceLock<FactoryClaim> = std::sync::OnceLock::new();
    CLAIM
        .get_or_init(|| FactoryClaim {
            salt: CLAIM_SALT,
            verifier: ClaimVerifier::derive(&setup_code(), &CLAIM_SALT),
        })
        .clone()
}

pub fn identity() -> Identity {
    Identity {
        model: Ident::try_from("LK-100 test").unwrap(),
        serial: Ident::try_from(SERIAL).unwrap(),
        simulation: true,
        max_in_flight: 8,
        claim: Some(factory_claim()),
    }
}

/// The keys the tests claim locks with.
pub fn test_keys() -> LockKeys {
    LockKeys { installer: SecretKey([0x11; 32]), technician: SecretKey([0x22; 32]) }
}

/// The simulator's clock, with an uptime a test can move forward (back-off, session expiry).
pub struct TestClock {
    inner: SimClock,
    skip_ms: Arc<AtomicU64>,
}

/// Moves a [`TestClock`]'s uptime forward.
#[derive(Clone)]
pub struct ClockHandle(Arc<AtomicU64>);

impl ClockHandle {
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl TestClock {
    pub fn new() -> (Self, ClockHandle) {
        let skip_ms = Arc::new(AtomicU64::new(0));
        (Self { inner: SimClock::new(), skip_ms: skip_ms.clone() }, ClockHandle(skip_ms))
    }
}

impl Clock for TestClock {
    fn now(&self) -> u64 {
        self.inner.now() + self.skip_ms.load(Ordering::SeqCst) / 1000
    }
    fn is_set(&self) -> bool {
        self.inner.is_set()
    }
    fn set(&mut self, unix_seconds: u64) {
        self.inner.set(unix_seconds);
    }
    fn uptime_ms(&self) -> u64 {
        self.inner.uptime_ms() + self.skip_ms.load(Ordering::SeqCst)
    }
}

/// Mounts the store on `flash` and boots a lock on it, as a power-up does.
pub fn boot(flash: &mut SimFlash) -> TestLock<'_> {
    boot_with(flash, SimBattery::new(6000))
}

pub fn boot_with(flash: &mut SimFlash, battery: SimBattery) -> TestLock<'_> {
    boot_full(flash, battery).0
}

/// A booted lock and the handle on its clock.
pub fn boot_clocked(flash: &mut SimFlash) -> (TestLock<'_>, ClockHandle) {
    boot_full(flash, SimBattery::new(6000))
}

pub fn boot_full(flash: &mut SimFlash, battery: SimBattery) -> (TestLock<'_>, ClockHandle) {
    let store = Store::mount(flash).expect("store mounts");
    let (clock, handle) = TestClock::new();
    let rng = SimRng::new().expect("the OS RNG works");
    let devices = SimDevices::default();
    (
        Lock::boot(store, clock, battery, rng, devices, identity(), ResetReason::PowerOn)
            .expect("lock boots"),
        handle,
    )
}

/// One encoded frame.
pub fn frame<T: serde::Serialize>(header: Header, body: &T) -> Vec<u8> {
    let mut out = [0u8; MAX_ENCODED_LEN];
    encode_frame(header, body, &mut out).unwrap().to_vec()
}

pub fn request_frame(seq: u16, request: &Request) -> Vec<u8> {
    frame(Header::new(Kind::Request, seq), request)
}

/// A COBS-encoded, 0x00-terminated frame of raw bytes with a correct CRC.
pub fn raw_frame(version: u8, kind: u8, seq: u16, body: &[u8]) -> Vec<u8> {
    raw_frame_crc_xor(version, kind, seq, body, 0)
}

pub fn raw_frame_crc_xor(version: u8, kind: u8, seq: u16, body: &[u8], xor: u16) -> Vec<u8> {
    let mut raw = vec![version, kind];
    raw.extend_from_slice(&seq.to_le_bytes());
    raw.extend_from_slice(body);
    let crc = CRC.checksum(&raw) ^ xor;
    raw.extend_from_slice(&crc.to_le_bytes());
    let mut out = vec![0u8; MAX_ENCODED_LEN + 16];
    let n = cobs::encode(&raw, &mut out);
    out.truncate(n);
    out.push(0);
    out
}

/// Splits a byte stream into frames: header and raw body.
pub fn split_frames(bytes: &[u8]) -> Vec<(Header, Vec<u8>)> {
    let mut acc = FrameAccumulator::new();
    let mut frames = Vec::new();
    for &b in bytes {
        if let Some(result) = acc.push(b) {
            let f = result.expect("the lock sends only intact frames");
            frames.push((f.header, f.body.to_vec()));
        }
    }
    frames
}

/// Feeds `bytes` to the link and returns the bytes it sent back.
pub fn send_raw(link: &mut Link, handler: &mut impl LockPort, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    link.receive(bytes, handler, &mut |f: &[u8]| out.extend_from_slice(f));
    out
}

/// Feeds `bytes` to the link and returns every frame it sent back, decoded as responses.
pub fn exchange(
    link: &mut Link,
    handler: &mut impl LockPort,
    bytes: &[u8],
) -> Vec<(Header, Response)> {
    split_frames(&send_raw(link, handler, bytes))
        .into_iter()
        .map(|(h, body)| (h, decode_body::<Response>(&body).expect("response decodes")))
        .collect()
}

/// Sends one plaintext request through a link and returns its single response.
pub fn ask(link: &mut Link, handler: &mut impl LockPort, seq: u16, request: &Request) -> Response {
    let mut got = exchange(link, handler, &request_frame(seq, request));
    assert_eq!(got.len(), 1, "exactly one response per request");
    let (header, response) = got.remove(0);
    assert_eq!(header, Header::new(Kind::Response, seq));
    response
}

/// The host's side of a claim or factory-reset exchange with `code`, over `ask` (plaintext).
/// Returns the lock's answer to `ClaimFinish`, or to `ClaimStart` if that was refused.
pub fn claim_exchange(
    ask: &mut dyn FnMut(&Request) -> Response,
    serial: &str,
    intent: ClaimIntent,
    code: &SetupCode,
    payload: &[u8],
) -> Response {
    // The lock's salt, as a host learns it: from `Hello`.
    let salt = match ask(&Request::Hello) {
        Response::Hello(info) => info.claim_salt,
        other => return other,
    };
    let verifier = if *code == setup_code() && salt == CLAIM_SALT {
        factory_claim().verifier
    } else {
        ClaimVerifier::derive(code, &salt)
    };
    let mut secret = [0u8; 32];
    fastrand::fill(&mut secret);
    let mut host_nonce = [0u8; 16];
    fastrand::fill(&mut host_nonce);
    let host_share = pake::share(&secret, verifier.generator(intent));
    let request = Request::ClaimStart { intent, host_nonce, host_share };
    let (lock_share, lock_proof) = match ask(&request) {
        Response::ClaimChallenge { lock_share, lock_proof } => (lock_share, lock_proof),
        other => return other,
    };
    let shared = pake::shared(&secret, &lock_share).expect("a point");
    let keys = ClaimKeys::derive(&shared, serial, intent, &host_nonce, &host_share, &lock_share);
    // A real host stops here when the proof is wrong (an impostor, or a mistyped code); the
    // tests carry on with a wrong code to see the lock refuse it.
    let _code_matches = crypto::proofs_match(&lock_proof, &keys.lock_proof());
    let mut ciphertext = heapless::Vec::<u8, 64>::from_slice(payload).unwrap();
    let tag = keys.seal(&mut ciphertext);
    ask(&Request::ClaimFinish { ciphertext, tag })
}

/// The claim payload for `keys`.
pub fn claim_payload(keys: &LockKeys) -> Vec<u8> {
    [keys.installer.0, keys.technician.0].concat()
}

/// A plaintext `ask` over an in-process link, numbering requests itself.
pub fn plain<'a, H: LockPort>(
    link: &'a mut Link,
    lock: &'a mut H,
) -> impl FnMut(&Request) -> Response + 'a {
    let mut seq = 0x7000u16;
    move |request| {
        seq = seq.wrapping_add(1);
        ask(link, lock, seq, request)
    }
}

/// Claims the lock with the right setup code and [`test_keys`].
pub fn claim(link: &mut Link, lock: &mut impl LockPort) -> Response {
    let payload = claim_payload(&test_keys());
    claim_exchange(&mut plain(link, lock), SERIAL, ClaimIntent::Claim, &setup_code(), &payload)
}

/// The host's end of a session.
pub struct HostSession {
    sealer: Sealer,
    opener: Opener,
    events: Opener,
    seq: u16,
}

impl HostSession {
    /// Runs the handshake for `role` with `key` over `ask`; the refusal if it fails.
    pub fn open(
        ask: &mut dyn FnMut(&Request) -> Response,
        serial: &str,
        role: Role,
        key: &SecretKey,
    ) -> Result<Self, Response> {
        let mut secret = [0u8; 32];
        fastrand::fill(&mut secret);
        let host_public = crypto::x25519_public(&secret);
        let (lock_public, lock_proof) = match ask(&Request::SessionStart { role, host_public }) {
            Response::SessionChallenge { lock_public, lock_proof } => (lock_public, lock_proof),
            other => return Err(other),
        };
        let shared = crypto::x25519_shared(&secret, &lock_public).expect("a usable key");
        let keys = SessionKeys::derive(key, role, serial, &host_public, &lock_public, &shared);
        let lock_knows_key = crypto::proofs_match(&lock_proof, &keys.lock_proof());
        match ask(&Request::SessionConfirm { host_proof: keys.host_proof() }) {
            Response::Status(Status::Success) => {
                assert!(lock_knows_key, "the lock proved it holds the key");
                let (sealer, opener) = keys.host_ends();
                Ok(Self { sealer, opener, events: keys.host_event_opener(), seq: 0 })
            }
            other => Err(other),
        }
    }

    /// The next sequence number.
    pub fn next_seq(&mut self) -> u16 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// `request` as a sealed request frame with `seq`, ready for the wire.
    pub fn seal<T: serde::Serialize>(&mut self, seq: u16, request: &T) -> Vec<u8> {
        let header = Header::new(Kind::SealedRequest, seq);
        let mut plain = [0u8; MAX_BODY_LEN];
        let plaintext = postcard::to_slice(request, &mut plain).unwrap();
        let mut body = [0u8; MAX_BODY_LEN];
        let (n, _) = self.sealer.seal(&header, plaintext, &mut body).unwrap();
        raw_frame(PROTOCOL_VERSION, Kind::SealedRequest as u8, seq, &body[..n])
    }

    /// Opens a sealed response frame; panics if it is not genuine.
    pub fn unseal(&mut self, header: &Header, body: &[u8]) -> Response {
        assert_eq!(header.kind, Kind::SealedResponse, "a sealed answer");
        let mut out = [0u8; MAX_BODY_LEN];
        let (plain, _) = self.opener.open(header, body, &mut out).expect("the answer opens");
        decode_body(plain).expect("the answer decodes")
    }

    /// Opens a sealed event frame; `None` if it is not genuine for this session.
    pub fn unseal_event(&mut self, header: &Header, body: &[u8]) -> Option<Event> {
        assert_eq!(header.kind, Kind::SealedEvent, "a sealed event");
        let mut out = [0u8; MAX_BODY_LEN];
        let (plain, _) = self.events.open(header, body, &mut out).ok()?;
        decode_body(plain).ok()
    }

    /// Sends `request` sealed over an in-process link; its single answer, opened. A plaintext
    /// answer (no session) is returned as it came.
    pub fn ask(
        &mut self,
        link: &mut Link,
        lock: &mut impl LockPort,
        request: &Request,
    ) -> Response {
        let seq = self.next_seq();
        let wire = self.seal(seq, request);
        let mut frames = split_frames(&send_raw(link, lock, &wire));
        assert_eq!(frames.len(), 1, "exactly one answer to {request:?}");
        let (header, body) = frames.remove(0);
        assert_eq!(header.seq, seq);
        match header.kind {
            Kind::Response => decode_body(&body).unwrap(),
            _ => self.unseal(&header, &body),
        }
    }
}

/// Opens a session for `role` with `key` over an in-process link.
pub fn session(
    link: &mut Link,
    lock: &mut impl LockPort,
    role: Role,
    key: &SecretKey,
) -> Result<HostSession, Response> {
    HostSession::open(&mut plain(link, lock), SERIAL, role, key)
}

/// Claims the lock if it is not yet, and opens an installer session: what every management
/// test starts with.
pub fn installer(link: &mut Link, lock: &mut impl LockPort) -> HostSession {
    if !lock.is_claimed() {
        assert_eq!(claim(link, lock), Response::Status(Status::Success));
    }
    session(link, lock, Role::Installer, &test_keys().installer).expect("installer session")
}

/// A random setting within its range (the power-cut tests change settings at random).
pub fn random_setting(rng: &mut fastrand::Rng) -> Setting {
    match rng.u8(0..5) {
        0 => {
            let len = rng.usize(1..=32);
            let text: String = (0..len).map(|_| rng.alphanumeric()).collect();
            Setting::DoorLabel(DoorLabel::try_from(text.as_str()).unwrap())
        }
        1 => Setting::AutoRelockSeconds(rng.u16(0..=3600)),
        2 => Setting::WrongCodeLimit(rng.u8(1..=255)),
        3 => Setting::LockoutSeconds(rng.u16(1..=3600)),
        _ => Setting::BeeperVolume(
            [BeeperVolume::Off, BeeperVolume::Low, BeeperVolume::Medium, BeeperVolume::High]
                [rng.usize(0..4)],
        ),
    }
}
