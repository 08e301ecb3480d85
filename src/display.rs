//! The words and formats both faces show a person: the one place a protocol value gets its
//! human wording (machine names are the protocol's `as_str()`).

use std::time::Duration;

use latchkey_protocol::tz::{Transition, TransitionDay};
use latchkey_protocol::{
    AccessPath, AccessReason, Alarm, BatteryState, ChangeKind, ClockReading, LogEntry, LogRecord,
    ResetReason, Status, TimeZoneRule, UserKind,
};

use crate::ops::log::{Gap, GapCause};
use crate::session::Refusal;
use crate::time::lock_time;

/// Seconds the lock's clock is ahead of this computer's (negative: behind).
pub fn drift_seconds(reading: &ClockReading, host_unix: u64) -> i64 {
    reading.unix_seconds as i64 - host_unix as i64
}

// In `time` (the operations layer formats log records with it too); shown from here.
pub use crate::time::format_unix;

/// "3s ahead", "1m 30s behind", "in step".
pub fn describe_drift(drift: i64) -> String {
    let amount = humantime::format_duration(Duration::from_secs(drift.unsigned_abs()));
    match drift {
        0 => "in step".to_string(),
        d if d > 0 => format!("{amount} ahead"),
        _ => format!("{amount} behind"),
    }
}

/// Bytes in lower-case hex, two digits each: card UIDs, keys, checksums.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Millivolts as volts with two decimals: "5.82 V".
pub fn volts(millivolts: u16) -> String {
    format!("{}.{:02} V", millivolts / 1000, (millivolts % 1000) / 10)
}

/// Why the lock decided an access attempt as it did, in a technician's words: "unknown
/// credential", "outside schedule", "duress (silent alarm)".
pub fn describe_access_reason(reason: AccessReason) -> &'static str {
    match reason {
        AccessReason::Granted => "granted",
        AccessReason::Duress => "duress (silent alarm)",
        AccessReason::UnknownCredential => "unknown credential",
        AccessReason::UserDisabled => "user disabled",
        AccessReason::OutsideSchedule => "outside schedule",
        AccessReason::NotYetValid => "not valid yet",
        AccessReason::Expired => "expired",
        AccessReason::UsesExhausted => "no uses left",
        AccessReason::NonAccessUser => "non-access user",
        AccessReason::KeypadLockedOut => "keypad locked out",
        AccessReason::BadSignature => "bad phone signature",
        AccessReason::ClockNotSet => "lock clock not set (`latchkey time sync` sets it)",
        AccessReason::MechanicalKey => "mechanical key",
    }
}

/// Why the lock refused, in a few words for a panel or a line: "it is not claimed yet",
/// "a technician key is read-only", "not authorized".
pub fn refusal_words(refusal: Refusal) -> String {
    match refusal {
        Refusal::NotClaimed => "it is not claimed yet".to_string(),
        Refusal::ReadOnlyKey => "a technician key is read-only".to_string(),
        Refusal::Lock(refusal) => status_words(refusal.status).to_string(),
    }
}

/// A lock status in words: "not authorized", "invalid field".
pub fn status_words(status: Status) -> &'static str {
    match status {
        Status::Success => "success",
        Status::Failure => "failure",
        Status::BadFrame => "bad frame",
        Status::Unsupported => "unsupported",
        Status::InvalidField => "invalid field",
        Status::NotAuthorized => "not authorized",
        Status::Busy => "busy",
        Status::ResourceExhausted => "resource exhausted",
        Status::NotFound => "not found",
        Status::Duplicate => "duplicate",
        Status::Occupied => "occupied",
        Status::Weak => "weak",
    }
}

/// An alarm for a person: "keypad lockout", "forced open".
pub fn alarm_words(alarm: Alarm) -> &'static str {
    match alarm {
        Alarm::WrongCodeLimit => "keypad lockout",
        Alarm::Duress => "duress",
        Alarm::Tamper => "tamper",
        Alarm::ForcedOpen => "forced open",
        Alarm::DoorAjar => "door ajar",
        Alarm::Jammed => "jammed",
        Alarm::LowBattery => "low battery",
        Alarm::CriticalBattery => "critical battery",
    }
}

/// How someone came to the door, for a person: "keypad", "card", "mechanical key".
pub fn path_words(path: AccessPath) -> &'static str {
    match path {
        AccessPath::Keypad => "keypad",
        AccessPath::Rfid => "card",
        AccessPath::Fingerprint => "fingerprint",
        AccessPath::Phone => "phone",
        AccessPath::MechanicalKey => "mechanical key",
    }
}

/// The bolt's position for a person.
pub fn bolt_words(locked: bool) -> &'static str {
    if locked { "locked" } else { "unlocked" }
}

/// The door's position for a person.
pub fn door_words(open: bool) -> &'static str {
    if open { "open" } else { "closed" }
}

/// The battery's state for a person.
pub fn battery_words(state: BatteryState) -> &'static str {
    match state {
        BatteryState::Ok => "ok",
        BatteryState::Low => "low",
        BatteryState::Critical => "critical",
    }
}

/// Why the lock last started, for a person.
pub fn reset_words(reason: ResetReason) -> &'static str {
    match reason {
        ResetReason::PowerOn => "power on",
        ResetReason::Reset => "reset",
        ResetReason::Panic => "firmware fault",
    }
}

/// A change the log records, for a person: "PIN set", "user added".
pub fn change_words(change: ChangeKind) -> &'static str {
    match change {
        ChangeKind::Claimed => "claimed",
        ChangeKind::FactoryReset => "factory reset",
        ChangeKind::KeysRotated => "keys rotated",
        ChangeKind::Setting => "setting changed",
        ChangeKind::UserAdded => "user added",
        ChangeKind::UserChanged => "user changed",
        ChangeKind::UserRemoved => "user removed",
        ChangeKind::PinSet => "PIN set",
        ChangeKind::PinRemoved => "PIN removed",
        ChangeKind::CardAdded => "card added",
        ChangeKind::CardRemoved => "card removed",
        ChangeKind::FingerAdded => "finger added",
        ChangeKind::FingerRemoved => "finger removed",
        ChangeKind::PhoneAdded => "phone key added",
        ChangeKind::PhoneRemoved => "phone key removed",
        ChangeKind::AlarmsCleared => "alarms cleared",
        ChangeKind::TimeZone => "time zone set",
        ChangeKind::LogCleared => "log cleared",
    }
}

/// A user type for a person: "owner", "one-time", "non-access".
pub fn user_kind_words(kind: UserKind) -> &'static str {
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

/// An offset from UTC: "UTC+01:00", "UTC-03:30", "UTC+05:45", "UTC" for zero.
pub fn format_offset(seconds_east: i32) -> String {
    if seconds_east == 0 {
        return "UTC".to_string();
    }
    let sign = if seconds_east < 0 { '-' } else { '+' };
    let s = seconds_east.unsigned_abs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if sec == 0 {
        format!("UTC{sign}{h:02}:{m:02}")
    } else {
        format!("UTC{sign}{h:02}:{m:02}:{sec:02}")
    }
}

/// A time zone rule in words: "UTC+01:00, daylight saving UTC+02:00 from the last Sunday of
/// March 02:00 to the last Sunday of October 03:00".
pub fn describe_time_zone(rule: &TimeZoneRule) -> String {
    let standard = format_offset(rule.std_offset);
    match &rule.dst {
        None => standard,
        Some(dst) => format!(
            "{standard}, daylight saving {} from {} to {}",
            format_offset(dst.offset),
            describe_transition(&dst.start),
            describe_transition(&dst.end)
        ),
    }
}

/// "the last Sunday of March 02:00"; "the day before the last Sunday of March 23:00" for a
/// POSIX time past either end of the day (`/-1`, `/25`).
fn describe_transition(at: &Transition) -> String {
    let day = describe_transition_day(&at.day);
    let (days, second) = (at.second.div_euclid(86_400), at.second.rem_euclid(86_400));
    let time = format!("{:02}:{:02}", second / 3600, second / 60 % 60);
    let time = if second % 60 == 0 { time } else { format!("{time}:{:02}", second % 60) };
    match days {
        0 => format!("{day} {time}"),
        -1 => format!("the day before {day} {time}"),
        1 => format!("the day after {day} {time}"),
        n if n < 0 => format!("{} days before {day} {time}", -n),
        n => format!("{n} days after {day} {time}"),
    }
}

/// `Mm.w.d` as "the last Sunday of March"; `Jn` as a date ("March 1": February 29 is never
/// counted, so the date is the same every year); `n` as "day n+1 of the year" (counting
/// February 29).
pub fn describe_transition_day(day: &TransitionDay) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const WEEKDAYS: [&str; 7] =
        ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    const DAYS_IN_MONTH: [u16; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    match *day {
        TransitionDay::WeekdayOfMonth { month, week, weekday } => {
            let which = match week {
                1 => "first",
                2 => "second",
                3 => "third",
                4 => "fourth",
                _ => "last",
            };
            let month = MONTHS.get(usize::from(month).wrapping_sub(1)).unwrap_or(&"?");
            let weekday = WEEKDAYS.get(usize::from(weekday)).unwrap_or(&"?");
            format!("the {which} {weekday} of {month}")
        }
        TransitionDay::JulianOne(n) => {
            let mut left = n;
            for (month, days) in MONTHS.iter().zip(DAYS_IN_MONTH) {
                if left <= days {
                    return format!("{month} {left}");
                }
                left -= days;
            }
            format!("day {n} of the year")
        }
        TransitionDay::JulianZero(n) => format!("day {} of the year", u32::from(n) + 1),
    }
}

/// The local time of `unix_seconds` by `rule`, RFC 3339 with its offset:
/// "2026-11-29T14:05:00+01:00".
pub fn format_local(unix_seconds: u64, rule: &TimeZoneRule) -> String {
    let offset = rule.offset_seconds(unix_seconds);
    let local = format_unix(rule.local_seconds(unix_seconds));
    let Some(local) = local.strip_suffix('Z') else { return local };
    let s = offset.unsigned_abs();
    let sign = if offset < 0 { '-' } else { '+' };
    let (h, m) = (s / 3600, s / 60 % 60);
    // RFC 3339 offsets have no seconds; no real zone has had them since 1972.
    format!("{local}{sign}{h:02}:{m:02}")
}

/// The local time of `unix_seconds` by `rule` for a person, beside its UTC time:
/// "14:05:00 local, UTC+01:00", with the date when it differs from the UTC date.
pub fn describe_local(unix_seconds: u64, rule: &TimeZoneRule) -> String {
    let utc = format_unix(unix_seconds);
    let local = format_unix(rule.local_seconds(unix_seconds));
    let offset = format_offset(rule.offset_seconds(unix_seconds));
    match (utc.split_once('T'), local.split_once('T')) {
        (Some((utc_date, _)), Some((date, time))) => {
            let time = time.trim_end_matches('Z');
            if date == utc_date {
                format!("{time} local, {offset}")
            } else {
                format!("{date} {time} local, {offset}")
            }
        }
        _ => format!("{local} local, {offset}"),
    }
}

/// A moment in the lock's local time by `rule`, date and time, with its offset:
/// "2026-12-24 23:59:59 (UTC-08:00)", "2026-03-29 03:00:00 (UTC+02:00)", "... (UTC)".
pub fn describe_local_date_time(unix_seconds: u64, rule: &TimeZoneRule) -> String {
    let local = format_unix(rule.local_seconds(unix_seconds));
    let offset = format_offset(rule.offset_seconds(unix_seconds));
    match local.strip_suffix('Z').and_then(|l| l.split_once('T')) {
        Some((date, time)) => format!("{date} {time} ({offset})"),
        None => format!("{local} ({offset})"),
    }
}

/// A count for a person: `1,512`.
pub fn grouped(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `1 record`, `1,512 records`.
pub fn plural(n: u32, what: &str) -> String {
    format!("{} {what}{}", grouped(n), if n == 1 { "" } else { "s" })
}

/// Why, in words, right after "records ... are gone".
fn gap_why(gap: &Gap) -> String {
    match gap.cause {
        GapCause::Full { capacity } => format!(
            " (the log keeps the newest ~{}; older ones were dropped for room)",
            grouped(capacity)
        ),
        GapCause::Cleared { seq, at, removed } => {
            let when =
                lock_time(at).map(|at| format!(" on {}", format_unix(at))).unwrap_or_default();
            let before = gap.gone.saturating_sub(removed);
            if before == 0 {
                format!(": an installer cleared the log{when} (record {seq})")
            } else {
                format!(
                    ": an installer cleared the log{when} (record {seq}), removing {}; the \
                     {} before {} had already gone",
                    plural(removed, "record"),
                    grouped(before),
                    if before == 1 { "it" } else { "them" }
                )
            }
        }
        GapCause::Erased { held, capacity } => format!(
            ", not dropped for room: the log holds only {} of the ~{} it keeps, so its \
             storage was erased or reformatted",
            grouped(held),
            grouped(capacity)
        ),
        GapCause::Unknown => " (dropped for room or cleared)".to_string(),
    }
}

/// The note for a read that asked for records from `from` on; `None` when none of those
/// is gone.
pub fn gap_note(gap: &Gap, from: u32) -> Option<String> {
    if from > gap.gone {
        return None;
    }
    let range = if from == gap.gone {
        format!("record {from} is")
    } else {
        format!("records {from} to {} are", gap.gone)
    };
    Some(format!("{range} gone{}", gap_why(gap)))
}

/// One clause for `log verify`.
pub fn gap_summary(gap: &Gap) -> String {
    let older = plural(gap.gone, "older record");
    match gap.cause {
        GapCause::Full { capacity } => format!(
            "{older} {} dropped for room (the log keeps the newest ~{})",
            if gap.gone == 1 { "was" } else { "were" },
            grouped(capacity)
        ),
        _ => {
            format!("{older} {} gone{}", if gap.gone == 1 { "is" } else { "are" }, gap_why(gap))
        }
    }
}

/// One event-log record as a line for a person, as `log read` and the dashboard show it.
pub fn record_text(r: &LogRecord) -> String {
    // Padded to the width of a time, so the columns line up either way.
    let at = lock_time(r.at).map_or_else(|| format!("{:<20}", "(clock not set)"), format_unix);
    format!("{:>7}  {at}  {}", r.seq, entry_text(&r.entry))
}

/// What a log entry says, in words.
pub fn entry_text(entry: &LogEntry) -> String {
    let user = |u: Option<u16>| u.map(|u| format!(" user {u}")).unwrap_or_default();
    match *entry {
        LogEntry::Access { path, granted, user: u, reason } => format!(
            "{} via {}{}: {}",
            if granted { "GRANTED" } else { "refused" },
            path_words(path),
            user(u),
            describe_access_reason(reason)
        ),
        LogEntry::Change { what, role, user: u } => {
            format!("{} by {}{}", change_words(what), role.as_str(), user(u))
        }
        LogEntry::Alarm { alarm, raised } => {
            format!("alarm {} {}", alarm_words(alarm), if raised { "raised" } else { "cleared" })
        }
        LogEntry::Battery { millivolts, state, replaced } => format!(
            "battery {} ({}){}",
            volts(millivolts),
            battery_words(state),
            if replaced { ", fresh batteries" } else { "" }
        ),
        LogEntry::PowerUp { boot_count, reason } => {
            format!("power up #{boot_count} ({})", reset_words(reason))
        }
        LogEntry::ClockSet { from, to } => format!(
            "clock set {} -> {}",
            lock_time(from).map_or_else(|| "unset".to_string(), format_unix),
            format_unix(to)
        ),
        LogEntry::Session { role, opened } => {
            format!("{} session {}", role.as_str(), if opened { "opened" } else { "closed" })
        }
        LogEntry::AuthFailed { claim } => {
            format!("failed authentication ({})", if claim { "setup code" } else { "session key" })
        }
        LogEntry::Cleared { removed } => format!("log cleared ({removed} records removed)"),
        LogEntry::DuplicatePin { role, user: u } => {
            format!("PIN refused for{}: another user holds it (by {})", user(u), role.as_str())
        }
        LogEntry::Door { open } => format!("door {}", if open { "opened" } else { "closed" }),
        LogEntry::Repeated { of, count, first } => format!(
            "{} -- {count} more time{} since {}",
            entry_text(&of.entry()),
            if count == 1 { "" } else { "s" },
            lock_time(first).map_or_else(|| "(clock not set)".to_string(), format_unix)
        ),
    }
}

/// A lock's refusal in words: what it refused (the field, the limit) and the values it
/// allows, from the lock's `capabilities` when they are known. `(message, hint)`.
pub fn lock_refusal_words(
    refusal: &latchkey_protocol::Refusal,
    capabilities: Option<&latchkey_protocol::Capabilities>,
) -> (String, Option<String>) {
    use latchkey_protocol::{Field, Limit, WindowProblem};
    let status = refusal.status;
    let what = match (refusal.field, refusal.limit) {
        (_, Some(Limit::UserIdRange)) | (Some(Field::UserId), None) => "the user number",
        (_, Some(Limit::UserSlots)) => "a new user",
        (_, Some(Limit::UserCredentials)) => "another credential for this user",
        (_, Some(Limit::Flash)) => "the change",
        (_, Some(Limit::SensorSlots)) => "another fingerprint",
        (Some(Field::UserName), _) => "the user's name",
        (Some(Field::ExpiringMinutes), _) => "the expiring user's minutes",
        (Some(Field::WeeklyWindows), _) => "a scheduled user without a weekly window",
        (Some(Field::Window { .. }), _) => "a weekly window",
        (Some(Field::ValidFrom), _) => "the start date",
        (Some(Field::ValidUntil), _) => "the end date",
        (Some(Field::UseLimit), _) => "the use limit",
        (Some(Field::Pin | Field::PinDigits | Field::PinLength), _) => "the PIN",
        (Some(Field::CardUid), _) => "the card",
        (Some(Field::PhoneKey), _) => "the phone key",
        (Some(Field::FingerSlot), _) => "the fingerprint",
        (Some(Field::Setting(_)), _) => "the setting's value",
        (Some(Field::Time), _) => "the time",
        (None, None) => "",
    };
    let message = if what.is_empty() {
        format!("the lock refused: {}", status.as_str())
    } else if (refusal.field, status) == (Some(Field::FingerSlot), Status::Unsupported) {
        "this lock has no fingerprint sensor".to_string()
    } else {
        format!("the lock refused {what}: {}", status.as_str())
    };
    let caps = capabilities;
    let max_users = caps.map_or_else(|| "the lock's most".to_string(), |c| c.max_users.to_string());
    let hint = match (refusal.field, refusal.limit, status) {
        (_, Some(Limit::UserIdRange), _) => Some(format!(
            "user numbers on this lock are 1 to {max_users}; leave out --id to take the first free one"
        )),
        (_, Some(Limit::UserSlots), _) => Some(format!(
            "all {max_users} user numbers are in use; remove a user first (`latchkey user list`)"
        )),
        (_, Some(Limit::UserCredentials), _) => Some(format!(
            "a user holds at most {} credentials; remove one first (`latchkey user show ID`)",
            caps.map_or_else(|| "the lock's".to_string(), |c| c.credentials_per_user.to_string())
        )),
        (_, Some(Limit::Flash), _) => {
            Some("the lock's flash is full; remove users or credentials first".to_string())
        }
        (_, Some(Limit::SensorSlots), _) => {
            Some("the fingerprint sensor is full; remove a fingerprint first".to_string())
        }
        (Some(Field::FingerSlot), _, Status::Unsupported) => Some(
            "give this user a PIN, a card or a phone key instead (`latchkey info` lists the lock's access paths)"
                .to_string(),
        ),
        (Some(Field::UserId), _, Status::NotFound) => {
            Some("no user has that number; `latchkey user list` shows them".to_string())
        }
        (Some(Field::UserId), _, _) => Some(format!("user numbers are 1 to {max_users}")),
        (Some(Field::UserName), _, Status::Duplicate) => Some(match refusal.existing {
            Some(id) => format!("user {id} already has that name: names are unique on a lock; see `latchkey user show {id}`"),
            None => "another user has that name: names are unique on a lock".to_string(),
        }),
        (Some(Field::UserName), _, _) => {
            Some("a name is 1 to 32 characters, without line breaks or tabs".to_string())
        }
        (Some(Field::ExpiringMinutes), _, _) => Some(format!(
            "an expiring user lasts 1 to {} minutes",
            latchkey_protocol::EXPIRING_MINUTES_MAX
        )),
        (Some(Field::WeeklyWindows), _, _) => {
            Some("give --window, e.g. --window \"mon-fri 07:00-19:00\"".to_string())
        }
        (Some(Field::Window { index, problem }), _, _) => Some(format!(
            "window {}: {}; a window is DAYS HH:MM-HH:MM within one day, e.g. \"mon-fri 07:00-19:00\"",
            u16::from(index) + 1,
            match problem {
                WindowProblem::Days => "no valid day",
                WindowProblem::End => "it ends after 24:00",
                WindowProblem::Overnight => {
                    "it does not end after it starts (write a night shift as two windows: \"fri 22:00-24:00\" and \"sat 00:00-06:00\")"
                }
            }
        )),
        (Some(Field::ValidFrom | Field::ValidUntil), _, _) => Some(
            "a guest needs --from and --until, with --until after --from and not yet past"
                .to_string(),
        ),
        (Some(Field::UseLimit), _, _) => {
            Some("a use limit is at least 1; a one-time user's is 1".to_string())
        }
        (Some(Field::Pin), _, Status::Weak) => Some(
            "choose a PIN that is not one digit repeated, a straight run (1234, 9876) or a repeated pair"
                .to_string(),
        ),
        (Some(Field::Pin), _, Status::Duplicate) => {
            Some("another user has this PIN; choose another (or --generate)".to_string())
        }
        (Some(Field::Pin), _, Status::NotFound) => Some("the user has no PIN".to_string()),
        (Some(Field::PinDigits), _, _) => Some("a PIN is the digits 0 to 9 only".to_string()),
        (Some(Field::PinLength), _, _) => Some(match caps {
            Some(c) => {
                format!("a PIN on this lock has {} to {} digits", c.pin_length_min, c.pin_length_max)
            }
            None => "the PIN is too short or too long for this lock".to_string(),
        }),
        (Some(Field::CardUid), _, Status::Duplicate) => Some(match refusal.existing {
            Some(id) => format!("user {id} holds that card"),
            None => "another user holds that card".to_string(),
        }),
        (Some(Field::CardUid), _, Status::NotFound) => {
            Some("the user holds no such card; `latchkey user show ID` lists them".to_string())
        }
        (Some(Field::CardUid), _, _) => Some(match caps {
            Some(c) => {
                let lengths: Vec<String> =
                    (1..16).filter(|n| c.card_uid_lengths & (1 << n) != 0).map(|n| n.to_string()).collect();
                format!("a card UID on this lock is {} bytes, in hex (e.g. 04a1b2c3)", lengths.join(", "))
            }
            None => "the card UID's length is not one this lock reads".to_string(),
        }),
        (Some(Field::PhoneKey), _, Status::Duplicate) => Some(match refusal.existing {
            Some(id) => format!("user {id} holds that phone key"),
            None => "another user holds that phone key".to_string(),
        }),
        (Some(Field::PhoneKey), _, _) => Some(
            "a phone key is the phone's Ed25519 public key: 32 bytes, 64 hex digits".to_string(),
        ),
        (Some(Field::FingerSlot), _, _) => {
            Some("the user holds no such fingerprint; `latchkey user show ID` lists them".to_string())
        }
        (Some(Field::Setting(key)), _, _) => Some(match key.range() {
            Some((min, max)) => format!("{} is {min} to {max}", key.as_str()),
            None => format!("see `latchkey config set --help` for {}", key.as_str()),
        }),
        (Some(Field::Time), _, _) => Some(format!(
            "the lock's clock cannot be set before {}",
            format_unix(latchkey_protocol::EARLIEST_TIME)
        )),
        _ => None,
    };
    (message, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> TimeZoneRule {
        TimeZoneRule::parse(text).unwrap()
    }

    #[test]
    fn time_zone_rules_in_words() {
        assert_eq!(describe_time_zone(&TimeZoneRule::utc()), "UTC");
        assert_eq!(describe_time_zone(&rule("<+0545>-5:45")), "UTC+05:45");
        assert_eq!(describe_time_zone(&rule("<-0330>3:30")), "UTC-03:30");
        assert_eq!(
            describe_time_zone(&rule("CET-1CEST,M3.5.0,M10.5.0/3")),
            "UTC+01:00, daylight saving UTC+02:00 from the last Sunday of March 02:00 to the \
             last Sunday of October 03:00"
        );
        assert_eq!(
            describe_time_zone(&rule("EST5EDT,M3.2.0,M11.1.0")),
            "UTC-05:00, daylight saving UTC-04:00 from the second Sunday of March 02:00 to the \
             first Sunday of November 02:00"
        );
        // Times past either end of the day, and the two Julian forms.
        assert_eq!(
            describe_time_zone(&rule("<-02>2<-01>1,M3.5.0/-1,M10.5.0/25")),
            "UTC-02:00, daylight saving UTC-01:00 from the day before the last Sunday of March \
             23:00 to the day after the last Sunday of October 01:00"
        );
        assert_eq!(
            describe_time_zone(&rule("XST3XDT,J60/2:30,300")),
            "UTC-03:00, daylight saving UTC-02:00 from March 1 02:30 to day 301 of the year 02:00"
        );
        assert_eq!(describe_transition_day(&TransitionDay::JulianOne(365)), "December 31");
        assert_eq!(describe_transition_day(&TransitionDay::JulianOne(1)), "January 1");
    }

    #[test]
    fn local_time_beside_utc() {
        // 2026-11-29T13:05:00Z: CET, +01:00.
        let berlin = rule("CET-1CEST,M3.5.0,M10.5.0/3");
        assert_eq!(format_local(1_795_957_500, &berlin), "2026-11-29T14:05:00+01:00");
        assert_eq!(describe_local(1_795_957_500, &berlin), "14:05:00 local, UTC+01:00");
        // The local date differs from the UTC date: show it.
        let auckland = rule("NZST-12NZDT,M9.5.0,M4.1.0/3");
        assert_eq!(
            describe_local(1_795_957_500, &auckland),
            "2026-11-30 02:05:00 local, UTC+13:00"
        );
        assert_eq!(format_local(1_795_957_500, &TimeZoneRule::utc()), "2026-11-29T13:05:00+00:00");
    }

    #[test]
    fn local_date_and_time_with_its_offset() {
        let berlin = rule("CET-1CEST,M3.5.0,M10.5.0/3");
        assert_eq!(
            describe_local_date_time(1_795_957_500, &berlin),
            "2026-11-29 14:05:00 (UTC+01:00)"
        );
        // 2026-12-25T07:59:59Z is the last second of December 24 eight hours west.
        assert_eq!(
            describe_local_date_time(1_798_185_599, &rule("<-08>8")),
            "2026-12-24 23:59:59 (UTC-08:00)"
        );
        assert_eq!(
            describe_local_date_time(1_795_957_500, &TimeZoneRule::utc()),
            "2026-11-29 13:05:00 (UTC)"
        );
    }
}
