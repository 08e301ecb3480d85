//! The lock's own event log: a power-fail-safe, hash-chained FIFO of [`LogRecord`]s on NOR flash.
//!
//! # On flash
//!
//! The log is a `sequential-storage` queue ([`QueueStorage`]) over
//! [`layout::EVENT_LOG`]: 75 pages of 1 KiB. Like the store,
//! the log never owns the flash: every method takes `flash: &mut F` and builds the queue for
//! that one call, so the log and the store share the one flash.
//!
//! A second, smaller queue of the same kind, the reserved area ([`layout::SECURITY_LOG`], 8
//! pages, [`EventLog::mount_reserve`]), keeps a copy of every security record
//! ([`latchkey_protocol::LogClass`]) with its seq: routine records can push security records
//! out of the log, never out of the reserved area, where only newer security records take
//! their room. Its seqs are sparse and its chain runs over the records it holds.
//!
//! Each queue item is one record: the record's postcard encoding followed by an 8-byte chain
//! tag,
//!
//! ```text
//! tag(n) = HMAC-SHA256(log_key, tag(n-1) ‖ postcard(record n))[..8]
//! ```
//!
//! with `tag(0)` all zeros for the first record ever. The library wraps the item in an 8-byte
//! header (CRC-32 of the data, length, CRC-16 of the length) and pads it to a 4-byte word.
//!
//! # Capacity
//!
//! A typical record (an access decision: seq < 2^21, a 2020s timestamp, a user id < 128) is
//! 14 bytes of postcard plus the 8-byte tag: a 32-byte item, 31 to a page (1016 data bytes
//! between the page markers). When the region is full the queue erases its oldest page to make
//! room, so the log holds between 74 and 75 pages' worth: **2,294 to 2,325 typical records**
//! ([`CAPACITY`], measured by `tests/event_log.rs`). The largest realistic records (a clock
//! set, a burst's `Repeated`) are 36-byte items, 28 to a page: 2,072 records if every record
//! were one. Only records with absurd values (timestamps past the year 3000, seqs past 2^28)
//! are larger, up to 52 bytes ([`MAX_ITEM_LEN`] + header): 1,406 records in the very worst
//! case. The reserved area holds about 200 security records.
//!
//! # Sequence numbers
//!
//! Sequence numbers start at 1 and never repeat: [`EventLog::mount`] recovers the next one
//! from the newest record in flash, and the queue only ever drops the *oldest* records (to make
//! room, or in [`EventLog::clear`], which leaves its own `Cleared` record behind). A record
//! whose write a power cut interrupted fails its CRC and is invisible, so its number is used
//! again by the next append: no reader ever saw it. The one case that cannot hold is a region
//! that was wiped (erased by someone, or reformatted by [`EventLog::format`]): nothing is left
//! to recover from and numbering restarts at 1. A caller that must survive that persists a
//! high-water mark elsewhere: whenever `next_seq()` reaches a multiple of N it stores
//! `next_seq()`, and at boot, **only if the mounted log is empty**, it calls
//! [`EventLog::bump_floor`]`(stored + N)`. (Calling it on a non-empty log would open a gap
//! that looks like lost records.)
//!
//! # The chain
//!
//! [`EventLog::verify`] recomputes every tag. It proves the records present are the ones the
//! lock wrote, in that order, with none missing between them. Its limits: the oldest record
//! present can only be checked when its predecessor is also present (or when it is record 1,
//! chained from zeros) — once the oldest records have been dropped, verification starts from
//! the oldest record left, whose own tag is taken on trust ([`VerifyReport::anchored`] says
//! which); records removed from the *front* look exactly like records dropped for capacity; and
//! records removed from the *end* leave no trace in the chain (compare [`EventLog::next_seq`]
//! with a high-water mark kept elsewhere to catch that).
//!
//! # Corruption
//!
//! An item whose bytes no longer match their CRC (a flipped byte, a zeroed header: what a
//! power cut or a hand-edited flash file leaves) is skipped by the library and shows as a gap
//! in [`EventLog::verify`]; an item altered *with* a matching CRC shows as a tag mismatch. A
//! region whose page markers make no sense as a queue is [`LogError::Corrupted`] at mount and
//! is never erased there: erasing is [`EventLog::format`], the caller's decision.
//!
//! # RAM
//!
//! The [`EventLog`] is 76 bytes (two: the log and its reserved area); each call uses a 64-byte item buffer and an HMAC state on the
//! stack. No cache: a scan of the region is cheaper than a cache's RAM.

use core::ops::ControlFlow;

use embassy_embedded_hal::adapter::BlockingAsync;
use embassy_futures::block_on;
use hmac::{Hmac, KeyInit, Mac};
use latchkey_protocol::{LogClass, LogEntry, LogRecord};
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::queue::{QueueConfig, QueueStorage};
use sha2::Sha256;

use crate::hal::{NorFlash, NorFlashError, NorFlashErrorKind};
use crate::region::{Contents, erase_region, layout, scan};

/// Bytes of a chain tag.
pub const TAG_LEN: usize = 8;

/// A record's chain tag.
pub type Tag = [u8; TAG_LEN];

/// Longest postcard encoding of a [`LogRecord`]: seq 5, timestamp 10, and the largest entry
/// (`ClockSet`: variant 1 and two timestamps; `Repeated` of a refused access: variant 1, the
/// access 6, count 3, first time 10) 21. A unit test checks it.
pub const MAX_RECORD_LEN: usize = 36;

/// Longest queue item: a record and its tag.
pub const MAX_ITEM_LEN: usize = MAX_RECORD_LEN + TAG_LEN;

/// Records the log keeps once full, for typical records (32-byte items: see the module doc).
/// Computed from the geometry; `tests/event_log.rs` measures it.
pub const CAPACITY: u32 = {
    let pages = (layout::EVENT_LOG.end - layout::EVENT_LOG.start) / layout::PAGE_SIZE;
    // Page markers: one word at each end of the page.
    let per_page = (layout::PAGE_SIZE - 2 * layout::WORD_SIZE) / TYPICAL_ITEM_BYTES;
    // A full queue erases its oldest page before writing into it.
    (pages - 1) * per_page
};

/// Flash bytes of a typical record's item: 8-byte header, 14-byte record, 8-byte tag, padded.
const TYPICAL_ITEM_BYTES: u32 = 32;

const _: () = assert!(CAPACITY >= 2000, "the issue's budget: at least 2,000 records");

/// Item buffer: the largest item rounded up, word-aligned (the nRF51 NVMC programs words from
/// RAM).
const BUF_LEN: usize = 64;
const _: () = assert!(MAX_ITEM_LEN.next_multiple_of(layout::WORD_SIZE as usize) <= BUF_LEN);

#[repr(C, align(4))]
struct Buf([u8; BUF_LEN]);

impl Buf {
    const fn new() -> Self {
        Self([0; BUF_LEN])
    }
}

/// Why the log failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The flash driver reported an error.
    #[error("flash error: {0}")]
    Flash(NorFlashErrorKind),
    /// The region holds data that is not an event log, or that the store library cannot make
    /// sense of even after its repair. Nothing was erased.
    #[error("event log region is corrupted")]
    Corrupted,
    /// `Cleared` records are written by [`EventLog::clear`] only.
    #[error("a Cleared record can only be written by clearing the log")]
    Reserved,
    /// Sequence numbers are used up (2^32 - 1 records).
    #[error("event log sequence numbers exhausted")]
    Exhausted,
    /// The record could not be encoded.
    #[error("log record could not be encoded")]
    Record,
    /// The store library reported an internal error.
    #[error("store library error")]
    Internal,
}

impl<E: NorFlashError> From<sequential_storage::Error<E>> for LogError {
    fn from(error: sequential_storage::Error<E>) -> Self {
        use sequential_storage::Error;
        match error {
            Error::Storage { value, .. } => Self::Flash(value.kind()),
            Error::Corrupted { .. } => Self::Corrupted,
            Error::SerializationError(_) | Error::ItemTooBig => Self::Record,
            _ => Self::Internal,
        }
    }
}

/// The first place the chain breaks, as [`EventLog::verify`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainBreak {
    /// Records `after + 1 .. next` are missing between two present records: erased, or their
    /// bytes no longer match their CRC.
    Gap {
        /// The last record before the gap.
        after: u32,
        /// The first record after it.
        next: u32,
    },
    /// Record `next` is stored after `after` but is not newer: records were moved.
    OutOfOrder {
        /// The record before, in flash order.
        after: u32,
        /// The record that should have been newer.
        next: u32,
    },
    /// Record `seq`'s tag does not match its bytes and its predecessor's tag: its bytes were
    /// altered (with a CRC to match), or it was put there by someone without the log key.
    TagMismatch {
        /// The record.
        seq: u32,
    },
    /// An item with an intact CRC that is not a log record, after record `after` (0: before
    /// any record).
    Undecodable {
        /// The last record before it.
        after: u32,
    },
}

/// What [`EventLog::verify`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerifyReport {
    /// Records checked (the log's records, as [`EventLog::read`] returns them).
    pub records: u32,
    /// Oldest record's seq, if any.
    pub first_seq: Option<u32>,
    /// Newest record's seq, if any.
    pub last_seq: Option<u32>,
    /// Whether the oldest record's own tag could be checked: it is record 1, or its
    /// predecessor is still in flash (after a clear). Otherwise its tag is taken on trust and
    /// the chain is verified from it on.
    pub anchored: bool,
    /// The first break, if the chain does not hold.
    pub first_break: Option<ChainBreak>,
}

impl VerifyReport {
    /// True if the chain holds over every record present.
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Which of the two queues a log is: the event log, or the reserved area that keeps copies
/// of its security records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// [`layout::EVENT_LOG`]: every record, seqs consecutive.
    Main,
    /// [`layout::SECURITY_LOG`]: copies of the security records only, seqs sparse.
    Reserve,
}

impl Part {
    const fn range(self) -> core::ops::Range<u32> {
        match self {
            Self::Main => layout::EVENT_LOG,
            Self::Reserve => layout::SECURITY_LOG,
        }
    }
}

/// The event log's state in RAM; the records are in flash.
pub struct EventLog {
    part: Part,
    key: [u8; 32],
    /// The seq the next record gets.
    next_seq: u32,
    /// The oldest record's seq (the last `Cleared` record hides those before it); `next_seq`
    /// when the log is empty.
    first_seq: u32,
    /// Records in the log.
    len: u32,
    /// The seq of the oldest item physically in the queue, hidden or not (None: empty, or not a
    /// record): a change after an append means the queue dropped a page.
    oldest: Option<u32>,
    /// The newest record's tag: the next record chains from it.
    last_tag: Tag,
    /// Security records among the `len`.
    security_len: u32,
}

impl Drop for EventLog {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

impl core::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the key.
        f.debug_struct("EventLog")
            .field("next_seq", &self.next_seq)
            .field("first_seq", &self.first_seq)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

type Queue<'f, F> = QueueStorage<BlockingAsync<&'f mut F>, Cache<Uncached, Uncached, Uncached, ()>>;

fn queue<F: NorFlash>(flash: &mut F, part: Part) -> Queue<'_, F> {
    let config = match part {
        Part::Main => const { QueueConfig::new(layout::EVENT_LOG) },
        Part::Reserve => const { QueueConfig::new(layout::SECURITY_LOG) },
    };
    QueueStorage::new(BlockingAsync::new(flash), config, Cache::new_uncached())
}

/// One queue item, decoded.
enum Stored<'a> {
    Record {
        record: LogRecord,
        tag: Tag,
        /// The record's bytes as stored (what its tag covers).
        encoded: &'a [u8],
    },
    /// Intact by its CRC, but not a record.
    Undecodable,
}

fn decode(item: &[u8]) -> Stored<'_> {
    let Some(split) = item.len().checked_sub(TAG_LEN) else {
        return Stored::Undecodable;
    };
    let (encoded, tag_bytes) = item.split_at(split);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(tag_bytes);
    match postcard::take_from_bytes::<LogRecord>(encoded) {
        Ok((record, [])) => Stored::Record { record, tag, encoded },
        _ => Stored::Undecodable,
    }
}

/// `HMAC-SHA256(key, previous ‖ encoded)[..8]`.
fn chain_tag(key: &[u8; 32], previous: &Tag, encoded: &[u8]) -> Tag {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(previous);
    mac.update(encoded);
    let full = mac.finalize().into_bytes();
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&full[..TAG_LEN]);
    tag
}

/// Calls `f` with every item of the queue, oldest first, until it breaks. Items whose CRC does
/// not match are skipped by the library. Reads only (the library may finish an erase a power
/// cut interrupted, which [`check_pages`] allows only where the queue itself erases).
fn walk<F: NorFlash>(
    flash: &mut F,
    part: Part,
    mut f: impl FnMut(Stored<'_>) -> ControlFlow<()>,
) -> Result<(), LogError> {
    let mut queue = queue(flash, part);
    let mut buf = Buf::new();
    let mut iter = block_on(queue.iter())?;
    while let Some(entry) = block_on(iter.next(&mut buf.0))? {
        if f(decode(&entry)).is_break() {
            break;
        }
    }
    Ok(())
}

/// What a scan of the whole queue finds.
struct Scan {
    /// Highest seq present.
    max_seq: Option<u32>,
    /// Newest record's tag (zeros if none).
    last_tag: Tag,
    /// Seq of the newest `Cleared` record, if any.
    cleared: Option<u32>,
    /// Oldest record present.
    oldest: Option<u32>,
    /// Records from the newest `Cleared` on (all of them if none).
    visible: u32,
    /// Security records among them.
    security: u32,
}

fn scan_records<F: NorFlash>(flash: &mut F, part: Part) -> Result<Scan, LogError> {
    let mut scan = Scan {
        max_seq: None,
        last_tag: [0; TAG_LEN],
        cleared: None,
        oldest: None,
        visible: 0,
        security: 0,
    };
    let mut first_item = true;
    walk(flash, part, |stored| {
        if let Stored::Record { record, tag, .. } = stored {
            if first_item {
                scan.oldest = Some(record.seq);
            }
            // The reserve shows everything it holds: a clear never hides security records.
            if let (LogEntry::Cleared { .. }, Part::Main) = (record.entry, part) {
                scan.cleared = Some(record.seq);
                scan.visible = 0;
                scan.security = 0;
            }
            scan.visible += 1;
            if record.entry.class() == LogClass::Security {
                scan.security += 1;
            }
            scan.max_seq = Some(scan.max_seq.map_or(record.seq, |max| max.max(record.seq)));
            scan.last_tag = tag;
        }
        first_item = false;
        ControlFlow::Continue(())
    })?;
    Ok(scan)
}

impl EventLog {
    /// Mounts the log on `flash` with the key its records are chained with.
    ///
    /// A region whose every byte is 0x00 or 0xFF holds no log (0x00 is how QEMU's nRF51 reads
    /// flash nobody programmed; every page marker and item CRC has other bytes) and is erased,
    /// as the store does. Anything else is mounted and never erased: a region whose page
    /// markers are not a queue's is [`LogError::Corrupted`]. Then the queue is scanned (one
    /// pass) for the next seq, the last tag, the oldest seq and the count.
    pub fn mount<F: NorFlash>(flash: &mut F, log_key: [u8; 32]) -> Result<Self, LogError> {
        Self::mount_part(flash, log_key, Part::Main)
    }

    /// Mounts the reserved area ([`layout::SECURITY_LOG`]) as a log of its own: copies of
    /// the main log's security records ([`Self::keep_copy`]), with the same seqs (so they are
    /// sparse) and a chain of their own under the same key. It drops records only to make
    /// room for newer security records, and a clear of the main log leaves it as it is.
    pub fn mount_reserve<F: NorFlash>(flash: &mut F, log_key: [u8; 32]) -> Result<Self, LogError> {
        Self::mount_part(flash, log_key, Part::Reserve)
    }

    fn mount_part<F: NorFlash>(
        flash: &mut F,
        log_key: [u8; 32],
        part: Part,
    ) -> Result<Self, LogError> {
        const {
            assert!(F::ERASE_SIZE == layout::PAGE_SIZE as usize);
            assert!(F::WRITE_SIZE <= layout::WORD_SIZE as usize);
            assert!(F::READ_SIZE <= MARKER_READ_MAX);
        }
        match scan(flash, part.range()).map_err(LogError::Flash)? {
            Contents::Erased => {}
            Contents::Blank => erase_region(flash, part.range()).map_err(LogError::Flash)?,
            Contents::Data => check_pages(flash, part)?,
        }
        let mut log = Self {
            part,
            key: log_key,
            next_seq: 1,
            first_seq: 1,
            len: 0,
            oldest: None,
            last_tag: [0; TAG_LEN],
            security_len: 0,
        };
        log.rescan(flash)?;
        Ok(log)
    }

    /// Erases the whole region and mounts an empty log on it, whatever it held: the way out
    /// of [`LogError::Corrupted`], when the caller decides the records are lost. Numbering
    /// restarts at 1: call [`Self::bump_floor`] with the caller's high-water mark.
    pub fn format<F: NorFlash>(flash: &mut F, log_key: [u8; 32]) -> Result<Self, LogError> {
        erase_region(flash, layout::EVENT_LOG).map_err(LogError::Flash)?;
        Self::mount(flash, log_key)
    }

    /// Erases the reserved area and mounts it empty (the way out of its
    /// [`LogError::Corrupted`]).
    pub fn format_reserve<F: NorFlash>(flash: &mut F, log_key: [u8; 32]) -> Result<Self, LogError> {
        erase_region(flash, layout::SECURITY_LOG).map_err(LogError::Flash)?;
        Self::mount_reserve(flash, log_key)
    }

    /// Re-reads the state from flash (mount, and after the queue dropped records). Keeps a
    /// raised floor.
    fn rescan<F: NorFlash>(&mut self, flash: &mut F) -> Result<(), LogError> {
        let scan = scan_records(flash, self.part)?;
        let recovered = scan.max_seq.map_or(1, |max| max.saturating_add(1));
        self.next_seq = self.next_seq.max(recovered);
        self.last_tag = scan.last_tag;
        self.oldest = scan.oldest;
        self.len = scan.visible;
        self.security_len = scan.security;
        self.first_seq = match (scan.cleared, scan.oldest) {
            (Some(cleared), _) => cleared,
            (None, Some(oldest)) => oldest,
            (None, None) => self.next_seq,
        };
        Ok(())
    }

    /// The seq the next record gets.
    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// The oldest record's seq; [`Self::next_seq`] when the log is empty. Greater than 1 once
    /// records were dropped for room or cleared: the gap is visible.
    pub fn first_seq(&self) -> u32 {
        self.first_seq
    }

    /// Records in the log.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True if the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Records the log keeps once full: [`CAPACITY`] typical records (see the module doc).
    pub fn capacity(&self) -> u32 {
        CAPACITY
    }

    /// Security records among [`Self::len`]: with it, a caller tells by class what an append
    /// dropped for room (what was held plus the new record, less what is).
    pub fn security_len(&self) -> u32 {
        self.security_len
    }

    /// Raises the next seq to at least `min_next_seq` (never lowers it). For a log found
    /// empty at boot whose region may have been wiped: see the module doc.
    pub fn bump_floor(&mut self, min_next_seq: u32) {
        self.next_seq = self.next_seq.max(min_next_seq);
        if self.len == 0 {
            self.first_seq = self.next_seq;
        }
    }

    /// Appends a record of `entry` at `at` (Unix seconds, 0 if the clock is not set) and
    /// returns its seq once it is in flash. A full log drops its oldest page of records first.
    /// `Cleared` is [`LogError::Reserved`]: only [`Self::clear`] writes it.
    pub fn append<F: NorFlash>(
        &mut self,
        flash: &mut F,
        at: u64,
        entry: LogEntry,
    ) -> Result<u32, LogError> {
        if let LogEntry::Cleared { .. } = entry {
            return Err(LogError::Reserved);
        }
        if self.part == Part::Reserve {
            return Err(LogError::Reserved);
        }
        self.push(flash, LogRecord { seq: self.next_seq, at, entry })
    }

    /// Keeps a copy of `record`, a security record the main log just appended, in the reserved
    /// area. Only for a log mounted with [`Self::mount_reserve`], and records newer than any
    /// it holds.
    pub fn keep_copy<F: NorFlash>(
        &mut self,
        flash: &mut F,
        record: &LogRecord,
    ) -> Result<(), LogError> {
        if self.part != Part::Reserve || record.seq < self.next_seq {
            return Err(LogError::Reserved);
        }
        self.push(flash, *record).map(drop)
    }

    fn push<F: NorFlash>(&mut self, flash: &mut F, record: LogRecord) -> Result<u32, LogError> {
        let seq = record.seq;
        if seq == u32::MAX {
            return Err(LogError::Exhausted);
        }
        let security = record.entry.class() == LogClass::Security;
        let mut buf = Buf::new();
        let len = postcard::to_slice(&record, &mut buf.0[..MAX_RECORD_LEN])
            .map_err(|_| LogError::Record)?
            .len();
        let tag = chain_tag(&self.key, &self.last_tag, &buf.0[..len]);
        buf.0[len..len + TAG_LEN].copy_from_slice(&tag);
        {
            let mut queue = queue(flash, self.part);
            // Overwrite: a full queue erases its oldest page, a page's worth of records.
            block_on(queue.push(&buf.0[..len + TAG_LEN], true))?;
        }
        self.next_seq = seq + 1;
        self.last_tag = tag;
        if self.len == 0 {
            self.first_seq = seq;
        }
        self.len += 1;
        if security {
            self.security_len += 1;
        }
        if self.oldest.is_none() {
            self.oldest = Some(seq);
        }
        // Did the push drop the oldest page? The oldest item tells: rescan if it changed.
        if self.oldest_item(flash)? != self.oldest {
            self.rescan(flash)?;
        }
        Ok(seq)
    }

    /// The seq of the oldest item in the queue (None: empty, or not a record).
    fn oldest_item<F: NorFlash>(&mut self, flash: &mut F) -> Result<Option<u32>, LogError> {
        let mut oldest = None;
        walk(flash, self.part, |stored| {
            if let Stored::Record { record, .. } = stored {
                oldest = Some(record.seq);
            }
            ControlFlow::Break(())
        })?;
        Ok(oldest)
    }

    /// Copies the records with seq ≥ `from_seq` into `out`, oldest first, as many as fit, and
    /// returns how many. Reads only. Each call is one pass over the region from its oldest
    /// record (see [`Self::for_each`] to stream them all in one pass); to page through the log,
    /// pass the seq after the last one returned.
    pub fn read<F: NorFlash>(
        &mut self,
        flash: &mut F,
        from_seq: u32,
        out: &mut [LogRecord],
    ) -> Result<usize, LogError> {
        let mut n = 0;
        if out.is_empty() {
            return Ok(0);
        }
        self.for_each(flash, from_seq, |record| match out.get_mut(n) {
            Some(slot) => {
                *slot = *record;
                n += 1;
                if n == out.len() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            }
            None => ControlFlow::Break(()),
        })?;
        Ok(n)
    }

    /// Calls `f` with every record with seq ≥ `from_seq`, oldest first, until it breaks: one
    /// pass over the region, no buffer. Reads only.
    pub fn for_each<F: NorFlash>(
        &mut self,
        flash: &mut F,
        from_seq: u32,
        mut f: impl FnMut(&LogRecord) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        let from = from_seq.max(self.first_seq);
        walk(flash, self.part, |stored| match stored {
            Stored::Record { record, .. } if record.seq >= from => f(&record),
            _ => ControlFlow::Continue(()),
        })
    }

    /// The newest record's chain tag (all zero while the log holds none).
    pub fn last_tag(&self) -> Tag {
        self.last_tag
    }

    /// Record `seq`'s chain tag as stored, if the log still holds it. Reads only.
    pub fn tag_of<F: NorFlash>(
        &mut self,
        flash: &mut F,
        seq: u32,
    ) -> Result<Option<Tag>, LogError> {
        let mut found = None;
        if seq >= self.first_seq {
            walk(flash, self.part, |stored| match stored {
                Stored::Record { record, tag, .. } if record.seq == seq => {
                    found = Some(tag);
                    ControlFlow::Break(())
                }
                _ => ControlFlow::Continue(()),
            })?;
        }
        Ok(found)
    }

    /// Recomputes the chain over every record of the log and reports the first break.
    ///
    /// On the reserved area, whose seqs are sparse, a missing record shows as the next one's
    /// tag mismatch (its chain runs over the records it holds), not as a gap.
    pub fn verify<F: NorFlash>(&mut self, flash: &mut F) -> Result<VerifyReport, LogError> {
        let sparse = self.part == Part::Reserve;
        let first = self.first_seq;
        let key = &self.key;
        let mut report = VerifyReport::default();
        // The record before, in flash order: seq and tag.
        let mut previous: Option<(u32, Tag)> = None;
        let breaks = |report: &mut VerifyReport, found: ChainBreak| {
            report.first_break.get_or_insert(found);
        };
        walk(flash, self.part, |stored| {
            let (record, tag, encoded) = match stored {
                Stored::Record { record, tag, encoded } => (record, tag, encoded),
                Stored::Undecodable => {
                    // Unless it is among records hidden by a clear.
                    if previous.is_none_or(|(seq, _)| seq.saturating_add(1) >= first) {
                        let after = previous.map_or(0, |(seq, _)| seq);
                        breaks(&mut report, ChainBreak::Undecodable { after });
                    }
                    return ControlFlow::Continue(());
                }
            };
            if record.seq < first && report.first_seq.is_none() {
                // Hidden by a clear: only a possible predecessor of the first record.
                previous = Some((record.seq, tag));
                return ControlFlow::Continue(());
            }
            let is_first = report.first_seq.is_none();
            report.records += 1;
            report.first_seq.get_or_insert(record.seq);
            report.last_seq = Some(record.seq);
            let chained_from = match previous {
                Some((seq, prev_tag)) if seq.checked_add(1) == Some(record.seq) => Some(prev_tag),
                Some((seq, prev_tag)) if sparse && record.seq > seq => Some(prev_tag),
                None if record.seq == 1 => Some([0; TAG_LEN]),
                Some((seq, _)) if !is_first => {
                    let found = if record.seq > seq {
                        ChainBreak::Gap { after: seq, next: record.seq }
                    } else {
                        ChainBreak::OutOfOrder { after: seq, next: record.seq }
                    };
                    breaks(&mut report, found);
                    None
                }
                // The oldest record without its predecessor: taken on trust.
                _ => None,
            };
            if let Some(prev_tag) = chained_from {
                if is_first {
                    report.anchored = true;
                }
                if chain_tag(key, &prev_tag, encoded) != tag {
                    breaks(&mut report, ChainBreak::TagMismatch { seq: record.seq });
                }
            }
            // Go on from this record whatever happened, so the count covers the whole log.
            previous = Some((record.seq, tag));
            ControlFlow::Continue(())
        })?;
        Ok(report)
    }

    /// Clears the log: appends `Cleared { removed }` at `at`, which hides every older record,
    /// then erases every page that holds only older records. Returns how many were removed.
    /// The seq goes on (`Cleared` gets the next one) and the chain too.
    ///
    /// Power-cut safe: cut before `Cleared` is in flash, nothing was cleared; after, the log
    /// starts at `Cleared` and pages left unerased are hidden and recycled as the log wraps.
    /// Older records that share the `Cleared` record's page stay in flash, unreachable, until
    /// that page is recycled (this flash cannot rewrite a word in place).
    pub fn clear<F: NorFlash>(&mut self, flash: &mut F, at: u64) -> Result<u32, LogError> {
        if self.part == Part::Reserve {
            return Err(LogError::Reserved);
        }
        let removed = self.len;
        let record = LogRecord { seq: self.next_seq, at, entry: LogEntry::Cleared { removed } };
        self.push(flash, record)?;
        // The youngest page holds `Cleared`; every closed page is older. Erase them oldest
        // first, so a cut leaves a queue whose oldest pages are gone.
        let pages = page_count(self.part);
        let mut youngest = None;
        for page in 0..pages {
            if page_state(flash, self.part, page)? == PageState::PartialOpen {
                youngest = Some(page);
            }
        }
        let youngest = youngest.ok_or(LogError::Internal)?;
        for step in 1..pages {
            let page = (youngest + step) % pages;
            if page_state(flash, self.part, page)? == PageState::Closed {
                let start = page_address(self.part, page);
                flash
                    .erase(start, start + layout::PAGE_SIZE)
                    .map_err(|e| LogError::Flash(e.kind()))?;
            }
        }
        self.rescan(flash)?;
        Ok(removed)
    }
}

// ---- the region, below the library: classification and page-marker checks ------------------

/// Largest `READ_SIZE` the marker checks support (the library's `MAX_WORD_SIZE`).
const MARKER_READ_MAX: usize = 32;

fn page_count(part: Part) -> u32 {
    (part.range().end - part.range().start) / layout::PAGE_SIZE
}

fn page_address(part: Part, page: u32) -> u32 {
    part.range().start + page * layout::PAGE_SIZE
}

/// A page's state by its markers, as `sequential-storage` decides it: a marker is written
/// if at least 4 bits of its first `READ_SIZE` bytes are 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PageState {
    /// Both markers: full.
    Closed,
    /// Start marker only: being written.
    PartialOpen,
    /// No marker: erased.
    Open,
    /// End marker only: an erase a power cut interrupted (the library finishes it).
    HalfErased,
}

fn page_state<F: NorFlash>(flash: &mut F, part: Part, page: u32) -> Result<PageState, LogError> {
    let start = page_address(part, page);
    let end = start + layout::PAGE_SIZE - F::READ_SIZE as u32;
    let mut marked = [false; 2];
    for (slot, address) in marked.iter_mut().zip([start, end]) {
        let mut bytes = [0u8; MARKER_READ_MAX];
        let bytes = &mut bytes[..F::READ_SIZE];
        flash.read(address, bytes).map_err(|e| LogError::Flash(e.kind()))?;
        *slot = bytes.iter().map(|b| b.count_zeros()).sum::<u32>() >= 4;
    }
    Ok(match marked {
        [true, true] => PageState::Closed,
        [true, false] => PageState::PartialOpen,
        [false, false] => PageState::Open,
        [false, true] => PageState::HalfErased,
    })
}

/// Checks that the page markers are a queue's, before the library (whose repair erases pages
/// it finds half-erased) touches the region. In ring order a queue is: its closed pages
/// (oldest first), at most one partly written page, then its erased pages; a power cut can
/// leave one half-erased page where the queue erases (the first erased page, or, during a
/// clear, the last). So, counting a half-erased page as erased, the ring must be a rotation of
/// `Closed* PartialOpen? Open*`, with at least one page not closed.
fn check_pages<F: NorFlash>(flash: &mut F, part: Part) -> Result<(), LogError> {
    let pages = page_count(part);
    let rank = |state| match state {
        PageState::Closed => 0u8,
        PageState::PartialOpen => 1,
        PageState::Open | PageState::HalfErased => 2,
    };
    let mut partial = 0;
    let mut half_erased = 0;
    let mut closed = 0;
    let mut descents = 0;
    let first = page_state(flash, part, 0)?;
    let mut previous = first;
    for page in 0..pages {
        let state = if page == 0 { first } else { page_state(flash, part, page)? };
        match state {
            PageState::Closed => closed += 1,
            PageState::PartialOpen => partial += 1,
            PageState::HalfErased => half_erased += 1,
            PageState::Open => {}
        }
        if page > 0 && rank(state) < rank(previous) {
            descents += 1;
        }
        previous = state;
    }
    // The ring closes: last page to first.
    if rank(first) < rank(previous) {
        descents += 1;
    }
    if partial > 1 || half_erased > 1 || closed == pages || descents > 1 {
        return Err(LogError::Corrupted);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_protocol::{
        AccessPath, AccessReason, Alarm, BatteryState, ChangeKind, ResetReason, Role,
    };

    /// Every entry variant at its largest.
    fn largest_entries() -> [LogEntry; 11] {
        [
            LogEntry::Access {
                path: AccessPath::MechanicalKey,
                granted: true,
                user: Some(u16::MAX),
                reason: AccessReason::MechanicalKey,
            },
            LogEntry::Change {
                what: ChangeKind::TimeZone,
                role: Role::Technician,
                user: Some(u16::MAX),
            },
            LogEntry::Alarm { alarm: Alarm::CriticalBattery, raised: true },
            LogEntry::Battery {
                millivolts: u16::MAX,
                state: BatteryState::Critical,
                replaced: true,
            },
            LogEntry::PowerUp { boot_count: u32::MAX, reason: ResetReason::Panic },
            LogEntry::ClockSet { from: u64::MAX, to: u64::MAX },
            LogEntry::Session { role: Role::Technician, opened: true },
            LogEntry::AuthFailed { claim: true },
            LogEntry::Cleared { removed: u32::MAX },
            LogEntry::DuplicatePin { role: Role::Technician, user: Some(u16::MAX) },
            LogEntry::Repeated {
                of: latchkey_protocol::Repeat::Access {
                    path: AccessPath::MechanicalKey,
                    user: Some(u16::MAX),
                    reason: AccessReason::MechanicalKey,
                },
                count: u16::MAX,
                first: u64::MAX,
            },
        ]
    }

    #[test]
    fn max_record_len_is_the_largest_encoding() {
        let mut buf = [0u8; 128];
        let longest = largest_entries()
            .into_iter()
            .map(|entry| {
                let record = LogRecord { seq: u32::MAX, at: u64::MAX, entry };
                postcard::to_slice(&record, &mut buf).unwrap().len()
            })
            .max()
            .unwrap();
        assert_eq!(longest, MAX_RECORD_LEN);
    }

    #[test]
    fn typical_record_is_a_32_byte_item() {
        let record = LogRecord {
            seq: (1 << 21) - 1,
            at: 1_900_000_000,
            entry: LogEntry::Access {
                path: AccessPath::Keypad,
                granted: true,
                user: Some(127),
                reason: AccessReason::Granted,
            },
        };
        let mut buf = [0u8; 64];
        let len = postcard::to_slice(&record, &mut buf).unwrap().len();
        assert_eq!(len, 14);
        assert_eq!(8 + (len + TAG_LEN).next_multiple_of(4), TYPICAL_ITEM_BYTES as usize);
    }

    #[test]
    fn chain_tag_covers_previous_tag_and_bytes() {
        let key = [7; 32];
        let a = chain_tag(&key, &[0; TAG_LEN], b"record");
        assert_ne!(a, chain_tag(&key, &[1; TAG_LEN], b"record"));
        assert_ne!(a, chain_tag(&key, &[0; TAG_LEN], b"recorD"));
        assert_ne!(a, chain_tag(&[8; 32], &[0; TAG_LEN], b"record"));
    }
}
