//! Every request kind through the real link, lock and store on a NOR flash.
// Tests may unwrap and panic; the core may not (firmware/Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ask, boot, boot_with, installer};
use latchkey_firmware::lock::EARLIEST_TIME;
use latchkey_firmware::region::layout;
use latchkey_firmware::store::StoreError;
use latchkey_firmware::{Link, Store};
use latchkey_protocol::{
    BatteryState, BeeperVolume, DoorLabel, Field, MAX_FRAME_LEN, PROTOCOL_VERSION, Refusal,
    Request, Response, Setting, Settings,
};
use latchkey_sim::{SimBattery, SimFlash};

fn label(s: &str) -> DoorLabel {
    DoorLabel::try_from(s).unwrap()
}

fn settings_of(response: Response) -> Settings {
    match response {
        Response::Settings(s) => s,
        other => panic!("expected settings, got {other:?}"),
    }
}

#[test]
fn hello_reports_identity_and_capabilities() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let Response::Hello(info) = ask(&mut link, &mut lock, 1, &Request::Hello) else {
        panic!("expected hello");
    };
    assert_eq!(info.model.as_str(), "LK-100 test");
    assert_eq!(info.serial.as_str(), "TEST-0001");
    assert_eq!(info.firmware_version.as_str(), env!("CARGO_PKG_VERSION"));
    assert_eq!(info.protocol_version, PROTOCOL_VERSION);
    assert!(info.simulation);
    assert!(!info.claimed, "factory-new");
    let caps = info.capabilities;
    assert_eq!((caps.max_users, caps.credentials_per_user), (100, 8));
    assert_eq!((caps.pin_length_min, caps.pin_length_max), (4, 10));
    assert_eq!(caps.log_capacity, latchkey_firmware::log::CAPACITY);
    assert!(caps.log_capacity >= 2000);
    assert_eq!(caps.max_in_flight, 8);
    assert_eq!(usize::from(caps.max_frame_len), MAX_FRAME_LEN);
    assert!(
        caps.access_paths.keypad && caps.access_paths.phone && caps.access_paths.mechanical_key
    );
}

#[test]
fn ping_echoes_the_nonce() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    for nonce in [0, 1, 0xDEAD_BEEF, u32::MAX] {
        assert_eq!(
            ask(&mut link, &mut lock, 2, &Request::Ping { nonce }),
            Response::Pong { nonce }
        );
    }
}

#[test]
fn clock_starts_unset_and_set_time_sets_it() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    let Response::Time(before) = s.ask(&mut link, &mut lock, &Request::GetTime) else {
        panic!("expected time");
    };
    assert!(!before.is_set);
    let target = 1_900_000_000;
    let Response::Time(after) =
        s.ask(&mut link, &mut lock, &Request::SetTime { unix_seconds: target })
    else {
        panic!("expected time");
    };
    assert!(after.is_set);
    assert!((target..target + 2).contains(&after.unix_seconds));
    assert!(after.uptime_ms >= before.uptime_ms);
    // Before 2020 is refused and changes nothing.
    for bad in [0, EARLIEST_TIME - 1] {
        assert_eq!(
            s.ask(&mut link, &mut lock, &Request::SetTime { unix_seconds: bad }),
            Response::Refused(Refusal::invalid(Field::Time))
        );
    }
    let Response::Time(now) = s.ask(&mut link, &mut lock, &Request::GetTime) else {
        panic!("expected time");
    };
    assert!(now.unix_seconds >= target && now.is_set);
    assert!(matches!(
        s.ask(&mut link, &mut lock, &Request::SetTime { unix_seconds: EARLIEST_TIME }),
        Response::Time(t) if t.unix_seconds >= EARLIEST_TIME
    ));
}

#[test]
fn battery_follows_the_discharge_curve() {
    let mut flash = SimFlash::erased();
    let battery = SimBattery::new(6000);
    let mut lock = boot_with(&mut flash, battery.clone());
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    for (mv, percent, state) in [
        (6400, 100, BatteryState::Ok),
        (6000, 85, BatteryState::Ok),
        (4800, 15, BatteryState::Low),
        (4400, 4, BatteryState::Critical),
    ] {
        battery.set_millivolts(mv);
        let Response::Battery(report) = s.ask(&mut link, &mut lock, &Request::GetBattery) else {
            panic!("expected battery");
        };
        assert_eq!((report.millivolts, report.percent, report.state), (mv, percent, state));
    }
}

#[test]
fn every_setting_is_validated() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    let defaults = settings_of(s.ask(&mut link, &mut lock, &Request::GetSettings));
    assert_eq!(defaults, latchkey_firmware::store::default_settings());

    let valid = [
        Setting::DoorLabel(label("Back door")),
        Setting::DoorLabel(label("x")),
        Setting::DoorLabel(label("Ünïcødé door")),
        Setting::DoorLabel(label("exactly thirty-two bytes long..!")),
        Setting::AutoRelockSeconds(0),
        Setting::AutoRelockSeconds(3600),
        Setting::WrongCodeLimit(1),
        Setting::WrongCodeLimit(255),
        Setting::LockoutSeconds(1),
        Setting::LockoutSeconds(3600),
        Setting::BeeperVolume(BeeperVolume::Off),
        Setting::BeeperVolume(BeeperVolume::High),
    ];
    for setting in valid {
        let got = settings_of(s.ask(&mut link, &mut lock, &Request::SetSetting(setting.clone())));
        let expected = latchkey_firmware::lock::apply(&got, &setting).unwrap();
        assert_eq!(got, expected, "{setting:?} applied");
    }

    let before = settings_of(s.ask(&mut link, &mut lock, &Request::GetSettings));
    let invalid = [
        Setting::DoorLabel(label("")),
        Setting::DoorLabel(label("tab\there")),
        Setting::DoorLabel(label("new\nline")),
        Setting::AutoRelockSeconds(3601),
        Setting::WrongCodeLimit(0),
        Setting::LockoutSeconds(0),
        Setting::LockoutSeconds(3601),
    ];
    for setting in invalid {
        assert_eq!(
            s.ask(&mut link, &mut lock, &Request::SetSetting(setting.clone())),
            Response::Refused(Refusal::invalid(Field::Setting(setting.key()))),
            "{setting:?} refused"
        );
    }
    assert_eq!(settings_of(s.ask(&mut link, &mut lock, &Request::GetSettings)), before);
}

#[test]
fn settings_and_boot_count_persist_across_remount() {
    let mut flash = SimFlash::erased();
    let expected = {
        let mut lock = boot(&mut flash);
        assert_eq!(lock.boot_count(), 1);
        let mut link = Link::new();
        let mut s = installer(&mut link, &mut lock);
        for setting in [
            Setting::DoorLabel(label("Server room")),
            Setting::AutoRelockSeconds(12),
            Setting::WrongCodeLimit(3),
            Setting::LockoutSeconds(600),
            Setting::BeeperVolume(BeeperVolume::Low),
        ] {
            s.ask(&mut link, &mut lock, &Request::SetSetting(setting));
        }
        settings_of(s.ask(&mut link, &mut lock, &Request::GetSettings))
    };
    assert_eq!(expected.door_label.as_str(), "Server room");
    for boot_count in 2..=4 {
        let mut lock = boot(&mut flash);
        assert_eq!(lock.boot_count(), boot_count);
        let mut link = Link::new();
        let mut s = installer(&mut link, &mut lock);
        assert_eq!(settings_of(s.ask(&mut link, &mut lock, &Request::GetSettings)), expected);
    }
}

#[test]
fn many_writes_survive_page_migrations() {
    let mut flash = SimFlash::erased();
    let mut last = None;
    {
        let mut lock = boot(&mut flash);
        let mut link = Link::new();
        let mut s = installer(&mut link, &mut lock);
        // 200 writes of ~56 bytes cycle the 4-page region several times over.
        for i in 0..200u16 {
            let setting = Setting::DoorLabel(label(&format!("door number {i:04} of many")));
            last = Some(settings_of(s.ask(&mut link, &mut lock, &Request::SetSetting(setting))));
        }
    }
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    assert_eq!(Some(settings_of(s.ask(&mut link, &mut lock, &Request::GetSettings))), last);
}

#[test]
fn diagnostics_report_boots_and_store_writes() {
    let mut flash = SimFlash::erased();
    drop(boot(&mut flash));
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    s.ask(&mut link, &mut lock, &Request::SetSetting(Setting::WrongCodeLimit(9)));
    // Same value again: idempotent, no second write.
    s.ask(&mut link, &mut lock, &Request::SetSetting(Setting::WrongCodeLimit(9)));
    let Response::Diagnostics(d) = s.ask(&mut link, &mut lock, &Request::GetDiagnostics) else {
        panic!("expected diagnostics");
    };
    assert_eq!(d.boot_count, 2);
    assert_eq!(
        d.store_writes, 4,
        "boot counter, the claim's PIN key and lock keys, and one settings write"
    );
    // Claim (Hello for the salt, then 2 frames each way) and handshake (2), then three
    // sealed requests, the last of which is being answered.
    assert_eq!((d.frames_received, d.frames_sent), (8, 7));
    assert_eq!(d.dropped_bad_crc + d.dropped_malformed + d.wrong_version, 0);
}

#[test]
fn unprogrammed_zero_flash_is_formatted() {
    // QEMU's nRF51 reads never-programmed flash as 0x00.
    let mut flash = SimFlash::from_bytes(vec![0; layout::FLASH_SIZE as usize]);
    {
        let mut lock = boot(&mut flash);
        let mut link = Link::new();
        let mut s = installer(&mut link, &mut lock);
        s.ask(&mut link, &mut lock, &Request::SetSetting(Setting::LockoutSeconds(42)));
    }
    let lock = boot(&mut flash);
    assert_eq!(lock.boot_count(), 2);
    assert_eq!(lock.settings().lockout_seconds, 42);
    // Outside the settings region nothing was touched.
    assert!(flash.bytes()[..layout::SETTINGS.start as usize].iter().all(|&b| b == 0));
}

#[test]
fn data_it_cannot_read_is_reported_never_erased() {
    let mut bytes = vec![0xFF; layout::FLASH_SIZE as usize];
    let region = layout::SETTINGS.start as usize..layout::SETTINGS.end as usize;
    bytes[region.clone()].fill(0x55);
    let mut flash = SimFlash::from_bytes(bytes);
    let result = Store::mount(&mut flash).map(|_| ());
    assert!(
        matches!(result, Err(StoreError::Corrupted | StoreError::UnknownFormat { .. })),
        "{result:?}"
    );
    assert!(flash.bytes()[region].iter().all(|&b| b == 0x55), "region left as it was");
}
