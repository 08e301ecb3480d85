//! Protocol version 2 on the real core, through real sessions: every refusal names its field
//! or its limit, `PutUser` with id 0 takes the lowest free number, names are unique (and an
//! exact resend is still one user), type-wide clears converge after a fault part-way, and
//! enrollment tells whether a capture counted and a storage or sensor fault for what it is.
// Tests may unwrap and panic; the core may not (firmware/Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{
    HostSession, TestClock, boot_clocked, identity, installer, send_raw, session, split_frames,
    test_keys,
};
use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};
use latchkey_firmware::hal::{FingerCapture, FingerprintSensor, Parts, SensorFault};
use latchkey_firmware::lock::access::FINGER_CAPTURES;
use latchkey_firmware::store::Store;
use latchkey_firmware::users::StoredUser;
use latchkey_firmware::{Link, Lock, LockPort};
use latchkey_protocol::{
    AccessReason, CAPTURE_MIN_QUALITY, CardUid, ChangeKind, ClearTarget, Credential, EnrollFailure,
    EnrollKind, Enrollment, Field, Limit, LogEntry, Pin, PinProblem, Refusal, Request, ResetReason,
    Response, Role, Setting, SettingKey, Status, User, UserKind, UserName, UserSpec, UserWrite,
    WeeklyWindow, WindowProblem, check_pin,
};
use latchkey_sim::{
    SimBattery, SimBeeper, SimFingerprint, SimFlash, SimFlashError, SimMotor, SimRng,
};

fn name(text: &str) -> UserName {
    UserName::try_from(text).unwrap()
}

fn owner(text: &str) -> UserSpec {
    UserSpec {
        name: name(text),
        kind: UserKind::Owner,
        enabled: true,
        valid_from: None,
        valid_until: None,
        use_limit: None,
        weekly: heapless::Vec::new(),
    }
}

fn uid(bytes: &[u8]) -> CardUid {
    CardUid::from_slice(bytes).unwrap()
}

fn pin(digits: &str) -> Pin {
    Pin::try_from(digits).unwrap()
}

fn phone_key(seed: u8) -> [u8; 32] {
    latchkey_sim::SimPhone::from_seed(&[seed; 32]).public_key()
}

fn add(id: u16, spec: UserSpec) -> Request {
    Request::PutUser { id, write: UserWrite::Add, spec }
}

fn modify(id: u16, spec: UserSpec) -> Request {
    Request::PutUser { id, write: UserWrite::Modify, spec }
}

fn refused(refusal: Refusal) -> Response {
    Response::Refused(refusal)
}

fn added(response: Response) -> User {
    match response {
        Response::User(user) => user,
        other => panic!("expected a user, got {other:?}"),
    }
}

fn success() -> Response {
    Response::Status(Status::Success)
}

/// Every log record the lock holds, oldest first.
fn log(s: &mut HostSession, link: &mut Link, lock: &mut impl LockPort) -> Vec<LogEntry> {
    let mut out = Vec::new();
    let mut from = 1;
    loop {
        let Response::Log { records, .. } = s.ask(link, lock, &Request::ReadLog { from_seq: from })
        else {
            panic!("a log page")
        };
        let Some(last) = records.last() else { return out };
        from = last.seq + 1;
        out.extend(records.iter().map(|r| r.entry));
    }
}

/// Users on the lock, in order.
fn user_ids(s: &mut HostSession, link: &mut Link, lock: &mut impl LockPort) -> Vec<u16> {
    let mut ids = Vec::new();
    let mut after = 0;
    loop {
        let Response::Users { users, more } = s.ask(link, lock, &Request::ListUsers { after })
        else {
            panic!("a users page")
        };
        ids.extend(users.iter().map(|u| u.id));
        match users.last() {
            Some(last) if more => after = last.id,
            _ => return ids,
        }
    }
}

#[test]
fn each_refusal_names_its_field() {
    let mut flash = SimFlash::erased();
    let (mut lock, _clock) = boot_clocked(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    let mut ask = |request: &Request| s.ask(&mut link, &mut lock, request);

    let window = |start_minute, end_minute| WeeklyWindow { days: 0x1F, start_minute, end_minute };
    let scheduled = |windows: &[WeeklyWindow]| UserSpec {
        kind: UserKind::Scheduled,
        weekly: heapless::Vec::from_slice(windows).unwrap(),
        ..owner("Sam")
    };
    let guest = |from, until| UserSpec {
        kind: UserKind::Guest,
        valid_from: from,
        valid_until: until,
        ..owner("Gus")
    };
    let spec_cases = [
        (owner(""), Field::UserName),
        (owner("  "), Field::UserName),
        (owner("Ann\tLee"), Field::UserName),
        (scheduled(&[]), Field::WeeklyWindows),
        (
            scheduled(&[window(480, 1080), window(1320, 360)]),
            Field::Window { index: 1, problem: WindowProblem::Overnight },
        ),
        (
            scheduled(&[WeeklyWindow { days: 0, start_minute: 0, end_minute: 60 }]),
            Field::Window { index: 0, problem: WindowProblem::Days },
        ),
        (scheduled(&[window(0, 1441)]), Field::Window { index: 0, problem: WindowProblem::End }),
        (guest(None, Some(2_000_000_000)), Field::ValidFrom),
        (guest(Some(1_900_000_000), None), Field::ValidUntil),
        (guest(Some(1_900_000_000), Some(1_900_000_000)), Field::ValidUntil),
        (
            UserSpec { kind: UserKind::Expiring { minutes: 0 }, ..owner("Eve") },
            Field::ExpiringMinutes,
        ),
        (UserSpec { use_limit: Some(0), ..owner("Uma") }, Field::UseLimit),
        (UserSpec { kind: UserKind::OneTime, use_limit: Some(2), ..owner("Ole") }, Field::UseLimit),
    ];
    for (spec, field) in spec_cases {
        assert_eq!(ask(&add(1, spec.clone())), refused(Refusal::invalid(field)), "{spec:?}");
    }
    let out_of_range = Refusal::exhausted(Limit::UserIdRange).with_field(Field::UserId);
    assert_eq!(ask(&add(101, owner("Zed"))), refused(out_of_range));
    assert_eq!(ask(&modify(0, owner("Zed"))), refused(Refusal::invalid(Field::UserId)));
    let no_user = refused(Refusal::not_found(Field::UserId));
    assert_eq!(ask(&modify(7, owner("Zed"))), no_user);
    assert_eq!(ask(&Request::GetUser { id: 99 }), no_user);
    assert_eq!(ask(&Request::RemoveUser { id: 99 }), no_user);
    assert_eq!(ask(&Request::SetPin { user: 99, pin: pin("058213") }), no_user);

    let ann = added(ask(&add(1, owner("Ann"))));
    let bob = added(ask(&add(2, owner("Bob"))));
    assert_eq!(ask(&add(1, owner("Cy"))), refused(Refusal::new(Status::Occupied)));

    // PINs: digits, then length, then weak, then another user's (never saying whose).
    assert_eq!(
        ask(&Request::SetPin { user: ann.id, pin: pin("12a4") }),
        refused(Refusal::invalid(Field::PinDigits))
    );
    for length in ["123", "12345678901"] {
        assert_eq!(
            ask(&Request::SetPin { user: ann.id, pin: pin(length) }),
            refused(Refusal::invalid(Field::PinLength))
        );
    }
    assert_eq!(
        ask(&Request::SetPin { user: ann.id, pin: pin("1234") }),
        refused(Refusal::at(Status::Weak, Field::Pin))
    );
    assert_eq!(ask(&Request::RemovePin { user: ann.id }), refused(Refusal::not_found(Field::Pin)));
    assert_eq!(ask(&Request::SetPin { user: ann.id, pin: pin("058213") }), success());
    assert_eq!(
        ask(&Request::SetPin { user: bob.id, pin: pin("058213") }),
        refused(Refusal::duplicate(Field::Pin, None))
    );

    // Cards and phones: another user's names that user.
    assert_eq!(
        ask(&Request::AddCard { user: ann.id, uid: uid(&[1, 2, 3, 4, 5]) }),
        refused(Refusal::invalid(Field::CardUid))
    );
    let card = uid(&[4, 0xA1, 0xB2, 0xC3]);
    assert_eq!(ask(&Request::AddCard { user: ann.id, uid: card.clone() }), success());
    assert_eq!(
        ask(&Request::AddCard { user: bob.id, uid: card.clone() }),
        refused(Refusal::duplicate(Field::CardUid, Some(ann.id)))
    );
    assert_eq!(
        ask(&Request::RemoveCard { user: bob.id, uid: card }),
        refused(Refusal::not_found(Field::CardUid))
    );
    let not_a_point = (0u8..=255)
        .map(|b| [b; 32])
        .find(|bytes| ed25519_dalek::VerifyingKey::from_bytes(bytes).is_err())
        .expect("some bytes are no curve point");
    assert_eq!(
        ask(&Request::AddPhone { user: ann.id, public_key: not_a_point }),
        refused(Refusal::invalid(Field::PhoneKey))
    );
    assert_eq!(ask(&Request::AddPhone { user: ann.id, public_key: phone_key(7) }), success());
    assert_eq!(
        ask(&Request::AddPhone { user: bob.id, public_key: phone_key(7) }),
        refused(Refusal::duplicate(Field::PhoneKey, Some(ann.id)))
    );
    assert_eq!(
        ask(&Request::RemovePhone { user: bob.id, public_key: phone_key(7) }),
        refused(Refusal::not_found(Field::PhoneKey))
    );
    assert_eq!(
        ask(&Request::RemoveFinger { user: ann.id, slot: 3 }),
        refused(Refusal::not_found(Field::FingerSlot))
    );

    // The clock and the settings.
    assert_eq!(ask(&Request::SetTime { unix_seconds: 0 }), refused(Refusal::invalid(Field::Time)));
    for (setting, key) in [
        (Setting::AutoRelockSeconds(3601), SettingKey::AutoRelockSeconds),
        (Setting::WrongCodeLimit(0), SettingKey::WrongCodeLimit),
        (Setting::LockoutSeconds(0), SettingKey::LockoutSeconds),
        (Setting::DoorAjarSeconds(3601), SettingKey::DoorAjarSeconds),
        (Setting::DoorLabel(heapless::String::new()), SettingKey::DoorLabel),
    ] {
        assert_eq!(
            ask(&Request::SetSetting(setting.clone())),
            refused(Refusal::invalid(Field::Setting(key))),
            "{setting:?}"
        );
    }
}

/// What a client derives from a field and `Capabilities` is what the lock enforces.
#[test]
fn the_allowed_values_follow_from_the_capabilities() {
    let mut flash = SimFlash::erased();
    let (mut lock, _clock) = boot_clocked(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    let mut ask = |request: &Request| s.ask(&mut link, &mut lock, request);
    let Response::Hello(info) = ask(&Request::Hello) else { panic!("hello") };
    let caps = info.capabilities;
    assert_eq!(info.protocol_version, latchkey_protocol::PROTOCOL_VERSION);

    let ann = added(ask(&add(1, owner("Ann"))));
    // PINs of every length the wire carries: what the protocol's rule says, with the lock's
    // lengths, is what the lock answers.
    let digits = "5820137469582013";
    for len in 1..=latchkey_protocol::PIN_MAX {
        let candidate = &digits[..len];
        let expected = match check_pin(candidate, &caps) {
            Ok(()) => success(),
            Err(PinProblem::TooShort | PinProblem::TooLong) => {
                refused(Refusal::invalid(Field::PinLength))
            }
            Err(PinProblem::Weak) => refused(Refusal::at(Status::Weak, Field::Pin)),
            Err(PinProblem::NotDigits) => unreachable!("digits only"),
        };
        let answer = ask(&Request::SetPin { user: ann.id, pin: pin(candidate) });
        assert_eq!(answer, expected, "{len} digits");
        let inside =
            (usize::from(caps.pin_length_min)..=usize::from(caps.pin_length_max)).contains(&len);
        assert_eq!(answer != refused(Refusal::invalid(Field::PinLength)), inside, "{len}");
    }
    // Card UIDs of every length the wire carries: accepted exactly where the mask says.
    for len in 1..=latchkey_protocol::CARD_UID_MAX {
        let card: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37).wrapping_add(11)).collect();
        let answer = ask(&Request::AddCard { user: ann.id, uid: uid(&card) });
        assert_eq!(answer == success(), caps.card_uid_length_ok(len), "{len} bytes: {answer:?}");
    }
    // User numbers: 1 to max_users.
    let above = caps.max_users + 1;
    assert_eq!(
        ask(&add(above, owner("Zed"))).refusal().and_then(|r| r.limit),
        Some(Limit::UserIdRange)
    );
    assert!(matches!(ask(&add(caps.max_users, owner("Zed"))), Response::User(_)));
}

#[test]
fn full_users_and_a_full_lock_say_which_limit() {
    let mut flash = SimFlash::erased();
    let (mut lock, _clock) = boot_clocked(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    let mut ask = |request: &Request| s.ask(&mut link, &mut lock, request);
    let ann = added(ask(&add(0, owner("Ann"))));
    for i in 0..8u8 {
        assert_eq!(ask(&Request::AddCard { user: ann.id, uid: uid(&[9, 9, 9, i]) }), success());
    }
    let credentials_full = refused(Refusal::exhausted(Limit::UserCredentials));
    assert_eq!(ask(&Request::AddCard { user: ann.id, uid: uid(&[9, 9, 9, 9]) }), credentials_full);
    assert_eq!(
        ask(&Request::AddPhone { user: ann.id, public_key: phone_key(1) }),
        credentials_full
    );
    assert_eq!(ask(&Request::LearnCard { user: ann.id }), credentials_full);
    assert_eq!(ask(&Request::EnrollFinger { user: ann.id }), credentials_full);
    for n in 2..=100u16 {
        assert_eq!(added(ask(&add(0, owner(&format!("U{n}"))))).id, n);
    }
    assert_eq!(ask(&add(0, owner("Late"))), refused(Refusal::exhausted(Limit::UserSlots)));
    assert_eq!(
        ask(&add(101, owner("Late"))),
        refused(Refusal::exhausted(Limit::UserIdRange).with_field(Field::UserId)),
        "out of range is not 'full'"
    );
}

#[test]
fn id_zero_takes_the_lowest_free_number_and_the_log_names_it() {
    let mut flash = SimFlash::erased();
    let (mut lock, _clock) = boot_clocked(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    assert_eq!(added(s.ask(&mut link, &mut lock, &add(2, owner("Bea")))).id, 2);
    let ann = added(s.ask(&mut link, &mut lock, &add(0, owner("Ann"))));
    assert_eq!(ann.id, 1, "the lowest free number");
    assert_eq!(ann.spec, owner("Ann"));
    assert_eq!(added(s.ask(&mut link, &mut lock, &add(0, owner("Cy")))).id, 3);
    assert_eq!(s.ask(&mut link, &mut lock, &Request::RemoveUser { id: 2 }), success());
    assert_eq!(added(s.ask(&mut link, &mut lock, &add(0, owner("Dee")))).id, 2);
    assert_eq!(user_ids(&mut s, &mut link, &mut lock), [1, 2, 3]);
    let added_users: Vec<Option<u16>> = log(&mut s, &mut link, &mut lock)
        .into_iter()
        .filter_map(|e| match e {
            LogEntry::Change { what: ChangeKind::UserAdded, user, .. } => Some(user),
            _ => None,
        })
        .collect();
    assert_eq!(added_users, [Some(2), Some(1), Some(3), Some(2)], "never user 0");
}

#[test]
fn names_are_unique_and_an_exact_resend_is_one_user() {
    let mut flash = SimFlash::erased();
    let (mut lock, _clock) = boot_clocked(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);

    // The exact resend of a lost answer (same seq, same bytes) gets the same answer bytes
    // from the lock's cache, and makes no second user.
    let seq = s.next_seq();
    let wire = s.seal(seq, &add(0, owner("Ann")));
    let first = send_raw(&mut link, &mut lock, &wire);
    let again = send_raw(&mut link, &mut lock, &wire);
    assert_eq!(first, again, "answered from the cache, byte for byte");
    let (header, body) = split_frames(&first).remove(0);
    let ann = added(s.unseal(&header, &body));
    assert_eq!(ann.id, 1);

    // Anything else with the same name (ignoring ASCII case and the space around it) is
    // refused, naming Ann.
    let taken = refused(Refusal::duplicate(Field::UserName, Some(ann.id)));
    for other in ["Ann", "ann", " ANN  "] {
        assert_eq!(s.ask(&mut link, &mut lock, &add(0, owner(other))), taken, "{other:?}");
    }
    assert_eq!(s.ask(&mut link, &mut lock, &add(5, owner("ann"))), taken);
    let bob = added(s.ask(&mut link, &mut lock, &add(0, owner("Bob"))));
    assert_eq!(s.ask(&mut link, &mut lock, &modify(bob.id, owner("Ann"))), taken);
    // Ann herself may change her name's case, and "Anna" is another name.
    assert!(matches!(
        s.ask(&mut link, &mut lock, &modify(ann.id, owner("ANN"))),
        Response::User(_)
    ));
    assert!(matches!(s.ask(&mut link, &mut lock, &add(0, owner("Anna"))), Response::User(_)));
    assert_eq!(user_ids(&mut s, &mut link, &mut lock), [1, 2, 3]);
}

#[test]
fn users_who_shared_a_name_before_stay_editable() {
    // As a lock running protocol 1 could have left them: two users named Ann.
    let mut flash = SimFlash::erased();
    {
        let mut store = Store::mount(&mut flash).unwrap();
        store.save_user(1, &StoredUser::new(owner("Ann"))).unwrap();
        store.save_user(2, &StoredUser::new(owner("ann"))).unwrap();
    }
    let (mut lock, _clock) = boot_clocked(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    let disabled = UserSpec { enabled: false, ..owner("ann") };
    let changed = added(s.ask(&mut link, &mut lock, &modify(2, disabled.clone())));
    assert_eq!(changed.spec, disabled, "keeping the name is no new duplicate");
    assert_eq!(
        s.ask(&mut link, &mut lock, &add(0, owner("ANN"))),
        refused(Refusal::duplicate(Field::UserName, Some(1))),
        "the first of them is named"
    );
}

#[test]
fn a_type_wide_clear_removes_one_kind_and_logs_each_removal() {
    let mut flash = SimFlash::erased();
    let (mut lock, _clock) = boot_clocked(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    let pins = ["058213", "480151", "731904"];
    for (i, digits) in pins.iter().enumerate() {
        let id = i as u16 + 1;
        added(s.ask(&mut link, &mut lock, &add(id, owner(&format!("User {id}")))));
        assert_eq!(
            s.ask(&mut link, &mut lock, &Request::SetPin { user: id, pin: pin(digits) }),
            success()
        );
        let card = uid(&[7, 7, 7, id as u8]);
        assert_eq!(
            s.ask(&mut link, &mut lock, &Request::AddCard { user: id, uid: card }),
            success()
        );
    }
    let phone = phone_key(3);
    assert_eq!(
        s.ask(&mut link, &mut lock, &Request::AddPhone { user: 2, public_key: phone }),
        success()
    );
    let logged_before = log(&mut s, &mut link, &mut lock).len();

    let clear = |what| Request::Clear { what };
    assert_eq!(
        s.ask(&mut link, &mut lock, &clear(ClearTarget::Pins)),
        Response::Cleared { removed: 3 }
    );
    // Every PIN is gone; the cards still open.
    for (i, digits) in pins.iter().enumerate() {
        let record = lock.keypad_entry(digits);
        assert_eq!(record.reason, AccessReason::UnknownCredential, "PIN of user {}", i + 1);
        let record = lock.card_tapped(&[7, 7, 7, i as u8 + 1]).unwrap();
        assert!(record.granted, "card of user {}", i + 1);
    }
    let Response::User(two) = s.ask(&mut link, &mut lock, &Request::GetUser { id: 2 }) else {
        panic!()
    };
    assert!(two.credentials.contains(&Credential::Phone { public_key: phone }));
    assert!(!two.credentials.contains(&Credential::Pin));
    // Removing what is gone removes nothing, and says so.
    assert_eq!(
        s.ask(&mut link, &mut lock, &clear(ClearTarget::Pins)),
        Response::Cleared { removed: 0 }
    );
    let entries = log(&mut s, &mut link, &mut lock);
    let removals: Vec<(ChangeKind, Role, Option<u16>)> = entries[logged_before..]
        .iter()
        .filter_map(|e| match *e {
            LogEntry::Change { what, role, user } => Some((what, role, user)),
            _ => None,
        })
        .collect();
    let expected: Vec<_> =
        (1..=3).map(|id| (ChangeKind::PinRemoved, Role::Installer, Some(id))).collect();
    assert_eq!(removals, expected, "one record per PIN, as RemovePin logs it");

    assert_eq!(
        s.ask(&mut link, &mut lock, &clear(ClearTarget::Phones)),
        Response::Cleared { removed: 1 }
    );
    assert_eq!(
        s.ask(&mut link, &mut lock, &clear(ClearTarget::Cards)),
        Response::Cleared { removed: 3 }
    );
    assert!(!lock.card_tapped(&[7, 7, 7, 1]).unwrap().granted);
    assert_eq!(user_ids(&mut s, &mut link, &mut lock), [1, 2, 3], "the users stay");
    assert_eq!(
        s.ask(&mut link, &mut lock, &clear(ClearTarget::Users)),
        Response::Cleared { removed: 3 }
    );
    assert!(user_ids(&mut s, &mut link, &mut lock).is_empty());
    let user_removals = log(&mut s, &mut link, &mut lock)
        .iter()
        .filter(|e| matches!(e, LogEntry::Change { what: ChangeKind::UserRemoved, .. }))
        .count();
    assert_eq!(user_removals, 3);

    // Installers only.
    let mut technician =
        session(&mut link, &mut lock, Role::Technician, &test_keys().technician).unwrap();
    assert_eq!(
        technician.ask(&mut link, &mut lock, &clear(ClearTarget::Users)).refusal(),
        Some(Status::NotAuthorized.into())
    );
}

#[test]
fn clearing_fingerprints_erases_their_templates() {
    let mut flash = SimFlash::erased();
    let (mut lock, _clock) = boot_clocked(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    let mut slots = Vec::new();
    for (id, finger) in [(1u16, "ann-thumb"), (2, "bob-thumb")] {
        added(s.ask(&mut link, &mut lock, &add(id, owner(finger))));
        s.ask(&mut link, &mut lock, &Request::EnrollFinger { user: id });
        for _ in 0..FINGER_CAPTURES {
            let capture = lock.devices().fingerprint.place(finger, 90);
            assert_eq!(lock.finger_placed(capture), None);
        }
        let Response::Enrollment(Enrollment::Done {
            credential: Credential::Fingerprint { slot },
            ..
        }) = s.ask(&mut link, &mut lock, &Request::GetEnrollment)
        else {
            panic!("enrolled")
        };
        slots.push(slot);
    }
    let answer = s.ask(&mut link, &mut lock, &Request::Clear { what: ClearTarget::Fingerprints });
    assert_eq!(answer, Response::Cleared { removed: 2 });
    for slot in slots {
        assert_eq!(lock.devices().fingerprint.template(slot), None, "slot {slot} erased");
    }
    let capture = lock.devices().fingerprint.place("ann-thumb", 90);
    let record = lock.finger_placed(capture).unwrap();
    assert!(!record.granted);
}

#[test]
fn enrollment_says_whether_each_capture_counted() {
    let mut flash = SimFlash::erased();
    let (mut lock, _clock) = boot_clocked(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    added(s.ask(&mut link, &mut lock, &add(1, owner("Ann"))));
    let Response::Enrollment(Enrollment::InProgress { last_good, last_quality, .. }) =
        s.ask(&mut link, &mut lock, &Request::EnrollFinger { user: 1 })
    else {
        panic!("started")
    };
    assert_eq!((last_quality, last_good), (None, false), "no capture yet");
    let mut progress = |quality| {
        let capture = lock.devices().fingerprint.place("ann-thumb", quality);
        lock.finger_placed(capture);
        match s.ask(&mut link, &mut lock, &Request::GetEnrollment) {
            Response::Enrollment(Enrollment::InProgress {
                captures,
                last_quality,
                last_good,
                ..
            }) => (captures, last_quality, last_good),
            other => panic!("in progress: {other:?}"),
        }
    };
    assert_eq!(progress(CAPTURE_MIN_QUALITY - 1), (0, Some(CAPTURE_MIN_QUALITY - 1), false));
    assert_eq!(progress(CAPTURE_MIN_QUALITY), (1, Some(CAPTURE_MIN_QUALITY), true));
    assert_eq!(progress(12), (1, Some(12), false));
    assert_eq!(progress(95), (2, Some(95), true));
}

// ---- faults: a flash whose writes fail from a chosen one on, a sensor that fails -----------

/// Writes and erases fail once `budget` of them were done (reads go on): a flash that wore
/// out, or power lost between two operations, as the lock sees it before it restarts.
struct Faulty<'a> {
    inner: &'a mut SimFlash,
    budget: Arc<AtomicUsize>,
}

impl Faulty<'_> {
    fn spend(&mut self) -> Result<(), SimFlashError> {
        let left = self.budget.load(Ordering::SeqCst);
        if left == 0 {
            return Err(SimFlashError::Io(std::io::ErrorKind::Other));
        }
        self.budget.store(left - 1, Ordering::SeqCst);
        Ok(())
    }
}

impl ErrorType for Faulty<'_> {
    type Error = SimFlashError;
}

impl ReadNorFlash for Faulty<'_> {
    const READ_SIZE: usize = SimFlash::READ_SIZE;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.inner.read(offset, bytes)
    }
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
}

impl NorFlash for Faulty<'_> {
    const WRITE_SIZE: usize = SimFlash::WRITE_SIZE;
    const ERASE_SIZE: usize = SimFlash::ERASE_SIZE;
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.spend()?;
        self.inner.write(offset, bytes)
    }
    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.spend()?;
        self.inner.erase(from, to)
    }
}

/// The simulator's sensor, except that storing a template fails while `broken` is set.
struct Sensor {
    inner: SimFingerprint,
    broken: Arc<AtomicBool>,
}

impl FingerprintSensor for Sensor {
    fn slots(&self) -> u8 {
        self.inner.slots()
    }
    fn begin_enrollment(&mut self) {
        self.inner.begin_enrollment();
    }
    fn keep_capture(&mut self) {
        self.inner.keep_capture();
    }
    fn store_template(&mut self, slot: u8) -> Result<(), SensorFault> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(SensorFault::Failed);
        }
        self.inner.store_template(slot)
    }
    fn delete_template(&mut self, slot: u8) -> Result<(), SensorFault> {
        self.inner.delete_template(slot)
    }
}

type FaultyLock<'a> =
    Lock<Faulty<'a>, TestClock, SimBattery, SimRng, Parts<SimMotor, Sensor, SimBeeper>>;

struct Faults {
    writes_left: Arc<AtomicUsize>,
    sensor_broken: Arc<AtomicBool>,
}

impl Faults {
    fn writes_fail_after(&self, writes: usize) {
        self.writes_left.store(writes, Ordering::SeqCst);
    }
}

fn boot_faulty(flash: &mut SimFlash) -> (FaultyLock<'_>, Faults) {
    let faults = Faults {
        writes_left: Arc::new(AtomicUsize::new(usize::MAX)),
        sensor_broken: Arc::new(AtomicBool::new(false)),
    };
    let flash = Faulty { inner: flash, budget: faults.writes_left.clone() };
    let sensor = Sensor { inner: SimFingerprint::new(), broken: faults.sensor_broken.clone() };
    let devices =
        Parts { motor: SimMotor::default(), fingerprint: sensor, beeper: SimBeeper::default() };
    let store = Store::mount(flash).expect("store mounts");
    let (clock, _) = TestClock::new();
    let rng = SimRng::new().expect("the OS RNG works");
    let lock = Lock::boot(
        store,
        clock,
        SimBattery::new(6000),
        rng,
        devices,
        identity(),
        ResetReason::PowerOn,
    )
    .expect("lock boots");
    (lock, faults)
}

fn capture(lock: &mut FaultyLock<'_>, finger: &str, quality: u8) -> FingerCapture {
    lock.devices().fingerprint.inner.place(finger, quality)
}

#[test]
fn a_storage_fault_during_enrollment_is_storage_and_a_sensor_fault_is_sensor() {
    let mut flash = SimFlash::erased();
    let (mut lock, faults) = boot_faulty(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    added(s.ask(&mut link, &mut lock, &add(1, owner("Ann"))));

    // The card is read, but the flash will not take it.
    s.ask(&mut link, &mut lock, &Request::LearnCard { user: 1 });
    faults.writes_fail_after(0);
    assert_eq!(lock.card_tapped(&[1, 2, 3, 4]), None);
    faults.writes_fail_after(usize::MAX);
    assert_eq!(
        s.ask(&mut link, &mut lock, &Request::GetEnrollment),
        Response::Enrollment(Enrollment::Failed {
            kind: EnrollKind::Card,
            user: 1,
            reason: EnrollFailure::Storage
        }),
        "not 'full': Ann has room"
    );

    // Five good captures, and a sensor that fails to keep them.
    s.ask(&mut link, &mut lock, &Request::EnrollFinger { user: 1 });
    faults.sensor_broken.store(true, Ordering::SeqCst);
    for _ in 0..FINGER_CAPTURES {
        let finger = capture(&mut lock, "ann-thumb", 90);
        lock.finger_placed(finger);
    }
    assert_eq!(
        s.ask(&mut link, &mut lock, &Request::GetEnrollment),
        Response::Enrollment(Enrollment::Failed {
            kind: EnrollKind::Fingerprint,
            user: 1,
            reason: EnrollFailure::Sensor
        }),
        "not 'poor quality': every capture was good"
    );

    // Good captures of two different fingers make no template: that is the captures' fault.
    faults.sensor_broken.store(false, Ordering::SeqCst);
    s.ask(&mut link, &mut lock, &Request::EnrollFinger { user: 1 });
    for i in 0..FINGER_CAPTURES {
        let finger = capture(&mut lock, if i == 0 { "bob-thumb" } else { "ann-thumb" }, 90);
        lock.finger_placed(finger);
    }
    assert!(matches!(
        s.ask(&mut link, &mut lock, &Request::GetEnrollment),
        Response::Enrollment(Enrollment::Failed { reason: EnrollFailure::PoorQuality, .. })
    ));
}

/// A clear interrupted at every possible write leaves every user whole (each either still
/// holding their PIN or not), and the same request sent again finishes the job.
#[test]
fn an_interrupted_clear_is_finished_by_sending_it_again() {
    const USERS: u16 = 4;
    let mut image = SimFlash::erased();
    {
        let (mut lock, _clock) = boot_clocked(&mut image);
        let mut link = Link::new();
        let mut s = installer(&mut link, &mut lock);
        for id in 1..=USERS {
            added(s.ask(&mut link, &mut lock, &add(id, owner(&format!("User {id}")))));
            let digits = format!("{}5{}8{}3", id, id + 2, id + 4);
            let request = Request::SetPin { user: id, pin: pin(&digits) };
            assert_eq!(s.ask(&mut link, &mut lock, &request), success());
            let card = uid(&[3, 3, 3, id as u8]);
            assert_eq!(
                s.ask(&mut link, &mut lock, &Request::AddCard { user: id, uid: card }),
                success()
            );
        }
    }
    let image = image.bytes().to_vec();
    let clear = Request::Clear { what: ClearTarget::Pins };

    // How many writes the whole clear takes.
    let mut flash = SimFlash::from_bytes(image.clone());
    let total = {
        let (mut lock, faults) = boot_faulty(&mut flash);
        let mut link = Link::new();
        let mut s = installer(&mut link, &mut lock);
        faults.writes_fail_after(usize::MAX);
        let before = faults.writes_left.load(Ordering::SeqCst);
        assert_eq!(s.ask(&mut link, &mut lock, &clear), Response::Cleared { removed: USERS });
        before - faults.writes_left.load(Ordering::SeqCst)
    };
    assert!(total >= usize::from(USERS), "{total} writes");

    for allowed in 0..total {
        let mut flash = SimFlash::from_bytes(image.clone());
        let first = {
            let (mut lock, faults) = boot_faulty(&mut flash);
            let mut link = Link::new();
            let mut s = installer(&mut link, &mut lock);
            faults.writes_fail_after(allowed);
            s.ask(&mut link, &mut lock, &clear)
        };
        // Restarted on what the flash holds.
        let (mut lock, _clock) = boot_clocked(&mut flash);
        let mut link = Link::new();
        let mut s = installer(&mut link, &mut lock);
        let mut left = 0;
        for id in 1..=USERS {
            let Response::User(user) = s.ask(&mut link, &mut lock, &Request::GetUser { id }) else {
                panic!("user {id} survives a fault after {allowed} writes")
            };
            assert!(
                user.credentials.contains(&Credential::Card { uid: uid(&[3, 3, 3, id as u8]) })
            );
            left += u16::from(user.credentials.contains(&Credential::Pin));
        }
        if let Response::Cleared { removed } = first {
            assert_eq!(left, USERS - removed, "what was answered done is done");
        }
        assert_eq!(
            s.ask(&mut link, &mut lock, &clear),
            Response::Cleared { removed: left },
            "the resend finishes (fault after {allowed} writes)"
        );
        for id in 1..=USERS {
            let Response::User(user) = s.ask(&mut link, &mut lock, &Request::GetUser { id }) else {
                panic!()
            };
            assert!(!user.credentials.contains(&Credential::Pin), "user {id}");
        }
    }
}
