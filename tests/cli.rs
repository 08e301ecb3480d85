//! End to end: the real `latchkey` binary against the simulator over a pseudo-terminal.

mod common;

use common::scenarios::{self, Expected, Target};
use common::{Sim, json, latchkey};
use predicates::prelude::*;
use serialport::SerialPort;

/// The scenarios every lock host must pass (`tests/common/scenarios.rs`), here against
/// `latchkey-sim`; `tests/qemu.rs` runs the same ones against the micro:bit image.
fn on(sim: &Sim, scenario: impl FnOnce(&Target)) {
    let cli = || sim.cli();
    scenario(&Target { port: sim.link_str(), cli: &cli });
}

#[test]
fn info_json_reports_identity_and_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &["--serial", "SIM-TEST-01"]);
    let expected =
        Expected { serial: Some("SIM-TEST-01"), model_contains: "sim", simulation: true };
    on(&sim, |t| scenarios::info_reports_identity_and_capabilities(t, &expected));
    let out = sim.cli().args(["info", "--json"]).output().unwrap();
    assert_eq!(json(&out)["claimed"], true);
    sim.stop();
}

#[test]
fn label_survives_a_simulator_restart_on_the_same_flash() {
    let dir = tempfile::tempdir().unwrap();
    let sim = std::cell::RefCell::new(Some(Sim::start_claimed(dir.path(), &[])));
    let (link, keystore) = {
        let s = sim.borrow();
        let s = s.as_ref().unwrap();
        (s.link_str().to_string(), s.keystore.clone())
    };
    // The port's name and the keystore outlive the simulator process, as a cable and a
    // laptop outlive a lock's reboot.
    let cli = || {
        let mut cmd = latchkey();
        cmd.env("LATCHKEY_KEYSTORE", &keystore).args(["--port", &link]);
        cmd
    };
    let mut restart = || {
        if let Some(old) = sim.borrow_mut().take() {
            old.stop();
        }
        *sim.borrow_mut() = Some(Sim::start(dir.path(), &[]));
    };
    scenarios::label_survives_a_restart(&Target { port: &link, cli: &cli }, &mut restart);
    if let Some(s) = sim.borrow_mut().take() {
        s.stop();
    }
}

#[test]
fn time_sync_then_get_agree_with_the_host_clock() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    on(&sim, scenarios::a_fresh_clock_is_reported_as_not_set_and_drifting);
    on(&sim, scenarios::time_sync_then_get_agree_with_the_host_clock);
    sim.stop();
}

#[test]
fn the_log_records_changes_with_the_role_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    on(&sim, scenarios::the_log_records_changes_with_the_role_and_verifies);
    sim.stop();
}

#[test]
fn garbage_on_the_line_is_dropped_counted_and_survived() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    on(&sim, scenarios::garbage_on_the_line_is_dropped_counted_and_survived);
    // And the human form shows the counts too.
    sim.cli().args(["info"]).assert().success().stdout(predicate::str::contains("dropped"));
    sim.stop();
}

#[test]
fn a_second_command_on_a_busy_port_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), &[]);
    let mut first = std::process::Command::new(common::latchkey_path())
        .env("LATCHKEY_CONFIG", "/nonexistent/x.toml")
        .args(["--port", sim.link_str(), "ping", "--count", "50", "--interval", "100ms"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first command has the port: its first pong.
    let mut reader = std::io::BufReader::new(first.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
    assert!(line.starts_with("pong"), "{line}");

    let out = sim.cli().args(["info", "--json"]).output().unwrap();
    // "At once": refused as busy when opening the port (exit 5), not after waiting for an
    // answer that cannot come (that would be the timeout, exit 4).
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("busy"));
    assert_eq!(json(&out)["error"]["kind"], "port_busy");
    let _ = first.kill();
    let _ = first.wait();
    sim.stop();
}

#[test]
fn nothing_answering_is_a_timeout_with_exit_code_4_within_the_timeout() {
    // A pty whose other end never answers: a port with no lock behind it.
    let (_silent_master, slave) = serialport::TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    drop(slave);
    let out = latchkey().args(["--port", &path, "--timeout", "1s", "info"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The tool keeps to the time-out it was given (its attempts share it) and says so.
    assert!(stderr.contains("no answer") && stderr.contains("within 1s"), "{stderr}");
    assert!(stderr.contains("hint"), "{stderr}");
}

#[test]
fn a_value_out_of_range_is_refused_by_the_lock_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    on(&sim, scenarios::a_value_out_of_range_is_refused_by_the_lock_with_exit_code_1);
    sim.stop();
}

#[test]
fn a_malformed_value_is_a_usage_error_before_anything_is_sent() {
    latchkey()
        .args(["--port", "/nonexistent/port", "config", "set", "volume", "loudest"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("off, low, medium or high"));
}

#[test]
fn a_missing_port_is_no_device_with_exit_code_3() {
    latchkey()
        .args(["--port", "/nonexistent/ttyUSB9", "info"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("latchkey ports"));
}

#[test]
fn no_port_named_and_no_adapter_is_exit_code_3_without_prompting() {
    latchkey()
        .args(["--non-interactive", "battery"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("--port"));
}

#[test]
fn the_built_in_simulated_lock_answers() {
    latchkey()
        .args(["--sim", "info"])
        .assert()
        .success()
        .stdout(predicate::str::contains("simulation"))
        .stdout(predicate::str::contains("serial"));
    let out = latchkey().args(["--sim", "battery", "--json"]).output().unwrap();
    let doc = json(&out);
    assert!(doc["millivolts"].as_u64().unwrap() > 0);
    assert!(doc["percent"].as_u64().unwrap() <= 100);
    assert_eq!(doc["state"], "ok");
}

#[test]
fn the_simulator_survives_the_host_closing_and_reopening_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), &[]);
    for _ in 0..3 {
        sim.cli().args(["ping", "--count", "2", "--interval", "1ms"]).assert().success();
    }
    sim.stop();
}

#[test]
fn ports_lists_as_json() {
    let out = latchkey().args(["ports", "--json"]).output().unwrap();
    assert!(out.status.success());
    assert!(json(&out).is_array());
}
