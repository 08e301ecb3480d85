//! Frame encode and decode cost: a small request, and a response near the largest frame.
//! Figures are recorded in docs/protocol.md ("Cost on the wire and on the CPU").

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use latchkey_protocol::*;
use std::hint::black_box;

fn big_response() -> Response {
    Response::Settings(Settings {
        door_label: heapless::String::try_from("Back door, garden side, level 2").unwrap(),
        auto_relock_seconds: 30,
        wrong_code_limit: 5,
        lockout_seconds: 300,
        beeper_volume: BeeperVolume::Medium,
        time_zone: TimeZoneRule::parse("CET-1CEST,M3.5.0,M10.5.0/3").expect("valid rule"),
        door_ajar_seconds: 60,
    })
}

fn hello() -> Response {
    Response::Hello(LockInfo {
        model: heapless::String::try_from("LK-100").unwrap(),
        serial: heapless::String::try_from("LK1-000042").unwrap(),
        firmware_version: heapless::String::try_from("0.1.0").unwrap(),
        protocol_version: PROTOCOL_VERSION,
        simulation: false,
        claimed: true,
        capabilities: Capabilities {
            max_users: 100,
            credentials_per_user: 8,
            pin_length_min: 4,
            pin_length_max: 10,
            log_capacity: 2048,
            access_paths: AccessPaths {
                keypad: true,
                rfid: true,
                fingerprint: true,
                phone: true,
                mechanical_key: true,
            },
            max_in_flight: 2,
            max_frame_len: MAX_FRAME_LEN as u16,
            card_uid_lengths: latchkey_protocol::ISO14443_UID_LENGTHS,
            signs_log_head: true,
        },
        claim_salt: [0; 16],
    })
}

fn bench(c: &mut Criterion) {
    let mut out = [0u8; MAX_ENCODED_LEN];
    let ping = Request::Ping { nonce: 0xDEAD_BEEF };
    let cases: [(&str, Kind, &dyn erased::Encode); 3] = [
        ("ping_request", Kind::Request, &ping),
        ("hello_response", Kind::Response, &hello()),
        ("settings_response", Kind::Response, &big_response()),
    ];
    for (name, kind, msg) in cases {
        let wire = msg.encode(Header::new(kind, 7), &mut out).to_vec();
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function("encode", |b| {
            let mut buf = [0u8; MAX_ENCODED_LEN];
            b.iter(|| black_box(msg.encode(black_box(Header::new(kind, 7)), &mut buf).len()))
        });
        group.bench_function("decode", |b| {
            let mut acc = FrameAccumulator::new();
            b.iter(|| {
                let mut n = 0;
                for &byte in black_box(&wire[..]) {
                    if let Some(Ok(frame)) = acc.push(byte) {
                        n += match frame.header.kind {
                            Kind::Request => decode_body::<Request>(frame.body).is_ok() as usize,
                            _ => decode_body::<Response>(frame.body).is_ok() as usize,
                        };
                    }
                }
                black_box(n)
            })
        });
        group.finish();
    }
}

/// Lets the cases above share one loop over different message types.
mod erased {
    use super::*;
    pub trait Encode {
        fn encode<'o>(&self, header: Header, out: &'o mut [u8]) -> &'o [u8];
    }
    impl<T: serde::Serialize> Encode for T {
        fn encode<'o>(&self, header: Header, out: &'o mut [u8]) -> &'o [u8] {
            encode_frame(header, self, out).expect("bench message fits a frame")
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
