//! Message bodies as a peer could send them, decoded as each message type. A body that
//! decodes must re-encode (canonically, so never longer) and decode back to the same value:
//! what one end accepts, the other end could have sent.
#![no_main]

use latchkey_protocol::{Event, LogRecord, MAX_BODY_LEN, Request, Response, Settings, decode_body};
use libfuzzer_sys::fuzz_target;
use serde::{Serialize, de::DeserializeOwned};

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + core::fmt::Debug>(body: &[u8]) {
    let Ok(value) = decode_body::<T>(body) else { return };
    let mut out = [0u8; MAX_BODY_LEN];
    let encoded = postcard::to_slice(&value, &mut out).expect("a decoded body re-encodes");
    assert!(encoded.len() <= body.len(), "the canonical encoding is never longer");
    let back = decode_body::<T>(encoded).expect("a re-encoded body decodes");
    assert_eq!(back, value);
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    // The wire never carries a longer body.
    let body = &body[..body.len().min(MAX_BODY_LEN)];
    match which % 5 {
        0 => round_trip::<Request>(body),
        1 => round_trip::<Response>(body),
        2 => round_trip::<Event>(body),
        3 => round_trip::<Settings>(body),
        _ => round_trip::<LogRecord>(body),
    }
});
