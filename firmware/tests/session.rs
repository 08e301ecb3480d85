//! The secure management link: claiming, sessions, roles, sealed frames and back-off, through
//! the real link, lock and store, with the host's side written from the protocol crate's
//! crypto.
// Tests may unwrap and panic; the core may not (firmware/Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    HostSession, SERIAL, ask, boot, boot_clocked, claim, claim_exchange, claim_payload, installer,
    plain, raw_frame, send_raw, session, setup_code, split_frames, test_keys,
};
use latchkey_firmware::link::session::SESSION_IDLE_MS;
use latchkey_firmware::{Link, LockKeys, Store};
use latchkey_protocol::crypto::{SecretKey, SetupCode};
use latchkey_protocol::{
    ClaimIntent, DoorLabel, Header, Kind, PROTOCOL_VERSION, Request, Response, Role, Setting,
    Status, decode_body,
};
use latchkey_sim::SimFlash;

const WRONG_CODE: &str = "ABCD-EFGH-JK02";

fn success() -> Response {
    Response::Status(Status::Success)
}

fn refused() -> Response {
    Response::Status(Status::NotAuthorized)
}

fn claimed(link: &mut Link, lock: &mut common::TestLock<'_>) -> bool {
    match ask(link, lock, 0x0F00, &Request::Hello) {
        Response::Hello(info) => info.claimed,
        other => panic!("expected hello, got {other:?}"),
    }
}

fn claim_with(link: &mut Link, lock: &mut common::TestLock<'_>, code: &str) -> Response {
    let code = SetupCode::parse(code).unwrap();
    let payload = claim_payload(&test_keys());
    claim_exchange(&mut plain(link, lock), SERIAL, ClaimIntent::Claim, &code, &payload)
}

fn reset_with(link: &mut Link, lock: &mut common::TestLock<'_>, code: &str) -> Response {
    let code = SetupCode::parse(code).unwrap();
    claim_exchange(&mut plain(link, lock), SERIAL, ClaimIntent::FactoryReset, &code, &[])
}

fn store_writes(s: &mut HostSession, link: &mut Link, lock: &mut common::TestLock<'_>) -> u32 {
    match s.ask(link, lock, &Request::GetDiagnostics) {
        Response::Diagnostics(d) => d.store_writes,
        other => panic!("expected diagnostics, got {other:?}"),
    }
}

fn label(s: &str) -> Setting {
    Setting::DoorLabel(DoorLabel::try_from(s).unwrap())
}

#[test]
fn claim_with_the_setup_code_installs_keys_durably() {
    let mut flash = SimFlash::erased();
    {
        let mut lock = boot(&mut flash);
        let mut link = Link::new();
        assert!(!claimed(&mut link, &mut lock));
        assert_eq!(claim(&mut link, &mut lock), success());
        assert!(claimed(&mut link, &mut lock));
    }
    assert_eq!(Store::mount(&mut flash).unwrap().keys().unwrap(), Some(test_keys()));
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    assert!(claimed(&mut link, &mut lock), "claimed across a reboot");
    for (role, key) in
        [(Role::Installer, test_keys().installer), (Role::Technician, test_keys().technician)]
    {
        let mut s = session(&mut link, &mut lock, role, &key).expect("the stored keys open");
        assert!(matches!(s.ask(&mut link, &mut lock, &Request::Hello), Response::Hello(_)));
    }
}

#[test]
fn a_wrong_code_is_refused_counted_and_backed_off() {
    let mut flash = SimFlash::erased();
    let (mut lock, clock) = boot_clocked(&mut flash);
    let mut link = Link::new();

    assert_eq!(claim_with(&mut link, &mut lock, WRONG_CODE), refused());
    assert_eq!(link.stats().auth_failures, 1);
    assert!(!claimed(&mut link, &mut lock));
    // The next attempt, even with the right code, waits 1 s.
    let Response::Backoff { retry_after_ms } = claim(&mut link, &mut lock) else {
        panic!("expected back-off");
    };
    assert!((900..=1000).contains(&retry_after_ms), "{retry_after_ms}");
    clock.advance(1000);

    // A second failure doubles the wait.
    assert_eq!(claim_with(&mut link, &mut lock, WRONG_CODE), refused());
    assert_eq!(link.stats().auth_failures, 2);
    let Response::Backoff { retry_after_ms } = claim(&mut link, &mut lock) else {
        panic!("expected back-off");
    };
    assert!((1900..=2000).contains(&retry_after_ms), "{retry_after_ms}");
    clock.advance(1000);
    assert!(matches!(claim(&mut link, &mut lock), Response::Backoff { .. }), "still waiting");
    clock.advance(1000);

    assert_eq!(claim(&mut link, &mut lock), success());
    assert!(claimed(&mut link, &mut lock));
    // A success resets the count: a wrong key now waits 1 s again, not 4.
    assert_eq!(
        session(&mut link, &mut lock, Role::Installer, &SecretKey([9; 32])).err(),
        Some(refused())
    );
    let mut s = match session(&mut link, &mut lock, Role::Installer, &test_keys().installer) {
        Err(Response::Backoff { retry_after_ms }) => {
            assert!((900..=1000).contains(&retry_after_ms), "{retry_after_ms}");
            clock.advance(1000);
            installer(&mut link, &mut lock)
        }
        other => panic!("expected back-off, got {:?}", other.err()),
    };
    let Response::Diagnostics(d) = s.ask(&mut link, &mut lock, &Request::GetDiagnostics) else {
        panic!("expected diagnostics");
    };
    assert_eq!(d.auth_failures, 3);
    assert_eq!(d.sealed_rejected, 0);
}

#[test]
fn the_back_off_is_capped_at_a_minute() {
    let mut flash = SimFlash::erased();
    let (mut lock, clock) = boot_clocked(&mut flash);
    let mut link = Link::new();
    let mut waits = Vec::new();
    for _ in 0..9 {
        assert_eq!(claim_with(&mut link, &mut lock, WRONG_CODE), refused());
        let Response::Backoff { retry_after_ms } = claim(&mut link, &mut lock) else {
            panic!("expected back-off");
        };
        waits.push(retry_after_ms.div_ceil(1000));
        clock.advance(u64::from(retry_after_ms));
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
}

#[test]
fn an_abandoned_claim_exchange_counts_as_a_failure_a_session_handshake_not() {
    let mut flash = SimFlash::erased();
    let (mut lock, clock) = boot_clocked(&mut flash);
    let mut link = Link::new();
    let share = |intent| {
        let verifier = common::factory_claim().verifier;
        latchkey_protocol::crypto::pake::share(&[9; 32], verifier.generator(intent))
    };
    let host_share = share(ClaimIntent::Claim);
    let start = Request::ClaimStart { intent: ClaimIntent::Claim, host_nonce: [1; 16], host_share };
    assert!(matches!(ask(&mut link, &mut lock, 1, &start), Response::ClaimChallenge { .. }));
    assert_eq!(link.stats().auth_failures, 0);
    // Starting over replaces the exchange: one failure, and this start still goes ahead.
    assert!(matches!(ask(&mut link, &mut lock, 2, &start), Response::ClaimChallenge { .. }));
    assert_eq!(link.stats().auth_failures, 1);
    assert!(matches!(ask(&mut link, &mut lock, 3, &start), Response::Backoff { .. }));
    clock.advance(1000);
    assert_eq!(claim(&mut link, &mut lock), success());

    // Session challenges give nothing to guess with: starting over is free.
    let host_public = latchkey_protocol::crypto::x25519_public(&[7; 32]);
    let start = Request::SessionStart { role: Role::Technician, host_public };
    for seq in 4..8 {
        let answer = ask(&mut link, &mut lock, seq, &start);
        assert!(matches!(answer, Response::SessionChallenge { .. }), "{answer:?}");
    }
    // A claim exchange abandoned for a session handshake does count.
    let host_share = share(ClaimIntent::FactoryReset);
    let reset =
        Request::ClaimStart { intent: ClaimIntent::FactoryReset, host_nonce: [1; 16], host_share };
    assert!(matches!(ask(&mut link, &mut lock, 8, &reset), Response::ClaimChallenge { .. }));
    assert!(matches!(ask(&mut link, &mut lock, 9, &start), Response::SessionChallenge { .. }));
    // Three in all: the claim above also abandoned the exchange begun at seq 2.
    assert_eq!(link.stats().auth_failures, 3);
    assert!(matches!(ask(&mut link, &mut lock, 10, &start), Response::Backoff { .. }));
}

#[test]
fn finishing_without_a_start_or_with_a_low_order_key_is_refused() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let finish = Request::ClaimFinish { ciphertext: heapless::Vec::new(), tag: [0; 16] };
    assert_eq!(ask(&mut link, &mut lock, 1, &finish), refused());
    let confirm = Request::SessionConfirm { host_proof: [0; 32] };
    assert_eq!(ask(&mut link, &mut lock, 2, &confirm), refused());
    // All zeros is a point of low order: it would fix the exchange's result.
    let start = Request::ClaimStart {
        intent: ClaimIntent::Claim,
        host_nonce: [0; 16],
        host_share: [0; 32],
    };
    assert_eq!(ask(&mut link, &mut lock, 3, &start), Response::Status(Status::InvalidField));
    assert_eq!(link.stats().auth_failures, 0, "none of these guessed anything");
}

#[test]
fn a_claimed_lock_cannot_be_claimed_again() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    assert_eq!(claim(&mut link, &mut lock), success());
    assert_eq!(claim(&mut link, &mut lock), Response::Status(Status::Occupied));
    assert_eq!(Store::mount(&mut flash).unwrap().keys().unwrap(), Some(test_keys()));
}

#[test]
fn plaintext_management_is_refused_claimed_or_not() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let management = [
        Request::GetTime,
        Request::SetTime { unix_seconds: 1_900_000_000 },
        Request::GetBattery,
        Request::GetSettings,
        Request::SetSetting(Setting::WrongCodeLimit(3)),
        Request::GetDiagnostics,
        Request::RotateKeys { installer_key: [1; 32], technician_key: [2; 32] },
        Request::EndSession,
    ];
    for request in &management {
        assert_eq!(ask(&mut link, &mut lock, 1, request), refused(), "unclaimed: {request:?}");
    }
    let start = Request::SessionStart { role: Role::Installer, host_public: [0; 32] };
    assert_eq!(ask(&mut link, &mut lock, 2, &start), refused(), "nothing to open one with");

    // Claimed, and even while a session is open: no plaintext fallback.
    let _session = installer(&mut link, &mut lock);
    for request in &management {
        assert_eq!(ask(&mut link, &mut lock, 3, request), refused(), "claimed: {request:?}");
    }
    assert_eq!(
        ask(&mut link, &mut lock, 4, &Request::Ping { nonce: 4 }),
        Response::Pong { nonce: 4 }
    );
    assert!(matches!(ask(&mut link, &mut lock, 5, &Request::Hello), Response::Hello(_)));
    assert_eq!(lock.settings().wrong_code_limit, 5, "nothing changed");
}

#[test]
fn an_installer_session_can_change_settings() {
    let mut flash = SimFlash::erased();
    {
        let mut lock = boot(&mut flash);
        let mut link = Link::new();
        let mut s = installer(&mut link, &mut lock);
        let Response::Settings(settings) =
            s.ask(&mut link, &mut lock, &Request::SetSetting(label("Vault")))
        else {
            panic!("expected settings");
        };
        assert_eq!(settings.door_label.as_str(), "Vault");
        assert!(matches!(
            s.ask(&mut link, &mut lock, &Request::SetTime { unix_seconds: 1_900_000_000 }),
            Response::Time(t) if t.is_set
        ));
        assert_eq!(link.session_role(), Some(Role::Installer));
    }
    assert_eq!(boot(&mut flash).settings().door_label.as_str(), "Vault");
}

#[test]
fn a_technician_session_is_read_only() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    assert_eq!(claim(&mut link, &mut lock), success());
    let mut t = session(&mut link, &mut lock, Role::Technician, &test_keys().technician).unwrap();
    assert!(matches!(t.ask(&mut link, &mut lock, &Request::GetSettings), Response::Settings(_)));
    assert!(matches!(
        t.ask(&mut link, &mut lock, &Request::GetDiagnostics),
        Response::Diagnostics(_)
    ));
    assert!(matches!(t.ask(&mut link, &mut lock, &Request::GetBattery), Response::Battery(_)));
    assert!(matches!(t.ask(&mut link, &mut lock, &Request::GetTime), Response::Time(_)));
    for request in [
        Request::SetSetting(label("Mine now")),
        Request::SetTime { unix_seconds: 1_900_000_000 },
        Request::RotateKeys { installer_key: [1; 32], technician_key: [2; 32] },
    ] {
        assert_eq!(t.ask(&mut link, &mut lock, &request), refused(), "{request:?}");
    }
    // Handshakes inside a session are malformed, whoever sends them.
    let start = Request::SessionStart { role: Role::Installer, host_public: [0; 32] };
    assert_eq!(t.ask(&mut link, &mut lock, &start), Response::Status(Status::InvalidField));
    assert_eq!(lock.settings().door_label.as_str(), "Door");
    // The technician's key opens no installer session.
    assert_eq!(
        session(&mut link, &mut lock, Role::Installer, &test_keys().technician).err(),
        Some(refused())
    );
}

#[test]
fn a_flipped_bit_is_dropped_counted_and_the_session_goes_on() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    let seq = s.next_seq();
    let genuine = s.seal(seq, &Request::SetSetting(label("Tampered?")));
    let (header, body) = split_frames(&genuine).remove(0);
    for bit in [0, 37, body.len() * 8 - 1] {
        // An attacker flips a bit and fixes the CRC: the link layer passes it, the seal does not.
        let mut forged = body.clone();
        forged[bit / 8] ^= 1 << (bit % 8);
        let wire = raw_frame(header.version, header.kind as u8, header.seq, &forged);
        assert!(send_raw(&mut link, &mut lock, &wire).is_empty(), "no answer to a forgery");
    }
    assert_eq!(link.stats().sealed_rejected, 3);
    assert_eq!(lock.settings().door_label.as_str(), "Door");
    // The genuine frame still works, and so does the next.
    let answer = split_frames(&send_raw(&mut link, &mut lock, &genuine));
    assert_eq!(answer.len(), 1);
    assert!(matches!(s.unseal(&answer[0].0, &answer[0].1), Response::Settings(_)));
    assert!(
        matches!(s.ask(&mut link, &mut lock, &Request::GetSettings), Response::Settings(x) if x.door_label.as_str() == "Tampered?")
    );
}

#[test]
fn a_replayed_frame_has_no_effect() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    let first_seq = s.next_seq();
    let first = s.seal(first_seq, &Request::SetSetting(label("First")));
    assert_eq!(split_frames(&send_raw(&mut link, &mut lock, &first)).len(), 1);
    s.ask(&mut link, &mut lock, &Request::SetSetting(label("Second")));
    let before = link.stats().sealed_rejected;
    assert!(send_raw(&mut link, &mut lock, &first).is_empty(), "a replay is not answered");
    assert_eq!(link.stats().sealed_rejected, before + 1);
    assert_eq!(lock.settings().door_label.as_str(), "Second");
}

#[test]
fn an_exact_resend_gets_the_cached_answer_without_running_again() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    let writes = store_writes(&mut s, &mut link, &mut lock);
    let seq = s.next_seq();
    let request = s.seal(seq, &Request::SetSetting(label("Once")));
    let answer = send_raw(&mut link, &mut lock, &request);
    // The host's answer was lost on the line; it sends the very same bytes again.
    let again = send_raw(&mut link, &mut lock, &request);
    assert_eq!(again, answer, "byte for byte the cached answer (a new one has a new counter)");
    assert_eq!(link.stats().sealed_rejected, 0, "a resend is not an attack");
    let frames = split_frames(&again);
    assert!(matches!(s.unseal(&frames[0].0, &frames[0].1), Response::Settings(_)));
    assert_eq!(store_writes(&mut s, &mut link, &mut lock), writes + 1, "written once");
}

#[test]
fn an_undecodable_sealed_body_is_answered_bad_frame_sealed() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    // A genuine seal around bytes that are no request: the answer is sealed too.
    let seq = s.next_seq();
    let wire = s.seal(seq, &(200u8, 1u8));
    let frames = split_frames(&send_raw(&mut link, &mut lock, &wire));
    assert_eq!(frames[0].0.kind, Kind::SealedResponse);
    assert_eq!(s.unseal(&frames[0].0, &frames[0].1), Response::Status(Status::BadFrame));
}

#[test]
fn an_idle_session_expires_and_is_answered_in_plaintext() {
    let mut flash = SimFlash::erased();
    let (mut lock, clock) = boot_clocked(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    clock.advance(SESSION_IDLE_MS - 1_000);
    assert!(matches!(s.ask(&mut link, &mut lock, &Request::GetSettings), Response::Settings(_)));
    clock.advance(SESSION_IDLE_MS - 1_000);
    assert!(
        matches!(s.ask(&mut link, &mut lock, &Request::GetSettings), Response::Settings(_)),
        "activity keeps it open"
    );
    clock.advance(SESSION_IDLE_MS + 1);
    let seq = s.next_seq();
    let wire = s.seal(seq, &Request::GetSettings);
    let answer = common::exchange(&mut link, &mut lock, &wire);
    assert_eq!(answer, vec![(Header::new(Kind::Response, seq), refused())]);
    assert_eq!(link.session_role(), None);
    // A sealed frame with no session at all gets the same.
    let stray = raw_frame(PROTOCOL_VERSION, Kind::SealedRequest as u8, 9, &[0; 40]);
    assert_eq!(
        common::exchange(&mut link, &mut lock, &stray),
        vec![(Header::new(Kind::Response, 9), refused())]
    );
    // And a new handshake works.
    let mut s = installer(&mut link, &mut lock);
    assert!(matches!(s.ask(&mut link, &mut lock, &Request::GetSettings), Response::Settings(_)));
}

#[test]
fn end_session_answers_then_closes() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    assert_eq!(s.ask(&mut link, &mut lock, &Request::EndSession), success());
    assert_eq!(link.session_role(), None);
    assert_eq!(s.ask(&mut link, &mut lock, &Request::GetSettings), refused());
}

#[test]
fn a_new_handshake_closes_the_open_session() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let mut first = installer(&mut link, &mut lock);
    let mut second =
        session(&mut link, &mut lock, Role::Technician, &test_keys().technician).unwrap();
    // The first session's keys are gone: its frames are as good as forged, and unanswered.
    let seq = first.next_seq();
    let stale = first.seal(seq, &Request::GetSettings);
    assert!(send_raw(&mut link, &mut lock, &stale).is_empty());
    assert_eq!(link.stats().sealed_rejected, 1);
    assert!(matches!(
        second.ask(&mut link, &mut lock, &Request::GetSettings),
        Response::Settings(_)
    ));
}

#[test]
fn rotated_keys_replace_the_old_ones() {
    let mut flash = SimFlash::erased();
    let new = LockKeys { installer: SecretKey([0x33; 32]), technician: SecretKey([0x44; 32]) };
    {
        let mut lock = boot(&mut flash);
        let mut link = Link::new();
        let mut s = installer(&mut link, &mut lock);
        let rotate = Request::RotateKeys {
            installer_key: new.installer.0,
            technician_key: new.technician.0,
        };
        assert_eq!(s.ask(&mut link, &mut lock, &rotate), success());
        // The session goes on under the keys it was opened with.
        assert!(matches!(
            s.ask(&mut link, &mut lock, &Request::GetSettings),
            Response::Settings(_)
        ));
    }
    let (mut lock, clock) = boot_clocked(&mut flash);
    let mut link = Link::new();
    assert_eq!(
        session(&mut link, &mut lock, Role::Installer, &test_keys().installer).err(),
        Some(refused()),
        "the old key opens nothing"
    );
    clock.advance(1000); // that was a failed authentication: wait out its back-off
    assert!(session(&mut link, &mut lock, Role::Installer, &new.installer).is_ok());
    assert!(session(&mut link, &mut lock, Role::Technician, &new.technician).is_ok());
}

#[test]
fn factory_reset_needs_the_code_and_keeps_the_settings() {
    let mut flash = SimFlash::erased();
    let (mut lock, clock) = boot_clocked(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    s.ask(&mut link, &mut lock, &Request::SetSetting(label("Kept")));

    assert_eq!(reset_with(&mut link, &mut lock, WRONG_CODE), refused());
    assert!(claimed(&mut link, &mut lock), "a wrong code resets nothing");
    assert!(
        matches!(s.ask(&mut link, &mut lock, &Request::GetSettings), Response::Settings(_)),
        "nor ends the session"
    );

    clock.advance(1000);
    assert_eq!(reset_with(&mut link, &mut lock, common::SETUP_CODE), success());
    assert!(!claimed(&mut link, &mut lock));
    assert_eq!(s.ask(&mut link, &mut lock, &Request::GetSettings), refused(), "the session ended");
    assert_eq!(ask(&mut link, &mut lock, 1, &Request::GetSettings), refused());
    drop(lock);
    {
        let mut store = Store::mount(&mut flash).unwrap();
        assert_eq!(store.keys().unwrap(), None, "keys gone");
        assert_eq!(store.settings().unwrap().door_label.as_str(), "Kept", "settings stay");
    }

    // Factory-new again: it can be claimed, and reset again (a no-op) while unclaimed.
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    assert_eq!(reset_with(&mut link, &mut lock, common::SETUP_CODE), success());
    assert_eq!(claim(&mut link, &mut lock), success());
    assert_eq!(setup_code(), SetupCode::parse(common::SETUP_CODE).unwrap());
}

#[test]
fn answers_decode_as_their_kind() {
    // A sealed answer's frame is a SealedResponse with the request's seq; its body is not
    // plaintext postcard.
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let mut s = installer(&mut link, &mut lock);
    let seq = s.next_seq();
    let wire = s.seal(seq, &Request::Ping { nonce: 0xABCD });
    let frames = split_frames(&send_raw(&mut link, &mut lock, &wire));
    assert_eq!(frames[0].0, Header::new(Kind::SealedResponse, seq));
    assert_ne!(decode_body::<Response>(&frames[0].1), Ok(Response::Pong { nonce: 0xABCD }));
    assert_eq!(s.unseal(&frames[0].0, &frames[0].1), Response::Pong { nonce: 0xABCD });
}
