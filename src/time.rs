//! Time on the host: this computer's clock, the lock's "clock not set", and dates and times as
//! people type them (`2026-12-01`, `2026-12-01T14:00`, `+3d`), placed by the lock's time zone
//! rule ([`TimeZoneRule::local_to_unix`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use latchkey_protocol::TimeZoneRule;

/// RFC 3339 for a Unix time, or the raw number when out of range.
pub fn format_unix(unix_seconds: u64) -> String {
    // RFC 3339 has four-digit years: from 10000-01-01 on, say the raw seconds instead.
    const YEAR_10000: u64 = 253_402_300_800;
    match UNIX_EPOCH.checked_add(Duration::from_secs(unix_seconds)) {
        Some(t) if unix_seconds < YEAR_10000 => humantime::format_rfc3339_seconds(t).to_string(),
        _ => format!("@{unix_seconds}"),
    }
}

/// This computer's clock: time since 1970-01-01T00:00:00Z.
pub fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// This computer's clock in whole Unix seconds.
pub fn now_unix() -> u64 {
    now().as_secs()
}

/// A time the lock stamped, `None` when its clock was not set then (it stamps 0: it never
/// makes a time up).
pub const fn lock_time(unix_seconds: u64) -> Option<u64> {
    if unix_seconds == 0 { None } else { Some(unix_seconds) }
}

/// Text that is not a date or time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a time: {why}")]
pub struct TimeError {
    /// What was typed.
    pub text: String,
    /// What is wrong with it.
    pub why: String,
}

impl TimeError {
    /// The forms a date or time may take.
    pub fn hint(&self) -> &'static str {
        "use 2026-12-01 or 2026-12-01T14:00 (the lock's local time), 2026-12-01T14:00:00Z or \
         2026-12-01T14:00:00+01:00, now, or +2h / +3d"
    }
}

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
                zone.local_to_unix((day + 1) * 86_400).saturating_sub(1)
            }
            When::LocalDate(day) => zone.local_to_unix(day * 86_400),
            When::LocalDateTime(local) => zone.local_to_unix(local),
            When::Instant(unix) => unix,
        }
    }
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
pub fn parse_when(text: &str) -> Result<When, TimeError> {
    let text = text.trim();
    let bad = |why: &str| TimeError { text: text.to_string(), why: why.to_string() };
    if text.eq_ignore_ascii_case("now") {
        return Ok(When::Now);
    }
    if let Some(rest) = text.strip_prefix('+') {
        let d = humantime::parse_duration(rest).map_err(|e| bad(&e.to_string()))?;
        // A lock's calendar does not reach far: a century ahead is already a mistake.
        if d > Duration::from_secs(100 * 366 * 86_400) {
            return Err(bad("that is more than 100 years ahead"));
        }
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

/// A date range as typed (`--from`, `--until`, a provisioning file's `valid_from` and
/// `valid_until`): checked before connecting, placed by the lock's rule after.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dates {
    /// Not before.
    pub from: Option<When>,
    /// Not after.
    pub until: Option<When>,
}

impl Dates {
    /// Checks both texts.
    pub fn parse(from: Option<&str>, until: Option<&str>) -> Result<Self, TimeError> {
        Ok(Self {
            from: from.map(parse_when).transpose()?,
            until: until.map(parse_when).transpose()?,
        })
    }

    /// Whether placing them needs the lock's time zone rule.
    pub fn is_local(&self) -> bool {
        self.from.iter().chain(&self.until).any(When::is_local)
    }

    /// `(valid_from, valid_until)` by the lock's `zone`: an until date lasts through its last
    /// local second.
    pub fn resolve(&self, zone: &TimeZoneRule) -> (Option<u64>, Option<u64>) {
        let now = now_unix();
        (
            self.from.map(|w| w.resolve(false, zone, now)),
            self.until.map(|w| w.resolve(true, zone, now)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(e.text, bad.trim(), "{bad}");
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
}
