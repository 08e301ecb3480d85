//! Power cuts at random bytes of random flash operations: nothing acknowledged is lost, and the
//! interrupted change is either wholly there or wholly absent.
// Tests may unwrap and panic; the core may not (firmware/Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cut_flash::CutFlash;
use common::{TestClock, boot, identity, random_setting, test_keys};
use latchkey_firmware::region::layout;
use latchkey_firmware::store::{Store, default_settings};
use latchkey_firmware::{LinkStats, Lock, LockKeys, LockPort, Via};
use latchkey_sim::{SimBattery, SimDevices, SimFlash, SimRng};
use std::collections::BTreeMap;

use latchkey_protocol::checksum;
use latchkey_protocol::crypto::SecretKey;
use latchkey_protocol::{
    CardUid, Credential, Pin, Request, Response, Role, Setting, Settings, Status, User, UserKind,
    UserName, UserSpec, UserWrite,
};

/// What a reboot finds: the settings and the keys, read through a fresh mount.
fn stored(flash: &mut SimFlash) -> (Settings, Option<LockKeys>) {
    let mut store = Store::mount(flash).expect("the store mounts after every power cut");
    let settings = store.settings().expect("the settings read after every power cut");
    (settings, store.keys().expect("the keys read after every power cut"))
}

fn stored_settings(flash: &mut SimFlash) -> Settings {
    stored(flash).0
}

/// A change the lock was asked to make: what it would leave in flash.
#[derive(Debug)]
enum Change {
    Settings(Settings),
    Keys(Option<LockKeys>),
}

fn random_keys(rng: &mut fastrand::Rng) -> LockKeys {
    let mut key = || SecretKey(std::array::from_fn(|_| rng.u8(..)));
    LockKeys { installer: key(), technician: key() }
}

/// Claims an unclaimed lock; otherwise mostly changes a setting, sometimes rotates the keys
/// or factory-resets. Returns the change and the lock's verdict.
fn random_change(lock: &mut CutLock<'_, '_>, rng: &mut fastrand::Rng) -> (Change, Status) {
    let installer = Via::Session(Role::Installer);
    let stats = LinkStats::default();
    if !lock.is_claimed() {
        let keys = random_keys(rng);
        let status = lock.install_keys(&keys);
        return (Change::Keys(Some(keys)), status);
    }
    match rng.u8(0..10) {
        0 => (Change::Keys(None), lock.factory_reset()),
        1 => {
            let keys = random_keys(rng);
            let request = Request::RotateKeys {
                installer_key: keys.installer.0,
                technician_key: keys.technician.0,
            };
            match lock.handle(&request, installer, &stats) {
                Response::Status(status) => (Change::Keys(Some(keys)), status),
                Response::Refused(refusal) => (Change::Keys(Some(keys)), refusal.status),
                other => panic!("unexpected {other:?}"),
            }
        }
        _ => {
            let setting = random_setting(rng);
            let candidate = latchkey_firmware::lock::apply(lock.settings(), &setting).unwrap();
            match lock.handle(&Request::SetSetting(setting), installer, &stats) {
                Response::Settings(s) => {
                    assert_eq!(s, candidate);
                    (Change::Settings(s), Status::Success)
                }
                Response::Status(status) => (Change::Settings(candidate), status),
                Response::Refused(refusal) => (Change::Settings(candidate), refusal.status),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

type CutLock<'a, 'f> = Lock<&'a mut CutFlash<'f>, TestClock, SimBattery, SimRng, SimDevices>;

#[test]
fn power_cuts_lose_nothing_acknowledged() {
    let seed: u64 = std::env::var("LATCHKEY_POWER_CUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00C0_FFEE);
    println!("power-cut seed {seed} (set LATCHKEY_POWER_CUT_SEED to replay)");
    let mut rng = fastrand::Rng::with_seed(seed);

    // Half the runs start from QEMU's unprogrammed all-zero flash, half from erased flash, so
    // cuts also land in the first format.
    for run in 0..2 {
        let mut flash = if run == 0 {
            SimFlash::from_bytes(vec![0; layout::FLASH_SIZE as usize])
        } else {
            SimFlash::erased()
        };
        let mut acknowledged = default_settings();
        let mut acknowledged_keys: Option<LockKeys> = None;
        let mut acknowledged_boots = 0u32;
        let mut cuts = 0;
        let (mut landed, mut absent, mut key_writes) = (0, 0, 0);
        for iteration in 0..300 {
            // The cut: somewhere in the first dozen operations (mount, boot counter, a few
            // writes and the page migrations they cause), at any byte.
            let op = rng.usize(0..12);
            let byte = rng.usize(0..1200);
            let mut interrupted: Option<Change> = None;
            {
                let mut cut = CutFlash::new(&mut flash, op, byte);
                let booted = Store::mount(&mut cut).and_then(|store| {
                    let rng = SimRng::new().unwrap();
                    Lock::boot(
                        store,
                        TestClock::new().0,
                        SimBattery::new(6000),
                        rng,
                        SimDevices::default(),
                        identity(),
                        latchkey_protocol::ResetReason::PowerOn,
                    )
                });
                if let Ok(mut lock) = booted {
                    assert!(lock.boot_count() > acknowledged_boots, "boot count never goes back");
                    acknowledged_boots = lock.boot_count();
                    for _ in 0..8 {
                        let (change, status) = random_change(&mut lock, &mut rng);
                        key_writes += usize::from(matches!(change, Change::Keys(_)));
                        match status {
                            Status::Success => match change {
                                Change::Settings(s) => acknowledged = s,
                                Change::Keys(k) => acknowledged_keys = k,
                            },
                            Status::Failure => {
                                interrupted = Some(change);
                                break;
                            }
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                }
                cuts += usize::from(cut.dead);
            }
            // Reboot on healthy power.
            let (found, found_keys) = stored(&mut flash);
            match &interrupted {
                Some(Change::Settings(candidate)) if &found == candidate => {
                    landed += 1;
                    acknowledged = found.clone();
                }
                Some(Change::Keys(candidate)) if &found_keys == candidate => {
                    landed += 1;
                    acknowledged_keys = found_keys.clone();
                }
                _ => absent += usize::from(interrupted.is_some()),
            }
            assert_eq!(
                (&found, &found_keys),
                (&acknowledged, &acknowledged_keys),
                "run {run} iteration {iteration} (cut at op {op} byte {byte}): acknowledged \
                 change lost, or the interrupted write half-applied"
            );
            let lock = boot(&mut flash);
            assert!(lock.boot_count() > acknowledged_boots);
            acknowledged_boots = lock.boot_count();
        }
        println!(
            "run {run}: {cuts} power cuts, {acknowledged_boots} boots, {key_writes} claims, \
             rotations and resets; interrupted writes: {landed} landed whole, {absent} absent"
        );
        assert!(cuts > 200, "most iterations really cut the power");
        assert!(landed > 0 && absent > 0, "cuts hit both before and after the commit point");
    }
}

#[test]
fn a_failed_flash_write_is_answered_failure_and_changes_nothing() {
    let mut flash = SimFlash::erased();
    assert_eq!(boot(&mut flash).install_keys(&test_keys()), Status::Success);
    let before = stored_settings(&mut flash);
    fn boot_lock<'a, 'f>(flash: &'a mut CutFlash<'f>) -> CutLock<'a, 'f> {
        let store = Store::mount(flash).unwrap();
        let rng = SimRng::new().unwrap();
        Lock::boot(
            store,
            TestClock::new().0,
            SimBattery::new(6000),
            rng,
            SimDevices::default(),
            identity(),
            latchkey_protocol::ResetReason::PowerOn,
        )
        .unwrap()
    }
    // Count the operations a mount and boot take, on a copy, to cut at the settings write.
    let mut copy = SimFlash::from_bytes(flash.bytes().to_vec());
    let mut counter = CutFlash::new(&mut copy, usize::MAX, 0);
    drop(boot_lock(&mut counter));
    let boot_ops = counter.ops;
    {
        let mut cut = CutFlash::new(&mut flash, boot_ops, 0);
        let mut lock = boot_lock(&mut cut);
        let response = lock.handle(
            &Request::SetSetting(Setting::WrongCodeLimit(77)),
            Via::Session(Role::Installer),
            &LinkStats::default(),
        );
        assert_eq!(response, Response::Refused(Status::Failure.into()));
        assert_eq!(lock.settings(), &before, "the lock's view did not change either");
    }
    assert_eq!(stored_settings(&mut flash), before);
}

/// What a reboot finds of the users: each slot's user as the host sees it.
fn stored_users(flash: &mut SimFlash) -> BTreeMap<u16, User> {
    let mut store = Store::mount(flash).expect("the store mounts after every power cut");
    let mut users = BTreeMap::new();
    for id in 1..=USERS {
        if let Some(user) = store.user(id).expect("users read after every power cut") {
            users.insert(id, user.to_user(id));
        }
    }
    let keys = store.keys().unwrap();
    let pin_key = store.pin_key().unwrap();
    if let Some(keys) = keys {
        assert_eq!(
            pin_key,
            Some(checksum::pin_key(&keys.installer)),
            "claimed: the PIN key is there"
        );
    } else {
        assert!(users.is_empty(), "an unclaimed lock holds no users (a reset is never half done)");
    }
    users
}

const USERS: u16 = 4;

/// A user change: the slot it concerns and what it would leave there.
struct UserChange {
    id: u16,
    candidate: Option<User>,
}

fn spec(rng: &mut fastrand::Rng) -> UserSpec {
    UserSpec {
        name: UserName::try_from(format!("User {}", rng.u16(..)).as_str()).unwrap(),
        kind: UserKind::Owner,
        enabled: true,
        valid_from: None,
        valid_until: None,
        use_limit: if rng.bool() { Some(rng.u16(1..4)) } else { None },
        weekly: heapless::Vec::new(),
    }
}

/// One random user operation on a claimed lock: add, modify, remove, a PIN, a card, or a use
/// of a limited user's PIN at the keypad. Returns what it changes and whether it was
/// acknowledged (`None` if it changes nothing).
fn random_user_change(
    lock: &mut CutLock<'_, '_>,
    model: &BTreeMap<u16, User>,
    pins: &mut BTreeMap<u16, String>,
    rng: &mut fastrand::Rng,
) -> Option<(UserChange, bool)> {
    let installer = Via::Session(Role::Installer);
    let stats = LinkStats::default();
    let id = rng.u16(1..=USERS);
    let existing = model.get(&id).cloned();
    let mut ask = |request: &Request| lock.handle(request, installer, &stats);
    let status_of = |response: Response| match response {
        Response::Status(status) => status,
        Response::Refused(refusal) => refusal.status,
        Response::User(_) => Status::Success,
        other => panic!("unexpected {other:?}"),
    };
    let (candidate, status) = match (rng.u8(0..6), existing) {
        (_, None) => {
            let spec = spec(rng);
            let candidate = User {
                id,
                uses_left: spec.use_limit,
                first_used: None,
                credentials: heapless::Vec::new(),
                spec: spec.clone(),
            };
            let status = status_of(ask(&Request::PutUser { id, write: UserWrite::Add, spec }));
            (Some(candidate), status)
        }
        (0, Some(mut user)) => {
            let spec = spec(rng);
            if spec.use_limit != user.spec.use_limit {
                user.uses_left = spec.use_limit;
            }
            user.spec = spec.clone();
            let status = status_of(ask(&Request::PutUser { id, write: UserWrite::Modify, spec }));
            (Some(user), status)
        }
        (1, Some(_)) => (None, status_of(ask(&Request::RemoveUser { id }))),
        (2, Some(mut user)) => {
            // Unique per user and never weak: a 7 then the slot then four random digits.
            let pin = format!("7{id}{:04}", rng.u16(0..10_000));
            if latchkey_protocol::pin_is_weak(&pin) {
                return None;
            }
            if !user.credentials.contains(&Credential::Pin) {
                if user.credentials.is_full() {
                    return None;
                }
                user.credentials.push(Credential::Pin).unwrap();
            }
            let status = status_of(ask(&Request::SetPin {
                user: id,
                pin: Pin::try_from(pin.as_str()).unwrap(),
            }));
            if status == Status::Success {
                pins.insert(id, pin);
            }
            (Some(user), status)
        }
        (3, Some(mut user)) => {
            let uid = CardUid::from_slice(&[id as u8, rng.u8(..), rng.u8(..), 0xCA]).unwrap();
            if user.credentials.is_full()
                || model
                    .values()
                    .any(|u| u.credentials.contains(&Credential::Card { uid: uid.clone() }))
            {
                return None;
            }
            user.credentials.push(Credential::Card { uid: uid.clone() }).unwrap();
            (Some(user), status_of(ask(&Request::AddCard { user: id, uid })))
        }
        (_, Some(mut user)) => {
            // A use at the keypad: counted in flash before the bolt moves.
            let pin = pins.get(&id)?.clone();
            if !user.credentials.contains(&Credential::Pin) || user.uses_left == Some(0) {
                return None;
            }
            let limited = user.uses_left.is_some();
            user.uses_left = user.uses_left.map(|n| n - 1);
            let moves_before = lock.devices().motor.moves.len();
            let record = lock.keypad_entry(&pin);
            let moved = lock.devices().motor.moves.len() > moves_before;
            assert_eq!(moved, record.granted, "the bolt moves exactly when access is granted");
            if !limited {
                return None;
            }
            let status = if record.granted { Status::Success } else { Status::Failure };
            (Some(user), status)
        }
    };
    match status {
        Status::Success => Some((UserChange { id, candidate }, true)),
        Status::Failure => Some((UserChange { id, candidate }, false)),
        // Refused by a rule (a PIN someone else holds, say): nothing changed.
        _ => None,
    }
}

#[test]
fn power_cuts_during_user_writes_and_use_counts_lose_nothing() {
    let seed: u64 = std::env::var("LATCHKEY_POWER_CUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x05E5_CAFE);
    println!("power-cut seed {seed} (set LATCHKEY_POWER_CUT_SEED to replay)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut flash = SimFlash::erased();
    assert_eq!(boot(&mut flash).install_keys(&test_keys()), Status::Success);
    let mut acknowledged: BTreeMap<u16, User> = BTreeMap::new();
    let mut pins: BTreeMap<u16, String> = BTreeMap::new();
    let (mut cuts, mut landed, mut absent, mut uses) = (0, 0, 0, 0);
    for iteration in 0..250 {
        let op = rng.usize(0..24);
        let byte = rng.usize(0..1200);
        let mut interrupted = None;
        {
            let mut cut = CutFlash::new(&mut flash, op, byte);
            let booted = Store::mount(&mut cut).and_then(|store| {
                let rng = SimRng::new().unwrap();
                let devices = SimDevices::default();
                Lock::boot(
                    store,
                    TestClock::new().0,
                    SimBattery::new(6000),
                    rng,
                    devices,
                    identity(),
                    latchkey_protocol::ResetReason::PowerOn,
                )
            });
            if let Ok(mut lock) = booted {
                for _ in 0..10 {
                    let Some((change, ok)) =
                        random_user_change(&mut lock, &acknowledged, &mut pins, &mut rng)
                    else {
                        continue;
                    };
                    uses += usize::from(
                        ok && change.candidate.as_ref().is_some_and(|u| u.uses_left.is_some()),
                    );
                    if ok {
                        match change.candidate {
                            Some(user) => acknowledged.insert(change.id, user),
                            None => acknowledged.remove(&change.id),
                        };
                    } else {
                        interrupted = Some(change);
                        break;
                    }
                }
            }
            cuts += usize::from(cut.dead);
        }
        let mut found = stored_users(&mut flash);
        if let Some(change) = interrupted {
            let now = found.get(&change.id);
            if now == change.candidate.as_ref() && now != acknowledged.get(&change.id) {
                landed += 1;
                match change.candidate {
                    Some(user) => acknowledged.insert(change.id, user),
                    None => acknowledged.remove(&change.id),
                };
            } else {
                absent += 1;
            }
        }
        // PINs are write-only: compare with the PIN marker only (the test tracks its own).
        for user in found.values_mut() {
            user.first_used = None;
        }
        assert_eq!(
            found, acknowledged,
            "iteration {iteration} (cut at op {op} byte {byte}): an acknowledged user change \
             was lost, or the interrupted one half-applied"
        );
        for id in 1..=USERS {
            if !acknowledged.contains_key(&id) {
                pins.remove(&id);
            }
        }
    }
    println!(
        "{cuts} cuts; interrupted user writes: {landed} landed whole, {absent} absent; {uses} counted uses"
    );
    assert!(cuts > 150, "most iterations really cut the power");
    assert!(landed > 0 && absent > 0, "cuts hit both before and after the commit point");
}
