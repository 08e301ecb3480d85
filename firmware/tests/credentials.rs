//! Users, credentials and access decisions through real sessions on the real core: every
//! rule of the lock, each access path, enrollment, alarms, capacities and the checksum.
// Tests may unwrap and panic; the core may not (firmware/Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::rig::Rig;
use common::{installer, session, test_keys};
use latchkey_firmware::hal::{Phone, PhoneAnswer};
use latchkey_firmware::{Link, LockPort};
use latchkey_protocol::checksum::{self, Checksum, ChecksumCredential};
use latchkey_protocol::{
    AccessPath, AccessReason, AccessRecord, Alarm, CardUid, Credential, EnrollFailure, EnrollKind,
    Enrollment, Event, Field, Limit, Pin, Refusal, Request, Response, Role, Setting, Status,
    USERS_PAGE, UserKind, UserName, UserSpec, UserWrite, WeeklyWindow,
};
use latchkey_sim::{SimFlash, SimPhone};

/// 2024-01-01T10:30:00Z, a Monday.
const MONDAY_1030: u64 = 1_704_105_000;

impl Rig<'_> {
    /// The events since the last call, without log records (they have their own tests, in
    /// `lock_log.rs`).
    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.lock.next_event())
            .filter(|e| !matches!(e, Event::Logged(_)))
            .collect()
    }
}

fn name(s: &str) -> UserName {
    UserName::try_from(s).unwrap()
}

fn spec(n: &str, kind: UserKind) -> UserSpec {
    UserSpec {
        name: name(n),
        kind,
        enabled: true,
        valid_from: None,
        valid_until: None,
        use_limit: None,
        weekly: heapless::Vec::new(),
    }
}

fn owner(n: &str) -> UserSpec {
    spec(n, UserKind::Owner)
}

fn uid(bytes: &[u8]) -> CardUid {
    CardUid::from_slice(bytes).unwrap()
}

fn granted(record: &AccessRecord, user: u16, path: AccessPath) {
    assert!(record.granted, "expected a grant, got {record:?}");
    assert_eq!((record.user, record.path), (Some(user), path));
}

fn refused(record: &AccessRecord, user: Option<u16>, reason: AccessReason) {
    assert!(!record.granted, "expected a refusal, got {record:?}");
    assert_eq!((record.user, record.reason), (user, reason));
}

#[test]
fn pins_weak_duplicate_length_and_leading_zeros() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.add(1, &owner("Ann"));
    r.add(2, &owner("Bob"));
    for weak in ["0000", "1234", "9876", "34567", "1212", "121212"] {
        assert_eq!(r.set_pin(1, weak), Status::Weak, "{weak}");
    }
    for invalid in ["123", "12345678901", "12a45", "1234 ", "-12345"] {
        assert_eq!(r.set_pin(1, invalid), Status::InvalidField, "{invalid:?}");
    }
    assert_eq!(r.set_pin(1, "058213"), Status::Success);
    assert_eq!(r.set_pin(1, "058213"), Status::Success, "the same PIN again converges");
    assert_eq!(r.set_pin(2, "058213"), Status::Duplicate, "another user's PIN");
    assert_eq!(r.set_pin(2, "58213"), Status::Success, "the leading zero counts");
    assert_eq!(r.set_pin(9, "480151"), Status::NotFound);
    granted(&r.pin("058213"), 1, AccessPath::Keypad);
    granted(&r.pin("58213"), 2, AccessPath::Keypad);
    refused(&r.pin("0058213"), None, AccessReason::UnknownCredential);
    // A new PIN replaces the old one: one PIN credential.
    assert_eq!(r.set_pin(1, "480151"), Status::Success);
    assert_eq!(r.user(1).credentials, [Credential::Pin]);
    refused(&r.pin("058213"), None, AccessReason::UnknownCredential);
    granted(&r.pin("480151"), 1, AccessPath::Keypad);
    assert_eq!(r.status(&Request::RemovePin { user: 1 }), Status::Success);
    assert_eq!(r.status(&Request::RemovePin { user: 1 }), Status::NotFound);
    refused(&r.pin("480151"), None, AccessReason::UnknownCredential);
}

#[test]
fn put_user_validates_converges_and_modify_keeps_credentials() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    let ann = owner("Ann");
    // (An `Add` with id 0 takes the lowest free number: tests/refusals.rs.)
    assert_eq!(
        r.ask(&Request::PutUser { id: 0, write: UserWrite::Modify, spec: ann.clone() }),
        Response::Refused(Refusal::invalid(Field::UserId))
    );
    let out_of_range = Refusal::exhausted(Limit::UserIdRange).with_field(Field::UserId);
    assert_eq!(r.put(101, &ann), Response::Refused(out_of_range));
    for bad in [
        spec("", UserKind::Owner),
        spec("Ann\n", UserKind::Owner),
        spec("Ann", UserKind::Scheduled),
        spec("Ann", UserKind::Guest),
        spec("Ann", UserKind::Expiring { minutes: 0 }),
        spec("Ann", UserKind::Expiring { minutes: 2881 }),
        UserSpec { use_limit: Some(0), ..owner("Ann") },
        UserSpec { use_limit: Some(2), ..spec("Ann", UserKind::OneTime) },
        UserSpec { valid_from: Some(5), valid_until: Some(5), ..spec("Ann", UserKind::Guest) },
    ] {
        let refused = r.put(1, &bad).refusal().map(|refusal| refusal.status);
        assert_eq!(refused, Some(Status::InvalidField), "{bad:?}");
    }
    let Response::User(first) = r.put(1, &ann) else { panic!("added") };
    assert_eq!((first.id, &first.spec, first.uses_left), (1, &ann, None));
    assert_eq!(r.put(1, &ann), Response::User(first.clone()), "an identical add converges");
    assert_eq!(r.put(1, &owner("Bob")), Response::Refused(Status::Occupied.into()));
    let modify = |spec: UserSpec| Request::PutUser { id: 1, write: UserWrite::Modify, spec };
    assert_eq!(
        r.ask(&Request::PutUser { id: 2, write: UserWrite::Modify, spec: ann.clone() }),
        Response::Refused(Refusal::not_found(Field::UserId))
    );
    assert_eq!(r.set_pin(1, "058213"), Status::Success);
    assert_eq!(r.status(&Request::AddCard { user: 1, uid: uid(&[1, 2, 3, 4]) }), Status::Success);
    let limited = UserSpec { use_limit: Some(3), ..owner("Ann Lee") };
    let Response::User(changed) = r.ask(&modify(limited.clone())) else { panic!("modified") };
    assert_eq!(changed.spec, limited);
    assert_eq!(changed.uses_left, Some(3), "a new limit starts a new allowance");
    assert_eq!(changed.credentials.len(), 2, "credentials are kept");
    granted(&r.pin("058213"), 1, AccessPath::Keypad);
    assert_eq!(r.user(1).uses_left, Some(2));
    // Same limit, other name: the count goes on.
    let renamed = UserSpec { name: name("Ann L."), ..limited };
    let Response::User(renamed) = r.ask(&modify(renamed)) else { panic!("modified") };
    assert_eq!(renamed.uses_left, Some(2));
    assert_eq!(r.status(&Request::RemoveUser { id: 1 }), Status::Success);
    assert_eq!(r.status(&Request::RemoveUser { id: 1 }), Status::NotFound);
    assert_eq!(
        r.ask(&Request::GetUser { id: 1 }),
        Response::Refused(Refusal::not_found(Field::UserId))
    );
    refused(&r.pin("058213"), None, AccessReason::UnknownCredential);
}

#[test]
fn list_users_pages_in_number_order() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    let ids = [40u16, 3, 17, 1, 99, 8, 23, 5, 61];
    for id in ids {
        r.add(id, &owner(&format!("User {id}")));
    }
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let Response::Users { users, more } = r.ask(&Request::ListUsers { after }) else {
            panic!("a page");
        };
        assert!(users.len() <= USERS_PAGE);
        seen.extend(users.iter().map(|u| u.id));
        match users.last() {
            Some(last) if more => after = last.id,
            _ => break,
        }
    }
    let mut sorted = ids.to_vec();
    sorted.sort();
    assert_eq!(seen, sorted);
}

#[test]
fn cards_and_phones_duplicates_and_removal() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.add(1, &owner("Ann"));
    r.add(2, &owner("Bob"));
    let card = uid(&[0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6]);
    for bad in [&[1u8, 2, 3][..], &[1, 2, 3, 4, 5], &[0; 8]] {
        assert_eq!(r.status(&Request::AddCard { user: 1, uid: uid(bad) }), Status::InvalidField);
    }
    assert_eq!(r.status(&Request::AddCard { user: 1, uid: card.clone() }), Status::Success);
    assert_eq!(r.status(&Request::AddCard { user: 1, uid: card.clone() }), Status::Success);
    assert_eq!(r.status(&Request::AddCard { user: 2, uid: card.clone() }), Status::Duplicate);
    let phone = SimPhone::from_seed(&[7; 32]).public_key();
    assert_eq!(r.status(&Request::AddPhone { user: 1, public_key: phone }), Status::Success);
    assert_eq!(r.status(&Request::AddPhone { user: 1, public_key: phone }), Status::Success);
    assert_eq!(r.status(&Request::AddPhone { user: 2, public_key: phone }), Status::Duplicate);
    assert_eq!(r.user(1).credentials.len(), 2, "no duplicates within a user either");
    let not_a_point = (0u8..=255)
        .map(|b| [b; 32])
        .find(|bytes| ed25519_dalek::VerifyingKey::from_bytes(bytes).is_err())
        .expect("some bytes are no curve point");
    let status = r.status(&Request::AddPhone { user: 2, public_key: not_a_point });
    assert_eq!(status, Status::InvalidField, "not a curve point");
    assert_eq!(r.status(&Request::RemoveCard { user: 2, uid: card.clone() }), Status::NotFound);
    assert_eq!(r.status(&Request::RemoveCard { user: 1, uid: card.clone() }), Status::Success);
    assert_eq!(r.status(&Request::RemovePhone { user: 1, public_key: phone }), Status::Success);
    assert_eq!(r.status(&Request::RemovePhone { user: 1, public_key: phone }), Status::NotFound);
    assert_eq!(r.status(&Request::RemoveFinger { user: 1, slot: 0 }), Status::NotFound);
    // Freed: now Bob may have them.
    assert_eq!(r.status(&Request::AddCard { user: 2, uid: card }), Status::Success);
}

/// A phone that signs the wrong message.
struct ForgedPhone(SimPhone);

impl Phone for ForgedPhone {
    fn sign_challenge(&mut self, serial: &str, challenge: &[u8; 32]) -> Option<PhoneAnswer> {
        let mut other = *challenge;
        other[0] ^= 1;
        self.0.sign_challenge(serial, &other)
    }
}

#[test]
fn every_path_opens_for_its_user_and_refuses_a_stranger() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.add(1, &owner("Ann"));
    assert_eq!(r.set_pin(1, "058213"), Status::Success);
    let card = [0xDE, 0xAD, 0xBE, 0xEF];
    assert_eq!(r.status(&Request::AddCard { user: 1, uid: uid(&card) }), Status::Success);
    let mut phone = SimPhone::from_seed(&[1; 32]);
    let key = phone.public_key();
    assert_eq!(r.status(&Request::AddPhone { user: 1, public_key: key }), Status::Success);
    let slot = r.enroll_finger(1, "ann-thumb");
    r.events();

    let mut decisions = Vec::new();
    // Each decision is the last access, and an event.
    let mut check = |r: &mut Rig<'_>, record: AccessRecord| {
        assert_eq!(r.events(), [Event::Access(record)]);
        assert_eq!(r.ask(&Request::GetLastAccess), Response::LastAccess(Some(record)));
        decisions.push(record);
        record
    };
    let record = r.pin("058213");
    granted(&check(&mut r, record), 1, AccessPath::Keypad);
    let record = r.lock.card_tapped(&card).unwrap();
    granted(&check(&mut r, record), 1, AccessPath::Rfid);
    let record = r.finger("ann-thumb", 80).unwrap();
    granted(&check(&mut r, record), 1, AccessPath::Fingerprint);
    let record = r.lock.phone_presented(&mut phone);
    granted(&check(&mut r, record), 1, AccessPath::Phone);
    let key_turn = r.lock.mechanical_key();
    check(&mut r, key_turn);
    assert!(key_turn.granted);
    assert_eq!((key_turn.user, key_turn.reason), (None, AccessReason::MechanicalKey));

    let record = r.pin("480151");
    refused(&check(&mut r, record), None, AccessReason::UnknownCredential);
    let record = r.lock.card_tapped(&[1, 2, 3, 4]).unwrap();
    refused(&check(&mut r, record), None, AccessReason::UnknownCredential);
    let record = r.finger("eve-thumb", 90).unwrap();
    refused(&check(&mut r, record), None, AccessReason::UnknownCredential);
    let mut stranger = SimPhone::from_seed(&[2; 32]);
    let record = r.lock.phone_presented(&mut stranger);
    refused(&check(&mut r, record), None, AccessReason::UnknownCredential);
    let mut forged = ForgedPhone(SimPhone::from_seed(&[1; 32]));
    let record = r.lock.phone_presented(&mut forged);
    refused(&check(&mut r, record), None, AccessReason::BadSignature);
    assert_eq!(decisions.len(), 10);
    // The finger's template is the sensor's; removing it takes it from both.
    assert_eq!(r.status(&Request::RemoveFinger { user: 1, slot }), Status::Success);
    assert_eq!(r.lock.devices().fingerprint.template(slot), None);
    refused(&r.finger("ann-thumb", 90).unwrap(), None, AccessReason::UnknownCredential);
}

#[test]
fn a_grant_drives_the_bolt_and_it_relocks_a_jam_raises_an_alarm() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.add(1, &owner("Ann"));
    assert_eq!(r.set_pin(1, "058213"), Status::Success);
    let Response::Settings(settings) = r.ask(&Request::SetSetting(Setting::AutoRelockSeconds(5)))
    else {
        panic!("settings")
    };
    assert_eq!(settings.auto_relock_seconds, 5);
    assert!(r.lock.bolt_locked());
    granted(&r.pin("058213"), 1, AccessPath::Keypad);
    assert!(!r.lock.bolt_locked());
    r.clock.advance(4_000);
    r.lock.tick();
    assert!(!r.lock.bolt_locked(), "not yet");
    r.clock.advance(1_500);
    r.lock.tick();
    assert!(r.lock.bolt_locked(), "relocked after 5 s");
    use latchkey_firmware::hal::BoltDirection::{Lock, Unlock};
    assert_eq!(r.lock.devices().motor.moves, [Unlock, Lock]);
    r.lock.devices().motor.jammed = true;
    let record = r.pin("058213");
    assert!(record.granted, "the decision stands");
    assert!(r.lock.bolt_locked(), "but the bolt did not move");
    assert!(r.alarms().contains(&Alarm::Jammed));
    r.lock.devices().motor.jammed = false;
    granted(&r.pin("058213"), 1, AccessPath::Keypad);
    assert!(!r.alarms().contains(&Alarm::Jammed), "a drive that works clears it");
}

#[test]
fn guest_window_needs_the_clock() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    let guest = UserSpec {
        valid_from: Some(MONDAY_1030 + 3600),
        valid_until: Some(MONDAY_1030 + 7200),
        ..spec("Guest", UserKind::Guest)
    };
    r.add(5, &guest);
    assert_eq!(r.set_pin(5, "284917"), Status::Success);
    refused(&r.pin("284917"), Some(5), AccessReason::ClockNotSet);
    r.set_time(MONDAY_1030);
    refused(&r.pin("284917"), Some(5), AccessReason::NotYetValid);
    r.clock.advance(3600 * 1000);
    granted(&r.pin("284917"), 5, AccessPath::Keypad);
    r.clock.advance(3601 * 1000);
    refused(&r.pin("284917"), Some(5), AccessReason::Expired);
}

#[test]
fn scheduled_user_only_inside_a_window() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    let mut weekly = heapless::Vec::new();
    // Monday to Friday, 09:00 to 17:00 UTC.
    weekly.push(WeeklyWindow { days: 0b001_1111, start_minute: 540, end_minute: 1020 }).unwrap();
    r.add(3, &UserSpec { weekly, ..spec("Cleaner", UserKind::Scheduled) });
    assert_eq!(r.status(&Request::AddCard { user: 3, uid: uid(&[9, 9, 9, 9]) }), Status::Success);
    r.set_time(MONDAY_1030);
    granted(&r.lock.card_tapped(&[9, 9, 9, 9]).unwrap(), 3, AccessPath::Rfid);
    r.set_time(MONDAY_1030 + 7 * 3600); // 17:30
    let record = r.lock.card_tapped(&[9, 9, 9, 9]).unwrap();
    refused(&record, Some(3), AccessReason::OutsideSchedule);
    r.set_time(MONDAY_1030 + 5 * 86_400); // Saturday 10:30
    let record = r.lock.card_tapped(&[9, 9, 9, 9]).unwrap();
    refused(&record, Some(3), AccessReason::OutsideSchedule);
}

#[test]
fn one_time_and_use_limits_count_down_durably() {
    let mut flash = SimFlash::erased();
    {
        let mut r = Rig::new(&mut flash);
        r.add(1, &spec("Once", UserKind::OneTime));
        r.add(2, &UserSpec { use_limit: Some(3), ..owner("Thrice") });
        assert_eq!(r.set_pin(1, "905316"), Status::Success);
        assert_eq!(r.set_pin(2, "271828"), Status::Success);
        assert_eq!(r.user(1).uses_left, Some(1));
        granted(&r.pin("905316"), 1, AccessPath::Keypad);
        refused(&r.pin("905316"), Some(1), AccessReason::UsesExhausted);
        granted(&r.pin("271828"), 2, AccessPath::Keypad);
    }
    for left in [1, 0] {
        // Power off and on: the count is in flash.
        let mut r = Rig::new(&mut flash);
        assert_eq!(r.user(1).uses_left, Some(0));
        assert_eq!(r.user(2).uses_left, Some(left + 1));
        granted(&r.pin("271828"), 2, AccessPath::Keypad);
        assert_eq!(r.user(2).uses_left, Some(left));
    }
    let mut r = Rig::new(&mut flash);
    refused(&r.pin("271828"), Some(2), AccessReason::UsesExhausted);
}

#[test]
fn expiring_user_runs_out_after_first_use() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.add(4, &spec("Courier", UserKind::Expiring { minutes: 10 }));
    assert_eq!(r.set_pin(4, "613049"), Status::Success);
    refused(&r.pin("613049"), Some(4), AccessReason::ClockNotSet);
    r.set_time(MONDAY_1030);
    granted(&r.pin("613049"), 4, AccessPath::Keypad);
    let first = r.user(4).first_used.expect("first use recorded");
    assert!((MONDAY_1030..MONDAY_1030 + 5).contains(&first));
    r.clock.advance(9 * 60 * 1000);
    granted(&r.pin("613049"), 4, AccessPath::Keypad);
    r.clock.advance(2 * 60 * 1000);
    refused(&r.pin("613049"), Some(4), AccessReason::Expired);
}

#[test]
fn wrong_codes_lock_the_keypad_out_then_it_recovers() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.add(1, &owner("Ann"));
    assert_eq!(r.set_pin(1, "058213"), Status::Success);
    r.ask(&Request::SetSetting(Setting::WrongCodeLimit(3)));
    r.ask(&Request::SetSetting(Setting::LockoutSeconds(60)));
    // A right PIN in between resets the count.
    refused(&r.pin("111112"), None, AccessReason::UnknownCredential);
    refused(&r.pin("111113"), None, AccessReason::UnknownCredential);
    granted(&r.pin("058213"), 1, AccessPath::Keypad);
    r.events();
    for attempt in ["111112", "111113", "111114"] {
        refused(&r.pin(attempt), None, AccessReason::UnknownCredential);
    }
    assert!(r.events().contains(&Event::AlarmRaised(Alarm::WrongCodeLimit)));
    assert!(r.alarms().contains(&Alarm::WrongCodeLimit));
    let raised = |r: &Rig<'_>| r.lock.alarms().iter().any(|a| a.alarm == Alarm::WrongCodeLimit);
    refused(&r.pin("058213"), None, AccessReason::KeypadLockedOut);
    // Other paths still work.
    r.lock.mechanical_key();
    r.clock.advance(59_000);
    r.lock.tick();
    refused(&r.pin("058213"), None, AccessReason::KeypadLockedOut);
    assert!(raised(&r));
    r.clock.advance(1_000);
    r.lock.tick();
    assert!(!raised(&r), "cleared when the lockout ends");
    granted(&r.pin("058213"), 1, AccessPath::Keypad);
}

#[test]
fn disabled_non_access_and_duress_users() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.add(1, &owner("Ann"));
    assert_eq!(r.set_pin(1, "058213"), Status::Success);
    let off = UserSpec { enabled: false, ..owner("Ann") };
    let modify = |spec: UserSpec| Request::PutUser { id: 1, write: UserWrite::Modify, spec };
    assert!(matches!(r.ask(&modify(off)), Response::User(_)));
    refused(&r.pin("058213"), Some(1), AccessReason::UserDisabled);
    assert!(matches!(r.ask(&modify(owner("Ann"))), Response::User(_)));
    granted(&r.pin("058213"), 1, AccessPath::Keypad);

    r.add(2, &spec("Archive", UserKind::NonAccess));
    assert_eq!(r.status(&Request::AddCard { user: 2, uid: uid(&[5, 5, 5, 5]) }), Status::Success);
    let record = r.lock.card_tapped(&[5, 5, 5, 5]).unwrap();
    refused(&record, Some(2), AccessReason::NonAccessUser);

    r.add(3, &spec("Forced", UserKind::Duress));
    assert_eq!(r.set_pin(3, "731904"), Status::Success);
    r.events();
    let record = r.pin("731904");
    assert!(record.granted);
    assert_eq!((record.user, record.reason), (Some(3), AccessReason::Duress));
    let events = r.events();
    assert!(events.contains(&Event::AlarmRaised(Alarm::Duress)));
    assert!(events.contains(&Event::Access(record)));
    assert!(r.alarms().contains(&Alarm::Duress));
}

#[test]
fn capacities_are_resource_exhausted() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.add(1, &owner("Ann"));
    assert_eq!(r.set_pin(1, "058213"), Status::Success);
    for i in 0..7u8 {
        assert_eq!(
            r.status(&Request::AddCard { user: 1, uid: uid(&[1, 1, 1, i]) }),
            Status::Success
        );
    }
    assert_eq!(
        r.status(&Request::AddCard { user: 1, uid: uid(&[1, 1, 1, 99]) }),
        Status::ResourceExhausted,
        "8 credentials per user"
    );
    let full = Response::Refused(Refusal::exhausted(Limit::UserCredentials));
    assert_eq!(r.ask(&Request::LearnCard { user: 1 }), full);
    assert_eq!(r.ask(&Request::EnrollFinger { user: 1 }), full);
    // A new PIN replaces the old one even when full.
    assert_eq!(r.set_pin(1, "480151"), Status::Success);
    for id in 2..=100 {
        r.add(id, &owner(&format!("U{id}")));
    }
    assert_eq!(
        r.put(101, &owner("One too many")).refusal().map(|refusal| refusal.status),
        Some(Status::ResourceExhausted)
    );
    let Response::Checksum { users, .. } = r.ask(&Request::GetChecksum) else { panic!() };
    assert_eq!(users, 100);
}

#[test]
fn the_largest_users_all_fit_the_credentials_region() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    // 100 users of 24-byte names with 8 phone keys each: the largest records there are. The
    // region is sized for them (a full region would answer ResourceExhausted).
    for id in 1..=100u16 {
        let spec = UserSpec { name: name(&format!("{id:0>24}")), ..owner("x") };
        r.add(id, &spec);
        for k in 0..8u8 {
            let mut seed = [0u8; 32];
            seed[..2].copy_from_slice(&id.to_le_bytes());
            seed[2] = k;
            let public_key = SimPhone::from_seed(&seed).public_key();
            assert_eq!(
                r.status(&Request::AddPhone { user: id, public_key }),
                Status::Success,
                "user {id} phone {k}"
            );
        }
    }
    let Response::Checksum { users, credentials, .. } = r.ask(&Request::GetChecksum) else {
        panic!("checksum")
    };
    assert_eq!((users, credentials), (100, 800));
    // And it all comes back after a power cycle, and can still change.
    drop(r);
    let mut r = Rig::new(&mut flash);
    assert_eq!(r.user(100).credentials.len(), 8);
    assert_eq!(r.status(&Request::RemoveUser { id: 50 }), Status::Success);
    assert!(matches!(r.put(50, &owner("Again")), Response::User(_)));
}

#[test]
fn card_learning_takes_the_next_tap() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.add(1, &owner("Ann"));
    r.add(2, &owner("Bob"));
    assert_eq!(
        r.ask(&Request::LearnCard { user: 9 }),
        Response::Refused(Refusal::not_found(Field::UserId))
    );
    assert_eq!(r.enrollment(), Enrollment::Idle);
    let Response::Enrollment(started) = r.ask(&Request::LearnCard { user: 1 }) else { panic!() };
    assert!(matches!(
        started,
        Enrollment::InProgress { kind: EnrollKind::Card, user: 1, captures: 0, needed: 1, .. }
    ));
    let before = r.lock.last_access();
    assert_eq!(r.lock.card_tapped(&[0xCA, 0xFE, 0xBA, 0xBE]), None, "no access decision");
    assert_eq!(r.lock.last_access(), before);
    let done = Enrollment::Done {
        user: 1,
        credential: Credential::Card { uid: uid(&[0xCA, 0xFE, 0xBA, 0xBE]) },
    };
    assert_eq!(r.enrollment(), done);
    assert!(r.events().contains(&Event::Enrollment(done)));
    granted(&r.lock.card_tapped(&[0xCA, 0xFE, 0xBA, 0xBE]).unwrap(), 1, AccessPath::Rfid);
    // Someone else's card: refused, nothing added.
    r.ask(&Request::LearnCard { user: 2 });
    r.lock.card_tapped(&[0xCA, 0xFE, 0xBA, 0xBE]);
    assert_eq!(
        r.enrollment(),
        Enrollment::Failed { kind: EnrollKind::Card, user: 2, reason: EnrollFailure::Duplicate }
    );
    assert!(r.user(2).credentials.is_empty());
    // Cancelled, and timed out.
    r.ask(&Request::LearnCard { user: 2 });
    assert_eq!(r.status(&Request::CancelEnrollment), Status::Success);
    assert_eq!(
        r.enrollment(),
        Enrollment::Failed { kind: EnrollKind::Card, user: 2, reason: EnrollFailure::Cancelled }
    );
    r.ask(&Request::LearnCard { user: 2 });
    r.clock.advance(10_000);
    assert!(matches!(r.enrollment(), Enrollment::InProgress { seconds_left: 20, .. }));
    r.clock.advance(20_000);
    r.lock.tick();
    assert_eq!(
        r.enrollment(),
        Enrollment::Failed { kind: EnrollKind::Card, user: 2, reason: EnrollFailure::TimedOut }
    );
    // After it, a tap is an access attempt again.
    assert!(r.lock.card_tapped(&[7, 7, 7, 7]).is_some());
}

#[test]
fn finger_enrollment_progress_quality_duplicate_and_timeout() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.add(1, &owner("Ann"));
    r.add(2, &owner("Bob"));
    let Response::Enrollment(started) = r.ask(&Request::EnrollFinger { user: 1 }) else { panic!() };
    assert!(matches!(
        started,
        Enrollment::InProgress {
            kind: EnrollKind::Fingerprint,
            user: 1,
            captures: 0,
            needed: 5,
            ..
        }
    ));
    r.events();
    // A poor capture does not count.
    assert_eq!(r.finger("ann-thumb", 30), None);
    assert!(matches!(
        r.enrollment(),
        Enrollment::InProgress { captures: 0, last_quality: Some(30), .. }
    ));
    for n in 1..=4u8 {
        r.finger("ann-thumb", 85);
        assert!(matches!(r.enrollment(), Enrollment::InProgress { captures, .. } if captures == n));
    }
    let progress = r.events();
    assert_eq!(progress.len(), 5, "an event per capture: {progress:?}");
    r.finger("ann-thumb", 95);
    let Enrollment::Done { user: 1, credential: Credential::Fingerprint { slot } } = r.enrollment()
    else {
        panic!("done")
    };
    assert_eq!(r.lock.devices().fingerprint.template(slot), Some("ann-thumb"));
    assert!(r.user(1).credentials.contains(&Credential::Fingerprint { slot }));

    // Bob cannot enroll Ann's finger.
    r.ask(&Request::EnrollFinger { user: 2 });
    r.finger("ann-thumb", 90);
    assert_eq!(
        r.enrollment(),
        Enrollment::Failed {
            kind: EnrollKind::Fingerprint,
            user: 2,
            reason: EnrollFailure::Duplicate
        }
    );
    // Poor average: nothing added, no template.
    r.ask(&Request::EnrollFinger { user: 2 });
    for _ in 0..5 {
        r.finger("bob-index", 45);
    }
    assert_eq!(
        r.enrollment(),
        Enrollment::Failed {
            kind: EnrollKind::Fingerprint,
            user: 2,
            reason: EnrollFailure::PoorQuality
        }
    );
    assert!(r.user(2).credentials.is_empty());
    assert_eq!(r.finger("bob-index", 90).map(|a| a.reason), Some(AccessReason::UnknownCredential));
    // No progress for 30 s: timed out; cancel.
    r.ask(&Request::EnrollFinger { user: 2 });
    r.finger("bob-index", 90);
    r.clock.advance(29_000);
    r.lock.tick();
    assert!(matches!(r.enrollment(), Enrollment::InProgress { captures: 1, .. }));
    r.clock.advance(1_000);
    r.lock.tick();
    assert_eq!(
        r.enrollment(),
        Enrollment::Failed {
            kind: EnrollKind::Fingerprint,
            user: 2,
            reason: EnrollFailure::TimedOut
        }
    );
    r.ask(&Request::EnrollFinger { user: 2 });
    assert_eq!(r.status(&Request::CancelEnrollment), Status::Success);
    assert!(matches!(r.enrollment(), Enrollment::Failed { reason: EnrollFailure::Cancelled, .. }));
    let slot_b = r.enroll_finger(2, "bob-index");
    assert_ne!(slot, slot_b);
    granted(&r.finger("bob-index", 70).unwrap(), 2, AccessPath::Fingerprint);
}

#[test]
fn checksum_follows_content_and_matches_the_host() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    let checksum = |r: &mut Rig<'_>| match r.ask(&Request::GetChecksum) {
        Response::Checksum { users, credentials, digest } => (users, credentials, digest),
        other => panic!("{other:?}"),
    };
    let empty = checksum(&mut r);
    assert_eq!(empty, (0, 0, Checksum::new().digest()));
    let ann = owner("Ann");
    let bob = UserSpec { use_limit: Some(4), ..owner("Bob") };
    r.add(1, &ann);
    r.add(7, &bob);
    assert_eq!(r.set_pin(1, "058213"), Status::Success);
    assert_eq!(r.status(&Request::AddCard { user: 7, uid: uid(&[1, 2, 3, 4]) }), Status::Success);
    let phone = SimPhone::from_seed(&[3; 32]).public_key();
    assert_eq!(r.status(&Request::AddPhone { user: 7, public_key: phone }), Status::Success);
    r.enroll_finger(1, "ann-thumb");

    // The host's side: what it wrote, with the PIN key from the installer key.
    let pin_key = checksum::pin_key(&test_keys().installer);
    let digest = checksum::pin_digest(&pin_key, "058213");
    let mut host = Checksum::new();
    host.add_user(1, &ann);
    host.add_user(7, &bob);
    host.add_credential(1, ChecksumCredential::Pin(&digest));
    host.add_credential(1, ChecksumCredential::Fingerprint);
    host.add_credential(7, ChecksumCredential::Card(&[1, 2, 3, 4]));
    host.add_credential(7, ChecksumCredential::Phone(&phone));
    let full = checksum(&mut r);
    assert_eq!(full, (2, 4, host.digest()));

    // Uses counted down by the lock do not change it; content does.
    r.add(2, &owner("Cy"));
    assert_eq!(r.status(&Request::AddCard { user: 2, uid: uid(&[4, 4, 4, 4]) }), Status::Success);
    r.lock.card_tapped(&[1, 2, 3, 4]);
    assert_eq!(r.status(&Request::RemoveUser { id: 2 }), Status::Success);
    assert_eq!(checksum(&mut r), full);
    assert_eq!(r.set_pin(1, "480151"), Status::Success);
    assert_ne!(checksum(&mut r).2, full.2, "another PIN, another checksum");
}

#[test]
fn factory_reset_wipes_users_and_the_pin_key_keeps_settings() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.add(1, &owner("Ann"));
    assert_eq!(r.set_pin(1, "058213"), Status::Success);
    let slot = r.enroll_finger(1, "ann-thumb");
    r.ask(&Request::SetSetting(Setting::WrongCodeLimit(7)));
    assert_eq!(r.lock.factory_reset(), Status::Success);
    assert!(!r.lock.is_claimed());
    assert_eq!(r.lock.devices().fingerprint.template(slot), None, "templates erased");
    refused(&r.pin("058213"), None, AccessReason::UnknownCredential);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut r.lock);
    assert_eq!(
        s.ask(&mut link, &mut r.lock, &Request::GetUser { id: 1 }),
        Response::Refused(Refusal::not_found(Field::UserId))
    );
    let Response::Checksum { users, .. } = s.ask(&mut link, &mut r.lock, &Request::GetChecksum)
    else {
        panic!()
    };
    assert_eq!(users, 0);
    assert_eq!(r.lock.settings().wrong_code_limit, 7);
    refused(&r.pin("058213"), None, AccessReason::UnknownCredential);
}

#[test]
fn a_technician_reads_users_and_changes_nothing() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.add(1, &owner("Ann"));
    let mut link = Link::new();
    let mut t = session(&mut link, &mut r.lock, Role::Technician, &test_keys().technician).unwrap();
    let mut ask = |req: &Request| t.ask(&mut link, &mut r.lock, req);
    assert!(matches!(ask(&Request::GetUser { id: 1 }), Response::User(_)));
    assert!(matches!(ask(&Request::ListUsers { after: 0 }), Response::Users { .. }));
    assert!(matches!(ask(&Request::GetChecksum), Response::Checksum { .. }));
    assert!(matches!(ask(&Request::GetLastAccess), Response::LastAccess(None)));
    assert!(matches!(ask(&Request::GetAlarms), Response::Alarms(_)));
    assert!(matches!(ask(&Request::GetEnrollment), Response::Enrollment(Enrollment::Idle)));
    let denied = Response::Status(Status::NotAuthorized);
    for request in [
        Request::PutUser { id: 2, write: UserWrite::Add, spec: owner("Eve") },
        Request::RemoveUser { id: 1 },
        Request::SetPin { user: 1, pin: Pin::try_from("058213").unwrap() },
        Request::RemovePin { user: 1 },
        Request::AddCard { user: 1, uid: uid(&[1, 2, 3, 4]) },
        Request::RemoveCard { user: 1, uid: uid(&[1, 2, 3, 4]) },
        Request::LearnCard { user: 1 },
        Request::EnrollFinger { user: 1 },
        Request::CancelEnrollment,
        Request::RemoveFinger { user: 1, slot: 0 },
        Request::AddPhone { user: 1, public_key: [9; 32] },
        Request::RemovePhone { user: 1, public_key: [9; 32] },
    ] {
        assert_eq!(ask(&request), denied, "{request:?}");
    }
    assert!(r.user(1).credentials.is_empty());
}

#[test]
fn no_pin_digits_in_any_event_record_or_debug_output() {
    let mut flash = SimFlash::erased();
    let mut r = Rig::new(&mut flash);
    r.add(1, &owner("Ann"));
    let pin = "058213";
    assert_eq!(r.set_pin(1, pin), Status::Success);
    let mut texts = Vec::new();
    let mut bytes = Vec::new();
    let mut outputs = Vec::new();
    outputs.push(r.pin(pin));
    outputs.push(r.pin("692051"));
    for _ in 0..5 {
        outputs.push(r.pin("692051"));
    }
    outputs.push(r.pin(pin));
    for record in &outputs {
        texts.push(format!("{record:?}"));
    }
    let mut link = Link::new();
    for event in r.events() {
        texts.push(format!("{event:?}"));
        link.send_event(&event, &mut |frame: &[u8]| bytes.extend_from_slice(frame));
    }
    texts.push(format!("{:?}", r.user(1)));
    texts.push(format!("{:?}", r.ask(&Request::GetLastAccess)));
    let text = texts.join("\n");
    assert!(text.contains("Keypad"), "{text}");
    for secret in [pin, "692051", "58213"] {
        assert!(!text.contains(secret), "{secret} in {text}");
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
}

#[test]
fn alarms_for_tamper_forced_door_and_battery() {
    let mut flash = SimFlash::erased();
    let battery = latchkey_sim::SimBattery::new(6000);
    let mut lock = common::boot_with(&mut flash, battery.clone());
    lock.tamper_changed(true);
    lock.door_changed(true);
    battery.set_millivolts(4400);
    lock.tick();
    let alarms: Vec<_> = lock.alarms().iter().map(|a| a.alarm).collect();
    assert_eq!(alarms, [Alarm::Tamper, Alarm::ForcedOpen, Alarm::CriticalBattery]);
    lock.tamper_changed(false);
    lock.door_changed(false);
    battery.set_millivolts(6000);
    lock.tick();
    assert!(lock.alarms().is_empty());
    let raised: Vec<_> = std::iter::from_fn(|| lock.next_event())
        .filter(|e| !matches!(e, Event::Logged(_)))
        .collect();
    assert_eq!(
        raised,
        [
            Event::AlarmRaised(Alarm::Tamper),
            Event::AlarmRaised(Alarm::ForcedOpen),
            Event::AlarmRaised(Alarm::CriticalBattery)
        ]
    );
    // A door opened after an unlock is no forced entry.
    lock.mechanical_key();
    lock.door_changed(true);
    assert!(lock.alarms().is_empty());
}
