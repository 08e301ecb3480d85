//! What the fuzz targets share: a deterministic lock on the simulator's parts, the golden
//! vectors' messages, and a "lived-in" flash image (a claimed lock with users, credentials
//! and log records) for the targets that start from real data.
//!
//! Everything is deterministic (seeded RNG, fixed clock) so a crash input replays exactly.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::OnceLock;

use latchkey_firmware::hal::{Clock, Rng};
use latchkey_firmware::link::LinkStats;
use latchkey_firmware::{FactoryClaim, Identity, Lock, LockKeys, LockPort, Store, Via};
use latchkey_protocol::crypto::{CLAIM_SALT_LEN, ClaimVerifier, SecretKey, SetupCode};
use latchkey_protocol::{Ident, Kind, Request, ResetReason, Role};
use latchkey_sim::{SimBattery, SimDevices, SimFlash};

/// The lock every target boots: the simulator's flash, battery and devices, with a seeded
/// RNG and a clock the input moves.
pub type FuzzLock = Lock<SimFlash, FuzzClock, SimBattery, FuzzRng, SimDevices>;

/// The serial number the lock's keys are bound to.
pub const SERIAL: &str = "FUZZ-0001";

/// 2025-10-09, a clock reading well after the lock's earliest accepted time.
pub const START_TIME: u64 = 1_760_000_000;

/// SplitMix64: the lock's "random" bytes, the same on every run.
pub struct FuzzRng(u64);

impl FuzzRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl Rng for FuzzRng {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// A clock that stands still unless the input moves it (through the shared handle), so
/// session expiry, back-off and schedules are the input's to reach, and replays are exact.
pub struct FuzzClock {
    now: Option<u64>,
    uptime_ms: Rc<Cell<u64>>,
}

impl FuzzClock {
    /// A set clock at [`START_TIME`], and the handle that advances it.
    pub fn new() -> (Self, Rc<Cell<u64>>) {
        let uptime = Rc::new(Cell::new(0));
        (Self { now: Some(START_TIME), uptime_ms: uptime.clone() }, uptime)
    }
}

impl Clock for FuzzClock {
    fn now(&self) -> u64 {
        self.now.unwrap_or(0) + self.uptime_ms.get() / 1000
    }
    fn is_set(&self) -> bool {
        self.now.is_some()
    }
    fn set(&mut self, unix_seconds: u64) {
        // Stored relative to the uptime, so `now` keeps moving with it.
        self.now = Some(unix_seconds.saturating_sub(self.uptime_ms.get() / 1000));
    }
    fn uptime_ms(&self) -> u64 {
        self.uptime_ms.get()
    }
}

/// The factory claim of a fixed setup code (the slow KDF runs once per process).
fn factory_claim() -> FactoryClaim {
    static CLAIM: OnceLock<FactoryClaim> = OnceLock::new();
    CLAIM
        .get_or_init(|| {
            let salt = [0x5A; CLAIM_SALT_LEN];
            let code = SetupCode::parse("ABCD-EFGH-JK01").expect("a valid code");
            FactoryClaim { salt, verifier: ClaimVerifier::derive(&code, &salt) }
        })
        .clone()
}

/// The board's identity.
pub fn identity() -> Identity {
    Identity {
        model: Ident::try_from("LK-100 fuzz").expect("short"),
        serial: Ident::try_from(SERIAL).expect("short"),
        simulation: true,
        max_in_flight: 8,
        claim: Some(factory_claim()),
    }
}

/// The keys the lived-in lock was claimed with.
pub fn lock_keys() -> LockKeys {
    LockKeys { installer: SecretKey([0x11; 32]), technician: SecretKey([0x22; 32]) }
}

/// Mounts the store on `flash` and boots a lock, as a power-up does. `None` where the real
/// lock would not start either (the store cannot be mounted): that is an answer, not a crash.
pub fn boot(flash: SimFlash) -> Option<(FuzzLock, Rc<Cell<u64>>)> {
    let store = Store::mount(flash).ok()?;
    let (clock, handle) = FuzzClock::new();
    let lock = Lock::boot(
        store,
        clock,
        SimBattery::new(6000),
        FuzzRng::new(0x1A7C_4BE7),
        SimDevices::default(),
        identity(),
        ResetReason::PowerOn,
    )
    .ok()?;
    Some((lock, handle))
}

/// The golden vectors (`protocol/tests/golden_vectors.txt`): name and wire bytes.
pub fn golden_vectors() -> Vec<(&'static str, Vec<u8>)> {
    include_str!("../../protocol/tests/golden_vectors.txt")
        .lines()
        .filter_map(|line| {
            let (name, hex) = line.split_once(' ')?;
            let bytes = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .ok()?;
            Some((name, bytes))
        })
        .collect()
}

/// A golden wire frame's kind and postcard body (COBS undone, header and CRC stripped).
pub fn frame_body(wire: &[u8]) -> Option<(Kind, Vec<u8>)> {
    let mut acc = latchkey_protocol::FrameAccumulator::new();
    let mut found = None;
    for &b in wire {
        if let Some(Ok(frame)) = acc.push(b) {
            found = Some((frame.header.kind, frame.body.to_vec()));
        }
    }
    found
}

/// The golden vectors' requests, decoded.
pub fn golden_requests() -> Vec<Request> {
    golden_vectors()
        .iter()
        .filter_map(|(_, wire)| {
            let (kind, body) = frame_body(wire)?;
            (kind == Kind::Request).then(|| postcard::from_bytes(&body).ok()).flatten()
        })
        .collect()
}

/// The whole flash of a claimed lock that has lived a little: every golden request carried
/// out in an installer session (users, PINs, cards, phones, settings), door events, a reboot.
/// Built once per process, deterministically.
pub fn lived_in_flash() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let (mut lock, uptime) = boot(SimFlash::erased()).expect("an erased flash boots");
        assert_eq!(lock.install_keys(&lock_keys()), latchkey_protocol::Status::Success);
        let stats = LinkStats::default();
        let installer = Via::Session(Role::Installer);
        for request in golden_requests() {
            if !latchkey_firmware::policy::is_handshake(&request) {
                lock.handle(&request, installer, &stats);
            }
        }
        for digits in ["1234", "058213", "999999"] {
            lock.keypad_entry(digits);
            uptime.set(uptime.get() + 61_000);
        }
        lock.card_tapped(&[0xA1, 0xB2, 0xC3, 0x1D]);
        let (flash, _) = lock.power_off();
        // A second boot: a PowerUp record and a boot count on top.
        let (lock, _) = boot(flash).expect("the lived-in flash boots again");
        lock.power_off().0.bytes().to_vec()
    })
}
