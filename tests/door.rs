//! End to end at the door: the door-ajar alarm and the low-battery beep pattern, through the
//! real `latchkey` binary and the real `latchkey-sim` (the simulated person on its stdin).

mod common;

use common::{Sim, json};

fn alarms(sim: &Sim) -> Vec<String> {
    let list = json(&sim.cli().args(["alarms", "list", "--json"]).output().unwrap());
    list.as_array().unwrap().iter().map(|a| a["alarm"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn a_door_left_open_raises_door_ajar_once_and_closing_it_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["config", "set", "door-ajar", "1"]).assert().success();
    sim.add_user_with_pin("Ann", "582917", &[]);
    assert!(sim.attempt("pin 582917").contains("granted"));
    sim.act("door open");
    sim.act("clock +1s");
    assert_eq!(sim.lines_with("alarm door_ajar").len(), 1);
    assert!(alarms(&sim).contains(&"door_ajar".to_owned()));
    // Left open, it is not raised again and again.
    sim.act("clock +5s");
    assert_eq!(sim.lines_with("alarm door_ajar").len(), 1);
    sim.act("door closed");
    assert!(!alarms(&sim).contains(&"door_ajar".to_owned()), "closing the door clears it");
    let out = sim.cli().args(["log", "read", "--json", "--kind", "alarm"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let ajar: Vec<bool> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["alarm"] == "door_ajar")
        .map(|r| r["raised"].as_bool().unwrap())
        .collect();
    assert_eq!(ajar, [true, false], "{text}");
    sim.stop();
}

#[test]
fn a_low_battery_beeps_on_turning_low_and_after_each_unlock_unless_silenced() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.add_user_with_pin("Ann", "582917", &[]);
    assert!(sim.attempt("pin 582917").contains("granted"));
    assert!(sim.lines_with("beep").is_empty(), "a good battery beeped");
    sim.act("battery 4800");
    sim.wait_for_lines("beep low_battery", 1);
    assert!(sim.attempt("pin 582917").contains("granted"));
    sim.wait_for_lines("beep low_battery", 2);
    sim.act("battery 4400");
    sim.wait_for_lines("beep critical_battery", 1);
    // Critical still opens, and says so out loud.
    assert!(sim.attempt("pin 582917").contains("granted"));
    sim.wait_for_lines("beep critical_battery", 2);
    // Silenced: no sound, the alarm is still there for the technician.
    sim.cli().args(["config", "set", "volume", "off"]).assert().success();
    assert!(sim.attempt("pin 582917").contains("granted"));
    assert_eq!(sim.lines_with("beep").len(), 4, "{:?}", sim.lines_with("beep"));
    assert!(alarms(&sim).contains(&"critical_battery".to_owned()));
    sim.stop();
}

/// A keypad entry's decision line from the simulator.
fn pin(sim: &Sim, digits: &str) -> String {
    sim.attempt(&format!("pin {digits}"))
}

#[test]
fn a_keypad_lockout_and_its_alarm_outlive_a_power_cut() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["config", "set", "wrong-code-limit", "3"]).assert().success();
    sim.cli().args(["config", "set", "lockout", "60"]).assert().success();
    sim.add_user_with_pin("Ann", "582917", &[]);
    for _ in 0..3 {
        assert!(pin(&sim, "111999").contains("unknown_credential"));
    }
    assert!(pin(&sim, "582917").contains("keypad_locked_out"));
    // The batteries come out and go back in: still locked out, and the alarm still raised.
    sim.act("power-cut");
    assert!(pin(&sim, "582917").contains("keypad_locked_out"), "a power cut ended the lockout");
    assert_eq!(alarms(&sim), ["wrong_code_limit"]);
    // How long it lasts is shown: the whole period again, counted on the lock's clock.
    let list = json(&sim.cli().args(["alarms", "--json"]).output().unwrap());
    let left = list[0]["seconds_left"].as_u64().unwrap();
    assert!((1..=60).contains(&left), "{list}");
    sim.cli()
        .args(["alarms"])
        .assert()
        .success()
        .stdout(predicates::str::contains("the keypad opens again in"));
    for command in ["access", "diag"] {
        let out = sim.cli().arg(command).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(" s left") || text.contains("opens again in"), "{command}: {text}");
    }
    // The lockout runs its whole length on the lock's own clock, then the PIN opens.
    sim.act("clock +61s");
    assert!(pin(&sim, "582917").contains("granted"));
    assert!(alarms(&sim).is_empty());
    sim.stop();
}

#[test]
fn wrong_codes_before_a_power_cut_still_count_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["config", "set", "wrong-code-limit", "3"]).assert().success();
    sim.add_user_with_pin("Ann", "582917", &[]);
    pin(&sim, "111999");
    pin(&sim, "222888");
    sim.act("power-cut");
    assert!(pin(&sim, "333777").contains("unknown_credential"));
    assert!(pin(&sim, "582917").contains("keypad_locked_out"), "three wrong codes, no lockout");
    sim.stop();
}

#[test]
fn a_pin_the_lock_knows_but_refuses_counts_as_a_wrong_code() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["config", "set", "wrong-code-limit", "5"]).assert().success();
    sim.add_user_with_pin("Ann", "582917", &[]);
    sim.add_user_with_pin("Bob", "730461", &["--disabled"]);
    // Rounds of four guesses and a disabled user's PIN: the fifth refusal locks the keypad.
    for guess in ["111999", "222888", "333777", "444666"] {
        assert!(pin(&sim, guess).contains("unknown_credential"));
    }
    let known = pin(&sim, "730461");
    assert!(known.contains("refused"), "{known}");
    let after = pin(&sim, "582917");
    assert!(after.contains("keypad_locked_out"), "{known} / {after}");
    // An installer clearing the alarms gives the keypad back.
    sim.cli().args(["alarms", "clear", "--yes"]).assert().success();
    assert!(pin(&sim, "582917").contains("granted"));
    sim.stop();
}

#[test]
fn a_duress_alarm_outlives_a_power_cut_until_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.add_user_with_pin("Held up", "905521", &["--kind", "duress"]);
    assert!(pin(&sim, "905521").contains("granted"));
    assert_eq!(alarms(&sim), ["duress"]);
    sim.act("power-cut");
    assert_eq!(alarms(&sim), ["duress"], "a power cut cleared the duress alarm");
    sim.cli().args(["alarms", "clear", "--yes"]).assert().success();
    sim.act("power-cut");
    assert!(alarms(&sim).is_empty());
    sim.stop();
}

#[test]
fn a_battery_swap_forgets_the_old_figure_under_load_and_load_never_reads_above_rest() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.add_user_with_pin("Ann", "582917", &[]);
    let report = |sim: &Sim| json(&sim.cli().args(["battery", "--json"]).output().unwrap());
    sim.act("battery 4800");
    assert!(pin(&sim, "582917").contains("granted")); // the motor runs: a figure under load
    let low = report(&sim);
    let (rest, loaded) =
        (low["millivolts"].as_u64().unwrap(), low["loaded_millivolts"].as_u64().unwrap());
    assert!(loaded < rest, "{low}");
    // New batteries: the old battery's sag is not this one's.
    sim.act("battery 6200");
    let fresh = report(&sim);
    let (rest, loaded) =
        (fresh["millivolts"].as_u64().unwrap(), fresh["loaded_millivolts"].as_u64().unwrap());
    assert!(loaded <= rest, "{fresh}");
    assert!(loaded > 4800, "the old battery's figure under load is still shown: {fresh}");
    sim.stop();
}
