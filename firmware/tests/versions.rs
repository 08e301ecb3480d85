//! A peer of another protocol version gets an answer it can read whatever its version: a frame
//! of the lock's own version whose header says which version the lock speaks, and whose body
//! is `Status(Unsupported)` encoded the same in every version (`00 09`).
// Tests may unwrap and panic; the core may not (firmware/Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{boot, raw_frame, send_raw, split_frames};
use latchkey_firmware::Link;
use latchkey_protocol::{Kind, PROTOCOL_VERSION, Request, Response, Status, decode_body};
use latchkey_sim::SimFlash;

/// `Hello` as protocol version 1 wrote it (golden vector `req_hello` of version 1).
const V1_HELLO: [u8; 9] = [0x02, 0x01, 0x02, 0x01, 0x01, 0x03, 0xef, 0x9e, 0x00];

#[test]
fn an_older_host_learns_which_version_the_lock_speaks() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    let answer = split_frames(&send_raw(&mut link, &mut lock, &V1_HELLO));
    assert_eq!(answer.len(), 1, "answered, not left to time out");
    let (header, body) = &answer[0];
    assert_eq!((header.version, header.kind, header.seq), (PROTOCOL_VERSION, Kind::Response, 1));
    assert_eq!(body.as_slice(), [0x00, 0x09], "Status(Unsupported), as in every version");
    assert_eq!(decode_body::<Response>(body), Ok(Response::Status(Status::Unsupported)));
    assert_eq!(link.stats().wrong_version, 1);
}

#[test]
fn a_newer_host_is_answered_the_same_way_and_its_body_is_not_read() {
    let mut flash = SimFlash::erased();
    let mut lock = boot(&mut flash);
    let mut link = Link::new();
    for (seq, version) in [(5u16, PROTOCOL_VERSION + 1), (6, u8::MAX), (7, 0)] {
        // A body this version could not decode: it must not matter.
        let wire = raw_frame(version, Kind::Request as u8, seq, &[0xFF, 0xFF, 0xFF]);
        let answer = split_frames(&send_raw(&mut link, &mut lock, &wire));
        assert_eq!(answer.len(), 1, "version {version}");
        let (header, body) = &answer[0];
        assert_eq!((header.version, header.seq), (PROTOCOL_VERSION, seq));
        assert_eq!(body.as_slice(), [0x00, 0x09], "version {version}");
    }
    assert_eq!(link.stats().wrong_version, 3);
    assert_eq!(link.stats().dropped_undecodable, 0, "their bodies were never decoded");
    // And a request of this version still works.
    let wire = common::request_frame(8, &Request::Ping { nonce: 42 });
    let answer = common::exchange(&mut link, &mut lock, &wire);
    assert_eq!(answer[0].1, Response::Pong { nonce: 42 });
}
