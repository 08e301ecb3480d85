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
