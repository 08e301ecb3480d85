//! A host that never downgrades, end to end through a man in the middle on the pty: inside a
//! session only sealed answers count, and the lock's unauthenticated `Hello.claimed` never
//! makes the host talk in clear.

mod common;

use common::proxy::{Hooks, OnFrame, Proxy, Tamper, Verdict, frames};
use common::{Sim, json, latchkey};
use latchkey_protocol::{
    HEADER_LEN, Header, Kind, MAX_ENCODED_LEN, Request, Response, Status, decode_body, encode_frame,
};

/// Checks that the host sent nothing in clear but what may travel so: the identification,
/// the claim and the handshake.
fn assert_nothing_sent_in_clear(host_to_lock: &[u8]) {
    let sent = frames(host_to_lock);
    assert!(!sent.is_empty(), "the host sent nothing at all");
    for (header, body) in &sent {
        match header.kind {
            Kind::Request => {
                let request: Request = decode_body(body).expect("a request");
                assert!(request.travels_in_clear(), "sent in clear: {request:?}");
            }
            Kind::SealedRequest => {}
            other => panic!("the host sent a {other:?} frame"),
        }
    }
}

/// A forged answer in clear: `Success` to the sealed request in `frame`.
fn forged_success(frame: &[u8]) -> Vec<u8> {
    let (header, _) = frames(frame).pop().expect("an intact frame");
    let mut out = [0u8; MAX_ENCODED_LEN];
    let header = Header::new(Kind::Response, header.seq);
    encode_frame(header, &Response::Status(Status::Success), &mut out).unwrap().to_vec()
}

#[test]
fn a_forged_plaintext_success_inside_a_session_is_not_taken_for_the_lock_s() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let ann = sim.add_user_with_pin("Ann", "582917", &[]);
    // Hello, SessionStart, SessionConfirm, GetUser (the name for the prompt), then RemoveUser:
    // the attacker keeps that one from the lock and answers `Success` in clear, every time.
    let on_frame: OnFrame =
        Box::new(
            |n, frame| {
                if n >= 5 { Verdict::Answer(forged_success(frame)) } else { Verdict::Relay }
            },
        );
    let proxy =
        Proxy::start_with(&sim.link, Hooks { on_frame: Some(on_frame), ..Hooks::default() });
    let out = latchkey()
        .env("LATCHKEY_KEYSTORE", &sim.keystore)
        .args(["--port", proxy.path_str(), "--timeout", "500ms", "--json"])
        .args(["user", "remove", &ann.to_string(), "--yes"])
        .output()
        .unwrap();
    let (host_to_lock, _) = proxy.finish();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    let error = json(&out)["error"].clone();
    assert_eq!(error["kind"], "unconfirmed", "{error}");
    assert!(error["message"].as_str().unwrap().contains("not confirmed"), "{error}");
    // The remove was sealed, and forged against: at least five frames went out.
    assert!(frames(&host_to_lock).len() >= 5);
    // Ann is still on the lock, and her PIN still opens the door.
    let out = sim.cli().args(["--json", "user", "list"]).output().unwrap();
    assert_eq!(json(&out)[0]["name"], "Ann");
    assert!(sim.attempt("pin 582917").contains("granted"));
    sim.stop();
}

/// Rewrites the lock's `Hello` answer to say it is not claimed.
fn flip_claimed() -> Tamper {
    Box::new(|raw: &mut Vec<u8>| {
        if raw[1] != Kind::Response as u8 {
            return false;
        }
        let body = &raw[HEADER_LEN..raw.len() - 2];
        let Ok(Response::Hello(mut info)) = decode_body::<Response>(body) else { return false };
        info.claimed = false;
        let mut buf = [0u8; 512];
        let body = postcard::to_slice(&Response::Hello(info), &mut buf).unwrap().to_vec();
        raw.truncate(HEADER_LEN);
        raw.extend_from_slice(&body);
        raw.extend_from_slice(&[0, 0]);
        true
    })
}

#[test]
fn a_lock_said_to_be_unclaimed_gets_nothing_in_clear_and_the_cli_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let ann = sim.add_user_with_pin("Ann", "582917", &[]);
    let through = |proxy: &Proxy, args: &[&str], keystore: &std::path::Path| {
        latchkey()
            .env("LATCHKEY_KEYSTORE", keystore)
            .args(["--port", proxy.path_str(), "--json"])
            .args(args)
            .write_stdin("914273\n")
            .output()
            .unwrap()
    };

    // This keystore claimed the lock: it is told of tampering (or a reset), not fooled.
    let proxy =
        Proxy::start_with(&sim.link, Hooks { answers: Some(flip_claimed()), ..Hooks::default() });
    let out = through(&proxy, &["pin", "set", &ann.to_string(), "--stdin"], &sim.keystore);
    let (host_to_lock, _) = proxy.finish();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let error = json(&out)["error"].clone();
    assert_eq!(error["kind"], "claim_lost", "{error}");
    assert!(error["hint"].as_str().unwrap().contains("tampering"), "{error}");
    assert_nothing_sent_in_clear(&host_to_lock);

    // A keystore that never claimed it (a colleague's laptop): refused as not claimed,
    // still without a management request in clear.
    let elsewhere = dir.path().join("elsewhere");
    let proxy =
        Proxy::start_with(&sim.link, Hooks { answers: Some(flip_claimed()), ..Hooks::default() });
    let out = through(&proxy, &["user", "add", "Eve"], &elsewhere);
    let (host_to_lock, _) = proxy.finish();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not claimed"));
    assert_nothing_sent_in_clear(&host_to_lock);

    // The PIN is unchanged and nobody was added.
    assert!(sim.attempt("pin 582917").contains("granted"));
    let out = sim.cli().args(["--json", "user", "list"]).output().unwrap();
    assert_eq!(json(&out).as_array().unwrap().len(), 1);
    sim.stop();
}

#[test]
fn after_a_factory_reset_from_here_the_lock_is_claimed_again_without_complaint() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["factory-reset", "--yes", "--setup-code", &sim.setup_code]).assert().success();
    // Reset from here: the keystore knows, so "not claimed" is the truth, not tampering.
    let out = sim.cli().args(["user", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("latchkey claim"));
    sim.cli().args(["claim", "--setup-code", &sim.setup_code]).assert().success();
    sim.cli().args(["user", "list"]).assert().success();
    sim.stop();
}
