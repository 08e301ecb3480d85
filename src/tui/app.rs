//! Dashboard state and how it changes. `update` is the only place state changes; the view
//! only reads it, and the worker only sends actions.

use latchkey_protocol::{
    AccessRecord, ActiveAlarm, BatteryReport, ClockReading, Diagnostics, LockInfo, LogRecord,
};

use crate::session::Refusal;

/// Something that happened: a key, or news from the link worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The person asked to quit.
    Quit,
    /// The lock's identity arrived.
    Identity(LockInfo),
    /// A fresh reading of the lock.
    Reading(Reading),
    /// The lock did not answer, or the link failed.
    LinkDown(String),
    /// A refresh is underway (the UI shows it; it never waits for it).
    Polling,
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
    /// The newest event-log records, oldest first (the view shows as many as fit).
    pub log: Answer<Vec<LogRecord>>,
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

/// State of the link as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting for the first answer.
    Connecting,
    /// Answering; last round trip in milliseconds.
    Online {
        /// Last round trip.
        round_trip_ms: u32,
    },
    /// Not answering; why.
    Down(String),
}

/// Everything the dashboard shows.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// The port.
    pub port: String,
    /// Identity, once known.
    pub identity: Option<LockInfo>,
    /// Last reading, kept while the link is down so the technician still sees it.
    pub reading: Option<Reading>,
    /// The link.
    pub link: LinkState,
    /// A poll is in flight.
    pub polling: bool,
    /// Polls answered.
    pub polls: u32,
    /// The person asked to quit.
    pub quit: bool,
}

impl App {
    /// A dashboard for the lock on `port`, before anything is known.
    pub fn new(port: impl Into<String>) -> Self {
        Self {
            port: port.into(),
            identity: None,
            reading: None,
            link: LinkState::Connecting,
            polling: false,
            polls: 0,
            quit: false,
        }
    }
}

/// Applies `action` to `app`.
pub fn update(app: &mut App, action: Action) {
    match action {
        Action::Quit => app.quit = true,
        Action::Identity(info) => app.identity = Some(info),
        Action::Reading(reading) => {
            app.link = LinkState::Online { round_trip_ms: reading.round_trip_ms };
            app.reading = Some(reading);
            app.polling = false;
            app.polls += 1;
        }
        Action::LinkDown(why) => {
            app.link = LinkState::Down(why);
            app.polling = false;
        }
        Action::Polling => app.polling = true,
    }
}
