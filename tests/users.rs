//! End to end, users and credentials: the real `latchkey` binary and the real `latchkey-sim`,
//! with the simulated person's hands on the simulator's standard input. Every decision is the
//! lock's: the tool is not running while the person tries the door.

mod common;

use std::time::Duration;

use common::sim_process::{Lines, is_ack};
use common::{Sim, json};
use predicates::prelude::*;
use serde_json::Value;

/// The simulated person does `action`; returns the lock's decision (`latchkey access --json`).
fn decide(sim: &Sim, action: &str) -> Value {
    let line = sim.attempt(action);
    let out = sim.cli().args(["access", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out);
    assert_eq!(doc["granted"], line.contains("granted"), "sim said {line:?}, lock said {doc}");
    doc
}

fn granted(sim: &Sim, action: &str) -> Value {
    let d = decide(sim, action);
    assert_eq!(d["granted"], true, "{action}: {d}");
    d
}

fn refused(sim: &Sim, action: &str, reason: &str) -> Value {
    let d = decide(sim, action);
    assert_eq!(d["granted"], false, "{action}: {d}");
    assert_eq!(d["reason"], reason, "{action}: {d}");
    d
}

fn add_user(sim: &Sim, args: &[&str]) -> u64 {
    let out = sim.cli().args(["user", "add"]).args(args).arg("--json").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    json(&out)["user"].as_u64().unwrap()
}

fn set_pin(sim: &Sim, user: u64, pin: &str) -> std::process::Output {
    sim.cli()
        .args(["--json", "pin", "set", &user.to_string(), "--stdin"])
        .write_stdin(format!("{pin}\n"))
        .output()
        .unwrap()
}

/// `latchkey --port SIM ARGS` running in the background (it waits for the person at the
/// lock), its output lines followed as it prints them.
struct Background {
    child: std::process::Child,
    stdout: Lines,
    stderr: Lines,
}

fn spawn(sim: &Sim, args: &[&str]) -> Background {
    let mut child = std::process::Command::new(common::latchkey_path())
        .env("LATCHKEY_CONFIG", "/nonexistent/x.toml")
        .env("LATCHKEY_KEYSTORE", &sim.keystore)
        .args(["--port", sim.link_str()])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = Lines::follow("latchkey", child.stdout.take().unwrap());
    let stderr = Lines::follow("latchkey's stderr", child.stderr.take().unwrap());
    Background { child, stdout, stderr }
}

impl Background {
    /// Waits for it to exit: its status, standard output and standard error.
    fn finish(mut self) -> (std::process::ExitStatus, String, String) {
        let status = self.child.wait().unwrap();
        (status, self.stdout.wait_closed().join("\n"), self.stderr.wait_closed().join("\n"))
    }
}

fn phone_public_key(seed: [u8; 32]) -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    key.verifying_key().to_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_path_opens_for_the_user_and_refuses_a_stranger() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let ann = add_user(&sim, &["Ann"]);
    assert_eq!(ann, 1);
    assert!(set_pin(&sim, ann, "582917").status.success());
    sim.cli().args(["card", "add", "1", "04a1b2c3"]).assert().success();
    let seed = [7u8; 32];
    sim.cli().args(["phone", "add", "1", &phone_public_key(seed)]).assert().success();

    // Enroll a finger: five captures on the sensor while the tool follows them.
    // Each capture once the lock has started the enrollment and the tool has shown the last.
    let enroll = spawn(&sim, &["--json", "finger", "enroll", "1"]);
    sim.wait_for_lines("enrollment fingerprint user 1: 0/5", 1);
    sim.act("finger ann-thumb 25"); // poor: lift and place again
    enroll.stdout.wait_for_line("\"last_quality\":25", 0);
    for capture in 1..=5 {
        sim.act("finger ann-thumb 90");
        if capture < 5 {
            enroll.stdout.wait_for_line(&format!("\"captures\":{capture}"), 0);
        }
    }
    let (status, stdout, stderr) = enroll.finish();
    assert!(status.success(), "{stderr}");
    let progress: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let captures: Vec<u64> =
        progress.iter().filter_map(|p| p["progress"]["captures"].as_u64()).collect();
    assert!(
        captures.windows(2).all(|w| w[0] <= w[1]) && captures.contains(&2),
        "captures followed: {stdout}"
    );
    assert!(
        progress.iter().any(|p| p["progress"]["last_quality"] == 25),
        "the poor capture was reported: {stdout}"
    );
    assert_eq!(progress.last().unwrap()["done"], true);

    // Each path opens for Ann...
    assert_eq!(granted(&sim, "pin 582917")["path"], "keypad");
    assert_eq!(granted(&sim, "card 04a1b2c3")["path"], "rfid");
    assert_eq!(granted(&sim, "finger ann-thumb")["path"], "fingerprint");
    assert_eq!(granted(&sim, &format!("phone {}", hex(&seed)))["path"], "phone");
    // ...and refuses a stranger on each, for the right reason.
    refused(&sim, "pin 391746", "unknown_credential");
    refused(&sim, "card 0badcafe", "unknown_credential");
    refused(&sim, "finger stranger-thumb", "unknown_credential");
    refused(&sim, &format!("phone {}", hex(&[9u8; 32])), "unknown_credential");

    let user = json(&sim.cli().args(["user", "show", "1", "--json"]).output().unwrap());
    let kinds: Vec<&str> = user["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    for kind in ["pin", "card", "fingerprint", "phone"] {
        assert!(kinds.contains(&kind), "{user}");
    }
    // No PIN anywhere: not in the tool's output, not in what the simulated lock printed (its
    // acknowledgements echo the test's own stdin actions, which are left out here).
    for line in sim.lines().iter().filter(|l| !is_ack(l)) {
        assert!(!line.contains("582917"), "the simulator printed a PIN: {line}");
    }
    assert!(!user.to_string().contains("582917"));
    sim.stop();
}

#[test]
fn pins_are_checked_by_the_lock_weak_duplicate_length_and_leading_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let a = add_user(&sim, &["A"]);
    let b = add_user(&sim, &["B"]);
    for weak in ["1234", "0000", "987654", "121212"] {
        let out = set_pin(&sim, a, weak);
        assert_eq!(out.status.code(), Some(1), "{weak}");
        assert_eq!(json(&out)["error"]["status"], "weak", "{weak}");
    }
    for bad_length in ["058", "05821305821"] {
        let out = set_pin(&sim, a, bad_length);
        assert_eq!(out.status.code(), Some(1), "{bad_length}");
        assert_eq!(json(&out)["error"]["status"], "invalid_field", "{bad_length}");
    }
    assert!(set_pin(&sim, a, "058213").status.success());
    let out = set_pin(&sim, b, "058213");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["error"]["status"], "duplicate");
    // The leading zero is part of the PIN: 58213 is another (unknown) code.
    granted(&sim, "pin 058213");
    refused(&sim, "pin 58213", "unknown_credential");
    // Not digits: the tool says so before asking.
    sim.cli().args(["pin", "set", "1", "--stdin"]).write_stdin("12ab\n").assert().code(2);
    sim.stop();
}

#[test]
fn guest_one_time_use_limit_and_schedule_are_enforced_by_the_lock_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["time", "sync"]).assert().success();

    // A guest whose code ends in 6 seconds.
    let out = sim
        .cli()
        .args(["--json", "guest", "add", "Visitor", "--until", "+6s", "--stdin"])
        .write_stdin("640271\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    granted(&sim, "pin 640271");
    sim.act("clock +7s");
    refused(&sim, "pin 640271", "expired");

    // One-time: once, then refused.
    let once = add_user(&sim, &["Courier", "--kind", "one-time"]);
    assert!(set_pin(&sim, once, "739164").status.success());
    granted(&sim, "pin 739164");
    refused(&sim, "pin 739164", "uses_exhausted");

    // A use limit of 3 really counts down, and survives a restart of the simulator.
    let limited = add_user(&sim, &["Cleaner", "--uses", "3"]);
    assert!(set_pin(&sim, limited, "815302").status.success());
    granted(&sim, "pin 815302");
    granted(&sim, "pin 815302");
    let left =
        json(&sim.cli().args(["user", "show", &limited.to_string(), "--json"]).output().unwrap());
    assert_eq!(left["uses_left"], 1);
    sim.stop();
    let sim = Sim::start(dir.path(), &[]);
    sim.cli().args(["time", "sync"]).assert().success();
    granted(&sim, "pin 815302");
    refused(&sim, "pin 815302", "uses_exhausted");

    // A scheduled user outside their window (a window on another day than today).
    let today =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
            / 86_400
            + 3)
            % 7;
    let other_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][((today + 2) % 7) as usize];
    let window = format!("{other_day} 00:00-24:00");
    let night = add_user(&sim, &["Night guard", "--kind", "scheduled", "--window", &window]);
    assert!(set_pin(&sim, night, "260491").status.success());
    refused(&sim, "pin 260491", "outside_schedule");
    sim.cli()
        .args(["schedule", "set", &night.to_string(), "--window", "daily 00:00-24:00"])
        .assert()
        .success();
    granted(&sim, "pin 260491");
    sim.stop();
}

#[test]
fn the_wrong_code_limit_locks_the_keypad_then_it_recovers_and_the_alarm_is_raised() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["config", "set", "wrong-code-limit", "3"]).assert().success();
    sim.cli().args(["config", "set", "lockout", "2"]).assert().success();
    let u = add_user(&sim, &["Ann"]);
    assert!(set_pin(&sim, u, "582917").status.success());
    for wrong in ["111222", "333444", "555666"] {
        refused(&sim, &format!("pin {wrong}"), "unknown_credential");
    }
    // Locked out: even the right PIN is refused.
    refused(&sim, "pin 582917", "keypad_locked_out");
    let alarms = json(&sim.cli().args(["alarms", "--json"]).output().unwrap());
    assert!(
        alarms.as_array().unwrap().iter().any(|a| a["alarm"] == "wrong_code_limit"),
        "{alarms}"
    );
    sim.act("clock +3s");
    granted(&sim, "pin 582917");
    sim.stop();
}

#[test]
fn disabling_a_user_refuses_all_their_credentials_and_enabling_restores_them() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let u = add_user(&sim, &["Ann"]);
    assert!(set_pin(&sim, u, "582917").status.success());
    sim.cli().args(["card", "add", "1", "04a1b2c3d4e5f6"]).assert().success();
    sim.cli().args(["user", "disable", "1"]).assert().success();
    refused(&sim, "pin 582917", "user_disabled");
    refused(&sim, "card 04a1b2c3d4e5f6", "user_disabled");
    sim.cli().args(["user", "enable", "1"]).assert().success();
    granted(&sim, "pin 582917");
    granted(&sim, "card 04a1b2c3d4e5f6");
    sim.stop();
}

#[test]
fn a_card_can_be_learned_by_tapping_it_on_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    add_user(&sim, &["Ann"]);
    let learn = spawn(&sim, &["--json", "card", "add", "1"]);
    sim.wait_for_lines("enrollment card user 1", 1);
    sim.act("card 04112233");
    let (status, stdout, stderr) = learn.finish();
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("04112233"), "{stdout}");
    granted(&sim, "card 04112233");
    sim.stop();
}

#[test]
fn capacity_is_enforced_with_resource_exhausted_and_a_duplicate_card_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    add_user(&sim, &["Ann"]);
    add_user(&sim, &["Bob"]);
    let per_user = json(&sim.cli().args(["info", "--json"]).output().unwrap())["capabilities"]["credentials_per_user"].as_u64().unwrap();
    for i in 0..per_user {
        sim.cli().args(["card", "add", "1", &format!("0400{i:04x}")]).assert().success();
    }
    let out = sim.cli().args(["--json", "card", "add", "1", "04ffffff"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["error"]["status"], "resource_exhausted");
    let out = sim.cli().args(["--json", "card", "add", "2", "04000000"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["error"]["status"], "duplicate");
    sim.stop();
}

#[test]
fn the_checksum_verifies_what_a_script_wrote_without_reading_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let u = add_user(&sim, &["Ann", "--uses", "10"]);
    assert!(set_pin(&sim, u, "058213").status.success());
    sim.cli().args(["card", "add", "1", "04a1b2c3"]).assert().success();
    let file = dir.path().join("provision.json");
    let write = |pin: &str| {
        std::fs::write(
            &file,
            format!(r#"[{{"user": 1, "name": "Ann", "use_limit": 10, "pin": "{pin}", "cards": ["04a1b2c3"]}}]"#),
        )
        .unwrap();
    };
    write("058213");
    sim.cli().arg("checksum").arg("--verify").arg(&file).assert().success();
    // Using a code does not change what was written.
    granted(&sim, "pin 058213");
    sim.cli().arg("checksum").arg("--verify").arg(&file).assert().success();
    // A different PIN in the file: mismatch, exit 1.
    write("058214");
    sim.cli()
        .arg("checksum")
        .arg("--verify")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("does not hold"));
    sim.stop();
}

#[test]
fn users_survive_a_restart_and_a_power_cut() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let u = add_user(&sim, &["Ann"]);
    assert!(set_pin(&sim, u, "582917").status.success());
    sim.act("power-cut");
    granted(&sim, "pin 582917");
    sim.stop();
    let sim = Sim::start(dir.path(), &[]);
    granted(&sim, "pin 582917");
    let users = json(&sim.cli().args(["user", "list", "--json"]).output().unwrap());
    assert_eq!(users.as_array().unwrap().len(), 1);
    sim.stop();
}

#[test]
fn destructive_commands_confirm_and_scripts_pass_yes() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    add_user(&sim, &["Ann"]);
    sim.cli()
        .args(["user", "remove", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--yes"));
    sim.cli().args(["user", "remove", "1", "--yes"]).assert().success();
    sim.cli()
        .args(["--json", "user", "show", "1"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("not_found"));
    sim.stop();
}

#[test]
fn a_finger_enrollment_can_be_cancelled_and_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    add_user(&sim, &["Ann"]);
    let enroll = spawn(&sim, &["--json", "finger", "enroll", "1"]);
    sim.wait_for_lines("enrollment fingerprint user 1: 0/5", 1);
    sim.act("finger ann-thumb 90");
    enroll.stdout.wait_for_line("\"captures\":1", 0);
    // Ctrl-C, as the installer would.
    let pid = enroll.child.id().to_string();
    std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let (status, stdout, stderr) = enroll.finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stdout.contains("\"captures\":1"), "the first capture was reported: {stdout}");
    assert_eq!(json_last(&stdout)["error"]["kind"], "cancelled");
    let user = json(&sim.cli().args(["user", "show", "1", "--json"]).output().unwrap());
    assert_eq!(user["credentials"].as_array().unwrap().len(), 0, "{user}");
    // The finger was not enrolled: it does not open.
    let line = sim.attempt("finger ann-thumb");
    assert!(line.contains("refused"), "{line}");
    sim.stop();
}

fn json_last(stdout: &str) -> Value {
    serde_json::from_str(stdout.lines().last().unwrap_or("null")).unwrap()
}

/// The date `unix_seconds` falls on, `YYYY-MM-DD`.
fn date_of(unix_seconds: u64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_secs(unix_seconds);
    humantime::format_rfc3339_seconds(t).to_string()[..10].to_string()
}

fn rfc3339(unix_seconds: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(unix_seconds))
        .to_string()
}

#[test]
fn user_dates_are_the_lock_local_days_and_an_explicit_offset_is_exact() {
    // A zone far from UTC, chosen from the clock so that the lock's local date is not UTC's
    // and is at least an hour from either of its ends: 12 hours west before 11:00 UTC (the
    // local day is UTC's yesterday), 14 hours east from then (UTC's tomorrow).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (rule, offset, shown, utc_reason): (&str, i64, &str, &str) = if now % 86_400 < 11 * 3600 {
        ("<-12>12", -12 * 3600, "UTC-12:00", "expired")
    } else {
        ("<+14>-14", 14 * 3600, "UTC+14:00", "not_yet_valid")
    };
    let local_now = now.checked_add_signed(offset).unwrap();
    let today = date_of(local_now);
    assert_ne!(today, date_of(now));
    // The instants of the local day's first and last seconds.
    let local_midnight = local_now - local_now % 86_400;
    let (first, last) = (
        local_midnight.checked_add_signed(-offset).unwrap(),
        (local_midnight + 86_399).checked_add_signed(-offset).unwrap(),
    );

    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["time", "sync"]).assert().success();
    sim.cli().args(["config", "set", "time-zone", rule]).assert().success();

    // "Today" is the lock's local day: the code works now.
    let out = sim
        .cli()
        .args(["--json", "guest", "add", "Visitor", "--from", &today, "--until", &today, "--stdin"])
        .write_stdin("640271\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let guest = json(&out);
    assert_eq!(guest["valid_from"], rfc3339(first), "{guest}");
    assert_eq!(guest["valid_until"], rfc3339(last), "{guest}");
    granted(&sim, "pin 640271");

    // JSON stays UTC, for scripts; a person reads the lock's local time.
    let id = guest["user"].to_string();
    let shown_json = json(&sim.cli().args(["user", "show", &id, "--json"]).output().unwrap());
    assert_eq!(shown_json["valid_until"], rfc3339(last), "{shown_json}");
    assert!(rfc3339(last).ends_with('Z'));
    sim.cli().args(["user", "show", &id]).assert().success().stdout(predicate::str::contains(
        format!("valid     {today} 00:00:00 ({shown}) to {today} 23:59:59 ({shown})"),
    ));

    // The same day as UTC times, with `Z`: exactly those instants, whatever the lock's zone,
    // and that day is not today at the lock.
    let utc_day = sim.add_user_with_pin(
        "Utc day",
        "815302",
        &["--from", &format!("{today}T00:00:00Z"), "--until", &format!("{today}T23:59:59Z")],
    );
    let doc =
        json(&sim.cli().args(["user", "show", &utc_day.to_string(), "--json"]).output().unwrap());
    assert_eq!(doc["valid_until"], format!("{today}T23:59:59Z"), "{doc}");
    refused(&sim, "pin 815302", utc_reason);

    // Local times, and a time in another offset.
    sim.cli()
        .args(["user", "edit", &utc_day.to_string(), "--until", &format!("{today}T23:00")])
        .assert()
        .success();
    let doc =
        json(&sim.cli().args(["user", "show", &utc_day.to_string(), "--json"]).output().unwrap());
    assert_eq!(doc["valid_until"], rfc3339(last - 3599), "{doc}");
    sim.cli()
        .args(["user", "edit", &utc_day.to_string(), "--from", &format!("{today}T01:00:00+01:00")])
        .assert()
        .success();
    let doc =
        json(&sim.cli().args(["user", "show", &utc_day.to_string(), "--json"]).output().unwrap());
    assert_eq!(doc["valid_from"], format!("{today}T00:00:00Z"), "{doc}");
    sim.stop();
}

#[test]
fn a_malformed_date_is_a_usage_error_before_any_lock_is_asked() {
    // No lock at this port: the date is refused before the tool would try to open it.
    for args in [
        &["guest", "add", "Visitor", "--until", "2026-02-30", "--generate"][..],
        &["guest", "add", "Visitor", "--from", "soon", "--until", "+3d", "--generate"],
        &["user", "add", "Ann", "--until", "2026-12-01T24:00"],
        &["user", "edit", "1", "--from", "2026-12-01T14:00+1"],
    ] {
        common::latchkey()
            .args(["--port", "/nonexistent/latchkey-port"])
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("is not a time"))
            .stderr(predicate::str::contains("local time"));
    }
}
