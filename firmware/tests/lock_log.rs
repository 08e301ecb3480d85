//! The lock's own event log as wired into the core: what a day at the door leaves in it,
//! `ReadLog` / `VerifyLog` / `ClearLog` / `ClearAlarms` through real sessions, sequence
//! numbers across restarts and a wiped region, the battery model and diagnostics.
// Tests may unwrap and panic; the core may not (firmware/Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::rig::Rig;
use common::{boot_full, installer, session, test_keys};
use latchkey_firmware::Link;
use latchkey_firmware::lock::access::FINGER_CAPTURES;
use latchkey_firmware::region::layout;
use latchkey_protocol::crypto::MAX_SEALED_PLAINTEXT;
use latchkey_protocol::{
    AccessPath, AccessReason, Alarm, BatteryState, CardUid, ChangeKind, Enrollment, Field,
    LOG_PAGE, LogBreak, LogClass, LogEntry, LogRecord, LogReport, Pin, Refusal, Repeat, Request,
    ResetReason, Response, Role, Setting, SettingKey, Status, UserKind, UserName, UserSpec,
    UserWrite,
};
use latchkey_sim::SimFlash;

/// 2024-01-01T10:30:00Z, a Monday.
const MONDAY_1030: u64 = 1_704_105_000;

impl Rig<'_> {
    fn page(&mut self, from_seq: u32) -> (Vec<LogRecord>, u32, u32) {
        match self.ask(&Request::ReadLog { from_seq }) {
            Response::Log { records, first_seq, next_seq } => {
                (records.to_vec(), first_seq, next_seq)
            }
            other => panic!("expected a log page, got {other:?}"),
        }
    }

    /// Every record with seq ≥ `from`, paging as a host does.
    fn read_all(&mut self, mut from: u32) -> Vec<LogRecord> {
        let mut all = Vec::new();
        loop {
            let (records, _, next_seq) = self.page(from);
            let Some(last) = records.last() else { break };
            assert!(records.len() <= LOG_PAGE);
            from = last.seq + 1;
            all.extend(records);
            if from >= next_seq {
                break;
            }
        }
        all
    }

    fn next_seq(&mut self) -> u32 {
        self.page(u32::MAX).2
    }

    fn verify(&mut self) -> LogReport {
        match self.ask(&Request::VerifyLog) {
            Response::LogReport(report) => report,
            other => panic!("expected a log report, got {other:?}"),
        }
    }
}

fn spec(n: &str, kind: UserKind) -> UserSpec {
    UserSpec {
        name: UserName::try_from(n).unwrap(),
        kind,
        enabled: true,
        valid_from: None,
        valid_until: None,
        use_limit: None,
        weekly: heapless::Vec::new(),
    }
}

fn access(path: AccessPath, granted: bool, user: Option<u16>, reason: AccessReason) -> LogEntry {
    LogEntry::Access { path, granted, user, reason }
}

fn alarm(alarm: Alarm, raised: bool) -> LogEntry {
    LogEntry::Alarm { alarm, raised }
}

fn change(what: ChangeKind, user: Option<u16>) -> LogEntry {
    LogEntry::Change { what, role: Role::Installer, user }
}

const ANN_PIN: &str = "482916";
const GUEST_PIN: &str = "730514";
const WRONG_PIN: &str = "111999";

#[test]
fn a_day_at_the_door_is_logged_in_order_without_a_pin() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    // Before the clock is set, records carry 0.
    let (early, _, _) = r.page(1);
    assert!(matches!(
        early[0].entry,
        LogEntry::PowerUp { boot_count: 1, reason: ResetReason::PowerOn }
    ));
    assert!(early.iter().all(|record| record.at == 0), "{early:?}");
    assert!(early.iter().any(|record| record.entry == change(ChangeKind::Claimed, None)));
    // The installer's session goes in the log with its first change, not while it only reads.
    let session = LogEntry::Session { role: Role::Installer, opened: true };
    assert!(!early.iter().any(|record| record.entry == session), "{early:?}");

    let before_change = r.next_seq();
    r.ok(&Request::SetTime { unix_seconds: MONDAY_1030 });
    let first: Vec<_> = r.read_all(before_change).into_iter().map(|rec| rec.entry).collect();
    assert_eq!(first[0], session, "{first:?}");
    assert!(matches!(first[1], LogEntry::ClockSet { .. }), "{first:?}");
    r.ok(&Request::SetSetting(Setting::WrongCodeLimit(3)));
    r.ok(&Request::SetSetting(Setting::LockoutSeconds(30)));
    let set_up_from = r.next_seq();
    r.ok(&Request::PutUser { id: 1, write: UserWrite::Add, spec: spec("Ann", UserKind::Owner) });
    r.ok(&Request::SetPin { user: 1, pin: Pin::try_from(ANN_PIN).unwrap() });
    let card = CardUid::from_slice(&[4, 0x3a, 0x11, 0x22]).unwrap();
    r.ok(&Request::AddCard { user: 1, uid: card.clone() });
    r.ok(&Request::PutUser { id: 2, write: UserWrite::Add, spec: spec("Bob", UserKind::Owner) });
    r.ok(&Request::EnrollFinger { user: 2 });
    for _ in 0..FINGER_CAPTURES {
        let capture = r.lock.devices().fingerprint.place("bob-thumb", 90);
        assert_eq!(r.lock.finger_placed(capture), None);
    }
    assert!(matches!(r.lock.enrollment(), Enrollment::Done { user: 2, .. }));
    let guest = spec("Courier", UserKind::Expiring { minutes: 10 });
    r.ok(&Request::PutUser { id: 3, write: UserWrite::Add, spec: guest });
    r.ok(&Request::SetPin { user: 3, pin: Pin::try_from(GUEST_PIN).unwrap() });
    // A resend of the same add changes nothing and logs nothing.
    r.ok(&Request::PutUser { id: 2, write: UserWrite::Add, spec: spec("Bob", UserKind::Owner) });
    let set_up: Vec<_> = r.read_all(set_up_from).into_iter().map(|rec| rec.entry).collect();
    assert_eq!(
        set_up,
        [
            change(ChangeKind::UserAdded, Some(1)),
            change(ChangeKind::PinSet, Some(1)),
            change(ChangeKind::CardAdded, Some(1)),
            change(ChangeKind::UserAdded, Some(2)),
            change(ChangeKind::FingerAdded, Some(2)),
            change(ChangeKind::UserAdded, Some(3)),
            change(ChangeKind::PinSet, Some(3)),
        ]
    );

    // The day.
    let day_from = r.next_seq();
    r.lock.keypad_entry(ANN_PIN);
    for _ in 0..3 {
        r.lock.keypad_entry(WRONG_PIN);
    }
    r.lock.keypad_entry(ANN_PIN); // locked out
    r.clock.advance(31_000);
    r.lock.tick(); // the lockout ends (and the bolt relocks: no record)
    r.lock.card_tapped(&card);
    let capture = r.lock.devices().fingerprint.place("bob-thumb", 90);
    r.lock.finger_placed(capture);
    r.lock.keypad_entry(GUEST_PIN); // first use starts the guest's 10 minutes
    r.clock.advance(11 * 60_000);
    r.lock.keypad_entry(GUEST_PIN); // expired
    r.lock.tamper_changed(true);
    r.battery.set_millivolts(4800);
    r.lock.tick();
    r.lock.tick(); // still low: nothing new
    r.lock.devices().motor.jammed = true;
    r.lock.keypad_entry(ANN_PIN);
    // The installer's session went idle meanwhile: a new one.
    r.s = installer(&mut r.link, &mut r.lock);

    let day = r.read_all(day_from);
    let entries: Vec<_> = day.iter().map(|rec| rec.entry).collect();
    use AccessPath::{Fingerprint, Keypad, Rfid};
    use AccessReason::{Expired, Granted, KeypadLockedOut, UnknownCredential};
    // Three wrong PINs in a row: the first as it happened, the other two as one burst record
    // (closed by the lockout), which knows when the first was.
    let first = day[1].at;
    let wrong = Repeat::Access { path: Keypad, user: None, reason: UnknownCredential };
    assert_eq!(
        entries,
        [
            access(Keypad, true, Some(1), Granted),
            access(Keypad, false, None, UnknownCredential),
            LogEntry::Repeated { of: wrong, count: 2, first },
            alarm(Alarm::WrongCodeLimit, true),
            access(Keypad, false, None, KeypadLockedOut),
            alarm(Alarm::WrongCodeLimit, false),
            access(Rfid, true, Some(1), Granted),
            access(Fingerprint, true, Some(2), Granted),
            access(Keypad, true, Some(3), Granted),
            access(Keypad, false, Some(3), Expired),
            alarm(Alarm::Tamper, true),
            LogEntry::Battery { millivolts: 4800, state: BatteryState::Low, replaced: false },
            alarm(Alarm::LowBattery, true),
            // The motor could not move the bolt: the alarm, and the decision as it was made.
            alarm(Alarm::Jammed, true),
            access(Keypad, true, Some(1), Granted),
            // The old session's end; the new one has only read so far: not in the log yet.
            LogEntry::Session { role: Role::Installer, opened: false },
        ]
    );
    // Seqs follow each other; times are the lock's, now that its clock is set.
    for pair in day.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1);
        assert!(pair[1].at >= pair[0].at);
    }
    assert!(day.iter().all(|rec| rec.at >= MONDAY_1030), "{day:?}");

    // No PIN anywhere: not in the records, not on the wire, not in the log's flash.
    let text = format!("{day:?}{set_up:?}");
    let mut wire = Vec::new();
    let mut link = Link::new();
    while let Some(event) = r.lock.next_event() {
        link.send_event(&event, &mut |frame: &[u8]| wire.extend_from_slice(frame));
    }
    drop(r);
    let region = &flash.bytes()[layout::EVENT_LOG.start as usize..layout::EVENT_LOG.end as usize];
    for pin in [ANN_PIN, GUEST_PIN, WRONG_PIN] {
        assert!(!text.contains(pin), "{pin} in {text}");
        assert!(!wire.windows(pin.len()).any(|w| w == pin.as_bytes()));
        assert!(!region.windows(pin.len()).any(|w| w == pin.as_bytes()));
    }
}

#[test]
fn reading_pages_through_5000_events_shows_the_gap_and_seqs_never_repeat() {
    let mut flash = SimFlash::erased();
    let mut highest;
    {
        let mut r = Rig::new(&mut flash);
        for _ in 0..5000 {
            r.lock.mechanical_key();
        }
        let (first_page, first_seq, next_seq) = r.page(1);
        assert!(first_seq > 1, "the oldest records were dropped for room");
        // From before the gap: first the security records kept from it (the claim), then the
        // oldest record of the log.
        let (kept, log): (Vec<&LogRecord>, Vec<&LogRecord>) =
            first_page.iter().partition(|r| r.seq < first_seq);
        assert!(
            kept.iter()
                .any(|r| matches!(r.entry, LogEntry::Change { what: ChangeKind::Claimed, .. })),
            "{kept:?}"
        );
        assert!(kept.iter().all(|r| r.entry.class() == LogClass::Security), "{kept:?}");
        assert_eq!(log[0].seq, first_seq, "then from the oldest kept");
        let all: Vec<_> = r.read_all(1).into_iter().filter(|r| r.seq >= first_seq).collect();
        assert!(all.len() >= 2000, "{} kept", all.len());
        assert_eq!(all.len() as u32, next_seq - first_seq);
        for pair in all.windows(2) {
            assert_eq!(pair[1].seq, pair[0].seq + 1);
        }
        assert_eq!(all.last().unwrap().seq, next_seq - 1);
        // A page from the middle starts where asked.
        let middle = all[all.len() / 2].seq;
        let (page, _, _) = r.page(middle);
        assert_eq!(page.len(), LOG_PAGE);
        assert_eq!(page[0].seq, middle);
        let report = r.verify();
        assert_eq!(report.broken, None, "{report:?}");
        assert_eq!(report.records as usize, all.len());
        highest = next_seq;
    }
    // A restart on the same flash goes on from there.
    {
        let mut r = Rig::new(&mut flash);
        let (records, _, next_seq) = r.page(highest);
        assert_eq!(records[0].seq, highest);
        assert!(matches!(records[0].entry, LogEntry::PowerUp { boot_count: 2, .. }));
        highest = next_seq;
        r.lock.mechanical_key();
        // The power goes: nothing is shut down.
    }
    {
        let mut r = Rig::new(&mut flash);
        let (records, _, next_seq) = r.page(highest);
        // The key turned during the (read-only) session put the session in the log first.
        assert_eq!(records.len(), 3, "{records:?}");
        assert_eq!(records[0].seq, highest, "the records written before the cut were kept");
        assert_eq!(records[0].entry, LogEntry::Session { role: Role::Installer, opened: true });
        assert!(matches!(
            records[1].entry,
            LogEntry::Access { path: AccessPath::MechanicalKey, .. }
        ));
        assert!(matches!(records[2].entry, LogEntry::PowerUp { boot_count: 3, .. }));
        highest = next_seq;
    }
    // Someone wipes the log's region: the stored high-water mark keeps the numbers going up.
    let start = layout::EVENT_LOG.start as usize;
    let end = layout::EVENT_LOG.end as usize;
    let mut bytes = flash.bytes().to_vec();
    bytes[start..end].fill(0xFF);
    let mut flash = SimFlash::from_bytes(bytes);
    let mut r = Rig::new(&mut flash);
    let (records, first_seq, _) = r.page(1);
    assert!(first_seq >= highest, "{first_seq} after {highest}");
    // The reserved area was not wiped: the claim is still on record, before the new log.
    let (kept, log): (Vec<LogRecord>, Vec<LogRecord>) =
        records.into_iter().partition(|r| r.seq < first_seq);
    assert!(
        kept.iter().any(|r| matches!(r.entry, LogEntry::Change { what: ChangeKind::Claimed, .. })),
        "{kept:?}"
    );
    assert!(matches!(log[0].entry, LogEntry::PowerUp { boot_count: 4, .. }));
}

#[test]
fn verify_finds_an_intact_log_and_names_an_altered_record() {
    let mut flash = SimFlash::erased();
    let target;
    {
        let mut r = Rig::new(&mut flash);
        r.ok(&Request::SetTime { unix_seconds: MONDAY_1030 });
        for _ in 0..20 {
            r.lock.mechanical_key();
        }
        let report = r.verify();
        assert!(report.anchored && report.broken.is_none(), "{report:?}");
        assert_eq!(report.first_seq, 1);
        let all = r.read_all(1);
        assert_eq!(report.records as usize, all.len());
        target = all[all.len() / 2];
    }
    // Alter one record's bytes in flash: its time, by one second.
    let mut encoded = [0u8; 64];
    let encoded = postcard::to_slice(&target, &mut encoded).unwrap().to_vec();
    let mut bytes = flash.bytes().to_vec();
    let region = layout::EVENT_LOG.start as usize..layout::EVENT_LOG.end as usize;
    let at = bytes[region.clone()]
        .windows(encoded.len())
        .position(|w| w == encoded)
        .expect("the record is in flash")
        + region.start;
    // seq (1 byte for a small seq), then the varint time: flip a bit of its first byte.
    bytes[at + 1] ^= 0x02;
    let mut flash = SimFlash::from_bytes(bytes);
    let mut r = Rig::new(&mut flash);
    let report = r.verify();
    assert_eq!(
        report.broken,
        Some(LogBreak::Gap { after: target.seq - 1, next: target.seq + 1 }),
        "{report:?}"
    );
}

#[test]
fn clearing_keeps_seqs_increasing_and_is_recorded() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    for _ in 0..100 {
        r.lock.mechanical_key();
    }
    let before = r.next_seq();
    let (_, first, _) = r.page(1);
    let removed = before - first;
    assert_eq!(r.ask(&Request::ClearLog), Response::Status(Status::Success));
    let (records, first_seq, next_seq) = r.page(1);
    assert_eq!(first_seq, before, "the Cleared record is the first after");
    // A clear never takes the security records: the claim is still there, kept, first.
    let (kept, records): (Vec<LogRecord>, Vec<LogRecord>) =
        records.into_iter().partition(|r| r.seq < first_seq);
    assert!(
        kept.iter().any(|r| matches!(r.entry, LogEntry::Change { what: ChangeKind::Claimed, .. })),
        "{kept:?}"
    );
    assert_eq!(records[0], LogRecord { seq: before, at: 0, entry: LogEntry::Cleared { removed } });
    // Who cleared it comes right after.
    assert_eq!(
        records[1].entry,
        LogEntry::Change { what: ChangeKind::LogCleared, role: Role::Installer, user: None }
    );
    assert_eq!(next_seq, before + 2);
    r.lock.mechanical_key();
    let records = r.page(before).0;
    assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), [before, before + 1, before + 2]);
    let report = r.verify();
    assert!(report.broken.is_none() && report.anchored, "{report:?}");
    // And after a restart.
    drop(r);
    let mut r = Rig::new(&mut flash);
    let (records, first_seq, _) = r.page(before);
    assert_eq!(first_seq, before);
    assert!(matches!(records[3].entry, LogEntry::PowerUp { boot_count: 2, .. }));
}

#[test]
fn a_door_left_open_raises_door_ajar_once_per_opening() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.ok(&Request::SetSetting(Setting::DoorAjarSeconds(5)));
    let from = r.next_seq();
    let ajar = |r: &Rig| r.lock.alarms().iter().any(|a| a.alarm == Alarm::DoorAjar);
    r.lock.mechanical_key();
    r.lock.door_changed(true);
    r.clock.advance(4_900);
    r.lock.tick();
    assert!(!ajar(&r), "raised before its time");
    r.clock.advance(100);
    r.lock.tick();
    assert!(ajar(&r));
    // Cleared by an installer while the door still stands open: stays cleared.
    r.ok(&Request::ClearAlarms);
    r.clock.advance(20_000);
    r.lock.tick();
    assert!(!ajar(&r));
    // Closing and leaving it open again raises it again.
    r.lock.door_changed(false);
    r.lock.door_changed(true);
    r.clock.advance(5_000);
    r.lock.tick();
    assert!(ajar(&r));
    r.lock.door_changed(false);
    assert!(!ajar(&r), "closing the door clears it");
    // 0 turns it off.
    r.ok(&Request::SetSetting(Setting::DoorAjarSeconds(0)));
    r.lock.door_changed(true);
    r.clock.advance(20_000);
    r.lock.tick();
    assert!(!ajar(&r));
    let raised = r
        .read_all(from)
        .into_iter()
        .filter(|rec| rec.entry == alarm(Alarm::DoorAjar, true))
        .count();
    assert_eq!(raised, 2, "once per opening");
    assert_eq!(
        r.ask(&Request::SetSetting(Setting::DoorAjarSeconds(3601))),
        Response::Refused(Refusal::invalid(Field::Setting(SettingKey::DoorAjarSeconds)))
    );
}

#[test]
fn a_low_battery_beeps_when_it_turns_low_and_after_each_unlock() {
    use latchkey_firmware::hal::Beep;
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    let played = |r: &mut Rig| {
        std::mem::take(&mut r.lock.devices().beeper.played)
            .into_iter()
            .map(|(beep, _)| beep)
            .collect::<Vec<_>>()
    };
    r.ok(&Request::PutUser { id: 1, write: UserWrite::Add, spec: spec("Ann", UserKind::Owner) });
    r.ok(&Request::SetPin { user: 1, pin: Pin::try_from(ANN_PIN).unwrap() });
    let open = |r: &mut Rig| {
        assert!(r.lock.keypad_entry(ANN_PIN).granted);
        r.lock.tick();
    };
    open(&mut r);
    assert_eq!(played(&mut r), [], "a good battery is silent");
    r.battery.set_millivolts(4800);
    r.lock.tick();
    r.lock.tick();
    assert_eq!(played(&mut r), [Beep::LowBattery], "once on turning low");
    open(&mut r);
    assert_eq!(played(&mut r), [Beep::LowBattery], "after an unlock");
    r.battery.set_millivolts(4400);
    r.lock.tick();
    open(&mut r);
    assert_eq!(played(&mut r), [Beep::CriticalBattery, Beep::CriticalBattery]);
    // A mechanical key opens without the motor: nothing to say after it.
    r.lock.mechanical_key();
    assert_eq!(played(&mut r), []);
    // Volume off: silent, but the log and the alarms still tell.
    r.ok(&Request::SetSetting(Setting::BeeperVolume(latchkey_protocol::BeeperVolume::Off)));
    open(&mut r);
    assert_eq!(played(&mut r), []);
    assert!(r.lock.alarms().iter().any(|a| a.alarm == Alarm::CriticalBattery));
}

#[test]
fn a_technician_reads_and_verifies_but_cannot_clear() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.ok(&Request::EndSession);
    let mut t =
        session(&mut r.link, &mut r.lock, Role::Technician, &test_keys().technician).unwrap();
    let mut ask = |request: &Request| t.ask(&mut r.link, &mut r.lock, request);
    assert!(matches!(ask(&Request::ReadLog { from_seq: 1 }), Response::Log { .. }));
    assert!(matches!(ask(&Request::VerifyLog), Response::LogReport(_)));
    assert_eq!(ask(&Request::ClearLog), Response::Status(Status::NotAuthorized));
    assert_eq!(ask(&Request::ClearAlarms), Response::Status(Status::NotAuthorized));
    let Response::Log { records, .. } = ask(&Request::ReadLog { from_seq: 1 }) else {
        unreachable!()
    };
    let entries: Vec<_> = records.iter().map(|r| r.entry).collect();
    // The installer's session changed nothing: one record for it, at its end.
    assert!(entries.contains(&LogEntry::Session { role: Role::Installer, opened: true }));
    assert!(!entries.contains(&LogEntry::Session { role: Role::Installer, opened: false }));
    // The technician's own session is not in the log while it only reads; and a second quiet
    // session within ten minutes of the first is not logged at all.
    assert!(!entries.contains(&LogEntry::Session { role: Role::Technician, opened: true }));
    // Nothing was cleared.
    assert_eq!(records[0].seq, 1);
}

#[test]
fn failed_authentications_are_logged() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.ok(&Request::EndSession);
    let wrong = latchkey_protocol::crypto::SecretKey([0x33; 32]);
    assert!(session(&mut r.link, &mut r.lock, Role::Installer, &wrong).is_err());
    r.clock.advance(5_000);
    r.s = installer(&mut r.link, &mut r.lock);
    let entries: Vec<_> = r.read_all(1).into_iter().map(|rec| rec.entry).collect();
    assert!(entries.contains(&LogEntry::AuthFailed { claim: false }), "{entries:?}");
}

#[test]
fn clearing_alarms_logs_each_and_who() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.lock.tamper_changed(true);
    r.lock.door_changed(true);
    let from = r.next_seq();
    assert_eq!(r.ask(&Request::ClearAlarms), Response::Status(Status::Success));
    assert_eq!(r.ask(&Request::GetAlarms), Response::Alarms(heapless::Vec::new()));
    let entries: Vec<_> = r.read_all(from).into_iter().map(|rec| rec.entry).collect();
    assert_eq!(
        entries,
        [
            alarm(Alarm::Tamper, false),
            alarm(Alarm::ForcedOpen, false),
            change(ChangeKind::AlarmsCleared, None),
        ]
    );
}

#[test]
fn battery_thresholds_raise_once_each_and_fresh_batteries_are_noticed() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.ok(&Request::SetTime { unix_seconds: MONDAY_1030 });
    let from = r.next_seq();
    for mv in [5000, 4890, 4950, 4880, 4890, 4490, 4550, 4480, 4400] {
        r.battery.set_millivolts(mv);
        r.lock.tick();
        r.lock.tick();
    }
    // Critical keeps opening, and says so.
    r.lock.mechanical_key();
    r.ok(&Request::PutUser { id: 1, write: UserWrite::Add, spec: spec("Ann", UserKind::Owner) });
    r.ok(&Request::SetPin { user: 1, pin: Pin::try_from(ANN_PIN).unwrap() });
    let record = r.lock.keypad_entry(ANN_PIN);
    assert!(record.granted);
    // The motor ran on the weak pack: the loaded figure sagged well below the rest voltage.
    let Response::Battery(weak) = r.ask(&Request::GetBattery) else { panic!() };
    assert!(weak.loaded_millivolts < 4400 - 300, "{weak:?}");
    assert!(weak.loaded_millivolts <= weak.millivolts, "{weak:?}");
    r.battery.set_millivolts(6200);
    r.lock.tick();
    let entries: Vec<_> = r
        .read_all(from)
        .into_iter()
        .map(|rec| rec.entry)
        .filter(|e| !matches!(e, LogEntry::Change { .. }))
        .collect();
    use BatteryState::{Critical, Low, Ok};
    let battery = |millivolts, state, replaced| LogEntry::Battery { millivolts, state, replaced };
    assert_eq!(
        entries,
        [
            battery(4890, Low, false),
            alarm(Alarm::LowBattery, true),
            battery(4490, Critical, false),
            alarm(Alarm::LowBattery, false),
            alarm(Alarm::CriticalBattery, true),
            access(AccessPath::MechanicalKey, true, None, AccessReason::MechanicalKey),
            access(AccessPath::Keypad, true, Some(1), AccessReason::Granted),
            battery(4400, Critical, false),
            battery(6200, Ok, true),
            alarm(Alarm::CriticalBattery, false),
        ]
    );
    let Response::Battery(report) = r.ask(&Request::GetBattery) else { panic!() };
    assert_eq!(report.millivolts, 6200);
    assert_eq!(report.state, Ok);
    assert!(report.replaced_at.is_some_and(|at| at >= MONDAY_1030));
    // The motor ran on the weak pack, but that pack is gone: its sag says nothing of the new
    // one, whose figure under load is its rest voltage until the motor runs on it.
    assert_eq!(report.loaded_millivolts, 6200, "{report:?}");
    // A second reading without a motor run keeps the last loaded figure.
    let Response::Battery(again) = r.ask(&Request::GetBattery) else { panic!() };
    assert_eq!(again.loaded_millivolts, report.loaded_millivolts);
    assert!(again.operations_left > 10_000, "{again:?}");

    // A replacement across a power cut: low before, fresh after.
    r.battery.set_millivolts(4800);
    r.lock.tick();
    let battery_handle = r.battery.clone();
    drop(r);
    battery_handle.set_millivolts(6300);
    let (mut lock, _clock) = boot_full(&mut flash, battery_handle);
    assert!(lock.alarms().iter().any(|a| a.alarm == Alarm::LowBattery), "still listed at boot");
    lock.tick();
    assert!(lock.alarms().is_empty());
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    let Response::Log { records, .. } =
        s.ask(&mut link, &mut lock, &Request::ReadLog { from_seq: 1 })
    else {
        panic!()
    };
    let _ = records;
    let Response::Log { next_seq, .. } =
        s.ask(&mut link, &mut lock, &Request::ReadLog { from_seq: u32::MAX })
    else {
        panic!()
    };
    let mut from = next_seq.saturating_sub(8);
    let mut tail = Vec::new();
    while let Response::Log { records, .. } =
        s.ask(&mut link, &mut lock, &Request::ReadLog { from_seq: from })
    {
        if records.is_empty() {
            break;
        }
        from = records.last().unwrap().seq + 1;
        tail.extend(records.iter().map(|r| r.entry));
    }
    assert!(tail.contains(&battery(6300, Ok, true)), "{tail:?}");
}

#[test]
fn diagnostics_tell_the_log_the_users_the_bolt_and_the_motor() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.ok(&Request::PutUser { id: 1, write: UserWrite::Add, spec: spec("Ann", UserKind::Owner) });
    r.ok(&Request::SetPin { user: 1, pin: Pin::try_from(ANN_PIN).unwrap() });
    r.lock.keypad_entry(ANN_PIN);
    r.lock.door_changed(true);
    let Response::Diagnostics(d) = r.ask(&Request::GetDiagnostics) else { panic!() };
    assert_eq!(d.reset_reason, ResetReason::PowerOn);
    assert_eq!(d.users, 1);
    assert!(!d.bolt_locked && d.door_open);
    assert_eq!(d.motor_runs, 1);
    assert_eq!((d.motor_last_ms, d.motor_last_ma), (350, 600));
    assert!(d.log_capacity >= 2000);
    assert_eq!(d.log_records, r.next_seq() - 1);
    // A jam: the motor stalls to its time-out at a higher current.
    r.lock.door_changed(false);
    r.lock.devices().motor.jammed = true;
    r.lock.keypad_entry(ANN_PIN);
    let Response::Diagnostics(d) = r.ask(&Request::GetDiagnostics) else { panic!() };
    assert_eq!(d.motor_runs, 2);
    assert!(d.motor_last_ms > 350 && d.motor_last_ma > 600, "{d:?}");
}

#[test]
fn a_corrupted_log_region_does_not_stop_the_door() {
    let mut flash = SimFlash::erased();
    {
        let mut r = Rig::new(&mut flash);
        r.ok(&Request::PutUser {
            id: 1,
            write: UserWrite::Add,
            spec: spec("Ann", UserKind::Owner),
        });
        r.ok(&Request::SetPin { user: 1, pin: Pin::try_from(ANN_PIN).unwrap() });
    }
    // Page markers that make no sense as a queue: every page's start marker written.
    let mut bytes = flash.bytes().to_vec();
    let mut page = layout::EVENT_LOG.start as usize;
    while page < layout::EVENT_LOG.end as usize {
        bytes[page..page + 4].fill(0);
        bytes[page + 1020..page + 1024].fill(0x55);
        page += 1024;
    }
    let mut flash = SimFlash::from_bytes(bytes);
    let mut r = Rig::new(&mut flash);
    assert!(r.lock.keypad_entry(ANN_PIN).granted, "the door still opens");
    assert!(r.lock.event_log().is_none());
    let Response::Diagnostics(d) = r.ask(&Request::GetDiagnostics) else { panic!() };
    assert_eq!((d.log_capacity, d.log_records), (0, 0), "diagnostics say the log is out");
    assert_eq!(r.ask(&Request::ReadLog { from_seq: 1 }).refusal(), Some(Status::Failure.into()));
    assert!(r.lock.log_failures() >= 1);
}

#[test]
fn the_largest_log_page_fits_a_sealed_frame() {
    let record = LogRecord {
        seq: u32::MAX - 1,
        at: u64::MAX,
        entry: LogEntry::ClockSet { from: u64::MAX, to: u64::MAX },
    };
    let mut records = heapless::Vec::<LogRecord, LOG_PAGE>::new();
    while records.push(record).is_ok() {}
    let page = Response::Log { records, first_seq: u32::MAX, next_seq: u32::MAX };
    let mut buf = [0u8; 1024];
    let len = postcard::to_slice(&page, &mut buf).unwrap().len();
    assert!(len <= MAX_SEALED_PLAINTEXT, "{len} > {MAX_SEALED_PLAINTEXT}");
}

#[test]
fn the_clock_set_over_the_cable_is_logged_from_and_to() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    let from = r.next_seq();
    r.ok(&Request::SetTime { unix_seconds: MONDAY_1030 });
    r.ok(&Request::SetTime { unix_seconds: MONDAY_1030 + 60 });
    let entries: Vec<_> = r
        .read_all(from)
        .into_iter()
        .map(|rec| rec.entry)
        .filter(|e| !matches!(e, LogEntry::Session { .. }))
        .collect();
    assert!(matches!(entries[0], LogEntry::ClockSet { from: 0, to: MONDAY_1030 }));
    assert!(
        matches!(entries[1], LogEntry::ClockSet { from, to } if to == MONDAY_1030 + 60 && from >= MONDAY_1030),
        "{entries:?}"
    );
}
