//! Everyday commands against protocol 2, through the real binaries: refusals that name the
//! field and the values the lock allows, and type-wide clears.

mod common;

use common::{Sim, json};

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
