//! End to end, the secure management link: claiming, roles, what a recording of the line
//! shows, replay and tampering, factory reset and key rotation. The real `latchkey` binary
//! against the real `latchkey-sim` over a pty.

mod common;

use std::time::Duration;

use common::proxy::{Proxy, contains};
use common::{Sim, json, latchkey};
use latchkey::keys::KeyFile;
use predicates::prelude::*;

fn wrong_code(code: &str) -> String {
    // Change the last character to another valid one.
    let mut chars: Vec<char> = code.chars().collect();
    let last = chars.last_mut().unwrap();
    *last = if *last == '7' { '8' } else { '7' };
    chars.into_iter().collect()
}

#[test]
fn an_unclaimed_lock_refuses_management_until_claimed_and_slows_wrong_codes() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), &[]);

    let out = sim.cli().args(["config", "set", "label", "Front door"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not claimed") && stderr.contains("latchkey claim"), "{stderr}");

    let out = sim
        .cli()
        .args(["--json", "claim", "--setup-code", &wrong_code(&sim.setup_code)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["error"]["kind"], "wrong_setup_code");

    // Straight after a wrong code, even the right one has to wait.
    let out =
        sim.cli().args(["--json", "claim", "--setup-code", &sim.setup_code]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = &json(&out)["error"];
    assert_eq!(err["kind"], "backoff");
    let wait = err["retry_after_ms"].as_u64().unwrap();
    assert!(wait > 0);

    // The back-off passes on the lock's clock.
    sim.act(&format!("clock +{}ms", wait + 1));
    sim.cli().args(["claim", "--setup-code", &sim.setup_code]).assert().success();
    sim.cli().args(["config", "set", "label", "Front door"]).assert().success();

    // A claimed lock refuses a second claim.
    sim.cli()
        .args(["claim", "--setup-code", &sim.setup_code])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already claimed"));
    let out = sim.cli().args(["info", "--json"]).output().unwrap();
    assert!(json(&out)["diagnostics"]["auth_failures"].as_u64().unwrap() >= 1);
    sim.stop();
}

#[test]
fn the_setup_code_can_come_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), &[]);
    sim.cli()
        .arg("claim")
        .write_stdin(format!("{}\n", sim.setup_code.to_lowercase()))
        .assert()
        .success()
        .stderr(predicate::str::contains("history").not());
    // On the command line it works too, with a word about where it is now kept.
    sim.cli()
        .args(["factory-reset", "--yes", "--setup-code", &sim.setup_code])
        .assert()
        .success()
        .stderr(predicate::str::contains("shell's history"));
    sim.stop();
}

#[test]
fn a_technician_key_reads_but_cannot_change() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let tech = sim.technician_key();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&tech).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let as_tech = || {
        let mut cmd = sim.cli();
        cmd.arg("--key").arg(&tech);
        cmd
    };
    let out = as_tech().args(["info", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(json(&out)["diagnostics"].is_object());
    as_tech().args(["battery"]).assert().success();
    as_tech().args(["config", "get"]).assert().success();
    as_tech()
        .args(["config", "set", "label", "Hacked"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("read-only"));
    as_tech().args(["time", "sync"]).assert().code(1);
    // A technician key cannot claim, rotate or be turned into an installer key.
    as_tech().args(["key", "rotate"]).assert().code(2);
    sim.cli()
        .args(["config", "get", "label"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Hacked").not());
    sim.stop();
}

#[test]
fn a_recording_of_the_line_holds_no_secret_and_replaying_it_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), &[]);
    let proxy = Proxy::start(&sim.link, None);
    let via_proxy = || {
        let mut cmd = latchkey();
        cmd.env("LATCHKEY_KEYSTORE", &sim.keystore).args(["--port", proxy.path_str()]);
        cmd
    };
    via_proxy().args(["claim", "--setup-code", &sim.setup_code]).assert().success();
    via_proxy().args(["config", "set", "label", "Vault 7 entrance"]).assert().success();
    via_proxy().args(["config", "set", "wrong-code-limit", "3"]).assert().success();
    via_proxy().args(["time", "sync"]).assert().success();
    via_proxy()
        .args(["config", "get"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Vault 7 entrance"));
    let (h2l, l2h) = proxy.finish();
    assert!(
        h2l.len() > 200 && l2h.len() > 200,
        "recorded too little: {} / {}",
        h2l.len(),
        l2h.len()
    );

    // What must never cross the line in clear.
    let site = KeyFile::load(&sim.keystore.join("default.toml")).unwrap();
    let serial = {
        let out = sim.cli().args(["info", "--json"]).output().unwrap();
        json(&out)["serial"].as_str().unwrap().to_string()
    };
    let (installer, technician) = site.lock_pair(&serial).unwrap();
    let tech_site = site.technician();
    let normalized: String = sim.setup_code.chars().filter(|c| *c != '-').collect();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("setup code", sim.setup_code.as_bytes().to_vec()),
        ("setup code, normalized", normalized.as_bytes().to_vec()),
        ("site key", site.key.as_bytes().to_vec()),
        ("site key, hex", hex(site.key.as_bytes()).into_bytes()),
        ("technician site key", tech_site.key.as_bytes().to_vec()),
        ("installer lock key", installer.as_bytes().to_vec()),
        ("technician lock key", technician.as_bytes().to_vec()),
        ("installer lock key, first half", installer.as_bytes()[..16].to_vec()),
        ("label set inside the session", b"Vault 7 entrance".to_vec()),
    ];
    for (what, secret) in &secrets {
        assert!(!contains(&h2l, secret), "{what} appears on the line host to lock");
        assert!(!contains(&l2h, secret), "{what} appears on the line lock to host");
    }

    // Change the label, then replay every byte the host sent: nothing changes.
    sim.cli().args(["config", "set", "label", "After"]).assert().success();
    replay_then_ping(sim.link_str(), &h2l);
    sim.cli().args(["config", "get", "label"]).assert().success().stdout("After\n");
    sim.cli().args(["config", "get", "wrong-code-limit"]).assert().success().stdout("3\n");
    let out = sim.cli().args(["info", "--json"]).output().unwrap();
    let doc = json(&out);
    assert_eq!(doc["claimed"], true);
    // The replayed session proof failed against the lock's fresh nonce: counted, not obeyed.
    let d = &doc["diagnostics"];
    assert!(
        d["auth_failures"].as_u64().unwrap() + d["sealed_rejected"].as_u64().unwrap() >= 1,
        "the replay left no trace: {doc}"
    );
    sim.stop();
}

/// Writes `bytes` on the lock's line, then a ping, and waits for its pong: the lock reads its
/// line in order, so by then it has handled (answered or ignored) every replayed byte.
fn replay_then_ping(port: &str, bytes: &[u8]) {
    use latchkey_protocol::{Request, Response};
    use std::io::Write;
    let mut port =
        serialport::new(port, 115_200).timeout(Duration::from_millis(50)).open_native().unwrap();
    port.write_all(bytes).unwrap();
    // The ping's leading zero ends whatever half frame the replay left in the lock's buffer.
    let nonce = 0x5EED_F00D;
    let answer = common::proxy::ask_plain(&mut port, 0x7EEF, &Request::Ping { nonce });
    assert_eq!(answer, Response::Pong { nonce }, "no pong after the replay");
}

#[test]
fn a_flipped_bit_in_a_sealed_frame_is_rejected_counted_and_the_session_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let mut flipped = false;
    let proxy = Proxy::start(
        &sim.link,
        Some(Box::new(move |raw: &mut Vec<u8>| {
            // The first sealed request (kind 3): flip one bit of its ciphertext.
            if flipped || raw[1] != 3 {
                return false;
            }
            flipped = true;
            raw[4 + 4 + 1] ^= 0x10;
            true
        })),
    );
    let mut cmd = latchkey();
    cmd.env("LATCHKEY_KEYSTORE", &sim.keystore).args([
        "--port",
        proxy.path_str(),
        "config",
        "set",
        "label",
        "Side door",
    ]);
    cmd.assert().success();
    drop(proxy);
    sim.cli().args(["config", "get", "label"]).assert().success().stdout("Side door\n");
    let out = sim.cli().args(["info", "--json"]).output().unwrap();
    assert_eq!(json(&out)["diagnostics"]["sealed_rejected"], 1);
    sim.stop();
}

#[test]
fn factory_reset_needs_the_setup_code_and_leaves_the_lock_unclaimed() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    // Scripts must confirm explicitly.
    sim.cli()
        .args(["factory-reset", "--setup-code", &sim.setup_code])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--yes"));
    let out = sim
        .cli()
        .args(["--json", "factory-reset", "--yes", "--setup-code", &wrong_code(&sim.setup_code)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["error"]["kind"], "wrong_setup_code");
    // Still claimed and working.
    sim.cli().args(["config", "get", "label"]).assert().success();

    sim.act("clock +2s"); // the back-off after the wrong code
    sim.cli().args(["factory-reset", "--yes", "--setup-code", &sim.setup_code]).assert().success();
    let out = sim.cli().args(["info", "--json"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(json(&out)["claimed"], false);
    sim.cli()
        .args(["config", "set", "label", "X"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("latchkey claim"));
    // And it can be claimed again.
    sim.cli().args(["claim", "--setup-code", &sim.setup_code]).assert().success();
    sim.stop();
}

#[test]
fn keys_are_created_listed_without_secrets_exported_imported_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let keystore = dir.path().join("keys");
    let cli = || {
        let mut cmd = latchkey();
        cmd.env("LATCHKEY_KEYSTORE", &keystore);
        cmd
    };
    cli().args(["key", "create", "acme"]).assert().success();
    cli()
        .args(["key", "create", "acme"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    let acme = KeyFile::load(&keystore.join("acme.toml")).unwrap();
    let secret_hex: String = acme.key.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let out = cli().args(["key", "list", "--json"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&secret_hex));
    assert_eq!(json(&out)[0]["name"], "acme");

    // Export to a pipe works; import under another name.
    let out = cli().args(["key", "export", "acme", "--out", "-"]).output().unwrap();
    assert!(out.status.success());
    let copy = dir.path().join("copy.toml");
    std::fs::write(&copy, &out.stdout).unwrap();
    std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    cli()
        .args(["key", "import"])
        .arg(&copy)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("chmod 600"));
    std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    cli().args(["key", "import"]).arg(&copy).args(["--name", "acme-copy"]).assert().success();

    // Two locks claimed with the site key; rotate while talking to the first.
    let d1 = dir.path().join("a");
    let d2 = dir.path().join("b");
    std::fs::create_dir_all(&d1).unwrap();
    std::fs::create_dir_all(&d2).unwrap();
    let a = Sim::start(&d1, &["--serial", "SIM-A"]);
    let b = Sim::start(&d2, &["--serial", "SIM-B"]);
    for sim in [&a, &b] {
        cli()
            .args([
                "--key",
                "acme",
                "--port",
                sim.link_str(),
                "claim",
                "--setup-code",
                &sim.setup_code,
            ])
            .assert()
            .success();
    }
    cli().args(["--port", a.link_str(), "key", "rotate", "acme"]).assert().success();
    // The old key (the imported copy) no longer opens lock A...
    let out = cli()
        .args(["--json", "--key", "acme-copy", "--port", a.link_str(), "config", "get"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["error"]["kind"], "wrong_key");
    // ...the rotated one does. Reading lock B leaves it on the older key (and says so); the
    // first command that changes it moves it over.
    cli().args(["--key", "acme", "--port", a.link_str(), "config", "get"]).assert().success();
    cli()
        .args(["--key", "acme", "--port", b.link_str(), "config", "get"])
        .assert()
        .success()
        .stderr(predicate::str::contains("is on an older key"));
    cli().args(["--key", "acme-copy", "--port", b.link_str(), "config", "get"]).assert().success();
    cli()
        .args(["--key", "acme", "--port", b.link_str(), "config", "set", "label", "B"])
        .assert()
        .success()
        .stderr(predicate::str::contains("moved it to the current key"));
    cli().args(["--key", "acme-copy", "--port", b.link_str(), "config", "get"]).assert().code(1);
    a.stop();
    b.stop();
}

#[test]
fn the_built_in_simulated_lock_is_ready_to_manage() {
    latchkey().args(["--sim", "config", "set", "label", "Demo door"]).assert().success();
    latchkey().args(["--sim", "time", "sync"]).assert().success();
}

#[test]
fn a_recorded_session_stays_closed_to_whoever_steals_the_site_key_later() {
    use latchkey_protocol::crypto::{SecretKey, SessionKeys, x25519_shared};
    use latchkey_protocol::{Kind, MAX_BODY_LEN, Request, Response, Role, decode_body};

    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let proxy = Proxy::start(&sim.link, None);
    let via_proxy = || {
        let mut cmd = latchkey();
        cmd.env("LATCHKEY_KEYSTORE", &sim.keystore).args(["--port", proxy.path_str()]);
        cmd
    };
    via_proxy().args(["config", "set", "label", "Vault 7 entrance"]).assert().success();
    via_proxy().args(["user", "add", "Ann"]).assert().success();
    let (h2l, l2h) = proxy.finish();

    // Later the laptop is stolen: the site key, and every key derived from it, is known.
    let site = KeyFile::load(&sim.keystore.join("default.toml")).unwrap();
    let out = sim.cli().args(["info", "--json"]).output().unwrap();
    let serial = json(&out)["serial"].as_str().unwrap().to_string();
    let (installer, technician) = site.lock_pair(&serial).unwrap();
    let known: Vec<SecretKey> =
        vec![site.key.clone(), site.technician().key, installer.clone(), technician.clone()];

    // The handshakes in clear: every ephemeral public key the recording holds.
    let sent = common::proxy::frames(&h2l);
    let answered = common::proxy::frames(&l2h);
    let host_publics: Vec<[u8; 32]> = sent
        .iter()
        .filter_map(|(h, body)| match (h.kind, decode_body::<Request>(body)) {
            (Kind::Request, Ok(Request::SessionStart { host_public, .. })) => Some(host_public),
            _ => None,
        })
        .collect();
    let lock_publics: Vec<[u8; 32]> = answered
        .iter()
        .filter_map(|(h, body)| match (h.kind, decode_body::<Response>(body)) {
            (Kind::Response, Ok(Response::SessionChallenge { lock_public, .. })) => {
                Some(lock_public)
            }
            _ => None,
        })
        .collect();
    assert_eq!((host_publics.len(), lock_publics.len()), (2, 2), "two handshakes recorded");
    let sealed: Vec<_> = sent
        .iter()
        .chain(&answered)
        .filter(|(h, _)| {
            matches!(h.kind, Kind::SealedRequest | Kind::SealedResponse | Kind::SealedEvent)
        })
        .collect();
    assert!(sealed.len() >= 6, "recorded {} sealed frames", sealed.len());

    // Every secret the thief can compute for the exchange's shared value: none is it.
    let mut opened = 0;
    for (host_public, lock_public) in host_publics.iter().zip(&lock_publics) {
        let mut guesses: Vec<[u8; 32]> = vec![[0; 32], *host_public, *lock_public];
        for key in &known {
            for public in [host_public, lock_public] {
                guesses.extend(x25519_shared(key.as_bytes(), public));
            }
        }
        for lock_key in [&installer, &technician] {
            for role in [Role::Installer, Role::Technician] {
                for shared in &guesses {
                    let keys = SessionKeys::derive(
                        lock_key,
                        role,
                        &serial,
                        host_public,
                        lock_public,
                        shared,
                    );
                    for (header, body) in &sealed {
                        let (_, mut from_host) = keys.lock_ends();
                        let (_, mut from_lock) = keys.host_ends();
                        let mut events = keys.host_event_opener();
                        let mut out = [0u8; MAX_BODY_LEN];
                        let opener = match header.kind {
                            Kind::SealedRequest => &mut from_host,
                            Kind::SealedResponse => &mut from_lock,
                            _ => &mut events,
                        };
                        if opener.open(header, body, &mut out).is_ok() {
                            opened += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(opened, 0, "a stolen key opened {opened} recorded frames");
    sim.stop();
}

#[test]
fn an_attacker_with_the_cable_gets_nothing_to_test_setup_code_guesses_against() {
    use latchkey_protocol::crypto::{ClaimKeys, ClaimVerifier, SetupCode, pake, proofs_match};
    use latchkey_protocol::{ClaimIntent, Request, Response, Status};

    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), &[]);
    let right = SetupCode::parse(&sim.setup_code).unwrap();
    // 999 wrong codes and the right one, as the attacker's candidate list.
    let mut candidates: Vec<SetupCode> = (0u64..999)
        .map(|i| SetupCode::from_random(i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes()))
        .filter(|c| *c != right)
        .collect();
    candidates.push(right.clone());

    // What the attacker records: each challenge, from an unclaimed and from a claimed lock.
    let mut recorded = Vec::new();
    for claimed in [false, true] {
        if claimed {
            sim.act("clock +70s");
            sim.cli().args(["claim", "--setup-code", &sim.setup_code]).assert().success();
        }
        for intent in [ClaimIntent::Claim, ClaimIntent::FactoryReset] {
            // Past any back-off an earlier abandoned exchange left.
            sim.act("clock +70s");
            let mut port = serialport::new(sim.link_str(), 115_200)
                .timeout(Duration::from_millis(50))
                .open_native()
                .unwrap();
            let Response::Hello(info) = common::proxy::ask_plain(&mut port, 1, &Request::Hello)
            else {
                panic!("no hello")
            };
            // The attacker's share: his secret times a point he chose (he knows no generator).
            let secret = [0x42u8; 32];
            let host_share = pake::share(&secret, &[9; 32]);
            let host_nonce = [0x17; 16];
            let start = Request::ClaimStart { intent, host_nonce, host_share };
            match common::proxy::ask_plain(&mut port, 2, &start) {
                Response::ClaimChallenge { lock_share, lock_proof } => {
                    recorded.push((
                        info.clone(),
                        intent,
                        secret,
                        host_nonce,
                        host_share,
                        lock_share,
                        lock_proof,
                    ));
                }
                Response::Status(Status::Occupied) => {
                    assert!(claimed && intent == ClaimIntent::Claim, "{intent:?}")
                }
                other => panic!("{claimed} {intent:?}: {other:?}"),
            }
        }
    }
    assert_eq!(recorded.len(), 3, "unclaimed: claim and reset; claimed: reset");

    // Offline: for every candidate, every check the attacker can compute. The slow KDF runs
    // once per candidate (the lock's salt does not change), spread over the machine's cores.
    let salt = recorded[0].0.claim_salt;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let verifiers: Vec<ClaimVerifier> = std::thread::scope(|scope| {
        let workers: Vec<_> = candidates
            .chunks(candidates.len().div_ceil(threads))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk.iter().map(|c| ClaimVerifier::derive(c, &salt)).collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    for (info, intent, secret, host_nonce, host_share, lock_share, lock_proof) in &recorded {
        assert_eq!(info.claim_salt, salt);
        let serial = info.serial.as_str();
        let mut singled_out = 0;
        for verifier in &verifiers {
            let generator = verifier.generator(*intent);
            // His own side of the exchange, and the candidate's generator in his secret's place.
            let tries = [pake::shared(secret, lock_share), pake::shared(secret, generator)];
            for shared in tries.iter().flatten() {
                let keys =
                    ClaimKeys::derive(shared, serial, *intent, host_nonce, host_share, lock_share);
                if proofs_match(&keys.lock_proof(), lock_proof) {
                    singled_out += 1;
                }
            }
        }
        assert_eq!(singled_out, 0, "{intent:?}: a check singled out a candidate");
    }

    // The control: a host that knows the code gets a proof it can check, for that code only.
    sim.act("clock +70s");
    let mut port = serialport::new(sim.link_str(), 115_200)
        .timeout(Duration::from_millis(50))
        .open_native()
        .unwrap();
    let Response::Hello(info) = common::proxy::ask_plain(&mut port, 3, &Request::Hello) else {
        panic!("no hello")
    };
    let verifier = ClaimVerifier::derive(&right, &info.claim_salt);
    let secret = [0x24u8; 32];
    let intent = ClaimIntent::FactoryReset;
    let host_share = pake::share(&secret, verifier.generator(intent));
    let host_nonce = [0x18; 16];
    let start = Request::ClaimStart { intent, host_nonce, host_share };
    let Response::ClaimChallenge { lock_share, lock_proof } =
        common::proxy::ask_plain(&mut port, 4, &start)
    else {
        panic!("no challenge")
    };
    let shared = pake::shared(&secret, &lock_share).unwrap();
    let keys =
        ClaimKeys::derive(&shared, &info.serial, intent, &host_nonce, &host_share, &lock_share);
    assert!(proofs_match(&keys.lock_proof(), &lock_proof), "the right code's own exchange");
    sim.stop();
}

#[test]
fn a_simulator_flash_file_holds_no_spelling_of_the_setup_code() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let code = sim.setup_code.clone();
    let flash = sim.flash.clone();
    sim.stop();
    let bytes = std::fs::read(&flash).unwrap();
    for spelling in setup_code_spellings(&code) {
        assert!(!contains(&bytes, spelling.as_bytes()), "{spelling:?} is in the flash file");
    }
}

/// Every way a setup code could sit in memory: as printed, without dashes, in either case.
pub fn setup_code_spellings(code: &str) -> Vec<String> {
    let bare: String = code.chars().filter(|c| *c != '-').collect();
    vec![code.to_string(), code.to_lowercase(), bare.clone(), bare.to_lowercase()]
}

#[test]
fn a_claim_back_off_outlives_a_power_cut() {
    use latchkey_protocol::crypto::pake;
    use latchkey_protocol::{ClaimIntent, Request, Response};

    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path(), &[]);
    let wrong = wrong_code(&sim.setup_code);
    // Two wrong codes (the clock moved past the first one's back-off in between).
    sim.cli().args(["claim", "--setup-code", &wrong]).assert().code(1);
    sim.act("clock +70s");
    sim.cli().args(["claim", "--setup-code", &wrong]).assert().code(1);
    let start = |seq| {
        let mut port = serialport::new(sim.link_str(), 115_200)
            .timeout(Duration::from_millis(50))
            .open_native()
            .unwrap();
        let host_share = pake::share(&[0x31; 32], &[9; 32]);
        let request =
            Request::ClaimStart { intent: ClaimIntent::Claim, host_nonce: [1; 16], host_share };
        common::proxy::ask_plain(&mut port, seq, &request)
    };
    // The batteries come out and go back in: the lock still makes the next guess wait, the
    // whole back-off of two failures again (how long it was off, it cannot know).
    sim.act("power-cut");
    match start(1) {
        Response::Backoff { retry_after_ms } => assert!((1_000..=2_000).contains(&retry_after_ms)),
        other => panic!("no back-off after the power cut: {other:?}"),
    }
    // Once waited out, the right code claims it, and a success clears the record.
    sim.act("clock +70s");
    sim.cli().args(["claim", "--setup-code", &sim.setup_code]).assert().success();
    sim.act("power-cut");
    let out = sim.cli().args(["--json", "user", "list"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    sim.stop();
}

#[test]
fn a_technician_sees_cards_and_phone_keys_only_as_fingerprints() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let ann = sim.add_user_with_pin("Ann", "582917", &[]);
    let key_hex = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    sim.cli().args(["card", "add", "Ann", "04a1b2c3d4e5f6"]).assert().success();
    sim.cli().args(["phone", "add", "Ann", key_hex]).assert().success();
    let show = |key: Option<&std::path::Path>| {
        let mut cmd = sim.cli();
        if let Some(key) = key {
            cmd.arg("--key").arg(key);
        }
        let out = cmd.args(["user", "show", &ann.to_string(), "--json"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let installer = show(None);
    assert!(installer.contains("04a1b2c3d4e5f6") && installer.contains(key_hex), "{installer}");
    let tech = sim.technician_key();
    let technician = show(Some(&tech));
    assert!(!technician.contains("04a1b2c3d4e5f6"), "{technician}");
    assert!(!technician.contains(&key_hex[..16]), "{technician}");
    let doc: serde_json::Value = serde_json::from_str(&technician).unwrap();
    let seen: Vec<&str> = doc["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["fingerprint"].as_str())
        .collect();
    assert_eq!(seen.len(), 2, "{technician}");
    // The same card is recognisable again: its fingerprint is stable on this lock.
    assert_eq!(show(Some(&tech)), technician);
    sim.stop();
}
