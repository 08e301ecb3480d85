//! Commissioning: the checks a lock needs before the installer leaves ([`plan`]), run live at
//! the door on the lock's own sealed events ([`run`]), and the handover report the lock signs
//! ([`Report`], [`verify`]).
//!
//! Every pass is a decision the lock made and logged: the result names the log record behind
//! it. Nothing is added to the lock for the test and nothing is armed, so stopping at any
//! moment leaves the lock as it was.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use latchkey_protocol::{
    AccessPath, AccessReason, Alarm, BatteryState, Credential, CredentialKind, Event, LockInfo,
    LogEntry, LogHead, LogRecord, Settings, User, UserKind,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::{bytes_from_hex, to_hex};
use crate::link::{Client, ClientError};

/// One check of the commissioning, by its stable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    /// The lock's clock is set, and close to this computer's.
    Clock,
    /// The time zone its schedules run in.
    TimeZone,
    /// The battery, under the motor's load.
    Battery,
    /// A PIN granted at the keypad.
    Keypad,
    /// A card granted at the reader.
    Rfid,
    /// A finger granted at the sensor.
    Fingerprint,
    /// A phone key granted.
    Phone,
    /// The mechanical key turned.
    MechanicalKey,
    /// A wrong PIN refused.
    WrongPin,
    /// A disabled user's credential refused, for that reason.
    DisabledRefused,
    /// The bolt moved within its limits on the grants above.
    Bolt,
    /// The door sensor saw the door open and close.
    Door,
    /// The tamper switch saw the housing opened and closed.
    Tamper,
    /// The log's chain holds.
    Log,
}

impl CheckId {
    /// Every check, in the order they run.
    pub const ALL: [Self; 14] = [
        Self::Clock,
        Self::TimeZone,
        Self::Battery,
        Self::Keypad,
        Self::Rfid,
        Self::Fingerprint,
        Self::Phone,
        Self::MechanicalKey,
        Self::WrongPin,
        Self::DisabledRefused,
        Self::Bolt,
        Self::Door,
        Self::Tamper,
        Self::Log,
    ];

    /// The stable name (the serde name).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Clock => "clock",
            Self::TimeZone => "time_zone",
            Self::Battery => "battery",
            Self::Keypad => "keypad",
            Self::Rfid => "rfid",
            Self::Fingerprint => "fingerprint",
            Self::Phone => "phone",
            Self::MechanicalKey => "mechanical_key",
            Self::WrongPin => "wrong_pin",
            Self::DisabledRefused => "disabled_refused",
            Self::Bolt => "bolt",
            Self::Door => "door",
            Self::Tamper => "tamper",
            Self::Log => "log",
        }
    }

    /// The check named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name.trim().replace('-', "_"))
    }

    /// Whether the person at the door has something to do for it.
    pub const fn needs_the_door(self) -> bool {
        matches!(
            self,
            Self::Keypad
                | Self::Rfid
                | Self::Fingerprint
                | Self::Phone
                | Self::MechanicalKey
                | Self::WrongPin
                | Self::DisabledRefused
                | Self::Door
                | Self::Tamper
        )
    }
}

/// A check as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Which.
    pub id: CheckId,
    /// What the person at the door does, or what is looked at.
    pub instruction: String,
    /// Why it will not run, when it will not.
    pub status: Planned,
}

/// Whether a planned check runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// It runs.
    Run,
    /// Skipped, for this reason (given with `--skip`, or nothing on the lock to check).
    Skip(String),
    /// It cannot pass as the lock is: it fails at once, saying what to do first.
    NotReady(String),
}

/// The plan for a lock with `info` and these `users`: every check its hardware and its users
/// allow, in order; `only` keeps just those (all when empty), `skips` skip with a reason.
pub fn plan(
    info: &LockInfo,
    users: &[User],
    only: &[CheckId],
    skips: &[(CheckId, String)],
) -> Vec<Check> {
    let paths = info.capabilities.access_paths;
    let opens = |u: &&User| u.spec.enabled && !matches!(u.spec.kind, UserKind::NonAccess);
    let holders = |kind: CredentialKind| -> Vec<String> {
        users
            .iter()
            .filter(opens)
            .filter(|u| u.credentials.iter().any(|c| c.kind() == kind))
            .map(|u| u.spec.name.to_string())
            .collect()
    };
    let present = |kind: CredentialKind, how: &str, enroll: &str| {
        let names = holders(kind);
        if names.is_empty() {
            (
                format!("{how} of an enrolled user"),
                Planned::NotReady(format!(
                    "no enabled user holds a {}: {enroll}",
                    kind_words(kind)
                )),
            )
        } else {
            (format!("{how} of {}", names_list(&names)), Planned::Run)
        }
    };
    let disabled: Vec<String> = users
        .iter()
        .filter(|u| !u.spec.enabled && !u.credentials.is_empty())
        .map(|u| u.spec.name.to_string())
        .collect();
    let mut checks = Vec::new();
    for id in CheckId::ALL {
        let (instruction, status) = match id {
            CheckId::Clock => ("the lock's clock is set and within a minute".into(), Planned::Run),
            CheckId::TimeZone => ("the time zone its schedules run in".into(), Planned::Run),
            CheckId::Battery => ("the battery under the motor's load".into(), Planned::Run),
            CheckId::Keypad if paths.keypad => present(
                CredentialKind::Pin,
                "At the keypad, enter the PIN",
                "set one with `latchkey pin set USER`",
            ),
            CheckId::Rfid if paths.rfid => present(
                CredentialKind::Card,
                "At the reader, tap the card",
                "learn one with `latchkey card learn USER`",
            ),
            CheckId::Fingerprint if paths.fingerprint => present(
                CredentialKind::Fingerprint,
                "On the sensor, place the finger",
                "enroll one with `latchkey finger enroll USER`",
            ),
            CheckId::Phone if paths.phone => present(
                CredentialKind::Phone,
                "Present the phone key",
                "add one with `latchkey phone add USER KEY`",
            ),
            CheckId::MechanicalKey if paths.mechanical_key => {
                ("Turn the mechanical key".into(), Planned::Run)
            }
            CheckId::WrongPin if paths.keypad => {
                ("At the keypad, enter a PIN nobody holds: it must be refused".into(), Planned::Run)
            }
            CheckId::DisabledRefused if disabled.is_empty() => (
                "Present a disabled user's credential: it must be refused".into(),
                Planned::Skip("no disabled user holds a credential".into()),
            ),
            CheckId::DisabledRefused => (
                format!(
                    "Present a credential of {} (disabled): it must be refused",
                    names_list(&disabled)
                ),
                Planned::Run,
            ),
            CheckId::Bolt => {
                ("the bolt moved on the grants above, within its limits".into(), Planned::Run)
            }
            CheckId::Door => ("Open the door, then close it".into(), Planned::Run),
            CheckId::Tamper => ("Take the housing off, then put it back".into(), Planned::Run),
            CheckId::Log => ("the log's chain holds".into(), Planned::Run),
            // A path this lock's hardware does not have.
            _ => continue,
        };
        if !only.is_empty() && !only.contains(&id) {
            continue;
        }
        let status = match skips.iter().find(|(s, _)| *s == id) {
            Some((_, reason)) => Planned::Skip(reason.clone()),
            None => status,
        };
        checks.push(Check { id, instruction, status });
    }
    checks
}

fn kind_words(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::Pin => "PIN",
        CredentialKind::Card => "card",
        CredentialKind::Fingerprint => "fingerprint",
        CredentialKind::Phone => "phone key",
    }
}

fn names_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [first @ .., last] if first.len() < 3 => format!("{} or {last}", first.join(", ")),
        [a, b, rest @ ..] => format!("{a}, {b} or {} more", rest.len()),
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The lock decided as it should.
    Pass,
    /// It did not, or nothing happened in time.
    Fail,
    /// Not run, with a reason.
    Skipped,
}

/// A check's result, as the report holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Which check.
    pub check: CheckId,
    /// How it ended.
    pub outcome: Outcome,
    /// What was seen, or why it failed or was skipped (with what to do).
    pub detail: String,
    /// The log record of the lock's decision behind it.
    pub seq: Option<u32>,
    /// When, by the lock's clock (RFC 3339; none when its clock was not set).
    pub at: Option<String>,
    /// Whose credential, by number and name.
    pub user: Option<u16>,
    /// The user's name.
    pub user_name: Option<String>,
}

impl CheckResult {
    fn new(check: CheckId, outcome: Outcome, detail: impl Into<String>) -> Self {
        Self {
            check,
            outcome,
            detail: detail.into(),
            seq: None,
            at: None,
            user: None,
            user_name: None,
        }
    }

    fn with_record(mut self, record: &LogRecord, users: &[User]) -> Self {
        self.seq = Some(record.seq);
        self.at = lock_time(record.at);
        if let LogEntry::Access { user: Some(id), .. } = record.entry {
            self.user = Some(id);
            self.user_name = users.iter().find(|u| u.id == id).map(|u| u.spec.name.to_string());
        }
        self
    }
}

fn lock_time(at: u64) -> Option<String> {
    crate::time::lock_time(at).map(crate::time::format_unix)
}

/// What the run tells whoever watches it, and asks them.
pub trait Watcher {
    /// `check` begins: for a door check, the person has `timeout` to do what it says.
    fn waiting(&mut self, check: &Check, timeout: Duration);
    /// `result` is in.
    fn result(&mut self, result: &CheckResult);
    /// Whether to stop now (Ctrl-C): asked between events.
    fn stop(&mut self) -> bool;
    /// A door check failed: try it again, skip it with a reason, or leave it failed. `None`:
    /// not decided yet; the run keeps the session alive (the lock ends a quiet one after 60 s)
    /// and asks again, so a person may take their time.
    fn after_failure(&mut self, result: &CheckResult) -> Option<Again>;
}

/// What to do about a failed door check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Again {
    /// Try it again.
    Retry,
    /// Skip it, with this reason.
    Skip(String),
    /// Leave it failed and go on.
    Keep,
}

/// Why a run ended early.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The link failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The person stopped it; these results were in.
    #[error("stopped")]
    Stopped(Vec<CheckResult>),
}

/// How long a session may stay quiet: the lock ends it after 60 s without a sealed frame.
const KEEPALIVE: Duration = Duration::from_secs(20);

/// Runs `checks` on the lock `client` holds a session with (its users `users`), each door
/// check waiting up to `timeout` for the lock's decision; returns every result in order.
pub fn run(
    client: &mut Client,
    checks: &[Check],
    users: &[User],
    timeout: Duration,
    watcher: &mut impl Watcher,
) -> Result<Vec<CheckResult>, RunError> {
    let motor_before = client.diagnostics()?.motor_runs;
    let mut results: Vec<CheckResult> = Vec::new();
    let mut grants: Vec<u32> = Vec::new();
    for check in checks {
        let result = loop {
            if watcher.stop() {
                return Err(RunError::Stopped(results));
            }
            // Where the log stands before the person is told to act: their decision comes after.
            // Events of earlier checks are not this one's.
            let from = match check.status {
                Planned::Run if check.id.needs_the_door() => {
                    while client.next_event(Duration::ZERO)?.is_some() {}
                    crate::ops::log::bounds(client)?.next_seq
                }
                _ => 0,
            };
            watcher.waiting(check, timeout);
            let result = match &check.status {
                Planned::Skip(reason) => {
                    CheckResult::new(check.id, Outcome::Skipped, reason.clone())
                }
                Planned::NotReady(why) => CheckResult::new(check.id, Outcome::Fail, why.clone()),
                Planned::Run => match check.id {
                    CheckId::Clock => clock(client)?,
                    CheckId::TimeZone => time_zone(&client.settings()?),
                    CheckId::Battery => battery(client)?,
                    CheckId::Bolt => bolt(client, motor_before, &grants)?,
                    CheckId::Log => log(client)?,
                    door_check => at_the_door(client, door_check, from, users, timeout, watcher)?,
                },
            };
            let retryable = check.id.needs_the_door() && check.status == Planned::Run;
            if result.outcome != Outcome::Fail || !retryable {
                break result;
            }
            watcher.result(&result);
            let again = loop {
                if watcher.stop() {
                    return Err(RunError::Stopped(results));
                }
                match watcher.after_failure(&result) {
                    Some(again) => break again,
                    None => {
                        client.ping(0)?;
                    }
                }
            };
            match again {
                Again::Retry => continue,
                Again::Skip(reason) => {
                    break CheckResult::new(check.id, Outcome::Skipped, reason);
                }
                Again::Keep => break result,
            }
        };
        if matches!(
            check.id,
            CheckId::Keypad
                | CheckId::Rfid
                | CheckId::Fingerprint
                | CheckId::Phone
                | CheckId::MechanicalKey
        ) && result.outcome == Outcome::Pass
            && let Some(seq) = result.seq
        {
            grants.push(seq);
        }
        watcher.result(&result);
        results.push(result);
    }
    Ok(results)
}

fn clock(client: &mut Client) -> Result<CheckResult, ClientError> {
    let reading = client.time()?;
    if !reading.is_set {
        return Ok(CheckResult::new(
            CheckId::Clock,
            Outcome::Fail,
            "the lock's clock is not set: run `latchkey time sync`",
        ));
    }
    let drift = i64::try_from(reading.unix_seconds).unwrap_or(i64::MAX)
        - i64::try_from(crate::time::now_unix()).unwrap_or(i64::MAX);
    let detail = format!(
        "{} by the lock, {drift:+} s from this computer",
        crate::time::format_unix(reading.unix_seconds)
    );
    Ok(if drift.abs() <= 60 {
        CheckResult::new(CheckId::Clock, Outcome::Pass, detail)
    } else {
        CheckResult::new(
            CheckId::Clock,
            Outcome::Fail,
            format!("{detail}: run `latchkey time sync`"),
        )
    })
}

fn time_zone(settings: &Settings) -> CheckResult {
    CheckResult::new(CheckId::TimeZone, Outcome::Pass, settings.time_zone.to_string())
}

fn battery(client: &mut Client) -> Result<CheckResult, ClientError> {
    let b = client.battery()?;
    let loaded = if b.loaded_millivolts == 0 {
        "no reading under load yet".to_string()
    } else {
        format!("{} mV under load", b.loaded_millivolts)
    };
    let detail = format!("{} mV at rest, {loaded}, {} %", b.millivolts, b.percent);
    Ok(match b.state {
        BatteryState::Ok => CheckResult::new(CheckId::Battery, Outcome::Pass, detail),
        low => CheckResult::new(
            CheckId::Battery,
            Outcome::Fail,
            format!("{detail}: the battery is {}; replace it before leaving", low.as_str()),
        ),
    })
}

fn bolt(client: &mut Client, before: u32, grants: &[u32]) -> Result<CheckResult, ClientError> {
    let d = client.diagnostics()?;
    let jammed = client.alarms()?.iter().any(|a| a.alarm == Alarm::Jammed);
    let runs = d.motor_runs.saturating_sub(before);
    let detail = format!(
        "{runs} bolt operation{} during the run; the last took {} ms at {} mA",
        if runs == 1 { "" } else { "s" },
        d.motor_last_ms,
        d.motor_last_ma
    );
    let mut result = if jammed {
        CheckResult::new(
            CheckId::Bolt,
            Outcome::Fail,
            format!(
                "{detail}; the lock reports the bolt jammed: check the strike and the door's alignment"
            ),
        )
    } else if runs == 0 || grants.is_empty() {
        CheckResult::new(
            CheckId::Bolt,
            Outcome::Fail,
            "no grant moved the bolt during the run: run the access checks",
        )
    } else {
        CheckResult::new(CheckId::Bolt, Outcome::Pass, detail)
    };
    result.seq = grants.first().copied();
    Ok(result)
}

fn log(client: &mut Client) -> Result<CheckResult, ClientError> {
    let report = client.verify_log()?;
    let mut result = match report.broken.or(report.reserved_broken) {
        None => CheckResult::new(
            CheckId::Log,
            Outcome::Pass,
            format!(
                "{} records, seq {} to {}, chain intact",
                report.records, report.first_seq, report.last_seq
            ),
        ),
        Some(b) => CheckResult::new(
            CheckId::Log,
            Outcome::Fail,
            format!("the log's chain is broken ({b:?}): keep the lock as evidence"),
        ),
    };
    result.seq = Some(report.last_seq);
    Ok(result)
}

/// What a door check waits for.
enum Expect {
    /// A decision on this path, granted or refused (with this reason).
    Access { path: AccessPath, granted: bool, reason: Option<AccessReason> },
    /// Two log records in turn: the first (open, raised) then the second (closed, cleared).
    Pair { first: LogEntry, second: LogEntry },
}

fn expectation(id: CheckId) -> Expect {
    let granted = |path| Expect::Access { path, granted: true, reason: None };
    match id {
        CheckId::Keypad => granted(AccessPath::Keypad),
        CheckId::Rfid => granted(AccessPath::Rfid),
        CheckId::Fingerprint => granted(AccessPath::Fingerprint),
        CheckId::Phone => granted(AccessPath::Phone),
        CheckId::MechanicalKey => granted(AccessPath::MechanicalKey),
        CheckId::WrongPin => Expect::Access {
            path: AccessPath::Keypad,
            granted: false,
            reason: Some(AccessReason::UnknownCredential),
        },
        CheckId::Door => Expect::Pair {
            first: LogEntry::Door { open: true },
            second: LogEntry::Door { open: false },
        },
        CheckId::Tamper => Expect::Pair {
            first: LogEntry::Alarm { alarm: Alarm::Tamper, raised: true },
            second: LogEntry::Alarm { alarm: Alarm::Tamper, raised: false },
        },
        // Disabled users: any path, refused as disabled.
        _ => Expect::Access {
            path: AccessPath::Keypad,
            granted: false,
            reason: Some(AccessReason::UserDisabled),
        },
    }
}

/// Waits for the lock's decision on a door check, on its sealed events.
fn at_the_door(
    client: &mut Client,
    id: CheckId,
    from: u32,
    users: &[User],
    timeout: Duration,
    watcher: &mut impl Watcher,
) -> Result<CheckResult, RunError> {
    let expect = expectation(id);
    let any_path = id == CheckId::DisabledRefused;
    let deadline = Instant::now() + timeout;
    let mut alive = Instant::now();
    let mut first_seen = false;
    loop {
        if watcher.stop() {
            return Err(RunError::Stopped(Vec::new()));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(CheckResult::new(
                id,
                Outcome::Fail,
                format!("nothing happened at the door within {} s", timeout.as_secs()),
            ));
        }
        if now.duration_since(alive) >= KEEPALIVE {
            client.ping(0)?;
            alive = Instant::now();
        }
        let wait = deadline.saturating_duration_since(now).min(Duration::from_millis(250));
        let Some((_, event)) = client.next_event(wait)? else { continue };
        alive = Instant::now();
        match (&expect, event) {
            (Expect::Access { path, granted, reason }, Event::Access(access))
                if access.path == *path || any_path =>
            {
                let record = decision_record(client, from, &access)?;
                let who = access
                    .user
                    .and_then(|id| users.iter().find(|u| u.id == id))
                    .map_or_else(String::new, |u| format!(" for {} (user {})", u.spec.name, u.id));
                let decided = match (access.granted, access.reason) {
                    (true, AccessReason::Granted) => format!("granted{who}"),
                    (granted, reason) => format!(
                        "{}{who}: {}",
                        if granted { "granted" } else { "refused" },
                        reason.as_str().replace('_', " ")
                    ),
                };
                let right = access.granted == *granted && reason.is_none_or(|r| r == access.reason);
                let mut result = if right {
                    CheckResult::new(id, Outcome::Pass, decided)
                } else {
                    CheckResult::new(
                        id,
                        Outcome::Fail,
                        format!("the lock decided otherwise: {decided}"),
                    )
                };
                if let Some(record) = record {
                    result = result.with_record(&record, users);
                }
                return Ok(result);
            }
            (Expect::Pair { first, second }, Event::Logged(record)) if record.seq >= from => {
                if record.entry == *first {
                    first_seen = true;
                } else if record.entry == *second && first_seen {
                    let detail = match id {
                        CheckId::Door => "the door sensor saw the door open and close",
                        _ => "the tamper switch saw the housing opened and closed",
                    };
                    return Ok(
                        CheckResult::new(id, Outcome::Pass, detail).with_record(&record, users)
                    );
                }
            }
            _ => {}
        }
    }
}

/// The log record of decision `access`, made after record `from`: reading the log also ends
/// a burst of refusals the decision may have joined, so its record is there.
fn decision_record(
    client: &mut Client,
    from: u32,
    access: &latchkey_protocol::AccessRecord,
) -> Result<Option<LogRecord>, ClientError> {
    let same = |entry: &LogEntry| match *entry {
        LogEntry::Access { path, granted, user, reason } => {
            path == access.path
                && granted == access.granted
                && user == access.user
                && reason == access.reason
        }
        LogEntry::Repeated { of, .. } => same_access(&of.entry(), access),
        _ => false,
    };
    let mut found = None;
    for record in crate::ops::log::records(client, from) {
        let record = record?;
        if same(&record.entry) {
            found = Some(record);
        }
    }
    Ok(found)
}

fn same_access(entry: &LogEntry, access: &latchkey_protocol::AccessRecord) -> bool {
    matches!(*entry, LogEntry::Access { path, granted, user, reason }
        if path == access.path && granted == access.granted && user == access.user && reason == access.reason)
}

// ---- the report ------------------------------------------------------------------------------

/// What the report says it is.
pub const REPORT_FORMAT: &str = "latchkey commissioning report v1";

/// The handover report: what the lock is and holds, every check, and the log head the lock
/// signed over the digest of all that ([`ReportBody::digest`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Everything the signature covers.
    pub body: ReportBody,
    /// The lock's log head, signed over the body's digest.
    pub head: ReportHead,
}

/// The report's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// [`REPORT_FORMAT`].
    pub format: String,
    /// The lock.
    pub lock: ReportLock,
    /// Its clock when commissioned.
    pub clock: ReportClock,
    /// Its battery.
    pub battery: ReportBattery,
    /// Its users: names, kinds, validity, credential counts; never a PIN, UID or key.
    pub users: Vec<ReportUser>,
    /// Every check, in order.
    pub checks: Vec<CheckResult>,
    /// Whether every check that ran passed.
    pub passed: bool,
    /// The users checksum (`latchkey checksum`).
    pub checksum: ReportChecksum,
    /// Who commissioned it: the site key's name and fingerprint.
    pub commissioned_by: ReportKey,
    /// When, by this computer's clock (RFC 3339).
    pub commissioned_at: String,
}

/// The lock's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportLock {
    /// Serial number.
    pub serial: String,
    /// Model.
    pub model: String,
    /// Firmware version.
    pub firmware_version: String,
    /// Protocol version.
    pub protocol_version: u8,
    /// The door's label.
    pub label: String,
    /// The time zone rule its schedules run in.
    pub time_zone: String,
    /// The device key its log heads are signed with (hex); none: it has none.
    pub device_key: Option<String>,
}

/// The lock's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportClock {
    /// Whether it was set.
    pub set: bool,
    /// Its reading (RFC 3339).
    pub reading: String,
    /// Seconds ahead of this computer's clock (negative: behind).
    pub drift_seconds: i64,
}

/// The battery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportBattery {
    /// At rest, millivolts.
    pub millivolts: u16,
    /// Under the motor's load, millivolts (0: no reading yet).
    pub loaded_millivolts: u16,
    /// `ok`, `low` or `critical`.
    pub state: String,
}

/// A user, without a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportUser {
    /// Number.
    pub id: u16,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Enabled.
    pub enabled: bool,
    /// Valid from (RFC 3339).
    pub valid_from: Option<String>,
    /// Valid until (RFC 3339).
    pub valid_until: Option<String>,
    /// Weekly windows.
    pub windows: usize,
    /// Credentials by type: PINs, cards, fingerprints, phone keys.
    pub credentials: ReportCredentials,
}

/// Credential counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportCredentials {
    /// PINs.
    pub pin: u8,
    /// Cards.
    pub card: u8,
    /// Fingers.
    pub fingerprint: u8,
    /// Phone keys.
    pub phone: u8,
}

/// The users checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportChecksum {
    /// Users.
    pub users: u16,
    /// Credentials.
    pub credentials: u16,
    /// Digest (hex).
    pub digest: String,
}

/// A site key, by name and fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportKey {
    /// Its name in the keystore.
    pub name: String,
    /// Its fingerprint.
    pub fingerprint: String,
}

/// The log head as signed: `GetLogHead { seen: 0, nonce: digest of the body }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportHead {
    /// The newest record.
    pub seq: u32,
    /// Its chain tag (hex).
    pub tag: String,
    /// The Ed25519 signature (hex); none from a lock without a device key.
    pub signature: Option<String>,
}

impl ReportBody {
    /// SHA-256 of the body as JSON (serde_json's compact form, fields in declaration order):
    /// what the lock's signature covers.
    pub fn digest(&self) -> [u8; 32] {
        // Serializing plain data to a Vec cannot fail.
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&bytes).into()
    }
}

/// Users as the report lists them.
pub fn report_users(users: &[User]) -> Vec<ReportUser> {
    users
        .iter()
        .map(|u| {
            let mut credentials = ReportCredentials::default();
            for c in &u.credentials {
                let slot = match c {
                    Credential::Pin => &mut credentials.pin,
                    Credential::Card { .. } | Credential::CardFingerprint { .. } => {
                        &mut credentials.card
                    }
                    Credential::Fingerprint { .. } => &mut credentials.fingerprint,
                    Credential::Phone { .. } | Credential::PhoneFingerprint { .. } => {
                        &mut credentials.phone
                    }
                };
                *slot = slot.saturating_add(1);
            }
            ReportUser {
                id: u.id,
                name: u.spec.name.to_string(),
                kind: u.spec.kind.as_str().to_string(),
                enabled: u.spec.enabled,
                valid_from: u.spec.valid_from.map(crate::time::format_unix),
                valid_until: u.spec.valid_until.map(crate::time::format_unix),
                windows: u.spec.weekly.len(),
                credentials,
            }
        })
        .collect()
}

/// Everything the report holds besides the checks, read from the lock now: the lock `info`
/// with its `users` and door `label`, commissioned by the site key `by`. It passed when no
/// check failed (skips allowed).
pub fn report_body(
    client: &mut Client,
    info: &LockInfo,
    users: &[User],
    label: String,
    checks: Vec<CheckResult>,
    by: ReportKey,
) -> Result<ReportBody, ClientError> {
    let clock = client.time()?;
    let battery = client.battery()?;
    let settings = client.settings()?;
    let (n_users, credentials, digest) = client.checksum()?;
    let device_key =
        if info.capabilities.signs_log_head { Some(to_hex(&client.device_key()?)) } else { None };
    let now = crate::time::now_unix();
    let passed = checks.iter().all(|r| r.outcome != Outcome::Fail);
    Ok(ReportBody {
        format: REPORT_FORMAT.into(),
        lock: ReportLock {
            serial: info.serial.to_string(),
            model: info.model.to_string(),
            firmware_version: info.firmware_version.to_string(),
            protocol_version: info.protocol_version,
            label,
            time_zone: settings.time_zone.to_string(),
            device_key,
        },
        clock: ReportClock {
            set: clock.is_set,
            reading: crate::time::format_unix(clock.unix_seconds),
            drift_seconds: i64::try_from(clock.unix_seconds).unwrap_or(i64::MAX)
                - i64::try_from(now).unwrap_or(i64::MAX),
        },
        battery: ReportBattery {
            millivolts: battery.millivolts,
            loaded_millivolts: battery.loaded_millivolts,
            state: battery.state.as_str().into(),
        },
        users: report_users(users),
        checks,
        passed,
        checksum: ReportChecksum { users: n_users, credentials, digest: to_hex(&digest) },
        commissioned_by: by,
        commissioned_at: crate::time::format_unix(now),
    })
}

/// Where a report goes when no file is named: `commission-SERIAL-TIME` in the current folder
/// (`.json` and `.html` are added).
pub fn default_report_base(serial: &str) -> PathBuf {
    let stamp = crate::time::format_unix(crate::time::now_unix()).replace(':', "");
    PathBuf::from(format!("commission-{serial}-{stamp}"))
}

/// A report file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the report to {}: {source}", path.display())]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Writes `report` as `BASE.json` and `BASE.html`, both new files (an existing one is never
/// replaced); returns their paths.
pub fn write_report(report: &Report, base: &Path) -> Result<(PathBuf, PathBuf), WriteError> {
    let (json_path, html_path) = (base.with_extension("json"), base.with_extension("html"));
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| WriteError { path: json_path.clone(), source: e.into() })?;
    write_new(&json_path, &text)?;
    write_new(&html_path, &html(report))?;
    Ok((json_path, html_path))
}

fn write_new(path: &Path, text: &str) -> Result<(), WriteError> {
    use std::io::Write;
    let fail = |source| WriteError { path: path.to_path_buf(), source };
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)
}

/// Has the lock sign `body`: its log head over the body's digest.
pub fn sign(client: &mut Client, body: ReportBody) -> Result<Report, ClientError> {
    let head = client.log_head_over(0, body.digest())?;
    Ok(Report {
        body,
        head: ReportHead {
            seq: head.seq,
            tag: to_hex(&head.tag),
            signature: head.signature_bytes().map(|s| to_hex(&s)),
        },
    })
}

/// What does not hold in a report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// Not a report this latchkey reads.
    #[error("not a commissioning report: {0}")]
    NotAReport(String),
    /// The lock has no device key: nothing signed it.
    #[error("the report is not signed: lock {serial} has no device key")]
    Unsigned {
        /// The lock.
        serial: String,
    },
    /// No device key is pinned on this host for the lock.
    #[error("this host has no device key pinned for lock {serial}")]
    NotPinned {
        /// The lock.
        serial: String,
    },
    /// The report names another device key than the pinned one.
    #[error(
        "the report names device key {report}, but the key pinned for lock {serial} is {pinned}"
    )]
    OtherKey {
        /// The lock.
        serial: String,
        /// In the report.
        report: String,
        /// Pinned.
        pinned: String,
    },
    /// The signature does not verify: the report was changed after the lock signed it.
    #[error(
        "the signature does not match the report's content: it was changed after lock {serial} signed it"
    )]
    BadSignature {
        /// The lock.
        serial: String,
    },
}

/// Checks `report`'s signature against `pinned`, the device key this host pinned for its lock.
pub fn verify(report: &Report, pinned: Option<&[u8; 32]>) -> Result<(), Mismatch> {
    let serial = report.body.lock.serial.clone();
    if report.body.format != REPORT_FORMAT {
        return Err(Mismatch::NotAReport(format!("its format is {:?}", report.body.format)));
    }
    let Some(signature) = &report.head.signature else {
        return Err(Mismatch::Unsigned { serial });
    };
    let Some(pinned) = pinned else {
        return Err(Mismatch::NotPinned { serial });
    };
    if let Some(named) = &report.body.lock.device_key
        && bytes_from_hex(named).as_deref() != Some(pinned.as_slice())
    {
        return Err(Mismatch::OtherKey { serial, report: named.clone(), pinned: to_hex(pinned) });
    }
    let bad = || Mismatch::BadSignature { serial: serial.clone() };
    let tag = bytes_from_hex(&report.head.tag).and_then(|t| t.try_into().ok()).ok_or_else(bad)?;
    let signature: [u8; 64] =
        bytes_from_hex(signature).and_then(|s| s.try_into().ok()).ok_or_else(bad)?;
    let head = LogHead { seq: report.head.seq, tag, seen: 0, seen_tag: None, signature: None };
    let key = ed25519_dalek::VerifyingKey::from_bytes(pinned).map_err(|_| bad())?;
    key.verify_strict(
        &head.signed_bytes(&serial, &report.body.digest()),
        &ed25519_dalek::Signature::from_bytes(&signature),
    )
    .map_err(|_| bad())
}

/// Reads a report from the JSON it was written as, or from the HTML page that embeds it.
pub fn parse(text: &str) -> Result<Report, Mismatch> {
    let json = match text.find(HTML_DATA_OPEN) {
        Some(start) => {
            let rest = &text[start + HTML_DATA_OPEN.len()..];
            let end = rest
                .find("</script>")
                .ok_or_else(|| Mismatch::NotAReport("the embedded data never ends".into()))?;
            rest[..end].replace("<\\/", "</")
        }
        None => text.to_string(),
    };
    serde_json::from_str(&json).map_err(|e| Mismatch::NotAReport(e.to_string()))
}

const HTML_DATA_OPEN: &str = "<script type=\"application/json\" id=\"latchkey-report\">";

/// The report as a self-contained, printable HTML page: every field shown, and the JSON
/// embedded whole so `report verify` checks the page itself.
pub fn html(report: &Report) -> String {
    let b = &report.body;
    let e = escape;
    let mut out = String::new();
    let row = |k: &str, v: &str| format!("<tr><th>{}</th><td>{}</td></tr>\n", e(k), e(v));
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!(
        "<title>Commissioning report: {} ({})</title>\n",
        e(&b.lock.label),
        e(&b.lock.serial)
    ));
    out.push_str(
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#111}\
         table{border-collapse:collapse;width:100%;margin-bottom:1.5em}\
         th,td{border:1px solid #999;padding:.25em .5em;text-align:left;vertical-align:top}\
         .pass{color:#060}.fail{color:#a00;font-weight:bold}.skipped{color:#666}\
         code{word-break:break-all}@media print{body{margin:0}}</style>\n</head>\n<body>\n",
    );
    out.push_str(&format!(
        "<h1>Commissioning report: {}</h1>\n<p class=\"{}\">{}</p>\n",
        e(&b.lock.label),
        if b.passed { "pass" } else { "fail" },
        if b.passed { "Every check that ran passed." } else { "Some checks failed." }
    ));
    out.push_str("<h2>Lock</h2>\n<table>\n");
    for (k, v) in [
        ("Serial", b.lock.serial.clone()),
        ("Model", b.lock.model.clone()),
        ("Firmware", b.lock.firmware_version.clone()),
        ("Protocol", b.lock.protocol_version.to_string()),
        ("Label", b.lock.label.clone()),
        ("Time zone", b.lock.time_zone.clone()),
        ("Device key", b.lock.device_key.clone().unwrap_or_else(|| "none".into())),
        ("Clock set", b.clock.set.to_string()),
        ("Clock reading", b.clock.reading.clone()),
        ("Clock drift (s)", b.clock.drift_seconds.to_string()),
        ("Battery (mV)", b.battery.millivolts.to_string()),
        ("Battery under load (mV)", b.battery.loaded_millivolts.to_string()),
        ("Battery state", b.battery.state.clone()),
        (
            "Commissioned by",
            format!("{} ({})", b.commissioned_by.name, b.commissioned_by.fingerprint),
        ),
        ("Commissioned at", b.commissioned_at.clone()),
    ] {
        out.push_str(&row(k, &v));
    }
    out.push_str("</table>\n<h2>Checks</h2>\n<table>\n<tr><th>Check</th><th>Result</th><th>Detail</th><th>User</th><th>Log seq</th><th>Lock time</th></tr>\n");
    for c in &b.checks {
        let outcome = match c.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skipped => "skipped",
        };
        let user = match (&c.user_name, c.user) {
            (Some(name), Some(id)) => format!("{name} ({id})"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td class=\"{outcome}\">{outcome}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            e(c.check.as_str()),
            e(&c.detail),
            e(&user),
            c.seq.map_or_else(String::new, |s| s.to_string()),
            e(c.at.as_deref().unwrap_or("")),
        ));
    }
    out.push_str("</table>\n<h2>Users</h2>\n<table>\n<tr><th>#</th><th>Name</th><th>Kind</th><th>Enabled</th><th>Valid from</th><th>Valid until</th><th>Weekly windows</th><th>PINs</th><th>Cards</th><th>Fingerprints</th><th>Phone keys</th></tr>\n");
    for u in &b.users {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            u.id,
            e(&u.name),
            e(&u.kind),
            u.enabled,
            e(u.valid_from.as_deref().unwrap_or("")),
            e(u.valid_until.as_deref().unwrap_or("")),
            u.windows,
            u.credentials.pin,
            u.credentials.card,
            u.credentials.fingerprint,
            u.credentials.phone,
        ));
    }
    out.push_str("</table>\n<h2>Integrity</h2>\n<table>\n");
    for (k, v) in [
        (
            "Users checksum",
            format!(
                "{} users, {} credentials, {}",
                b.checksum.users, b.checksum.credentials, b.checksum.digest
            ),
        ),
        ("Log head seq", report.head.seq.to_string()),
        ("Log head chain tag", report.head.tag.clone()),
        (
            "Signature (Ed25519, by the lock)",
            report
                .head
                .signature
                .clone()
                .unwrap_or_else(|| "none: this lock has no device key".into()),
        ),
        ("Report format", b.format.clone()),
    ] {
        out.push_str(&row(k, &v));
    }
    out.push_str("</table>\n<p>To check this report: <code>latchkey report verify FILE</code> on a computer that claimed the lock (its device key is pinned there).</p>\n");
    // The data whole, for `report verify`; `</` escaped so no value can end the script.
    let json = serde_json::to_string_pretty(report).unwrap_or_default().replace("</", "<\\/");
    out.push_str(HTML_DATA_OPEN);
    out.push('\n');
    out.push_str(&json);
    out.push_str("\n</script>\n</body>\n</html>\n");
    out
}

/// Text for HTML: the five characters that mean something there, as entities.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
