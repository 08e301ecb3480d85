//! Weekly windows as people write them (`mon-fri 08:00-18:00`), and the rule the lock holds
//! them to ([`WeeklyWindow::check`]). Both without a heap, so the lock and the host share them.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::message::WeeklyWindow;

/// Day names as written and read back, Monday first (bit 0 of [`WeeklyWindow::days`]).
pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// Every day of the week, as a [`WeeklyWindow::days`] mask.
pub const EVERY_DAY: u8 = 0x7F;
/// Monday to Friday.
pub const WEEKDAYS: u8 = 0x1F;
/// Saturday and Sunday.
pub const WEEKEND: u8 = 0x60;
/// Minutes in a day: the latest end of a window (24:00).
pub const MINUTES_PER_DAY: u16 = 1440;

/// Why the lock refuses a window (on the wire in [`crate::Field::Window`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowProblem {
    /// No day, or a bit above Sunday's.
    Days,
    /// The end is after 24:00.
    End,
    /// The end is not after the start: a window that runs past midnight must be written as
    /// two (`fri 22:00-24:00` and `sat 00:00-06:00`), and an empty one means nothing.
    Overnight,
}

impl WindowProblem {
    /// The stable machine name: the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Days => "days",
            Self::End => "end",
            Self::Overnight => "overnight",
        }
    }
}

impl fmt::Display for WindowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Days => "it has no day",
            Self::End => "it ends after 24:00",
            Self::Overnight => {
                "it does not end after it starts (a window past midnight is two windows, e.g. \
                 \"fri 22:00-24:00\" and \"sat 00:00-06:00\")"
            }
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for WindowProblem {}

impl WeeklyWindow {
    /// The lock's rule: at least one day (bits 0 to 6 only), and
    /// `start_minute < end_minute <= 1440`. The lock refuses any other window.
    pub const fn check(&self) -> Result<(), WindowProblem> {
        if self.days == 0 || self.days & !EVERY_DAY != 0 {
            return Err(WindowProblem::Days);
        }
        if self.end_minute > MINUTES_PER_DAY {
            return Err(WindowProblem::End);
        }
        if self.start_minute >= self.end_minute {
            return Err(WindowProblem::Overnight);
        }
        Ok(())
    }

    /// Whether `weekday` (0 Monday ... 6 Sunday) at `minute` of the day is inside.
    pub const fn contains(&self, weekday: u8, minute: u16) -> bool {
        weekday < 7
            && self.days & (1 << weekday) != 0
            && self.start_minute <= minute
            && minute < self.end_minute
    }
}

/// Why text is not a weekly window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowParseError {
    /// Days and times, separated by a space, are needed.
    Shape,
    /// A day is not one of `mon` ... `sun` (or a longer name), `daily`, `all`, `weekdays`,
    /// `weekend(s)`.
    UnknownDay,
    /// The times are not `HH:MM-HH:MM`.
    Times,
    /// The start is not a time of day (`08:00`).
    Start,
    /// The end is not a time of day (`18:00`, or `24:00`).
    End,
    /// Well written, but the lock would refuse it.
    Rule(WindowProblem),
}

impl fmt::Display for WindowParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shape => f.write_str("days and times are needed"),
            Self::UnknownDay => f.write_str("unknown day"),
            Self::Times => f.write_str("times are HH:MM-HH:MM"),
            Self::Start => f.write_str("a start time like 08:00"),
            Self::End => f.write_str("an end time like 18:00"),
            Self::Rule(problem) => problem.fmt(f),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for WindowParseError {}

/// Day `name` (`mon`, `Monday`, ...): 0 Monday ... 6 Sunday.
fn day_index(name: &str) -> Option<u8> {
    let prefix = name.get(..3)?;
    DAY_NAMES.iter().position(|d| d.eq_ignore_ascii_case(prefix)).map(|i| i as u8)
}

/// `HH:MM`, 00:00 to 24:00, as minutes after midnight.
fn minute(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

/// Days, a space, then times: `mon-fri 08:00-18:00`, `sat,sun 10:00-14:00`,
/// `daily 06:00-22:00`, `weekdays 07:00-19:00`, `fri-mon 20:00-24:00` (a range wraps past
/// Sunday). Days are comma-separated names or ranges, case-insensitive. A window the lock
/// would refuse ([`WeeklyWindow::check`]) is an error too.
impl FromStr for WeeklyWindow {
    type Err = WindowParseError;

    fn from_str(text: &str) -> Result<Self, WindowParseError> {
        let (days_text, times) = text.trim().split_once(' ').ok_or(WindowParseError::Shape)?;
        let mut days = 0u8;
        for part in days_text.split(',') {
            let group = [("daily", EVERY_DAY), ("all", EVERY_DAY), ("weekdays", WEEKDAYS)]
                .into_iter()
                .chain([("weekends", WEEKEND), ("weekend", WEEKEND)])
                .find(|(name, _)| name.eq_ignore_ascii_case(part));
            if let Some((_, mask)) = group {
                days |= mask;
            } else if let Some((a, b)) = part.split_once('-') {
                let first = day_index(a).ok_or(WindowParseError::UnknownDay)?;
                let last = day_index(b).ok_or(WindowParseError::UnknownDay)?;
                let mut d = first;
                loop {
                    days |= 1 << d;
                    if d == last {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            } else {
                days |= 1 << day_index(part).ok_or(WindowParseError::UnknownDay)?;
            }
        }
        let (start, end) = times.trim().split_once('-').ok_or(WindowParseError::Times)?;
        let start_minute = minute(start).ok_or(WindowParseError::Start)?;
        let end_minute = minute(end).ok_or(WindowParseError::End)?;
        let window = Self { days, start_minute, end_minute };
        window.check().map_err(WindowParseError::Rule)?;
        Ok(window)
    }
}

/// As a person reads it and [`FromStr`] reads it back: `mon-fri 08:00-18:00`,
/// `sat,sun 10:00-14:00`, `daily 00:00-24:00`, `mon,wed,fri 07:00-09:30`.
impl fmt::Display for WeeklyWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.days & EVERY_DAY {
            EVERY_DAY => f.write_str("daily")?,
            WEEKDAYS => f.write_str("mon-fri")?,
            WEEKEND => f.write_str("sat,sun")?,
            days => {
                let mut first = true;
                for (d, name) in DAY_NAMES.iter().enumerate() {
                    if days & (1 << d) != 0 {
                        if !first {
                            f.write_str(",")?;
                        }
                        f.write_str(name)?;
                        first = false;
                    }
                }
            }
        }
        write!(
            f,
            " {:02}:{:02}-{:02}:{:02}",
            self.start_minute / 60,
            self.start_minute % 60,
            self.end_minute / 60,
            self.end_minute % 60
        )
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    fn w(text: &str) -> Result<WeeklyWindow, WindowParseError> {
        text.parse()
    }

    #[test]
    fn parses_what_people_write() {
        let mon_fri = w("mon-fri 08:00-18:00").unwrap();
        assert_eq!(mon_fri, WeeklyWindow { days: 0x1F, start_minute: 480, end_minute: 1080 });
        assert_eq!(w("fri-mon 22:00-24:00").unwrap().days, 0b111_0001);
        assert_eq!(w("sat,sun 10:00-14:30").unwrap().days, 0x60);
        assert_eq!(w("Monday,Wednesday 07:00-09:30").unwrap().days, 0b101);
        assert_eq!(w("  daily 00:00-24:00 ").unwrap().days, 0x7F);
        assert_eq!(w("ALL 00:00-24:00").unwrap().days, 0x7F);
        assert_eq!(w("weekdays 07:00-19:00").unwrap().days, 0x1F);
        assert_eq!(w("weekend 07:00-19:00").unwrap().days, 0x60);
        assert_eq!(w("weekends,mon 07:00-19:00").unwrap().days, 0x61);
        assert_eq!(w("sun-sun 07:00-19:00").unwrap().days, 0x40);
        assert_eq!(w("tue 7:5-8:00").unwrap().start_minute, 425);
    }

    #[test]
    fn refuses_with_the_reason() {
        assert_eq!(w("someday 08:00-09:00"), Err(WindowParseError::UnknownDay));
        assert_eq!(w("mo 08:00-09:00"), Err(WindowParseError::UnknownDay));
        assert_eq!(w("mon,,tue 08:00-09:00"), Err(WindowParseError::UnknownDay));
        assert_eq!(w("mon-xyz 08:00-09:00"), Err(WindowParseError::UnknownDay));
        assert_eq!(w("mon"), Err(WindowParseError::Shape));
        assert_eq!(w(""), Err(WindowParseError::Shape));
        assert_eq!(w("mon 8-9"), Err(WindowParseError::Start));
        assert_eq!(w("mon 08:00"), Err(WindowParseError::Times));
        assert_eq!(w("mon 24:01-24:00"), Err(WindowParseError::Start));
        assert_eq!(w("mon 08:00-24:30"), Err(WindowParseError::End));
        assert_eq!(w("mon 08:60-09:00"), Err(WindowParseError::Start));
        assert_eq!(
            w("fri 22:00-06:00"),
            Err(WindowParseError::Rule(WindowProblem::Overnight)),
            "overnight"
        );
        assert_eq!(w("fri 08:00-08:00"), Err(WindowParseError::Rule(WindowProblem::Overnight)));
        // Each error says why in words.
        assert_eq!(WindowParseError::UnknownDay.to_string(), "unknown day");
        assert!(WindowParseError::Rule(WindowProblem::Overnight).to_string().contains("two"));
    }

    #[test]
    fn the_rule() {
        let ok = WeeklyWindow { days: 1, start_minute: 0, end_minute: 1440 };
        assert_eq!(ok.check(), Ok(()));
        let bad = |days, start_minute, end_minute| {
            WeeklyWindow { days, start_minute, end_minute }.check().unwrap_err()
        };
        assert_eq!(bad(0, 0, 10), WindowProblem::Days);
        assert_eq!(bad(0x80, 0, 10), WindowProblem::Days);
        assert_eq!(bad(0x81, 0, 10), WindowProblem::Days);
        assert_eq!(bad(1, 0, 1441), WindowProblem::End);
        assert_eq!(bad(1, 10, 10), WindowProblem::Overnight);
        assert_eq!(bad(1, 1320, 360), WindowProblem::Overnight);
        assert!(ok.contains(0, 0) && ok.contains(0, 1439) && !ok.contains(1, 600));
        let day = WeeklyWindow { days: 0x1F, start_minute: 540, end_minute: 1020 };
        assert!(day.contains(4, 540) && !day.contains(4, 1020) && !day.contains(5, 600));
        assert!(!day.contains(7, 600));
    }

    #[test]
    fn written_as_read_and_read_back() {
        for (text, shown) in [
            ("mon-fri 08:00-18:00", "mon-fri 08:00-18:00"),
            ("weekdays 08:00-18:00", "mon-fri 08:00-18:00"),
            ("sun,sat 10:00-14:30", "sat,sun 10:00-14:30"),
            ("all 00:00-24:00", "daily 00:00-24:00"),
            ("fri-mon 22:00-24:00", "mon,fri,sat,sun 22:00-24:00"),
            ("wed 7:05-9:30", "wed 07:05-09:30"),
        ] {
            let window = w(text).unwrap();
            assert_eq!(window.to_string(), shown, "{text}");
            assert_eq!(w(shown), Ok(window), "{shown} reads back");
        }
    }
}
