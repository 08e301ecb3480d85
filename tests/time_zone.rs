//! End to end, the lock's time zone: the real `latchkey` binary and the real `latchkey-sim`.
//! The tool turns a zone name or a POSIX rule into the rule the lock keeps; the lock then
//! decides schedules in its local time by itself.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{Sim, json};
use predicates::prelude::*;

/// Berlin's rule as the lock gives it back: numeric names, the same offsets and dates.
const BERLIN: &str = "<+01>-1<+02>-2,M3.5.0,M10.5.0/3";

#[test]
fn a_zone_name_or_a_rule_sets_the_lock_time_zone_and_bad_ones_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);

    // Every lock starts in UTC.
    let out = sim.cli().args(["--json", "config", "get", "time-zone"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)["time_zone"], "UTC0");

    // A zone name, resolved from the bundled database to the zone's current rule.
    let out =
        sim.cli().args(["--json", "config", "set", "time-zone", "Europe/Berlin"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out);
    assert_eq!(doc["time_zone"], BERLIN, "{doc}");
    assert_eq!(doc["zone_name"], "Europe/Berlin", "{doc}");
    let out = sim.cli().args(["--json", "config", "get", "time-zone"]).output().unwrap();
    assert_eq!(json(&out)["time_zone"], BERLIN);
    // For a person, the rule in words.
    sim.cli().args(["config", "get", "time-zone"]).assert().success().stdout(
        "UTC+01:00, daylight saving UTC+02:00 from the last Sunday of March 02:00 \
         to the last Sunday of October 03:00\n",
    );

    // A POSIX rule, and what `config get --json` printed, are taken as they are.
    sim.cli().args(["config", "set", "time-zone", "America/New_York"]).assert().success();
    let out = sim.cli().args(["--json", "config", "get"]).output().unwrap();
    assert_eq!(json(&out)["time_zone"], "<-05>5<-04>4,M3.2.0,M11.1.0");
    for rule in ["CET-1CEST,M3.5.0,M10.5.0/3", BERLIN] {
        let out = sim.cli().args(["--json", "config", "set", "time-zone", rule]).output().unwrap();
        assert!(out.status.success(), "{rule}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(json(&out)["time_zone"], BERLIN, "{rule}");
    }
    sim.cli()
        .args(["config", "set", "time-zone", "<+0545>-5:45"])
        .assert()
        .success()
        .stdout("time-zone = UTC+05:45\n");

    // Daylight saving named without its dates: refused before asking the lock, with the fix.
    sim.cli()
        .args(["config", "set", "time-zone", "EST5EDT"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "\"EST5EDT\" is not a valid time-zone: it names a daylight-saving zone but not \
             when daylight saving starts and ends",
        ))
        .stderr(predicate::str::contains("EST5EDT,M3.2.0,M11.1.0"))
        .stderr(predicate::str::contains("America/New_York"));
    // An unknown name: the form to use, or the zone meant.
    sim.cli()
        .args(["config", "set", "time-zone", "Europe/Berln"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("\"Europe/Berln\" is not a valid time-zone"))
        .stderr(predicate::str::contains("Region/City"));
    sim.cli()
        .args(["config", "set", "time-zone", "berlin"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean Europe/Berlin?"));
    let out = sim.cli().args(["--json", "config", "set", "time-zone", "EST5EDT"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json(&out)["error"]["kind"], "usage");

    // None of the refused values reached the lock.
    sim.cli().args(["config", "get", "time-zone"]).assert().success().stdout("UTC+05:45\n");
    sim.stop();
}

#[test]
fn schedules_follow_the_lock_local_time_and_time_get_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["time", "sync"]).assert().success();

    // A fixed zone six hours from UTC, east or west, whichever puts the local hour before 22:00
    // so that a two-hour window from that hour fits in the day. The window then covers the
    // next hour at least, and never the UTC time of day (six hours away).
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let (rule, offset) = [("<+06>-6", 6 * 3600_i64), ("<-06>6", -6 * 3600)]
        .into_iter()
        .find(|(_, offset)| (now as i64 + offset).rem_euclid(86_400) / 3600 <= 21)
        .unwrap();
    let local_hour = (now as i64 + offset).rem_euclid(86_400) / 3600;
    let window = format!("daily {:02}:00-{:02}:00", local_hour, local_hour + 2);

    let out = sim
        .cli()
        .args(["user", "add", "Night guard", "--kind", "scheduled", "--window", &window, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let user = json(&out)["user"].as_u64().unwrap().to_string();
    sim.cli().args(["pin", "set", &user, "--stdin"]).write_stdin("260491\n").assert().success();

    // In UTC the window is hours away: refused, by the lock.
    let line = sim.attempt("pin 260491");
    assert!(!line.contains("granted"), "{window} in UTC: {line}");
    let access = json(&sim.cli().args(["access", "--json"]).output().unwrap());
    assert_eq!(access["reason"], "outside_schedule", "{window} in UTC: {access}");

    // In the zone, the same window is now.
    sim.cli().args(["config", "set", "time-zone", rule]).assert().success();
    let line = sim.attempt("pin 260491");
    assert!(line.contains("granted"), "{window} in {rule}: {line}");
    let access = json(&sim.cli().args(["access", "--json"]).output().unwrap());
    assert_eq!(access["granted"], true, "{window} in {rule}: {access}");

    // `time get` says which local time the lock decides by.
    let out = sim.cli().args(["time", "get", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out);
    assert_eq!(doc["utc_offset_seconds"], offset, "{doc}");
    assert_eq!(doc["time_zone"], rule, "{doc}");
    let unix = doc["unix_seconds"].as_u64().unwrap();
    assert!(doc["drift_seconds"].is_i64(), "{doc}");
    let local = doc["local_time"].as_str().unwrap();
    let sign = if offset < 0 { '-' } else { '+' };
    assert!(local.ends_with(&format!("{sign}06:00")), "{doc}");
    let lock_local_hour = (unix as i64 + offset).rem_euclid(86_400) / 3600;
    assert_eq!(&local[11..13], format!("{lock_local_hour:02}"), "{doc}");
    sim.cli()
        .args(["time", "get"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(" local, UTC{sign}06:00)")));
    sim.stop();
}

#[test]
fn door_ajar_takes_seconds_or_off_and_the_lock_keeps_its_range() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let get = |sim: &Sim| {
        json(&sim.cli().args(["--json", "config", "get", "door-ajar"]).output().unwrap())
            ["door_ajar_seconds"]
            .clone()
    };
    assert_eq!(get(&sim), 60);
    sim.cli()
        .args(["config", "set", "door-ajar", "2m"])
        .assert()
        .success()
        .stdout("door-ajar = 120 s\n");
    assert_eq!(get(&sim), 120);
    sim.cli()
        .args(["config", "set", "door-ajar", "off"])
        .assert()
        .success()
        .stdout("door-ajar = off\n");
    assert_eq!(get(&sim), 0);
    sim.cli().args(["config", "set", "door-ajar", "90"]).assert().success();
    // Out of the lock's range: the lock refuses (exit 1), and keeps what it had.
    sim.cli().args(["config", "set", "door-ajar", "3601"]).assert().code(1);
    sim.cli()
        .args(["config", "set", "door-ajar", "soon"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("\"soon\" is not a valid door-ajar"));
    assert_eq!(get(&sim), 90);
    sim.stop();
}
