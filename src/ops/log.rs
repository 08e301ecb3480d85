//! Reading the lock's event log: one page-walker ([`Cursor`]) under every reader — the
//! records of a range ([`records`], for `log read` and `log follow`), the newest records
//! followed from poll to poll ([`LogTail`], for the dashboard) — and why the records before
//! the oldest one kept are gone ([`Gap`]).

use std::collections::VecDeque;

use latchkey_protocol::{LOG_PAGE, LOG_TAG_LEN, LogEntry, LogHead, LogRecord, Request, Response};

use crate::link::{Client, ClientError, LogPage};

/// Where pages of the log come from: the lock's client, or (in tests) anything that answers
/// like it.
pub trait LogSource {
    /// Records with `seq >= from_seq`, one page, with where the log stands.
    fn read_log(&mut self, from_seq: u32) -> Result<LogPage, ClientError>;

    /// Pages from each of `froms`, in order; a source that can have several requests in
    /// flight asks for them at once. The first refusal ends it.
    fn read_pages(&mut self, froms: &[u32]) -> Result<Vec<LogPage>, ClientError> {
        froms.iter().map(|&from| self.read_log(from)).collect()
    }

    /// How many pages [`LogSource::read_pages`] is worth asking at once.
    fn window(&self) -> usize {
        1
    }
}

impl LogSource for Client {
    fn read_log(&mut self, from_seq: u32) -> Result<LogPage, ClientError> {
        Client::read_log(self, from_seq)
    }

    fn read_pages(&mut self, froms: &[u32]) -> Result<Vec<LogPage>, ClientError> {
        let requests: Vec<Request> =
            froms.iter().map(|&from_seq| Request::ReadLog { from_seq }).collect();
        self.pipeline(&requests)?
            .into_iter()
            .map(|answer| match answer? {
                Response::Log { records, first_seq, next_seq } => {
                    Ok(LogPage { records: records.into_iter().collect(), first_seq, next_seq })
                }
                other => Err(ClientError::Unexpected(format!("{other:?}"))),
            })
            .collect()
    }

    fn window(&self) -> usize {
        Client::window(self)
    }
}

impl<F: FnMut(u32) -> Result<LogPage, ClientError>> LogSource for F {
    fn read_log(&mut self, from_seq: u32) -> Result<LogPage, ClientError> {
        self(from_seq)
    }
}

/// Where the log stands: a page from the very end holds no records, only its bounds.
pub fn bounds(source: &mut impl LogSource) -> Result<LogPage, ClientError> {
    source.read_log(u32::MAX)
}

/// A position in the log, moved forward a page at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    next: u32,
}

impl Cursor {
    /// At `seq` (records from it on come next).
    pub const fn at(seq: u32) -> Self {
        Self { next: seq }
    }

    /// The sequence number asked for next.
    pub const fn next_seq(&self) -> u32 {
        self.next
    }

    /// Moves to `seq`.
    pub fn seek(&mut self, seq: u32) {
        self.next = seq;
    }

    /// Reads the page from here, and moves past its records. The page keeps only records
    /// from here on; none when the cursor has caught up with the log.
    pub fn page(&mut self, source: &mut impl LogSource) -> Result<LogPage, ClientError> {
        let page = source.read_log(self.next)?;
        Ok(self.accept(page))
    }

    /// Takes a page read from here by someone else, as [`Cursor::page`] would.
    pub fn accept(&mut self, mut page: LogPage) -> LogPage {
        let next = self.next;
        page.records.retain(|r| r.seq >= next);
        if let Some(last) = page.records.last() {
            self.next = last.seq.saturating_add(1);
        }
        page
    }
}

/// The records from a sequence number on, oldest first, read a page at a time. The iterator
/// ends when it has caught up with the log (or reached [`Records::until`]); asked again
/// afterwards, it reads again, so a follower calls it after each pause.
pub struct Records<'a, S: LogSource> {
    source: &'a mut S,
    cursor: Cursor,
    buffer: VecDeque<LogRecord>,
    end: Option<u32>,
}

/// The records of the log from `from` on; see [`Records`].
pub fn records<S: LogSource>(source: &mut S, from: u32) -> Records<'_, S> {
    Records { source, cursor: Cursor::at(from), buffer: VecDeque::new(), end: None }
}

impl<S: LogSource> Records<'_, S> {
    /// Stops before reading past `end` (the log's end when the reading began, so a busy lock
    /// cannot keep the reader going).
    pub fn until(mut self, end: u32) -> Self {
        self.end = Some(end);
        self
    }

    /// Starts with a page already read from the start (to look at its oldest record first).
    pub fn starting_with(mut self, page: LogPage) -> Self {
        self.buffer.extend(self.cursor.accept(page).records);
        self
    }

    /// The sequence number the next page would be read from.
    pub fn next_seq(&self) -> u32 {
        self.cursor.next_seq()
    }
}

impl<S: LogSource> Iterator for Records<'_, S> {
    type Item = Result<LogRecord, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(record) = self.buffer.pop_front() {
            return Some(Ok(record));
        }
        if self.end.is_some_and(|end| self.cursor.next_seq() >= end) {
            return None;
        }
        // With the end known, the next pages' starts are known too (a page holds LOG_PAGE
        // records; a gap in the sequence only makes pages overlap, which the cursor drops):
        // ask for as many at once as the source keeps in flight.
        let from = self.cursor.next_seq();
        let pages = match self.end {
            Some(end) if self.source.window() > 1 => {
                let left = end.saturating_sub(from).div_ceil(LOG_PAGE as u32) as usize;
                let n = left.clamp(1, self.source.window());
                let froms: Vec<u32> =
                    (0..n as u32).map(|k| from.saturating_add(k * LOG_PAGE as u32)).collect();
                self.source.read_pages(&froms)
            }
            _ => self.source.read_log(from).map(|page| vec![page]),
        };
        match pages {
            Ok(pages) => {
                for page in pages {
                    self.buffer.extend(self.cursor.accept(page).records);
                }
                self.buffer.pop_front().map(Ok)
            }
            Err(e) => Some(Err(e)),
        }
    }
}

/// Records the dashboard keeps: its log panel shows as many of the newest as fit.
pub const LOG_KEPT: usize = 2 * LOG_PAGE;
/// Pages read per poll at most, so a lock writing fast cannot hold a reading up.
const LOG_PAGES_PER_POLL: usize = 3;

/// The newest records of the lock's log, followed from poll to poll: after the first fill a
/// poll asks only for what is new (one request while nothing happens).
#[derive(Debug, Default)]
pub struct LogTail {
    records: VecDeque<LogRecord>,
    /// Where the next poll reads; `None` until the log's end is known.
    cursor: Option<Cursor>,
}

impl LogTail {
    /// Reads what is new; returns the newest records, oldest first.
    pub fn refresh(&mut self, source: &mut impl LogSource) -> Result<Vec<LogRecord>, ClientError> {
        let kept = LOG_KEPT as u32;
        let mut cursor = match self.cursor {
            Some(cursor) => cursor,
            None => Cursor::at(bounds(source)?.next_seq.saturating_sub(kept).max(1)),
        };
        for _ in 0..LOG_PAGES_PER_POLL {
            let from = cursor.next_seq();
            let page = cursor.page(source)?;
            if page.next_seq < from {
                // Numbering went back: another lock on the port, or its flash was wiped.
                self.records.clear();
                cursor.seek(page.next_seq.saturating_sub(kept).max(1));
                self.cursor = Some(cursor);
                continue;
            }
            if page.next_seq - from > kept + LOG_PAGE as u32 {
                // Far behind: what lies between would scroll away unseen.
                self.records.clear();
                cursor.seek(page.next_seq - kept);
                self.cursor = Some(cursor);
                continue;
            }
            if page.records.is_empty() {
                break;
            }
            self.records.extend(page.records);
            while self.records.len() > LOG_KEPT {
                self.records.pop_front();
            }
            self.cursor = Some(cursor);
            if cursor.next_seq() >= page.next_seq {
                break;
            }
        }
        self.cursor = Some(cursor);
        Ok(self.records.iter().copied().collect())
    }
}

/// What the lock's log head says against the head this host saw on it before
/// ([`check_head`]): the lock's chain proves the records it holds, not that none were cut
/// from its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadCheck {
    /// This host never saw this lock's log.
    FirstSeen,
    /// The head seen last time is still there, unchanged (or has since gone for room), and
    /// the log went on from it.
    Holds,
    /// The log ends before the head seen last time: its tail was cut.
    Truncated {
        /// The head seen.
        seen: u32,
        /// The newest record the lock holds now (0: none).
        last: u32,
    },
    /// The record seen last time is there but is not the same (or missing while records
    /// before it are not): the log was rewritten.
    Rewritten {
        /// The record.
        seq: u32,
    },
    /// The checkpoint is not signed by the device key this host pinned for the lock, or is not
    /// the answer to what was asked: another lock, or forged.
    BadSignature,
}

/// A log head as this host remembers it: the newest record's seq and its chain tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenHead {
    /// The newest record's seq.
    pub seq: u32,
    /// Its chain tag.
    pub tag: [u8; LOG_TAG_LEN],
}

/// Checks `head`, the lock's answer to [`Request::GetLogHead`] with `nonce` about
/// `seen.seq`, from lock `serial` whose oldest record is `first_seq`: its signature against
/// `device_key` (required when the lock signs, [`latchkey_protocol::Capabilities`]), then
/// the head against `seen`, the one this host saw before.
pub fn check_head(
    head: &LogHead,
    serial: &str,
    nonce: &[u8; 32],
    device_key: Option<&[u8; 32]>,
    first_seq: u32,
    seen: Option<SeenHead>,
) -> HeadCheck {
    if let Some(key) = device_key {
        let signed = head.signature_bytes().is_some_and(|signature| {
            let signature = ed25519_dalek::Signature::from_bytes(&signature);
            ed25519_dalek::VerifyingKey::from_bytes(key).is_ok_and(|key| {
                key.verify_strict(&head.signed_bytes(serial, nonce), &signature).is_ok()
            })
        });
        if !signed {
            return HeadCheck::BadSignature;
        }
    }
    if head.seen != seen.map_or(0, |s| s.seq) {
        return HeadCheck::BadSignature;
    }
    let Some(seen) = seen else {
        return HeadCheck::FirstSeen;
    };
    if head.seq < seen.seq {
        return HeadCheck::Truncated { seen: seen.seq, last: head.seq };
    }
    match head.seen_tag {
        Some(tag) if tag != seen.tag => HeadCheck::Rewritten { seq: seen.seq },
        Some(_) => HeadCheck::Holds,
        // Gone for room: nothing left to compare.
        None if seen.seq < first_seq => HeadCheck::Holds,
        None => HeadCheck::Rewritten { seq: seen.seq },
    }
}

/// Why the records before the oldest one the lock holds are gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapCause {
    /// The log filled up and dropped its oldest records (it keeps about `capacity`).
    Full {
        /// Records the log keeps at least.
        capacity: u32,
    },
    /// An installer cleared the log: the oldest record is the clearing, `seq`, at `at`
    /// (0: the lock's clock was not set), which removed the `removed` records before it.
    Cleared {
        /// The clearing's own record.
        seq: u32,
        /// When.
        at: u64,
        /// Records it removed.
        removed: u32,
    },
    /// The log is far from full yet numbering does not start at 1: its flash was wiped and
    /// numbering went on from the lock's high-water mark.
    Erased {
        /// Records the log holds.
        held: u32,
        /// Records it keeps at least.
        capacity: u32,
    },
    /// Not told: the oldest record changed between the chain check and reading it.
    Unknown,
}

impl GapCause {
    /// A stable lower-case name for scripts and JSON (`dropped_because`).
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Full { .. } => "full",
            Self::Cleared { .. } => "cleared",
            Self::Erased { .. } => "erased",
            Self::Unknown => "unknown",
        }
    }
}

/// The records before the oldest one kept: seqs `1..=gone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The newest record gone.
    pub gone: u32,
    /// Why.
    pub cause: GapCause,
}

impl Gap {
    /// The gap of a log whose oldest record is `first_seq` (that record, when read, is
    /// `oldest`) and whose next is `next_seq`, for a log keeping at least `capacity`
    /// records; `None` when nothing is gone.
    pub fn of(
        first_seq: u32,
        next_seq: u32,
        oldest: Option<&LogRecord>,
        capacity: u32,
    ) -> Option<Gap> {
        let gone = first_seq.checked_sub(1).filter(|&n| n > 0)?;
        let held = next_seq.saturating_sub(first_seq);
        let cause = match oldest {
            Some(&LogRecord { seq, at, entry: LogEntry::Cleared { removed } })
                if seq == first_seq =>
            {
                GapCause::Cleared { seq, at, removed }
            }
            // A log that dropped records for room is full: at least 74 of its 75 pages,
            // 1,406 records in the very worst case of the largest records (firmware log.rs).
            // Far fewer, and nothing cleared: the records were not dropped for room.
            _ if held < capacity / 2 => GapCause::Erased { held, capacity },
            _ => GapCause::Full { capacity },
        };
        Some(Gap { gone, cause })
    }

    /// The gap of a log as its first page shows it; `None` when nothing is gone. (Records
    /// before `first_seq` on the page are security records the lock kept from the gap.)
    pub fn of_page(page: &LogPage, capacity: u32) -> Option<Gap> {
        let oldest = page.records.iter().find(|r| r.seq >= page.first_seq);
        Gap::of(page.first_seq, page.next_seq, oldest, capacity)
    }
}

#[cfg(test)]
mod tests {
    use latchkey_protocol::{Role, Status};

    use super::*;

    /// A lock's log holding `first..next`, read a page at a time like the firmware does;
    /// counts the requests.
    struct FakeLog {
        first: u32,
        next: u32,
        requests: u32,
    }

    impl LogSource for FakeLog {
        fn read_log(&mut self, from_seq: u32) -> Result<LogPage, ClientError> {
            self.requests += 1;
            let records = (from_seq.max(self.first)..self.next)
                .take(LOG_PAGE)
                .map(|seq| LogRecord {
                    seq,
                    at: 0,
                    entry: LogEntry::Session { role: Role::Technician, opened: true },
                })
                .collect();
            Ok(LogPage { records, first_seq: self.first, next_seq: self.next })
        }
    }

    fn seqs(records: &[LogRecord]) -> Vec<u32> {
        records.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn records_read_a_range_page_by_page_and_follow_what_comes_later() {
        let mut lock = FakeLog { first: 5, next: 40, requests: 0 };
        let all: Vec<u32> = records(&mut lock, 1).map(|r| r.unwrap().seq).collect();
        assert_eq!(all, (5..40).collect::<Vec<_>>());
        // Five pages (of eight records at most), and the empty one that says the reader
        // caught up.
        assert_eq!(lock.requests, 6);

        // Up to the end as it was: no page beyond it.
        lock.requests = 0;
        let some: Vec<u32> = records(&mut lock, 30).until(33).map(|r| r.unwrap().seq).collect();
        assert_eq!(some, (30..38).collect::<Vec<_>>());
        assert_eq!(lock.requests, 1);

        // A follower: caught up, then new records, then caught up again.
        let mut lock = FakeLog { first: 1, next: 3, requests: 0 };
        let mut seen = Vec::new();
        {
            let mut follow = records(&mut lock, 1);
            seen.extend(follow.by_ref().map(|r| r.unwrap().seq));
            assert_eq!(follow.next_seq(), 3);
        }
        lock.next = 5;
        let mut follow = records(&mut lock, 3);
        seen.extend(follow.by_ref().map(|r| r.unwrap().seq));
        assert_eq!(seen, [1, 2, 3, 4]);
        assert!(follow.next().is_none());
    }

    /// A head as a lock with `key` signs it, for a host that saw `seen` and sent `nonce`.
    fn signed_head(
        key: &ed25519_dalek::SigningKey,
        seq: u32,
        tag: u8,
        seen: u32,
        seen_tag: Option<u8>,
        nonce: &[u8; 32],
    ) -> LogHead {
        use ed25519_dalek::Signer;
        let mut head = LogHead {
            seq,
            tag: [tag; LOG_TAG_LEN],
            seen,
            seen_tag: seen_tag.map(|t| [t; LOG_TAG_LEN]),
            signature: None,
        };
        let signature = key.sign(&head.signed_bytes("S1", nonce)).to_bytes();
        let mut halves = [[0; 32]; 2];
        halves[0].copy_from_slice(&signature[..32]);
        halves[1].copy_from_slice(&signature[32..]);
        head.signature = Some(halves);
        head
    }

    #[test]
    fn the_head_seen_before_tells_a_cut_tail_a_rewritten_record_and_a_forgery() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let public = key.verifying_key().to_bytes();
        let nonce = [3; 32];
        let check = |head: &LogHead, first: u32, seen: Option<(u32, u8)>| {
            let seen = seen.map(|(seq, tag)| SeenHead { seq, tag: [tag; LOG_TAG_LEN] });
            check_head(head, "S1", &nonce, Some(&public), first, seen)
        };
        assert_eq!(
            check(&signed_head(&key, 40, 9, 0, None, &nonce), 1, None),
            HeadCheck::FirstSeen
        );
        // The same head again, and more records since: holds.
        assert_eq!(
            check(&signed_head(&key, 40, 9, 40, Some(9), &nonce), 1, Some((40, 9))),
            HeadCheck::Holds
        );
        assert_eq!(
            check(&signed_head(&key, 59, 2, 40, Some(9), &nonce), 1, Some((40, 9))),
            HeadCheck::Holds
        );
        // Gone for room since: nothing to compare, holds.
        assert_eq!(
            check(&signed_head(&key, 59, 2, 40, None, &nonce), 45, Some((40, 9))),
            HeadCheck::Holds
        );
        // Cut back to 30.
        assert_eq!(
            check(&signed_head(&key, 30, 2, 40, None, &nonce), 1, Some((40, 9))),
            HeadCheck::Truncated { seen: 40, last: 30 }
        );
        // Record 40 is there, but another one; or missing while older ones are held.
        assert_eq!(
            check(&signed_head(&key, 49, 2, 40, Some(8), &nonce), 1, Some((40, 9))),
            HeadCheck::Rewritten { seq: 40 }
        );
        assert_eq!(
            check(&signed_head(&key, 49, 2, 40, None, &nonce), 1, Some((40, 9))),
            HeadCheck::Rewritten { seq: 40 }
        );
        // Signed by another key, over another nonce, about another record, or not at all.
        let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
        for head in [
            signed_head(&other, 40, 9, 40, Some(9), &nonce),
            signed_head(&key, 40, 9, 40, Some(9), &[4; 32]),
            signed_head(&key, 40, 9, 39, Some(9), &nonce),
            LogHead { signature: None, ..signed_head(&key, 40, 9, 40, Some(9), &nonce) },
        ] {
            assert_eq!(check(&head, 1, Some((40, 9))), HeadCheck::BadSignature, "{head:?}");
        }
        // A lock without a device key: the same checks, on the session's word.
        let unsigned = LogHead { signature: None, ..signed_head(&key, 30, 2, 40, None, &nonce) };
        let seen = Some(SeenHead { seq: 40, tag: [9; LOG_TAG_LEN] });
        assert_eq!(
            check_head(&unsigned, "S1", &nonce, None, 1, seen),
            HeadCheck::Truncated { seen: 40, last: 30 }
        );
    }

    #[test]
    fn a_refused_page_ends_nothing_but_the_read() {
        let mut refusing =
            |_| Err(ClientError::Refused(latchkey_protocol::Refusal::new(Status::NotAuthorized)));
        let mut it = records(&mut refusing, 1);
        assert!(matches!(
            it.next(),
            Some(Err(ClientError::Refused(latchkey_protocol::Refusal {
                status: Status::NotAuthorized,
                ..
            })))
        ));
    }

    #[test]
    fn the_log_tail_keeps_the_newest_and_then_asks_only_for_news() {
        let mut lock = FakeLog { first: 1, next: 101, requests: 0 };
        let mut tail = LogTail::default();
        let records = tail.refresh(&mut lock).unwrap();
        assert_eq!(seqs(&records), (85..=100).collect::<Vec<_>>());
        // Where the log ends, then two pages.
        assert_eq!(lock.requests, 3);

        // Nothing new: one request.
        lock.requests = 0;
        let records = tail.refresh(&mut lock).unwrap();
        assert_eq!(records.last().map(|r| r.seq), Some(100));
        assert_eq!(lock.requests, 1);

        // Three new records: still one request, and the window moves on.
        lock.requests = 0;
        lock.next = 104;
        let records = tail.refresh(&mut lock).unwrap();
        assert_eq!(seqs(&records), (88..=103).collect::<Vec<_>>());
        assert_eq!(lock.requests, 1);
    }

    #[test]
    fn the_log_tail_skips_ahead_and_starts_over() {
        let mut lock = FakeLog { first: 1, next: 4, requests: 0 };
        let mut tail = LogTail::default();
        assert_eq!(seqs(&tail.refresh(&mut lock).unwrap()), [1, 2, 3]);

        // A burst of a thousand records: the newest are read, not the ones in between.
        lock.next = 1_004;
        let records = tail.refresh(&mut lock).unwrap();
        assert_eq!(seqs(&records), (988..=1_003).collect::<Vec<_>>());

        // Another lock on the port, with a shorter log: its records, none of the other's.
        let mut other = FakeLog { first: 1, next: 6, requests: 0 };
        let records = tail.refresh(&mut other).unwrap();
        assert_eq!(seqs(&records), [1, 2, 3, 4, 5]);

        // An empty log.
        let mut empty = FakeLog { first: 1, next: 1, requests: 0 };
        assert!(LogTail::default().refresh(&mut empty).unwrap().is_empty());
    }

    #[test]
    fn a_refused_log_read_leaves_the_tail_as_it_was() {
        let mut lock = FakeLog { first: 1, next: 4, requests: 0 };
        let mut tail = LogTail::default();
        tail.refresh(&mut lock).unwrap();
        let mut refusing =
            |_| Err(ClientError::Refused(latchkey_protocol::Refusal::new(Status::NotAuthorized)));
        let refused = tail.refresh(&mut refusing);
        assert!(matches!(
            refused,
            Err(ClientError::Refused(latchkey_protocol::Refusal {
                status: Status::NotAuthorized,
                ..
            }))
        ));
        lock.next = 5;
        assert_eq!(seqs(&tail.refresh(&mut lock).unwrap()), [1, 2, 3, 4]);
    }

    #[test]
    fn a_gap_says_whether_the_log_was_cleared_erased_or_full() {
        let cleared = LogRecord { seq: 50, at: 0, entry: LogEntry::Cleared { removed: 49 } };
        let gap = Gap::of(50, 60, Some(&cleared), 2000).unwrap();
        assert_eq!((gap.gone, gap.cause.as_str()), (49, "cleared"));
        assert_eq!(
            Gap::of(50, 60, None, 2000).unwrap().cause,
            GapCause::Erased { held: 10, capacity: 2000 }
        );
        assert_eq!(Gap::of(50, 2000, None, 2000).unwrap().cause.as_str(), "full");
        assert_eq!(Gap::of(1, 2000, None, 2000), None);
    }
}
