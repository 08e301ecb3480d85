//! Bulk provisioning through the real `latchkey` binary against `latchkey-sim`: plan, apply,
//! verify and export; bad rows; an apply cut mid-way and resumed; a bench of locks.

mod common;

use std::path::{Path, PathBuf};

use common::proxy::{Hooks, Proxy, Verdict};
use common::{Sim, json, latchkey};

/// A site file of `n` users: every one with a PIN (user 2 a generated one when `generate`),
/// the odd ones with a card, user 3 scheduled.
fn site(n: u16, generate: bool) -> String {
    let mut out = String::new();
    for u in 1..=n {
        out.push_str(&format!("[[user]]\nuser = {u}\nname = \"User {u}\"\n"));
        if u == 3 {
            out.push_str("kind = \"scheduled\"\nwindows = [\"mon-fri 08:00-18:00\"]\n");
        }
        if generate && u == 2 {
            out.push_str("pin = \"generate\"\n");
        } else {
            out.push_str(&format!("pin = \"{}\"\n", pin_of(u)));
        }
        if u % 2 == 1 {
            out.push_str(&format!("cards = [\"04{:06x}\"]\n", 0xa10000 + u32::from(u)));
        }
        out.push('\n');
    }
    out
}

/// A PIN for user `u` that is not weak and differs per user.
fn pin_of(u: u16) -> String {
    format!("{:06}", 580_213 + u32::from(u) * 7919)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run(cmd: &mut assert_cmd::Command) -> (std::process::Output, serde_json::Value) {
    let out = cmd.output().unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out, doc)
}

fn change_records(sim: &Sim) -> usize {
    let out = sim.cli().args(["log", "read", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"kind\":\"change\""))
        .count()
}

/// Users on the lock, each with their number of credentials.
fn users(sim: &Sim) -> Vec<(u64, usize)> {
    let out = sim.cli().args(["user", "list", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out);
    doc.as_array()
        .unwrap()
        .iter()
        .map(|u| (u["user"].as_u64().unwrap(), u["credentials"].as_u64().unwrap() as usize))
        .collect()
}

#[test]
fn plan_apply_plan_again_and_a_second_apply_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let file = write(dir.path(), "site.toml", &site(5, true));
    let pins = dir.path().join("pins.csv");

    let (out, plan) = run(sim.cli().args(["--json", "provision", "plan"]).arg(&file));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(plan["add"], 5, "{plan}");
    assert_eq!(plan["unchanged"], 0);

    let (out, applied) = run(sim
        .cli()
        .args(["--json", "provision", "apply"])
        .arg(&file)
        .arg("--pins-out")
        .arg(&pins));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(applied["verified"], true, "{applied}");
    // Generated PINs go to a file only its owner may read, once.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&pins).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&pins).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("2,")).count(), 1, "{text}");

    let (out, plan) =
        run(sim.cli().args(["--json", "provision", "plan"]).arg(&file).arg("--pins").arg(&pins));
    assert!(out.status.success());
    assert_eq!(plan["nothing_to_do"], true, "{plan}");
    assert_eq!(plan["unchanged"], 5);
    assert_eq!(plan["pins_compared"], true);

    let before = change_records(&sim);
    let (out, again) = run(sim
        .cli()
        .args(["--json", "provision", "apply"])
        .arg(&file)
        .arg("--pins-out")
        .arg(&pins));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(again["changes"], 0, "{again}");
    assert_eq!(again["verified"], true);
    assert_eq!(change_records(&sim), before, "a second apply wrote to the lock");
    assert_eq!(std::fs::read_to_string(&pins).unwrap(), text, "the PIN file was written again");

    sim.cli().args(["provision", "verify"]).arg(&file).arg("--pins").arg(&pins).assert().success();
    // A PIN changed in the file: plan says so (through the checksum, reading no PIN).
    let changed = site(5, true).replace(&pin_of(4), "731902");
    let file2 = write(dir.path(), "changed.toml", &changed);
    let (_, plan) =
        run(sim.cli().args(["--json", "provision", "plan"]).arg(&file2).arg("--pins").arg(&pins));
    assert_eq!(plan["nothing_to_do"], false, "{plan}");
    sim.cli().args(["provision", "verify"]).arg(&file2).arg("--pins").arg(&pins).assert().code(1);
    sim.stop();
}

#[test]
fn three_bad_rows_are_each_named_with_the_fix_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let file = write(
        dir.path(),
        "site.csv",
        "user,name,kind,pin,cards,windows\n\
         1,Ann,owner,058213,04a1b2c3,\n\
         2,Bob,ownr,739150,,\n\
         3,Cleaner,scheduled,,,\n\
         4,Dan,owner,1234,,\n\
         5,Eve,owner,846203,,\n",
    );
    let before = change_records(&sim);
    let (out, doc) = run(sim.cli().args(["--json", "provision", "apply"]).arg(&file));
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let detail = doc["error"]["detail"].as_array().unwrap();
    let lines: Vec<u64> = detail.iter().map(|p| p["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [3, 4, 5], "{doc}");
    assert!(detail.iter().all(|p| !p["fix"].as_str().unwrap().is_empty()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in ["site.csv:3:", "site.csv:4:", "site.csv:5:"] {
        assert!(stderr.contains(line), "{line} not named: {stderr}");
    }
    assert!(stderr.contains("fix: owner, scheduled"), "{stderr}");
    // plan refuses the same file the same way.
    sim.cli().args(["provision", "plan"]).arg(&file).assert().code(2);
    assert!(users(&sim).is_empty(), "the lock changed");
    assert_eq!(change_records(&sim), before);
    sim.stop();
}

#[test]
fn an_apply_cut_mid_way_is_finished_by_the_same_command_with_no_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let file = write(dir.path(), "site.toml", &site(12, true));
    let pins = dir.path().join("pins.csv");
    let through = |proxy: &Proxy| {
        let mut cmd = latchkey();
        cmd.env("LATCHKEY_KEYSTORE", &sim.keystore)
            .args(["--timeout", "1s", "--port", proxy.path_str(), "provision", "apply"])
            .arg(&file)
            .arg("--pins-out")
            .arg(&pins);
        cmd
    };
    // How many bytes a whole apply sends, to cut at fractions of it.
    let proxy = Proxy::start_with(&sim.link, Hooks::default());
    through(&proxy).assert().success();
    let (sent, _) = proxy.finish();
    let total = sent.len();
    let mut partial = 0;
    for k in 1..=5 {
        sim.cli().args(["clear", "users", "--yes"]).assert().success();
        let _ = std::fs::remove_file(&pins);
        let cut = total * k / 6;
        let proxy =
            Proxy::start_with(&sim.link, Hooks { cut_after_bytes: Some(cut), ..Hooks::default() });
        let out = through(&proxy).output().unwrap();
        assert!(!out.status.success(), "cut at {cut} of {total}: the apply said it was done");
        drop(proxy);
        let held = users(&sim).len();
        if held > 0 && held < 12 {
            partial += 1;
        }
        // The same command, on a good line, finishes the job.
        let (out, doc) = run(sim
            .cli()
            .args(["--json", "provision", "apply"])
            .arg(&file)
            .arg("--pins-out")
            .arg(&pins));
        assert!(out.status.success(), "cut at {cut}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(doc["verified"], true, "cut at {cut}: {doc}");
        let held = users(&sim);
        assert_eq!(held.len(), 12, "cut at {cut}");
        for (id, creds) in held {
            let want = 1 + usize::from(id % 2 == 1);
            assert_eq!(creds, want, "cut at {cut}: user {id} has {creds} credentials");
        }
        // One PIN per generated user that the lock holds: the one in the file (verify says).
        sim.cli()
            .args(["provision", "verify"])
            .arg(&file)
            .arg("--pins")
            .arg(&pins)
            .assert()
            .success();
    }
    assert!(partial > 0, "no cut left the lock part-way: the test cut nothing mid-apply");
    sim.stop();
}

#[test]
fn a_bench_of_three_locks_is_verified_and_a_lock_stopped_mid_run_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let keystore = dir.path().join("keys");
    let serials = ["LK-0001", "LK-0002", "LK-0003"];
    let sims: Vec<Sim> = serials
        .iter()
        .map(|serial| {
            let sub = dir.path().join(serial);
            std::fs::create_dir(&sub).unwrap();
            let mut sim = Sim::start(&sub, &["--serial", serial]);
            sim.keystore = keystore.clone();
            sim.cli().args(["claim", "--setup-code", &sim.setup_code]).assert().success();
            sim
        })
        .collect();
    for (i, _) in serials.iter().enumerate() {
        write(dir.path(), &format!("site{i}.toml"), &site(4 + i as u16, false));
    }
    let bench = |ports: &[&str]| {
        let mut text = String::new();
        for (i, (port, serial)) in ports.iter().zip(serials).enumerate() {
            text.push_str(&format!(
                "[[lock]]\nport = \"{port}\"\nfile = \"site{i}.toml\"\nserial = \"{serial}\"\n\n"
            ));
        }
        write(dir.path(), "bench.toml", &text)
    };
    let cli = || {
        let mut cmd = latchkey();
        cmd.env("LATCHKEY_KEYSTORE", &keystore);
        cmd
    };
    let ports: Vec<&str> = sims.iter().map(Sim::link_str).collect();
    let file = bench(&ports);
    let out = cli().args(["--json", "provision", "apply", "--bench"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let docs: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 3);
    assert!(docs.iter().all(|d| d["verified"] == true && d["ok"] == true), "{docs:?}");
    cli().args(["provision", "verify", "--bench"]).arg(&file).assert().success();

    // Again on fresh users, with the second lock stopped after a few frames of its run.
    for sim in &sims {
        sim.cli().args(["clear", "users", "--yes"]).assert().success();
    }
    let mut iter = sims.into_iter();
    let (first, second, third) = (iter.next().unwrap(), iter.next().unwrap(), iter.next().unwrap());
    let pid = second.child.id();
    let proxy = Proxy::start_with(
        &second.link,
        Hooks {
            on_frame: Some(Box::new(move |n, _| {
                if n == 8 {
                    let _ = std::process::Command::new("kill")
                        .arg("-TERM")
                        .arg(pid.to_string())
                        .status();
                    Verdict::RelayThenCut
                } else {
                    Verdict::Relay
                }
            })),
            ..Hooks::default()
        },
    );
    let file = bench(&[first.link_str(), proxy.path_str(), third.link_str()]);
    let out = cli()
        .args(["--timeout", "1s", "provision", "apply", "--bench"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}");
    assert!(stderr.contains("1 of 3 lock(s) failed") && stderr.contains("LK-0002"), "{stderr}");
    assert!(!stderr.contains("LK-0001 (") && !stderr.contains("LK-0003 ("), "{stderr}");
    assert_eq!(stdout.matches("verified").count(), 2, "{stdout}");
    drop(proxy);
    for sim in [first, third] {
        sim.stop();
    }
}

#[test]
fn an_exported_file_applied_to_a_fresh_lock_gives_the_same_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let a_dir = dir.path().join("a");
    let b_dir = dir.path().join("b");
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::create_dir_all(&b_dir).unwrap();
    let a = Sim::start_claimed(&a_dir, &[]);
    let file = write(dir.path(), "site.toml", &site(6, false));
    a.cli().args(["provision", "apply"]).arg(&file).assert().success();
    let exported = dir.path().join("export.toml");
    a.cli().args(["provision", "export", "--out"]).arg(&exported).assert().success();
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(!text.contains(&pin_of(1)), "a PIN was exported");
    // Export carries no PIN (`pin = "keep"`): the test writes back the PINs it gave, user by
    // user, as a site's own records would.
    let mut filled = String::new();
    let mut user = 0;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("user = ") {
            user = n.parse().unwrap();
        }
        if line == "pin = \"keep\"" {
            filled.push_str(&format!("pin = \"{}\"\n", pin_of(user)));
        } else {
            filled.push_str(line);
            filled.push('\n');
        }
    }
    let filled = write(dir.path(), "filled.toml", &filled);
    // The same serial and site key: the same PIN key, so the same checksum for the same PINs.
    let mut b = Sim::start(&b_dir, &[]);
    b.keystore = a.keystore.clone();
    b.cli().args(["claim", "--setup-code", &b.setup_code]).assert().success();
    b.cli().args(["provision", "apply"]).arg(&filled).assert().success();
    let sum = |sim: &Sim| json(&sim.cli().args(["checksum", "--json"]).output().unwrap());
    let (sa, sb) = (sum(&a), sum(&b));
    assert_eq!(sa["checksum"], sb["checksum"], "{sa} vs {sb}");
    assert_eq!(sa["credentials"], 9);
    // And the exported file as it is, applied back to its own lock, changes nothing.
    let (_, plan) = run(a.cli().args(["--json", "provision", "plan"]).arg(&exported));
    assert_eq!(plan["nothing_to_do"], true, "{plan}");
    a.stop();
    b.stop();
}

#[test]
fn an_apply_through_a_noisy_line_converges_exactly_and_reports_its_resends() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let file = write(dir.path(), "site.toml", &site(6, true));
    let pins = dir.path().join("pins.csv");
    let proxy = Proxy::start_with(
        &sim.link,
        Hooks { noise: Some(common::proxy::noisy(0.01, 0.005, 0x5eed)), ..Hooks::default() },
    );
    let mut resent = 0;
    let mut runs = 0;
    // Each run keeps what the lock acknowledged; the same command is run until it says done.
    let done = loop {
        runs += 1;
        let mut cmd = latchkey();
        cmd.env("LATCHKEY_KEYSTORE", &sim.keystore)
            .args(["--json", "--timeout", "10s", "--port", proxy.path_str(), "provision", "apply"])
            .arg(&file)
            .arg("--pins-out")
            .arg(&pins);
        let (out, doc) = run(&mut cmd);
        if out.status.success() {
            break doc;
        }
        // A run the line defeated reports a link error, never a refusal or success.
        assert_eq!(
            out.status.code(),
            Some(4),
            "run {runs}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(runs < 5, "no convergence after {runs} runs");
    };
    resent += done["resent"].as_u64().unwrap();
    assert_eq!(done["verified"], true, "{done}");
    drop(proxy);
    // On a clean line: exactly the file, nothing twice.
    sim.cli().args(["provision", "verify"]).arg(&file).arg("--pins").arg(&pins).assert().success();
    let held = users(&sim);
    assert_eq!(held.len(), 6);
    for (id, creds) in held {
        assert_eq!(creds, 1 + usize::from(id % 2 == 1), "user {id}");
    }
    println!("noisy line: converged in {runs} run(s), {resent} resend(s) in the last");
}

#[test]
fn a_refused_credential_leaves_its_user_in_the_documented_state_reported_per_row() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let first =
        write(dir.path(), "first.toml", "[[user]]\nuser = 1\nname = \"Ann\"\npin = \"058213\"\n");
    sim.cli().args(["provision", "apply"]).arg(&first).assert().success();
    // Someone the file does not manage holds a PIN and a name the file will ask for.
    let zed = sim.add_user_with_pin("Zed", "482915", &[]);
    assert_eq!(zed, 2);
    let file = write(
        dir.path(),
        "site.toml",
        "[[user]]\nuser = 1\nname = \"Ann\"\npin = \"482915\"\ncards = [\"04a1b2c3\"]\n\n\
         [[user]]\nuser = 3\nname = \"zed\"\ncards = [\"04a1b2c4\"]\n",
    );
    let (out, doc) = run(sim.cli().args(["--json", "provision", "apply"]).arg(&file));
    assert_eq!(out.status.code(), Some(1), "{doc} {}", String::from_utf8_lossy(&out.stderr));
    // One JSON document: the error, with the apply's report as its detail.
    assert_eq!(doc["error"]["kind"], "refused", "{doc}");
    let rows = doc["error"]["detail"]["users"].as_array().unwrap();
    let row = |u: u64| rows.iter().find(|r| r["user"] == u).unwrap_or_else(|| panic!("{doc}"));
    // Ann: the card is hers, the refused PIN is not, and her old PIN is gone too.
    assert_eq!(row(1)["outcome"], "partial", "{doc}");
    assert_eq!(row(1)["line"], 1);
    assert_eq!(row(1)["refused"][0]["status"], "duplicate");
    // The second "zed": refused whole, so no card went to anyone under that number.
    assert_eq!(row(3)["outcome"], "refused", "{doc}");
    assert_eq!(row(3)["line"], 7);
    let held = users(&sim);
    assert_eq!(held, [(1, 1), (zed, 1)], "Ann holds only her card; Zed is as he was");
    // Zed's PIN belongs to him alone: the refused row is what the lock said, not a guess.
    let show = json(&sim.cli().args(["user", "show", "1", "--json"]).output().unwrap());
    assert_eq!(show["credentials"][0]["type"], "card", "{show}");
    // The old PIN no longer opens; Zed's still does.
    assert!(!sim.attempt("pin 058213").contains("granted"), "the old PIN still opens");
    assert!(sim.attempt("pin 482915").contains("granted"));
    sim.stop();
}

#[test]
fn a_technician_key_can_plan_but_not_apply() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let file = write(dir.path(), "site.toml", &site(3, false));
    sim.cli().args(["provision", "apply"]).arg(&file).assert().success();
    let tech = sim.technician_key();
    let (out, plan) =
        run(sim.cli().arg("--key").arg(&tech).args(["--json", "provision", "plan"]).arg(&file));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(plan["nothing_to_do"], true, "{plan}");
    assert_eq!(plan["pins_compared"], false);
    let more = write(dir.path(), "more.toml", &site(4, false));
    let (_, plan) =
        run(sim.cli().arg("--key").arg(&tech).args(["--json", "provision", "plan"]).arg(&more));
    assert_eq!(plan["add"], 1, "{plan}");
    let before = change_records(&sim);
    let (out, doc) =
        run(sim.cli().arg("--key").arg(&tech).args(["--json", "provision", "apply"]).arg(&more));
    assert_eq!(out.status.code(), Some(1), "{doc}");
    assert!(doc["error"]["message"].as_str().unwrap().contains("read-only"), "{doc}");
    assert_eq!(change_records(&sim), before);
    sim.stop();
}

#[test]
fn the_same_file_on_two_locks_with_port_given_twice() {
    let dir = tempfile::tempdir().unwrap();
    let keystore = dir.path().join("keys");
    let sims: Vec<Sim> = ["LK-0001", "LK-0002"]
        .iter()
        .map(|serial| {
            let sub = dir.path().join(serial);
            std::fs::create_dir(&sub).unwrap();
            let mut sim = Sim::start(&sub, &["--serial", serial]);
            sim.keystore = keystore.clone();
            sim.cli().args(["claim", "--setup-code", &sim.setup_code]).assert().success();
            sim
        })
        .collect();
    let file = write(dir.path(), "site.toml", &site(3, false));
    let both = |args: &[&str]| {
        let mut cmd = latchkey();
        cmd.env("LATCHKEY_KEYSTORE", &keystore)
            .args(["--port", sims[0].link_str(), "--port", sims[1].link_str()])
            .args(args);
        cmd
    };
    let out = both(&["--json", "provision", "apply"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().filter(|l| l.contains("\"verified\":true")).count(), 2, "{stdout}");
    both(&["provision", "verify"]).arg(&file).assert().success();
    // Any other command on two ports is a usage error: nothing is sent.
    both(&["info"]).assert().code(2);
    for sim in sims {
        sim.stop();
    }
}
