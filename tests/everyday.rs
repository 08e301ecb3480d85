//! Everyday commands against protocol 2, through the real binaries: refusals that name the
//! field and the values the lock allows, and type-wide clears.

mod common;

use std::sync::Arc;

use common::proxy::{Hooks, OnFrame, Proxy, Verdict};
use common::{Sim, json, latchkey};

#[test]
fn refusals_name_the_field_and_the_values_the_lock_allows() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let refused = |args: &[&str], stdin: &str, needle: &str| {
        let out = sim.cli().args(args).write_stdin(stdin.to_string()).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("config set --help"), "{args:?}: a settings hint for a user: {err}");
    };
    // An id beyond the lock's 100 users: out of range, not "full".
    refused(&["user", "add", "Zed", "--id", "200"], "", "user numbers on this lock are 1 to 100");
    refused(&["user", "add", "Dan", "--kind", "scheduled"], "", "give --window");
    let ann = sim.add_user_with_pin("Ann", "582917", &[]);
    // PIN lengths come from the lock's capabilities.
    refused(
        &["pin", "set", &ann.to_string(), "--stdin"],
        "12345678901\n",
        "a PIN on this lock has 4 to 10 digits",
    );
    refused(
        &["pin", "set", &ann.to_string(), "--stdin"],
        "1234\n",
        "not one digit repeated, a straight run",
    );
    sim.stop();
}

#[test]
fn clearing_every_pin_leaves_cards_working() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let ann = sim.add_user_with_pin("Ann", "582917", &[]);
    sim.cli().args(["card", "add", &ann.to_string(), "04a1b2c3"]).assert().success();
    assert!(sim.attempt("pin 582917").contains("granted"));
    assert!(sim.attempt("card 04a1b2c3").contains("granted"));
    // Without a person to ask, the clear needs --yes.
    let out = sim.cli().args(["clear", "pins"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = sim.cli().args(["clear", "pins", "--yes", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)["removed"], 1);
    assert!(sim.attempt("pin 582917").contains("refused"));
    assert!(sim.attempt("card 04a1b2c3").contains("granted"), "the card stopped working");
    sim.stop();
}

#[test]
fn users_are_named_by_number_or_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let ann = sim.add_user_with_pin("Ann Smith", "582917", &[]);
    // The lock's own rule for names: case and the space around them do not matter.
    sim.cli().args(["card", "add", "ann smith", "04a1b2c3"]).assert().success();
    let out = sim.cli().args(["--json", "user", "show", " ANN SMITH"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)["user"], ann);
    assert!(sim.attempt("card 04a1b2c3").contains("granted"));
    sim.cli().args(["user", "disable", "Ann Smith"]).assert().success();
    assert!(sim.attempt("card 04a1b2c3").contains("refused"));
    let out = sim
        .cli()
        .args(["--json", "log", "read", "--user", "Ann Smith", "--kind", "access"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    // Nobody of that name: refused, naming the name and where the names are.
    let out = sim.cli().args(["user", "remove", "Bob", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no user named \"Bob\"") && err.contains("user list"), "{err}");
    // A name of digits alone would read as a number, so the CLI does not make one.
    let out = sim.cli().args(["user", "add", "12"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only digits"));
    sim.cli().args(["user", "remove", &ann.to_string(), "--yes"]).assert().success();
    sim.stop();
}

/// The user names on the lock, as `user list --json` gives them.
fn names(sim: &Sim) -> Vec<String> {
    let out = sim.cli().args(["--json", "user", "list"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    json(&out).as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_user_add_whose_answer_was_lost_is_not_made_twice() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    // Hello, SessionStart, SessionConfirm, PutUser: the cable goes right after the fourth.
    let on_frame: OnFrame =
        Box::new(|frame, _| if frame == 4 { Verdict::RelayThenCut } else { Verdict::Relay });
    let proxy =
        Proxy::start_with(&sim.link, Hooks { on_frame: Some(on_frame), ..Hooks::default() });
    let out = latchkey()
        .env("LATCHKEY_KEYSTORE", &sim.keystore)
        .args(["--port", proxy.path_str(), "--timeout", "300ms", "--json", "user", "add", "Ann"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)["error"]["kind"], "timeout");
    drop(proxy);
    // The person runs it again: the lock has her already, and the CLI says who she is.
    let out = sim.cli().args(["user", "add", "Ann"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("Ann is already user 1"), "{said}");
    assert_eq!(names(&sim), ["Ann"]);
    sim.stop();
}

#[test]
fn a_lock_that_restarts_during_the_handshake_is_a_link_error_not_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Arc::new(Sim::start_claimed(dir.path(), &[]));
    let hands = Arc::clone(&sim);
    // The power goes after the lock's challenge, before the host's confirm reaches it.
    let on_frame: OnFrame = Box::new(move |frame, _| {
        if frame == 3 {
            hands.act("power-cut");
        }
        Verdict::Relay
    });
    let proxy =
        Proxy::start_with(&sim.link, Hooks { on_frame: Some(on_frame), ..Hooks::default() });
    let out = latchkey()
        .env("LATCHKEY_KEYSTORE", &sim.keystore)
        .args(["--port", proxy.path_str(), "--json", "user", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    let error = json(&out)["error"].clone();
    assert_eq!(error["kind"], "lock_restarted", "{error}");
    assert!(!error.to_string().contains("technician"), "{error}");
    drop(proxy);
    // The retry the message asks for works.
    sim.cli().args(["user", "list"]).assert().success();
}
