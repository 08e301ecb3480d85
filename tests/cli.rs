//! End to end: the real `latchkey` binary against the simulator over a pseudo-terminal.

mod common;

use std::io::Write;

use serialport::SerialPort;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Sim, json, latchkey};
use predicates::prelude::*;

#[test]
fn info_json_reports_identity_and_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &["--serial", "SIM-TEST-01"]);
    let out = sim.cli().args(["info", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out);
    assert_eq!(doc["serial"], "SIM-TEST-01");
    assert!(doc["model"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(doc["firmware_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["protocol_version"], latchkey_protocol::PROTOCOL_VERSION);
    assert_eq!(doc["simulation"], true);
    assert_eq!(doc["claimed"], true);
    let caps = &doc["capabilities"];
    assert!(caps["max_users"].as_u64().unwrap() > 0);
    assert!(caps["pin_length_min"].as_u64().unwrap() <= caps["pin_length_max"].as_u64().unwrap());
    assert!(caps["log_capacity"].as_u64().unwrap() >= 2000);
    assert!(caps["max_in_flight"].as_u64().unwrap() >= 1);
    assert_eq!(caps["access_paths"]["keypad"], true);
    sim.stop();
}

#[test]
fn label_survives_a_simulator_restart_on_the_same_flash() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli()
        .args(["config", "set", "label", "Front door"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Front door"));
    sim.stop();

    let sim = Sim::start(dir.path(), &[]);
    sim.cli().args(["config", "get", "label"]).assert().success().stdout("Front door\n");
    let out = sim.cli().args(["config", "get", "--json"]).output().unwrap();
    assert_eq!(json(&out)["label"], "Front door");
    sim.stop();
}

#[test]
fn time_sync_then_get_agree_with_the_host_clock() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["time", "sync"]).assert().success();
    let out = sim.cli().args(["time", "get", "--json"]).output().unwrap();
    assert!(out.status.success());
    let doc = json(&out);
    let host = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let lock = doc["unix_seconds"].as_i64().unwrap();
    assert!((lock - host).abs() <= 2, "lock {lock} vs host {host}");
    assert_eq!(doc["is_set"], true);
    sim.stop();
}

#[test]
fn a_fresh_clock_is_reported_as_not_set_and_drifting() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let out = sim.cli().args(["time", "get", "--json"]).output().unwrap();
    let doc = json(&out);
    assert_eq!(doc["is_set"], false);
    assert_ne!(doc["drift_seconds"], 0);
    sim.stop();
}

#[test]
fn garbage_on_the_line_is_dropped_counted_and_survived() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    {
        let mut port = serialport::new(sim.link_str(), 115_200)
            .timeout(Duration::from_millis(100))
            .open_native()
            .unwrap();
        // xorshift: reproducible noise without a dependency.
        let mut state: u32 = 0x9E37_79B9;
        let noise: Vec<u8> = (0..1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        port.write_all(&noise).unwrap();
        port.flush().unwrap();
    }
    let out = sim.cli().args(["info", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d = &json(&out)["diagnostics"];
    let dropped: u64 =
        ["dropped_bad_crc", "dropped_malformed", "dropped_too_long", "dropped_undecodable"]
            .iter()
            .map(|k| d[k].as_u64().unwrap())
            .sum();
    assert!(dropped > 0, "no dropped frames counted: {d}");
    // And the human form shows them too.
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

    let started = Instant::now();
    let out = sim.cli().args(["info", "--json"]).output().unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("busy"));
    assert_eq!(json(&out)["error"]["kind"], "port_busy");
    // "At once": well under the request timeout, not after it.
    assert!(took < Duration::from_secs(2), "took {took:?}");
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
    let started = Instant::now();
    let out = latchkey().args(["--port", &path, "--timeout", "1s", "info"]).output().unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no answer"), "{stderr}");
    assert!(stderr.contains("hint"), "{stderr}");
    assert!(took < Duration::from_millis(1800), "took {took:?}");
}

#[test]
fn a_value_out_of_range_is_refused_by_the_lock_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let out =
        sim.cli().args(["--json", "config", "set", "wrong-code-limit", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = &json(&out)["error"];
    assert_eq!(err["status"], "invalid_field");
    // Nothing was changed.
    let out = sim.cli().args(["config", "get", "wrong-code-limit", "--json"]).output().unwrap();
    assert_ne!(json(&out)["wrong-code-limit"], 0);
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
