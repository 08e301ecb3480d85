//! `latchkey commission` end to end: the real binary against the simulator, the simulated
//! person at the door acting in step with `commission --json`, and `report verify` on what
//! it wrote.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use common::{Sim, json};
use serde_json::Value;

const PIN: &str = "482916";
const CARD: &str = "04A1B2C3";
const PHONE_SEED: [u8; 32] = [0x42; 32];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A claimed lock whose user Ada holds a PIN, a card, a finger and (with `phone`) a phone
/// key; Bob is disabled and holds a PIN.
fn enrolled(dir: &Path, phone: bool) -> Sim {
    let sim = Sim::start_claimed(dir, &[]);
    sim.cli().args(["time", "sync"]).assert().success();
    let ada = sim.add_user_with_pin("Ada", PIN, &[]);
    sim.cli().args(["card", "add", "1", CARD]).assert().success();
    sim.enroll_finger(ada, "ada-thumb");
    if phone {
        let public = ed25519_dalek::SigningKey::from_bytes(&PHONE_SEED).verifying_key();
        sim.cli().args(["phone", "add", "1", &hex(public.as_bytes())]).assert().success();
    }
    sim.add_user_with_pin("Bob", "739251", &["--disabled"]);
    sim
}

/// `latchkey commission --json` running against `sim`, its JSON lines arriving on a channel.
struct Run {
    child: Child,
    lines: Receiver<Value>,
}

impl Run {
    fn start(sim: &Sim, extra: &[&str]) -> Run {
        let mut child = Command::new(common::latchkey_path())
            .env("LATCHKEY_CONFIG", "/nonexistent/x.toml")
            .env("LATCHKEY_KEYSTORE", &sim.keystore)
            .args(["--port", sim.link_str(), "--json", "commission", "--wait", "30s"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Run { child, lines }
    }

    /// The next line, within a generous bound (the run itself waits 30 s at most per check).
    fn next(&self) -> Option<Value> {
        self.lines.recv_timeout(Duration::from_secs(60)).ok()
    }

    /// Plays the person: for each check waiting at the door, the actions `act` gives. Returns
    /// every line and the exit code.
    fn play(mut self, sim: &Sim, act: impl Fn(&str) -> Vec<String>) -> (Vec<Value>, Option<i32>) {
        let mut seen = Vec::new();
        while let Some(line) = self.next() {
            if line["event"] == "waiting" && line["at_the_door"] == true {
                for action in act(line["check"].as_str().unwrap()) {
                    sim.act(&action);
                }
            }
            seen.push(line);
        }
        let status = self.child.wait().unwrap();
        (seen, status.code())
    }
}

/// What the person does for each door check when everything is right.
fn right(check: &str) -> Vec<String> {
    let actions: &[&str] = match check {
        "keypad" => &["pin 482916"],
        "rfid" => &["card 04A1B2C3"],
        "fingerprint" => &["finger ada-thumb 90"],
        "phone" => return vec![format!("phone {}", hex(&PHONE_SEED))],
        "mechanical_key" => &["key"],
        "wrong_pin" => &["pin 111222"],
        "disabled_refused" => &["pin 739251"],
        "door" => &["door open", "door closed"],
        "tamper" => &["tamper on", "tamper off"],
        other => panic!("no action for {other}"),
    };
    actions.iter().map(|a| a.to_string()).collect()
}

fn results(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l["event"] == "result").collect()
}

fn log_records(sim: &Sim) -> Vec<Value> {
    let out = sim.cli().args(["log", "read", "--json"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn read_report(base: &Path) -> (String, Value, String) {
    let json_text = std::fs::read_to_string(base.with_extension("json")).unwrap();
    let html = std::fs::read_to_string(base.with_extension("html")).unwrap();
    let report = serde_json::from_str(&json_text).unwrap();
    (json_text, report, html)
}

#[test]
fn every_path_enrolled_passes_and_the_report_names_the_lock_s_own_records() {
    let dir = tempfile::tempdir().unwrap();
    let sim = enrolled(dir.path(), true);
    let base = dir.path().join("handover");
    let run = Run::start(&sim, &["--report", base.to_str().unwrap()]);
    let (lines, code) = run.play(&sim, right);
    assert_eq!(code, Some(0), "{lines:#?}");
    let results = results(&lines);
    let checks: Vec<&str> = results.iter().map(|r| r["check"].as_str().unwrap()).collect();
    assert_eq!(
        checks,
        [
            "clock",
            "time_zone",
            "battery",
            "keypad",
            "rfid",
            "fingerprint",
            "phone",
            "mechanical_key",
            "wrong_pin",
            "disabled_refused",
            "bolt",
            "door",
            "tamper",
            "log"
        ]
    );
    assert!(results.iter().all(|r| r["outcome"] == "pass"), "{results:#?}");

    // Each door check's seq is the lock's record of that decision.
    let records = log_records(&sim);
    let record = |seq: &Value| {
        records.iter().find(|r| r["seq"] == *seq).unwrap_or_else(|| panic!("no record {seq}"))
    };
    for (check, path, granted, user) in [
        ("keypad", "keypad", true, Some(1)),
        ("rfid", "rfid", true, Some(1)),
        ("fingerprint", "fingerprint", true, Some(1)),
        ("phone", "phone", true, Some(1)),
        ("mechanical_key", "mechanical_key", true, None),
        ("wrong_pin", "keypad", false, None),
        ("disabled_refused", "keypad", false, Some(2)),
    ] {
        let result = results.iter().find(|r| r["check"] == check).unwrap();
        assert!(result["seq"].is_u64(), "{result}");
        let r = record(&result["seq"]);
        assert_eq!(r["kind"], "access", "{check}: {r}");
        assert_eq!(r["path"], path, "{check}: {r}");
        assert_eq!(r["granted"], granted, "{check}: {r}");
        assert_eq!(r["user"].as_u64(), user, "{check}: {r}");
    }
    let disabled = results.iter().find(|r| r["check"] == "disabled_refused").unwrap();
    assert_eq!(record(&disabled["seq"])["reason"], "user_disabled");
    let door = results.iter().find(|r| r["check"] == "door").unwrap();
    assert_eq!(record(&door["seq"])["kind"], "door");
    assert_eq!(record(&door["seq"])["open"], false);
    let tamper = results.iter().find(|r| r["check"] == "tamper").unwrap();
    assert_eq!(record(&tamper["seq"])["alarm"], "tamper");

    // The report holds the same results, signed; it verifies, and says so.
    let (_, report, _) = read_report(&base);
    assert_eq!(report["body"]["passed"], true);
    assert_eq!(report["body"]["checks"].as_array().unwrap().len(), 14);
    assert_eq!(report["body"]["lock"]["serial"], "SIM-000001");
    assert!(report["head"]["signature"].is_string(), "{report}");
    for file in [base.with_extension("json"), base.with_extension("html")] {
        let out = common::latchkey()
            .env("LATCHKEY_KEYSTORE", &sim.keystore)
            .args(["report", "verify"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("report verified"));
    }
    sim.stop();
}

#[test]
fn a_path_with_nothing_enrolled_fails_saying_what_to_enroll_and_a_skip_keeps_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let sim = enrolled(dir.path(), false);
    let base = dir.path().join("handover");
    let run = Run::start(
        &sim,
        &["--report", base.to_str().unwrap(), "--skip", "tamper", "--reason", "housing not fitted"],
    );
    let (lines, code) = run.play(&sim, right);
    assert_eq!(code, Some(1), "{lines:#?}");
    let results = results(&lines);
    let phone = results.iter().find(|r| r["check"] == "phone").unwrap();
    assert_eq!(phone["outcome"], "fail");
    assert!(phone["detail"].as_str().unwrap().contains("latchkey phone add"), "{phone}");
    let tamper = results.iter().find(|r| r["check"] == "tamper").unwrap();
    assert_eq!(tamper["outcome"], "skipped");
    assert_eq!(tamper["detail"], "housing not fitted");
    let error = lines.last().unwrap();
    assert_eq!(error["error"]["exit_code"], 1, "{error}");
    // The others still ran and passed, and the report says what failed.
    assert!(results.iter().filter(|r| r["check"] != "phone").all(|r| r["outcome"] != "fail"));
    let (_, report, _) = read_report(&base);
    assert_eq!(report["body"]["passed"], false);
    sim.stop();
}

/// Stops a run while it waits at the keypad: Ctrl-C, or (`close_pipe`) the reader of its
/// JSON lines goes away. Then the lock is as it was.
fn interrupted_at_the_keypad(close_pipe: bool) {
    let dir = tempfile::tempdir().unwrap();
    let sim = enrolled(dir.path(), true);
    let checksum = json(&sim.cli().args(["checksum", "--json"]).output().unwrap());
    let base = dir.path().join("handover");
    let mut child = Command::new(common::latchkey_path())
        .env("LATCHKEY_CONFIG", "/nonexistent/x.toml")
        .env("LATCHKEY_KEYSTORE", &sim.keystore)
        .args(["--port", sim.link_str(), "--json", "commission", "--wait", "30s", "--report"])
        .arg(&base)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !(line.contains("\"waiting\"") && line.contains("\"keypad\"")) {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the run ended before the keypad");
    }
    if close_pipe {
        drop(stdout);
    } else {
        let pid = child.id().to_string();
        assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    }
    // A decision at the door, which the run would have taken.
    sim.attempt("pin 482916");
    let status = wait_or_kill(&mut child);
    if close_pipe {
        assert!(!status.success(), "the run went on to the end");
    } else {
        assert_eq!(status.code(), Some(130), "Ctrl-C exits 130");
    }
    assert!(!base.with_extension("json").exists(), "a report was written");
    // Nothing changed, nothing is armed: a card is decided, not learned.
    assert_eq!(json(&sim.cli().args(["checksum", "--json"]).output().unwrap()), checksum);
    assert!(sim.attempt("card 0A0B0C0D").contains("refused"), "{:?}", sim.lines());
    sim.stop();
}

/// Waits for the run to end by itself; one still running after a minute is killed and the
/// test fails.
fn wait_or_kill(child: &mut Child) -> std::process::ExitStatus {
    use wait_timeout::ChildExt;
    match child.wait_timeout(Duration::from_secs(60)).unwrap() {
        Some(status) => status,
        None => {
            let _ = child.kill();
            panic!("the run did not stop");
        }
    }
}

#[test]
fn ctrl_c_in_the_middle_of_a_check_leaves_the_lock_as_it_was() {
    interrupted_at_the_keypad(false);
}

#[test]
fn a_closed_pipe_in_the_middle_of_a_check_leaves_the_lock_as_it_was() {
    interrupted_at_the_keypad(true);
}

#[test]
fn report_verify_names_a_changed_character_and_another_lock_s_key() {
    let dir = tempfile::tempdir().unwrap();
    let sim = enrolled(dir.path(), true);
    let base = dir.path().join("handover");
    let run = Run::start(&sim, &["--report", base.to_str().unwrap()]);
    let (lines, code) = run.play(&sim, right);
    assert_eq!(code, Some(0), "{lines:#?}");
    let (json_text, report, html) = read_report(&base);
    // On this computer alone (no --port): against the key it pinned at claim.
    let verify = |path: &Path| {
        common::latchkey()
            .env("LATCHKEY_KEYSTORE", &sim.keystore)
            .args(["report", "verify"])
            .arg(path)
            .output()
            .unwrap()
    };
    let failure = |path: &Path| {
        let out = verify(path);
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    // One character changed in the JSON: a user's name.
    let changed = dir.path().join("changed.json");
    std::fs::write(&changed, json_text.replacen("\"Ada\"", "\"Adb\"", 1)).unwrap();
    assert!(failure(&changed).contains("changed after lock SIM-000001 signed it"));
    // One character changed in the data the HTML page embeds: a check's seq.
    let seq = report["body"]["checks"][3]["seq"].as_u64().unwrap();
    let changed = dir.path().join("changed.html");
    let data_at = html.find("application/json").unwrap();
    let (page, data) = html.split_at(data_at);
    let tampered = data.replacen(&format!("\"seq\": {seq},"), &format!("\"seq\": {},", seq + 1), 1);
    assert_ne!(tampered, data);
    std::fs::write(&changed, format!("{page}{tampered}")).unwrap();
    assert!(failure(&changed).contains("changed after lock SIM-000001 signed it"));

    // Against another lock's device key pinned for this serial.
    let keys = sim.keystore.join("device-keys");
    let pinned = std::fs::read_to_string(&keys).unwrap();
    let other = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
    let line = pinned.lines().find(|l| l.starts_with("SIM-000001\t")).unwrap();
    std::fs::write(&keys, pinned.replace(line, &format!("SIM-000001\t{}", hex(other.as_bytes()))))
        .unwrap();
    let message = failure(&base.with_extension("json"));
    assert!(message.contains("but the key pinned for lock SIM-000001 is"), "{message}");
    // With --port the lock itself is asked: its own key is not the one pinned.
    let out =
        sim.cli().args(["report", "verify"]).arg(base.with_extension("json")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    std::fs::write(&keys, &pinned).unwrap();
    sim.cli().args(["report", "verify"]).arg(base.with_extension("html")).assert().success();
    verify(&base.with_extension("html")).status.success().then_some(()).unwrap();
    sim.stop();
}

#[test]
fn the_html_page_holds_every_field_of_the_report_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let sim = enrolled(dir.path(), true);
    let base = dir.path().join("handover");
    let run = Run::start(&sim, &["--report", base.to_str().unwrap()]);
    let (lines, code) = run.play(&sim, right);
    assert_eq!(code, Some(0), "{lines:#?}");
    let (json_text, report, html) = read_report(&base);
    let page = scraper::Html::parse_document(&html);
    assert!(page.errors.is_empty(), "{:?}", page.errors);
    // The visible text (the embedded data left out): every value of the report is in it.
    let script = scraper::Selector::parse("script").unwrap();
    let data: String = page.select(&script).flat_map(|s| s.text()).collect();
    let all: String = page.root_element().text().collect();
    let shown = all.replacen(&data, "", 1);
    let mut missing = Vec::new();
    walk(&report, &mut |value| {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return,
        };
        if !text.is_empty() && !shown.contains(&text) {
            missing.push(text);
        }
    });
    assert!(missing.is_empty(), "not shown on the page: {missing:?}");
    // No PIN, card UID or phone key, anywhere.
    let phone = hex(ed25519_dalek::SigningKey::from_bytes(&PHONE_SEED).verifying_key().as_bytes());
    for secret in [PIN, "739251", CARD, &CARD.to_lowercase(), &phone] {
        assert!(!html.contains(secret) && !json_text.contains(secret), "{secret} is in the report");
    }
    sim.stop();
}

fn walk(value: &Value, f: &mut impl FnMut(&Value)) {
    match value {
        Value::Object(map) => map.values().for_each(|v| walk(v, f)),
        Value::Array(items) => items.iter().for_each(|v| walk(v, f)),
        other => f(other),
    }
}
