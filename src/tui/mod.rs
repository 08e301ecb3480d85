//! The dashboard face: `latchkey tui`.
//!
//! The link runs on a worker thread that polls the lock and sends [`app::Action`]s over a
//! channel; the UI thread only handles keys, applies actions and draws, so a slow or dead
//! link never freezes the screen.

pub mod app;
pub mod view;

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use crate::cli::commands::{Connection, connect_authorized};
use crate::cli::{CliError, Context};
use crate::link::{ClientError, LogPage};
use app::{Action, Answer, App, Reading, update};
use latchkey_protocol::{LOG_PAGE, LogRecord};

/// How often the dashboard polls the lock.
pub const REFRESH: Duration = Duration::from_secs(1);
/// How often the UI wakes to check for keys and news.
const TICK: Duration = Duration::from_millis(100);

/// Runs the dashboard until `q`.
pub fn run(context: &Context) -> Result<(), CliError> {
    if context.json {
        return Err(CliError::usage("the dashboard has no JSON form")
            .with_hint("use `latchkey info --json`, `battery --json` or `time get --json`"));
    }
    // Connect before taking over the screen, so "port busy" or "no device" prints plainly.
    let connection = connect_authorized(context)?;
    let mut app = App::new(connection.client.path().display().to_string());
    let (tx, rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let worker = std::thread::Builder::new()
        .name("latchkey-link".into())
        .spawn(move || poll_lock(connection, &tx, &stop_rx))
        .map_err(|e| CliError::usage(format!("cannot start the link thread: {e}")))?;

    let mut terminal = ratatui::try_init().map_err(|e| {
        CliError::usage(format!("cannot open the terminal: {e}"))
            .with_hint("run it in an interactive terminal")
    })?;
    let result = ui_loop(&mut terminal, &mut app, &rx);
    ratatui::restore();
    let _ = stop_tx.send(());
    let _ = worker.join();
    result.map_err(|e| CliError::usage(format!("terminal error: {e}")))
}

fn ui_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    rx: &Receiver<Action>,
) -> std::io::Result<()> {
    while !app.quit {
        terminal.draw(|frame| view::render(app, frame))?;
        if event::poll(TICK)?
            && let Event::Key(key) = event::read()?
            && key.kind == KeyEventKind::Press
        {
            let quit = matches!(key.code, KeyCode::Char('q') | KeyCode::Esc)
                || (key.code == KeyCode::Char('c')
                    && key.modifiers.contains(KeyModifiers::CONTROL));
            if quit {
                update(app, Action::Quit);
            }
        }
        while let Ok(action) = rx.try_recv() {
            update(app, action);
        }
    }
    Ok(())
}

/// The worker: identity once, then a reading every [`REFRESH`] until told to stop.
fn poll_lock(mut connection: Connection, tx: &Sender<Action>, stop: &Receiver<()>) {
    let mut identified = false;
    let mut log = LogTail::default();
    loop {
        let started = Instant::now();
        if tx.send(Action::Polling).is_err() {
            return;
        }
        if !identified {
            match connection.client.hello() {
                Ok(info) => {
                    identified = true;
                    let _ = tx.send(Action::Identity(info));
                }
                Err(e) => {
                    let _ = tx.send(Action::LinkDown(e.to_string()));
                }
            }
        }
        if identified {
            let action = read_lock(&mut connection, &mut log)
                .map_or_else(|e| Action::LinkDown(e.to_string()), Action::Reading);
            if tx.send(action).is_err() {
                return;
            }
        }
        let rest = REFRESH.saturating_sub(started.elapsed());
        if stop.recv_timeout(rest) != Err(mpsc::RecvTimeoutError::Timeout) {
            return;
        }
    }
}

/// One reading. A request the lock refuses leaves its panel "not available"; a link that
/// fails (no answer, cable pulled) fails the whole reading.
fn read_lock(connection: &mut Connection, log: &mut LogTail) -> Result<Reading, ClientError> {
    let t0 = Instant::now();
    let clock = connection.client.time();
    let round_trip_ms = u32::try_from(t0.elapsed().as_millis()).unwrap_or(u32::MAX);
    let host_unix_seconds =
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let clock = answer(connection, clock)?;
    let battery = connection.client.battery();
    let battery = answer(connection, battery)?;
    let diagnostics = connection.client.diagnostics();
    let diagnostics = answer(connection, diagnostics)?;
    let alarms = connection.client.alarms();
    let alarms = answer(connection, alarms)?;
    let last_access = connection.client.last_access();
    let last_access = answer(connection, last_access)?;
    let records = log.refresh(|from_seq| connection.client.read_log(from_seq));
    let records = answer(connection, records)?;
    Ok(Reading {
        clock,
        host_unix_seconds,
        battery,
        diagnostics,
        alarms,
        last_access,
        log: records,
        round_trip_ms,
    })
}

/// A request's outcome for its panel: the lock's refusal becomes the panel's reason (in the
/// CLI's words: "a technician key is read-only", "it is not claimed yet"); a link failure
/// stays an error.
fn answer<T>(
    connection: &Connection,
    result: Result<T, ClientError>,
) -> Result<Answer<T>, ClientError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(e @ (ClientError::Refused(_) | ClientError::Unexpected(_))) => {
            let message = connection.explain(e).message;
            Ok(Err(match message.strip_prefix("the lock refused: ") {
                Some(why) => why.replace('_', " "),
                None => message,
            }))
        }
        Err(e) => Err(e),
    }
}

/// Records the dashboard keeps: the log panel shows as many of the newest as fit.
pub const LOG_KEPT: usize = 2 * LOG_PAGE;
/// Pages read per poll at most, so a lock writing fast cannot hold a reading up.
const LOG_PAGES_PER_POLL: usize = 3;

/// The newest records of the lock's log, followed from poll to poll: after the first fill a
/// poll asks only for what is new (one request while nothing happens).
#[derive(Debug, Default)]
struct LogTail {
    records: VecDeque<LogRecord>,
    /// The next sequence number to ask for; `None` until the log's end is known.
    next: Option<u32>,
}

impl LogTail {
    /// Reads what is new with `read` (a page from a sequence number on, like
    /// [`crate::link::Client::read_log`]); returns the newest records, oldest first.
    fn refresh(
        &mut self,
        mut read: impl FnMut(u32) -> Result<LogPage, ClientError>,
    ) -> Result<Vec<LogRecord>, ClientError> {
        let kept = LOG_KEPT as u32;
        let mut next = match self.next {
            Some(next) => next,
            // A page from the very end holds no records, only where the log stands.
            None => read(u32::MAX)?.next_seq.saturating_sub(kept).max(1),
        };
        for _ in 0..LOG_PAGES_PER_POLL {
            let page = read(next)?;
            if page.next_seq < next {
                // Numbering went back: another lock on the port, or its flash was wiped.
                self.records.clear();
                next = page.next_seq.saturating_sub(kept).max(1);
                self.next = Some(next);
                continue;
            }
            if page.next_seq - next > kept + LOG_PAGE as u32 {
                // Far behind: what lies between would scroll away unseen.
                self.records.clear();
                next = page.next_seq - kept;
                self.next = Some(next);
                continue;
            }
            let Some(last) = page.records.last().map(|r| r.seq) else { break };
            self.records.extend(page.records.into_iter().filter(|r| r.seq >= next));
            while self.records.len() > LOG_KEPT {
                self.records.pop_front();
            }
            next = last + 1;
            self.next = Some(next);
            if next >= page.next_seq {
                break;
            }
        }
        self.next = Some(next);
        Ok(self.records.iter().copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use latchkey_protocol::{LogEntry, Role, Status};

    use super::*;

    /// A lock's log holding `first..next`, read a page at a time like the firmware does;
    /// counts the requests.
    struct FakeLog {
        first: u32,
        next: u32,
        requests: u32,
    }

    impl FakeLog {
        fn read(&mut self, from_seq: u32) -> Result<LogPage, ClientError> {
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
    fn the_log_tail_keeps_the_newest_and_then_asks_only_for_news() {
        let mut lock = FakeLog { first: 1, next: 101, requests: 0 };
        let mut tail = LogTail::default();
        let records = tail.refresh(|from| lock.read(from)).unwrap();
        assert_eq!(seqs(&records), (85..=100).collect::<Vec<_>>());
        // Where the log ends, then two pages.
        assert_eq!(lock.requests, 3);

        // Nothing new: one request.
        lock.requests = 0;
        let records = tail.refresh(|from| lock.read(from)).unwrap();
        assert_eq!(records.last().map(|r| r.seq), Some(100));
        assert_eq!(lock.requests, 1);

        // Three new records: still one request, and the window moves on.
        lock.requests = 0;
        lock.next = 104;
        let records = tail.refresh(|from| lock.read(from)).unwrap();
        assert_eq!(seqs(&records), (88..=103).collect::<Vec<_>>());
        assert_eq!(lock.requests, 1);
    }

    #[test]
    fn the_log_tail_skips_ahead_and_starts_over() {
        let mut lock = FakeLog { first: 1, next: 4, requests: 0 };
        let mut tail = LogTail::default();
        assert_eq!(seqs(&tail.refresh(|from| lock.read(from)).unwrap()), [1, 2, 3]);

        // A burst of a thousand records: the newest are read, not the ones in between.
        lock.next = 1_004;
        let records = tail.refresh(|from| lock.read(from)).unwrap();
        assert_eq!(seqs(&records), (988..=1_003).collect::<Vec<_>>());

        // Another lock on the port, with a shorter log: its records, none of the other's.
        let mut other = FakeLog { first: 1, next: 6, requests: 0 };
        let records = tail.refresh(|from| other.read(from)).unwrap();
        assert_eq!(seqs(&records), [1, 2, 3, 4, 5]);

        // An empty log.
        let mut empty = FakeLog { first: 1, next: 1, requests: 0 };
        assert!(LogTail::default().refresh(|from| empty.read(from)).unwrap().is_empty());
    }

    #[test]
    fn a_refused_log_read_leaves_the_tail_as_it_was() {
        let mut lock = FakeLog { first: 1, next: 4, requests: 0 };
        let mut tail = LogTail::default();
        tail.refresh(|from| lock.read(from)).unwrap();
        let refused = tail.refresh(|_| Err(ClientError::Refused(Status::NotAuthorized.into())));
        let not_authorized = |e: &ClientError| matches!(e, ClientError::Refused(r) if r.status == Status::NotAuthorized);
        assert!(refused.as_ref().is_err_and(not_authorized));
        lock.next = 5;
        assert_eq!(seqs(&tail.refresh(|from| lock.read(from)).unwrap()), [1, 2, 3, 4]);
    }
}
