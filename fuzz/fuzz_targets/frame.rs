//! The receive path's first steps on arbitrary line bytes: the frame accumulator (COBS, CRC,
//! kind, length) and the body decoders. Every frame it yields must re-encode to the same
//! frame, and no byte sequence may panic or yield a body longer than the protocol allows.
#![no_main]

use latchkey_protocol::{
    Event, FrameAccumulator, Kind, MAX_BODY_LEN, MAX_ENCODED_LEN, Request, Response, decode_body,
    encode_raw,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut acc = FrameAccumulator::new();
    for &byte in data {
        let Some(Ok(frame)) = acc.push(byte) else { continue };
        assert!(frame.body.len() <= MAX_BODY_LEN, "an accepted body fits the protocol");
        let (header, body) = (frame.header, frame.body.to_vec());
        match header.kind {
            Kind::Request => drop(decode_body::<Request>(&body)),
            Kind::Response => drop(decode_body::<Response>(&body)),
            Kind::Event => drop(decode_body::<Event>(&body)),
            // Sealed bodies are opaque here (the open_sealed target opens them).
            Kind::SealedRequest | Kind::SealedResponse | Kind::SealedEvent => {}
        }
        // What was accepted, sent again, is accepted as the same frame.
        let mut out = [0u8; MAX_ENCODED_LEN];
        let wire = encode_raw(header, &body, &mut out).expect("an accepted frame re-encodes");
        let mut again = FrameAccumulator::new();
        let mut back = None;
        for &b in wire {
            if let Some(result) = again.push(b) {
                let f = result.expect("a re-encoded frame is intact");
                back = Some((f.header, f.body.to_vec()));
            }
        }
        assert_eq!(back, Some((header, body)));
    }
    // A 0x00 always ends whatever was buffered.
    acc.push(0);
    assert!(!acc.is_mid_frame());
});
