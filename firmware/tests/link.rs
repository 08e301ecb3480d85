//! The link layer: resynchronisation, drop counters and the answers to bad frames.
// Tests may unwrap and panic; the core may not (firmware/Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{boot, exchange, frame, raw_frame, raw_frame_crc_xor, request_frame, split_frames};
use latchkey_firmware::{Link, LinkStats};
use latchkey_protocol::{
    Event, Header, Kind, MAX_ENCODED_LEN, PROTOCOL_VERSION, Request, Response, Status, decode_body,
};
use latchkey_sim::SimFlash;

/// The counters `Diagnostics` reports (which needs a session to read; the link's are the same).
fn diagnostics(link: &mut Link, _lock: &mut common::TestLock<'_>) -> LinkStats {
    *link.stats()
}

#[test]
fn garbage_then_a_request_is_answered_and_drops_are_counted() {
    let seed = 0x1A7C_4E11;
    println!("seed {seed:#x}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();

    let mut garbage: Vec<u8> = (0..1024).map(|_| rng.u8(..)).collect();
    // Plus one of each kind of damage, so every counter is exercised.
    garbage.extend_from_slice(&[0x00; 2]);
    garbage.extend(std::iter::repeat_n(0x55, MAX_ENCODED_LEN + 5)); // too long
    garbage.push(0);
    garbage.extend_from_slice(&[0x02, 0x01, 0x00]); // too short
    garbage.extend(raw_frame_crc_xor(1, 0, 9, &[0], 0x0100)); // one bit of line noise

    let mut stream = garbage;
    stream.push(0); // the leading delimiter a host sends to flush the receiver
    stream.extend_from_slice(&request_frame(7, &Request::Ping { nonce: 99 }));
    let answers = exchange(&mut link, &mut lock, &stream);
    // Random bytes may happen to form frames that answer; the ping must be the last answer.
    let last = answers.last().expect("the ping is answered");
    assert_eq!(last, &(Header::new(Kind::Response, 7), Response::Pong { nonce: 99 }));

    let d = diagnostics(&mut link, &mut lock);
    assert!(d.dropped_too_long >= 1, "{d:?}");
    assert!(d.dropped_malformed >= 1, "{d:?}");
    assert!(d.dropped_bad_crc >= 1, "{d:?}");
}

#[test]
fn another_protocol_version_is_answered_unsupported() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    // A frame of the next version whose body would not even decode as a request of ours.
    let newer = PROTOCOL_VERSION + 1;
    let answers = exchange(&mut link, &mut lock, &raw_frame(newer, 0, 0x1234, &[0xEE, 0xFF]));
    assert_eq!(
        answers,
        vec![(Header::new(Kind::Response, 0x1234), Response::Status(Status::Unsupported))]
    );
    assert_eq!(diagnostics(&mut link, &mut lock).wrong_version, 1);
}

#[test]
fn an_undecodable_body_is_answered_bad_frame() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    // Variant index 200 is no request.
    let answers = exchange(&mut link, &mut lock, &raw_frame(PROTOCOL_VERSION, 0, 77, &[200, 1]));
    assert_eq!(
        answers,
        vec![(Header::new(Kind::Response, 77), Response::Status(Status::BadFrame))]
    );
    let d = diagnostics(&mut link, &mut lock);
    assert_eq!((d.dropped_undecodable, d.frames_received), (1, 1));
}

#[test]
fn responses_and_events_from_the_line_are_ignored() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let mut stream = frame(Header::new(Kind::Response, 1), &Response::Pong { nonce: 1 });
    stream.extend(frame(Header::new(Kind::Event, 2), &Event::Booted { boot_count: 1 }));
    assert!(exchange(&mut link, &mut lock, &stream).is_empty());
    // A bad kind byte with a good CRC is malformed.
    assert!(exchange(&mut link, &mut lock, &raw_frame(PROTOCOL_VERSION, 9, 3, &[0])).is_empty());
    assert_eq!(diagnostics(&mut link, &mut lock).dropped_malformed, 1);
}

#[test]
fn pipelined_requests_are_answered_in_order_one_frame_each() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let mut stream = Vec::new();
    for seq in 0..8u16 {
        stream.extend(request_frame(seq, &Request::Ping { nonce: u32::from(seq) * 3 }));
    }
    // Byte by byte, as a slow line delivers them.
    let mut answers = Vec::new();
    for b in stream {
        answers.extend(exchange(&mut link, &mut lock, &[b]));
    }
    let expected: Vec<_> = (0..8u16)
        .map(|seq| (Header::new(Kind::Response, seq), Response::Pong { nonce: u32::from(seq) * 3 }))
        .collect();
    assert_eq!(answers, expected);
}

#[test]
fn booted_event_is_an_event_frame() {
    let mut flash = SimFlash::erased();
    let lock = boot(&mut flash);
    let mut link = Link::new();
    let mut out = Vec::new();
    link.send_event(&Event::Booted { boot_count: lock.boot_count() }, &mut |f: &[u8]| {
        out.extend_from_slice(f)
    });
    let frames = split_frames(&out);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].0, Header::new(Kind::Event, 0));
    assert_eq!(decode_body::<Event>(&frames[0].1), Ok(Event::Booted { boot_count: 1 }));
    assert_eq!(link.stats().frames_sent, 1);
}
