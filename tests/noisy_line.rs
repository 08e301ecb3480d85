//! The real `latchkey` binary over a noisy cable: a proxy between it and the simulator flips
//! and drops bytes both ways (`common::proxy::noisy`, seeded). On a slightly noisy line every
//! command succeeds within its default timeout; on a very noisy one, with a longer timeout,
//! each either succeeds or fails with a link error (exit 4), and never reports a change that
//! did not happen. The figures go to docs/reliability.md ("A noisy line").

mod common;

use std::time::Instant;

use common::proxy::{Hooks, Proxy, noisy};
use common::{Sim, json, latchkey};

/// One command through the proxy: its exit code and standard error.
fn through(proxy: &Proxy, sim: &Sim, args: &[&str]) -> (Option<i32>, String) {
    let out = latchkey()
        .env("LATCHKEY_KEYSTORE", &sim.keystore)
        .args(["--port", proxy.path_str()])
        .args(std::env::var("NOISY_VERBOSE").ok().map(|_| "-vv"))
        .args(args)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The 200 commands: reads and writes, as a day of installing and checking does.
fn command(i: usize) -> Vec<String> {
    let n = i / 10 + 1;
    let args: Vec<String> = match i % 10 {
        0 => vec!["info".into()],
        1 => vec!["time".into(), "get".into()],
        2 => vec!["config".into(), "set".into(), "label".into(), format!("Door {i}")],
        3 => vec!["config".into(), "get".into()],
        4 => vec!["battery".into()],
        5 => vec!["user".into(), "add".into(), format!("User {n}"), "--id".into(), n.to_string()],
        6 => vec!["user".into(), "show".into(), n.to_string()],
        7 => vec!["alarms".into()],
        8 => vec!["checksum".into()],
        _ => vec!["log".into(), "read".into(), "--last".into(), "5".into()],
    };
    args
}

#[test]
fn at_a_tenth_of_a_percent_byte_errors_two_hundred_commands_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let proxy = Proxy::start_with(
        &sim.link,
        Hooks { noise: Some(noisy(0.001, 0.0, 0x0dd5)), ..Hooks::default() },
    );
    let started = Instant::now();
    for i in 0..200 {
        let args = command(i);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stderr) = through(&proxy, &sim, &args);
        if code != Some(0) && std::env::var("NOISY_VERBOSE").is_ok() {
            let h2l = proxy.host_to_lock.lock().unwrap().clone();
            let l2h = proxy.lock_to_host.lock().unwrap().clone();
            let tail = |b: &[u8]| b[b.len().saturating_sub(400)..].to_vec();
            eprintln!("h2l tail {:02x?}", tail(&h2l));
            eprintln!("l2h tail {:02x?}", tail(&l2h));
            for (h, body) in common::proxy::frames(&tail(&l2h)) {
                eprintln!("l2h frame {h:?} {}", body.len());
            }
            for (h, body) in common::proxy::frames(&tail(&h2l)) {
                eprintln!("h2l frame {h:?} {}", body.len());
            }
        }
        assert_eq!(code, Some(0), "command {i} {args:?} failed: {stderr}");
    }
    let elapsed = started.elapsed();
    let (up, down) =
        (proxy.host_to_lock.lock().unwrap().len(), proxy.lock_to_host.lock().unwrap().len());
    drop(proxy);
    eprintln!(
        "noisy line 0.1 %: 200 commands, 200 succeeded in {:.1} s; {up} bytes host to lock, {down} back",
        elapsed.as_secs_f64()
    );
    // The writes are all there, on a clean line.
    let users = json(&sim.cli().args(["user", "list", "--json"]).output().unwrap());
    assert_eq!(users.as_array().unwrap().len(), 20, "{users}");
    sim.stop();
}

#[test]
fn at_one_percent_flips_and_half_a_percent_drops_nothing_is_reported_that_did_not_happen() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let proxy = Proxy::start_with(
        &sim.link,
        Hooks { noise: Some(noisy(0.01, 0.005, 0x7e57)), ..Hooks::default() },
    );
    let started = Instant::now();
    let mut succeeded = Vec::new();
    let mut link_errors = Vec::new();
    for n in 1..=30u16 {
        let name = format!("Noisy {n}");
        let id = n.to_string();
        let (code, stderr) =
            through(&proxy, &sim, &["--timeout", "20s", "user", "add", &name, "--id", &id]);
        match code {
            Some(0) => succeeded.push(n),
            Some(4) => link_errors.push(n),
            other => {
                panic!("user add {n}: exit {other:?}, neither done nor a link error: {stderr}")
            }
        }
    }
    let elapsed = started.elapsed();
    drop(proxy);
    // On a clean line: every acknowledged user is there with its name; anything else there
    // is a user whose command could not tell (exit 4), never one nobody asked for.
    let users = json(&sim.cli().args(["user", "list", "--json"]).output().unwrap());
    let held: Vec<(u16, String)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["user"].as_u64().unwrap() as u16, u["name"].as_str().unwrap().to_string()))
        .collect();
    for n in &succeeded {
        assert!(held.contains(&(*n, format!("Noisy {n}"))), "acknowledged user {n} is missing");
    }
    let unacknowledged: Vec<u16> =
        held.iter().map(|(id, _)| *id).filter(|id| !succeeded.contains(id)).collect();
    assert!(unacknowledged.iter().all(|id| link_errors.contains(id)), "{held:?}");
    // Nothing twice: names are unique on the lock, and every one is the one its number says.
    assert!(held.iter().all(|(id, name)| *name == format!("Noisy {id}")), "{held:?}");
    eprintln!(
        "noisy line 1 % flips, 0.5 % drops, --timeout 20s: 30 user adds, {} succeeded, {} exit 4 \
         ({} of those took effect), {:.1} s",
        succeeded.len(),
        link_errors.len(),
        unacknowledged.len(),
        elapsed.as_secs_f64()
    );
    assert!(succeeded.len() >= 25, "the line defeated too many: {link_errors:?}");
    sim.stop();
}
