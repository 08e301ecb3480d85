//! The CLI's conventions end to end, through the real `latchkey` binary: shell completions,
//! the manual page, usage errors as JSON, `--check` for monitoring scripts, `time set` for
//! trying a schedule on site, `log read --last` after its filters, and
//! a hidden PIN prompt that Ctrl-C leaves with echo on.

mod common;

use std::ffi::OsStr;
use std::process::Command;

use common::{Sim, json, latchkey};

#[test]
fn bash_can_source_the_completion_script_and_complete_a_subcommand() {
    let out = latchkey().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("latchkey.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    // Source it, then ask the completion function what follows `latchkey bat`.
    let probe = format!(
        "source {} && COMP_WORDS=(latchkey bat) COMP_CWORD=1 COMP_LINE='latchkey bat' \
         COMP_POINT=12 && _latchkey latchkey bat latchkey && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let run = Command::new("bash").args(["--norc", "--noprofile", "-c", &probe]).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "bash failed: {}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.lines().any(|l| l == "battery"), "completions for `bat`: {stdout:?}");
}

#[test]
fn the_manual_page_renders_with_man() {
    if Command::new("man").arg("--version").output().is_err() {
        // `man` is part of the CI image's set-up (.ci/run installs man-db); a machine
        // without it must say so rather than pass silently.
        assert!(std::env::var_os("CI").is_none(), "man is not installed, but CI is set");
        eprintln!("SKIPPED: man is not installed");
        return;
    }
    let out = latchkey().arg("man").output().unwrap();
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("latchkey.1");
    std::fs::write(&page, &out.stdout).unwrap();
    let rendered = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    assert!(text.contains("NAME"), "{text}");
    assert!(text.contains("latchkey - Commission and diagnose offline smart locks"), "{text}");
    assert!(text.contains("--timeout"), "the global options are in the page: {text}");
}

#[test]
fn usage_errors_under_json_are_one_json_document_with_exit_2() {
    for args in [
        vec!["--json", "frobnicate"],
        vec!["--json", "info", "--timeout", "0"],
        vec!["user", "add", "--json"],
        vec!["--json", "log", "read", "--kind", "nonsense"],
    ] {
        let out = latchkey().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let doc = json(&out);
        assert_eq!(doc["error"]["kind"], "usage", "{args:?}: {doc}");
        assert_eq!(doc["error"]["exit_code"], 2, "{args:?}: {doc}");
        assert!(doc["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{doc}");
        assert!(doc["error"]["hint"].as_str().is_some_and(|h| !h.is_empty()), "{doc}");
    }
    // Help and version are not errors, JSON or not.
    let out = latchkey().args(["--json", "--version"]).output().unwrap();
    assert!(out.status.success());
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(version.contains("(protocol "), "{version}");
}

#[test]
fn battery_and_alarms_check_exit_7_when_something_needs_attention() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["battery", "--check"]).assert().success();
    sim.cli().args(["alarms", "--check"]).assert().success();
    sim.act("battery 4400");
    let out = sim.cli().args(["battery", "--check", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)["state"], "critical", "the report is still printed");
    // Without --check the same reading is a plain report.
    sim.cli().arg("battery").assert().success();
    // The critical battery raised an alarm: alarms --check says so.
    let out = sim.cli().args(["alarms", "--check", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stdout));
    sim.stop();
}

#[test]
fn time_set_moves_the_lock_clock_and_the_schedule_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    // A weekday-morning user; 2026-12-07 is a Monday. The lock's zone is UTC.
    sim.add_user_with_pin(
        "Cleaner",
        "260491",
        &["--kind", "scheduled", "--window", "mon-fri 07:00-09:00"],
    );
    sim.cli().args(["time", "set", "2026-12-07T06:59"]).assert().success();
    let line = sim.attempt("pin 260491");
    assert!(line.contains("refused") && line.contains("outside_schedule"), "{line}");
    let out = sim.cli().args(["time", "set", "2026-12-07T07:30", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)["time"], "2026-12-07T07:30:00Z");
    let line = sim.attempt("pin 260491");
    assert!(line.contains("granted"), "{line}");
    // A Saturday is outside a mon-fri window.
    sim.cli().args(["time", "set", "2026-12-12T07:30:00Z"]).assert().success();
    let line = sim.attempt("pin 260491");
    assert!(line.contains("outside_schedule"), "{line}");
    // Nonsense is a usage error before anything is sent.
    let out = sim.cli().args(["time", "set", "next tuesday"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    sim.stop();
}

#[test]
fn log_read_last_counts_the_records_its_filters_keep() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.add_user_with_pin("Ann", "582917", &[]);
    // Each refusal followed by a key turn, so none is part of a burst (a burst is one record).
    for wrong in ["111222", "333444", "555666", "777888"] {
        assert!(sim.attempt(&format!("pin {wrong}")).contains("refused"));
        sim.attempt("key");
    }
    // Each CLI command after the attempts writes session records: the newest records are
    // not access records any more.
    sim.cli().arg("info").assert().success();
    sim.cli().arg("battery").assert().success();
    let out = sim
        .cli()
        .args(["log", "read", "--kind", "access", "--last", "3", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let records: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 3, "{text}");
    assert!(records.iter().all(|r| r["kind"] == "access"), "{text}");
    // The newest three access records, oldest first.
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let all = sim.cli().args(["log", "read", "--kind", "access", "--json"]).output().unwrap();
    let all: Vec<u64> = String::from_utf8_lossy(&all.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(all.len(), 8);
    assert_eq!(seqs, all[5..]);
    sim.stop();
}

/// Runs `shell_command` under `script`, so it has a real terminal with `env` set; for each
/// step, waits until its text has appeared on that terminal (after the previous step's) and
/// then types its keys. Returns everything the terminal showed, to the end.
fn on_a_terminal(shell_command: &str, env: &[(&str, &OsStr)], steps: &[(&str, &[u8])]) -> String {
    use std::io::{Read, Write};
    use std::process::Stdio;
    let mut child = Command::new("script")
        .args(["-qfec", shell_command, "/dev/null"])
        .env_remove("CI")
        .env("LATCHKEY_CONFIG", "/nonexistent/latchkey-test-config.toml")
        .env("LATCHKEY_KEYSTORE", "/nonexistent/latchkey-test-keystore")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux runs the command on a terminal");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut seen = Vec::new();
    let mut from = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for (wait_for, keys) in steps {
        loop {
            let text = String::from_utf8_lossy(&seen[from..]).into_owned();
            if let Some(at) = text.find(wait_for) {
                from += text[..at + wait_for.len()].len();
                break;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(bytes) => seen.extend(bytes),
                Err(_) => {
                    panic!("{wait_for:?} never appeared: {:?}", String::from_utf8_lossy(&seen))
                }
            }
        }
        stdin.write_all(keys).unwrap();
        stdin.flush().unwrap();
    }
    // Everything up to the end: the reader thread ends when the terminal closes.
    while let Ok(bytes) = rx.recv_timeout(std::time::Duration::from_secs(30)) {
        seen.extend(bytes);
    }
    drop(stdin);
    let _ = child.wait();
    String::from_utf8_lossy(&seen).replace('\r', "")
}

#[test]
fn a_pin_typed_at_the_prompt_is_hidden_asked_twice_and_set() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let out = sim.cli().args(["user", "add", "Ada", "--json"]).output().unwrap();
    let user = json(&out)["user"].as_u64().unwrap().to_string();
    let command = format!(
        "{} --port {} pin set {user}; echo exit=$?",
        common::latchkey_path().display(),
        sim.link_str()
    );
    let keystore = sim.keystore.as_os_str();
    let screen = on_a_terminal(
        &command,
        &[("LATCHKEY_KEYSTORE", keystore)],
        &[
            ("PIN:", b"482916\r"),
            ("Again:", b"482961\r"),
            // Two entries that differ are asked for again.
            ("PIN:", b"482916\r"),
            ("Again:", b"482916\r"),
        ],
    );
    assert!(screen.contains("the two entries differ"), "{screen}");
    assert!(screen.contains("exit=0"), "{screen}");
    assert!(!screen.contains("4829"), "the PIN was echoed: {screen}");
    assert!(sim.attempt("pin 482916").contains("granted"), "{:?}", sim.lines());
    sim.stop();
}

#[test]
fn ctrl_c_at_the_hidden_pin_prompt_exits_130_and_leaves_echo_on() {
    let latchkey = common::latchkey_path();
    // bash goes on after a child that exited 130 itself (a child killed by the signal would
    // take bash with it), then shows the terminal's echo flag: `echo` or `-echo`.
    let command = format!(
        "bash -c '{} pin set 1; echo exit=$?; stty -a | grep -ow -e -echo -e echo'",
        latchkey.display()
    );
    let screen = on_a_terminal(&command, &[], &[("PIN:", b"\x03")]);
    assert!(screen.contains("exit=130"), "{screen}");
    assert!(screen.lines().any(|l| l == "echo"), "echo is left off: {screen}");
    assert!(!screen.lines().any(|l| l == "-echo"), "echo is left off: {screen}");
}
