//! The lock's request handler fed arbitrary requests inside an open session, as the link
//! hands it each request it opened from a sealed frame (`LockPort::handle` with
//! `Via::Session(role)`), on a claimed lock with users, credentials and a log. Between
//! requests, the input moves the clock and works the door (keypad, cards, ticks). Sealing
//! itself is the open_sealed target's; this one is what a request can make the lock do.
//!
//! Every answer must fit a sealed frame, and whatever the requests wrote, the lock must boot
//! again on that flash.
//!
//! The input is a list of operations; each starts with a byte `op`:
//! - `op % 8` 0 to 3: a postcard `Request` follows, handled via an installer session (0, 3),
//!   a technician session (1) or a plaintext frame (2);
//! - 4: the clock moves `next byte` squared seconds;
//! - 5: a PIN of `next byte % 16` digits (from the bytes after) is typed at the keypad;
//! - 6: a card with the UID of `next byte % 12` bytes is tapped;
//! - 7: the lock's timer ticks and its queued events are taken.
#![no_main]

use latchkey_firmware::link::LinkStats;
use latchkey_firmware::policy::is_handshake;
use latchkey_firmware::{LockPort, Via};
use latchkey_fuzz::{boot, lived_in_flash};
use latchkey_protocol::crypto::MAX_SEALED_PLAINTEXT;
use latchkey_protocol::{Request, Role};
use latchkey_sim::SimFlash;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (mut lock, uptime) =
        boot(SimFlash::from_bytes(lived_in_flash().to_vec())).expect("the lived-in lock boots");
    let stats = LinkStats::default();
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 8 {
            kind @ 0..=3 => {
                let Ok((request, after)) = postcard::take_from_bytes::<Request>(rest) else {
                    return;
                };
                rest = after;
                // The link answers handshakes itself; they never reach the handler.
                if is_handshake(&request) {
                    continue;
                }
                let via = match kind {
                    1 => Via::Session(Role::Technician),
                    2 => Via::Plaintext,
                    _ => Via::Session(Role::Installer),
                };
                let response = lock.handle(&request, via, &stats);
                let mut out = [0u8; MAX_SEALED_PLAINTEXT];
                if let Err(e) = postcard::to_slice(&response, &mut out) {
                    panic!("the answer to {request:?} does not fit a sealed frame: {e}");
                }
            }
            4 => {
                let Some((&n, after)) = rest.split_first() else { return };
                rest = after;
                uptime.set(uptime.get() + u64::from(n) * u64::from(n) * 1000);
            }
            5 => {
                let Some((&n, after)) = rest.split_first() else { return };
                let n = usize::from(n % 16).min(after.len());
                let digits: String = after[..n].iter().map(|b| char::from(b'0' + b % 10)).collect();
                rest = &after[n..];
                lock.keypad_entry(&digits);
            }
            6 => {
                let Some((&n, after)) = rest.split_first() else { return };
                let n = usize::from(n % 12).min(after.len());
                lock.card_tapped(&after[..n]);
                rest = &after[n..];
            }
            _ => {
                lock.tick();
                while lock.next_event().is_some() {}
            }
        }
    }
    // A power cut now: whatever the requests wrote, the lock starts again on it.
    let (flash, _) = lock.power_off();
    assert!(boot(flash).is_some(), "the lock boots again after the requests");
});
