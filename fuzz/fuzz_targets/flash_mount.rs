//! Mounting the store and the event log on arbitrary flash contents, as a power-up after
//! any corruption does: `Store::mount`, then the lock's boot (settings, keys, users, the
//! log and its reserve), then reading and verifying the log, then an append. Refusing to
//! mount is an answer; a panic, hang or runaway allocation is the bug.
//!
//! The input's first byte picks the region (bits 0-1: settings, credentials, event log,
//! security log) and the flash under it (bit 2: a claimed lock's lived-in image, or erased);
//! the second picks the page of the region to start at; the rest is XORed into the region
//! from there. XOR, so an input of two bytes is the real image, and each mutation is a
//! corruption of real records (or, on erased flash, arbitrary bytes).
#![no_main]

use latchkey_firmware::Store;
use latchkey_firmware::log::EventLog;
use latchkey_firmware::region::layout;
use latchkey_fuzz::{boot, lived_in_flash};
use latchkey_protocol::{LogEntry, LogRecord, Role};
use latchkey_sim::SimFlash;
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [0x5A; 32];

fuzz_target!(|data: &[u8]| {
    let [how, page, content @ ..] = data else { return };
    let regions = [layout::SETTINGS, layout::CREDENTIALS, layout::EVENT_LOG, layout::SECURITY_LOG];
    let region = &regions[usize::from(how & 3)];
    let mut bytes = if how & 4 == 0 {
        lived_in_flash().to_vec()
    } else {
        vec![0xFF; layout::FLASH_SIZE as usize]
    };
    let pages = region.len() / layout::PAGE_SIZE as usize;
    let start = region.start as usize + usize::from(*page) % pages * layout::PAGE_SIZE as usize;
    let end = region.end as usize;
    for (byte, x) in bytes[start..end].iter_mut().zip(content) {
        *byte ^= x;
    }

    // The event log alone, with a key of its own: mount, read, verify, append.
    let mut flash = SimFlash::from_bytes(bytes.clone());
    for reserve in [false, true] {
        let mounted = if reserve {
            EventLog::mount_reserve(&mut flash, KEY)
        } else {
            EventLog::mount(&mut flash, KEY)
        };
        let Ok(mut log) = mounted else { continue };
        let mut out =
            [LogRecord { seq: 0, at: 0, entry: LogEntry::AuthFailed { claim: false } }; 8];
        let _ = log.read(&mut flash, log.first_seq(), &mut out);
        let _ = log.verify(&mut flash);
        let _ = log.append(
            &mut flash,
            1_760_000_000,
            LogEntry::Session { role: Role::Installer, opened: true },
        );
    }

    // The store alone, then a whole lock's boot on the same contents.
    if let Ok(mut store) = Store::mount(SimFlash::from_bytes(bytes.clone())) {
        let _ = store.settings();
        let _ = store.keys();
        let _ = store.for_each_user(|_, _| {});
    }
    if let Some((lock, _)) = boot(SimFlash::from_bytes(bytes)) {
        // Booted once, it boots again on what the first boot left.
        let (flash, _) = lock.power_off();
        assert!(boot(flash).is_some(), "a lock that booted boots again");
    }
});
