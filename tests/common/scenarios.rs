//! Scenarios that must hold on every lock host: each takes a running lock ([`Target`]) and
//! drives it with the real `latchkey` binary. `tests/qemu.rs` runs them against the micro:bit
//! image under QEMU; `tests/cli.rs` can run the same ones against `latchkey-sim`.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use predicates::prelude::*;

use super::json;

/// A running lock, as the scenarios see it.
pub struct Target<'a> {
    /// Its serial port, for bytes that are not `latchkey` commands (line noise).
    pub port: &'a str,
    /// A `latchkey` command already pointed at this lock (`--port`, and whatever else the
    /// host needs: a keystore, a longer `--timeout`), ready for the command's arguments.
    pub cli: &'a dyn Fn() -> assert_cmd::Command,
}

impl Target<'_> {
    fn cli(&self) -> assert_cmd::Command {
        (self.cli)()
    }
}

/// What the host under test says about itself.
pub struct Expected<'a> {
    /// The serial number, when the host lets the test choose it.
    pub serial: Option<&'a str>,
    /// A part of the model name.
    pub model_contains: &'a str,
    /// Whether it reports being a simulation.
    pub simulation: bool,
}

/// `info --json` names the lock, its firmware and protocol versions and its capabilities.
pub fn info_reports_identity_and_capabilities(lock: &Target, expected: &Expected) {
    let out = lock.cli().args(["info", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out);
    match expected.serial {
        Some(serial) => assert_eq!(doc["serial"], serial),
        None => assert!(doc["serial"].as_str().is_some_and(|s| !s.is_empty()), "{doc}"),
    }
    assert!(
        doc["model"].as_str().is_some_and(|m| m.contains(expected.model_contains)),
        "model {} does not name {:?}",
        doc["model"],
        expected.model_contains
    );
    assert_eq!(doc["firmware_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["protocol_version"], latchkey_protocol::PROTOCOL_VERSION);
    assert_eq!(doc["simulation"], expected.simulation);
    let caps = &doc["capabilities"];
    assert!(caps["max_users"].as_u64().unwrap() > 0);
    assert!(caps["pin_length_min"].as_u64().unwrap() <= caps["pin_length_max"].as_u64().unwrap());
    assert!(caps["log_capacity"].as_u64().unwrap() >= 2000);
    assert!(caps["max_in_flight"].as_u64().unwrap() >= 1);
    assert_eq!(caps["access_paths"]["keypad"], true);
}

/// `ping` gets its pongs.
pub fn ping_answers(lock: &Target) {
    lock.cli()
        .args(["ping", "--count", "3", "--interval", "1ms"])
        .assert()
        .success()
        .stdout(predicate::str::contains("pong"));
}

/// `time sync`, then `time get` agrees with the host clock within 2 s and says it is set.
pub fn time_sync_then_get_agree_with_the_host_clock(lock: &Target) {
    lock.cli().args(["time", "sync"]).assert().success();
    let out = lock.cli().args(["time", "get", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out);
    let host = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let lock = doc["unix_seconds"].as_i64().unwrap();
    assert!((lock - host).abs() <= 2, "lock {lock} vs host {host}");
    assert_eq!(doc["is_set"], true);
}

/// A clock never set since power-up says so, and drifts from the host's.
pub fn a_fresh_clock_is_reported_as_not_set_and_drifting(lock: &Target) {
    let out = lock.cli().args(["time", "get", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out);
    assert_eq!(doc["is_set"], false);
    assert_ne!(doc["drift_seconds"], 0);
}

/// A label set before `restart` (a power cycle of whatever kind the host has) is still there
/// after it. `restart` returns once the lock answers again; `lock.cli` must reach it then.
pub fn label_survives_a_restart(lock: &Target, restart: &mut dyn FnMut()) {
    lock.cli()
        .args(["config", "set", "label", "Front door"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Front door"));
    restart();
    lock.cli().args(["config", "get", "label"]).assert().success().stdout("Front door\n");
    let out = lock.cli().args(["config", "get", "--json"]).output().unwrap();
    assert_eq!(json(&out)["door_label"], "Front door");
}

/// 1 KiB of noise on the line: dropped, counted by reason, and the next request succeeds.
pub fn garbage_on_the_line_is_dropped_counted_and_survived(lock: &Target) {
    {
        let mut line = serialport::new(lock.port, 115_200)
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
        line.write_all(&noise).unwrap();
        line.flush().unwrap();
    }
    let out = lock.cli().args(["info", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d = &json(&out)["diagnostics"];
    let dropped: u64 =
        ["dropped_bad_crc", "dropped_malformed", "dropped_too_long", "dropped_undecodable"]
            .iter()
            .map(|k| d[k].as_u64().unwrap())
            .sum();
    assert!(dropped > 0, "no dropped frames counted: {d}");
    // And the human form shows them too.
    lock.cli().args(["info"]).assert().success().stdout(predicate::str::contains("dropped"));
}

/// The lock itself refuses a value out of range: exit code 1, `invalid_field`, nothing changed.
pub fn a_value_out_of_range_is_refused_by_the_lock_with_exit_code_1(lock: &Target) {
    let out =
        lock.cli().args(["--json", "config", "set", "wrong-code-limit", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let err = &json(&out)["error"];
    assert_eq!(err["status"], "invalid_field");
    let out = lock.cli().args(["config", "get", "wrong-code-limit", "--json"]).output().unwrap();
    assert_ne!(json(&out)["wrong_code_limit"], 0);
}

/// The lock's own log on its own flash: the claim and a setting change are there with the
/// role, sessions open and close, `log verify` finds the chain intact, and `diag`, `battery`
/// and `alarms` answer in JSON. (Run right after the claim.)
pub fn the_log_records_changes_with_the_role_and_verifies(lock: &Target) {
    lock.cli().args(["config", "set", "label", "Log check"]).assert().success();
    let out = lock.cli().args(["log", "read", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "holes or repeats: {seqs:?}");
    let change = |what: &str| {
        records
            .iter()
            .any(|r| r["kind"] == "change" && r["what"] == what && r["role"] == "installer")
    };
    assert!(change("claimed") && change("setting"), "{records:#?}");
    assert!(records.iter().any(|r| r["kind"] == "power_up"), "{records:#?}");
    assert!(records.iter().any(|r| r["kind"] == "session" && r["opened"] == true));

    lock.cli()
        .args(["log", "verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("intact"));
    // The head goes on from the one that verify saw, signed where the lock has a device key.
    let info = json(&lock.cli().args(["info", "--json"]).output().unwrap());
    let signs = info["capabilities"]["signs_log_head"].as_bool().unwrap();
    let report = json(&lock.cli().args(["log", "verify", "--json"]).output().unwrap());
    assert_eq!(report["head"]["check"], "holds", "{report}");
    assert_eq!(report["head"]["signed"], signs, "{report}");
    assert_eq!(report["head"]["device_key_pinned_now"], false, "pinned at claim: {report}");
    let diag = json(&lock.cli().args(["diag", "--json"]).output().unwrap());
    let d = &diag["diagnostics"];
    assert!(d["log_records"].as_u64().unwrap() >= records.len() as u64, "{diag}");
    assert!(d["log_capacity"].as_u64().unwrap() >= 2000, "{diag}");
    assert!(d["boot_count"].as_u64().unwrap() >= 1);
    assert!(diag["battery"]["millivolts"].as_u64().unwrap() > 0, "{diag}");
    let alarms = json(&lock.cli().args(["alarms", "list", "--json"]).output().unwrap());
    assert!(alarms.is_array(), "{alarms}");
}
