//! Access decisions, card learning and finger enrollment, alarms and the bolt.
//!
//! The board feeds the core what happens at the door ([`Lock::keypad_entry`],
//! [`Lock::card_tapped`], [`Lock::finger_placed`], [`Lock::phone_presented`],
//! [`Lock::mechanical_key`], [`Lock::door_changed`], [`Lock::tamper_changed`]) and calls
//! [`Lock::tick`] periodically; the core decides by its rules ([`users::check_rules`]), counts
//! a limited use in flash *before* it drives the motor, and reports each decision as the last
//! access, an [`Event::Access`] and an event-log record. Events wait in a small queue
//! the board drains with [`Lock::next_event`] and sends with `Link::send_event`.
//!
//! No PIN, digit or digest ever enters a record, an event or a debug print.

use latchkey_protocol::checksum;
use latchkey_protocol::{
    ALARMS_MAX, AccessPath, AccessReason, AccessRecord, ActiveAlarm, Alarm, BatteryState,
    BeeperVolume, ChangeKind, Credential, EnrollFailure, EnrollKind, Enrollment, Event,
    LEARN_SECONDS, Limit, LogEntry, PIN_MAX, Refusal, Response, Role, Status, UserKind,
};

use super::Lock;
use super::directory::store_refusal;
use crate::hal::{
    Battery, Beep, Beeper, BoltDirection, Clock, Devices, FingerCapture, FingerprintSensor, Motor,
    NorFlash, PHONE_SIGNATURE_LABEL, Phone, Rng, SensorFault,
};
use crate::store::SafetyRecord;
use crate::users::{self, StoredCredential, StoredUser};

/// Good captures a finger enrollment needs.
pub const FINGER_CAPTURES: u8 = 5;
/// A capture below this quality does not count ("lift and place again"); the host needs it
/// too, so it is the protocol's.
pub use latchkey_protocol::CAPTURE_MIN_QUALITY;
/// The good captures' average quality must reach this, or the enrollment fails.
pub const ENROLL_MIN_AVERAGE: u8 = 60;
/// Events kept for the board to send; the oldest is dropped when full.
pub const EVENT_QUEUE: usize = 16;

/// What the lock keeps in RAM about the door: lost on a power cut, like on a real lock.
pub(super) struct AccessState {
    last_access: Option<AccessRecord>,
    pub(super) alarms: heapless::Vec<ActiveAlarm, ALARMS_MAX>,
    events: heapless::Deque<Event, EVENT_QUEUE>,
    enrollment: Enrollment,
    /// Uptime when an enrollment in progress times out.
    enroll_deadline_ms: u64,
    /// Sum of the good captures' qualities.
    enroll_quality_sum: u16,
    /// Unknown PINs in a row.
    wrong_codes: u8,
    /// Uptime until which the keypad is locked out.
    lockout_until_ms: Option<u64>,
    pub(super) bolt_locked: bool,
    relock_at_ms: Option<u64>,
    pub(super) door_open: bool,
    /// Uptime when the door opened, until the door-ajar alarm is raised or it closes.
    door_opened_ms: Option<u64>,
}

impl AccessState {
    pub(super) const fn new() -> Self {
        Self {
            last_access: None,
            alarms: heapless::Vec::new(),
            events: heapless::Deque::new(),
            enrollment: Enrollment::Idle,
            enroll_deadline_ms: 0,
            enroll_quality_sum: 0,
            wrong_codes: 0,
            lockout_until_ms: None,
            // A lock boots with its bolt thrown.
            bolt_locked: true,
            relock_at_ms: None,
            door_open: false,
            door_opened_ms: None,
        }
    }

    /// The safety state recorded before a power cut, at boot (uptime `now`): the wrong codes
    /// counted, a lockout run again in full (`lockout_ms`), the alarms still raised.
    pub(super) fn restore(&mut self, record: &SafetyRecord, now: u64, lockout_ms: u64) {
        self.wrong_codes = record.wrong_codes;
        if record.locked_out {
            self.lockout_until_ms = Some(now.saturating_add(lockout_ms));
        }
        self.alarms.clear();
        for alarm in record.alarms() {
            // One entry per kind, and ALARMS_MAX covers every kind.
            let _ = self.alarms.push(alarm);
        }
    }

    /// After a factory reset: nothing about the old users lingers.
    pub(super) fn forget_users(&mut self) {
        if matches!(self.enrollment, Enrollment::InProgress { .. }) {
            self.enrollment = Enrollment::Idle;
        }
        self.wrong_codes = 0;
    }

    pub(super) fn push_event(&mut self, event: Event) {
        if self.events.is_full() {
            self.events.pop_front();
        }
        // Room was made above.
        let _ = self.events.push_back(event);
    }
}

impl<F: NorFlash, C: Clock, B: Battery, R: Rng, D: Devices> Lock<F, C, B, R, D> {
    /// The next event for the host, if any: decisions, enrollment progress, alarms.
    pub fn next_event(&mut self) -> Option<Event> {
        self.access.events.pop_front()
    }

    /// The last access decision since boot.
    #[inline(never)]
    pub fn last_access(&self) -> Option<AccessRecord> {
        self.access.last_access
    }

    /// The alarms now raised.
    pub fn alarms(&self) -> &[ActiveAlarm] {
        &self.access.alarms
    }

    /// Whether the bolt is thrown.
    pub fn bolt_locked(&self) -> bool {
        self.access.bolt_locked
    }

    /// Where a card learning or finger enrollment stands, with the seconds left.
    #[inline(never)]
    pub fn enrollment(&self) -> Enrollment {
        let mut state = self.access.enrollment.clone();
        if let Enrollment::InProgress { seconds_left, .. } = &mut state {
            let left_ms = self.access.enroll_deadline_ms.saturating_sub(self.clock.uptime_ms());
            *seconds_left = u16::try_from(left_ms.div_ceil(1000)).unwrap_or(LEARN_SECONDS);
        }
        state
    }

    /// Time passes: ends a keypad lockout, relocks the bolt, times out an enrollment, checks
    /// the battery (a reading per tick). The board calls it periodically (the simulator every 50 ms, the micro:bit
    /// every second).
    pub fn tick(&mut self) {
        let now = self.clock.uptime_ms();
        if self.access.lockout_until_ms.is_some_and(|until| now >= until) {
            self.end_lockout();
        }
        // The bolt waits for the door to close before it throws.
        if self.access.relock_at_ms.is_some_and(|at| now >= at) && !self.access.door_open {
            self.access.relock_at_ms = None;
            self.drive(BoltDirection::Lock);
        }
        if matches!(self.access.enrollment, Enrollment::InProgress { .. })
            && now >= self.access.enroll_deadline_ms
        {
            self.fail_enrollment(EnrollFailure::TimedOut);
        }
        let ajar_ms = u64::from(self.settings.door_ajar_seconds) * 1000;
        if ajar_ms > 0 && self.access.door_opened_ms.is_some_and(|at| now >= at + ajar_ms) {
            // Once per opening: cleared alarms stay cleared until the door opens again.
            self.access.door_opened_ms = None;
            self.raise_alarm(Alarm::DoorAjar);
        }
        self.check_battery();
        self.end_quiet_burst();
    }

    /// A PIN entered on the keypad (digits as typed, leading zeros kept). The entry is hashed
    /// at once and never kept.
    pub fn keypad_entry(&mut self, digits: &str) -> AccessRecord {
        let now = self.clock.uptime_ms();
        if self.access.lockout_until_ms.is_some_and(|until| now >= until) {
            self.end_lockout();
        }
        if self.access.lockout_until_ms.is_some() {
            return self.record(AccessPath::Keypad, None, Err(AccessReason::KeypadLockedOut));
        }
        let well_formed = !digits.is_empty()
            && digits.len() <= PIN_MAX
            && digits.bytes().all(|b| b.is_ascii_digit());
        let found = match (&self.pin_key, well_formed) {
            (Some(key), true) => {
                let digest = checksum::pin_digest(key, digits);
                // A flash that cannot be read opens for nobody.
                self.holder(&StoredCredential::Pin(digest)).ok().flatten()
            }
            _ => None,
        };
        match found {
            Some((id, user)) => {
                let record = self.decide(AccessPath::Keypad, id, user);
                if record.granted {
                    // Only an entry that opens ends a run of wrong codes.
                    if self.access.wrong_codes != 0 {
                        self.access.wrong_codes = 0;
                        self.save_safety();
                    }
                } else {
                    // A PIN the lock knows but refuses (disabled, out of schedule, expired)
                    // counts too, or a guesser could interleave one with guesses forever.
                    self.count_wrong_code(now);
                }
                record
            }
            None => {
                let record =
                    self.record(AccessPath::Keypad, None, Err(AccessReason::UnknownCredential));
                self.count_wrong_code(now);
                record
            }
        }
    }

    /// One more refused keypad entry at uptime `now`; at the limit, the keypad locks out.
    fn count_wrong_code(&mut self, now: u64) {
        self.access.wrong_codes = self.access.wrong_codes.saturating_add(1);
        if self.access.wrong_codes >= self.settings.wrong_code_limit {
            self.access.wrong_codes = 0;
            let lockout_ms = u64::from(self.settings.lockout_seconds) * 1000;
            self.access.lockout_until_ms = Some(now + lockout_ms);
            // Saves the state with the alarm.
            self.raise_alarm(Alarm::WrongCodeLimit);
        } else {
            self.save_safety();
        }
    }

    /// A card tapped on the reader. While a card is being learned the tap is the learning's
    /// (no access decision: `None`).
    pub fn card_tapped(&mut self, uid: &[u8]) -> Option<AccessRecord> {
        if let Enrollment::InProgress { kind: EnrollKind::Card, user, .. } = self.access.enrollment
        {
            self.learn_card(user, uid);
            return None;
        }
        let found = match heapless::Vec::from_slice(uid) {
            Ok(uid) if users::card_uid_is_valid(&uid) => {
                self.holder(&StoredCredential::Card(uid)).ok().flatten()
            }
            _ => None,
        };
        Some(self.decide_found(AccessPath::Rfid, found))
    }

    /// A finger placed on the sensor. While a finger is being enrolled it is a capture (no
    /// access decision: `None`); otherwise the sensor's match decides.
    pub fn finger_placed(&mut self, capture: FingerCapture) -> Option<AccessRecord> {
        if let Enrollment::InProgress { kind: EnrollKind::Fingerprint, user, .. } =
            self.access.enrollment
        {
            self.finger_capture(user, capture);
            return None;
        }
        let found = match capture.matched_slot {
            Some(slot) => self.holder(&StoredCredential::Fingerprint(slot)).ok().flatten(),
            None => None,
        };
        Some(self.decide_found(AccessPath::Fingerprint, found))
    }

    /// A phone presents itself: the lock challenges it with 32 fresh random bytes, checks its
    /// Ed25519 signature over `"latchkey/v1/phone" ‖ serial ‖ challenge`, then looks its key up.
    pub fn phone_presented(&mut self, phone: &mut impl Phone) -> AccessRecord {
        let mut challenge = [0u8; 32];
        self.rng.fill_bytes(&mut challenge);
        let Some(answer) = phone.sign_challenge(&self.identity.serial, &challenge) else {
            return self.record(AccessPath::Phone, None, Err(AccessReason::BadSignature));
        };
        let mut message = [0u8; PHONE_SIGNATURE_LABEL.len() + latchkey_protocol::IDENT_MAX + 32];
        let serial = self.identity.serial.as_bytes();
        let parts = [PHONE_SIGNATURE_LABEL, serial, &challenge];
        let mut len = 0;
        for part in parts {
            message[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
        let signature = ed25519_dalek::Signature::from_bytes(&answer.signature);
        let verified = ed25519_dalek::VerifyingKey::from_bytes(&answer.public_key)
            .is_ok_and(|key| key.verify_strict(&message[..len], &signature).is_ok());
        if !verified {
            return self.record(AccessPath::Phone, None, Err(AccessReason::BadSignature));
        }
        let found = self.holder(&StoredCredential::Phone(answer.public_key)).ok().flatten();
        self.decide_found(AccessPath::Phone, found)
    }

    /// The mechanical key turned the bolt: it always opens, and is recorded.
    pub fn mechanical_key(&mut self) -> AccessRecord {
        self.access.bolt_locked = false;
        self.schedule_relock();
        self.record(AccessPath::MechanicalKey, None, Ok(AccessReason::MechanicalKey))
    }

    /// The door switch changed. A door opening while the bolt is thrown was forced.
    /// A door left open longer than the `door_ajar_seconds` setting raises the door-ajar
    /// alarm (from [`Self::tick`]); closing it clears both.
    pub fn door_changed(&mut self, open: bool) {
        if open != self.access.door_open {
            self.log(LogEntry::Door { open });
        }
        if open && !self.access.door_open {
            self.access.door_opened_ms = Some(self.clock.uptime_ms());
        } else if !open {
            self.access.door_opened_ms = None;
        }
        self.access.door_open = open;
        if open && self.access.bolt_locked {
            self.raise_alarm(Alarm::ForcedOpen);
        } else if !open {
            self.clear_alarm(Alarm::ForcedOpen);
            self.clear_alarm(Alarm::DoorAjar);
        }
    }

    /// The tamper switch changed (the escutcheon removed, or put back).
    pub fn tamper_changed(&mut self, tripped: bool) {
        if tripped {
            self.raise_alarm(Alarm::Tamper);
        } else {
            self.clear_alarm(Alarm::Tamper);
        }
    }

    fn decide_found(&mut self, path: AccessPath, found: Option<(u16, StoredUser)>) -> AccessRecord {
        match found {
            Some((id, user)) => self.decide(path, id, user),
            None => self.record(path, None, Err(AccessReason::UnknownCredential)),
        }
    }

    /// The lock's rules for user `id`, whose credential was presented; on a grant the use is
    /// counted in flash first, then the bolt moves.
    fn decide(&mut self, path: AccessPath, id: u16, user: StoredUser) -> AccessRecord {
        let now = self.clock.now();
        if let Err(reason) =
            users::check_rules(&user, now, self.clock.is_set(), &self.settings.time_zone)
        {
            return self.record(path, Some(id), Err(reason));
        }
        let mut counted = user.clone();
        if let Some(left) = counted.uses_left {
            counted.uses_left = Some(left.saturating_sub(1));
        }
        if matches!(counted.spec.kind, UserKind::Expiring { .. }) && counted.first_used.is_none() {
            counted.first_used = Some(now);
        }
        // Durable before the motor: a power cut must not give a use for free. A use that
        // cannot be counted is not given.
        if counted != user && self.write_user(id, &counted).is_err() {
            return self.record(path, Some(id), Err(AccessReason::UsesExhausted));
        }
        let duress = user.spec.kind == UserKind::Duress;
        let reason = if duress { AccessReason::Duress } else { AccessReason::Granted };
        self.drive(BoltDirection::Unlock);
        let record = self.record(path, Some(id), Ok(reason));
        if duress {
            // Silent at the door; the host and the log hear of it.
            self.raise_alarm(Alarm::Duress);
        }
        if self.battery_monitor.state == BatteryState::Critical {
            // Still opening on a critical battery, as long as the motor can: the log says so.
            let millivolts = self.battery_monitor.last_mv.unwrap_or(0);
            self.log(LogEntry::Battery {
                millivolts,
                state: BatteryState::Critical,
                replaced: false,
            });
        }
        record
    }

    /// Keeps a decision as the last access and sends it as an event.
    fn record(
        &mut self,
        path: AccessPath,
        user: Option<u16>,
        outcome: Result<AccessReason, AccessReason>,
    ) -> AccessRecord {
        let (granted, reason) = match outcome {
            Ok(reason) => (true, reason),
            Err(reason) => (false, reason),
        };
        // Like a log record: 0 while the clock is not set, never a made-up time.
        let record = AccessRecord { at: self.clock.recorded_now(), path, granted, user, reason };
        self.access.last_access = Some(record);
        self.access.push_event(Event::Access(record));
        // No secret: the path, the user number and the reason, never a PIN. A log that
        // cannot be written is counted; the decision stands.
        self.log(LogEntry::Access { path, granted, user, reason });
        record
    }

    fn schedule_relock(&mut self) {
        let seconds = self.settings.auto_relock_seconds;
        self.access.relock_at_ms =
            (seconds > 0).then(|| self.clock.uptime_ms() + u64::from(seconds) * 1000);
    }

    fn drive(&mut self, direction: BoltDirection) {
        let result = self.devices.motor().drive(direction);
        let run = self.devices.motor().last_run();
        self.motor_ran(run, result.is_ok());
        match result {
            Ok(()) => {
                self.access.bolt_locked = direction == BoltDirection::Lock;
                self.clear_alarm(Alarm::Jammed);
                if direction == BoltDirection::Unlock {
                    self.schedule_relock();
                    // Whoever just came in hears that the batteries need changing.
                    match self.battery_monitor.state {
                        BatteryState::Ok => {}
                        BatteryState::Low => self.beep(Beep::LowBattery),
                        BatteryState::Critical => self.beep(Beep::CriticalBattery),
                    }
                }
            }
            // The bolt did not move: its state stays as it was.
            Err(_) => self.raise_alarm(Alarm::Jammed),
        }
    }

    /// Plays `beep` unless the beeper is set to off.
    pub(super) fn beep(&mut self, beep: Beep) {
        if self.settings.beeper_volume != BeeperVolume::Off {
            self.devices.beeper().play(beep, self.settings.beeper_volume);
        }
    }

    /// Raises `alarm` (listed once, since its first raising; logged when it is newly
    /// raised) and sends it as an event.
    pub(super) fn raise_alarm(&mut self, alarm: Alarm) {
        if !self.access.alarms.iter().any(|a| a.alarm == alarm) {
            let since = self.clock.recorded_now();
            // One entry per kind of alarm, and ALARMS_MAX covers every kind.
            let _ = self.access.alarms.push(ActiveAlarm { alarm, since, seconds_left: 0 });
            self.log(LogEntry::Alarm { alarm, raised: true });
        }
        self.save_safety();
        self.access.push_event(Event::AlarmRaised(alarm));
    }

    /// Clears `alarm` if it is raised, and logs the clearing.
    pub(super) fn clear_alarm(&mut self, alarm: Alarm) {
        let before = self.access.alarms.len();
        self.access.alarms.retain(|a| a.alarm != alarm);
        if self.access.alarms.len() != before {
            self.log(LogEntry::Alarm { alarm, raised: false });
            self.save_safety();
        }
    }

    /// The alarms raised, with the keypad lockout's time left.
    #[inline(never)]
    pub(super) fn alarms_now(&self) -> heapless::Vec<ActiveAlarm, ALARMS_MAX> {
        let left_ms = self
            .access
            .lockout_until_ms
            .map_or(0, |until| until.saturating_sub(self.clock.uptime_ms()));
        let mut alarms = self.access.alarms.clone();
        for active in &mut alarms {
            if active.alarm == Alarm::WrongCodeLimit {
                active.seconds_left = u32::try_from(left_ms.div_ceil(1000)).unwrap_or(u32::MAX);
            }
        }
        alarms
    }

    /// Ends a keypad lockout (its time is up, or an installer cleared the alarms).
    pub(super) fn end_lockout(&mut self) {
        self.access.lockout_until_ms = None;
        self.access.wrong_codes = 0;
        self.clear_alarm(Alarm::WrongCodeLimit);
        self.save_safety();
    }

    /// Records the door's safety state in flash (best effort: a flash fault must not lift a
    /// lockout or an alarm, and the state in RAM still rules until the next boot). Never
    /// inlined: its record would otherwise sit in the frame of every caller, on the MCU's
    /// small stack, whether it saves or not.
    #[inline(never)]
    pub(super) fn save_safety(&mut self) {
        let record = SafetyRecord::of(
            self.access.wrong_codes,
            self.access.lockout_until_ms.is_some(),
            &self.access.alarms,
        );
        if self.store.save_safety(&record).is_ok() {
            self.store_writes = self.store_writes.saturating_add(1);
        }
    }

    // --- Card learning and finger enrollment -------------------------------------------

    fn set_enrollment(&mut self, state: Enrollment) {
        self.access.enrollment = state;
        let reported = self.enrollment();
        self.access.push_event(Event::Enrollment(reported));
    }

    fn start_enrollment(&mut self, kind: EnrollKind, user: u16, needed: u8) -> Response {
        self.access.enroll_deadline_ms = self.clock.uptime_ms() + u64::from(LEARN_SECONDS) * 1000;
        self.access.enroll_quality_sum = 0;
        self.set_enrollment(Enrollment::InProgress {
            kind,
            user,
            captures: 0,
            needed,
            last_quality: None,
            last_good: false,
            seconds_left: LEARN_SECONDS,
        });
        Response::Enrollment(self.enrollment())
    }

    /// `LearnCard`: the next card tapped within [`LEARN_SECONDS`] becomes user `id`'s. A new
    /// start replaces one in progress.
    #[inline(never)]
    pub(super) fn start_learn_card(&mut self, id: u16) -> Response {
        match self.load_user(id) {
            Ok(user) if Self::has_room(&user) => self.start_enrollment(EnrollKind::Card, id, 1),
            Ok(_) => Response::Refused(Refusal::exhausted(Limit::UserCredentials)),
            Err(refusal) => Response::Refused(refusal),
        }
    }

    /// `EnrollFinger`: [`FINGER_CAPTURES`] good captures make a template in a free slot.
    #[inline(never)]
    pub(super) fn start_enroll_finger(&mut self, id: u16) -> Response {
        // A board without a sensor says so, rather than "full".
        if !self.has_sensor {
            let no_sensor = Refusal::at(Status::Unsupported, latchkey_protocol::Field::FingerSlot);
            return Response::Refused(no_sensor);
        }
        match self.load_user(id) {
            Ok(user) if Self::has_room(&user) => {}
            Ok(_) => return Response::Refused(Refusal::exhausted(Limit::UserCredentials)),
            Err(refusal) => return Response::Refused(refusal),
        }
        match self.free_sensor_slot() {
            Ok(Some(_)) => {}
            Ok(None) => return Response::Refused(Refusal::exhausted(Limit::SensorSlots)),
            Err(refusal) => return Response::Refused(refusal),
        }
        self.devices.fingerprint().begin_enrollment();
        self.start_enrollment(EnrollKind::Fingerprint, id, FINGER_CAPTURES)
    }

    /// `CancelEnrollment`: stops one in progress; with none, there is nothing to stop.
    #[inline(never)]
    pub(super) fn cancel_enrollment(&mut self) -> Result<(), Refusal> {
        self.fail_enrollment(EnrollFailure::Cancelled);
        Ok(())
    }

    /// A user was removed: an enrollment for them stops.
    pub(super) fn user_removed(&mut self, id: u16) {
        if matches!(self.access.enrollment, Enrollment::InProgress { user, .. } if user == id) {
            self.fail_enrollment(EnrollFailure::Cancelled);
        }
    }

    fn fail_enrollment(&mut self, reason: EnrollFailure) {
        if let Enrollment::InProgress { kind, user, .. } = self.access.enrollment {
            self.set_enrollment(Enrollment::Failed { kind, user, reason });
        }
    }

    /// The lowest sensor slot no user holds, if any.
    fn free_sensor_slot(&mut self) -> Result<Option<u8>, Refusal> {
        let mut used = [0u8; 32];
        self.store
            .for_each_user(|_, user| {
                for c in &user.credentials {
                    if let StoredCredential::Fingerprint(slot) = c {
                        used[usize::from(*slot / 8)] |= 1 << (slot % 8);
                    }
                }
            })
            .map_err(store_refusal)?;
        let slots = self.devices.fingerprint().slots();
        Ok((0..slots).find(|slot| used[usize::from(slot / 8)] & (1 << (slot % 8)) == 0))
    }

    /// Adds `credential` to user `id` as the end of an enrollment.
    fn enroll(&mut self, id: u16, credential: StoredCredential) {
        let mut user = match self.load_user(id) {
            Ok(user) => user,
            // Removed meanwhile: as if cancelled.
            Err(refusal) if refusal.status == Status::NotFound => {
                return self.fail_enrollment(EnrollFailure::Cancelled);
            }
            Err(_) => return self.fail_enrollment(EnrollFailure::Storage),
        };
        let public = credential.public();
        let added = !user.holds(&credential);
        if added {
            if user.credentials.push(credential).is_err() {
                return self.fail_enrollment(EnrollFailure::Full);
            }
            // A flash that fails (or is full) is a storage fault, not a user without room.
            if self.write_user(id, &user).is_err() {
                if let Credential::Fingerprint { slot } = public {
                    let _ = self.devices.fingerprint().delete_template(slot);
                }
                return self.fail_enrollment(EnrollFailure::Storage);
            }
        }
        // Enrollments are started by installers only (the role table).
        if added {
            let what = match public {
                Credential::Fingerprint { .. } => ChangeKind::FingerAdded,
                _ => ChangeKind::CardAdded,
            };
            self.log(LogEntry::Change { what, role: Role::Installer, user: Some(id) });
        }
        self.set_enrollment(Enrollment::Done { user: id, credential: public });
    }

    fn learn_card(&mut self, id: u16, uid: &[u8]) {
        let uid = match heapless::Vec::from_slice(uid) {
            Ok(uid) if users::card_uid_is_valid(&uid) => uid,
            // Not a card UID the lock can keep: the reader misread; wait for another tap.
            _ => return,
        };
        let credential = StoredCredential::Card(uid);
        match self.holder(&credential) {
            Ok(Some((holder, _))) if holder != id => self.fail_enrollment(EnrollFailure::Duplicate),
            Ok(_) => self.enroll(id, credential),
            Err(_) => self.fail_enrollment(EnrollFailure::Storage),
        }
    }

    fn finger_capture(&mut self, id: u16, capture: FingerCapture) {
        // A finger the sensor already knows: someone else's is a duplicate; this user's is
        // already enrolled.
        if let Some(slot) = capture.matched_slot {
            match self.holder(&StoredCredential::Fingerprint(slot)) {
                Ok(Some((holder, _))) if holder != id => {
                    return self.fail_enrollment(EnrollFailure::Duplicate);
                }
                Ok(Some(_)) => {
                    return self.set_enrollment(Enrollment::Done {
                        user: id,
                        credential: Credential::Fingerprint { slot },
                    });
                }
                // A template nobody holds (left by a cut): its slot is free, enroll as new.
                Ok(None) => {}
                Err(_) => return self.fail_enrollment(EnrollFailure::Storage),
            }
        }
        let Enrollment::InProgress { kind, user, captures, needed, seconds_left, .. } =
            self.access.enrollment
        else {
            return;
        };
        let quality = capture.quality.min(100);
        let good = quality >= CAPTURE_MIN_QUALITY;
        let captures = captures + u8::from(good);
        if good {
            self.devices.fingerprint().keep_capture();
            self.access.enroll_quality_sum += u16::from(quality);
            // Progress: the time-out starts again.
            self.access.enroll_deadline_ms =
                self.clock.uptime_ms() + u64::from(LEARN_SECONDS) * 1000;
        }
        self.set_enrollment(Enrollment::InProgress {
            kind,
            user,
            captures,
            needed,
            last_quality: Some(quality),
            last_good: good,
            seconds_left,
        });
        if captures < needed {
            return;
        }
        let average = self.access.enroll_quality_sum / u16::from(needed.max(1));
        if average < u16::from(ENROLL_MIN_AVERAGE) {
            return self.fail_enrollment(EnrollFailure::PoorQuality);
        }
        let slot = match self.free_sensor_slot() {
            Ok(Some(slot)) => slot,
            Ok(None) => return self.fail_enrollment(EnrollFailure::Full),
            Err(_) => return self.fail_enrollment(EnrollFailure::Storage),
        };
        match self.devices.fingerprint().store_template(slot) {
            Ok(()) => {}
            // The captures do not make one template (not the same finger each time).
            Err(SensorFault::NoTemplate) => {
                return self.fail_enrollment(EnrollFailure::PoorQuality);
            }
            // A sensor that does not answer is at fault, not the finger.
            Err(SensorFault::Failed) => return self.fail_enrollment(EnrollFailure::Sensor),
        }
        self.enroll(id, StoredCredential::Fingerprint(slot));
    }
}
