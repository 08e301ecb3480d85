//! No input makes `latchkey` panic: the real binary, through its documented commands, with
//! extreme values (the largest numbers and one past them, zero, negatives, empty strings,
//! 10 kB strings, arguments that are not UTF-8, `--json` and not), against a started
//! `latchkey-sim` or the built-in `--sim`. Any answer is fine (done, refused, usage error)
//! except exit code 101 or a panic message.

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::time::Duration;

use common::{Sim, latchkey};

/// One invocation: its arguments and what it reads on standard input.
struct Case {
    args: Vec<OsString>,
    stdin: Vec<u8>,
}

fn case(args: &[&str]) -> Case {
    Case { args: args.iter().map(OsString::from).collect(), stdin: Vec::new() }
}

fn with_stdin(args: &[&str], stdin: &[u8]) -> Case {
    Case { stdin: stdin.to_vec(), ..case(args) }
}

/// `args` with `value` (any bytes) in place of each `{}`.
fn with_raw(args: &[&str], value: &OsString) -> Case {
    Case {
        args: args.iter().map(|a| if *a == "{}" { value.clone() } else { a.into() }).collect(),
        stdin: Vec::new(),
    }
}

const LONG: usize = 10_000;

/// Numbers at and past the edges of every integer type a flag might use, and not numbers.
fn numbers() -> Vec<String> {
    [
        "0",
        "1",
        "-1",
        "255",
        "256",
        "65535",
        "65536",
        "4294967295",
        "4294967296",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "1e400",
        "NaN",
        "",
        " ",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(["9".repeat(LONG)])
    .collect()
}

/// Durations: zero, tiny, huge, negative, not durations.
fn durations() -> Vec<String> {
    [
        "0",
        "0s",
        "0.0000000001",
        "1e-300",
        "1ns",
        "-1s",
        "-1",
        "18446744073709551615",
        "18446744073709551615s",
        "18446744073709551615d",
        "584942417355y",
        "99999999999999999999999999999h",
        "1e400",
        "inf",
        "NaN",
        "",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([format!("{}s", "9".repeat(LONG))])
    .collect()
}

/// Times a user's dates or a guest's end can be given as.
fn times() -> Vec<String> {
    [
        "+0s",
        "+1ns",
        "+18446744073709551615s",
        "+99999999999d",
        "-1d",
        "0000-01-01",
        "1969-12-31",
        "1970-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59+14:00",
        "2038-01-19T03:14:08Z",
        "2106-02-07T06:28:16Z",
        "2026-02-30",
        "now",
        "",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(["9".repeat(LONG)])
    .collect()
}

/// Strings: empty, long, odd.
fn strings() -> Vec<String> {
    ["", " ", "\n", "-", "--", "é", "🔑", "../../x", "%s%n"]
        .into_iter()
        .map(str::to_owned)
        .chain(["A".repeat(LONG), "é".repeat(LONG / 2)])
        .collect()
}

/// Arguments that are not UTF-8.
fn not_utf8() -> Vec<OsString> {
    vec![OsString::from_vec(vec![0xFF, 0xFE]), OsString::from_vec(b"ab\x80cd".to_vec())]
}

/// Runs every case through `cli`, every other one with `--json` (each value is tried in many
/// commands, so both forms meet it); the ones that panicked.
fn panics(cli: impl Fn() -> assert_cmd::Command, cases: Vec<Case>) -> Vec<String> {
    let mut found = Vec::new();
    for (n, case) in cases.into_iter().enumerate() {
        {
            let json = n % 2 == 1;
            let mut cmd = cli();
            if json {
                cmd.arg("--json");
            }
            let out = cmd
                .args(&case.args)
                .write_stdin(case.stdin.clone())
                .timeout(Duration::from_secs(20))
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.code() == Some(101) || stderr.contains("panicked") {
                let shown: Vec<String> = case
                    .args
                    .iter()
                    .map(|a| {
                        let a = a.to_string_lossy();
                        if a.len() > 40 {
                            format!("{}…({} bytes)", &a[..20], a.len())
                        } else {
                            format!("{a:?}")
                        }
                    })
                    .collect();
                let why = stderr.lines().find(|l| l.contains("panicked")).unwrap_or("exit 101");
                found.push(format!(
                    "  latchkey{} {}\n      {why}",
                    if json { " --json" } else { "" },
                    shown.join(" ")
                ));
            }
        }
    }
    found
}

fn in_dir(mut cmd: assert_cmd::Command, dir: &std::path::Path) -> assert_cmd::Command {
    cmd.current_dir(dir);
    cmd
}

fn assert_none(what: &str, found: Vec<String>) {
    assert!(
        found.is_empty(),
        "{what}: {} invocations panicked:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn global_options_with_extreme_values_do_not_panic() {
    let mut cases = Vec::new();
    for d in durations() {
        cases.push(case(&["--sim", "--timeout", &d, "info"]));
        cases.push(case(&["--sim", "--timeout", &d, "ping", "--count", "1"]));
    }
    for s in strings() {
        cases.push(case(&["--port", &s, "info"]));
        cases.push(case(&["--sim", "--key", &s, "info"]));
        cases.push(case(&["--sim", &s]));
    }
    for raw in not_utf8() {
        cases.push(with_raw(&["--port", "{}", "info"], &raw));
        cases.push(with_raw(&["--sim", "--key", "{}", "info"], &raw));
        cases.push(with_raw(&["{}"], &raw));
    }
    // Counts the command accepts and that would take long are left out: no panic is sought
    // in waiting.
    let quick = |n: &String| n.parse::<u64>().map_or(true, |v| !(1000..=100_000).contains(&v));
    for n in numbers().into_iter().filter(quick) {
        cases.push(case(&["--sim", "ping", "--count", &n, "--interval", "1ms"]));
    }
    for d in durations() {
        cases.push(case(&["--sim", "ping", "--count", "1", "--interval", &d]));
    }
    cases.push(case(&[]));
    cases.push(case(&["--sim", "--port", "/nonexistent/x", "info"]));
    cases.push(case(&["--sim", "--non-interactive", "tui"]));
    cases.push(case(&["--key", "/dev/null", "--sim", "info"]));
    cases.push(case(&["--port", "/dev/null", "info"]));
    cases.push(case(&["--port", "/", "info"]));
    let dir = tempfile::tempdir().unwrap();
    let cli = || {
        let mut cmd = latchkey();
        cmd.current_dir(dir.path());
        cmd
    };
    assert_none("global options", panics(cli, cases));
}

#[test]
fn config_file_and_environment_with_extreme_values_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut found = Vec::new();
    let mut contents: Vec<Vec<u8>> = durations()
        .into_iter()
        .map(|d| format!("timeout = {d:?}\n").into_bytes())
        .chain(strings().into_iter().map(|s| format!("port = {s:?}\n").into_bytes()))
        .collect();
    contents.extend([
        b"timeout = 18446744073709551615\n".to_vec(),
        b"timeout = -1\n".to_vec(),
        b"port = 1\n".to_vec(),
        b"\xFF\xFE\n".to_vec(),
        vec![b'['; LONG],
        b"[a]\n[a]\n".to_vec(),
    ]);
    for (n, bytes) in contents.iter().enumerate() {
        let config = dir.path().join(format!("config-{n}.toml"));
        std::fs::write(&config, bytes).unwrap();
        found.extend(
            panics(
                || {
                    let mut cmd = latchkey();
                    cmd.env("LATCHKEY_CONFIG", &config);
                    cmd
                },
                vec![case(&["--sim", "info"])],
            )
            .into_iter()
            .map(|f| {
                format!("{f}\n      with the config file {:?}", String::from_utf8_lossy(bytes))
            }),
        );
    }
    let values = ["", "\n", "../../x", &"A".repeat(LONG)].map(OsString::from);
    for value in values.into_iter().chain(not_utf8()) {
        for var in ["LATCHKEY_PORT", "LATCHKEY_KEY", "LATCHKEY_KEYSTORE", "LATCHKEY_CONFIG"] {
            found.extend(
                panics(
                    || {
                        let mut cmd = latchkey();
                        cmd.env(var, &value).current_dir(dir.path());
                        cmd
                    },
                    vec![case(&["info"]), case(&["--sim", "key", "list"])],
                )
                .into_iter()
                .map(|f| format!("{f}\n      with {var}={:?}", value.to_string_lossy())),
            );
        }
    }
    assert_none("config file and environment", found);
}

#[test]
fn user_commands_with_extreme_values_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let mut cases = vec![case(&["user", "add", "Ann"])];
    for n in numbers() {
        for sub in ["show", "enable", "disable"] {
            cases.push(case(&["user", sub, &n]));
        }
        cases.push(case(&["user", "remove", &n, "--yes"]));
        cases.push(case(&["user", "add", "Bob", "--id", &n]));
        cases.push(case(&["user", "add", "Cleaner", "--uses", &n]));
        cases.push(case(&["user", "edit", "1", "--uses", &n]));
        cases.push(case(&[
            "guest",
            "add",
            "Visitor",
            "--until",
            "+1d",
            "--uses",
            &n,
            "--generate",
        ]));
    }
    for s in strings() {
        cases.push(case(&["user", "add", &s]));
        cases.push(case(&["user", "edit", "1", "--name", &s]));
        cases.push(case(&["user", "add", "Kim", "--kind", &s]));
        cases.push(case(&["user", "add", "Kim", "--kind", "scheduled", "--window", &s]));
        cases.push(case(&["schedule", "set", "1", "--window", &s]));
    }
    for raw in not_utf8() {
        cases.push(with_raw(&["user", "add", "{}"], &raw));
        cases.push(with_raw(&["user", "show", "{}"], &raw));
    }
    for t in times() {
        cases.push(case(&["user", "add", "Dee", "--from", &t]));
        cases.push(case(&["user", "add", "Dee", "--until", &t]));
        cases.push(case(&["user", "edit", "1", "--from", &t, "--until", &t]));
        cases.push(case(&["guest", "add", "Visitor", "--until", &t, "--generate"]));
        cases.push(case(&[
            "guest",
            "add",
            "Visitor",
            "--from",
            &t,
            "--until",
            "+1d",
            "--generate",
        ]));
    }
    for window in [
        "mon 00:00-24:00",
        "daily 00:00-00:00",
        "mon 23:59-00:00",
        "mon 25:00-26:00",
        "mon 00:00-24:01",
        "mon-sun 99:99-99:99",
        "sun-mon 01:00-02:00",
        "mon 1:2-3:4",
        "mon 18446744073709551616:00-01:00",
        "mon,mon,mon 01:00-02:00",
    ] {
        cases.push(case(&["schedule", "set", "1", "--window", window]));
    }
    let many: Vec<&str> =
        std::iter::repeat_n(["--window", "daily 01:00-02:00"], 200).flatten().collect();
    cases.push(case(&[&["schedule", "set", "1"][..], &many].concat()));
    for n in numbers() {
        cases.push(case(&["schedule", "set", &n, "--window", "daily 01:00-02:00"]));
        cases.push(case(&["schedule", "clear", &n]));
    }
    cases.push(case(&["user", "list"]));
    cases.push(case(&["checksum"]));
    assert_none("user commands", panics(|| in_dir(sim.cli(), dir.path()), cases));
    sim.stop();
}

#[test]
fn credential_commands_with_extreme_values_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["user", "add", "Ann"]).assert().success();
    let mut cases = Vec::new();
    for n in numbers() {
        cases.push(with_stdin(&["pin", "set", &n, "--stdin"], b"582917\n"));
        cases.push(case(&["pin", "set", "1", "--generate", "--length", &n]));
        cases.push(case(&["pin", "remove", &n, "--yes"]));
        cases.push(case(&["card", "add", &n, "04a1b2c3"]));
        cases.push(case(&["card", "remove", &n, "04a1b2c3", "--yes"]));
        cases.push(case(&["finger", "remove", "1", &n, "--yes"]));
        cases.push(case(&["finger", "remove", &n, "0", "--yes"]));
        cases.push(case(&["phone", "remove", &n, &"ab".repeat(32), "--yes"]));
        if n != "1" {
            // User 1 exists: that enrollment would wait for a finger.
            cases.push(case(&["finger", "enroll", &n]));
        }
    }
    for pin in [
        &b""[..],
        b"\n",
        b"0\n",
        b"-1\n",
        b"\xFF\xFE\n",
        b"58291\x007\n",
        b"\r\n",
        "٥٨٢٩١٧\n".as_bytes(),
    ] {
        cases.push(with_stdin(&["pin", "set", "1", "--stdin"], pin));
        cases.push(with_stdin(&["guest", "add", "Visitor", "--until", "+1d", "--stdin"], pin));
    }
    let long_pin = [b"9".repeat(LONG), b"\n".to_vec()].concat();
    cases.push(with_stdin(&["pin", "set", "1", "--stdin"], &long_pin));
    cases.push(with_stdin(&["pin", "set", "1", "--stdin"], &vec![b'1'; 1 << 20]));
    for uid in [
        String::new(),
        "0".into(),
        "04".into(),
        "041".into(),
        "zz112233".into(),
        "04:a1:b2:c3".into(),
        "0x04a1b2c3".into(),
        "04".repeat(10),
        "04".repeat(11),
        "0".repeat(LONG),
        "é".repeat(8),
    ] {
        cases.push(case(&["card", "add", "1", &uid]));
        cases.push(case(&["card", "remove", "1", &uid, "--yes"]));
    }
    for key in [
        String::new(),
        "00".repeat(32),
        "ff".repeat(32),
        "ab".repeat(31),
        "ab".repeat(33),
        "a".repeat(63),
        "g".repeat(64),
        "ab".repeat(LONG / 2),
        "é".repeat(32),
    ] {
        cases.push(case(&["phone", "add", "1", &key]));
        cases.push(case(&["phone", "remove", "1", &key, "--yes"]));
    }
    for raw in not_utf8() {
        cases.push(with_raw(&["card", "add", "1", "{}"], &raw));
        cases.push(with_raw(&["phone", "add", "1", "{}"], &raw));
    }
    assert_none("credential commands", panics(|| in_dir(sim.cli(), dir.path()), cases));
    sim.stop();
}

#[test]
fn log_config_and_door_commands_with_extreme_values_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let mut cases = Vec::new();
    for n in numbers() {
        cases.push(case(&["log", "read", "--since", &n]));
        cases.push(case(&["log", "read", "--last", &n]));
        cases.push(case(&["log", "read", "--user", &n]));
        cases.push(case(&["log", "read", "--csv", "--last", &n]));
        for key in ["auto-relock", "wrong-code-limit", "lockout", "door-ajar", "volume"] {
            cases.push(case(&["config", "set", key, &n]));
        }
    }
    for s in strings() {
        cases.push(case(&["log", "read", "--path", &s]));
        cases.push(case(&["log", "read", "--kind", &s]));
        cases.push(case(&["config", "set", "label", &s]));
        cases.push(case(&["config", "set", "time-zone", &s]));
        cases.push(case(&["config", "get", &s]));
        cases.push(case(&["config", "set", &s, "1"]));
    }
    for zone in [
        "UTC",
        "Europe/Berlin",
        "EST5EDT,M3.2.0,M11.1.0",
        "<+99>-99",
        "<-12>12",
        "UTC+999999999999",
        "XYZ-25",
        "CET-1CEST,M13.5.0,M10.5.0/3",
        "CET-1CEST,M3.5.0/999999,M10.5.0/3",
        "CET-1CEST,J366,J0",
        "America/Argentina/ComodRivadavia",
    ] {
        cases.push(case(&["config", "set", "time-zone", zone]));
    }
    for raw in not_utf8() {
        cases.push(with_raw(&["config", "set", "label", "{}"], &raw));
        cases.push(with_raw(&["log", "read", "--kind", "{}"], &raw));
    }
    for args in [
        &["info"][..],
        &["battery"],
        &["diag"],
        &["access"],
        &["alarms"],
        &["alarms", "list"],
        &["alarms", "clear", "--yes"],
        &["time", "get"],
        &["time", "sync"],
        &["log", "verify"],
        &["log", "read"],
        &["log", "clear", "--yes"],
        &["config", "get"],
        &["ports"],
    ] {
        cases.push(case(args));
    }
    assert_none("log, config and door commands", panics(|| in_dir(sim.cli(), dir.path()), cases));
    sim.stop();
}

#[test]
fn files_keys_and_setup_codes_with_extreme_values_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    // Deep enough that `../../x`, as a key name or an output file, stays inside `dir`.
    let work = dir.path().join("a/b");
    std::fs::create_dir_all(&work).unwrap();
    let keystore = work.join("keys");
    let cli = || {
        let mut cmd = latchkey();
        cmd.env("LATCHKEY_KEYSTORE", &keystore).current_dir(&work);
        cmd
    };
    let mut cases = vec![case(&["key", "create", "site"]), case(&["key", "list"])];
    for s in strings() {
        cases.push(case(&["key", "create", &s]));
        cases.push(case(&["key", "export", &s, "--out", "-"]));
        cases.push(case(&["key", "export", "site", "--out", &s]));
        cases.push(case(&["key", "import", &s]));
        cases.push(case(&["key", "rotate", &s]));
        cases.push(case(&["--sim", "claim", "--setup-code", &s]));
        cases.push(case(&["--sim", "factory-reset", "--yes", "--setup-code", &s]));
        cases.push(with_stdin(&["--sim", "claim"], s.as_bytes()));
    }
    for raw in not_utf8() {
        cases.push(with_raw(&["key", "create", "{}"], &raw));
        cases.push(with_raw(&["key", "import", "{}"], &raw));
        cases.push(with_raw(&["--sim", "claim", "--setup-code", "{}"], &raw));
    }
    // Files a key import or a checksum may be pointed at.
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("garbage", (0..=255u8).cycle().take(LONG).collect()),
        ("not-utf8", b"\xFF\xFE key = 1\n".to_vec()),
        ("nested", [vec![b'['; LONG], vec![b']'; LONG]].concat()),
        ("toml-huge", format!("name = \"x\"\nkey = \"{}\"\n", "ab".repeat(LONG)).into_bytes()),
        ("json-empty", b"[]".to_vec()),
        ("json-object", b"{}".to_vec()),
        (
            "json-huge-numbers",
            br#"[{"user": 18446744073709551616, "name": "A", "use_limit": -1, "pin": "1", "cards": ["zz"]}]"#
                .to_vec(),
        ),
        (
            "json-long",
            format!(r#"[{{"user": 1, "name": "{}", "pin": "{}", "cards": ["{}"]}}]"#, "A".repeat(LONG), "9".repeat(LONG), "04".repeat(LONG))
                .into_bytes(),
        ),
        ("json-many", format!("[{}]", vec![r#"{"user": 1, "name": "A"}"#; 2000].join(",")).into_bytes()),
    ];
    for (name, bytes) in &files {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let path = path.to_str().unwrap().to_owned();
        cases.push(case(&["key", "import", &path]));
        cases.push(case(&["--sim", "--key", &path, "info"]));
        cases.push(case(&["--sim", "checksum", "--verify", &path]));
    }
    for special in ["/dev/null", "/", "/nonexistent/file", "/proc/self/status"] {
        cases.push(case(&["key", "import", special]));
        cases.push(case(&["--sim", "checksum", "--verify", special]));
        cases.push(case(&["--sim", "--key", special, "info"]));
        cases.push(case(&["key", "export", "site", "--out", special]));
    }
    assert_none("files, keys and setup codes", panics(cli, cases));
}
