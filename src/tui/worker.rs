//! The link worker: the only thread that talks to the lock. It follows the lock's sealed
//! events (log records, access decisions, alarms, enrollment progress) as they come, polls
//! as a fallback and a liveness check every [`POLL`], carries out the person's [`Command`]s
//! through the operations layer, and when the link is lost says so and opens a new session
//! by itself once the lock answers again.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

use latchkey_protocol::{Credential, EnrollKind, Enrollment, Event};

use super::app::{
    Action, Answer, Command, CommissionNews, Finished, FrameRow, Outcome, Reading, Unavailable,
};
use crate::display::{hex, refusal_words};
use crate::link::{ClientError, FrameNote};
use crate::ops::commission::{self as commissioning, Again, Check, CheckResult, RunError};
use crate::ops::log::Cursor;
use crate::ops::records::{ExportFormat, export};
use crate::ops::{alarms, users};
use crate::session::{self, AuthOutcome, ConnectError, ConnectOptions, Connection};

/// How often the lock is read even when it sends no event, and so how soon a silent link
/// is found lost.
pub const POLL: Duration = Duration::from_secs(1);
/// How often a lost lock is tried again.
pub const RECONNECT: Duration = Duration::from_secs(1);
/// How long one wait for an event lasts before commands are looked at again.
const EVENT_WAIT: Duration = Duration::from_millis(50);
/// Log pages read per turn while catching up, so commands are not held up by a long log.
const LOG_PAGES_PER_TURN: usize = 32;
/// How long a failed check's question waits for the person before the run keeps the session
/// alive and asks again (the lock ends a session quiet for 60 s).
const ASK_WAIT: Duration = Duration::from_secs(15);

/// Why [`serve`] returned.
enum Flow {
    /// The UI is gone.
    Stop,
    /// The link failed.
    Lost(ClientError),
}

struct Worker {
    options: ConnectOptions,
    tx: Sender<Action>,
    commands: Receiver<Command>,
    /// The next log record to read.
    log_next: u32,
    /// Every record the lock held has been read once.
    log_complete: bool,
    /// Read the lock at the next turn, not at the next poll.
    poll_now: bool,
}

/// Runs the worker on `connection` (already open) until the UI drops its command sender.
pub fn run(
    options: ConnectOptions,
    connection: Connection,
    tx: Sender<Action>,
    commands: Receiver<Command>,
) {
    let mut worker =
        Worker { options, tx, commands, log_next: 1, log_complete: false, poll_now: true };
    let mut connection = Some(connection);
    loop {
        let conn = match connection.take() {
            Some(conn) => conn,
            None => match worker.reconnect() {
                Some(conn) => conn,
                None => return,
            },
        };
        match worker.serve(conn) {
            Flow::Stop => return,
            Flow::Lost(e) => {
                if worker.tx.send(Action::LinkDown(e.to_string())).is_err() {
                    return;
                }
            }
        }
    }
}

/// Whether `e` means the link itself failed (rather than the lock refusing one request).
fn link_failed(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Timeout { .. }
            | ClientError::Io { .. }
            | ClientError::SessionExpired
            | ClientError::LockRestarted
            | ClientError::VersionMismatch { .. }
    )
}

/// Connects and opens a session; a back-off is not waited out here (the next attempt comes
/// in [`RECONNECT`]).
pub fn open(options: &ConnectOptions) -> Result<Connection, ConnectError> {
    let mut connection = session::connect(options)?;
    match connection.authorize()? {
        AuthOutcome::Backoff { retry_after } => Err(ClientError::Backoff { retry_after }.into()),
        AuthOutcome::Unclaimed
        | AuthOutcome::Opened { .. }
        | AuthOutcome::OpenedWithOlderKey { .. } => Ok(connection),
    }
}

fn now_unix_ms() -> u64 {
    u64::try_from(crate::time::now().as_millis()).unwrap_or(u64::MAX)
}

impl Worker {
    /// Tries to get the lock back every [`RECONNECT`]; `None` when the UI is gone.
    fn reconnect(&mut self) -> Option<Connection> {
        loop {
            match self.commands.recv_timeout(RECONNECT) {
                Ok(_) => {
                    let outcome = Outcome {
                        ok: false,
                        text: "not connected: nothing was sent to the lock".into(),
                    };
                    self.tx.send(Action::Done(outcome)).ok()?;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {}
            }
            match open(&self.options) {
                Ok(conn) => return Some(conn),
                Err(e) => self.tx.send(Action::LinkDown(e.to_string())).ok()?,
            }
        }
    }

    fn send(&self, action: Action) -> Result<(), Flow> {
        self.tx.send(action).map_err(|_| Flow::Stop)
    }

    fn serve(&mut self, mut conn: Connection) -> Flow {
        let tap = self.tx.clone();
        conn.client.set_frame_tap(Some(Box::new(move |note: FrameNote| {
            let _ = tap.send(Action::Frame(FrameRow {
                at_ms: now_unix_ms(),
                outgoing: note.outgoing,
                kind: format!("{:?}", note.kind),
                seq: note.seq,
                len: note.len,
                message: note.message,
            }));
        })));
        match self.turns(&mut conn) {
            Ok(()) => Flow::Stop,
            Err(flow) => flow,
        }
    }

    fn turns(&mut self, conn: &mut Connection) -> Result<(), Flow> {
        let lost = |e: ClientError| Flow::Lost(e);
        let info = conn.info().map_err(lost)?.clone();
        self.send(Action::Identity(info, conn.client.session_role()))?;
        self.read_settings(conn)?;
        self.read_users(conn)?;
        self.poll_now = true;
        let mut last_poll = Instant::now();
        loop {
            loop {
                match self.commands.try_recv() {
                    Ok(command) => self.command(conn, command)?,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return Ok(()),
                }
            }
            match conn.client.next_event(EVENT_WAIT) {
                Ok(Some((_, event))) => self.event(conn, event)?,
                Ok(None) => {}
                Err(e) => return Err(lost(e)),
            }
            if self.poll_now || last_poll.elapsed() >= POLL {
                self.poll_now = false;
                last_poll = Instant::now();
                let reading = read_lock(conn).map_err(lost)?;
                self.send(Action::Reading(Box::new(reading)))?;
                self.read_log(conn)?;
                self.send(Action::Stats(conn.client.stats()))?;
            } else if !self.log_complete {
                self.read_log(conn)?;
            }
        }
    }

    fn read_settings(&mut self, conn: &mut Connection) -> Result<(), Flow> {
        match conn.client.settings() {
            Ok(settings) => self.send(Action::Settings(settings)),
            Err(e) if link_failed(&e) => Err(Flow::Lost(e)),
            // Refused (an unclaimed lock): the header goes without a label.
            Err(_) => Ok(()),
        }
    }

    fn read_users(&mut self, conn: &mut Connection) -> Result<(), Flow> {
        match conn.client.users() {
            Ok(users) => self.send(Action::Users(users)),
            Err(e) if link_failed(&e) => Err(Flow::Lost(e)),
            Err(_) => Ok(()),
        }
    }

    /// Reads what is new in the log, a few pages at a time.
    fn read_log(&mut self, conn: &mut Connection) -> Result<(), Flow> {
        let mut cursor = Cursor::at(self.log_next);
        let mut batch = Vec::new();
        let mut caught_up = false;
        for _ in 0..LOG_PAGES_PER_TURN {
            let from = cursor.next_seq();
            let page = match cursor.page(&mut conn.client) {
                Ok(page) => page,
                Err(e) if link_failed(&e) => return Err(Flow::Lost(e)),
                // Refused (an unclaimed lock): no log to show.
                Err(_) => return Ok(()),
            };
            if page.next_seq < from && from > 1 {
                // Numbering went back: another lock on the port, or its flash was wiped.
                self.send(Action::LogReset)?;
                batch.clear();
                self.log_complete = false;
                cursor.seek(1);
                continue;
            }
            let empty = page.records.is_empty();
            batch.extend(page.records);
            if empty || cursor.next_seq() >= page.next_seq {
                caught_up = true;
                break;
            }
        }
        self.log_next = cursor.next_seq();
        if !batch.is_empty() {
            self.send(Action::Log(batch))?;
        }
        if caught_up && !self.log_complete {
            self.log_complete = true;
            self.send(Action::LogCaughtUp)?;
        }
        Ok(())
    }

    fn event(&mut self, conn: &mut Connection, event: Event) -> Result<(), Flow> {
        match event {
            Event::Logged(record) if record.seq == self.log_next && self.log_complete => {
                self.log_next = record.seq.saturating_add(1);
                self.send(Action::Log(vec![record]))
            }
            // Out of order, or still catching up: the next read fetches it.
            Event::Logged(_) => Ok(()),
            Event::Access(record) => self.send(Action::Access(record)),
            Event::AlarmRaised(_) | Event::Booted { .. } => {
                self.poll_now = true;
                Ok(())
            }
            Event::ClockSet { .. } | Event::SettingChanged(_) => {
                self.poll_now = true;
                self.read_settings(conn)
            }
            Event::Enrollment(enrollment) => self.enrollment(conn, enrollment),
        }
    }

    fn enrollment(&mut self, conn: &mut Connection, enrollment: Enrollment) -> Result<(), Flow> {
        self.send(Action::Enrollment(enrollment.clone()))?;
        let outcome = match &enrollment {
            Enrollment::Done { user, credential } => {
                let what = match credential {
                    Credential::Card { uid } => format!("card {}", hex(uid)),
                    Credential::Fingerprint { slot } => format!("finger (slot {slot})"),
                    _ => "credential".into(),
                };
                let user = *user;
                self.read_users(conn)?;
                self.command(conn, Command::LoadUser(user))?;
                Outcome { ok: true, text: format!("{what} added to user {user}") }
            }
            Enrollment::Failed { kind, reason, .. } => {
                let what = if *kind == EnrollKind::Card { "card learning" } else { "enrollment" };
                Outcome { ok: false, text: format!("{what} failed: {reason:?}; nothing was added") }
            }
            Enrollment::Idle | Enrollment::InProgress { .. } => return Ok(()),
        };
        self.send(Action::Done(outcome))
    }

    /// Carries out `command`; its outcome goes to the UI. A refusal is an outcome; a failed
    /// link ends the session.
    fn command(&mut self, conn: &mut Connection, command: Command) -> Result<(), Flow> {
        let text = match self.carry_out(conn, command) {
            Ok(None) => return Ok(()),
            Ok(Some(text)) => Outcome { ok: true, text },
            Err(Failure::Client(e)) if link_failed(&e) => return Err(Flow::Lost(e)),
            Err(Failure::Client(e)) => Outcome { ok: false, text: explain(conn, &e) },
            Err(Failure::Other(text)) => Outcome { ok: false, text },
            Err(Failure::Flow(flow)) => return Err(flow),
        };
        self.send(Action::Done(text))
    }

    fn carry_out(
        &mut self,
        conn: &mut Connection,
        command: Command,
    ) -> Result<Option<String>, Failure> {
        Ok(Some(match command {
            Command::AddUser(name) => {
                let user = users::add_user(&mut conn.client, name)?;
                self.read_users(conn)?;
                let text = format!("added user {} ({})", user.id, user.spec.name);
                self.send(Action::User(Box::new(user)))?;
                text
            }
            Command::Rename { user, name } => {
                let changed = users::modify_user(&mut conn.client, user, |spec| spec.name = name)?;
                self.read_users(conn)?;
                self.send(Action::User(Box::new(changed)))?;
                format!("user {user} renamed")
            }
            Command::SetEnabled { user, enabled } => {
                let changed =
                    users::modify_user(&mut conn.client, user, |spec| spec.enabled = enabled)?;
                self.read_users(conn)?;
                self.send(Action::User(Box::new(changed)))?;
                format!("user {user} {}", if enabled { "enabled" } else { "disabled" })
            }
            Command::RemoveUser(user) => {
                conn.client.remove_user(user)?;
                self.read_users(conn)?;
                format!("removed user {user}")
            }
            Command::SetPin { user, choice } => {
                let capabilities = conn.info()?.capabilities;
                let generated = users::set_pin(&mut conn.client, user, &choice, &capabilities)
                    .map_err(|e| match e {
                        users::PinError::Client(e) => Failure::Client(e),
                        other => Failure::Other(other.to_string()),
                    })?;
                self.read_users(conn)?;
                let record = conn.client.user(user)?;
                self.send(Action::User(Box::new(record)))?;
                match generated {
                    Some(pin) => {
                        format!("PIN of user {user} set to {pin} (shown once: note it now)")
                    }
                    None => format!("PIN of user {user} set"),
                }
            }
            Command::LearnCard(user) => {
                conn.client.learn_card(user)?;
                let state = conn.client.enrollment()?;
                self.send(Action::Enrollment(state))?;
                format!("tap the card on the lock's reader for user {user}; Esc cancels")
            }
            Command::EnrollFinger(user) => {
                conn.client.enroll_finger(user)?;
                let state = conn.client.enrollment()?;
                self.send(Action::Enrollment(state))?;
                format!("place the finger on the sensor for user {user}; Esc cancels")
            }
            Command::CancelEnrollment => {
                conn.client.cancel_enrollment()?;
                let state = conn.client.enrollment()?;
                self.send(Action::Enrollment(state))?;
                "enrollment cancelled; nothing was added".into()
            }
            Command::LoadUser(user) => {
                let user = conn.client.user(user)?;
                self.send(Action::User(Box::new(user)))?;
                self.done_quietly();
                return Ok(None);
            }
            Command::ClearAlarms => {
                let left = alarms::clear(&mut conn.client)?;
                self.poll_now = true;
                match left.len() {
                    0 => "alarms cleared".into(),
                    n => format!(
                        "alarms cleared; {n} raised again at once (its cause is still there)"
                    ),
                }
            }
            Command::EndLockout => {
                let ended = alarms::end_lockout(&mut conn.client)?;
                self.poll_now = true;
                if ended {
                    "lockout ended: the keypad takes codes again".into()
                } else {
                    "the keypad was not locked out; nothing was cleared".into()
                }
            }
            Command::VerifyLog => {
                let report = conn.client.verify_log()?;
                match report.broken {
                    None => format!(
                        "log intact: {} records, {} to {}",
                        report.records, report.first_seq, report.last_seq
                    ),
                    Some(at) => {
                        return Err(Failure::Other(format!("the log's chain breaks: {at:?}")));
                    }
                }
            }
            Command::Export { path, records } => {
                let format = ExportFormat::for_path(&path);
                let n =
                    export(&path, &records, format).map_err(|e| Failure::Other(e.to_string()))?;
                let as_what = if format == ExportFormat::Csv { "CSV" } else { "JSON Lines" };
                format!("wrote {n} records to {} ({as_what})", path.display())
            }
            Command::PlanCommission => {
                let (info, users) = lock_and_users(conn)?;
                let plan = commissioning::plan(&info, &users, &[], &[]);
                self.send(Action::Commission(CommissionNews::Plan(plan)))?;
                self.done_quietly();
                return Ok(None);
            }
            Command::Commission { only, skips, wait, report_to } => {
                return self.commission(conn, &only, &skips, wait, report_to).map(Some);
            }
            // No run is asking or going on (it ended meanwhile): nothing to answer.
            Command::AfterFailure(_) | Command::StopCommission => return Ok(None),
        }))
    }

    /// Runs the commissioning as `latchkey commission` does, its news going to the view as the
    /// lock decides; then the lock signs the report and it is written. A run that does not end
    /// with a report says why in the view too.
    fn commission(
        &mut self,
        conn: &mut Connection,
        only: &[commissioning::CheckId],
        skips: &[(commissioning::CheckId, String)],
        wait: Duration,
        report_to: Option<std::path::PathBuf>,
    ) -> Result<String, Failure> {
        let outcome = self.commission_inner(conn, only, skips, wait, report_to);
        if let Err(failure) = &outcome {
            let why = match failure {
                Failure::Client(e) if link_failed(e) => None,
                Failure::Client(e) => Some(explain(conn, e)),
                Failure::Other(text) => Some(text.clone()),
                Failure::Flow(_) => None,
            };
            // A lost link ends the run in the view with the link itself.
            if let Some(why) = why {
                self.send(Action::Commission(CommissionNews::Ended(why)))?;
            }
        }
        // The run took the lock's events: what they said is read now.
        self.poll_now = true;
        outcome
    }

    fn commission_inner(
        &mut self,
        conn: &mut Connection,
        only: &[commissioning::CheckId],
        skips: &[(commissioning::CheckId, String)],
        wait: Duration,
        report_to: Option<std::path::PathBuf>,
    ) -> Result<String, Failure> {
        let (info, users) = lock_and_users(conn)?;
        let label = conn.client.settings()?.door_label.to_string();
        let checks = commissioning::plan(&info, &users, only, skips);
        self.send(Action::Commission(CommissionNews::Started(checks.clone())))?;
        let mut watch = Watch { tx: &self.tx, commands: &self.commands, stop: false, asked: false };
        let results = match commissioning::run(&mut conn.client, &checks, &users, wait, &mut watch)
        {
            Ok(results) => results,
            Err(RunError::Stopped(_)) => {
                return Err(Failure::Other(
                    "commissioning stopped; nothing was changed on the lock and no report was \
                     written"
                        .into(),
                ));
            }
            Err(RunError::Client(e)) => return Err(Failure::Client(e)),
        };
        self.send(Action::Commission(CommissionNews::Reporting))?;
        let (name, fingerprint) =
            conn.session_key().unwrap_or_else(|| ("(none)".into(), String::new()));
        let by = commissioning::ReportKey { name, fingerprint };
        let body = commissioning::report_body(&mut conn.client, &info, &users, label, results, by)?;
        let signed = commissioning::sign(&mut conn.client, body)?;
        let base =
            report_to.unwrap_or_else(|| commissioning::default_report_base(info.serial.as_str()));
        let (json, html) = commissioning::write_report(&signed, &base)
            .map_err(|e| Failure::Other(e.to_string()))?;
        let passed = signed.body.passed;
        let is_signed = signed.head.signature.is_some();
        let failed =
            signed.body.checks.iter().filter(|r| r.outcome == commissioning::Outcome::Fail).count();
        let finished = Finished {
            passed,
            signed: is_signed,
            json: json.display().to_string(),
            html: html.display().to_string(),
        };
        self.send(Action::Commission(CommissionNews::Finished(finished)))?;
        // The CLI's words.
        Ok(format!(
            "{}: report in {} and {}{}",
            if passed {
                "every check passed".to_string()
            } else {
                format!("{failed} check(s) failed")
            },
            json.display(),
            html.display(),
            if is_signed {
                ", signed by the lock"
            } else {
                " (unsigned: this lock has no device key)"
            }
        ))
    }

    /// A read that shows its result in a panel ends without a status message; the UI's
    /// "busy" still has to end.
    fn done_quietly(&self) {
        let _ = self.tx.send(Action::Done(Outcome { ok: true, text: String::new() }));
    }
}

/// The lock's identity and every user's full record: what the commissioning is planned from.
fn lock_and_users(
    conn: &mut Connection,
) -> Result<(latchkey_protocol::LockInfo, Vec<latchkey_protocol::User>), ClientError> {
    let info = conn.info()?.clone();
    let list = conn.client.users()?;
    let users = list.iter().map(|u| conn.client.user(u.id)).collect::<Result<Vec<_>, _>>()?;
    Ok((info, users))
}

/// The commissioning run as the TUI watches it: its news go to the view; a stop (Esc) and
/// the answer to a failed check come from it as commands, looked at between the lock's events.
struct Watch<'a> {
    tx: &'a Sender<Action>,
    commands: &'a Receiver<Command>,
    /// Stop asked, or the UI is gone.
    stop: bool,
    /// The failed check has been put to the person (asked once, however long they take).
    asked: bool,
}

impl Watch<'_> {
    fn news(&mut self, news: CommissionNews) {
        if self.tx.send(Action::Commission(news)).is_err() {
            self.stop = true;
        }
    }

    /// A command that came during the run: a stop, an answer; anything else waits for no one
    /// (the UI refuses other actions while a run holds the lock) and is refused.
    fn take(&mut self, command: Command) -> Option<Again> {
        match command {
            Command::StopCommission => {
                self.stop = true;
                None
            }
            Command::AfterFailure(again) => Some(again),
            other => {
                let text = format!(
                    "not done ({}): commissioning holds the lock until it ends",
                    other.doing().trim_end_matches('…')
                );
                if self.tx.send(Action::Done(Outcome { ok: false, text })).is_err() {
                    self.stop = true;
                }
                None
            }
        }
    }
}

impl commissioning::Watcher for Watch<'_> {
    fn waiting(&mut self, check: &Check, wait: Duration) {
        self.asked = false;
        let at_the_door = check.id.needs_the_door() && check.status == commissioning::Planned::Run;
        self.news(CommissionNews::Waiting { check: check.id, wait, at_the_door });
    }

    fn result(&mut self, result: &CheckResult) {
        self.news(CommissionNews::Result(result.clone()));
    }

    fn stop(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                // An answer with no question pending is late: dropped.
                Ok(command) => {
                    let _ = self.take(command);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.stop = true;
                    break;
                }
            }
        }
        self.stop
    }

    fn after_failure(&mut self, result: &CheckResult) -> Option<Again> {
        if !self.asked {
            self.asked = true;
            self.news(CommissionNews::Asking(result.clone()));
        }
        let deadline = Instant::now() + ASK_WAIT;
        while !self.stop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.commands.recv_timeout(left) {
                Ok(command) => {
                    if let Some(again) = self.take(command) {
                        self.asked = false;
                        return Some(again);
                    }
                }
                // Not decided yet: the run pings the lock and asks again.
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => self.stop = true,
            }
        }
        None
    }
}

/// Why a command failed.
enum Failure {
    /// The lock refused, or the link failed.
    Client(ClientError),
    /// Something on this side (a file, a PIN that cannot be generated).
    Other(String),
    /// The UI is gone, or the link was lost while reading back.
    Flow(Flow),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Client(e)
    }
}

impl From<Flow> for Failure {
    fn from(flow: Flow) -> Self {
        Failure::Flow(flow)
    }
}

/// A refusal in words: what the lock refused, for this session.
fn explain(conn: &Connection, e: &ClientError) -> String {
    match (conn.classify(e), e) {
        (Some(session::Refusal::Lock(refusal)), _) => {
            let capabilities = conn.known_info().map(|i| &i.capabilities);
            let (message, hint) = crate::display::lock_refusal_words(&refusal, capabilities);
            match hint {
                Some(hint) => format!("the lock refused: {message} ({hint})"),
                None => format!("the lock refused: {message}"),
            }
        }
        (Some(refusal), _) => format!("the lock refused: {}", refusal_words(refusal)),
        (None, e) => e.to_string(),
    }
}

/// One reading. A request the lock refuses leaves its panel "not available"; a link that
/// fails (no answer, cable pulled) fails the whole reading.
fn read_lock(connection: &mut Connection) -> Result<Reading, ClientError> {
    let t0 = Instant::now();
    let clock = connection.client.time();
    let round_trip_ms = u32::try_from(t0.elapsed().as_millis()).unwrap_or(u32::MAX);
    let host_unix_seconds = crate::time::now_unix();
    let clock = answer(connection, clock)?;
    let battery = connection.client.battery();
    let battery = answer(connection, battery)?;
    let diagnostics = connection.client.diagnostics();
    let diagnostics = answer(connection, diagnostics)?;
    let alarms = connection.client.alarms();
    let alarms = answer(connection, alarms)?;
    let last_access = connection.client.last_access();
    let last_access = answer(connection, last_access)?;
    Ok(Reading {
        clock,
        host_unix_seconds,
        battery,
        diagnostics,
        alarms,
        last_access,
        round_trip_ms,
    })
}

/// A request's outcome for its panel: the lock's refusal (classified for this lock: not
/// claimed, a read-only key, its status) or an answer that does not fit becomes the panel's
/// reason; a link failure stays an error.
fn answer<T>(
    connection: &Connection,
    result: Result<T, ClientError>,
) -> Result<Answer<T>, ClientError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(ClientError::Unexpected(what)) => Ok(Err(Unavailable::Unexpected(what))),
        Err(e) => match connection.classify(&e) {
            Some(refusal) => Ok(Err(Unavailable::Refused(refusal))),
            None => Err(e),
        },
    }
}
