//! Users and their credentials: `user`, `pin`, `card`, `finger`, `phone`, `schedule`,
//! `guest`, `checksum`, `access`, `alarms`. Parsing what a person types and printing what the
//! lock answers; every rule (ranges, weak PINs, duplicates, schedules) is the lock's.

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use latchkey_protocol::checksum::{Checksum, ChecksumCredential, pin_digest, pin_key};
use latchkey_protocol::crypto::lock_key;
use latchkey_protocol::{
    AccessRecord, CardUid, Credential, EnrollFailure, EnrollKind, Enrollment, Pin, Role, Status,
    TimeZoneRule, User, UserKind, UserName, UserSpec, UserWrite, WEEKLY_WINDOWS_MAX, WeeklyWindow,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::commands::{Connection, connect_authorized};
use super::{CliError, Context};
use crate::display::{describe_local_date_time, format_unix};
use crate::keys;

// ---- command line -------------------------------------------------------------------------

/// `latchkey user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; prints their number (`--json`: `{"user": N, ...}`).
    Add {
        /// The user's name (1-24 characters).
        name: String,
        /// Use this number instead of the lowest free one.
        #[arg(long)]
        id: Option<u16>,
        #[command(flatten)]
        rules: UserRules,
        /// Add the user disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List the users.
    List,
    /// Show one user and their credentials (never a PIN).
    Show {
        /// User number.
        user: u16,
    },
    /// Change a user's name or rules; their credentials are kept.
    Edit {
        /// User number.
        user: u16,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        rules: UserRules,
        /// Remove the date range.
        #[arg(long, conflicts_with_all = ["from", "until"])]
        no_dates: bool,
        /// Remove the use limit.
        #[arg(long, conflicts_with = "uses")]
        no_limit: bool,
        /// Remove the weekly windows.
        #[arg(long, conflicts_with = "window")]
        no_windows: bool,
    },
    /// Let a disabled user in again (all their credentials work again).
    Enable {
        /// User number.
        user: u16,
    },
    /// Refuse all of a user's credentials at once, without deleting anything.
    Disable {
        /// User number.
        user: u16,
    },
    /// Delete a user and all their credentials.
    Remove {
        /// User number.
        user: u16,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// The rules of a user, shared by `user add`, `user edit` and `guest add`.
#[derive(Debug, Args, Default)]
pub struct UserRules {
    /// owner, scheduled, guest, one-time, expiring, duress or non-access.
    #[arg(long, value_parser = parse_kind_name)]
    pub kind: Option<KindName>,
    /// For `--kind expiring`: minutes after the first use (1-2880).
    #[arg(long)]
    pub minutes: Option<u16>,
    /// Not before: `2026-12-01` or `2026-12-01T14:00` in the lock's local time
    /// (`latchkey config set time-zone`; UTC until set), `2026-12-01T14:00:00Z` or `+01:00`,
    /// `now`, or `+2h`.
    #[arg(long, value_name = "WHEN")]
    pub from: Option<String>,
    /// Not after: a date (through its last second), a time, both in the lock's local time
    /// unless given with an offset (`Z`, `+01:00`), or `+3d`.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Successful uses allowed; the lock counts them down.
    #[arg(long)]
    pub uses: Option<u16>,
    /// A weekly window, e.g. `mon-fri 08:00-18:00`, `sat,sun 10:00-14:00`, `daily 06:00-22:00`,
    /// in the lock's local time (`latchkey config set time-zone`; UTC until set). Repeat for up
    /// to 4.
    #[arg(long, value_name = "DAYS HH:MM-HH:MM")]
    pub window: Vec<String>,
}

/// `latchkey pin ...`
#[derive(Debug, Subcommand)]
pub enum PinCommand {
    /// Set a user's PIN: typed twice (hidden) at a terminal, `--stdin`, or `--generate`.
    Set {
        /// User number.
        user: u16,
        #[command(flatten)]
        source: PinSource,
    },
    /// Remove a user's PIN.
    Remove {
        /// User number.
        user: u16,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// Where a PIN comes from.
#[derive(Debug, Args, Default)]
pub struct PinSource {
    /// Read the PIN from standard input (one line).
    #[arg(long, conflicts_with = "generate")]
    pub stdin: bool,
    /// Let latchkey choose a random PIN; it is shown once.
    #[arg(long)]
    pub generate: bool,
    /// Digits of a generated PIN.
    #[arg(long, default_value_t = 6, requires = "generate")]
    pub length: u8,
}

/// `latchkey card ...`
#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Give a user a card: its UID in hex, or tap it on the lock when no UID is given.
    Add {
        /// User number.
        user: u16,
        /// The card's UID, 4, 7 or 10 bytes in hex (e.g. 04a1b2c3).
        uid: Option<String>,
    },
    /// Take a card from a user.
    Remove {
        /// User number.
        user: u16,
        /// The card's UID in hex.
        uid: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `latchkey finger ...`
#[derive(Debug, Subcommand)]
pub enum FingerCommand {
    /// Enroll a finger on the lock's sensor; follow the captures (Ctrl-C cancels).
    Enroll {
        /// User number.
        user: u16,
    },
    /// Remove an enrolled finger.
    Remove {
        /// User number.
        user: u16,
        /// Its template slot (`latchkey user show` lists them).
        slot: u8,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `latchkey phone ...`
#[derive(Debug, Subcommand)]
pub enum PhoneCommand {
    /// Give a user a phone key (the phone app shows its public key).
    Add {
        /// User number.
        user: u16,
        /// Ed25519 public key, 64 hex digits.
        public_key: String,
    },
    /// Take a phone key from a user.
    Remove {
        /// User number.
        user: u16,
        /// Ed25519 public key, 64 hex digits.
        public_key: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `latchkey schedule ...`
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Replace a user's weekly windows (they may only enter inside one).
    Set {
        /// User number.
        user: u16,
        /// e.g. `mon-fri 08:00-18:00`; repeat for up to 4.
        #[arg(long, required = true, value_name = "DAYS HH:MM-HH:MM")]
        window: Vec<String>,
    },
    /// Remove a user's weekly windows.
    Clear {
        /// User number.
        user: u16,
    },
}

/// `latchkey guest ...`
#[derive(Debug, Subcommand)]
pub enum GuestCommand {
    /// A guest with a PIN that the lock itself refuses before `--from` and after `--until`.
    Add {
        /// The guest's name.
        name: String,
        /// First moment the code works (default: now); dates and times without an offset are
        /// the lock's local time.
        #[arg(long, value_name = "WHEN")]
        from: Option<String>,
        /// Last moment the code works: a date (through its last second, local), a local time,
        /// a time with an offset (`2026-12-24T18:00:00Z`), or `+3d`.
        #[arg(long, value_name = "WHEN")]
        until: String,
        /// Successful uses allowed.
        #[arg(long)]
        uses: Option<u16>,
        #[command(flatten)]
        source: PinSource,
    },
}

/// A user type as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindName {
    /// owner
    Owner,
    /// scheduled
    Scheduled,
    /// guest
    Guest,
    /// one-time
    OneTime,
    /// expiring
    Expiring,
    /// duress
    Duress,
    /// non-access
    NonAccess,
}

fn parse_kind_name(text: &str) -> Result<KindName, String> {
    Ok(match text.to_ascii_lowercase().replace('_', "-").as_str() {
        "owner" | "unrestricted" => KindName::Owner,
        "scheduled" => KindName::Scheduled,
        "guest" => KindName::Guest,
        "one-time" | "onetime" => KindName::OneTime,
        "expiring" => KindName::Expiring,
        "duress" => KindName::Duress,
        "non-access" | "nonaccess" => KindName::NonAccess,
        _ => {
            return Err(
                "use owner, scheduled, guest, one-time, expiring, duress or non-access".into()
            );
        }
    })
}

// ---- parsing what a person types ----------------------------------------------------------

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

const WHEN_HINT: &str = "use 2026-12-01 or 2026-12-01T14:00 (the lock's local time), \
                         2026-12-01T14:00:00Z or 2026-12-01T14:00:00+01:00, now, or +2h / +3d";

/// A date or time as a person typed it: checked, not yet an instant. A date or a time without
/// an offset is the lock's local time, so it becomes an instant only with the lock's time zone
/// rule, after connecting ([`When::resolve`]); the text is checked before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// `now`.
    Now,
    /// `+3d`: this long after now.
    After(Duration),
    /// `2026-12-01`: a local day, in days since 1970-01-01.
    LocalDate(i64),
    /// `2026-12-01T14:00` or `2026-12-01T14:00:00`: local seconds since 1970-01-01T00:00.
    LocalDateTime(i64),
    /// `2026-12-01T14:00:00Z`, `2026-12-01T15:00:00+01:00`: this instant, Unix seconds.
    Instant(u64),
}

impl When {
    /// Whether it needs the lock's time zone rule to become an instant.
    pub fn is_local(&self) -> bool {
        matches!(self, When::LocalDate(_) | When::LocalDateTime(_))
    }

    /// The instant in Unix seconds, local forms by the lock's `zone`. A date is its first
    /// second, or with `end_of_day` its last (the second before the next local midnight).
    pub fn resolve(self, end_of_day: bool, zone: &TimeZoneRule, now: u64) -> u64 {
        match self {
            When::Now => now,
            When::After(d) => now.saturating_add(d.as_secs()),
            When::LocalDate(day) if end_of_day => {
                local_to_unix((day + 1) * 86_400, zone).saturating_sub(1)
            }
            When::LocalDate(day) => local_to_unix(day * 86_400, zone),
            When::LocalDateTime(local) => local_to_unix(local, zone),
            When::Instant(unix) => unix,
        }
    }
}

/// The instant at which a clock keeping `zone` reads `local` (seconds since 1970-01-01T00:00
/// local). That is `local - o` for one of the rule's offsets `o`, the one in force then. When
/// clocks go back a local time happens twice: the earlier. When they jump forward over it, it
/// never happens: the instant the gap ends (02:30 on the day 02:00 becomes 03:00 is 03:00).
pub fn local_to_unix(local: i64, zone: &TimeZoneRule) -> u64 {
    let offset_at = |u: i64| i64::from(zone.offset_seconds(u64::try_from(u).unwrap_or(0)));
    let candidates: Vec<i64> = std::iter::once(zone.std_offset)
        .chain(zone.dst.map(|d| d.offset))
        .map(|o| local - i64::from(o))
        .collect();
    let found = candidates.iter().copied().filter(|&u| u + offset_at(u) == local).min();
    let unix = found.unwrap_or_else(|| {
        // In a gap: the offset changes between the two candidates; find where.
        let (mut before, mut after) = (
            candidates.iter().copied().min().unwrap_or(local),
            candidates.iter().copied().max().unwrap_or(local),
        );
        let later = offset_at(after);
        while after - before > 1 {
            let mid = before + (after - before) / 2;
            if offset_at(mid) == later {
                after = mid;
            } else {
                before = mid;
            }
        }
        after
    });
    u64::try_from(unix).unwrap_or(0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (no range checks).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Digits only, as a number: `"08"` is 8, `"8"` or `"+8"` is not a two-digit field.
fn digits(text: &str, len: usize) -> Option<i64> {
    (text.len() == len && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn parse_date(text: &str) -> Result<i64, &'static str> {
    let shape = "a date is YYYY-MM-DD";
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(shape);
    };
    let (year, month, day) =
        (digits(y, 4).ok_or(shape)?, digits(m, 2).ok_or(shape)?, digits(d, 2).ok_or(shape)?);
    if year < 1970 {
        return Err("the lock's calendar starts in 1970");
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err("the month is 01 to 12"),
    };
    if !(1..=days_in_month).contains(&day) {
        return Err("no such day in that month");
    }
    Ok(days_from_civil(year, month, day))
}

/// `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fraction` (the lock keeps whole seconds) as seconds
/// after midnight.
fn parse_time(text: &str) -> Result<i64, &'static str> {
    let shape = "a time is HH:MM or HH:MM:SS";
    let mut parts = text.split(':');
    let (Some(h), Some(m), s, None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(shape);
    };
    let s = match s.map(|s| s.split_once('.').unwrap_or((s, "0"))) {
        None => 0,
        Some((s, fraction)) => {
            if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
                return Err(shape);
            }
            digits(s, 2).ok_or(shape)?
        }
    };
    let (h, m) = (digits(h, 2).ok_or(shape)?, digits(m, 2).ok_or(shape)?);
    if h > 23 || m > 59 || s > 59 {
        return Err("a time is 00:00:00 to 23:59:59");
    }
    Ok(h * 3600 + m * 60 + s)
}

/// `Z`, `+01:00`, `-0800` or `+05` as seconds east of UTC.
fn parse_offset(text: &str) -> Result<i64, &'static str> {
    let shape = "an offset is Z, +01:00 or -08:00";
    if text.eq_ignore_ascii_case("z") {
        return Ok(0);
    }
    let (sign, rest) = match text.split_at_checked(1) {
        Some(("+", rest)) => (1, rest),
        Some(("-", rest)) => (-1, rest),
        _ => return Err(shape),
    };
    let (h, m) = match (rest.len(), rest.split_at_checked(2)) {
        (2, _) => (rest, "00"),
        (4, Some((h, m))) => (h, m),
        (5, Some((h, m))) => (h, m.strip_prefix(':').ok_or(shape)?),
        _ => return Err(shape),
    };
    let (h, m) = (digits(h, 2).ok_or(shape)?, digits(m, 2).ok_or(shape)?);
    if h > 23 || m > 59 {
        return Err(shape);
    }
    Ok(sign * (h * 3600 + m * 60))
}

/// `now`, `+3d`, `2026-12-01`, `2026-12-01T14:00[:00]` (the lock's local time), or with an
/// offset `2026-12-01T14:00:00Z` / `+01:00` (that instant). Checks the text only: the lock's
/// rule places local forms later ([`When::resolve`]).
pub fn parse_when(text: &str) -> Result<When, CliError> {
    let text = text.trim();
    let bad =
        |why: &str| CliError::usage(format!("{text:?} is not a time: {why}")).with_hint(WHEN_HINT);
    if text.eq_ignore_ascii_case("now") {
        return Ok(When::Now);
    }
    if let Some(rest) = text.strip_prefix('+') {
        let d = humantime::parse_duration(rest).map_err(|e| bad(&e.to_string()))?;
        return Ok(When::After(d));
    }
    let (date, rest) = text.split_at_checked(10).ok_or_else(|| bad("a date is YYYY-MM-DD"))?;
    let day = parse_date(date).map_err(bad)?;
    if rest.is_empty() {
        return Ok(When::LocalDate(day));
    }
    let rest = rest
        .strip_prefix(['T', 't', ' '])
        .ok_or_else(|| bad("the time follows the date after a T: 2026-12-01T14:00"))?;
    let (time, offset) = rest.split_at(rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len()));
    let local = day * 86_400 + parse_time(time).map_err(bad)?;
    if offset.is_empty() {
        return Ok(When::LocalDateTime(local));
    }
    let unix = local - parse_offset(offset).map_err(bad)?;
    u64::try_from(unix).map(When::Instant).map_err(|_| bad("the lock's calendar starts in 1970"))
}

/// `--from` and `--until` as typed: checked before connecting, placed after.
#[derive(Debug, Default, Clone, Copy)]
struct Dates {
    from: Option<When>,
    until: Option<When>,
}

impl Dates {
    fn parse(from: Option<&str>, until: Option<&str>) -> Result<Self, CliError> {
        Ok(Self {
            from: from.map(parse_when).transpose()?,
            until: until.map(parse_when).transpose()?,
        })
    }

    fn is_local(&self) -> bool {
        self.from.iter().chain(&self.until).any(When::is_local)
    }

    /// The lock's rule if a date or time needs it, else UTC (which nothing then reads).
    fn zone(&self, c: &mut Connection) -> Result<TimeZoneRule, CliError> {
        if self.is_local() { lock_zone(c) } else { Ok(TimeZoneRule::utc()) }
    }

    /// `(valid_from, valid_until)`: an until date lasts through its last local second.
    fn resolve(&self, zone: &TimeZoneRule) -> (Option<u64>, Option<u64>) {
        let now = now_unix();
        (
            self.from.map(|w| w.resolve(false, zone, now)),
            self.until.map(|w| w.resolve(true, zone, now)),
        )
    }
}

/// The lock's time zone rule: its users' dates are in its local time.
fn lock_zone(c: &mut Connection) -> Result<TimeZoneRule, CliError> {
    Ok(c.client.settings().map_err(|e| c.explain(e))?.time_zone)
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_index(name: &str) -> Option<u8> {
    let name = name.to_ascii_lowercase();
    DAY_NAMES.iter().position(|d| name.starts_with(d)).map(|i| i as u8)
}

/// `mon-fri 08:00-18:00`, `sat,sun 10:00-14:00`, `daily 00:00-24:00`, `weekdays ...`.
pub fn parse_window(text: &str) -> Result<WeeklyWindow, CliError> {
    let bad = |why: &str| {
        CliError::usage(format!("{text:?} is not a weekly window: {why}")).with_hint(
            "e.g. \"mon-fri 08:00-18:00\", \"sat,sun 10:00-14:00\" or \"daily 06:00-22:00\"",
        )
    };
    let (days_text, times) =
        text.trim().split_once(' ').ok_or_else(|| bad("days and times are needed"))?;
    let mut days = 0u8;
    for part in days_text.split(',') {
        match part.to_ascii_lowercase().as_str() {
            "daily" | "all" => days |= 0x7F,
            "weekdays" => days |= 0x1F,
            "weekends" | "weekend" => days |= 0x60,
            part => {
                if let Some((a, b)) = part.split_once('-') {
                    let (a, b) = (
                        day_index(a).ok_or_else(|| bad("unknown day"))?,
                        day_index(b).ok_or_else(|| bad("unknown day"))?,
                    );
                    let mut d = a;
                    loop {
                        days |= 1 << d;
                        if d == b {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                } else {
                    days |= 1 << day_index(part).ok_or_else(|| bad("unknown day"))?;
                }
            }
        }
    }
    let (start, end) = times.trim().split_once('-').ok_or_else(|| bad("times are HH:MM-HH:MM"))?;
    let minute = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let start_minute = minute(start).ok_or_else(|| bad("a start time like 08:00"))?;
    let end_minute = minute(end).ok_or_else(|| bad("an end time like 18:00"))?;
    Ok(WeeklyWindow { days, start_minute, end_minute })
}

/// A window as a person reads it.
pub fn describe_window(w: &WeeklyWindow) -> String {
    let days: Vec<&str> =
        (0..7).filter(|d| w.days & (1 << d) != 0).map(|d| DAY_NAMES[d as usize]).collect();
    let days = match w.days & 0x7F {
        0x7F => "daily".to_string(),
        0x1F => "mon-fri".to_string(),
        0x60 => "sat,sun".to_string(),
        _ => days.join(","),
    };
    format!(
        "{days} {:02}:{:02}-{:02}:{:02}",
        w.start_minute / 60,
        w.start_minute % 60,
        w.end_minute / 60,
        w.end_minute % 60
    )
}

fn windows(texts: &[String]) -> Result<heapless::Vec<WeeklyWindow, WEEKLY_WINDOWS_MAX>, CliError> {
    let mut out = heapless::Vec::new();
    for text in texts {
        out.push(parse_window(text)?).map_err(|_| {
            CliError::usage(format!("at most {WEEKLY_WINDOWS_MAX} weekly windows per user"))
        })?;
    }
    Ok(out)
}

fn user_name(text: &str) -> Result<UserName, CliError> {
    UserName::try_from(text).map_err(|_| {
        CliError::usage(format!("the name {text:?} is longer than 24 bytes"))
            .with_hint("use a shorter name")
    })
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    let text: String = text.chars().filter(|c| !matches!(c, ':' | '-' | ' ')).collect();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn card_uid(text: &str) -> Result<CardUid, CliError> {
    hex_bytes(text).and_then(|b| CardUid::from_slice(&b).ok()).ok_or_else(|| {
        CliError::usage(format!("{text:?} is not a card UID"))
            .with_hint("give 4, 7 or 10 bytes in hex, e.g. 04a1b2c3")
    })
}

fn phone_key(text: &str) -> Result<[u8; 32], CliError> {
    hex_bytes(text).and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok()).ok_or_else(|| {
        CliError::usage(format!("{text:?} is not a phone key"))
            .with_hint("the Ed25519 public key is 64 hex digits")
    })
}

fn pin_from(text: &str) -> Result<Pin, CliError> {
    let text = text.trim();
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        return Err(CliError::usage("a PIN is digits only")
            .with_hint("e.g. 058213 (leading zeros are kept)"));
    }
    Pin::try_from(text).map_err(|_| CliError::usage("that PIN is too long"))
}

/// Applies the flags of `rules` to `spec`; `from` and `until` are its dates, placed already.
fn apply_rules(
    spec: &mut UserSpec,
    rules: &UserRules,
    (from, until): (Option<u64>, Option<u64>),
) -> Result<(), CliError> {
    if let Some(kind) = rules.kind {
        spec.kind = match kind {
            KindName::Owner => UserKind::Owner,
            KindName::Scheduled => UserKind::Scheduled,
            KindName::Guest => UserKind::Guest,
            KindName::OneTime => UserKind::OneTime,
            KindName::Expiring => UserKind::Expiring {
                minutes: rules.minutes.ok_or_else(|| {
                    CliError::usage("an expiring user needs --minutes")
                        .with_hint("e.g. --kind expiring --minutes 120")
                })?,
            },
            KindName::Duress => UserKind::Duress,
            KindName::NonAccess => UserKind::NonAccess,
        };
        if kind == KindName::OneTime {
            spec.use_limit = Some(1);
        }
    }
    if from.is_some() {
        spec.valid_from = from;
    }
    if until.is_some() {
        spec.valid_until = until;
    }
    if let Some(uses) = rules.uses {
        spec.use_limit = Some(uses);
    }
    if !rules.window.is_empty() {
        spec.weekly = windows(&rules.window)?;
    }
    Ok(())
}

// ---- output -------------------------------------------------------------------------------

fn kind_name(kind: &UserKind) -> &'static str {
    match kind {
        UserKind::Owner => "owner",
        UserKind::Scheduled => "scheduled",
        UserKind::Guest => "guest",
        UserKind::OneTime => "one-time",
        UserKind::Expiring { .. } => "expiring",
        UserKind::Duress => "duress",
        UserKind::NonAccess => "non-access",
    }
}

fn credential_json(c: &Credential) -> Value {
    match c {
        Credential::Pin => json!({ "type": "pin" }),
        Credential::Card { uid } => json!({ "type": "card", "uid": to_hex(uid) }),
        Credential::Fingerprint { slot } => json!({ "type": "fingerprint", "slot": slot }),
        Credential::Phone { public_key } => {
            json!({ "type": "phone", "public_key": to_hex(public_key) })
        }
    }
}

fn credential_text(c: &Credential) -> String {
    match c {
        Credential::Pin => "PIN (set)".into(),
        Credential::Card { uid } => format!("card {}", to_hex(uid)),
        Credential::Fingerprint { slot } => format!("fingerprint, slot {slot}"),
        Credential::Phone { public_key } => format!("phone {}…", &to_hex(public_key)[..16]),
    }
}

/// A user as JSON: the shape `user show --json` prints and `checksum --verify` reads.
pub fn user_json(user: &User) -> Value {
    let s = &user.spec;
    json!({
        "user": user.id,
        "name": s.name.as_str(),
        "kind": kind_name(&s.kind),
        "expire_minutes": match s.kind { UserKind::Expiring { minutes } => Some(minutes), _ => None },
        "enabled": s.enabled,
        "valid_from": s.valid_from.map(format_unix),
        "valid_until": s.valid_until.map(format_unix),
        "use_limit": s.use_limit,
        "uses_left": user.uses_left,
        "first_used": user.first_used.map(format_unix),
        "windows": s.weekly.iter().map(describe_window).collect::<Vec<_>>(),
        "credentials": user.credentials.iter().map(credential_json).collect::<Vec<_>>(),
    })
}

/// A user for a person; dates in the lock's local time by `zone`.
fn print_user(user: &User, zone: &TimeZoneRule) {
    let s = &user.spec;
    let local = |t: u64| describe_local_date_time(t, zone);
    say!("user {}  {}", user.id, s.name);
    let kind = match s.kind {
        UserKind::Expiring { minutes } => format!("expiring, {minutes} min after first use"),
        other => kind_name(&other).to_string(),
    };
    say!("  type      {kind}{}", if s.enabled { "" } else { " (DISABLED)" });
    if s.valid_from.is_some() || s.valid_until.is_some() {
        say!(
            "  valid     {} to {}",
            s.valid_from.map(local).unwrap_or_else(|| "any time".into()),
            s.valid_until.map(local).unwrap_or_else(|| "no end".into())
        );
    }
    for w in &s.weekly {
        say!("  window    {} (lock local time)", describe_window(w));
    }
    if let Some(limit) = s.use_limit {
        say!("  uses      {} of {limit} left", user.uses_left.unwrap_or(limit));
    }
    if let Some(first) = user.first_used {
        say!("  first use {}", local(first));
    }
    if user.credentials.is_empty() {
        say!(
            "  no credentials yet: `latchkey pin set {}`, `card add`, `finger enroll`, `phone add`",
            user.id
        );
    }
    for c in &user.credentials {
        say!("  {}", credential_text(c));
    }
}

fn session(context: &Context) -> Result<Connection, CliError> {
    connect_authorized(context)
}

fn confirm(context: &Context, yes: bool, prompt: &str) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !context.interactive {
        return Err(CliError::usage(format!("{prompt}: this needs confirmation"))
            .with_hint("pass --yes to confirm without a prompt"));
    }
    let sure = dialoguer::Confirm::new()
        .with_prompt(prompt)
        .default(false)
        .interact()
        .map_err(|e| CliError::usage(format!("no answer: {e}")))?;
    if sure { Ok(()) } else { Err(CliError::usage("cancelled; nothing was changed")) }
}

// ---- commands -----------------------------------------------------------------------------

pub(super) fn user(context: &Context, command: UserCommand) -> Result<(), CliError> {
    // Dates are checked before connecting; local ones are placed by the lock's rule after.
    let dates = match &command {
        UserCommand::Add { rules, .. } | UserCommand::Edit { rules, .. } => {
            Dates::parse(rules.from.as_deref(), rules.until.as_deref())?
        }
        _ => Dates::default(),
    };
    let mut c = session(context)?;
    match command {
        UserCommand::Add { name, id, rules, disabled } => {
            let mut spec = UserSpec {
                name: user_name(&name)?,
                kind: UserKind::Owner,
                enabled: !disabled,
                valid_from: None,
                valid_until: None,
                use_limit: None,
                weekly: heapless::Vec::new(),
            };
            let zone = dates.zone(&mut c)?;
            apply_rules(&mut spec, &rules, dates.resolve(&zone))?;
            let id = match id {
                Some(id) => id,
                None => free_user_id(&mut c)?,
            };
            let user = c.client.put_user(id, UserWrite::Add, spec).map_err(|e| c.explain(e))?;
            if context.json {
                say!("{}", user_json(&user));
            } else {
                say!("added user {} ({})", user.id, user.spec.name);
            }
        }
        UserCommand::List => {
            let users = c.client.users().map_err(|e| c.explain(e))?;
            if context.json {
                let docs: Vec<Value> = users
                    .iter()
                    .map(|u| json!({ "user": u.id, "name": u.name.as_str(), "kind": kind_name(&u.kind), "enabled": u.enabled, "credentials": u.credentials }))
                    .collect();
                say!("{}", json!(docs));
            } else if users.is_empty() {
                say!("no users yet: `latchkey user add NAME`");
            } else {
                say!("{:>4}  {:<24} {:<11} {:<8} credentials", "user", "name", "type", "enabled");
                for u in &users {
                    say!(
                        "{:>4}  {:<24} {:<11} {:<8} {}",
                        u.id,
                        u.name,
                        kind_name(&u.kind),
                        if u.enabled { "yes" } else { "NO" },
                        u.credentials
                    );
                }
            }
        }
        UserCommand::Show { user } => {
            let user = c.client.user(user).map_err(|e| c.explain(e))?;
            if context.json {
                say!("{}", user_json(&user));
            } else {
                let zone = lock_zone(&mut c)?;
                print_user(&user, &zone);
            }
        }
        UserCommand::Edit { user, name, rules, no_dates, no_limit, no_windows } => {
            let mut spec = c.client.user(user).map_err(|e| c.explain(e))?.spec;
            if let Some(name) = name {
                spec.name = user_name(&name)?;
            }
            if no_dates {
                spec.valid_from = None;
                spec.valid_until = None;
            }
            if no_limit {
                spec.use_limit = None;
            }
            if no_windows {
                spec.weekly.clear();
            }
            let zone = dates.zone(&mut c)?;
            apply_rules(&mut spec, &rules, dates.resolve(&zone))?;
            let updated =
                c.client.put_user(user, UserWrite::Modify, spec).map_err(|e| c.explain(e))?;
            report_user(context, &updated, "updated");
        }
        UserCommand::Enable { user } => set_enabled(context, &mut c, user, true)?,
        UserCommand::Disable { user } => set_enabled(context, &mut c, user, false)?,
        UserCommand::Remove { user, yes } => {
            let name = c.client.user(user).map_err(|e| c.explain(e))?.spec.name;
            confirm(
                context,
                yes,
                &format!("Delete user {user} ({name}) and all their credentials?"),
            )?;
            c.client.remove_user(user).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "removed": true }),
                &format!("removed user {user} ({name})"),
            );
        }
    }
    Ok(())
}

fn report_user(context: &Context, user: &User, verb: &str) {
    if context.json {
        say!("{}", user_json(user));
    } else {
        say!("{verb} user {} ({})", user.id, user.spec.name);
    }
}

fn done(context: &Context, doc: Value, text: &str) {
    if context.json {
        say!("{doc}");
    } else {
        say!("{text}");
    }
}

fn set_enabled(
    context: &Context,
    c: &mut Connection,
    id: u16,
    enabled: bool,
) -> Result<(), CliError> {
    let mut spec = c.client.user(id).map_err(|e| c.explain(e))?.spec;
    spec.enabled = enabled;
    let user = c.client.put_user(id, UserWrite::Modify, spec).map_err(|e| c.explain(e))?;
    report_user(context, &user, if enabled { "enabled" } else { "disabled" });
    Ok(())
}

/// The lowest user number not in use.
fn free_user_id(c: &mut Connection) -> Result<u16, CliError> {
    let max = c.info()?.capabilities.max_users;
    let used: Vec<u16> = c.client.users().map_err(|e| c.explain(e))?.iter().map(|u| u.id).collect();
    (1..=max).find(|id| !used.contains(id)).ok_or_else(|| {
        CliError::refused(
            "full",
            format!("the lock holds its maximum of {max} users"),
            Some(Status::ResourceExhausted),
        )
        .with_hint("remove a user first")
    })
}

/// Reads a PIN from where `source` says, or prompts (hidden, twice) at a terminal.
fn read_pin(context: &Context, source: &PinSource) -> Result<Option<Pin>, CliError> {
    if source.generate {
        return Ok(None);
    }
    if source.stdin || (!context.interactive && !std::io::stdin().is_terminal()) {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            CliError::usage(format!("cannot read the PIN from standard input: {e}"))
        })?;
        return pin_from(&line).map(Some);
    }
    if !context.interactive {
        return Err(
            CliError::usage("no PIN given").with_hint("use --stdin (one line) or --generate")
        );
    }
    let text = dialoguer::Password::new()
        .with_prompt("PIN")
        .with_confirmation("Again", "the two entries differ")
        .interact()
        .map_err(|e| CliError::usage(format!("no PIN entered: {e}")))?;
    pin_from(&text).map(Some)
}

fn random_pin(length: u8) -> Result<Pin, CliError> {
    let bytes: [u8; 16] = keys::random_bytes()?;
    let length = usize::from(length.clamp(4, 12));
    // 250 is the largest multiple of 10 in a byte: reject above it so every digit is even.
    let digits: String = bytes
        .iter()
        .filter(|b| **b < 250)
        .map(|b| char::from(b'0' + b % 10))
        .take(length)
        .collect();
    if digits.len() < length {
        return random_pin(length as u8);
    }
    pin_from(&digits)
}

/// Sets `user`'s PIN from `source`; returns the PIN when latchkey generated it (to show once).
fn set_pin(
    context: &Context,
    c: &mut Connection,
    user: u16,
    source: &PinSource,
) -> Result<Option<Pin>, CliError> {
    match read_pin(context, source)? {
        Some(pin) => {
            c.client.set_pin(user, pin).map_err(|e| c.explain(e))?;
            Ok(None)
        }
        None => {
            // The lock is the judge of weak and duplicate PINs: draw again when it refuses.
            for _ in 0..10 {
                let pin = random_pin(source.length)?;
                match c.client.set_pin(user, pin.clone()) {
                    Ok(()) => return Ok(Some(pin)),
                    Err(crate::link::ClientError::Refused(latchkey_protocol::Refusal {
                        status: Status::Weak | Status::Duplicate,
                        ..
                    })) => {
                        continue;
                    }
                    Err(e) => return Err(c.explain(e)),
                }
            }
            Err(CliError::refused("generate", "could not generate a PIN the lock accepts", None)
                .with_hint("try a longer --length"))
        }
    }
}

pub(super) fn pin(context: &Context, command: PinCommand) -> Result<(), CliError> {
    let mut c = session(context)?;
    match command {
        PinCommand::Set { user, source } => {
            let generated = set_pin(context, &mut c, user, &source)?;
            match (&generated, context.json) {
                (Some(pin), true) => say!("{}", json!({ "user": user, "pin": pin.as_str() })),
                (Some(pin), false) => {
                    say!("PIN of user {user} set to {pin} (shown once: note it now)")
                }
                (None, true) => say!("{}", json!({ "user": user, "pin_set": true })),
                (None, false) => say!("PIN of user {user} set"),
            }
        }
        PinCommand::Remove { user, yes } => {
            confirm(context, yes, &format!("Remove the PIN of user {user}?"))?;
            c.client.remove_pin(user).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "pin_removed": true }),
                &format!("removed the PIN of user {user}"),
            );
        }
    }
    Ok(())
}

pub(super) fn card(context: &Context, command: CardCommand) -> Result<(), CliError> {
    let mut c = session(context)?;
    match command {
        CardCommand::Add { user, uid: Some(uid) } => {
            let uid = card_uid(&uid)?;
            c.client.add_card(user, uid.clone()).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "card": to_hex(&uid) }),
                &format!("card {} added to user {user}", to_hex(&uid)),
            );
        }
        CardCommand::Add { user, uid: None } => {
            c.client.learn_card(user).map_err(|e| c.explain(e))?;
            let credential = follow_enrollment(context, &mut c, EnrollKind::Card)?;
            if let Credential::Card { uid } = credential {
                done(
                    context,
                    json!({ "user": user, "card": to_hex(&uid) }),
                    &format!("card {} added to user {user}", to_hex(&uid)),
                );
            }
        }
        CardCommand::Remove { user, uid, yes } => {
            let uid = card_uid(&uid)?;
            confirm(context, yes, &format!("Take card {} from user {user}?", to_hex(&uid)))?;
            c.client.remove_card(user, uid.clone()).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "card_removed": to_hex(&uid) }),
                &format!("card {} removed from user {user}", to_hex(&uid)),
            );
        }
    }
    Ok(())
}

pub(super) fn finger(context: &Context, command: FingerCommand) -> Result<(), CliError> {
    let mut c = session(context)?;
    match command {
        FingerCommand::Enroll { user } => {
            c.client.enroll_finger(user).map_err(|e| c.explain(e))?;
            let credential = follow_enrollment(context, &mut c, EnrollKind::Fingerprint)?;
            if let Credential::Fingerprint { slot } = credential {
                done(
                    context,
                    json!({ "user": user, "fingerprint_slot": slot, "done": true }),
                    &format!("finger enrolled for user {user} (slot {slot})"),
                );
            }
        }
        FingerCommand::Remove { user, slot, yes } => {
            confirm(context, yes, &format!("Remove fingerprint slot {slot} of user {user}?"))?;
            c.client.remove_finger(user, slot).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "fingerprint_removed": slot }),
                &format!("removed fingerprint slot {slot} of user {user}"),
            );
        }
    }
    Ok(())
}

/// Follows a card learning or finger enrollment to its end: a progress bar at a terminal,
/// JSON Lines under `--json`, plain lines otherwise. Ctrl-C cancels it on the lock.
fn follow_enrollment(
    context: &Context,
    c: &mut Connection,
    kind: EnrollKind,
) -> Result<Credential, CliError> {
    let cancelled = Arc::new(AtomicBool::new(false));
    {
        let cancelled = cancelled.clone();
        // Only one handler per process; a second enrollment in one run never happens.
        let _ = ctrlc::set_handler(move || cancelled.store(true, Ordering::SeqCst));
    }
    let bar = if !context.json && std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(1);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:20}] {pos}/{len}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(bar)
    } else {
        None
    };
    let mut last: Option<Enrollment> = None;
    loop {
        if cancelled.load(Ordering::SeqCst) {
            let _ = c.client.cancel_enrollment();
            if let Some(bar) = &bar {
                bar.abandon_with_message("cancelled");
            }
            return Err(CliError::refused(
                "cancelled",
                "enrollment cancelled; nothing was added",
                None,
            ));
        }
        let state = c.client.enrollment().map_err(|e| c.explain(e))?;
        if last.as_ref() != Some(&state) {
            report_progress(context, bar.as_ref(), &state, kind);
            last = Some(state.clone());
        }
        match state {
            Enrollment::Done { credential, .. } => {
                if let Some(bar) = &bar {
                    bar.finish_and_clear();
                }
                return Ok(credential);
            }
            Enrollment::Failed { reason, .. } => {
                if let Some(bar) = &bar {
                    bar.abandon();
                }
                return Err(enroll_error(reason));
            }
            Enrollment::Idle => {
                return Err(CliError::refused(
                    "enrollment",
                    "the lock is not enrolling anything (restarted?)",
                    None,
                )
                .with_hint("run the command again"));
            }
            Enrollment::InProgress { .. } => std::thread::sleep(Duration::from_millis(150)),
        }
    }
}

fn report_progress(
    context: &Context,
    bar: Option<&indicatif::ProgressBar>,
    state: &Enrollment,
    kind: EnrollKind,
) {
    if context.json {
        let doc = match state {
            Enrollment::InProgress { captures, needed, last_quality, seconds_left, .. } => {
                json!({ "progress": { "captures": captures, "needed": needed, "last_quality": last_quality, "seconds_left": seconds_left } })
            }
            _ => return,
        };
        say!("{doc}");
        return;
    }
    let Enrollment::InProgress { captures, needed, last_quality, seconds_left, .. } = state else {
        return;
    };
    let message = match (kind, last_quality) {
        (EnrollKind::Card, _) => format!("tap the card on the lock's reader ({seconds_left} s)"),
        (EnrollKind::Fingerprint, Some(q)) if *q < 40 => {
            format!("poor capture (quality {q}): lift and place again ({captures} of {needed})")
        }
        (EnrollKind::Fingerprint, Some(q)) => {
            format!("good (quality {q}): lift and place again ({captures} of {needed})")
        }
        (EnrollKind::Fingerprint, None) => {
            format!("place the finger on the sensor (0 of {needed})")
        }
    };
    match bar {
        Some(bar) => {
            bar.set_length(u64::from(*needed));
            bar.set_position(u64::from(*captures));
            bar.set_message(message);
        }
        None => eprintln!("{message}"),
    }
}

fn enroll_error(reason: EnrollFailure) -> CliError {
    let (message, hint) = match reason {
        EnrollFailure::PoorQuality => (
            "the captures were too poor to match reliably",
            "clean the sensor and the finger, press flat, and enroll again",
        ),
        EnrollFailure::TimedOut => (
            "nobody presented a card or finger in time",
            "run the command again and present it within 30 s",
        ),
        EnrollFailure::Cancelled => ("cancelled", "nothing was added"),
        EnrollFailure::Duplicate => (
            "that card or finger already belongs to another user",
            "remove it from that user first",
        ),
        EnrollFailure::Full => {
            ("no room: the user's credentials or the sensor are full", "remove a credential first")
        }
        EnrollFailure::Storage => (
            "the lock could not store it (a flash fault)",
            "run `latchkey info` for the lock's diagnostics, then enroll again",
        ),
        EnrollFailure::Sensor => (
            "the fingerprint sensor failed to store the finger",
            "enroll again; if it fails again, the sensor needs service",
        ),
    };
    let kind = match reason {
        EnrollFailure::Duplicate => Some(Status::Duplicate),
        EnrollFailure::Full => Some(Status::ResourceExhausted),
        _ => None,
    };
    CliError::refused("enrollment_failed", format!("enrollment failed: {message}"), kind)
        .with_hint(hint)
}

pub(super) fn phone(context: &Context, command: PhoneCommand) -> Result<(), CliError> {
    let mut c = session(context)?;
    match command {
        PhoneCommand::Add { user, public_key } => {
            let key = phone_key(&public_key)?;
            c.client.add_phone(user, key).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "phone": to_hex(&key) }),
                &format!("phone key added to user {user}"),
            );
        }
        PhoneCommand::Remove { user, public_key, yes } => {
            let key = phone_key(&public_key)?;
            confirm(context, yes, &format!("Take this phone key from user {user}?"))?;
            c.client.remove_phone(user, key).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "phone_removed": to_hex(&key) }),
                &format!("phone key removed from user {user}"),
            );
        }
    }
    Ok(())
}

pub(super) fn schedule(context: &Context, command: ScheduleCommand) -> Result<(), CliError> {
    let mut c = session(context)?;
    let (id, weekly) = match command {
        ScheduleCommand::Set { user, window } => (user, windows(&window)?),
        ScheduleCommand::Clear { user } => (user, heapless::Vec::new()),
    };
    let mut spec = c.client.user(id).map_err(|e| c.explain(e))?.spec;
    spec.weekly = weekly;
    let user = c.client.put_user(id, UserWrite::Modify, spec).map_err(|e| c.explain(e))?;
    report_user(context, &user, "schedule of");
    Ok(())
}

pub(super) fn guest(context: &Context, command: GuestCommand) -> Result<(), CliError> {
    let GuestCommand::Add { name, from, until, uses, source } = command;
    let dates = Dates::parse(Some(from.as_deref().unwrap_or("now")), Some(&until))?;
    let name = user_name(&name)?;
    let mut c = session(context)?;
    // The lock's rule places local dates, and shows the result in its local time.
    let zone = if context.json { dates.zone(&mut c)? } else { lock_zone(&mut c)? };
    let (valid_from, valid_until) = dates.resolve(&zone);
    let spec = UserSpec {
        name,
        kind: UserKind::Guest,
        enabled: true,
        valid_from,
        valid_until,
        use_limit: uses,
        weekly: heapless::Vec::new(),
    };
    let id = free_user_id(&mut c)?;
    let user = c.client.put_user(id, UserWrite::Add, spec).map_err(|e| c.explain(e))?;
    let source = if !source.stdin && !source.generate && !context.interactive {
        PinSource { generate: true, ..source }
    } else {
        source
    };
    let generated = match set_pin(context, &mut c, id, &source) {
        Ok(p) => p,
        Err(e) => {
            // No half-made guest: a guest without a code is useless and would linger.
            let _ = c.client.remove_user(id);
            return Err(e);
        }
    };
    let s = &user.spec;
    if context.json {
        let mut doc = user_json(&user);
        doc["pin"] = json!(generated.as_ref().map(|p| p.as_str()));
        say!("{doc}");
    } else {
        say!(
            "guest {} ({}) may enter from {} until {}",
            user.id,
            s.name,
            s.valid_from.map(|t| describe_local_date_time(t, &zone)).unwrap_or_default(),
            s.valid_until.map(|t| describe_local_date_time(t, &zone)).unwrap_or_default()
        );
        if let Some(pin) = generated {
            say!("PIN {pin} (shown once: note it now)");
        }
    }
    Ok(())
}

/// One user of a provisioning file, in the shape of `user show --json` plus the secrets the
/// host wrote (a PIN) that the lock never returns.
#[derive(Debug, Deserialize)]
struct ProvisionedUser {
    user: u16,
    name: String,
    #[serde(default = "owner")]
    kind: String,
    expire_minutes: Option<u16>,
    #[serde(default = "yes")]
    enabled: bool,
    valid_from: Option<String>,
    valid_until: Option<String>,
    use_limit: Option<u16>,
    #[serde(default)]
    windows: Vec<String>,
    pin: Option<String>,
    #[serde(default)]
    cards: Vec<String>,
    #[serde(default)]
    phones: Vec<String>,
    #[serde(default)]
    fingers: u8,
}

fn owner() -> String {
    "owner".into()
}

fn yes() -> bool {
    true
}

/// `zone` is the lock's rule: the file's dates without an offset are its local time, as typed
/// to `user add`.
fn expected_checksum(
    file: &Path,
    pin_keys: &[latchkey_protocol::crypto::SecretKey],
    zone: &TimeZoneRule,
) -> Result<Vec<[u8; 16]>, CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::usage(format!("{}: {e}", file.display())))?;
    let users: Vec<ProvisionedUser> = serde_json::from_str(&text).map_err(|e| {
        CliError::usage(format!("{} is not a provisioning file: {e}", file.display()))
            .with_hint("a JSON array of users shaped like `latchkey user show --json`, plus \"pin\", \"cards\", \"phones\", \"fingers\"")
    })?;
    let mut specs = Vec::new();
    for u in &users {
        let (valid_from, valid_until) =
            Dates::parse(u.valid_from.as_deref(), u.valid_until.as_deref())?.resolve(zone);
        let mut spec = UserSpec {
            name: user_name(&u.name)?,
            kind: UserKind::Owner,
            enabled: u.enabled,
            valid_from,
            valid_until,
            use_limit: u.use_limit,
            weekly: windows(&u.windows)?,
        };
        let rules = UserRules {
            kind: Some(parse_kind_name(&u.kind).map_err(CliError::usage)?),
            minutes: u.expire_minutes,
            ..UserRules::default()
        };
        apply_rules(&mut spec, &rules, (None, None))?;
        specs.push(spec);
    }
    let mut out = Vec::new();
    for key in pin_keys {
        let mut sum = Checksum::new();
        for (u, spec) in users.iter().zip(&specs) {
            sum.add_user(u.user, spec);
            if let Some(pin) = &u.pin {
                let digest = pin_digest(key, pin_from(pin)?.as_str());
                sum.add_credential(u.user, ChecksumCredential::Pin(&digest));
            }
            for card in &u.cards {
                sum.add_credential(u.user, ChecksumCredential::Card(&card_uid(card)?));
            }
            for phone in &u.phones {
                sum.add_credential(u.user, ChecksumCredential::Phone(&phone_key(phone)?));
            }
            for _ in 0..u.fingers {
                sum.add_credential(u.user, ChecksumCredential::Fingerprint);
            }
        }
        out.push(sum.digest());
    }
    Ok(out)
}

pub(super) fn checksum(context: &Context, verify: Option<&Path>) -> Result<(), CliError> {
    let mut c = session(context)?;
    let (users, credentials, digest) = c.client.checksum().map_err(|e| c.explain(e))?;
    let Some(file) = verify else {
        if context.json {
            say!(
                "{}",
                json!({ "users": users, "credentials": credentials, "checksum": to_hex(&digest) })
            );
        } else {
            say!("{} ({users} users, {credentials} credentials)", to_hex(&digest));
        }
        return Ok(());
    };
    // PINs enter the checksum keyed by the PIN key, which comes from the installer key the lock
    // was claimed with: try the site key and its predecessors.
    let key = keys::resolve(context.key.as_deref())?;
    let serial = c.info()?.serial.to_string();
    if key.role() != Role::Installer {
        return Err(CliError::usage("verifying PINs needs the site key, not a technician key"));
    }
    let pin_keys: Vec<_> = std::iter::once(&key.key)
        .chain(&key.previous)
        .map(|k| pin_key(&lock_key(Role::Installer, k, &serial)))
        .collect();
    let zone = lock_zone(&mut c)?;
    let matches = expected_checksum(file, &pin_keys, &zone)?.contains(&digest);
    if context.json {
        say!(
            "{}",
            json!({ "users": users, "credentials": credentials, "checksum": to_hex(&digest), "matches": matches })
        );
    } else if matches {
        say!(
            "the lock holds exactly what {} describes ({users} users, {credentials} credentials)",
            file.display()
        );
    }
    if matches {
        Ok(())
    } else {
        Err(CliError::refused("checksum_mismatch", format!("the lock does not hold what {} describes", file.display()), None)
            .with_hint("compare `latchkey user list` with the file; write the missing users and credentials again"))
    }
}

fn access_json(r: &AccessRecord) -> Value {
    json!({
        "at": format_unix(r.at),
        "path": r.path,
        "granted": r.granted,
        "user": r.user,
        "reason": r.reason,
    })
}

pub(super) fn access(context: &Context) -> Result<(), CliError> {
    let mut c = session(context)?;
    let record = c.client.last_access().map_err(|e| c.explain(e))?;
    match (record, context.json) {
        (Some(r), true) => say!("{}", access_json(&r)),
        (None, true) => say!("null"),
        (None, false) => say!("no access attempt since the lock started"),
        (Some(r), false) => {
            let who = r.user.map(|u| format!("user {u}")).unwrap_or_else(|| "unknown".into());
            let reason = crate::display::describe_access_reason(r.reason);
            let path = crate::display::name_of(&r.path);
            say!(
                "{} {} via {path} ({who}): {reason}",
                format_unix(r.at),
                if r.granted { "GRANTED" } else { "REFUSED" }
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_and_print_back() {
        let w = parse_window("mon-fri 08:00-18:00").unwrap();
        assert_eq!((w.days, w.start_minute, w.end_minute), (0x1F, 480, 1080));
        assert_eq!(describe_window(&w), "mon-fri 08:00-18:00");
        assert_eq!(parse_window("fri-mon 22:00-24:00").unwrap().days, 0b111_0001);
        assert_eq!(parse_window("sat,sun 10:00-14:30").unwrap().days, 0x60);
        assert!(parse_window("someday 08:00-09:00").is_err());
        assert!(parse_window("mon 8-9").is_err());
    }

    const BERLIN: &str = "CET-1CEST,M3.5.0,M10.5.0/3";
    /// 2026-12-01T00:00:00Z.
    const DEC_1: u64 = 1_796_083_200;

    fn zone(text: &str) -> TimeZoneRule {
        TimeZoneRule::parse(text).unwrap()
    }

    /// `text` resolved by `rule` as a start (`--from`) and as an end (`--until`).
    fn placed(text: &str, rule: &str) -> (u64, u64) {
        let when = parse_when(text).unwrap();
        (when.resolve(false, &zone(rule), 0), when.resolve(true, &zone(rule), 0))
    }

    #[test]
    fn typed_times_parse_to_local_or_exact_forms() {
        let day = (DEC_1 / 86_400) as i64;
        let local_2pm = day * 86_400 + 14 * 3600;
        assert_eq!(parse_when("2026-12-01").unwrap(), When::LocalDate(day));
        assert_eq!(parse_when(" 2026-12-01T14:00 ").unwrap(), When::LocalDateTime(local_2pm));
        assert_eq!(parse_when("2026-12-01T14:00:00").unwrap(), When::LocalDateTime(local_2pm));
        assert_eq!(parse_when("2026-12-01 14:00:00.75").unwrap(), When::LocalDateTime(local_2pm));
        assert_eq!(parse_when("2026-12-01T14:00:00Z").unwrap(), When::Instant(DEC_1 + 14 * 3600));
        assert_eq!(
            parse_when("2026-12-01T14:00:00+01:00").unwrap(),
            When::Instant(DEC_1 + 13 * 3600)
        );
        assert_eq!(parse_when("2026-12-01T14:00-0830").unwrap(), When::Instant(DEC_1 + 81_000));
        assert_eq!(parse_when("NOW").unwrap(), When::Now);
        assert_eq!(parse_when("+3d").unwrap(), When::After(Duration::from_secs(3 * 86_400)));
        assert_eq!(parse_when("2024-02-29").unwrap(), When::LocalDate(19_782));
        for bad in [
            "tomorrow",
            "2026-13-01",
            "2026-02-29",
            "2026-12-1",
            "2026-12-01T25:00",
            "2026-12-01T14",
            "2026-12-01T14:00:61",
            "2026-12-01T14:00+1",
            "2026-12-01T14:00+aé1",
            "2026-12-01T14:00+01é",
            "2026-12-01T14:00:00Zulu",
            "2026-12-01x",
            "1969-12-31",
            "+soon",
        ] {
            let e = parse_when(bad).unwrap_err();
            assert_eq!(e.kind, "usage", "{bad}");
            assert!(e.hint.as_deref().unwrap_or("").contains("local time"), "{bad}");
        }
    }

    #[test]
    fn a_date_is_the_whole_local_day() {
        // UTC: midnight to the last second, as before time zones.
        assert_eq!(placed("2026-12-01", "UTC0"), (DEC_1, DEC_1 + 86_399));
        // Eight hours west: the local day starts and ends 8 hours later in UTC.
        assert_eq!(
            placed("2026-12-01", "<-08>8"),
            (DEC_1 + 8 * 3600, DEC_1 + 86_400 + 8 * 3600 - 1)
        );
        assert_eq!(placed("2026-12-01T14:00", "<-08>8").0, DEC_1 + 22 * 3600);
        // Berlin in winter (+01:00) and in summer (+02:00).
        assert_eq!(placed("2026-12-01", BERLIN), (DEC_1 - 3600, DEC_1 + 86_400 - 3600 - 1));
        assert_eq!(placed("2026-07-01", BERLIN).0, 1_782_856_800); // 2026-06-30T22:00:00Z
    }

    #[test]
    fn an_explicit_offset_or_a_relative_time_ignores_the_zone() {
        for rule in ["UTC0", "<-08>8", "<+12>-12", BERLIN] {
            assert_eq!(
                placed("2026-12-01T14:00:00Z", rule),
                (DEC_1 + 14 * 3600, DEC_1 + 14 * 3600)
            );
            assert_eq!(placed("2026-12-01T15:00:00+01:00", rule).0, DEC_1 + 14 * 3600);
            let now = parse_when("now").unwrap().resolve(true, &zone(rule), 1_000);
            let later = parse_when("+2h").unwrap().resolve(true, &zone(rule), 1_000);
            assert_eq!((now, later), (1_000, 1_000 + 7200));
        }
    }

    #[test]
    fn a_local_time_skipped_by_daylight_saving_is_the_instant_after_the_gap() {
        // 2026-03-29 in Berlin: 02:00 CET becomes 03:00 CEST at 01:00:00Z.
        let gap_end = 1_774_746_000;
        assert_eq!(placed("2026-03-29T01:59:59", BERLIN).0, gap_end - 1);
        for skipped in ["2026-03-29T02:00", "2026-03-29T02:30", "2026-03-29T02:59:59"] {
            assert_eq!(placed(skipped, BERLIN).0, gap_end, "{skipped}");
        }
        assert_eq!(placed("2026-03-29T03:00", BERLIN).0, gap_end);
        assert_eq!(placed("2026-03-29T03:00:01", BERLIN).0, gap_end + 1);
        // That day has 23 hours: it ends at 2026-03-29T21:59:59Z.
        assert_eq!(placed("2026-03-29", BERLIN), (1_774_738_800, 1_774_821_599));
        // A zone whose clocks jump at midnight: the day starts when the gap ends, 01:00.
        let midnight = "<-04>4<-03>,M9.1.6/24,M4.1.6/24"; // Chile: Sat 24:00 is Sun 01:00
        // 2026-09-06T04:00:00Z is Sunday 01:00 -03; Saturday ends one second before.
        assert_eq!(placed("2026-09-06", midnight).0, 1_788_667_200);
        assert_eq!(placed("2026-09-05", midnight).1, 1_788_667_199);
    }

    #[test]
    fn a_local_time_repeated_when_clocks_go_back_is_the_earlier() {
        // 2026-10-25 in Berlin: 03:00 CEST becomes 02:00 CET at 01:00:00Z; 02:00-02:59:59
        // happen twice.
        assert_eq!(placed("2026-10-25T02:30", BERLIN).0, 1_792_888_200); // 00:30Z, CEST
        assert_eq!(placed("2026-10-25T01:59:59", BERLIN).0, 1_792_886_399);
        assert_eq!(placed("2026-10-25T03:00", BERLIN).0, 1_792_893_600); // 02:00Z, CET
        // That day has 25 hours: through 2026-10-25T22:59:59Z.
        assert_eq!(placed("2026-10-25", BERLIN), (1_792_879_200, 1_792_969_199));
    }

    #[test]
    fn pins_keep_leading_zeros_and_refuse_non_digits() {
        assert_eq!(pin_from("058213\n").unwrap().as_str(), "058213");
        assert!(pin_from("12a4").is_err());
        assert!(pin_from("").is_err());
        let generated = random_pin(6).unwrap();
        assert_eq!(generated.len(), 6);
    }
}
