//! End to end, the lock's own event log, battery and alarms: the real `latchkey` binary and
//! the real `latchkey-sim`, the simulated person on the simulator's standard input.

mod common;
#[path = "../firmware/tests/support/log_items.rs"]
mod log_items;

use common::{Sim, json};
use predicates::prelude::*;
use serde_json::Value;

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// What `latchkey log read` said on stderr: the gap note, if any, and the human summary.
fn notes(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `2,573`: how the notes write a count.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[test]
fn a_day_at_the_door_is_recorded_in_order_with_users_and_reasons_and_no_pin() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["time", "sync"]).assert().success();
    sim.cli().args(["config", "set", "wrong-code-limit", "2"]).assert().success();
    sim.cli().args(["config", "set", "lockout", "1"]).assert().success();
    let ann = sim.add_user_with_pin("Ann", "582917", &[]);
    sim.cli().args(["card", "add", &ann.to_string(), "04a1b2c3"]).assert().success();
    sim.enroll_finger(ann, "ann-thumb");
    let guest = sim.add_user_with_pin(
        "Guest",
        "640271",
        &["--kind", "guest", "--from", "2020-01-01", "--until", "2021-01-01"],
    );
    let start =
        json(&sim.cli().args(["log", "read", "--last", "1", "--json"]).output().unwrap())["seq"]
            .as_u64()
            .unwrap()
            + 1;

    // The day, by the simulated person alone.
    sim.attempt("pin 582917");
    sim.attempt("pin 111111");
    sim.attempt("pin 222222");
    sim.attempt("pin 582917"); // locked out
    sim.act("clock +2s");
    sim.attempt("card 04a1b2c3");
    sim.attempt("finger ann-thumb");
    sim.attempt("pin 640271"); // expired guest
    sim.act("tamper on");
    sim.act("battery 4700");
    sim.act("jam on");
    sim.attempt("card 04a1b2c3");

    let out =
        sim.cli().args(["log", "read", "--since", &start.to_string(), "--json"]).output().unwrap();
    let records = json_lines(&out);
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "sequence has holes: {seqs:?}");
    let access: Vec<(bool, Option<u64>, String)> = records
        .iter()
        .filter(|r| r["kind"] == "access")
        .map(|r| {
            (
                r["granted"].as_bool().unwrap(),
                r["user"].as_u64(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = vec![
        (true, Some(ann), "granted".to_string()),
        (false, None, "unknown_credential".to_string()),
        (false, None, "keypad_locked_out".to_string()),
        (true, Some(ann), "granted".to_string()),
        (true, Some(ann), "granted".to_string()),
        (false, Some(guest), "expired".to_string()),
        (true, Some(ann), "granted".to_string()),
    ];
    assert_eq!(access, expected, "{records:#?}");
    // The second wrong PIN, right after the first, is a burst of one more.
    let burst = records.iter().find(|r| r["kind"] == "repeated").expect("a burst record");
    assert_eq!(burst["of"], "access", "{burst}");
    assert_eq!(burst["reason"], "unknown_credential", "{burst}");
    assert_eq!(burst["count"], 1, "{burst}");
    let paths: Vec<&str> = records
        .iter()
        .filter(|r| r["kind"] == "access")
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["keypad", "keypad", "keypad", "rfid", "fingerprint", "keypad", "rfid"],
        "{records:#?}"
    );
    let alarms: Vec<&str> = records
        .iter()
        .filter(|r| r["kind"] == "alarm" && r["raised"] == true)
        .map(|r| r["alarm"].as_str().unwrap())
        .collect();
    for alarm in ["wrong_code_limit", "tamper", "low_battery", "jammed"] {
        assert!(alarms.contains(&alarm), "no {alarm} alarm in {alarms:?}");
    }
    assert!(records.iter().any(|r| r["kind"] == "battery" && r["state"] == "low"), "{records:#?}");
    // No PIN anywhere in the log, in any form.
    let text = String::from_utf8_lossy(&out.stdout);
    for pin in ["582917", "640271", "111111", "222222"] {
        assert!(!text.contains(pin), "a PIN is in the log: {pin}");
    }
    // Changes over the cable are there too, with the role, and never a secret.
    let all = json_lines(
        &sim.cli().args(["log", "read", "--json", "--kind", "change"]).output().unwrap(),
    );
    assert!(
        all.iter().any(|r| r["what"] == "pin_set" && r["role"] == "installer" && r["user"] == ann),
        "{all:#?}"
    );
    assert!(all.iter().any(|r| r["what"] == "claimed"));
    sim.stop();
}

#[test]
fn log_read_gives_json_lines_csv_and_resumes_with_since() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    for _ in 0..30 {
        sim.attempt("key");
    }
    let out = sim.cli().args(["log", "read", "--json"]).output().unwrap();
    let all = json_lines(&out);
    assert!(all.len() >= 30);
    // Nothing was dropped: the log starts at 1 and no read or verify speaks of a gap.
    assert_eq!(all[0]["seq"], 1, "{:?}", all[0]);
    assert!(!notes(&out).contains("gone"), "a gap note on a fresh lock: {}", notes(&out));
    for args in [&["log", "read"][..], &["log", "read", "--csv"], &["log", "read", "--last", "5"]] {
        let out = sim.cli().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", notes(&out));
        assert!(!notes(&out).contains("gone"), "{args:?} on a fresh lock: {}", notes(&out));
    }
    let report = json(&sim.cli().args(["--json", "log", "verify"]).output().unwrap());
    assert_eq!(report["dropped_before"], 0, "{report}");
    assert_eq!(report["dropped_because"], Value::Null, "{report}");
    assert_eq!(report["anchored"], true, "{report}");
    let out = sim.cli().args(["log", "verify"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("seq 1 to") && !text.contains("gone") && !text.contains("dropped"),
        "{text}"
    );
    // Every command opens a session, which the log records too: compare up to what was read.
    let mid = all[all.len() / 2]["seq"].as_u64().unwrap();
    let rest = json_lines(
        &sim.cli().args(["log", "read", "--json", "--since", &mid.to_string()]).output().unwrap(),
    );
    let expected: Vec<&Value> = all.iter().filter(|r| r["seq"].as_u64().unwrap() >= mid).collect();
    assert_eq!(rest[0]["seq"].as_u64().unwrap(), mid);
    assert!(rest.len() >= expected.len());
    assert_eq!(rest.iter().take(expected.len()).collect::<Vec<_>>(), expected);
    let last5 =
        json_lines(&sim.cli().args(["log", "read", "--json", "--last", "5"]).output().unwrap());
    assert_eq!(last5.len(), 5);
    let seqs: Vec<u64> = last5.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1)
            && seqs[4] >= all.last().unwrap()["seq"].as_u64().unwrap(),
        "{last5:?}"
    );
    let keys = json_lines(
        &sim.cli().args(["log", "read", "--json", "--path", "mechanical_key"]).output().unwrap(),
    );
    assert_eq!(keys.len(), 30);

    // CSV: a header and one row per record, all with the same number of columns.
    let out = sim.cli().args(["log", "read", "--csv"]).output().unwrap();
    assert!(out.status.success());
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let header = reader.headers().unwrap().clone();
    assert_eq!(&header[0], "seq");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert!(rows.len() >= all.len());
    assert!(rows.iter().all(|r| r.len() == header.len()));
    sim.stop();
}

/// The sequence followed across one restart and one power cut; the capacity case, with both,
/// is `five_thousand_events_keep_the_newest_report_the_gap_and_never_repeat_a_seq`.
#[test]
fn the_sequence_goes_on_across_a_restart_and_never_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    for _ in 0..40 {
        sim.attempt("key");
    }
    let before = json_lines(&sim.cli().args(["log", "read", "--json"]).output().unwrap());
    let newest = before.last().unwrap()["seq"].as_u64().unwrap();
    sim.act("power-cut");
    sim.attempt("key");
    sim.stop();
    let sim = Sim::start(dir.path(), &[]);
    sim.attempt("key");
    let after = json_lines(&sim.cli().args(["log", "read", "--json"]).output().unwrap());
    let seqs: Vec<u64> = after.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert!(*seqs.last().unwrap() > newest + 2);
    let power_ups = after.iter().filter(|r| r["kind"] == "power_up").count();
    assert!(power_ups >= 3, "claim boot, power cut, restart: {power_ups}");
    sim.cli().args(["log", "verify"]).assert().success();
    sim.stop();
}

#[test]
fn log_verify_passes_on_an_intact_log_and_names_the_place_of_an_altered_record() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    for _ in 0..60 {
        sim.attempt("key");
    }
    sim.cli().args(["log", "verify"]).assert().success().stdout(predicate::str::contains("intact"));
    let flash_path = sim.flash.clone();
    sim.stop();

    // Someone edits the flash file: one byte in the middle of the log's records.
    let mut flash = std::fs::read(&flash_path).unwrap();
    let region = 0x2_B000usize..0x3_DC00;
    let used: Vec<usize> = region.clone().filter(|&i| flash[i] != 0xFF).collect();
    let target = used[used.len() / 2];
    flash[target] ^= 0x01;
    std::fs::write(&flash_path, &flash).unwrap();

    let sim = Sim::start(dir.path(), &[]);
    let out = sim.cli().args(["--json", "log", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken") && stderr.chars().any(|c| c.is_ascii_digit()), "{stderr}");
    let doc: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(doc["intact"], false);
    assert!(doc["broken"].is_object(), "{doc}");
    sim.stop();
}

/// Someone with the flash chip removes one record, or rewrites one (who came in) and fixes its
/// CRC so it still reads: `log verify` names the very record, by its seq.
#[test]
fn log_verify_names_a_removed_and_a_rewritten_record_by_seq() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    for _ in 0..40 {
        sim.attempt("key");
    }
    let records = json_lines(&sim.cli().args(["log", "read", "--json"]).output().unwrap());
    let target = records[records.len() / 2]["seq"].as_u64().unwrap() as u32;
    let flash_path = sim.flash.clone();
    sim.stop();
    let original = std::fs::read(&flash_path).unwrap();

    let verify = |bytes: &[u8]| {
        std::fs::write(&flash_path, bytes).unwrap();
        let sim = Sim::start(dir.path(), &[]);
        let out = sim.cli().args(["log", "verify"]).output().unwrap();
        sim.stop();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    // Removed: a zero CRC is how the flash queue marks an item erased.
    let mut removed = original.clone();
    let item = log_items::raw_item_of(&removed, target);
    removed[item.address..item.address + 4].fill(0);
    let (code, stderr) = verify(&removed);
    assert_eq!(code, Some(1), "{stderr}");
    let place = format!("missing between {} and {}", target - 1, target + 1);
    assert!(stderr.contains(&place), "{stderr}");

    // Rewritten: the key turn now reads as a keypad entry, its CRC made to match.
    let mut rewritten = original.clone();
    let item = log_items::raw_item_of(&rewritten, target);
    let mut record = item.record.unwrap();
    record.entry = latchkey_protocol::LogEntry::Access {
        path: latchkey_protocol::AccessPath::Keypad,
        granted: true,
        user: None,
        reason: latchkey_protocol::AccessReason::Granted,
    };
    let mut buf = [0u8; 64];
    let mut data = postcard::to_slice(&record, &mut buf).unwrap().to_vec();
    data.extend_from_slice(&item.data[item.data.len() - latchkey_firmware::log::TAG_LEN..]);
    log_items::rewrite_item(&mut rewritten, &item, &data);
    let (code, stderr) = verify(&rewritten);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&format!("record {target} was altered")), "{stderr}");

    // The original verifies again: nothing else was touched.
    let (code, stderr) = verify(&original);
    assert_eq!(code, Some(0), "{stderr}");
}

/// The log's flash wiped behind the lock's back: numbering goes on from the lock's high-water
/// mark, and the gap that leaves is not passed off as records dropped for room.
#[test]
fn a_wiped_log_leaves_a_gap_named_as_not_dropped_for_room() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    for _ in 0..80 {
        sim.attempt("key");
    }
    let flash_path = sim.flash.clone();
    sim.stop();
    let mut flash = std::fs::read(&flash_path).unwrap();
    flash[0x2_B000..0x4_0000].fill(0xFF);
    std::fs::write(&flash_path, &flash).unwrap();

    let sim = Sim::start(dir.path(), &[]);
    let out = sim.cli().args(["log", "read", "--json"]).output().unwrap();
    let records = json_lines(&out);
    let first = seq_of(&records[0]);
    assert!(first > 80, "numbering went back after the wipe: {first}");
    let note = notes(&out);
    assert!(
        note.contains(&format!("records 1 to {} are gone", first - 1))
            && note.contains("not dropped for room")
            && note.contains("erased"),
        "{note}"
    );
    let report = json(&sim.cli().args(["--json", "log", "verify"]).output().unwrap());
    assert_eq!(report["dropped_before"].as_u64(), Some(first - 1), "{report}");
    assert_eq!(report["dropped_because"], "erased", "{report}");
    sim.stop();
}

#[test]
fn clearing_is_an_installer_action_that_is_itself_logged() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    for _ in 0..10 {
        sim.attempt("key");
    }
    let before =
        json_lines(&sim.cli().args(["log", "read", "--json", "--last", "1"]).output().unwrap())[0]
            ["seq"]
            .as_u64()
            .unwrap();
    let tech = sim.technician_key();
    sim.cli().arg("--key").arg(&tech).args(["log", "read"]).assert().success();
    sim.cli().arg("--key").arg(&tech).args(["log", "clear", "--yes"]).assert().code(1);
    sim.cli().args(["log", "clear"]).assert().code(2).stderr(predicate::str::contains("--yes"));
    sim.cli().args(["log", "clear", "--yes"]).assert().success();
    let out = sim.cli().args(["log", "read", "--json"]).output().unwrap();
    let after = json_lines(&out);
    // First the security records a clear never takes (the claim among them), then the log.
    let at = after.iter().position(|r| r["kind"] == "cleared").expect("the Cleared record");
    assert!(after[..at].iter().any(|r| r["what"] == "claimed"), "{after:#?}");
    assert!(after[..at].iter().all(|r| r["class"] == "security"), "{after:#?}");
    let after = &after[at..];
    let cleared = after[0]["seq"].as_u64().unwrap();
    assert!(cleared > before, "the sequence went back: {after:#?}");
    assert_eq!(after[0]["kind"], "cleared");
    // The gap a clearing leaves is named as one, not as records dropped for room.
    let note = notes(&out);
    assert!(
        note.contains(&format!("records 1 to {} are gone", cleared - 1))
            && note.contains("an installer cleared the log")
            && !note.contains("for room"),
        "{note}"
    );
    let report = json(&sim.cli().args(["--json", "log", "verify"]).output().unwrap());
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["first_seq"].as_u64(), Some(cleared), "{report}");
    assert_eq!(report["dropped_before"].as_u64(), Some(cleared - 1), "{report}");
    assert_eq!(report["dropped_because"], "cleared", "{report}");
    sim.cli().args(["log", "verify"]).assert().success().stdout(
        predicate::str::contains("cleared the log").and(predicate::str::contains("for room").not()),
    );
    // Asked from the clearing on, nothing asked for is gone.
    let out = sim.cli().args(["log", "read", "--since", &cleared.to_string()]).output().unwrap();
    assert!(out.status.success() && !notes(&out).contains("gone"), "{}", notes(&out));
    sim.stop();
}

#[test]
fn battery_shows_load_and_crossing_thresholds_raises_events_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.attempt("key");
    let doc = json(&sim.cli().args(["battery", "--json"]).output().unwrap());
    for field in ["millivolts", "loaded_millivolts", "percent", "operations_left"] {
        assert!(doc[field].is_u64(), "{field}: {doc}");
    }
    assert_eq!(doc["state"], "ok");
    for mv in ["4800", "4750", "4400", "4350"] {
        sim.act(&format!("battery {mv}"));
    }
    let doc = json(&sim.cli().args(["battery", "--json"]).output().unwrap());
    assert_eq!(doc["state"], "critical");
    let battery = json_lines(
        &sim.cli().args(["log", "read", "--json", "--kind", "battery"]).output().unwrap(),
    );
    let states: Vec<&str> = battery.iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert_eq!(states.iter().filter(|s| **s == "low").count(), 1, "{states:?}");
    assert_eq!(states.iter().filter(|s| **s == "critical").count(), 1, "{states:?}");
    // Critical still opens.
    let u = sim.add_user_with_pin("Ann", "582917", &[]);
    let line = sim.attempt("pin 582917");
    assert!(line.contains("granted"), "{line} (user {u})");
    sim.cli().args(["diag"]).assert().success().stdout(predicate::str::contains("under load"));
    sim.stop();
}

#[test]
fn alarms_are_listed_and_cleared_by_an_installer() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.act("tamper on");
    let list = json(&sim.cli().args(["alarms", "list", "--json"]).output().unwrap());
    assert!(list.as_array().unwrap().iter().any(|a| a["alarm"] == "tamper"), "{list}");
    // Raised before anyone set the clock: no made-up time.
    assert!(list.as_array().unwrap().iter().all(|a| a["since"].is_null()), "{list}");
    sim.cli().args(["time", "sync"]).assert().success();
    sim.act("door open"); // the bolt is thrown: forced open
    let list = json(&sim.cli().args(["alarms", "list", "--json"]).output().unwrap());
    let forced = list.as_array().unwrap().iter().find(|a| a["alarm"] == "forced_open");
    assert!(forced.is_some_and(|a| a["since"].is_string()), "{list}");
    sim.cli().args(["alarms", "clear", "--yes"]).assert().success();
    let list = json(&sim.cli().args(["alarms", "--json"]).output().unwrap());
    assert!(list.as_array().unwrap().is_empty(), "{list}");
    let changes = json_lines(
        &sim.cli().args(["log", "read", "--json", "--kind", "change"]).output().unwrap(),
    );
    assert!(changes.iter().any(|r| r["what"] == "alarms_cleared"));
    sim.stop();
}

/// Turns the mechanical key `turns` times in bursts (each turn is one access record), then
/// checks that this simulator process has printed `seen_before + turns` access decisions in
/// all. Returns that new total.
fn turn_key(sim: &Sim, turns: usize, seen_before: usize) -> usize {
    sim.act_repeatedly("key", turns);
    let expected = seen_before + turns;
    let seen = sim.lines_with("latchkey-sim: access ").len();
    assert_eq!(seen, expected, "{turns} key turns, {} access decisions", seen - seen_before);
    expected
}

/// The whole log as the real binary reads it, checked to be consecutive: without the security
/// records kept from before its oldest record ([`read_everything`] has them).
fn read_whole_log(sim: &Sim) -> Vec<Value> {
    read_whole_log_and_note(sim).0
}

/// [`read_whole_log`], and what the read said on stderr.
fn read_whole_log_and_note(sim: &Sim) -> (Vec<Value>, String) {
    let (mut records, start, note) = read_log_parts(sim);
    records.drain(..start);
    (records, note)
}

/// Everything `log read` gives: the kept security records, then the log.
fn read_everything(sim: &Sim) -> Vec<Value> {
    read_log_parts(sim).0
}

/// The records `log read` gives, where the consecutive log starts among them (the records
/// before are kept security records, checked to be security records), and its notes.
fn read_log_parts(sim: &Sim) -> (Vec<Value>, usize, String) {
    let out = sim.cli().args(["log", "read", "--json"]).output().unwrap();
    let records = json_lines(&out);
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "the log read is not in order: {seqs:?}");
    // Where the consecutive log starts: after the last jump.
    let start = seqs.windows(2).rposition(|w| w[1] != w[0] + 1).map_or(0, |at| at + 1);
    assert!(
        records[..start].iter().all(|r| r["class"] == "security"),
        "only security records are kept from before the log's oldest: {:?}",
        &records[..start]
    );
    (records, start, notes(&out))
}

fn seq_of(r: &Value) -> u64 {
    r["seq"].as_u64().unwrap()
}

fn is_key_turn(r: &Value) -> bool {
    r["kind"] == "access" && r["path"] == "mechanical_key"
}

/// Checks a read taken after a reboot against the one taken before it: records still present
/// from before are unchanged (no seq given to another record), and everything from the reboot's
/// power-up record on is numbered above anything seen before.
fn check_across_reboot(before: &[Value], after: &[Value], boot_count: u64, what: &str) {
    let before_max = seq_of(before.last().unwrap());
    for r in after.iter().filter(|r| seq_of(r) <= before_max) {
        let old = before.iter().find(|b| b["seq"] == r["seq"]);
        assert_eq!(Some(r), old, "seq {} means something else after the {what}", r["seq"]);
    }
    let boot = after
        .iter()
        .position(|r| r["kind"] == "power_up" && r["boot_count"] == boot_count)
        .unwrap_or_else(|| panic!("no power-up #{boot_count} after the {what}"));
    assert!(
        after[boot..].iter().all(|r| seq_of(r) > before_max),
        "a seq after the {what} is not above {before_max}, the highest seen before"
    );
}

/// The acceptance case: 5,000 key turns into a log that keeps ~2,600, with a power cut
/// and a full restart of the simulator between batches; everything read through `latchkey`.
#[test]
fn five_thousand_events_keep_the_newest_report_the_gap_and_never_repeat_a_seq() {
    const BATCHES: [usize; 4] = [1500, 2000, 1000, 500];
    let total_turns: usize = BATCHES.iter().sum();
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["time", "sync"]).assert().success();
    let info = json(&sim.cli().args(["info", "--json"]).output().unwrap());
    let capacity = info["capabilities"]["log_capacity"].as_u64().unwrap();
    assert!(capacity >= 2000, "{info}");
    let boot0 = info["diagnostics"]["boot_count"].as_u64().unwrap();

    // Batch 1, then the power goes (the simulator reboots from its flash).
    let seen = turn_key(&sim, BATCHES[0], 0);
    let (read1, note1) = read_whole_log_and_note(&sim);
    assert_eq!(seq_of(&read1[0]), 1, "1,500 events and something was dropped?");
    assert!(!note1.contains("gone"), "a gap note with nothing dropped: {note1}");
    assert_eq!(read1.iter().filter(|r| is_key_turn(r)).count(), BATCHES[0]);
    sim.act("power-cut");

    // Batch 2 on the rebooted lock, then the simulator process is stopped and started again.
    turn_key(&sim, BATCHES[1], seen);
    let read2 = read_whole_log(&sim);
    check_across_reboot(&read1, &read2, boot0 + 1, "power cut");
    assert!(seq_of(&read2[0]) > 1, "1,500 + 2,000 events and nothing was dropped?");
    sim.stop();
    let sim = Sim::start(dir.path(), &[]);

    // Batch 3, another power cut, batch 4.
    let seen = turn_key(&sim, BATCHES[2], 0);
    let read3 = read_whole_log(&sim);
    check_across_reboot(&read2, &read3, boot0 + 2, "restart");
    sim.act("power-cut");
    turn_key(&sim, BATCHES[3], seen);

    // The whole log, as a technician's script would read it.
    let (all, note) = read_whole_log_and_note(&sim);
    check_across_reboot(&read3, &all, boot0 + 3, "second power cut");
    let first = seq_of(&all[0]);
    let last = seq_of(all.last().unwrap());
    let count = all.len() as u64;
    assert!(first > 1, "the oldest records should have been dropped for room: first is {first}");
    assert!(count >= 2000, "only {count} records kept");
    assert!(count >= capacity, "{count} records kept, the lock says it keeps {capacity}");
    assert!(count < total_turns as u64, "{count} kept of {total_turns} events: nothing dropped?");
    assert_eq!(count, last - first + 1);
    // The plain read says so on stderr (stdout stays one record a line).
    assert!(
        note.contains(&format!("records 1 to {} are gone", first - 1))
            && note.contains(&format!("the log keeps the newest ~{}", grouped(capacity)))
            && note.contains("dropped for room"),
        "log read --json does not report the gap before {first}: {note:?}"
    );
    // The newest: the last records read are the last batch's key turns (and the session this
    // read opened).
    let tail_turns = all
        .iter()
        .rev()
        .skip_while(|r| r["kind"] == "session")
        .take_while(|r| is_key_turn(r))
        .count();
    assert!(
        tail_turns >= BATCHES[3],
        "the newest records are not the last batch's: {:#?}",
        &all[all.len() - 3..]
    );

    // The lock's own figures: full, and at most the sessions of the read and of this
    // command more than was read.
    let info = json(&sim.cli().args(["info", "--json"]).output().unwrap());
    let held = info["diagnostics"]["log_records"].as_u64().unwrap();
    assert!(held >= capacity && held <= count + 4, "the lock holds {held}, read {count}: {info}");
    assert_eq!(info["diagnostics"]["log_capacity"].as_u64(), Some(capacity));

    // Each command below opens a session, which the log records too; should such a record make
    // the log drop its oldest page, the oldest seq moves up: compare with that in mind.

    // The key turns kept: the last two batches whole (the power-ups split them), and of the
    // first two exactly those numbered from the oldest kept record on.
    let boot = |n: u64| {
        all.iter()
            .position(|r| r["kind"] == "power_up" && r["boot_count"] == n)
            .unwrap_or_else(|| panic!("power-up #{n} was dropped: {} records kept", all.len()))
    };
    let (restart, cut2) = (boot(boot0 + 2), boot(boot0 + 3));
    let turns = |rs: &[Value]| rs.iter().filter(|r| is_key_turn(r)).count();
    assert_eq!(turns(&all[restart..cut2]), BATCHES[2], "the third batch's key turns");
    assert_eq!(turns(&all[cut2..]), BATCHES[3], "the last batch's key turns");
    let earlier_kept =
        |from: u64| read2.iter().filter(|r| is_key_turn(r) && seq_of(r) >= from).count();
    assert!(earlier_kept(first) > 0 && earlier_kept(first) < BATCHES[0] + BATCHES[1]);
    assert_eq!(turns(&all), earlier_kept(first) + BATCHES[2] + BATCHES[3]);
    let keys = json_lines(
        &sim.cli().args(["log", "read", "--json", "--path", "mechanical_key"]).output().unwrap(),
    );
    let keys_from = seq_of(&keys[0]);
    assert!(keys_from >= first, "a key turn older than the oldest record: {}", keys[0]);
    let expected: Vec<&Value> =
        all.iter().filter(|r| is_key_turn(r) && seq_of(r) >= keys_from).collect();
    assert_eq!(keys.iter().collect::<Vec<_>>(), expected, "--path mechanical_key");
    assert_eq!(keys.len(), earlier_kept(keys_from) + BATCHES[2] + BATCHES[3]);
    assert!(keys.iter().all(|r| r["granted"] == true), "{:?}", keys[0]);

    // The gap is reported: by `log read` asked from the start, and by `log verify`.
    let out = sim.cli().args(["log", "read", "--json", "--since", "1"]).output().unwrap();
    let from_one = json_lines(&out);
    // The security records kept from the gap come first (the claim); then the log.
    let kept = from_one.iter().take_while(|r| seq_of(r) < first).count();
    assert!(from_one[..kept].iter().any(|r| r["what"] == "claimed"), "{:?}", &from_one[..kept]);
    let from_one = &from_one[kept..];
    let from = seq_of(&from_one[0]);
    assert!(from >= first && from <= last, "--since 1 starts at {from}, not at the oldest kept");
    let overlap = (last + 1 - from) as usize;
    assert_eq!(from_one[..overlap], all[all.len() - overlap..], "--since 1 and the whole log");
    let note = notes(&out);
    assert!(
        note.contains(&format!("records 1 to {} are gone", from - 1)),
        "log read --since 1 does not name the records lost to wrap-around: {note:?}"
    );
    // So does a --last reaching back past the oldest record, and a table; a --since within
    // what is kept, or a --last that does not reach back, says nothing of it.
    for args in [&["log", "read", "--json", "--last", "100000"][..], &["log", "read", "--csv"]] {
        let out = sim.cli().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", notes(&out));
        assert!(notes(&out).contains("records 1 to "), "{args:?}: {}", notes(&out));
        assert!(notes(&out).contains("dropped for room"), "{args:?}: {}", notes(&out));
    }
    let kept = (last - 10).to_string();
    for args in [&["log", "read", "--json", "--last", "10"][..], &["log", "read", "--since", &kept]]
    {
        let out = sim.cli().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", notes(&out));
        assert!(!notes(&out).contains("gone"), "{args:?}: {}", notes(&out));
    }
    let out = sim.cli().args(["--json", "log", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json(&out);
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["anchored"], false, "the dropped front is not reported: {report}");
    let (v_first, v_last) =
        (report["first_seq"].as_u64().unwrap(), report["last_seq"].as_u64().unwrap());
    assert!(v_first >= from && v_last > last, "{report}");
    assert_eq!(report["records"].as_u64(), Some(v_last - v_first + 1), "{report}");
    assert_eq!(report["dropped_before"].as_u64(), Some(v_first - 1), "{report}");
    assert_eq!(report["dropped_because"], "full", "{report}");
    let out = sim.cli().args(["log", "verify"]).output().unwrap();
    assert!(out.status.success(), "{}", notes(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    // Each command's session is a record: the oldest may have moved up a page since.
    let dropped: u64 = text
        .split("; ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .map(|n| n.replace(',', "").parse().unwrap())
        .unwrap_or_else(|| panic!("log verify does not count the dropped records: {text}"));
    assert!(dropped >= v_first - 1 && dropped < v_first + 64, "{text}");
    assert!(
        text.starts_with("log intact: ")
            && text.contains(&format!("{} older records were dropped for room", grouped(dropped))),
        "{text}"
    );

    println!(
        "{total_turns} key turns: {count} records kept (seqs {first} to {last}), {} of them key \
         turns; the lock holds {held} and says it keeps {capacity}",
        keys.len()
    );
    sim.stop();
}

#[test]
fn six_hundred_read_only_commands_add_at_most_sixty_records_to_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let next_seq = |sim: &Sim| {
        let out = sim.cli().args(["log", "verify", "--json"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        json(&out)["last_seq"].as_u64().unwrap()
    };
    let before = next_seq(&sim);
    for _ in 0..600 {
        let out = sim.cli().args(["battery", "--json"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let added = next_seq(&sim) - before;
    assert!(added <= 60, "600 battery reads added {added} records");
    // A session that changes something is still logged, start and end.
    sim.cli().args(["config", "set", "label", "Side door"]).assert().success();
    let out = sim
        .cli()
        .args(["log", "read", "--kind", "session", "--last", "2", "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let opened: Vec<bool> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["opened"].as_bool().unwrap())
        .collect();
    assert_eq!(opened, [true, false], "{text}");
    sim.stop();
}

/// The log keeps what matters: a keypad hammered 10,000 times and 3,000 technician visits do
/// not push the claim, the duress opening or the tamper alarm out of it, and `log verify`
/// says how many routine records went for room.
#[test]
fn ten_thousand_wrong_pins_and_three_thousand_sessions_keep_the_security_records() {
    use latchkey::keys::KeyFile;
    use latchkey::link::{Client, LinkOptions};
    use latchkey_protocol::Role;

    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["config", "set", "wrong-code-limit", "5"]).assert().success();
    sim.cli().args(["config", "set", "lockout", "30"]).assert().success();
    sim.add_user_with_pin("Held up", "905521", &["--kind", "duress"]);
    assert!(sim.attempt("pin 905521").contains("duress"));
    sim.act_all(&["tamper on", "tamper off"]);
    sim.cli().args(["alarms", "clear", "--yes"]).assert().success();

    let technician = KeyFile::load(&sim.technician_key()).unwrap();
    let visits = |n: usize| {
        let mut client = Client::open(sim.link.as_path(), LinkOptions::default()).unwrap();
        let serial = client.hello().unwrap().serial.to_string();
        let keys = technician.lock_keys(&serial);
        for _ in 0..n {
            client.open_session(Role::Technician, &serial, &keys).unwrap();
        }
    };
    visits(1_500);
    // 10,000 presses: five wrong PINs, the lockout, the lock's clock moved past it; again.
    let mut script = Vec::new();
    for _ in 0..2_000 {
        script.extend(["pin 13579"; 5]);
        script.push("clock +31s");
    }
    sim.act_all(&script);
    visits(1_500);

    let out = sim.cli().args(["log", "verify", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json(&out);
    assert_eq!(report["intact"], true, "{report}");
    let evicted = report["evicted"]["routine"].as_u64().unwrap();
    assert!(evicted > 0, "the hammering pushed routine records out: {report}");
    assert_eq!(report["evicted"]["security"], 0, "{report}");
    let text = sim.cli().args(["log", "verify"]).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains(&format!("evicted since the lock was made: {} routine", grouped(evicted))),
        "{text}"
    );

    let records = read_everything(&sim);
    let first_seq = report["first_seq"].as_u64().unwrap();
    let has = |what: &dyn Fn(&Value) -> bool| records.iter().any(what);
    assert!(has(&|r| r["kind"] == "change" && r["what"] == "claimed" && seq_of(r) < first_seq));
    assert!(has(&|r| r["kind"] == "access" && r["reason"] == "duress"));
    assert!(has(&|r| r["kind"] == "alarm" && r["alarm"] == "tamper" && r["raised"] == true));
    // The hammering is in the log as bursts, not 10,000 records.
    let bursts = records.iter().filter(|r| r["kind"] == "repeated").count();
    assert!(bursts > 0, "no burst records");
    sim.stop();
}

/// An installer trying PINs that other users hold shows up in the log, and is slowed down.
#[test]
fn pins_refused_as_another_users_are_security_records_and_probing_is_slowed() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.add_user_with_pin("Ann", "582917", &[]);
    sim.cli().args(["user", "add", "Bob"]).assert().success();
    let set_bobs_pin = |pin: &str| {
        sim.cli().args(["pin", "set", "Bob", "--stdin"]).write_stdin(format!("{pin}\n")).output()
    };
    for _ in 0..3 {
        let out = set_bobs_pin("582917").unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // The fourth within the minute is not even tried.
    let out = set_bobs_pin("582917").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("busy"), "{stderr}");
    // A minute later a free PIN is taken.
    sim.act("clock +61s");
    set_bobs_pin("730164").unwrap().status.success().then_some(()).expect("a free PIN");

    let records = read_everything(&sim);
    let duplicates: Vec<&Value> = records.iter().filter(|r| r["kind"] == "duplicate_pin").collect();
    assert_eq!(duplicates.len(), 1, "{duplicates:?}");
    assert_eq!(duplicates[0]["class"], "security");
    assert_eq!(duplicates[0]["role"], "installer");
    let bursts: Vec<&Value> = records.iter().filter(|r| r["kind"] == "repeated").collect();
    assert_eq!(bursts.len(), 1, "{bursts:?}");
    assert_eq!(
        (bursts[0]["of"].as_str(), bursts[0]["count"].as_u64()),
        (Some("duplicate_pin"), Some(2))
    );
    sim.stop();
}

/// The lock's chain cannot show records cut from its end; the host remembers the newest record
/// it saw and catches it.
#[test]
fn a_log_whose_tail_was_cut_fails_verify_against_the_head_this_host_saw() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    for _ in 0..20 {
        sim.attempt("key");
    }
    let report = json(&sim.cli().args(["log", "verify", "--json"]).output().unwrap());
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["head"]["check"], "first_seen", "{report}");
    // A second look: the head holds, and is remembered again.
    let report = json(&sim.cli().args(["log", "verify", "--json"]).output().unwrap());
    assert_eq!(report["head"]["check"], "holds", "{report}");
    let seen = report["last_seq"].as_u64().unwrap();
    let flash_path = sim.flash.clone();
    sim.stop();

    // Someone with the flash chip blanks the newest records, as if never written.
    let mut flash = std::fs::read(&flash_path).unwrap();
    let mut items: Vec<_> =
        log_items::raw_items(&flash).into_iter().filter(|i| i.record.is_some()).collect();
    items.sort_by_key(|i| i.record.unwrap().seq);
    let cut = &items[items.len() - 4];
    let page_end = (cut.address / log_items::PAGE + 1) * log_items::PAGE - 4;
    assert!(items[items.len() - 4..].iter().all(|i| i.address < page_end), "one page");
    flash[cut.address..page_end].fill(0xFF);
    std::fs::write(&flash_path, &flash).unwrap();

    let sim = Sim::start(dir.path(), &[]);
    let out = sim.cli().args(["log", "verify"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("tail was cut"), "{stderr}");
    assert!(stderr.contains(&format!("this host saw record {seen}")), "{stderr}");
    // Its chain alone still holds: only the host's memory tells. (Under --json the report
    // comes first, then the error.)
    let out = sim.cli().args(["log", "verify", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(report["broken"], Value::Null, "{report}");
    assert_eq!(report["head"]["check"], "truncated", "{report}");
    assert_eq!(report["intact"], false, "{report}");
    sim.stop();
}

#[test]
fn a_log_head_not_signed_by_the_key_pinned_at_claim_fails_verify() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    // Claim pinned the lock's device key.
    let pinned = std::fs::read_to_string(sim.keystore.join("device-keys")).unwrap();
    let line = pinned.lines().find(|l| l.starts_with("SIM-")).expect("a pinned key");
    let (serial, key) = line.split_once('\t').unwrap();
    assert_eq!(key.len(), 64, "{line}");
    let report = json(&sim.cli().args(["log", "verify", "--json"]).output().unwrap());
    assert_eq!(report["head"]["signed"], true, "{report}");
    assert_eq!(report["head"]["check"], "first_seen", "{report}");
    let out = sim.cli().args(["log", "verify"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("signed by the lock's pinned device key"), "{text}");

    // Another lock under the same serial, or a forged answer: the pinned key is not its key.
    let other = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key().to_bytes();
    let forged: String = other.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(
        sim.keystore.join("device-keys"),
        pinned.replace(line, &format!("{serial}\t{forged}")),
    )
    .unwrap();
    let out = sim.cli().args(["log", "verify"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not signed by the device key this host pinned"), "{stderr}");
    let out = sim.cli().args(["log", "verify", "--json"]).output().unwrap();
    let report: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(report["head"]["check"], "bad_signature", "{report}");
    assert_eq!(report["intact"], false, "{report}");

    // A keystore that never pinned it (a lock claimed by an older latchkey) pins it now.
    std::fs::remove_file(sim.keystore.join("device-keys")).unwrap();
    let report = json(&sim.cli().args(["log", "verify", "--json"]).output().unwrap());
    assert_eq!(report["head"]["device_key_pinned_now"], true, "{report}");
    assert_eq!(report["head"]["check"], "holds", "{report}");
    assert_eq!(std::fs::read_to_string(sim.keystore.join("device-keys")).unwrap(), pinned);
    sim.stop();
}
