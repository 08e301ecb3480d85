//! The client against a scripted lock in memory ([`super::fake`]): sequence matching, stale
//! answers, resends, session reopening, the handshake's retries and event queueing.

use std::time::Duration;

use latchkey_protocol::{Event, FrameAccumulator, Request, Role};

use super::client::request_name;
use super::fake::{FakeLock, Reaction, SERIAL, lock_key};
use super::{Client, ClientError, LinkOptions};

fn options() -> LinkOptions {
    LinkOptions { timeout: Duration::from_secs(3), attempts: 3, baud: 0 }
}

fn client(lock: FakeLock) -> Client<FakeLock> {
    Client::with_transport(lock, "fake-lock", options())
}

fn open_session(client: &mut Client<FakeLock>) {
    assert_eq!(client.open_session(Role::Installer, SERIAL, &[lock_key()]).unwrap(), 0);
}

/// `reaction` for the first request named `name`; every other frame is answered.
fn on_first(name: &'static str, reaction: Reaction) -> impl FnMut(&Request) -> Reaction {
    let mut done = false;
    move |request| {
        if !done && request_name(request) == name {
            done = true;
            reaction
        } else {
            Reaction::Answer
        }
    }
}

/// The sequence number of a frame as the client wrote it.
fn seq_of(write: &[u8]) -> u16 {
    let mut accumulator = FrameAccumulator::new();
    write
        .iter()
        .find_map(|&b| accumulator.push(b).and_then(Result::ok).map(|frame| frame.header.seq))
        .expect("a whole frame")
}

// ---- sequence matching ----------------------------------------------------------------------

#[test]
fn a_late_answer_to_an_earlier_request_is_counted_stale_and_ignored() {
    let lock = FakeLock::new().script(on_first("Ping", Reaction::Late));
    let mut client =
        Client::with_transport(lock, "fake-lock", LinkOptions { attempts: 1, ..options() });
    assert!(matches!(client.ping(1), Err(ClientError::Timeout { attempts: 1, .. })));
    // The answer to ping 1 arrives now, before the answer to ping 2: it must not be taken.
    assert_eq!(client.ping(2).unwrap(), 2);
    assert_eq!(client.stats().stale, 1);
}

#[test]
fn a_late_sealed_answer_to_an_earlier_request_is_counted_stale_and_ignored() {
    let lock = FakeLock::new().script(on_first("Ping", Reaction::Late));
    let mut client =
        Client::with_transport(lock, "fake-lock", LinkOptions { attempts: 1, ..options() });
    open_session(&mut client);
    assert!(matches!(client.ping(1), Err(ClientError::Timeout { .. })));
    assert_eq!(client.ping(2).unwrap(), 2);
    assert_eq!(client.stats().stale, 1);
    assert_eq!(client.transport_mut().carried_out_named("Ping"), 2);
}

#[test]
fn a_request_that_needs_a_session_is_not_sent_without_one() {
    let mut client = client(FakeLock::new());
    assert!(matches!(client.checksum(), Err(ClientError::NeedsSession { request: "GetChecksum" })));
    assert_eq!(client.stats().sent, 0);
    assert_eq!(client.transport_mut().carried_out_named("GetChecksum"), 0);
    // What may travel in clear still does.
    assert_eq!(client.ping(7).unwrap(), 7);
}

// ---- resends --------------------------------------------------------------------------------

#[test]
fn a_resend_after_a_timeout_is_byte_identical_to_the_first_send() {
    let lock = FakeLock::new().script(on_first("GetChecksum", Reaction::LoseAnswer));
    let mut client = client(lock);
    open_session(&mut client);
    let (users, credentials, _) = client.checksum().unwrap();
    assert_eq!((users, credentials), (1, 2));
    assert_eq!(client.stats().resent, 1);
    let lock = client.transport_mut();
    // SessionStart, SessionConfirm, then GetChecksum twice: the same seq, the same seal
    // counter, the same bytes.
    assert_eq!(lock.writes.len(), 4);
    assert_eq!(lock.writes[2], lock.writes[3]);
    // So the lock knew it for a resend and answered from its cache, doing it once.
    assert_eq!(lock.carried_out_named("GetChecksum"), 1);
}

#[test]
fn a_resend_of_a_plain_request_is_byte_identical_too() {
    let lock = FakeLock::new().script(on_first("Ping", Reaction::LoseFrame));
    let mut client = client(lock);
    assert_eq!(client.ping(9).unwrap(), 9);
    let lock = client.transport_mut();
    assert_eq!(lock.writes.len(), 2);
    assert_eq!(lock.writes[0], lock.writes[1]);
}

#[test]
fn a_sealed_request_that_is_not_idempotent_goes_again_as_its_identical_frame_and_is_done_once() {
    let lock = FakeLock::new().script(on_first("ClearLog", Reaction::LoseAnswer));
    let mut client = client(lock);
    open_session(&mut client);
    client.clear_log().unwrap();
    let lock = client.transport_mut();
    assert_eq!(lock.seen_named("ClearLog"), 2);
    // The second copy was answered from the lock's exact-resend cache.
    assert_eq!(lock.carried_out_named("ClearLog"), 1);
}

#[test]
fn a_plain_request_that_is_not_idempotent_is_sent_once_and_times_out() {
    let lock = FakeLock::new().script(on_first("ClaimStart", Reaction::LoseAnswer));
    let mut client = client(lock);
    let request = Request::ClaimStart {
        intent: latchkey_protocol::ClaimIntent::Claim,
        host_nonce: [1; 16],
        host_share: [2; 32],
    };
    assert!(matches!(client.request(&request), Err(ClientError::Timeout { attempts: 1, .. })));
    assert_eq!(client.transport_mut().seen_named("ClaimStart"), 1);
}

// ---- a session the lock dropped -------------------------------------------------------------

#[test]
fn a_plain_not_authorized_to_a_sealed_idempotent_request_reopens_the_session_and_sends_it_once_more()
 {
    for reaction in [Reaction::ExpireSessionFirst, Reaction::RestartFirst { booted_event: true }] {
        let lock = FakeLock::new().script(on_first("GetChecksum", reaction));
        let mut client = client(lock);
        open_session(&mut client);
        assert!(client.checksum().is_ok(), "{reaction:?}");
        let lock = client.transport_mut();
        assert_eq!(lock.seen_named("SessionStart"), 2, "{reaction:?}");
        assert_eq!(lock.seen_named("GetChecksum"), 2, "{reaction:?}");
        assert_eq!(lock.carried_out_named("GetChecksum"), 1, "{reaction:?}");
    }
}

#[test]
fn a_plain_not_authorized_to_a_sealed_non_idempotent_request_is_reported_as_not_carried_out() {
    let lock = FakeLock::new().script(on_first("ClearLog", Reaction::ExpireSessionFirst));
    let mut client = client(lock);
    open_session(&mut client);
    let error = client.clear_log().unwrap_err();
    assert!(matches!(error, ClientError::NotCarriedOut { request: "ClearLog" }), "{error:?}");
    assert!(error.to_string().contains("did not carry out"), "{error}");
    let lock = client.transport_mut();
    assert_eq!(lock.seen_named("ClearLog"), 1);
    assert_eq!(lock.carried_out_named("ClearLog"), 0);
    // A new session is open for what comes next: no further handshake is needed.
    assert_eq!(lock.seen_named("SessionStart"), 2);
    client.checksum().unwrap();
    assert_eq!(client.transport_mut().seen_named("SessionStart"), 2);
}

// ---- the handshake --------------------------------------------------------------------------

#[test]
fn a_lost_session_start_is_sent_again_under_a_new_sequence_number() {
    let lock = FakeLock::new().script(on_first("SessionStart", Reaction::LoseAnswer));
    let mut client = client(lock);
    open_session(&mut client);
    let lock = client.transport_mut();
    assert_eq!(lock.seen_named("SessionStart"), 2);
    assert_ne!(seq_of(&lock.writes[0]), seq_of(&lock.writes[1]));
    assert_eq!(lock.carried_out_named("SessionConfirm"), 1);
}

#[test]
fn a_late_challenge_to_an_earlier_session_start_is_stale_and_never_confirmed() {
    // The lock answers both starts; the second challenge replaced the first on the lock, so
    // confirming against the first would fail (and count as a failed authentication).
    let lock = FakeLock::new().script(on_first("SessionStart", Reaction::Late));
    let mut client = client(lock);
    open_session(&mut client);
    assert_eq!(client.stats().stale, 1);
    assert_eq!(client.transport_mut().carried_out_named("SessionConfirm"), 1);
    client.checksum().unwrap();
}

#[test]
fn a_lost_session_confirm_is_sent_again_as_it_was() {
    let lock = FakeLock::new().script(on_first("SessionConfirm", Reaction::LoseFrame));
    let mut client = client(lock);
    open_session(&mut client);
    let lock = client.transport_mut();
    assert_eq!(lock.writes.len(), 3);
    assert_eq!(lock.writes[1], lock.writes[2]);
    client.checksum().unwrap();
}

#[test]
fn a_lost_answer_to_a_session_confirm_that_opened_the_session_starts_the_handshake_over() {
    // The resent confirm finds no pending handshake (the first one used it): the client
    // cannot know the session is open, so it starts over.
    let lock = FakeLock::new().script(on_first("SessionConfirm", Reaction::LoseAnswer));
    let mut client = client(lock);
    open_session(&mut client);
    let lock = client.transport_mut();
    assert_eq!(lock.seen_named("SessionStart"), 2);
    assert_eq!(lock.seen_named("SessionConfirm"), 3);
    client.checksum().unwrap();
}

#[test]
fn a_lock_that_restarts_during_the_handshake_is_a_link_error_not_a_refusal() {
    for booted_event in [true, false] {
        let reaction = Reaction::RestartFirst { booted_event };
        let lock = FakeLock::new().script(on_first("SessionConfirm", reaction));
        let mut client = client(lock);
        let error = client.open_session(Role::Installer, SERIAL, &[lock_key()]).unwrap_err();
        assert!(matches!(error, ClientError::LockRestarted), "{booted_event}: {error:?}");
        assert_eq!(client.session_role(), None);
    }
}

#[test]
fn a_lock_holding_another_key_is_told_by_its_proof_before_the_host_proves_anything() {
    let mut client = client(FakeLock::new());
    let other = latchkey_protocol::crypto::SecretKey([0x17; 32]);
    assert_eq!(client.open_session(Role::Installer, SERIAL, &[other, lock_key()]).unwrap(), 1);
    assert_eq!(client.transport_mut().seen_named("SessionConfirm"), 1);
}

// ---- events ---------------------------------------------------------------------------------

#[test]
fn events_arriving_between_requests_are_queued_and_returned_by_next_event_in_order() {
    let mut client = client(FakeLock::new());
    open_session(&mut client);
    let lock = client.transport_mut();
    lock.emit(&Event::ClockSet { unix_seconds: 1 });
    lock.emit(&Event::Booted { boot_count: 9 });
    lock.emit(&Event::ClockSet { unix_seconds: 2 });
    // They reach the client while it waits for this answer.
    assert_eq!(client.ping(7).unwrap(), 7);
    client.transport_mut().emit(&Event::ClockSet { unix_seconds: 3 });
    let mut events = Vec::new();
    while let Some((_, event)) = client.next_event(Duration::from_secs(1)).unwrap() {
        events.push(event);
    }
    assert_eq!(
        events,
        [
            Event::ClockSet { unix_seconds: 1 },
            Event::Booted { boot_count: 9 },
            Event::ClockSet { unix_seconds: 2 },
            Event::ClockSet { unix_seconds: 3 },
        ]
    );
}

// ---- a real pseudo-terminal -----------------------------------------------------------------

#[test]
fn another_program_reading_the_port_makes_a_request_time_out_instead_of_hanging() {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, mpsc};

    use serialport::{SerialPort, TTYPort};

    let (mut lock_end, port) = TTYPort::pair().unwrap();
    let name = port.name().unwrap();
    // The other program (`cat` on the port): it takes bytes meant for the client.
    let mut thief = std::fs::File::open(&name).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while thief.read(&mut buf).is_ok_and(|n| n > 0) {}
    });
    // The lock answers every write with a frame (an event), which the client might read
    // first, so it gets bytes now and then, but never its answer.
    let done = Arc::new(AtomicBool::new(false));
    let stop = done.clone();
    let lock = std::thread::spawn(move || {
        lock_end.set_timeout(Duration::from_millis(20)).unwrap();
        let mut buf = [0u8; 256];
        let mut event = [0u8; latchkey_protocol::MAX_ENCODED_LEN];
        let header = latchkey_protocol::Header::new(latchkey_protocol::Kind::Event, 1);
        let event = latchkey_protocol::encode_frame(
            header,
            &Event::ClockSet { unix_seconds: 1 },
            &mut event,
        )
        .unwrap()
        .to_vec();
        while !stop.load(Ordering::SeqCst) {
            if lock_end.read(&mut buf).is_ok_and(|n| n > 0) {
                for _ in 0..20 {
                    let _ = lock_end.write_all(&event);
                }
            }
        }
    });
    let (answer, result) = mpsc::channel();
    std::thread::spawn(move || {
        let options = LinkOptions { timeout: Duration::from_millis(300), ..options() };
        let mut client = Client::with_transport(port, name, options);
        let _ = answer.send(client.ping(1).map(|_| ()));
    });
    // Only a guard against hanging the test suite; the client's bound is its 300 ms.
    let result = result.recv_timeout(Duration::from_secs(60));
    done.store(true, Ordering::SeqCst);
    lock.join().unwrap();
    let result = result.expect("the client still waits, past its timeout");
    assert!(matches!(result, Err(ClientError::Timeout { attempts: 3, .. })), "{result:?}");
}

// ---- pipelining -------------------------------------------------------------------------------

fn pings(n: u32) -> Vec<Request> {
    (1..=n).map(|nonce| Request::Ping { nonce }).collect()
}

fn pongs(answers: Vec<Result<latchkey_protocol::Response, ClientError>>) -> Vec<u32> {
    answers
        .into_iter()
        .map(|a| match a {
            Ok(latchkey_protocol::Response::Pong { nonce }) => nonce,
            other => panic!("not a pong: {other:?}"),
        })
        .collect()
}

fn pings_carried_out(lock: &FakeLock, nonce: u32) -> usize {
    lock.carried_out.iter().filter(|r| **r == Request::Ping { nonce }).count()
}

/// `reaction` for the ping carrying `nonce`, the first time it reaches the lock.
fn on_ping(nonce: u32, reaction: Reaction) -> impl FnMut(&Request) -> Reaction {
    let mut done = false;
    move |request| {
        if !done && *request == (Request::Ping { nonce }) {
            done = true;
            reaction
        } else {
            Reaction::Answer
        }
    }
}

#[test]
fn a_pipeline_sends_a_window_before_reading_and_answers_in_the_order_asked() {
    let mut client = client(FakeLock::new());
    open_session(&mut client);
    client.set_window(4);
    let before = client.transport_mut().writes.len();
    let answers = client.pipeline(&pings(10)).unwrap();
    assert_eq!(pongs(answers), (1..=10).collect::<Vec<_>>());
    // One frame a write, no resend: the lock took every counter in order.
    assert_eq!(client.transport_mut().writes.len() - before, 10);
    assert_eq!(client.stats().resent, 0);
    for nonce in 1..=10 {
        assert_eq!(pings_carried_out(client.transport_mut(), nonce), 1);
    }
}

#[test]
fn a_frame_lost_inside_a_pipeline_is_sealed_again_and_carried_out_once() {
    let mut client = client(FakeLock::new().script(on_ping(3, Reaction::LoseFrame)));
    open_session(&mut client);
    client.set_window(4);
    let answers = client.pipeline(&pings(8)).unwrap();
    assert_eq!(pongs(answers), (1..=8).collect::<Vec<_>>());
    assert_eq!(pings_carried_out(client.transport_mut(), 3), 1);
    assert_eq!(client.stats().resent, 1);
}

#[test]
fn an_answer_lost_inside_a_pipeline_is_asked_again_and_the_idempotent_request_converges() {
    let mut client = client(FakeLock::new().script(on_ping(2, Reaction::LoseAnswer)));
    open_session(&mut client);
    client.set_window(4);
    let answers = client.pipeline(&pings(6)).unwrap();
    assert_eq!(pongs(answers), (1..=6).collect::<Vec<_>>());
    assert_eq!(client.stats().resent, 1);
}

#[test]
fn the_last_answer_of_a_pipeline_lost_is_recovered_by_an_identical_resend_from_the_cache() {
    let mut client = client(FakeLock::new().script(on_ping(5, Reaction::LoseAnswer)));
    open_session(&mut client);
    client.set_window(8);
    let answers = client.pipeline(&pings(5)).unwrap();
    assert_eq!(pongs(answers), (1..=5).collect::<Vec<_>>());
    let lock = client.transport_mut();
    // Carried out once: the resend was the very same frame, answered from the lock's cache.
    assert_eq!(pings_carried_out(lock, 5), 1);
    let n = lock.writes.len();
    assert_eq!(lock.writes[n - 1], lock.writes[n - 2]);
}

#[test]
fn a_session_lost_inside_a_pipeline_is_reopened_and_the_rest_sent_again() {
    let mut client = client(FakeLock::new().script(on_ping(4, Reaction::ExpireSessionFirst)));
    open_session(&mut client);
    client.set_window(4);
    let answers = client.pipeline(&pings(9)).unwrap();
    assert_eq!(pongs(answers), (1..=9).collect::<Vec<_>>());
    for nonce in 1..=9 {
        assert_eq!(pings_carried_out(client.transport_mut(), nonce), 1, "ping {nonce}");
    }
}

#[test]
fn a_refusal_inside_a_pipeline_is_that_request_s_error_and_the_others_go_on() {
    let mut client = client(FakeLock::new());
    open_session(&mut client);
    client.set_window(4);
    let answers = client
        .pipeline(&[
            Request::Ping { nonce: 1 },
            Request::RemovePin { user: 7 },
            Request::Ping { nonce: 2 },
        ])
        .unwrap();
    assert!(answers[0].is_ok() && answers[2].is_ok(), "{answers:?}");
    assert!(
        matches!(&answers[1], Err(ClientError::Refused(r)) if r.status == latchkey_protocol::Status::NotFound),
        "{answers:?}"
    );
}
