//! The event log on a simulated nRF51 flash: round trips, a full log that drops its oldest
//! records, the chain against hand-edited flash, clearing, garbage regions, and power cuts at
//! random bytes of appends, of a full log's page drops and of clears.
//!
//! The log is a store of its own: of the shared helpers only the power-cut flash is used.
// Tests may unwrap and panic; the core may not (firmware/Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cut_flash::CutFlash;
use embedded_storage::nor_flash::NorFlash;
use latchkey_firmware::log::{CAPACITY, ChainBreak, EventLog, LogError, TAG_LEN};
use latchkey_firmware::region::layout;
use latchkey_protocol::{
    AccessPath, AccessReason, Alarm, BatteryState, ChangeKind, LogEntry, LogRecord, ResetReason,
    Role,
};
use latchkey_sim::SimFlash;

#[path = "support/log_items.rs"]
mod log_items;

use log_items::{LOG, PAGE, raw_item_of, rewrite_item};

const KEY: [u8; 32] = [0x5A; 32];
/// A clock reading in the 2020s.
const NOW: u64 = 1_760_000_000;

fn seed(name: &str, default: u64) -> u64 {
    let seed =
        std::env::var("LATCHKEY_LOG_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    println!("{name}: seed {seed} (set LATCHKEY_LOG_SEED to replay)");
    seed
}

/// A typical record: an access decision.
fn access(n: u32) -> LogEntry {
    LogEntry::Access {
        path: [AccessPath::Keypad, AccessPath::Rfid, AccessPath::Phone][n as usize % 3],
        granted: !n.is_multiple_of(4),
        user: Some((n % 100) as u16),
        reason: if !n.is_multiple_of(4) {
            AccessReason::Granted
        } else {
            AccessReason::UnknownCredential
        },
    }
}

fn random_entry(rng: &mut fastrand::Rng) -> LogEntry {
    match rng.u8(0..8) {
        0 => LogEntry::Change {
            what: ChangeKind::PinSet,
            role: Role::Installer,
            user: rng.bool().then(|| rng.u16(..)),
        },
        1 => LogEntry::Alarm { alarm: Alarm::Tamper, raised: rng.bool() },
        2 => LogEntry::Battery {
            millivolts: rng.u16(3000..6500),
            state: BatteryState::Low,
            replaced: rng.bool(),
        },
        3 => LogEntry::PowerUp { boot_count: rng.u32(..100_000), reason: ResetReason::PowerOn },
        4 => LogEntry::ClockSet { from: rng.u64(..NOW), to: NOW + rng.u64(..1_000_000) },
        5 => LogEntry::Session { role: Role::Technician, opened: rng.bool() },
        6 => LogEntry::AuthFailed { claim: rng.bool() },
        _ => access(rng.u32(..)),
    }
}

fn blank_record() -> LogRecord {
    LogRecord { seq: 0, at: 0, entry: LogEntry::AuthFailed { claim: false } }
}

/// Every record of the log, oldest first, in one read (a read is a pass over the region).
fn read_all(log: &mut EventLog, flash: &mut impl NorFlash) -> Vec<LogRecord> {
    let mut out = vec![blank_record(); 4096];
    let n = log.read(flash, 0, &mut out).expect("the log reads");
    out.truncate(n);
    out
}

/// Every record of the log read 7 at a time, as a host pages through it.
fn read_paged(log: &mut EventLog, flash: &mut impl NorFlash) -> Vec<LogRecord> {
    let mut all = Vec::new();
    let mut from = 0;
    loop {
        let mut out = [blank_record(); 7];
        let n = log.read(flash, from, &mut out).expect("the log reads");
        all.extend_from_slice(&out[..n]);
        if n < out.len() {
            return all;
        }
        from = out[n - 1].seq + 1;
    }
}

fn assert_intact(log: &mut EventLog, flash: &mut impl NorFlash, records: &[LogRecord]) {
    let report = log.verify(flash).expect("verify runs");
    assert!(report.is_intact(), "chain holds: {report:?}");
    assert_eq!(report.records as usize, records.len());
    assert_eq!(report.first_seq, records.first().map(|r| r.seq));
    assert_eq!(report.last_seq, records.last().map(|r| r.seq));
}

// ---- the flash as someone with a hex editor sees it --------------------------------------------

/// A fresh log with `n` typical records.
fn log_with(n: u32) -> (SimFlash, EventLog) {
    let mut flash = SimFlash::erased();
    let mut log = EventLog::mount(&mut flash, KEY).unwrap();
    for i in 0..n {
        log.append(&mut flash, NOW + u64::from(i), access(i)).unwrap();
    }
    (flash, log)
}

fn remount(flash: &mut SimFlash) -> EventLog {
    EventLog::mount(flash, KEY).expect("the log mounts")
}

// ---- round trips ---------------------------------------------------------------------------

#[test]
fn append_read_round_trip() {
    let mut rng = fastrand::Rng::with_seed(seed("round trip", 1));
    let mut flash = SimFlash::erased();
    let mut log = EventLog::mount(&mut flash, KEY).unwrap();
    assert!(log.is_empty());
    assert_eq!((log.first_seq(), log.next_seq(), log.len()), (1, 1, 0));
    assert_eq!(log.read(&mut flash, 0, &mut [blank_record(); 4]), Ok(0));
    assert_intact(&mut log, &mut flash, &[]);

    let mut written = Vec::new();
    for i in 0..100u32 {
        let entry = if i < 9 { every_variant()[i as usize] } else { random_entry(&mut rng) };
        let at = if i == 3 { 0 } else { NOW + u64::from(i) };
        if let LogEntry::Cleared { .. } = entry {
            assert_eq!(log.append(&mut flash, at, entry), Err(LogError::Reserved));
            continue;
        }
        let seq = log.append(&mut flash, at, entry).unwrap();
        written.push(LogRecord { seq, at, entry });
    }
    assert_eq!(written.first().unwrap().seq, 1);
    assert!(written.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    assert_eq!(read_all(&mut log, &mut flash), written);
    assert_eq!(read_paged(&mut log, &mut flash), written);
    assert_eq!((log.first_seq(), log.next_seq(), log.len()), (1, 100, 99));

    // From a seq, into a short buffer.
    let mut out = [blank_record(); 3];
    assert_eq!(log.read(&mut flash, 50, &mut out), Ok(3));
    assert_eq!(out[..], written[49..52]);
    assert_eq!(log.read(&mut flash, 99, &mut out), Ok(1));
    assert_eq!(log.read(&mut flash, 100, &mut out), Ok(0));
    assert_eq!(log.read(&mut flash, 5, &mut []), Ok(0));

    // The same after a reboot, and the sequence goes on.
    let mut log = remount(&mut flash);
    assert_eq!((log.first_seq(), log.next_seq(), log.len()), (1, 100, 99));
    assert_eq!(read_all(&mut log, &mut flash), written);
    assert_intact(&mut log, &mut flash, &written);
    assert!(log.verify(&mut flash).unwrap().anchored, "record 1 chains from zeros");
    assert_eq!(log.append(&mut flash, NOW, access(0)), Ok(100));
}

fn every_variant() -> [LogEntry; 9] {
    [
        LogEntry::Access {
            path: AccessPath::Fingerprint,
            granted: false,
            user: None,
            reason: AccessReason::OutsideSchedule,
        },
        LogEntry::Change { what: ChangeKind::UserAdded, role: Role::Installer, user: Some(3) },
        LogEntry::Alarm { alarm: Alarm::Jammed, raised: true },
        LogEntry::Battery { millivolts: 4100, state: BatteryState::Ok, replaced: true },
        LogEntry::PowerUp { boot_count: 17, reason: ResetReason::Reset },
        LogEntry::ClockSet { from: 0, to: NOW },
        LogEntry::Session { role: Role::Installer, opened: true },
        LogEntry::AuthFailed { claim: true },
        LogEntry::Cleared { removed: 1 },
    ]
}

#[test]
fn unprogrammed_region_is_formatted_and_data_is_kept() {
    // QEMU's never-programmed flash reads all zeros.
    let mut flash = SimFlash::from_bytes(vec![0; layout::FLASH_SIZE as usize]);
    let mut log = EventLog::mount(&mut flash, KEY).unwrap();
    assert!(flash.bytes()[LOG].iter().all(|&b| b == 0xFF), "formatted");
    assert_eq!(log.append(&mut flash, NOW, access(1)), Ok(1));
    assert!(flash.bytes()[..LOG.start].iter().all(|&b| b == 0), "nothing else touched");
    let before = flash.bytes().to_vec();
    let log = remount(&mut flash);
    assert_eq!(log.len(), 1);
    assert_eq!(flash.bytes(), &before[..], "a mount of a log writes nothing");
}

// ---- a full log -----------------------------------------------------------------------------

/// Appends typical records to a fresh log until the first one is dropped: the real capacity.
#[test]
fn capacity_is_measured() {
    let mut flash = SimFlash::erased();
    let mut log = EventLog::mount(&mut flash, KEY).unwrap();
    // A lock's steady state: seqs of 3 bytes (2^14 to 2^21). The first 16k records are a
    // little smaller and more of them fit.
    const START: u32 = 20_000;
    log.bump_floor(START);
    let mut i = 0;
    while log.first_seq() == START {
        i += 1;
        log.append(&mut flash, NOW + u64::from(i), access(i)).unwrap();
    }
    let fit = i - 1;
    let kept = log.len();
    println!(
        "capacity: {fit} typical records fit in {} KiB; {kept} kept after the first page drop; \
         CAPACITY = {CAPACITY}",
        LOG.len() / 1024,
    );
    assert_eq!(fit, 75 * 31, "75 pages of 31 32-byte items");
    assert_eq!(kept, CAPACITY + 1, "the oldest page went, the new record is in");
    const { assert!(CAPACITY >= 2000) };
}

#[test]
fn five_thousand_appends_keep_the_newest() {
    let mut rng = fastrand::Rng::with_seed(seed("5000 appends", 5));
    let mut flash = SimFlash::erased();
    let mut log = EventLog::mount(&mut flash, KEY).unwrap();
    let mut all = Vec::new();
    for i in 0..5000u32 {
        // Mostly typical records, some of every kind (clock sets are the largest).
        let entry = if rng.u8(0..4) == 0 { random_entry(&mut rng) } else { access(i) };
        let at = NOW + u64::from(i);
        let seq = log.append(&mut flash, at, entry).unwrap();
        assert_eq!(seq, i + 1, "seqs count up from 1, none repeats");
        all.push(LogRecord { seq, at, entry });
        if i % 1000 == 999 {
            // A reboot now and then: nothing changes.
            let (first, next, len) = (log.first_seq(), log.next_seq(), log.len());
            log = remount(&mut flash);
            assert_eq!((log.first_seq(), log.next_seq(), log.len()), (first, next, len));
        }
    }
    let kept = read_all(&mut log, &mut flash);
    println!("5000 appends: {} kept, seqs {}..={}", kept.len(), log.first_seq(), 5000);
    assert!(kept.len() >= 2000, "the issue's budget");
    assert!(kept.len() as u32 >= CAPACITY - 75 * 4, "mixed records are a little larger");
    assert_eq!(kept.len() as u32, log.len());
    assert_eq!(kept.first().unwrap().seq, log.first_seq());
    assert!(log.first_seq() > 1, "the gap is visible");
    assert_eq!(kept[..], all[all.len() - kept.len()..], "the newest, in order, intact");
    let report = log.verify(&mut flash).unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert!(!report.anchored, "record 1 is gone: the oldest record is taken on trust");
    assert_eq!(report.records, log.len());

    let mut log = remount(&mut flash);
    assert_eq!(log.next_seq(), 5001);
    assert_eq!(read_all(&mut log, &mut flash), kept);
    assert_eq!(log.append(&mut flash, NOW, access(0)), Ok(5001), "no seq repeats after a reboot");
}

// ---- the chain against a hand-edited flash file -----------------------------------------------

#[test]
fn verify_names_an_altered_record() {
    let (flash, _) = log_with(100);
    let mut bytes = flash.bytes().to_vec();
    // Someone who knows the format changes who opened the door, and fixes the item's CRC.
    let item = raw_item_of(&bytes, 42);
    let mut record = item.record.unwrap();
    record.entry = LogEntry::Access {
        path: AccessPath::Keypad,
        granted: true,
        user: Some(7),
        reason: AccessReason::Granted,
    };
    let mut buf = [0u8; 64];
    let mut data = postcard::to_slice(&record, &mut buf).unwrap().to_vec();
    data.extend_from_slice(&item.data[item.data.len() - TAG_LEN..]);
    rewrite_item(&mut bytes, &item, &data);

    let mut flash = SimFlash::from_bytes(bytes);
    let mut log = remount(&mut flash);
    let all = read_all(&mut log, &mut flash);
    assert_eq!(all.len(), 100, "the record reads: its CRC matches");
    assert_eq!(all[41], record);
    let report = log.verify(&mut flash).unwrap();
    assert_eq!(report.first_break, Some(ChainBreak::TagMismatch { seq: 42 }));
    assert_eq!(report.records, 100);
}

#[test]
fn verify_names_a_record_with_a_flipped_byte() {
    let (flash, _) = log_with(100);
    let mut bytes = flash.bytes().to_vec();
    let item = raw_item_of(&bytes, 57);
    // One payload byte changed, CRC left alone: the library no longer returns the item.
    bytes[item.address + 8 + 3] ^= 0x01;
    let mut flash = SimFlash::from_bytes(bytes);
    let mut log = remount(&mut flash);
    let all = read_all(&mut log, &mut flash);
    assert_eq!(all.len(), 99);
    assert!(all.iter().all(|r| r.seq != 57));
    let report = log.verify(&mut flash).unwrap();
    assert_eq!(report.first_break, Some(ChainBreak::Gap { after: 56, next: 58 }));
    assert_eq!(report.records, 99);
}

#[test]
fn verify_names_an_erased_record() {
    let (flash, _) = log_with(100);
    let mut bytes = flash.bytes().to_vec();
    // A zero CRC is how sequential-storage marks an item erased (popped).
    let item = raw_item_of(&bytes, 13);
    bytes[item.address..item.address + 4].fill(0);
    let mut flash = SimFlash::from_bytes(bytes.clone());
    let mut log = remount(&mut flash);
    assert_eq!(
        log.verify(&mut flash).unwrap().first_break,
        Some(ChainBreak::Gap { after: 12, next: 14 })
    );

    // Its whole header zeroed: the library steps over it word by word.
    bytes[item.address..item.address + 8].fill(0);
    let mut flash = SimFlash::from_bytes(bytes);
    let mut log = remount(&mut flash);
    assert_eq!(read_all(&mut log, &mut flash).len(), 99);
    assert_eq!(
        log.verify(&mut flash).unwrap().first_break,
        Some(ChainBreak::Gap { after: 12, next: 14 })
    );
}

#[test]
fn verify_names_swapped_records() {
    let (flash, _) = log_with(100);
    let mut bytes = flash.bytes().to_vec();
    let a = raw_item_of(&bytes, 20);
    let b = raw_item_of(&bytes, 21);
    assert_eq!(a.data.len(), b.data.len());
    rewrite_item(&mut bytes, &a, &b.data);
    rewrite_item(&mut bytes, &b, &a.data);
    let mut flash = SimFlash::from_bytes(bytes);
    let mut log = remount(&mut flash);
    let report = log.verify(&mut flash).unwrap();
    assert_eq!(report.first_break, Some(ChainBreak::Gap { after: 19, next: 21 }));

    // A record replaced by a copy of another (same length), CRC fixed: out of order.
    let (flash, _) = log_with(100);
    let mut bytes = flash.bytes().to_vec();
    let a = raw_item_of(&bytes, 30);
    let b = raw_item_of(&bytes, 31);
    rewrite_item(&mut bytes, &b, &a.data);
    let mut flash = SimFlash::from_bytes(bytes);
    let mut log = remount(&mut flash);
    let report = log.verify(&mut flash).unwrap();
    assert_eq!(report.first_break, Some(ChainBreak::OutOfOrder { after: 30, next: 30 }));
    assert_eq!(log.next_seq(), 101, "seqs go on from the highest present");
}

#[test]
fn verify_names_a_forged_record_and_a_foreign_item() {
    // Records chained with another key (forged, or a log moved from another lock).
    let (mut flash, _) = log_with(10);
    let mut log = EventLog::mount(&mut flash, [0x11; 32]).unwrap();
    assert_eq!(
        log.verify(&mut flash).unwrap().first_break,
        Some(ChainBreak::TagMismatch { seq: 1 })
    );

    // An intact item that is not a record.
    let (flash, _) = log_with(10);
    let mut bytes = flash.bytes().to_vec();
    let item = raw_item_of(&bytes, 4);
    let junk = vec![0xA5; item.data.len()];
    rewrite_item(&mut bytes, &item, &junk);
    let mut flash = SimFlash::from_bytes(bytes);
    let mut log = remount(&mut flash);
    assert_eq!(read_all(&mut log, &mut flash).len(), 9);
    assert_eq!(
        log.verify(&mut flash).unwrap().first_break,
        Some(ChainBreak::Undecodable { after: 3 })
    );
}

// ---- clearing ---------------------------------------------------------------------------------

#[test]
fn clear_keeps_the_sequence_going() {
    let (mut flash, mut log) = log_with(500);
    assert_eq!(log.clear(&mut flash, NOW + 1000), Ok(500));
    assert_eq!((log.first_seq(), log.next_seq(), log.len()), (501, 502, 1));
    let cleared = LogRecord { seq: 501, at: NOW + 1000, entry: LogEntry::Cleared { removed: 500 } };
    assert_eq!(read_all(&mut log, &mut flash), [cleared]);
    assert_eq!(log.read(&mut flash, 1, &mut [blank_record(); 4]), Ok(1), "nothing older reads");
    // Every page but the Cleared record's one is erased.
    let live_pages = LOG.step_by(PAGE).filter(|&p| flash.bytes()[p] != 0xFF).count();
    assert_eq!(live_pages, 1);
    let report = log.verify(&mut flash).unwrap();
    assert!(report.is_intact() && report.anchored, "its predecessor is still there: {report:?}");

    assert_eq!(log.append(&mut flash, NOW, access(1)), Ok(502));
    let mut log = remount(&mut flash);
    assert_eq!((log.first_seq(), log.next_seq(), log.len()), (501, 503, 2));
    let all = read_all(&mut log, &mut flash);
    assert_intact(&mut log, &mut flash, &all);

    // Clear again, on a full log, then wrap past it.
    for i in 0..3000 {
        log.append(&mut flash, NOW, access(i)).unwrap();
    }
    let len = log.len();
    assert_eq!(log.clear(&mut flash, NOW), Ok(len));
    assert_eq!(log.len(), 1);
    let next = log.next_seq();
    for i in 0..3000 {
        log.append(&mut flash, NOW, access(i)).unwrap();
    }
    let mut log = remount(&mut flash);
    assert_eq!(log.next_seq(), next + 3000);
    assert!(log.len() >= 2000);
    let all = read_all(&mut log, &mut flash);
    assert_intact(&mut log, &mut flash, &all);

    // An empty log clears too.
    let (mut flash, mut log) = log_with(0);
    assert_eq!(log.clear(&mut flash, NOW), Ok(0));
    assert_eq!(read_all(&mut log, &mut flash)[0].seq, 1);
}

#[test]
fn a_wiped_region_restarts_from_the_floor() {
    let (mut flash, log) = log_with(50);
    let mark = log.next_seq();
    drop(log);
    // The region erased behind the lock's back: nothing to recover the seq from.
    let mut log = EventLog::format(&mut flash, KEY).unwrap();
    assert!(log.is_empty());
    assert_eq!(log.next_seq(), 1);
    log.bump_floor(mark + 16);
    log.bump_floor(3); // never lowers it
    assert_eq!((log.first_seq(), log.next_seq()), (mark + 16, mark + 16));
    assert_eq!(log.append(&mut flash, NOW, access(1)), Ok(mark + 16));
    let mut log = remount(&mut flash);
    assert_eq!(log.next_seq(), mark + 17);
    let report = log.verify(&mut flash).unwrap();
    assert!(report.is_intact() && !report.anchored);
}

// ---- garbage ------------------------------------------------------------------------------------

#[test]
fn garbage_is_reported_not_erased() {
    let mut rng = fastrand::Rng::with_seed(seed("garbage", 7));
    let mut images = Vec::new();
    // Random bytes over the whole region.
    for _ in 0..20 {
        let mut bytes = SimFlash::erased().bytes().to_vec();
        rng.fill(&mut bytes[LOG]);
        images.push(bytes);
    }
    // A pattern whose every page looks closed.
    let mut bytes = SimFlash::erased().bytes().to_vec();
    bytes[LOG].fill(0x55);
    images.push(bytes);
    // A real log with a run of its pages overwritten by random bytes.
    let (flash, _) = log_with(2500);
    let mut bytes = flash.bytes().to_vec();
    rng.fill(&mut bytes[LOG.start + 10 * PAGE..LOG.start + 13 * PAGE]);
    images.push(bytes);

    let count = images.len();
    for (i, image) in images.into_iter().enumerate() {
        let mut flash = SimFlash::from_bytes(image.clone());
        match EventLog::mount(&mut flash, KEY) {
            Err(LogError::Corrupted) => {}
            // The spliced log may still look like a queue if its garbage pages' markers happen
            // to read "closed": then it mounts and reads, skipping the garbage.
            Ok(mut log) if i == count - 1 => {
                read_all(&mut log, &mut flash);
                log.verify(&mut flash).unwrap();
            }
            other => panic!("garbage mounts as {other:?}"),
        }
        assert_eq!(flash.bytes(), &image[..], "nothing erased");
    }

    // Garbage inside the pages of a well-formed queue: it mounts; the garbage is skipped and
    // shows in verify; nothing is erased by reading.
    let (flash, _) = log_with(300);
    let mut bytes = flash.bytes().to_vec();
    let page = LOG.start + 3 * PAGE;
    rng.fill(&mut bytes[page + 4..page + PAGE - 4]);
    let mut flash = SimFlash::from_bytes(bytes.clone());
    let mut log = remount(&mut flash);
    let all = read_all(&mut log, &mut flash);
    assert!(all.len() < 300 && all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(matches!(log.verify(&mut flash).unwrap().first_break, Some(ChainBreak::Gap { .. })));
    assert_eq!(flash.bytes(), &bytes[..]);
    assert_eq!(log.append(&mut flash, NOW, access(0)), Ok(301), "and it logs on");

    // The caller may decide to start over.
    let mut flash = SimFlash::from_bytes(random_region(&mut rng));
    assert_eq!(EventLog::mount(&mut flash, KEY).err(), Some(LogError::Corrupted));
    let mut log = EventLog::format(&mut flash, KEY).unwrap();
    assert_eq!(log.append(&mut flash, NOW, access(0)), Ok(1));
}

fn random_region(rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut bytes = SimFlash::erased().bytes().to_vec();
    rng.fill(&mut bytes[LOG]);
    bytes
}

// ---- power cuts -----------------------------------------------------------------------------

/// What a reboot must find after a cut during `in_flight` (None: during a clear), given the
/// records `before` it: the log mounts, its records are `before` with at most a page's worth
/// of its oldest dropped (only if it was full), then possibly the in-flight record; the chain
/// verifies; seqs are increasing. Returns the records found.
fn check_after_cut(
    flash: &mut SimFlash,
    before: &[LogRecord],
    in_flight: &LogRecord,
    was_full: bool,
) -> (EventLog, Vec<LogRecord>) {
    let mut log = EventLog::mount(flash, KEY).expect("the log mounts after every power cut");
    let found = read_all(&mut log, flash);
    assert_eq!(found.len() as u32, log.len());
    let (kept, tail) = match found.last() {
        Some(last) if last == in_flight => (&found[..found.len() - 1], true),
        _ => (&found[..], false),
    };
    let dropped = before.len() - kept.len();
    assert_eq!(kept, &before[dropped..], "every acknowledged record there, in order");
    if !was_full {
        assert_eq!(dropped, 0, "nothing dropped from a log with room");
    } else {
        assert!(dropped <= 40, "at most a page dropped, not {dropped}");
    }
    let next = if tail { in_flight.seq + 1 } else { in_flight.seq };
    assert_eq!(log.next_seq(), next, "the seq goes on from the last record there");
    if !found.is_empty() {
        assert_eq!(log.first_seq(), found[0].seq);
    }
    let report = log.verify(flash).expect("verify runs");
    assert!(report.is_intact(), "the chain holds after a power cut: {report:?}");
    assert_eq!(report.records as usize, found.len());
    (log, found)
}

/// Hundreds of cuts at random bytes of random writes and erases while appending: from an
/// empty log, then from one about to fill, through the first page drops.
#[test]
fn power_cuts_during_appends_lose_nothing_acknowledged() {
    let mut rng = fastrand::Rng::with_seed(seed("cuts during appends", 0x00A9_9E4D));
    let (mut cuts, mut appends) = (0, 0);
    let mut flash = SimFlash::erased();
    cut_appends(&mut rng, &mut flash, 150, &mut cuts, &mut appends);
    let (mut flash, _) = log_with(CAPACITY - 200);
    cut_appends(&mut rng, &mut flash, 150, &mut cuts, &mut appends);
    let log = remount(&mut flash);
    println!("{cuts} power cuts over {appends} acknowledged appends; {} records kept", log.len());
    assert!(log.first_seq() > 1, "the log filled and dropped its oldest records");
}

fn cut_appends(
    rng: &mut fastrand::Rng,
    flash: &mut SimFlash,
    rounds: usize,
    cuts: &mut usize,
    appends: &mut u32,
) {
    let mut records = read_all(&mut remount(flash), flash);
    let mut highest_seen = records.last().map_or(0, |r| r.seq);
    for _ in 0..rounds {
        // A cut every ~10 appends, at any byte of any write or erase.
        let mut cut = CutFlash::new(flash, rng.usize(0..40), rng.usize(0..64));
        let mut log = match EventLog::mount(&mut cut, KEY) {
            Ok(log) => log,
            // The library finishing an erase that the last cut interrupted, cut again.
            Err(LogError::Flash(_)) => {
                *cuts += 1;
                records = check_after_cut(flash, &records, &blank_record(), true).1;
                continue;
            }
            Err(other) => panic!("mount failed with {other:?}"),
        };
        loop {
            // Mixed records are larger than typical ones: the log may drop before CAPACITY.
            let was_full = records.len() >= 2000;
            let entry = if rng.u8(0..5) == 0 { random_entry(rng) } else { access(rng.u32(..)) };
            let at = NOW + u64::from(*appends);
            let next = LogRecord { seq: log.next_seq(), at, entry };
            assert!(next.seq > highest_seen, "a seq a reader saw is never used again");
            match log.append(&mut cut, at, entry) {
                Ok(seq) => {
                    assert_eq!(seq, next.seq);
                    *appends += 1;
                    highest_seen = seq;
                    records.push(next);
                    let dropped = records.len() - log.len() as usize;
                    records.drain(..dropped);
                }
                Err(LogError::Flash(_)) => {
                    *cuts += 1;
                    let (_, found) = check_after_cut(flash, &records, &next, was_full);
                    if found.last() == Some(&next) {
                        highest_seen = next.seq;
                    }
                    records = found;
                    break;
                }
                Err(other) => panic!("append failed with {other:?}"),
            }
        }
    }
}

/// Hundreds of cuts at random bytes of the erase that drops a full log's oldest page (and of
/// the writes around it).
#[test]
fn power_cuts_during_page_drops_lose_nothing_acknowledged() {
    let mut rng = fastrand::Rng::with_seed(seed("cuts during page drops", 0xD809));
    let (mut flash, mut log) = log_with(CAPACITY + 40);
    let mut records = read_all(&mut log, &mut flash);
    drop(log);
    let mut highest_seen = records.last().unwrap().seq;
    for round in 0..200 {
        let mut cut = if round % 3 == 2 {
            // Any write or erase of the next few appends.
            CutFlash::new(&mut flash, rng.usize(0..12), rng.usize(0..PAGE + 1))
        } else {
            // The next page drop, at a random byte.
            CutFlash::at_erase(&mut flash, 0, rng.usize(0..PAGE + 1))
        };
        let mut log = match EventLog::mount(&mut cut, KEY) {
            Ok(log) => log,
            Err(LogError::Flash(_)) => {
                records = check_after_cut(&mut flash, &records, &blank_record(), true).1;
                continue;
            }
            Err(other) => panic!("mount failed with {other:?}"),
        };
        loop {
            let entry = access(rng.u32(..));
            let next = LogRecord { seq: log.next_seq(), at: NOW, entry };
            assert!(next.seq > highest_seen);
            match log.append(&mut cut, NOW, entry) {
                Ok(seq) => {
                    highest_seen = seq;
                    records.push(next);
                    let dropped = records.len() - log.len() as usize;
                    records.drain(..dropped);
                }
                Err(LogError::Flash(_)) => {
                    let (log, found) = check_after_cut(&mut flash, &records, &next, true);
                    assert!(log.first_seq() > 1 && found.len() >= 2000);
                    if found.last() == Some(&next) {
                        highest_seen = next.seq;
                    }
                    records = found;
                    break;
                }
                Err(other) => panic!("append failed with {other:?}"),
            }
        }
    }
    println!("200 power cuts in full-log page drops; {} records kept", records.len());
}

/// Cuts at random bytes of a clear: before its `Cleared` record is in flash nothing is
/// cleared; after, the log starts at it. Seqs never repeat either way.
#[test]
fn power_cuts_during_clear() {
    let mut rng = fastrand::Rng::with_seed(seed("cuts during clear", 0xC1EA));
    let (full, _) = log_with(CAPACITY + 10);
    let mut outcomes = [0; 2];
    for round in 0..100 {
        let mut flash = SimFlash::from_bytes(full.bytes().to_vec());
        let mut log = remount(&mut flash);
        let before = read_all(&mut log, &mut flash);
        let next = log.next_seq();
        // Half the cuts in the Cleared record's append, half in the page erases.
        let ops = if round % 2 == 0 { rng.usize(0..4) } else { rng.usize(0..90) };
        let mut cut = CutFlash::new(&mut flash, ops, rng.usize(0..PAGE + 1));
        let Err(LogError::Flash(_)) = log.clear(&mut cut, NOW) else {
            continue; // the cut fell after the clear
        };
        let mut log = EventLog::mount(&mut flash, KEY).expect("the log mounts after a cut clear");
        let found = read_all(&mut log, &mut flash);
        let report = log.verify(&mut flash).unwrap();
        assert!(report.is_intact(), "{report:?}");
        match found.first().map(|r| r.entry) {
            Some(LogEntry::Cleared { removed }) => {
                outcomes[1] += 1;
                assert_eq!(removed as usize, before.len());
                assert_eq!(found.len(), 1);
                assert_eq!(found[0].seq, next);
            }
            _ => {
                outcomes[0] += 1;
                let dropped = before.len() - found.len();
                assert!(dropped <= 40);
                assert_eq!(found[..], before[dropped..]);
            }
        }
        let seq = log.append(&mut flash, NOW, access(0)).unwrap();
        assert_eq!(seq, if found.len() == 1 { next + 1 } else { next });
    }
    println!("clear cut: {} times before its record, {} after", outcomes[0], outcomes[1]);
    assert!(outcomes[0] > 0 && outcomes[1] > 0);
}

#[test]
fn event_log_is_small() {
    assert!(size_of::<EventLog>() <= 80, "{} bytes", size_of::<EventLog>());
}
