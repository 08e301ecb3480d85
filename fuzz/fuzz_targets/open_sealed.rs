//! Opening sealed frames with a session's fixed keys (the golden vector's): forged bodies of
//! any shape are refused without a panic; genuine ones open to what was sealed, once; a
//! genuine one with any bit of header or body flipped is refused. What opens is decoded as
//! the message its direction carries.
//!
//! The input is a list of operations: `ctrl len bytes[len]`. `ctrl` picks the direction
//! (bits 0-1), whether the bytes are sealed first with the matching sealer (bit 2) or opened
//! as they are, whether one bit is flipped (bit 3, the bit's index from the next byte),
//! whether the last genuine frame is replayed (bit 4) and the header's seq (bits 5-7).
#![no_main]

use std::sync::OnceLock;

use latchkey_protocol::crypto::{
    MAX_SEALED_PLAINTEXT, Opener, SealError, Sealer, SecretKey, SessionKeys, lock_key,
};
use latchkey_protocol::{Event, Header, Kind, MAX_BODY_LEN, Request, Response, Role, decode_body};
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static SessionKeys {
    static KEYS: OnceLock<SessionKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = lock_key(Role::Installer, &SecretKey([0x5A; 32]), "LK1-000042");
        SessionKeys::derive(&key, Role::Installer, "LK1-000042", &[1; 32], &[2; 32], &[3; 32])
    })
}

/// One direction's two ends and what went through them.
struct Way {
    kind: Kind,
    sealer: Sealer,
    opener: Opener,
    /// The last genuine frame: header and body.
    last: Option<(Header, Vec<u8>)>,
}

fn decode(kind: Kind, plain: &[u8]) {
    match kind {
        Kind::SealedRequest => drop(decode_body::<Request>(plain)),
        Kind::SealedResponse => drop(decode_body::<Response>(plain)),
        _ => drop(decode_body::<Event>(plain)),
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let (host_sealer, host_opener) = keys.host_ends();
    let (lock_sealer, lock_opener) = keys.lock_ends();
    let mut ways = [
        Way { kind: Kind::SealedRequest, sealer: host_sealer, opener: lock_opener, last: None },
        Way { kind: Kind::SealedResponse, sealer: lock_sealer, opener: host_opener, last: None },
        Way {
            kind: Kind::SealedEvent,
            sealer: keys.lock_event_sealer(),
            opener: keys.host_event_opener(),
            last: None,
        },
    ];
    let mut rest = data;
    while let [ctrl, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (bytes, after) = tail.split_at(len);
        rest = after;
        let way = &mut ways[usize::from(ctrl & 3) % 3];
        let mut header = Header::new(way.kind, u16::from(ctrl >> 5));
        let mut out = [0u8; MAX_BODY_LEN];

        if ctrl & 0x10 != 0 {
            // A replay of a frame already accepted is refused.
            if let Some((header, body)) = &way.last {
                let result = way.opener.open(header, body, &mut out);
                assert!(matches!(result, Err(SealError::Replayed { .. })), "{result:?}");
            }
            continue;
        }
        if ctrl & 4 == 0 {
            // Bytes nobody sealed: a forgery must never open.
            let result = way.opener.open(&header, bytes, &mut out);
            assert!(result.is_err(), "a forged body opened");
            continue;
        }
        let plain = &bytes[..bytes.len().min(MAX_SEALED_PLAINTEXT)];
        let mut body = [0u8; MAX_BODY_LEN];
        let (n, counter) = way.sealer.seal(&header, plain, &mut body).expect("it fits");
        let body = &mut body[..n];
        if ctrl & 8 != 0 {
            // One bit of header or body flipped: refused, and the opener's state unchanged.
            let bit = usize::from(rest.first().copied().unwrap_or(0)) * 7 % ((4 + n) * 8);
            rest = rest.get(1..).unwrap_or_default();
            if bit < 32 {
                let mut raw = [header.version, header.kind as u8, 0, 0];
                raw[2..].copy_from_slice(&header.seq.to_le_bytes());
                raw[bit / 8] ^= 1 << (bit % 8);
                let Some(kind) = [
                    Kind::Request,
                    Kind::Response,
                    Kind::Event,
                    Kind::SealedRequest,
                    Kind::SealedResponse,
                    Kind::SealedEvent,
                ]
                .into_iter()
                .find(|k| *k as u8 == raw[1]) else {
                    continue; // not a kind a receiver would pass on
                };
                header =
                    Header { version: raw[0], kind, seq: u16::from_le_bytes([raw[2], raw[3]]) };
            } else {
                body[bit / 8 - 4] ^= 1 << (bit % 8);
            }
            let before = way.opener.last_counter();
            let result = way.opener.open(&header, body, &mut out);
            assert!(result.is_err(), "an altered frame opened");
            assert_eq!(way.opener.last_counter(), before);
            continue;
        }
        let (opened, got) =
            way.opener.open(&header, body, &mut out).expect("a genuine frame opens");
        assert_eq!((opened, got), (plain, counter));
        decode(way.kind, opened);
        way.last = Some((header, body.to_vec()));
    }
});
