//! Every view at 120x40 and at 80x24, online and with the link lost, plus the dialogs:
//! insta snapshots of `TestBackend`, and assertions on what must be there.

use latchkey_protocol::{
    AccessPath, AccessPaths, AccessReason, AccessRecord, ActiveAlarm, Alarm, BatteryReport,
    BatteryState, BeeperVolume, Capabilities, ChangeKind, ClockReading, Credential, Diagnostics,
    EnrollKind, Enrollment, LockInfo, LogEntry, LogRecord, ResetReason, Role, Settings,
    TimeZoneRule, User, UserKind, UserSpec, UserSummary,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;

use super::*;
use crate::link::LinkStats;
use crate::tui::app::{Action, FrameRow, Modal, Reading, update};

/// The lock's clock in these tests: 2026-11-18T11:06:40Z.
const NOW: u64 = 1_795_000_000;
/// The TUI's clock when the last reading came (ms since start).
const READ_AT: u64 = 60_000;

fn info() -> LockInfo {
    LockInfo {
        model: "LK-100".try_into().unwrap(),
        serial: "SIM-000001".try_into().unwrap(),
        firmware_version: "0.1.0".try_into().unwrap(),
        protocol_version: 1,
        simulation: true,
        claimed: true,
        capabilities: Capabilities {
            max_users: 100,
            credentials_per_user: 8,
            pin_length_min: 4,
            pin_length_max: 10,
            log_capacity: 2048,
            access_paths: AccessPaths {
                keypad: true,
                rfid: true,
                fingerprint: true,
                phone: true,
                mechanical_key: true,
            },
            max_in_flight: 4,
            max_frame_len: 326,
            card_uid_lengths: latchkey_protocol::ISO14443_UID_LENGTHS,
            signs_log_head: true,
        },
        claim_salt: [0; 16],
    }
}

fn settings() -> Settings {
    Settings {
        door_label: "Front door".try_into().unwrap(),
        auto_relock_seconds: 5,
        wrong_code_limit: 5,
        lockout_seconds: 300,
        beeper_volume: BeeperVolume::Medium,
        // Central European time: the log shows 12:06 for 11:06Z.
        time_zone: TimeZoneRule::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap(),
        door_ajar_seconds: 60,
    }
}

fn record(seq: u32, ago: u64, entry: LogEntry) -> LogRecord {
    LogRecord { seq, at: NOW - ago, entry }
}

fn access(granted: bool, user: Option<u16>, reason: AccessReason) -> LogEntry {
    LogEntry::Access { path: AccessPath::Keypad, granted, user, reason }
}

fn log() -> Vec<LogRecord> {
    vec![
        record(37, 3_700, LogEntry::PowerUp { boot_count: 3, reason: ResetReason::PowerOn }),
        record(38, 3_600, LogEntry::Session { role: Role::Installer, opened: true }),
        record(
            39,
            3_590,
            LogEntry::Change { what: ChangeKind::UserAdded, role: Role::Installer, user: Some(3) },
        ),
        record(
            40,
            3_585,
            LogEntry::Change { what: ChangeKind::PinSet, role: Role::Installer, user: Some(3) },
        ),
        record(41, 3_580, LogEntry::Session { role: Role::Installer, opened: false }),
        record(42, 600, access(true, Some(3), AccessReason::Granted)),
        record(43, 95, LogEntry::Alarm { alarm: Alarm::Tamper, raised: true }),
        record(44, 40, access(false, None, AccessReason::UnknownCredential)),
        record(45, 20, access(false, Some(30), AccessReason::OutsideSchedule)),
    ]
}

fn users() -> Vec<UserSummary> {
    let user = |id: u16, name: &str, enabled, credentials| UserSummary {
        id,
        name: name.try_into().unwrap(),
        kind: UserKind::Owner,
        enabled,
        credentials,
    };
    vec![
        user(1, "Ann", true, 3),
        user(3, "Carla", true, 1),
        user(30, "Dan the night cleaner", false, 0),
    ]
}

fn ann() -> User {
    User {
        id: 1,
        spec: UserSpec {
            name: "Ann".try_into().unwrap(),
            kind: UserKind::Owner,
            enabled: true,
            valid_from: None,
            valid_until: None,
            use_limit: None,
            weekly: heapless::Vec::new(),
        },
        uses_left: None,
        first_used: None,
        credentials: [
            Credential::Pin,
            Credential::Card { uid: [0x04, 0xa1, 0xb2, 0xc3].as_slice().try_into().unwrap() },
            Credential::Fingerprint { slot: 0 },
        ]
        .into_iter()
        .collect(),
    }
}

/// Someone pried the housing open, five wrong codes locked the keypad out, batteries low.
fn reading() -> Reading {
    Reading {
        clock: Ok(ClockReading { unix_seconds: NOW, is_set: true, uptime_ms: 61_000 }),
        host_unix_seconds: NOW + 90,
        battery: Ok(BatteryReport {
            millivolts: 4_800,
            percent: 12,
            state: BatteryState::Low,
            loaded_millivolts: 4_400,
            operations_left: 1000,
            replaced_at: None,
        }),
        diagnostics: Ok(Diagnostics {
            uptime_ms: 61_000,
            boot_count: 3,
            frames_received: 42,
            frames_sent: 42,
            dropped_bad_crc: 2,
            dropped_malformed: 1,
            bolt_locked: true,
            motor_runs: 2,
            motor_last_ms: 412,
            motor_last_ma: 820,
            ..Diagnostics::default()
        }),
        alarms: Ok(vec![
            ActiveAlarm { alarm: Alarm::Tamper, since: NOW - 95, seconds_left: 0 },
            ActiveAlarm { alarm: Alarm::WrongCodeLimit, since: NOW - 30, seconds_left: 270 },
        ]),
        last_access: Ok(Some(AccessRecord {
            at: NOW - 20,
            path: AccessPath::Keypad,
            granted: false,
            user: Some(30),
            reason: AccessReason::OutsideSchedule,
        })),
        round_trip_ms: 3,
    }
}

fn frames() -> Vec<FrameRow> {
    let row = |n: u64, outgoing, kind: &str, message: &str| FrameRow {
        at_ms: NOW * 1000 + 90_000 + n * 7,
        outgoing,
        kind: kind.into(),
        seq: 700 + (n / 2) as u16,
        len: if outgoing { 29 } else { 41 },
        message: message.into(),
    };
    vec![
        row(0, true, "SealedRequest", "GetTime"),
        row(
            1,
            false,
            "SealedResponse",
            "Time(ClockReading { unix_seconds: 1795000000, is_set: true, uptime_ms: 61000 })",
        ),
        row(2, true, "SealedRequest", "GetAlarms"),
        row(
            3,
            false,
            "SealedResponse",
            "Alarms([ActiveAlarm { alarm: Tamper, since: 1794999905, seconds_left: 0 }])",
        ),
        row(
            4,
            false,
            "SealedEvent",
            "Logged(LogRecord { seq: 45, at: 1794999980, entry: Access { .. } })",
        ),
        row(5, false, "SealedResponse", "stale answer ignored"),
    ]
}

/// A TUI that has heard everything from the lock, on `view`.
fn online(view: View) -> App {
    let mut app = App::new("/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0");
    update(&mut app, Action::Identity(info(), Some(Role::Installer)));
    update(&mut app, Action::Settings(settings()));
    update(&mut app, Action::Users(users()));
    update(&mut app, Action::User(Box::new(ann())));
    update(&mut app, Action::Log(log()));
    update(&mut app, Action::LogCaughtUp);
    for row in frames() {
        update(&mut app, Action::Frame(row));
    }
    update(
        &mut app,
        Action::Stats(LinkStats {
            sent: 120,
            resent: 2,
            received: 131,
            dropped: 1,
            stale: 1,
            unsealed: 0,
        }),
    );
    update(&mut app, Action::Tick(READ_AT));
    update(&mut app, Action::Reading(Box::new(reading())));
    update(&mut app, Action::Tick(READ_AT + 2_000));
    app.view = view;
    app
}

/// The same, 9 s after the link was lost.
fn lost(view: View) -> App {
    let mut app = online(view);
    update(&mut app, Action::LinkDown("i/o error on /dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0: Broken pipe (os error 32)".into()));
    update(&mut app, Action::Tick(READ_AT + 11_000));
    app
}

fn terminal(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| render(app, frame)).unwrap();
    terminal
}

fn screen(app: &App, width: u16, height: u16) -> String {
    terminal(app, width, height).backend().to_string()
}

/// Where `text` starts on screen.
fn find(buffer: &Buffer, text: &str) -> (u16, u16) {
    let area = buffer.area;
    for y in 0..area.height {
        let row: String = (0..area.width).map(|x| buffer[(x, y)].symbol()).collect();
        if let Some(x) = row.find(text) {
            // Columns, not bytes: the borders are multi-byte.
            return (row[..x].chars().count() as u16, y);
        }
    }
    panic!("{text:?} is not on screen");
}

/// Snapshots `app` at both sizes under `name`, and returns both screens.
fn both_sizes(name: &str, app: &App) -> [String; 2] {
    let big = screen(app, 120, 40);
    let small = screen(app, 80, 24);
    insta::assert_snapshot!(format!("{name}_120x40"), big);
    insta::assert_snapshot!(format!("{name}_80x24"), small);
    [big, small]
}

#[test]
fn dashboard_view() {
    for screen in both_sizes("dashboard", &online(View::Dashboard)) {
        assert!(screen.contains("Front door · SIM-000001"), "the label in the header: {screen}");
        assert!(screen.contains("label     Front door"), "{screen}");
        assert!(screen.contains("keypad lockout") && screen.contains("270 s left"), "{screen}");
        assert!(screen.contains("drift  1m 30s behind"), "{screen}");
        assert!(screen.contains("leaner (30)"), "a name beside the number: {screen}");
        assert!(screen.contains("Battery 2 s"), "each panel's age: {screen}");
        assert!(!screen.contains("STALE"), "{screen}");
    }
}

#[test]
fn dashboard_with_the_link_lost_is_stale_everywhere() {
    for screen in both_sizes("dashboard_lost", &lost(View::Dashboard)) {
        assert!(screen.contains("RECONNECTING"), "{screen}");
        for panel in [
            "Alarms (2) STALE 11 s old",
            "Door STALE",
            "Clock STALE",
            "Battery STALE",
            "Log (newest last) STALE",
        ] {
            assert!(screen.contains(panel), "{panel}: {screen}");
        }
        // Nothing essential cut: the reason wraps in the Link panel rather than stopping
        // mid-path, and the long port is elided in its middle.
        assert!(screen.contains("Broken pipe"), "{screen}");
        assert!(screen.contains("ort0 "), "{screen}");
    }
}

#[test]
fn users_view() {
    let mut app = online(View::Users);
    update(
        &mut app,
        Action::Enrollment(Enrollment::InProgress {
            kind: EnrollKind::Fingerprint,
            user: 1,
            captures: 2,
            needed: 5,
            last_quality: Some(90),
            last_good: true,
            seconds_left: 25,
        }),
    );
    for screen in both_sizes("users", &app) {
        assert!(screen.contains("Ann") && screen.contains("card 04a1b2c3"), "{screen}");
        assert!(screen.contains("finger: 2 of 5"), "enrollment progress: {screen}");
        for key in ["a add", "p PIN", "c card", "f finger", "? help", "q quit"] {
            assert!(screen.contains(key), "{key} in the footer: {screen}");
        }
    }
}

#[test]
fn users_under_a_technician_key_show_the_write_keys_disabled_with_the_reason() {
    let mut app = online(View::Users);
    update(&mut app, Action::Identity(info(), Some(Role::Technician)));
    let terminal = terminal(&app, 120, 40);
    let screen = terminal.backend().to_string();
    assert!(screen.contains("(read-only: technician key)"), "{screen}");
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "a add");
    assert_eq!(buffer[(x, y)].fg, Color::DarkGray);
    insta::assert_snapshot!("users_technician_120x40", screen);
}

#[test]
fn log_view() {
    let [big, small] = both_sizes("log", &online(View::Log));
    for screen in [&big, &small] {
        // The lock's local time (CET), names beside numbers, and a number that is not
        // mistaken for a shorter one.
        assert!(screen.contains("2026-11-18 12:06:20"), "{screen}");
        assert!(
            screen.contains("user 3 (Carla)") && screen.contains("user 30 (Dan the night cleaner)"),
            "{screen}"
        );
        assert!(screen.contains("9 of 9 records"), "{screen}");
    }
}

#[test]
fn log_filtered_by_kind_and_user_name() {
    let mut app = online(View::Log);
    update(&mut app, Action::Key(KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE)));
    for c in "kind:access user:carla".chars() {
        update(&mut app, Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
    }
    update(&mut app, Action::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    let [big, _] = both_sizes("log_filtered", &app);
    assert!(big.contains("1 of 9 records"), "{big}");
    assert!(big.contains("GRANTED via keypad user 3 (Carla)"), "{big}");
    assert!(!big.contains("tamper"), "{big}");
}

#[test]
fn alarms_view() {
    for screen in both_sizes("alarms", &online(View::Alarms)) {
        assert!(screen.contains("LOCKED OUT") && screen.contains("270 s left"), "{screen}");
        assert!(screen.contains("c clear") && screen.contains("l end lockout"), "{screen}");
    }
}

#[test]
fn link_view() {
    for screen in both_sizes("link", &online(View::Link)) {
        assert!(screen.contains("resent 2"), "{screen}");
        assert!(screen.contains("SealedEvent") && screen.contains("Logged("), "{screen}");
        assert!(screen.contains("out") && screen.contains("GetAlarms"), "{screen}");
    }
}

#[test]
fn help_overlay() {
    let mut app = online(View::Dashboard);
    update(&mut app, Action::Key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE)));
    assert_eq!(app.modal, Some(Modal::Help));
    for screen in both_sizes("help", &app) {
        assert!(screen.contains("Tab Shift-Tab") && screen.contains("quit"), "{screen}");
    }
}

#[test]
fn a_destructive_action_asks_first() {
    let mut app = online(View::Users);
    update(&mut app, Action::Key(KeyEvent::new(KeyCode::Char('d'), KeyModifiers::NONE)));
    let [big, _] = both_sizes("confirm_remove", &app);
    assert!(big.contains("Remove user 1 (Ann) and all their credentials?"), "{big}");
    // `n` cancels and says nothing was changed.
    let command =
        update(&mut app, Action::Key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE)));
    assert_eq!(command, None);
    assert!(screen(&app, 120, 40).contains("cancelled; nothing was changed"));
}

#[test]
fn a_pin_is_typed_hidden() {
    let mut app = online(View::Users);
    update(&mut app, Action::Key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::NONE)));
    for c in "4829".chars() {
        update(&mut app, Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
    }
    let [big, small] = both_sizes("pin_input", &app);
    for screen in [big, small] {
        assert!(screen.contains("PIN for user 1 (hidden)") && screen.contains("••••"), "{screen}");
        assert!(!screen.contains("4829"), "{screen}");
    }
}

#[test]
fn before_the_lock_answers() {
    let app = App::new("/dev/ttyUSB0");
    let [big, _] = both_sizes("connecting", &app);
    assert!(big.contains("connecting…") && big.contains("waiting for the lock"), "{big}");
}

#[test]
fn a_long_path_loses_its_middle() {
    assert_eq!(elide_middle("/dev/ttyUSB0", 20), "/dev/ttyUSB0");
    assert_eq!(elide_middle("abcdefghij", 5), "ab…ij");
    assert_eq!(elide_middle("abcdefghij", 6).chars().count(), 6);
}

#[test]
fn the_log_view_formats_only_the_rows_on_screen() {
    // Ten thousand records; an 80x24 screen shows a handful. Counting is indirect: a view
    // that formatted every record would take far longer than the benchmark's budget, so
    // here the screen is checked to hold the newest and not the oldest.
    let mut app = online(View::Log);
    let many: Vec<LogRecord> = (100..10_100)
        .map(|seq| record(seq, 10, access(true, Some(1), AccessReason::Granted)))
        .collect();
    update(&mut app, Action::Log(many));
    let small = screen(&app, 80, 24);
    assert!(small.contains("10099") && !small.contains(" 100  "), "{small}");
    assert!(small.contains("10,009 of 10,009 records"), "{small}");
}

// ---- the Commission view -------------------------------------------------------------------

mod commissioning {
    use std::time::Duration;

    use super::*;
    use crate::ops::commission::{self as ops, CheckId, CheckResult, Outcome};
    use crate::tui::app::{CommissionNews, Finished};

    /// Ann holds a PIN, a card and a finger; Dan is disabled and holds a PIN; nobody holds a
    /// phone key.
    fn full_users() -> Vec<User> {
        let mut dan = ann();
        dan.id = 30;
        dan.spec.name = "Dan the night cleaner".try_into().unwrap();
        dan.spec.enabled = false;
        dan.credentials = [Credential::Pin].into_iter().collect();
        vec![ann(), dan]
    }

    fn plan() -> Vec<ops::Check> {
        ops::plan(&info(), &full_users(), &[], &[])
    }

    fn news(app: &mut App, news: CommissionNews) {
        update(app, Action::Commission(news));
    }

    fn result(check: CheckId, outcome: Outcome, detail: &str, seq: Option<u32>) -> CheckResult {
        let user = detail.contains("Ann").then_some(1);
        CheckResult {
            check,
            outcome,
            detail: detail.into(),
            seq,
            at: seq.map(|_| "2026-11-18T11:06:40Z".into()),
            user,
            user_name: user.map(|_| "Ann".into()),
        }
    }

    /// The plan read; the mechanical key left out, the tamper switch skipped with a reason.
    fn planned() -> App {
        let mut app = online(View::Commission);
        news(&mut app, CommissionNews::Plan(plan()));
        app.commission.left_out.push(CheckId::MechanicalKey);
        app.commission.skips.push((CheckId::Tamper, "housing fitted next week".into()));
        app
    }

    /// A run: the first checks in, the fingerprint waited for 30 s of its 120.
    fn in_progress() -> App {
        let mut app = planned();
        update(&mut app, Action::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
        let command =
            update(&mut app, Action::Key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE)));
        let Some(crate::tui::app::Command::Commission { only, skips, .. }) = command else {
            panic!("no run: {command:?}");
        };
        news(&mut app, CommissionNews::Started(ops::plan(&info(), &full_users(), &only, &skips)));
        for r in [
            result(
                CheckId::Clock,
                Outcome::Pass,
                "2026-11-18T11:06:40Z by the lock, -90 s from this computer",
                None,
            ),
            result(CheckId::TimeZone, Outcome::Pass, "CET-1CEST,M3.5.0,M10.5.0/3", None),
            result(
                CheckId::Battery,
                Outcome::Fail,
                "4800 mV at rest, 4400 mV under load, 12 %: the battery is low; replace it before leaving",
                None,
            ),
            result(CheckId::Keypad, Outcome::Pass, "granted for Ann (user 1)", Some(46)),
            result(CheckId::Rfid, Outcome::Pass, "granted for Ann (user 1)", Some(47)),
        ] {
            news(
                &mut app,
                CommissionNews::Waiting {
                    check: r.check,
                    wait: Duration::from_secs(120),
                    at_the_door: false,
                },
            );
            news(&mut app, CommissionNews::Result(r));
        }
        news(
            &mut app,
            CommissionNews::Waiting {
                check: CheckId::Fingerprint,
                wait: Duration::from_secs(120),
                at_the_door: true,
            },
        );
        update(&mut app, Action::Tick(READ_AT + 32_000));
        app
    }

    #[test]
    fn commission_plan() {
        for screen in both_sizes("commission_plan", &planned()) {
            assert!(screen.contains("At the keypad, enter the PIN of Ann"), "{screen}");
            assert!(
                screen.contains("NOT READY")
                    && screen.contains("no enabled user holds a phone key"),
                "{screen}"
            );
            assert!(
                screen.contains("left out") && screen.contains("housing fitted next week"),
                "{screen}"
            );
            assert!(screen.contains("Enter start") && screen.contains("? help"), "{screen}");
            assert!(screen.contains("report to commission-SERIAL-TIME"), "{screen}");
        }
    }

    #[test]
    fn commission_confirm_before_a_run() {
        let mut app = planned();
        update(&mut app, Action::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
        let [big, _] = both_sizes("commission_confirm", &app);
        assert!(big.contains("Start commissioning") && big.contains("Esc stops it"), "{big}");
    }

    #[test]
    fn commission_in_progress() {
        for screen in both_sizes("commission_running", &in_progress()) {
            assert!(screen.contains("granted for Ann (user 1) [log #46]"), "{screen}");
            assert!(screen.contains("(90 s left)"), "{screen}");
            assert!(
                screen.contains("fingerprint: On the sensor, place the finger of Ann"),
                "{screen}"
            );
            assert!(screen.contains("Esc stop the run"), "{screen}");
        }
    }

    #[test]
    fn commission_a_failed_check_asks() {
        let mut app = in_progress();
        let failed = result(
            CheckId::Fingerprint,
            Outcome::Fail,
            "nothing happened at the door within 120 s",
            None,
        );
        news(&mut app, CommissionNews::Result(failed.clone()));
        news(&mut app, CommissionNews::Asking(failed));
        for screen in both_sizes("commission_asking", &app) {
            assert!(screen.contains("fingerprint failed: nothing happened"), "{screen}");
            assert!(screen.contains("r try again") && screen.contains("s skip it"), "{screen}");
            assert!(screen.contains("l leave it failed"), "{screen}");
        }
    }

    #[test]
    fn commission_finished() {
        let mut app = in_progress();
        for r in [
            result(CheckId::Fingerprint, Outcome::Pass, "granted for Ann (user 1)", Some(48)),
            result(
                CheckId::Phone,
                Outcome::Fail,
                "no enabled user holds a phone key: add one with `latchkey phone add USER KEY`",
                None,
            ),
            result(CheckId::WrongPin, Outcome::Pass, "refused: unknown credential", Some(49)),
            result(
                CheckId::DisabledRefused,
                Outcome::Pass,
                "refused for Dan the night cleaner (user 30): user disabled",
                Some(50),
            ),
            result(
                CheckId::Bolt,
                Outcome::Pass,
                "3 bolt operations during the run; the last took 412 ms at 820 mA",
                Some(46),
            ),
            result(
                CheckId::Door,
                Outcome::Pass,
                "the door sensor saw the door open and close",
                Some(52),
            ),
            result(CheckId::Tamper, Outcome::Skipped, "housing fitted next week", None),
            result(CheckId::Log, Outcome::Pass, "52 records, seq 1 to 52, chain intact", Some(52)),
        ] {
            news(&mut app, CommissionNews::Result(r));
        }
        news(&mut app, CommissionNews::Reporting);
        let words = "2 check(s) failed: report in commission-SIM-000001-2026-11-18T110640Z.json \
                     and commission-SIM-000001-2026-11-18T110640Z.html, signed by the lock";
        update(&mut app, Action::Done(crate::tui::app::Outcome { ok: true, text: words.into() }));
        news(
            &mut app,
            CommissionNews::Finished(Finished {
                passed: false,
                signed: true,
                json: "commission-SIM-000001-2026-11-18T110640Z.json".into(),
                html: "commission-SIM-000001-2026-11-18T110640Z.html".into(),
            }),
        );
        for screen in both_sizes("commission_finished", &app) {
            assert!(screen.contains("FAILED: 2 check(s) failed, signed by the lock"), "{screen}");
            assert!(screen.contains("commission-SIM-000001-2026-11-18T110640Z.html"), "{screen}");
            assert!(screen.contains("[log #52]"), "{screen}");
        }
    }
}
