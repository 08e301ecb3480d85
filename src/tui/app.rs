//! The TUI's state and how it changes. `update` is the only place state changes: keys and the
//! link worker's news come in as [`Action`]s, and what the lock should be asked to do goes out
//! as a [`Command`] for the worker. The views only read the state.

mod commission;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use latchkey_protocol::{
    AccessPath, AccessRecord, ActiveAlarm, BatteryReport, ClockReading, Diagnostics, Enrollment,
    LockInfo, LogRecord, Role, Settings, User, UserName, UserSummary,
};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::display::{entry_text, path_words};
use crate::link::LinkStats;
use crate::ops::commission::{Again, CheckId};
use crate::ops::records::{Filter, record_user};
use crate::ops::users::PinChoice;
use crate::session::Refusal;
pub use commission::{
    COMMISSION_WAIT, CommissionNews, Commissioning, Finished, Run, RunState, Waiting, asking,
};

/// The views, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// What is wrong and what the lock says about itself.
    Dashboard,
    /// Users, their credentials, and the actions on them.
    Users,
    /// The whole event log: scroll, filter, follow, verify, export.
    Log,
    /// Raised alarms and the keypad lockout.
    Alarms,
    /// The commissioning checklist, live.
    Commission,
    /// The frame inspector.
    Link,
}

impl View {
    /// Every view, in Tab order.
    pub const ALL: [View; 6] =
        [View::Dashboard, View::Users, View::Log, View::Alarms, View::Commission, View::Link];

    /// Its name on the tab bar.
    pub const fn title(self) -> &'static str {
        match self {
            View::Dashboard => "Dashboard",
            View::Users => "Users",
            View::Log => "Log",
            View::Alarms => "Alarms",
            View::Commission => "Commission",
            View::Link => "Link",
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

/// What one panel shows: the lock's answer, or why it gave none (it refused the request: a
/// technician's key, an unclaimed lock). A panel without its answer says so; the others go on.
pub type Answer<T> = Result<T, Unavailable>;

/// Why a panel has no answer while the link is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// The lock refused the request.
    Refused(Refusal),
    /// The lock answered something that does not fit the request.
    Unexpected(String),
}

/// One poll of the lock.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The lock's clock.
    pub clock: Answer<ClockReading>,
    /// This computer's clock when the lock's was read, Unix seconds.
    pub host_unix_seconds: u64,
    /// The battery.
    pub battery: Answer<BatteryReport>,
    /// Link and store counters, the bolt, the door and the motor.
    pub diagnostics: Answer<Diagnostics>,
    /// The alarms now raised.
    pub alarms: Answer<Vec<ActiveAlarm>>,
    /// The last access attempt since the lock started, if any.
    pub last_access: Answer<Option<AccessRecord>>,
    /// How long the clock request took, milliseconds.
    pub round_trip_ms: u32,
}

impl Reading {
    /// The lock's time now (Unix seconds) when it knows it, else this computer's: what "today"
    /// means when a panel shortens a timestamp.
    pub fn now(&self) -> u64 {
        match &self.clock {
            Ok(clock) if clock.is_set => clock.unix_seconds,
            _ => self.host_unix_seconds,
        }
    }
}

/// One frame in the inspector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameRow {
    /// This computer's clock when it went or came, Unix milliseconds.
    pub at_ms: u64,
    /// Sent by latchkey.
    pub outgoing: bool,
    /// The header's kind ("SealedRequest", ...).
    pub kind: String,
    /// The header's sequence number.
    pub seq: u16,
    /// Body bytes.
    pub len: usize,
    /// The message decoded.
    pub message: String,
}

/// Frames the inspector keeps.
pub const FRAMES_KEPT: usize = 2_000;

/// State of the link as the header shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting for the first answer.
    Connecting,
    /// Answering; last round trip in milliseconds.
    Online {
        /// Last round trip.
        round_trip_ms: u32,
    },
    /// Lost: why, and when (the TUI's clock, ms); the worker tries again by itself.
    Reconnecting {
        /// Why it was lost, or why the last attempt failed.
        why: String,
        /// When it was lost.
        since_ms: u64,
        /// Attempts so far.
        attempts: u32,
    },
}

/// What the lock is asked to do, by the worker, on the person's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Add a user (the lock's lowest free number).
    AddUser(UserName),
    /// Rename a user.
    Rename {
        /// Who.
        user: u16,
        /// The new name.
        name: UserName,
    },
    /// Enable or disable a user.
    SetEnabled {
        /// Who.
        user: u16,
        /// Enabled or not.
        enabled: bool,
    },
    /// Remove a user and their credentials.
    RemoveUser(u16),
    /// Set a user's PIN, given or generated.
    SetPin {
        /// Who.
        user: u16,
        /// Which PIN.
        choice: PinChoice,
    },
    /// Learn the next card tapped on the reader, for a user.
    LearnCard(u16),
    /// Enroll a finger on the sensor, for a user.
    EnrollFinger(u16),
    /// Stop a card learning or finger enrollment.
    CancelEnrollment,
    /// Read a user's full record.
    LoadUser(u16),
    /// Clear the raised alarms.
    ClearAlarms,
    /// End the keypad lockout now.
    EndLockout,
    /// Check the log's hash chain.
    VerifyLog,
    /// Write these records to a new file (CSV for `.csv`, JSON Lines otherwise).
    Export {
        /// The file.
        path: PathBuf,
        /// The records, as the view filters them.
        records: Vec<LogRecord>,
    },
    /// Read the users and plan the commissioning (nothing left out).
    PlanCommission,
    /// Run the commissioning, then have the lock sign the report and write it.
    Commission {
        /// Just these checks (empty: all), as `--only`.
        only: Vec<CheckId>,
        /// These skipped, with their reasons, as `--skip` / `--reason`.
        skips: Vec<(CheckId, String)>,
        /// How long each door check waits.
        wait: Duration,
        /// Where the report goes (`None`: `commission-SERIAL-TIME` in the current folder).
        report_to: Option<PathBuf>,
    },
    /// The answer to a failed door check (the run asked).
    AfterFailure(Again),
    /// Stop the run, leaving the lock as it was.
    StopCommission,
}

impl Command {
    /// Whether it changes the lock (and so needs an installer's key).
    pub const fn writes(&self) -> bool {
        !matches!(
            self,
            Command::LoadUser(_)
                | Command::VerifyLog
                | Command::Export { .. }
                | Command::CancelEnrollment
                // Commissioning only reads the lock: a technician's key may run it.
                | Command::PlanCommission
                | Command::Commission { .. }
                | Command::AfterFailure(_)
                | Command::StopCommission
        )
    }

    /// What the person sees while it runs.
    pub fn doing(&self) -> String {
        match self {
            Command::AddUser(name) => format!("adding {name}…"),
            Command::Rename { user, .. } => format!("renaming user {user}…"),
            Command::SetEnabled { user, enabled: true } => format!("enabling user {user}…"),
            Command::SetEnabled { user, enabled: false } => format!("disabling user {user}…"),
            Command::RemoveUser(user) => format!("removing user {user}…"),
            Command::SetPin { user, .. } => format!("setting the PIN of user {user}…"),
            Command::LearnCard(user) => format!("tap a card on the reader for user {user}…"),
            Command::EnrollFinger(user) => format!("place a finger on the sensor for user {user}…"),
            Command::CancelEnrollment => "cancelling…".into(),
            Command::LoadUser(user) => format!("reading user {user}…"),
            Command::ClearAlarms => "clearing the alarms…".into(),
            Command::EndLockout => "ending the lockout…".into(),
            Command::VerifyLog => "verifying the log…".into(),
            Command::Export { path, .. } => format!("writing {}…", path.display()),
            Command::PlanCommission => "reading the users to plan the commissioning…".into(),
            Command::Commission { .. } => "commissioning…".into(),
            Command::AfterFailure(_) => "answering the failed check…".into(),
            Command::StopCommission => "stopping the commissioning…".into(),
        }
    }
}

/// How an action ended, for the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Done, or not.
    pub ok: bool,
    /// What happened, in words.
    pub text: String,
}

/// Something that happened: a key, the clock, or news from the link worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The person asked to quit.
    Quit,
    /// A key was pressed.
    Key(KeyEvent),
    /// Time passed: the TUI's clock, milliseconds since it started (ages are measured on it).
    Tick(u64),
    /// The lock's identity and the role of the session (`None`: no session, unclaimed lock).
    Identity(LockInfo, Option<Role>),
    /// The lock's settings (its label, its time zone).
    Settings(Settings),
    /// A fresh reading of the lock (boxed: it is much the largest action).
    Reading(Box<Reading>),
    /// The users' list.
    Users(Vec<UserSummary>),
    /// One user's full record (boxed: a user with credentials is large).
    User(Box<User>),
    /// Records read from the log, oldest first, after those already held.
    Log(Vec<LogRecord>),
    /// The log's numbering went back (another lock, a wiped flash): forget what was read.
    LogReset,
    /// Every record the lock holds has been read.
    LogCaughtUp,
    /// An access attempt was decided (the lock's event).
    Access(AccessRecord),
    /// An enrollment moved on.
    Enrollment(Enrollment),
    /// A frame went or came.
    Frame(FrameRow),
    /// This end's link counters.
    Stats(LinkStats),
    /// The link was lost, or an attempt to get it back failed.
    LinkDown(String),
    /// News of the commissioning: its plan, its run.
    Commission(CommissionNews),
    /// An action ended.
    Done(Outcome),
}

/// A dialog over the view, which takes the keys while it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    /// The keys.
    Help,
    /// A question before something destructive: `y` runs the command.
    Confirm {
        /// The question.
        question: String,
        /// What `y` runs.
        command: Command,
    },
    /// A line of text.
    Input {
        /// What it is for.
        purpose: Purpose,
        /// Typed so far.
        text: String,
    },
}

/// What an input line is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// A new user's name.
    AddUser,
    /// A user's new name.
    Rename(u16),
    /// A user's PIN (hidden), then the same again.
    Pin {
        /// Whose.
        user: u16,
        /// The first entry, once typed.
        first: Option<String>,
    },
    /// The log filter.
    Filter,
    /// The file to export the shown records to.
    Export,
    /// Why a check is skipped: in the next run, or (`now`) the failed one being asked about.
    SkipReason {
        /// Which.
        check: CheckId,
        /// The answer to the run's question now, not a choice for the next run.
        now: bool,
    },
    /// Where the commissioning report goes.
    ReportTo,
}

impl Purpose {
    /// The prompt.
    pub fn prompt(&self) -> String {
        match self {
            Purpose::AddUser => "Name of the new user".into(),
            Purpose::Rename(user) => format!("New name of user {user}"),
            Purpose::Pin { user, first: None } => format!("PIN for user {user} (hidden)"),
            Purpose::Pin { first: Some(_), .. } => "The same PIN again".into(),
            Purpose::Filter => "Filter: kind:access user:3|Ann path:keypad, or words".into(),
            Purpose::Export => "Export to (.csv: CSV; otherwise JSON Lines)".into(),
            Purpose::SkipReason { check, .. } => {
                format!("Why is {} skipped? (the report shows it)", check.as_str())
            }
            Purpose::ReportTo => {
                "Report file (.json and .html are added; empty: commission-SERIAL-TIME here)".into()
            }
        }
    }

    /// Whether what is typed is hidden.
    pub const fn hidden(&self) -> bool {
        matches!(self, Purpose::Pin { .. })
    }
}

/// Every access path, for `path:NAME`.
const PATHS: [AccessPath; 5] = [
    AccessPath::Keypad,
    AccessPath::Rfid,
    AccessPath::Fingerprint,
    AccessPath::Phone,
    AccessPath::MechanicalKey,
];

/// The log view's filter: the fields `log read` filters on, and words the line must contain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// By user, path and kind.
    pub filter: Filter,
    /// Lower-case words every shown line contains.
    pub words: Vec<String>,
}

impl LogQuery {
    /// Parses `kind:access user:3 path:keypad words…`; a user may be named. An unknown
    /// kind, path or user is an error naming it.
    pub fn parse(text: &str, users: &[UserSummary]) -> Result<LogQuery, String> {
        let mut query = LogQuery::default();
        for token in text.split_whitespace() {
            match token.split_once(':') {
                Some(("kind", value)) => {
                    let kind = latchkey_protocol::LogKind::ALL
                        .iter()
                        .find(|k| k.as_str().eq_ignore_ascii_case(value))
                        .ok_or_else(|| format!("no kind of record is called {value:?}"))?;
                    query.filter.kind = Some(*kind);
                }
                Some(("path", value)) => {
                    let path = PATHS
                        .iter()
                        .find(|p| {
                            p.as_str().eq_ignore_ascii_case(value)
                                || path_words(**p).eq_ignore_ascii_case(value)
                        })
                        .ok_or_else(|| format!("no access path is called {value:?}"))?;
                    query.filter.path = Some(*path);
                }
                Some(("user", value)) => {
                    let user = match value.parse::<u16>() {
                        Ok(n) => n,
                        Err(_) => users
                            .iter()
                            .find(|u| latchkey_protocol::names_match(&u.name, value))
                            .map(|u| u.id)
                            .ok_or_else(|| format!("no user is called {value:?}"))?,
                    };
                    query.filter.user = Some(user);
                }
                _ => query.words.push(token.to_lowercase()),
            }
        }
        Ok(query)
    }

    /// Whether `record` passes.
    pub fn keeps(&self, record: &LogRecord, users: &[UserSummary]) -> bool {
        if !self.filter.keeps(record) {
            return false;
        }
        if self.words.is_empty() {
            return true;
        }
        let mut text = entry_text(&record.entry).to_lowercase();
        if let Some(name) = record_user(&record.entry).and_then(|u| user_name(users, u)) {
            text.push(' ');
            text.push_str(&name.to_lowercase());
        }
        self.words.iter().all(|w| text.contains(w.as_str()))
    }
}

/// The name of user `id`, if they are in `users`.
pub fn user_name(users: &[UserSummary], id: u16) -> Option<&str> {
    users.iter().find(|u| u.id == id).map(|u| u.name.as_str())
}

/// Something the TUI holds, and when it came (the TUI's clock, ms).
#[derive(Debug, Clone, PartialEq)]
pub struct Fresh<T> {
    /// The value.
    pub value: T,
    /// When it came.
    pub at_ms: u64,
}

/// Everything the TUI shows.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// The port.
    pub port: String,
    /// The TUI's clock, ms since it started.
    pub now_ms: u64,
    /// The view shown.
    pub view: View,
    /// A dialog over it.
    pub modal: Option<Modal>,
    /// Identity, once known.
    pub identity: Option<Fresh<LockInfo>>,
    /// The session's role (`None`: no session).
    pub role: Option<Role>,
    /// The lock's settings.
    pub settings: Option<Fresh<Settings>>,
    /// Last reading, kept while the link is down (marked stale) so the technician still
    /// sees it.
    pub reading: Option<Fresh<Reading>>,
    /// The link.
    pub link: LinkState,
    /// Readings answered.
    pub polls: u32,
    /// The users.
    pub users: Option<Fresh<Vec<UserSummary>>>,
    /// The selected row of the users' list.
    pub user_row: usize,
    /// The full record of a user, when read.
    pub user: Option<Fresh<User>>,
    /// An enrollment in progress or just ended.
    pub enrollment: Option<Enrollment>,
    /// Every log record read, oldest first.
    pub log: Vec<LogRecord>,
    /// When the last log records came (or the log was found caught up).
    pub log_at_ms: Option<u64>,
    /// The whole log has been read once.
    pub log_complete: bool,
    /// The filter's text, and the filter.
    pub log_filter_text: String,
    /// The filter.
    pub log_query: LogQuery,
    /// Indices into `log` of the records the filter keeps.
    pub log_shown: Vec<usize>,
    /// The selected row of `log_shown`.
    pub log_row: usize,
    /// The selection stays on the newest record.
    pub log_follow: bool,
    /// Frames, oldest first.
    pub frames: VecDeque<FrameRow>,
    /// The selected frame; `None`: the newest, following.
    pub frame_row: Option<usize>,
    /// This end's link counters.
    pub stats: LinkStats,
    /// The selected alarm.
    pub alarm_row: usize,
    /// The commissioning: its plan and its run.
    pub commission: Commissioning,
    /// What is running now.
    pub busy: Option<String>,
    /// How the last action ended, and when.
    pub outcome: Option<Fresh<Outcome>>,
    /// The person asked to quit.
    pub quit: bool,
}

impl App {
    /// A TUI for the lock on `port`, before anything is known.
    pub fn new(port: impl Into<String>) -> Self {
        Self {
            port: port.into(),
            now_ms: 0,
            view: View::Dashboard,
            modal: None,
            identity: None,
            role: None,
            settings: None,
            reading: None,
            link: LinkState::Connecting,
            polls: 0,
            users: None,
            user_row: 0,
            user: None,
            enrollment: None,
            log: Vec::new(),
            log_at_ms: None,
            log_complete: false,
            log_filter_text: String::new(),
            log_query: LogQuery::default(),
            log_shown: Vec::new(),
            log_row: 0,
            log_follow: true,
            frames: VecDeque::new(),
            frame_row: None,
            stats: LinkStats::default(),
            alarm_row: 0,
            commission: Commissioning::default(),
            busy: None,
            outcome: None,
            quit: false,
        }
    }

    /// Whether what is shown may be out of date: the link is not up.
    pub fn stale(&self) -> bool {
        !matches!(self.link, LinkState::Online { .. })
    }

    /// Why a change cannot be made now, if it cannot: a technician's key, or no link.
    pub fn writes_blocked(&self) -> Option<&'static str> {
        match self.role {
            Some(Role::Technician) => Some("read-only: a technician key cannot change the lock"),
            _ if self.stale() => Some("not connected: wait until the lock answers again"),
            _ => None,
        }
    }

    /// [`App::writes_blocked`] briefly, for the footer.
    pub fn writes_blocked_brief(&self) -> Option<&'static str> {
        match self.role {
            Some(Role::Technician) => Some("read-only: technician key"),
            _ if self.stale() => Some("not connected"),
            _ => None,
        }
    }

    /// The users' list, empty until read.
    pub fn user_list(&self) -> &[UserSummary] {
        self.users.as_ref().map_or(&[], |u| u.value.as_slice())
    }

    /// The selected user.
    pub fn selected_user(&self) -> Option<&UserSummary> {
        self.user_list().get(self.user_row)
    }

    /// The alarms of the last reading.
    pub fn alarms(&self) -> &[ActiveAlarm] {
        self.reading.as_ref().and_then(|r| r.value.alarms.as_ref().ok()).map_or(&[], Vec::as_slice)
    }

    fn refilter(&mut self) {
        let users = self.users.as_ref().map_or(&[][..], |u| u.value.as_slice());
        self.log_shown =
            (0..self.log.len()).filter(|&i| self.log_query.keeps(&self.log[i], users)).collect();
        self.clamp_log_row();
    }

    fn clamp_log_row(&mut self) {
        let last = self.log_shown.len().saturating_sub(1);
        if self.log_follow {
            self.log_row = last;
        } else {
            self.log_row = self.log_row.min(last);
        }
    }

    fn say(&mut self, ok: bool, text: impl Into<String>) {
        self.outcome = Some(Fresh { value: Outcome { ok, text: text.into() }, at_ms: self.now_ms });
    }

    /// Sends `command` unless a change is blocked now, or a commissioning run holds the
    /// lock (then says why).
    fn run(&mut self, command: Command) -> Option<Command> {
        if command.writes()
            && let Some(why) = self.writes_blocked()
        {
            self.say(false, why);
            return None;
        }
        if self.held() {
            return None;
        }
        if matches!(command, Command::Commission { .. }) {
            commission::started(self);
        }
        self.busy = Some(command.doing());
        Some(command)
    }

    /// Whether a commissioning run holds the lock, so nothing else may be asked of it (then
    /// says so).
    fn held(&mut self) -> bool {
        let held = self.commission.active();
        if held {
            self.say(false, "commissioning holds the lock: Esc in the Commission view stops it");
        }
        held
    }

    /// Asks before `command`.
    fn confirm(&mut self, question: String, command: Command) -> Option<Command> {
        if command.writes()
            && let Some(why) = self.writes_blocked()
        {
            self.say(false, why);
            return None;
        }
        if self.held() {
            return None;
        }
        self.modal = Some(Modal::Confirm { question, command });
        None
    }

    fn input(&mut self, purpose: Purpose) -> Option<Command> {
        let writes = !matches!(
            purpose,
            Purpose::Filter | Purpose::Export | Purpose::SkipReason { .. } | Purpose::ReportTo
        );
        if writes && let Some(why) = self.writes_blocked() {
            self.say(false, why);
            return None;
        }
        if writes && self.held() {
            return None;
        }
        let text =
            if purpose == Purpose::Filter { self.log_filter_text.clone() } else { String::new() };
        self.modal = Some(Modal::Input { purpose, text });
        None
    }
}

/// Applies `action` to `app`; returns what the worker should ask the lock, if anything.
pub fn update(app: &mut App, action: Action) -> Option<Command> {
    match action {
        Action::Quit => app.quit = true,
        Action::Key(key) => return key_pressed(app, key),
        Action::Tick(now_ms) => app.now_ms = now_ms,
        Action::Identity(info, role) => {
            app.identity = Some(Fresh { value: info, at_ms: app.now_ms });
            app.role = role;
        }
        Action::Settings(settings) => {
            app.settings = Some(Fresh { value: settings, at_ms: app.now_ms })
        }
        Action::Reading(reading) => {
            app.link = LinkState::Online { round_trip_ms: reading.round_trip_ms };
            app.reading = Some(Fresh { value: *reading, at_ms: app.now_ms });
            app.polls += 1;
            // Each reading also reads what is new in the log: a caught-up log is as fresh.
            if app.log_complete {
                app.log_at_ms = Some(app.now_ms);
            }
            app.alarm_row = app.alarm_row.min(app.alarms().len().saturating_sub(1));
        }
        Action::Users(users) => {
            app.user_row = app.user_row.min(users.len().saturating_sub(1));
            app.users = Some(Fresh { value: users, at_ms: app.now_ms });
            // Names may now match a `user:NAME` filter and the words.
            if !app.log_filter_text.is_empty() {
                if let Ok(query) = LogQuery::parse(&app.log_filter_text, app.user_list()) {
                    app.log_query = query;
                }
                app.refilter();
            }
        }
        Action::User(user) => app.user = Some(Fresh { value: *user, at_ms: app.now_ms }),
        Action::Log(records) => {
            let users = app.users.as_ref().map_or(&[][..], |u| u.value.as_slice());
            let newest = app.log.last().map_or(0, |r| r.seq);
            for record in records.into_iter().filter(|r| r.seq > newest) {
                if app.log_query.keeps(&record, users) {
                    app.log_shown.push(app.log.len());
                }
                app.log.push(record);
            }
            app.log_at_ms = Some(app.now_ms);
            app.clamp_log_row();
        }
        Action::LogReset => {
            app.log.clear();
            app.log_shown.clear();
            app.log_row = 0;
            app.log_complete = false;
        }
        Action::LogCaughtUp => {
            app.log_complete = true;
            app.log_at_ms = Some(app.now_ms);
        }
        Action::Access(record) => {
            if let Some(reading) = &mut app.reading {
                reading.value.last_access = Ok(Some(record));
            }
        }
        Action::Enrollment(enrollment) => app.enrollment = Some(enrollment),
        Action::Frame(row) => {
            if app.frames.len() == FRAMES_KEPT {
                app.frames.pop_front();
                app.frame_row = app.frame_row.map(|r| r.saturating_sub(1));
            }
            app.frames.push_back(row);
        }
        Action::Stats(stats) => app.stats = stats,
        Action::LinkDown(why) => {
            app.link = match &app.link {
                LinkState::Reconnecting { since_ms, attempts, .. } => {
                    LinkState::Reconnecting { why, since_ms: *since_ms, attempts: attempts + 1 }
                }
                _ => LinkState::Reconnecting { why, since_ms: app.now_ms, attempts: 0 },
            };
            if app.busy.take().is_some() {
                app.say(false, "the link was lost: whether the last action was done is not known");
            }
            commission::link_lost(app);
        }
        Action::Commission(news) => commission::news(app, news),
        Action::Done(outcome) => {
            app.busy = None;
            // A read whose result is in its panel ends without words.
            if !outcome.text.is_empty() {
                app.outcome = Some(Fresh { value: outcome, at_ms: app.now_ms });
            }
        }
    }
    None
}

fn is_ctrl_c(key: &KeyEvent) -> bool {
    key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)
}

fn key_pressed(app: &mut App, key: KeyEvent) -> Option<Command> {
    if is_ctrl_c(&key) {
        // A run under way stops first (cleanly, the lock left as it was); a second quits.
        match &app.commission.run {
            Some(run) if run.active() && run.state != RunState::Stopping => {
                app.modal = None;
                return commission::stop(app);
            }
            _ => app.quit = true,
        }
        return None;
    }
    if let Some(modal) = app.modal.take() {
        return modal_key(app, modal, key);
    }
    let before = app.view;
    let command = view_change(app, key);
    if app.view == View::Commission && before != View::Commission {
        return commission::entered(app);
    }
    command
}

fn view_change(app: &mut App, key: KeyEvent) -> Option<Command> {
    match key.code {
        KeyCode::Char('q') => app.quit = true,
        KeyCode::Char('?') | KeyCode::F(1) => app.modal = Some(Modal::Help),
        KeyCode::Tab => app.view = View::ALL[(app.view.index() + 1) % View::ALL.len()],
        KeyCode::BackTab => {
            app.view = View::ALL[(app.view.index() + View::ALL.len() - 1) % View::ALL.len()];
        }
        KeyCode::Char(c @ '1'..='6') => {
            app.view = View::ALL[usize::from(c as u8 - b'1')];
        }
        KeyCode::Up | KeyCode::Char('k') => move_selection(app, -1),
        KeyCode::Down | KeyCode::Char('j') => move_selection(app, 1),
        KeyCode::PageUp => move_selection(app, -10),
        KeyCode::PageDown => move_selection(app, 10),
        KeyCode::Home | KeyCode::Char('g') if app.view != View::Users => {
            move_selection(app, isize::MIN / 2)
        }
        KeyCode::End | KeyCode::Char('G') => move_selection(app, isize::MAX / 2),
        _ => return view_key(app, key),
    }
    None
}

fn move_selection(app: &mut App, by: isize) {
    let step = |row: usize, len: usize| -> usize {
        let row = row.saturating_add_signed(by);
        row.min(len.saturating_sub(1))
    };
    match app.view {
        View::Users => {
            let before = app.user_row;
            app.user_row = step(app.user_row, app.user_list().len());
            if before != app.user_row {
                app.enrollment = None;
            }
        }
        View::Log | View::Dashboard => {
            app.log_row = step(app.log_row, app.log_shown.len());
            app.log_follow = app.log_row + 1 >= app.log_shown.len();
        }
        View::Alarms => app.alarm_row = step(app.alarm_row, app.alarms().len()),
        View::Commission => {
            app.commission.row = step(app.commission.row, app.commission.rows().len());
        }
        View::Link => {
            let len = app.frames.len();
            let row = step(app.frame_row.unwrap_or(len.saturating_sub(1)), len);
            app.frame_row = (row + 1 < len).then_some(row);
        }
    }
}

fn view_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    match (app.view, key.code) {
        (View::Commission, _) => commission::key(app, key),
        (_, KeyCode::Esc) if app.enrollment.as_ref().is_some_and(enrolling) => {
            app.run(Command::CancelEnrollment)
        }
        (View::Users, KeyCode::Char('a')) => app.input(Purpose::AddUser),
        (View::Users, code) => {
            let user = app.selected_user()?.clone();
            let (id, name) = (user.id, user.name.to_string());
            match code {
                KeyCode::Enter => app.run(Command::LoadUser(id)),
                KeyCode::Char('e') => app.input(Purpose::Rename(id)),
                KeyCode::Char(' ') => {
                    app.run(Command::SetEnabled { user: id, enabled: !user.enabled })
                }
                KeyCode::Char('d') => app.confirm(
                    format!("Remove user {id} ({name}) and all their credentials?"),
                    Command::RemoveUser(id),
                ),
                KeyCode::Char('p') => app.input(Purpose::Pin { user: id, first: None }),
                KeyCode::Char('P') => {
                    let length = app
                        .identity
                        .as_ref()
                        .map_or(6, |i| i.value.capabilities.pin_length_min.max(6))
                        .min(
                            app.identity
                                .as_ref()
                                .map_or(10, |i| i.value.capabilities.pin_length_max),
                        );
                    app.run(Command::SetPin { user: id, choice: PinChoice::Generate { length } })
                }
                KeyCode::Char('c') => app.run(Command::LearnCard(id)),
                KeyCode::Char('f') => app.run(Command::EnrollFinger(id)),
                _ => None,
            }
        }
        (View::Log, KeyCode::Char('/')) => app.input(Purpose::Filter),
        (View::Log, KeyCode::Char('f')) => {
            app.log_follow = !app.log_follow;
            app.clamp_log_row();
            None
        }
        (View::Log, KeyCode::Char('v')) => app.run(Command::VerifyLog),
        (View::Log, KeyCode::Char('x')) => app.input(Purpose::Export),
        (View::Log, KeyCode::Esc) if !app.log_filter_text.is_empty() => {
            app.log_filter_text.clear();
            app.log_query = LogQuery::default();
            app.refilter();
            None
        }
        (View::Alarms, KeyCode::Char('c')) => app.confirm(
            "Clear every raised alarm? (a keypad lockout ends with them; each clearing is logged)"
                .into(),
            Command::ClearAlarms,
        ),
        (View::Alarms, KeyCode::Char('l')) => {
            if crate::ops::alarms::lockout_left(app.alarms()).is_none() {
                app.say(false, "the keypad is not locked out");
                return None;
            }
            app.confirm(
                "End the keypad lockout now? (the lock does it by clearing its alarms)".into(),
                Command::EndLockout,
            )
        }
        _ => None,
    }
}

/// Whether an enrollment still waits for the person.
pub fn enrolling(enrollment: &Enrollment) -> bool {
    matches!(enrollment, Enrollment::InProgress { .. })
}

fn modal_key(app: &mut App, modal: Modal, key: KeyEvent) -> Option<Command> {
    match modal {
        Modal::Help => {
            // Any key closes help; `q` still quits.
            if key.code == KeyCode::Char('q') {
                app.quit = true;
            }
            None
        }
        Modal::Confirm { command, question } => match key.code {
            KeyCode::Char('y' | 'Y') => app.run(command),
            KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                app.say(false, "cancelled; nothing was changed");
                None
            }
            _ => {
                app.modal = Some(Modal::Confirm { command, question });
                None
            }
        },
        Modal::Input { purpose, mut text } => match key.code {
            KeyCode::Esc => {
                app.say(false, "cancelled");
                None
            }
            KeyCode::Enter => submit(app, purpose, text),
            KeyCode::Backspace => {
                text.pop();
                app.modal = Some(Modal::Input { purpose, text });
                None
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                if text.chars().count() < 200 {
                    text.push(c);
                }
                app.modal = Some(Modal::Input { purpose, text });
                None
            }
            _ => {
                app.modal = Some(Modal::Input { purpose, text });
                None
            }
        },
    }
}

fn submit(app: &mut App, purpose: Purpose, text: String) -> Option<Command> {
    match purpose {
        Purpose::AddUser => match crate::input::user_name(text.trim()) {
            Ok(name) => app.run(Command::AddUser(name)),
            Err(e) => {
                app.say(false, e.to_string());
                None
            }
        },
        Purpose::Rename(user) => match crate::input::user_name(text.trim()) {
            Ok(name) => app.run(Command::Rename { user, name }),
            Err(e) => {
                app.say(false, e.to_string());
                None
            }
        },
        Purpose::Pin { user, first: None } => {
            app.modal = Some(Modal::Input {
                purpose: Purpose::Pin { user, first: Some(text) },
                text: String::new(),
            });
            None
        }
        Purpose::Pin { user, first: Some(first) } => {
            if first != text {
                app.say(false, "the two entries differ; nothing was changed");
                return None;
            }
            match crate::input::pin(&text) {
                Ok(pin) => app.run(Command::SetPin { user, choice: PinChoice::Given(pin) }),
                Err(e) => {
                    app.say(false, e.to_string());
                    None
                }
            }
        }
        Purpose::Filter => {
            match LogQuery::parse(&text, app.user_list()) {
                Ok(query) => {
                    app.log_query = query;
                    app.log_filter_text = text;
                    app.refilter();
                }
                Err(e) => app.say(false, e),
            }
            None
        }
        Purpose::Export => {
            let path = text.trim();
            if path.is_empty() {
                app.say(false, "no file named; nothing was written");
                return None;
            }
            let records = app.log_shown.iter().map(|&i| app.log[i]).collect();
            app.run(Command::Export { path: PathBuf::from(path), records })
        }
        Purpose::SkipReason { check, now } => commission::skip_reason(app, check, now, &text),
        Purpose::ReportTo => {
            commission::report_to(app, &text);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> Action {
        Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn quit_keys_set_quit() {
        let mut app = App::new("x");
        update(&mut app, Action::Quit);
        assert!(app.quit);
        let mut app = App::new("x");
        update(&mut app, key(KeyCode::Char('q')));
        assert!(app.quit);
        let mut app = App::new("x");
        update(&mut app, Action::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert!(app.quit);
    }

    #[test]
    fn tab_and_shift_tab_go_round_the_views() {
        let mut app = App::new("x");
        update(&mut app, key(KeyCode::Tab));
        assert_eq!(app.view, View::Users);
        update(&mut app, key(KeyCode::BackTab));
        update(&mut app, key(KeyCode::BackTab));
        assert_eq!(app.view, View::Link);
        update(&mut app, key(KeyCode::Char('3')));
        assert_eq!(app.view, View::Log);
    }

    #[test]
    fn a_lost_link_marks_everything_stale_and_counts_attempts() {
        let mut app = App::new("x");
        update(&mut app, Action::Tick(5_000));
        update(&mut app, Action::LinkDown("gone".into()));
        assert!(app.stale());
        update(&mut app, Action::Tick(6_000));
        update(&mut app, Action::LinkDown("still gone".into()));
        assert_eq!(
            app.link,
            LinkState::Reconnecting { why: "still gone".into(), since_ms: 5_000, attempts: 1 }
        );
    }

    #[test]
    fn writes_are_refused_with_a_reason_for_a_technician() {
        let mut app = App::new("x");
        app.link = LinkState::Online { round_trip_ms: 1 };
        app.role = Some(Role::Technician);
        app.view = View::Alarms;
        assert_eq!(update(&mut app, key(KeyCode::Char('c'))), None);
        assert!(app.modal.is_none());
        assert!(app.outcome.as_ref().unwrap().value.text.contains("technician"));
    }

    #[test]
    fn a_pin_is_asked_twice_and_must_match() {
        let mut app = App::new("x");
        app.link = LinkState::Online { round_trip_ms: 1 };
        app.role = Some(Role::Installer);
        app.modal = Some(Modal::Input {
            purpose: Purpose::Pin { user: 3, first: None },
            text: String::new(),
        });
        for c in "4829".chars() {
            update(&mut app, key(KeyCode::Char(c)));
        }
        assert_eq!(update(&mut app, key(KeyCode::Enter)), None);
        for c in "4829".chars() {
            update(&mut app, key(KeyCode::Char(c)));
        }
        let command = update(&mut app, key(KeyCode::Enter));
        assert!(matches!(command, Some(Command::SetPin { user: 3, choice: PinChoice::Given(_) })));
    }
}
