//! The lock core: owns the store, the clock and the battery, and answers requests.
//!
//! Every rule is enforced here, so it holds whichever host sends the request: what each
//! kind of link may ask (the role table, [`crate::policy::authorize`], checked again before
//! any request is carried out), the settings' ranges, and the keys that make a lock claimed.
//! The handshakes and sealed frames that establish *how* a request arrived are the link's
//! (`link::session`). The lock is one type; its parts are child modules that see its private
//! state: [`access`] (decisions at the door, enrollment, alarms, the bolt) and `directory`
//! (requests on users and credentials).

pub mod access;
mod directory;

use core::ops::ControlFlow;

use latchkey_protocol::Field;
use latchkey_protocol::checksum;
use latchkey_protocol::crypto::{CLAIM_SALT_LEN, ClaimVerifier, MAX_SEALED_PLAINTEXT, SecretKey};
use latchkey_protocol::{
    AccessPaths, ActiveAlarm, Alarm, BURST_GAP_SECONDS, BatteryReport, BatteryState, Capabilities,
    ChangeKind, ClockReading, Diagnostics, Event, Ident, LOG_PAGE, LockInfo, LogBreak, LogClass,
    LogEntry, LogRecord, LogReport, MAX_FRAME_LEN, PROTOCOL_VERSION, Refusal, Repeat, Request,
    ResetReason, Response, Role, Setting, SettingError, Settings, Status, UserWrite,
};

use crate::battery;
use crate::factory::FactoryClaim;
use crate::hal::{Battery, Beep, Clock, Devices, FingerprintSensor, MotorRun, NorFlash, Rng};
use crate::link::{LinkStats, LockPort};
use crate::log::{ChainBreak, EventLog, VerifyReport};
use crate::policy::{Via, authorize};
use crate::store::{BatteryMemo, LockKeys, SafetyRecord, Store, StoreError};
use crate::users::{CREDENTIALS_PER_USER, MAX_USERS};
use access::AccessState;

/// The event log's sequence high-water mark is stored every this many records (see
/// `log.rs`): a log region found wiped at boot goes on from the mark plus this, so its
/// numbers never repeat. One settings write per 64 records.
pub const LOG_MARK_EVERY: u32 = 64;

// The largest `Log` page must fit a sealed frame: variant, length, LOG_PAGE records of the
// largest encoding, and two seqs (5-byte varints). A test encodes the worst case too.
const _: () = assert!(
    1 + 1 + LOG_PAGE * crate::log::MAX_RECORD_LEN + 5 + 5 <= MAX_SEALED_PLAINTEXT,
    "a page of log records must fit a sealed frame"
);

/// 2020-01-01T00:00:00Z: an earlier time is a clock that was never set, refused (the
/// protocol's constant, so a host knows it too).
pub use latchkey_protocol::EARLIEST_TIME;

/// What this lock is; fixed per board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Model name, e.g. "LK-100".
    pub model: Ident,
    /// Serial number.
    pub serial: Ident,
    /// Whether this is a simulation.
    pub simulation: bool,
    /// Requests the board's receive path buffers before the first is answered.
    pub max_in_flight: u8,
    /// What the lock keeps of the setup code printed inside it (its factory page): the salt
    /// and verifier of the claim PAKE, never the code. A factory reset never changes it.
    /// `None` for a lock that was never provisioned: it works, but cannot be claimed (its
    /// `Hello` says so with an all-zero salt).
    pub claim: Option<FactoryClaim>,
}

/// The capacities this firmware is built for (the store layout sizes its regions for them).
pub const fn capabilities(max_in_flight: u8) -> Capabilities {
    Capabilities {
        max_users: MAX_USERS,
        credentials_per_user: CREDENTIALS_PER_USER as u8,
        pin_length_min: 4,
        pin_length_max: 10,
        log_capacity: crate::log::CAPACITY,
        access_paths: AccessPaths {
            keypad: true,
            rfid: true,
            fingerprint: true,
            phone: true,
            mechanical_key: true,
        },
        max_in_flight,
        max_frame_len: MAX_FRAME_LEN as u16,
        card_uid_lengths: crate::users::CARD_UID_LENGTHS,
        signs_log_head: cfg!(feature = "device-key"),
    }
}

/// The lock core.
pub struct Lock<F: NorFlash, C: Clock, B: Battery, R: Rng, D: Devices> {
    store: Store<F>,
    clock: C,
    battery: B,
    rng: R,
    devices: D,
    /// Whether the board has a fingerprint sensor (one with template slots).
    has_sensor: bool,
    identity: Identity,
    /// Copy of what is in flash, so reads cost no flash scan.
    settings: Settings,
    /// Copy of the stored keys; `None` while unclaimed.
    keys: Option<LockKeys>,
    /// Copy of the stored PIN key; `None` while unclaimed.
    pin_key: Option<SecretKey>,
    boot_count: u32,
    store_writes: u32,
    /// What lives in RAM only: the last access, the alarms, the enrollment, the keypad
    /// lockout, the bolt, the events not yet sent.
    access: AccessState,
    /// The event log; `None` if its region could not be mounted (corrupted): the lock keeps
    /// working without it, and diagnostics say so (`log_capacity` 0).
    log: Option<EventLog>,
    /// The reserved area keeping copies of the security records; `None` if it could not be
    /// mounted.
    reserve: Option<EventLog>,
    /// The burst of identical refusals going on, if any ([`LogEntry::Repeated`]).
    burst: Option<Burst>,
    /// When the reserved area last took a record of each kind it paces ([`Self::reserve_takes`]).
    /// Uptime seconds plus one, 0 for never (small: the lock lives on the MCU's stack).
    reserve_paced: [u32; 5],
    /// `SetPin`s refused as `Duplicate` in the minute from the uptime given.
    duplicate_pins: Option<(u32, u8)>,
    /// The sequence high-water mark last stored.
    log_mark: u32,
    /// Log writes that failed since boot (and 1 for a log that could not be mounted).
    log_failures: u32,
    reset_reason: ResetReason,
    /// The battery's state with hysteresis.
    battery_monitor: battery::Monitor,
    /// When fresh batteries were last detected.
    replaced_at: Option<u64>,
    /// Lowest voltage under load since the last battery report.
    loaded_min: Option<u16>,
    /// The last loaded figure reported (or the rest voltage before any motor run).
    last_loaded: u16,
    /// The motor's charge per run, µAh, from the last good run.
    motor_uah: u32,
    motor_runs: u32,
    motor_last: MotorRun,
    /// The role of an open session not yet in the log: a session is logged once it changes
    /// something (or something happens at the door), so read-only visits do not flood the log.
    unlogged_session: Option<Role>,
    /// Whether the open session's start is in the log (so its end goes there too).
    session_logged: bool,
    /// Uptime when a session that changed nothing was last logged.
    quiet_session_logged_ms: Option<u64>,
}

/// A burst of identical refusals: the first is in the log, the rest are counted here until
/// the burst ends ([`LogEntry::Repeated`]). A power cut loses only the count.
/// Times in `u32` seconds: the lock lives on the MCU's stack, which has no bytes to spare.
#[derive(Debug, Clone, Copy)]
struct Burst {
    of: Repeat,
    /// Attempts after the first.
    count: u16,
    /// The first attempt's time (the lock's clock, Unix seconds; 0 if unset).
    first_at: u32,
    /// The last attempt's time, and uptime in seconds.
    last_at: u32,
    last_s: u32,
}

/// Unix seconds as kept in RAM (they fit a `u32` until 2106).
fn secs32(at: u64) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

/// Of the security records anyone can cause again and again, the reserved area takes one per
/// kind per this long (an hour).
pub const RESERVE_FLOODABLE_EVERY_MS: u64 = 3_600_000;

/// `SetPin`s refused as `Duplicate` a minute may bring; past them, `Busy` until it is over.
pub const DUPLICATE_PINS_PER_MINUTE: u8 = 3;

impl<F: NorFlash, C: Clock, B: Battery, R: Rng, D: Devices> Lock<F, C, B, R, D> {
    /// Boots the core: counts the boot in flash, loads the settings and keys, mounts the
    /// event log and records the power-up in it (`reset_reason`: why the board started).
    /// `devices` are what the core drives (the bolt motor) and asks (the fingerprint sensor).
    ///
    /// An event log that cannot be mounted does not stop the lock: it runs without one.
    pub fn boot(
        store: Store<F>,
        clock: C,
        battery: B,
        rng: R,
        devices: D,
        identity: Identity,
        reset_reason: ResetReason,
    ) -> Result<Self, StoreError> {
        let mut store = store;
        // Read here, in a small frame, and handed over: reading it inside `assemble` would
        // stack the store's frames on that large one, and the MCU's stack has no room for both.
        let safety = read_safety(&mut store)?;
        Self::assemble(store, clock, battery, rng, devices, identity, reset_reason, safety)
    }

    #[inline(never)]
    #[allow(clippy::too_many_arguments)] // `boot`'s, plus what it read first
    fn assemble(
        mut store: Store<F>,
        clock: C,
        mut battery: B,
        mut rng: R,
        mut devices: D,
        identity: Identity,
        reset_reason: ResetReason,
        safety: Option<SafetyRecord>,
    ) -> Result<Self, StoreError> {
        let has_sensor = devices.fingerprint().slots() > 0;
        let boot_count = store.increment_boot_count()?;
        let mut store_writes = 1;
        let settings = store.settings()?;
        let keys = store.keys()?;
        let mut pin_key = store.pin_key()?;
        if let (Some(keys), None) = (&keys, &pin_key) {
            // Claimed by a firmware that kept no PIN key: derive it as a claim does.
            let key = checksum::pin_key(&keys.installer);
            store.save_pin_key(&key)?;
            store_writes += 1;
            pin_key = Some(key);
        }
        // The log key is factory data: made once, by this lock's RNG, and never erased.
        let mut log_key = match store.log_key()? {
            Some(key) => key,
            None => {
                let mut key = [0u8; 32];
                rng.fill_bytes(&mut key);
                store.save_log_key(&key)?;
                store_writes += 1;
                key
            }
        };
        let mut log_failures = 0;
        let mut log_mark = store.log_seq_mark()?;
        let log = match EventLog::mount(store.flash_mut(), log_key) {
            Ok(mut log) => {
                // Only an empty log may have been wiped; raising a non-empty one's floor
                // would open a gap that looks like lost records (log.rs).
                if log.is_empty() && log_mark > 0 {
                    log.bump_floor(log_mark.saturating_add(LOG_MARK_EVERY));
                    // Stored at once, so a second wipe goes on from here too.
                    if store.save_log_seq_mark(log.next_seq()).is_ok() {
                        store_writes += 1;
                        log_mark = log.next_seq();
                    }
                }
                Some(log)
            }
            Err(_) => {
                log_failures += 1;
                None
            }
        };
        let reserve = match EventLog::mount_reserve(store.flash_mut(), log_key) {
            Ok(reserve) => Some(reserve),
            Err(_) => {
                log_failures += 1;
                None
            }
        };
        zeroize::Zeroize::zeroize(&mut log_key);
        let memo = store.battery_memo()?.unwrap_or_default();
        let battery_monitor =
            battery::Monitor::new(battery::state_from_code(memo.state), memo.millivolts);
        let rest = battery.millivolts();
        let mut access = AccessState::new();
        // The door's safety state from before a power cut: wrong codes, a lockout (run again
        // in full), the alarms still raised.
        if let Some(safety) = safety {
            let lockout_ms = u64::from(settings.lockout_seconds) * 1000;
            access.restore(&safety, clock.uptime_ms(), lockout_ms);
        }
        // A battery found low before the cut is still low: listed, not raised again.
        let standing = match battery_monitor.state {
            BatteryState::Ok => None,
            BatteryState::Low => Some(Alarm::LowBattery),
            BatteryState::Critical => Some(Alarm::CriticalBattery),
        };
        if let Some(alarm) = standing
            && !access.alarms.iter().any(|a| a.alarm == alarm)
        {
            let since = clock.recorded_now();
            let _ = access.alarms.push(ActiveAlarm { alarm, since, seconds_left: 0 });
        }
        let mut lock = Self {
            store,
            clock,
            battery,
            rng,
            devices,
            has_sensor,
            identity,
            settings,
            keys,
            pin_key,
            boot_count,
            store_writes,
            access,
            log,
            reserve,
            burst: None,
            duplicate_pins: None,
            reserve_paced: [0; 5],
            log_mark,
            log_failures,
            reset_reason,
            battery_monitor,
            replaced_at: memo.replaced_at,
            loaded_min: None,
            last_loaded: rest,
            motor_uah: battery::DEFAULT_MOTOR_UAH,
            motor_runs: 0,
            motor_last: MotorRun::default(),
            unlogged_session: None,
            session_logged: false,
            quiet_session_logged_ms: None,
        };
        lock.log(LogEntry::PowerUp { boot_count, reason: reset_reason });
        Ok(lock)
    }

    /// Appends `entry` to the event log at the lock's time and sends it as an event; returns
    /// its seq. A failure is counted, never passed on: no log write may block a decision.
    fn log(&mut self, entry: LogEntry) -> Option<u32> {
        let at = self.clock.recorded_now();
        let now_s = self.uptime_s();
        // A refusal like the one before, soon after it: counted, not written.
        let repeat = Repeat::of(&entry);
        if let (Some(of), Some(burst)) = (repeat, self.burst.as_mut())
            && burst.of == of
            && now_s.saturating_sub(burst.last_s) <= BURST_GAP_SECONDS
            && burst.count < u16::MAX
        {
            burst.count += 1;
            burst.last_at = secs32(at);
            burst.last_s = now_s;
            return None;
        }
        // Sessions come and go around a burst made over the cable (one per CLI run): they
        // do not end it.
        if matches!(entry, LogEntry::Session { .. }) {
            return self.append(entry, at);
        }
        self.end_burst();
        if let Some(of) = repeat {
            let (first_at, last_s) = (secs32(at), now_s);
            self.burst = Some(Burst { of, count: 0, first_at, last_at: first_at, last_s });
        }
        self.append(entry, at)
    }

    /// Ends the burst going on, if any: its count goes in the log, at its last attempt's time.
    #[inline(never)]
    fn end_burst(&mut self) {
        if let Some(burst) = self.burst.take()
            && burst.count > 0
        {
            let first = u64::from(burst.first_at);
            let entry = LogEntry::Repeated { of: burst.of, count: burst.count, first };
            self.append(entry, u64::from(burst.last_at));
        }
    }

    /// Writes `entry` at `at` (a copy too, in the reserved area, for a security record).
    #[inline(never)]
    fn append(&mut self, entry: LogEntry, at: u64) -> Option<u32> {
        // Whatever happens during a session goes in the log after the session's start.
        if !matches!(entry, LogEntry::Session { .. })
            && let Some(role) = self.unlogged_session.take()
        {
            self.session_logged = true;
            self.append(LogEntry::Session { role, opened: true }, at);
        }
        let log = self.log.as_mut()?;
        let held_routine = log.len() - log.security_len();
        let seq = match log.append(self.store.flash_mut(), at, entry) {
            Ok(seq) => seq,
            Err(_) => {
                self.log_failures = self.log_failures.saturating_add(1);
                return None;
            }
        };
        let next = log.next_seq();
        // What a full log dropped for room: the routine records held before, plus this one if
        // routine, less those held now.
        let added = u32::from(entry.class() == LogClass::Routine);
        let routine = (held_routine + added).saturating_sub(log.len() - log.security_len());
        let record = LogRecord { seq, at, entry };
        let mut security = 0;
        if entry.class() == LogClass::Security
            && self.reserve_takes(&entry)
            && let Some(reserve) = self.reserve.as_mut()
        {
            let held = reserve.len();
            match reserve.keep_copy(self.store.flash_mut(), &record) {
                Ok(()) => security = (held + 1).saturating_sub(reserve.len()),
                Err(_) => self.log_failures = self.log_failures.saturating_add(1),
            }
        }
        if routine > 0 || security > 0 {
            self.count_evicted(routine, security);
        }
        self.access.push_event(Event::Logged(record));
        if next >= self.log_mark.saturating_add(LOG_MARK_EVERY) {
            match self.store.save_log_seq_mark(next) {
                Ok(()) => {
                    self.log_mark = next;
                    self.note_store_write();
                }
                Err(_) => self.log_failures = self.log_failures.saturating_add(1),
            }
        }
        Some(seq)
    }

    /// Adds to the totals of records dropped for room, and stores them (a full log drops a
    /// page at a time: about one write per 31 records).
    #[inline(never)]
    fn count_evicted(&mut self, routine: u32, security: u32) {
        // Read back rather than kept in RAM: the lock lives on the MCU's stack.
        let (total_routine, total_security) = self.store.log_evicted().unwrap_or((0, 0));
        let (routine, security) =
            (total_routine.saturating_add(routine), total_security.saturating_add(security));
        match self.store.save_log_evicted(routine, security) {
            Ok(()) => self.note_store_write(),
            Err(_) => self.log_failures = self.log_failures.saturating_add(1),
        }
    }

    /// `SetPin`, with its `Duplicate` answers watched: each is a security record (someone may
    /// be probing for other users' PINs), and after [`DUPLICATE_PINS_PER_MINUTE`] of them in a
    /// minute every `SetPin` is `Busy` until the minute is over, so probing the PIN space
    /// takes days, not minutes, while an installer who picks a taken PIN barely notices.
    #[inline(never)]
    fn set_pin_watched(
        &mut self,
        id: u16,
        pin: &latchkey_protocol::Pin,
        role: Role,
    ) -> directory::Outcome {
        let now = self.uptime_s();
        let (since, count) = match self.duplicate_pins {
            Some((since, count)) if now.saturating_sub(since) < 60 => (since, count),
            _ => (now, 0),
        };
        if count >= DUPLICATE_PINS_PER_MINUTE {
            return Err(Refusal::new(Status::Busy));
        }
        let outcome = self.set_pin(id, pin);
        if let Err(refusal) = &outcome
            && refusal.status == Status::Duplicate
        {
            self.duplicate_pins = Some((since, count + 1));
            self.log(LogEntry::DuplicatePin { role, user: Some(id) });
        }
        outcome
    }

    /// Whether the reserved area takes a copy of security record `entry`. Every one, except
    /// that of the kinds anyone at the door or on the cable can cause again and again (the
    /// wrong-code, tamper and forced-door alarms, failed authentications, duplicate PINs) it
    /// takes one per kind per [`RESERVE_FLOODABLE_EVERY_MS`]: else a keypad, a tamper switch
    /// or a cable could push the claim and the duress records out of it. (The log itself
    /// has every record. The pace is kept in RAM: each power cut, itself logged, restarts it.)
    #[inline(never)]
    fn reserve_takes(&mut self, entry: &LogEntry) -> bool {
        let kind = match *entry {
            LogEntry::Alarm { alarm: Alarm::WrongCodeLimit, .. } => 0,
            LogEntry::Alarm { alarm: Alarm::Tamper, .. } => 1,
            LogEntry::Alarm { alarm: Alarm::ForcedOpen, .. } => 2,
            LogEntry::AuthFailed { .. } => 3,
            LogEntry::Repeated { of: Repeat::AuthFailed { .. }, .. } => 3,
            LogEntry::DuplicatePin { .. } => 4,
            LogEntry::Repeated { of: Repeat::DuplicatePin { .. }, .. } => 4,
            _ => return true,
        };
        let now = self.uptime_s().saturating_add(1);
        let last = &mut self.reserve_paced[kind];
        if *last != 0 && u64::from(now.saturating_sub(*last)) * 1000 < RESERVE_FLOODABLE_EVERY_MS {
            return false;
        }
        *last = now;
        true
    }

    /// Ends a burst of refusals once none came for the burst gap.
    pub(crate) fn end_quiet_burst(&mut self) {
        let now = self.uptime_s();
        if self.burst.is_some_and(|b| now.saturating_sub(b.last_s) > BURST_GAP_SECONDS) {
            self.end_burst();
        }
    }

    /// Seconds since boot, as a `u32` (136 years).
    fn uptime_s(&self) -> u32 {
        u32::try_from(self.clock.uptime_ms() / 1000).unwrap_or(u32::MAX)
    }

    /// What this lock can hold and do: the firmware's [`capabilities`], less the paths its
    /// board lacks (a fingerprint sensor with no slots is no sensor).
    pub fn capabilities(&self) -> Capabilities {
        let mut caps = capabilities(self.identity.max_in_flight);
        caps.access_paths.fingerprint = self.has_sensor;
        caps
    }

    /// The event log, if mounted.
    pub fn event_log(&self) -> Option<&EventLog> {
        self.log.as_ref()
    }

    /// Log writes that failed since boot (1 more if the log could not be mounted at all).
    pub fn log_failures(&self) -> u32 {
        self.log_failures
    }

    /// Why the lock last started.
    pub fn reset_reason(&self) -> ResetReason {
        self.reset_reason
    }

    #[inline(never)]
    fn read_log(&mut self, from_seq: u32) -> Response {
        // A reader sees every attempt, the burst going on included.
        self.end_burst();
        let Some(log) = self.log.as_mut() else {
            return Response::Status(Status::Failure);
        };
        let mut records = heapless::Vec::<LogRecord, LOG_PAGE>::new();
        // First the security records kept after the log dropped them (all older than its
        // oldest record), then the log: one sequence, in order.
        let first = log.first_seq();
        if from_seq < first
            && let Some(reserve) = self.reserve.as_mut()
        {
            let kept = reserve.for_each(self.store.flash_mut(), from_seq, |record| {
                if record.seq >= first {
                    return ControlFlow::Break(());
                }
                let _ = records.push(*record);
                if records.is_full() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            });
            if kept.is_err() {
                return Response::Status(Status::Failure);
            }
        }
        let result = if records.is_full() {
            Ok(())
        } else {
            log.for_each(self.store.flash_mut(), from_seq, |record| {
                // Room is checked first: the closure breaks once the page is full.
                let _ = records.push(*record);
                if records.is_full() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            })
        };
        match result {
            Ok(()) => {
                Response::Log { records, first_seq: log.first_seq(), next_seq: log.next_seq() }
            }
            Err(_) => Response::Status(Status::Failure),
        }
    }

    #[inline(never)]
    fn verify_log(&mut self) -> Response {
        self.end_burst();
        let Some(log) = self.log.as_mut() else {
            return Response::Status(Status::Failure);
        };
        let report = match log.verify(self.store.flash_mut()) {
            Ok(report) => report,
            Err(_) => return Response::Status(Status::Failure),
        };
        let (first_seq, next_seq) = (log.first_seq(), log.next_seq());
        // A reserved area that cannot be read is reported broken, not skipped.
        let reserved = match self.reserve.as_mut().map(|r| r.verify(self.store.flash_mut())) {
            Some(Ok(reserved)) => reserved,
            _ => VerifyReport {
                first_break: Some(ChainBreak::Undecodable { after: 0 }),
                ..VerifyReport::default()
            },
        };
        let evicted = self.store.log_evicted().unwrap_or((0, 0));
        Response::LogReport(LogReport {
            records: report.records,
            first_seq: report.first_seq.unwrap_or(first_seq),
            last_seq: report.last_seq.unwrap_or(next_seq.saturating_sub(1)),
            anchored: report.anchored,
            broken: report.first_break.map(log_break),
            reserved: reserved.records,
            reserved_broken: reserved.first_break.map(log_break),
            evicted_routine: evicted.0,
            evicted_security: evicted.1,
        })
    }

    #[cfg(feature = "device-key")]
    /// The lock's device key: an Ed25519 key derived from the event log's key (made by the
    /// lock's RNG at its first boot, never leaving it, kept through a factory reset), so every
    /// lock has one from its first boot and it needs no flash of its own.
    fn device_key(&mut self) -> Option<ed25519_dalek::SigningKey> {
        use hmac::{Hmac, KeyInit, Mac};
        use sha2::Sha256;
        let mut log_key = self.store.log_key().ok().flatten()?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&log_key).ok()?;
        zeroize::Zeroize::zeroize(&mut log_key);
        mac.update(b"latchkey device key v1");
        let mut seed: [u8; 32] = mac.finalize().into_bytes().into();
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        zeroize::Zeroize::zeroize(&mut seed);
        Some(key)
    }

    #[cfg(feature = "device-key")]
    #[inline(never)]
    fn device_key_public(&mut self) -> Response {
        match self.device_key() {
            Some(key) => Response::DeviceKey(key.verifying_key().to_bytes()),
            None => Response::Status(Status::Failure),
        }
    }

    /// `head` signed with the device key over `nonce`.
    #[cfg(feature = "device-key")]
    fn signed(
        &mut self,
        mut head: latchkey_protocol::LogHead,
        nonce: &[u8; 32],
    ) -> Option<latchkey_protocol::LogHead> {
        use ed25519_dalek::Signer;
        let key = self.device_key()?;
        let signature = key.sign(&head.signed_bytes(&self.identity.serial, nonce)).to_bytes();
        let mut halves = [[0; 32]; 2];
        halves[0].copy_from_slice(&signature[..32]);
        halves[1].copy_from_slice(&signature[32..]);
        head.signature = Some(halves);
        Some(head)
    }

    #[inline(never)]
    fn log_head(&mut self, seen: u32, nonce: &[u8; 32]) -> Response {
        use latchkey_protocol::LogHead;
        self.end_burst();
        let Some(log) = self.log.as_mut() else {
            return Response::Status(Status::Failure);
        };
        let seen_tag = match log.tag_of(self.store.flash_mut(), seen) {
            Ok(tag) => tag,
            Err(_) => return Response::Status(Status::Failure),
        };
        let head = LogHead {
            seq: if log.is_empty() { 0 } else { log.next_seq().saturating_sub(1) },
            tag: log.last_tag(),
            seen,
            seen_tag,
            signature: None,
        };
        #[cfg(feature = "device-key")]
        let Some(head) = self.signed(head, nonce) else {
            return Response::Status(Status::Failure);
        };
        #[cfg(not(feature = "device-key"))]
        let _ = nonce;
        Response::LogHead(head)
    }

    #[inline(never)]
    fn clear_log(&mut self, role: Role) -> Status {
        let at = self.clock.recorded_now();
        let Some(log) = self.log.as_mut() else {
            return Status::Failure;
        };
        let seq = log.next_seq();
        match log.clear(self.store.flash_mut(), at) {
            Ok(removed) => {
                let record = LogRecord { seq, at, entry: LogEntry::Cleared { removed } };
                if let Some(reserve) = self.reserve.as_mut()
                    && reserve.keep_copy(self.store.flash_mut(), &record).is_err()
                {
                    self.log_failures = self.log_failures.saturating_add(1);
                }
                self.access.push_event(Event::Logged(record));
                // Who cleared it, right after: the Cleared record itself predates roles.
                self.log(LogEntry::Change { what: ChangeKind::LogCleared, role, user: None });
                Status::Success
            }
            Err(_) => {
                self.log_failures = self.log_failures.saturating_add(1);
                Status::Failure
            }
        }
    }

    #[inline(never)]
    fn clear_alarms(&mut self, role: Role) -> Status {
        let alarms = core::mem::take(&mut self.access.alarms);
        for active in &alarms {
            self.log(LogEntry::Alarm { alarm: active.alarm, raised: false });
        }
        // Clearing the wrong-code alarm at the door is meant to give the keypad back.
        self.end_lockout();
        self.log(LogEntry::Change { what: ChangeKind::AlarmsCleared, role, user: None });
        Status::Success
    }

    /// Reads the battery at rest and acts on what changed: raises or clears its alarms and
    /// logs the crossing (once per crossing: the state has hysteresis) or the replacement.
    fn check_battery(&mut self) -> u16 {
        let mv = self.battery.millivolts();
        let Some(change) = self.battery_monitor.observe(mv) else {
            return mv;
        };
        let (state, replaced) = match change {
            battery::Change::Replaced { .. } => {
                self.replaced_at = Some(self.clock.recorded_now());
                // The old battery's figure under load says nothing about the new one.
                self.loaded_min = None;
                self.last_loaded = mv;
                (BatteryState::Ok, true)
            }
            battery::Change::State { to, .. } => (to, false),
        };
        self.log(LogEntry::Battery { millivolts: mv, state, replaced });
        match state {
            BatteryState::Ok => {
                self.clear_alarm(Alarm::LowBattery);
                self.clear_alarm(Alarm::CriticalBattery);
            }
            BatteryState::Low => {
                self.clear_alarm(Alarm::CriticalBattery);
                self.raise_alarm(Alarm::LowBattery);
                self.beep(Beep::LowBattery);
            }
            BatteryState::Critical => {
                self.clear_alarm(Alarm::LowBattery);
                self.raise_alarm(Alarm::CriticalBattery);
                self.beep(Beep::CriticalBattery);
            }
        }
        let memo = BatteryMemo {
            state: battery::state_code(state),
            millivolts: mv,
            replaced_at: self.replaced_at,
        };
        // Without it a replacement across a power cut goes unnoticed; nothing else is lost.
        if self.store.save_battery_memo(&memo).is_ok() {
            self.note_store_write();
        }
        mv
    }

    /// A motor run ended: counts it and samples the battery under its load.
    fn motor_ran(&mut self, run: MotorRun, moved: bool) {
        self.motor_runs = self.motor_runs.saturating_add(1);
        self.motor_last = run;
        let loaded = self.battery.loaded_millivolts(run.peak_ma);
        self.loaded_min = Some(self.loaded_min.map_or(loaded, |min| min.min(loaded)));
        if moved && run.ms > 0 {
            self.motor_uah = battery::run_uah(run.ms, run.peak_ma);
        }
    }

    #[inline(never)]
    fn battery_report(&mut self) -> BatteryReport {
        let mv = self.check_battery();
        if let Some(min) = self.loaded_min.take() {
            self.last_loaded = min;
        }
        BatteryReport {
            millivolts: mv,
            percent: battery::percent(mv),
            state: self.battery_monitor.state,
            // A load never raises a battery's voltage: a reading above rest is stale.
            loaded_millivolts: self.last_loaded.min(mv),
            operations_left: battery::operations_left(mv, self.motor_uah),
            replaced_at: self.replaced_at,
        }
    }

    #[inline(never)]
    fn diagnostics(&mut self, link: &LinkStats) -> Diagnostics {
        let mut users = 0u16;
        // A store that cannot be read shows no users rather than no diagnostics.
        let _ = self.store.for_each_user(|_, _| users = users.saturating_add(1));
        let (log_records, log_capacity) =
            self.log.as_ref().map_or((0, 0), |log| (log.len(), log.capacity()));
        Diagnostics {
            uptime_ms: self.clock.uptime_ms(),
            boot_count: self.boot_count,
            frames_received: link.frames_received,
            frames_sent: link.frames_sent,
            dropped_too_long: link.dropped_too_long,
            dropped_malformed: link.dropped_malformed,
            dropped_bad_crc: link.dropped_bad_crc,
            dropped_undecodable: link.dropped_undecodable,
            wrong_version: link.wrong_version,
            store_writes: self.store_writes,
            sealed_rejected: link.sealed_rejected,
            auth_failures: link.auth_failures,
            reset_reason: self.reset_reason,
            log_records,
            log_capacity,
            users,
            bolt_locked: self.access.bolt_locked,
            door_open: self.access.door_open,
            motor_runs: self.motor_runs,
            motor_last_ms: self.motor_last.ms,
            motor_last_ma: self.motor_last.peak_ma,
        }
    }

    /// The board's devices (the simulator reaches its sensor through this).
    pub fn devices(&mut self) -> &mut D {
        &mut self.devices
    }

    /// Powers the core off: gives the flash and the devices back as they are (a simulated
    /// power cut boots a new core on them). Everything in RAM is lost, as on a real cut.
    pub fn power_off(self) -> (F, D) {
        (self.store.into_flash(), self.devices)
    }

    /// The lock's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// What this lock is (the simulator boots a new core with it after a power cut).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The lock's serial number.
    pub fn serial_number(&self) -> &str {
        &self.identity.serial
    }

    fn note_store_write(&mut self) {
        self.store_writes = self.store_writes.saturating_add(1);
    }

    /// Whether the lock holds keys.
    pub fn is_claimed(&self) -> bool {
        self.keys.is_some()
    }

    /// The boot counter, including this boot.
    pub fn boot_count(&self) -> u32 {
        self.boot_count
    }

    /// The current settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    #[inline(never)]
    fn info(&self) -> LockInfo {
        let mut firmware_version = Ident::new();
        // The crate version is short ("0.1.0"); a longer one is cut rather than refused.
        for c in env!("CARGO_PKG_VERSION").chars() {
            if firmware_version.push(c).is_err() {
                break;
            }
        }
        LockInfo {
            model: self.identity.model.clone(),
            serial: self.identity.serial.clone(),
            firmware_version,
            protocol_version: PROTOCOL_VERSION,
            simulation: self.identity.simulation,
            claimed: self.is_claimed(),
            capabilities: self.capabilities(),
            claim_salt: self.identity.claim.as_ref().map_or([0; CLAIM_SALT_LEN], |c| c.salt),
        }
    }

    #[inline(never)]
    fn time(&self) -> ClockReading {
        ClockReading {
            unix_seconds: self.clock.now(),
            is_set: self.clock.is_set(),
            uptime_ms: self.clock.uptime_ms(),
        }
    }

    #[inline(never)]
    fn set_setting(&mut self, setting: &Setting) -> Response {
        let Ok(new) = apply(&self.settings, setting) else {
            return Response::Refused(Refusal::invalid(Field::Setting(setting.key())));
        };
        // Setting a value to what it already is needs no flash write: it is already durable.
        if new != self.settings {
            if self.store.save_settings(&new).is_err() {
                return Response::Status(Status::Failure);
            }
            self.store_writes = self.store_writes.saturating_add(1);
            self.settings = new;
        }
        Response::Settings(self.settings.clone())
    }

    fn save_keys(&mut self, keys: &LockKeys) -> Status {
        if self.store.save_keys(keys).is_err() {
            return Status::Failure;
        }
        self.store_writes = self.store_writes.saturating_add(1);
        self.keys = Some(keys.clone());
        Status::Success
    }

    #[inline(never)]
    fn rotate_keys(&mut self, installer: &[u8; 32], technician: &[u8; 32]) -> Status {
        if self.keys.is_none() {
            return Status::NotAuthorized;
        }
        let new = LockKeys { installer: SecretKey(*installer), technician: SecretKey(*technician) };
        // The same keys again (a resend after a lost answer) are already durable.
        if self.keys.as_ref() == Some(&new) {
            return Status::Success;
        }
        self.save_keys(&new)
    }
}

impl<F: NorFlash, C: Clock, B: Battery, R: Rng, D: Devices> LockPort for Lock<F, C, B, R, D> {
    fn handle(&mut self, request: &Request, via: Via, link: &LinkStats) -> Response {
        if let Err(status) = authorize(via, self.is_claimed(), request) {
            return Response::Status(status);
        }
        // A change is logged when it reached flash: a resend that finds it already there
        // writes nothing and logs nothing.
        let writes = self.store_writes;
        let mut response = self.answer(request, via, link);
        // The core refuses with the detail it has; a bare status is a refusal too. (Changed
        // in place: a second `Response` would cost the micro:bit's stack its size again.)
        if let Response::Status(status) = response
            && status != Status::Success
        {
            response = Response::Refused(Refusal::new(status));
        }
        let done = matches!(
            response,
            Response::Status(Status::Success) | Response::User(_) | Response::Settings(_)
        );
        if let (true, true, Via::Session(role), Some((what, user))) =
            (done, self.store_writes != writes, via, change_kind(request))
        {
            // A user added with id 0 has the number the lock gave them.
            let user = match &response {
                Response::User(added) => Some(added.id),
                _ => user,
            };
            self.log(LogEntry::Change { what, role, user });
        }
        response
    }

    fn is_claimed(&self) -> bool {
        self.keys.is_some()
    }

    fn uptime_ms(&self) -> u64 {
        self.clock.uptime_ms()
    }

    fn fill_random(&mut self, buf: &mut [u8]) {
        self.rng.fill_bytes(buf);
    }

    fn serial(&self) -> &str {
        &self.identity.serial
    }

    fn claim_verifier(&self) -> Option<&ClaimVerifier> {
        self.identity.claim.as_ref().map(|claim| &claim.verifier)
    }

    // Never inlined, like every store access on the link's path: a store call's frame would
    // otherwise stay on the stack under the claim's X25519 work.
    #[inline(never)]
    fn recorded_auth_failures(&mut self) -> u32 {
        // A record that cannot be read counts as one failure: a fault is no reason to lift a
        // back-off.
        self.store.auth_failures().unwrap_or(1)
    }

    #[inline(never)]
    fn record_auth_failures(&mut self, failures: u32) {
        let _ = self.store.save_auth_failures(failures);
    }

    fn lock_key(&self, role: Role) -> Option<&SecretKey> {
        self.keys.as_ref().map(|keys| match role {
            Role::Installer => &keys.installer,
            Role::Technician => &keys.technician,
        })
    }

    fn install_keys(&mut self, keys: &LockKeys) -> Status {
        // Claiming is for a factory-new lock; a claimed one must be reset first.
        if self.keys.is_some() {
            return Status::Occupied;
        }
        // The PIN key first: a cut after it leaves an unclaimed lock whose next claim
        // replaces it; the keys are the commit point.
        let pin_key = checksum::pin_key(&keys.installer);
        if self.store.save_pin_key(&pin_key).is_err() {
            return Status::Failure;
        }
        self.note_store_write();
        self.pin_key = Some(pin_key);
        let status = self.save_keys(keys);
        if status == Status::Success {
            // Proven by the setup code: the installer's act.
            let what = ChangeKind::Claimed;
            self.log(LogEntry::Change { what, role: Role::Installer, user: None });
        }
        status
    }

    fn factory_reset(&mut self) -> Status {
        // Settings (the door label, ...) are the door's, not the owner's, and stay, and so do
        // the setup code and the event log. Keys, the PIN key and every user go.
        if self.keys.is_some() {
            if self.store.factory_reset().is_err() {
                return Status::Failure;
            }
            self.note_store_write();
            self.keys = None;
            self.pin_key = None;
            // The sensor's templates belong to the users just erased.
            let sensor = self.devices.fingerprint();
            for slot in 0..sensor.slots() {
                let _ = sensor.delete_template(slot);
            }
            self.access.forget_users();
            let what = ChangeKind::FactoryReset;
            self.log(LogEntry::Change { what, role: Role::Installer, user: None });
        }
        Status::Success
    }

    fn log_link(&mut self, entry: LogEntry) {
        match entry {
            LogEntry::Session { role, opened: true } => {
                self.unlogged_session = Some(role);
                self.session_logged = false;
            }
            LogEntry::Session { role, opened: false } => {
                if self.unlogged_session.take().is_some() {
                    // A session that changed nothing: one record for it, and at most one such
                    // record per QUIET_SESSION_LOG_MS (600 reads in a minute are one visit).
                    let now = self.clock.uptime_ms();
                    let due = self
                        .quiet_session_logged_ms
                        .is_none_or(|at| now.saturating_sub(at) >= QUIET_SESSION_LOG_MS);
                    if due {
                        self.quiet_session_logged_ms = Some(now);
                        self.log(LogEntry::Session { role, opened: true });
                    }
                } else if self.session_logged {
                    self.log(entry);
                }
                self.session_logged = false;
            }
            other => {
                self.log(other);
            }
        }
    }
}

/// The wire's name for a break [`EventLog::verify`] found.
fn log_break(found: ChainBreak) -> LogBreak {
    match found {
        ChainBreak::Gap { after, next } => LogBreak::Gap { after, next },
        ChainBreak::OutOfOrder { after, next } => LogBreak::OutOfOrder { after, next },
        ChainBreak::TagMismatch { seq } => LogBreak::TagMismatch { seq },
        ChainBreak::Undecodable { after } => LogBreak::Undecodable { after },
    }
}

/// The door's safety state as recorded, read in a frame of its own.
#[inline(never)]
fn read_safety<F: NorFlash>(store: &mut Store<F>) -> Result<Option<SafetyRecord>, StoreError> {
    store.safety()
}

/// At most one log record per this long for sessions that changed nothing.
pub const QUIET_SESSION_LOG_MS: u64 = 10 * 60 * 1000;

/// What a request changes, as the log records it, and the user it concerns.
fn change_kind(request: &Request) -> Option<(ChangeKind, Option<u16>)> {
    use ChangeKind as K;
    Some(match request {
        Request::SetSetting(Setting::TimeZone(_)) => (K::TimeZone, None),
        Request::SetSetting(_) => (K::Setting, None),
        Request::RotateKeys { .. } => (K::KeysRotated, None),
        Request::PutUser { id, write: UserWrite::Add, .. } => (K::UserAdded, Some(*id)),
        Request::PutUser { id, write: UserWrite::Modify, .. } => (K::UserChanged, Some(*id)),
        Request::RemoveUser { id } => (K::UserRemoved, Some(*id)),
        Request::SetPin { user, .. } => (K::PinSet, Some(*user)),
        Request::RemovePin { user } => (K::PinRemoved, Some(*user)),
        Request::AddCard { user, .. } => (K::CardAdded, Some(*user)),
        Request::RemoveCard { user, .. } => (K::CardRemoved, Some(*user)),
        Request::AddPhone { user, .. } => (K::PhoneAdded, Some(*user)),
        Request::RemovePhone { user, .. } => (K::PhoneRemoved, Some(*user)),
        Request::RemoveFinger { user, .. } => (K::FingerRemoved, Some(*user)),
        _ => return None,
    })
}

impl<F: NorFlash, C: Clock, B: Battery, R: Rng, D: Devices> Lock<F, C, B, R, D> {
    /// Carries out `request`, already authorized. Each arm calls a method that is never
    /// inlined: on the MCU's stack, only the request at hand has its locals, not every arm's.
    fn answer(&mut self, request: &Request, via: Via, link: &LinkStats) -> Response {
        match request {
            Request::Hello => Response::Hello(self.info()),
            Request::Ping { nonce } => Response::Pong { nonce: *nonce },
            Request::GetTime => Response::Time(self.time()),
            Request::SetTime { unix_seconds } => {
                if *unix_seconds < EARLIEST_TIME {
                    return Response::Refused(Refusal::invalid(Field::Time));
                }
                let from = self.clock.recorded_now();
                self.clock.set(*unix_seconds);
                self.log(LogEntry::ClockSet { from, to: *unix_seconds });
                Response::Time(self.time())
            }
            Request::GetBattery => Response::Battery(self.battery_report()),
            Request::GetSettings => Response::Settings(self.settings.clone()),
            Request::SetSetting(setting) => self.set_setting(setting),
            Request::GetDiagnostics => Response::Diagnostics(self.diagnostics(link)),
            Request::RotateKeys { installer_key, technician_key } => {
                Response::Status(self.rotate_keys(installer_key, technician_key))
            }
            // The link closes the session once this answer is sealed.
            Request::EndSession => Response::Status(Status::Success),
            Request::PutUser { id, write, spec } => self.put_user(*id, *write, spec),
            Request::GetUser { id } => self.get_user(*id, via),
            Request::ListUsers { after } => self.list_users(*after),
            Request::RemoveUser { id } => done(self.remove_user(*id)),
            Request::SetPin { user, pin } => {
                let role = match via {
                    Via::Session(role) => role,
                    // Unclaimed: whoever holds the cable acts as the installer.
                    Via::Plaintext => Role::Installer,
                };
                done(self.set_pin_watched(*user, pin, role))
            }
            Request::RemovePin { user } => done(self.remove_pin(*user)),
            Request::AddCard { user, uid } => done(self.add_card(*user, uid)),
            Request::RemoveCard { user, uid } => done(self.remove_card(*user, uid)),
            Request::AddPhone { user, public_key } => done(self.add_phone(*user, public_key)),
            Request::RemovePhone { user, public_key } => done(self.remove_phone(*user, public_key)),
            Request::RemoveFinger { user, slot } => done(self.remove_finger(*user, *slot)),
            Request::GetChecksum => self.checksum(),
            Request::LearnCard { user } => self.start_learn_card(*user),
            Request::EnrollFinger { user } => self.start_enroll_finger(*user),
            Request::GetEnrollment => Response::Enrollment(self.enrollment()),
            Request::CancelEnrollment => done(self.cancel_enrollment()),
            Request::GetLastAccess => Response::LastAccess(self.last_access()),
            Request::GetAlarms => Response::Alarms(self.alarms_now()),
            Request::ReadLog { from_seq } => self.read_log(*from_seq),
            Request::VerifyLog => self.verify_log(),
            #[cfg(feature = "device-key")]
            Request::GetDeviceKey => self.device_key_public(),
            #[cfg(not(feature = "device-key"))]
            Request::GetDeviceKey => Response::Status(Status::Unsupported),
            Request::GetLogHead { seen, nonce } => self.log_head(*seen, nonce),
            Request::ClearLog => match via {
                Via::Session(role) => Response::Status(self.clear_log(role)),
                Via::Plaintext => Response::Status(Status::NotAuthorized),
            },
            Request::ClearAlarms => match via {
                Via::Session(role) => Response::Status(self.clear_alarms(role)),
                Via::Plaintext => Response::Status(Status::NotAuthorized),
            },
            Request::Clear { what } => match via {
                Via::Session(role) => self.clear(*what, role),
                Via::Plaintext => Response::Status(Status::NotAuthorized),
            },
            // Answered by the link's session layer; one that reaches here was misrouted.
            Request::ClaimStart { .. }
            | Request::ClaimFinish { .. }
            | Request::SessionStart { .. }
            | Request::SessionConfirm { .. } => Response::Status(Status::InvalidField),
        }
    }
}

/// The answer to a change: `Success` once done, or the refusal.
fn done(outcome: directory::Outcome) -> Response {
    match outcome {
        Ok(()) => Response::Status(Status::Success),
        Err(refusal) => Response::Refused(refusal),
    }
}

/// `settings` with `setting` applied, or why the value is refused ([`Setting::check`]).
pub fn apply(settings: &Settings, setting: &Setting) -> Result<Settings, SettingError> {
    setting.check()?;
    let mut new = settings.clone();
    match setting {
        Setting::DoorLabel(label) => new.door_label = label.clone(),
        Setting::AutoRelockSeconds(s) => new.auto_relock_seconds = *s,
        Setting::WrongCodeLimit(n) => new.wrong_code_limit = *n,
        Setting::LockoutSeconds(s) => new.lockout_seconds = *s,
        Setting::BeeperVolume(v) => new.beeper_volume = *v,
        Setting::TimeZone(rule) => new.time_zone = *rule,
        Setting::DoorAjarSeconds(s) => new.door_ajar_seconds = *s,
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_protocol::{PinProblem, check_pin};

    // The protocol's PIN rules against the lengths this firmware advertises.
    #[test]
    fn pin_format() {
        let caps = capabilities(1);
        assert_eq!(check_pin("058213", &caps), Ok(()));
        assert_eq!(check_pin("5820137462", &caps), Ok(()));
        assert_eq!(check_pin("123", &caps), Err(PinProblem::TooShort));
        assert_eq!(check_pin("12345678901", &caps), Err(PinProblem::TooLong));
        assert_eq!(check_pin("12a4", &caps), Err(PinProblem::NotDigits));
        assert_eq!(check_pin("12 45", &caps), Err(PinProblem::NotDigits));
        assert_eq!(check_pin("4444", &caps), Err(PinProblem::Weak));
    }
}
