//! Helpers shared by the integration tests: a booted lock on an in-memory NOR flash and
//! framing for requests and responses. Everything here is the real core; nothing is mocked.
#![allow(dead_code)] // each test binary uses a different part

use latchkey_firmware::sim::{SimBattery, SimClock, SimFlash};
use latchkey_firmware::{Handler, Identity, Link, Lock, Store};
use latchkey_protocol::{
    FrameAccumulator, Header, Ident, Kind, MAX_ENCODED_LEN, Request, Response, decode_body,
    encode_frame,
};

pub type TestLock<'a> = Lock<&'a mut SimFlash, SimClock, SimBattery>;

pub fn identity() -> Identity {
    Identity {
        model: Ident::try_from("LK-100 test").unwrap(),
        serial: Ident::try_from("TEST-0001").unwrap(),
        simulation: true,
        max_in_flight: 8,
    }
}

/// Mounts the store on `flash` and boots a lock on it, as a power-up does.
pub fn boot(flash: &mut SimFlash) -> TestLock<'_> {
    boot_with(flash, SimBattery::new(6000))
}

pub fn boot_with(flash: &mut SimFlash, battery: SimBattery) -> TestLock<'_> {
    let store = Store::mount(flash).expect("store mounts");
    Lock::boot(store, SimClock::new(), battery, identity()).expect("lock boots")
}

/// One encoded frame.
pub fn frame<T: serde::Serialize>(header: Header, body: &T) -> Vec<u8> {
    let mut out = [0u8; MAX_ENCODED_LEN];
    encode_frame(header, body, &mut out).unwrap().to_vec()
}

pub fn request_frame(seq: u16, request: &Request) -> Vec<u8> {
    frame(Header::new(Kind::Request, seq), request)
}

/// Splits a byte stream into frames: header and raw body.
pub fn split_frames(bytes: &[u8]) -> Vec<(Header, Vec<u8>)> {
    let mut acc = FrameAccumulator::new();
    let mut frames = Vec::new();
    for &b in bytes {
        if let Some(result) = acc.push(b) {
            let f = result.expect("the lock sends only intact frames");
            frames.push((f.header, f.body.to_vec()));
        }
    }
    frames
}

/// Feeds `bytes` to the link and returns every frame it sent back, decoded as responses.
pub fn exchange(
    link: &mut Link,
    handler: &mut impl Handler,
    bytes: &[u8],
) -> Vec<(Header, Response)> {
    let mut out = Vec::new();
    link.receive(bytes, handler, &mut |f: &[u8]| out.extend_from_slice(f));
    split_frames(&out)
        .into_iter()
        .map(|(h, body)| (h, decode_body::<Response>(&body).expect("response decodes")))
        .collect()
}

/// Sends one request through a link and returns its single response.
pub fn ask(link: &mut Link, handler: &mut impl Handler, seq: u16, request: &Request) -> Response {
    let mut got = exchange(link, handler, &request_frame(seq, request));
    assert_eq!(got.len(), 1, "exactly one response per request");
    let (header, response) = got.remove(0);
    assert_eq!(header, Header::new(Kind::Response, seq));
    response
}
