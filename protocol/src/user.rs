//! The rules for a user as the installer writes it ([`UserSpec::check`]) and for their
//! names ([`names_match`]). The lock refuses what breaks them; a host may check early with
//! the same functions.

use crate::message::{UserKind, UserSpec};
use crate::refusal::Field;

/// Longest time an expiring user lasts after their first use, in minutes (two days).
pub const EXPIRING_MINUTES_MAX: u16 = 2880;

/// A user's name without the white space around it: what names are compared by.
pub fn name_core(name: &str) -> &str {
    name.trim()
}

/// Whether two user names are the same name to the lock: equal after trimming white space
/// at both ends and ignoring ASCII case (`"Ann"`, `"ann "` and `"ANN"` match; `"Ärni"` and
/// `"ärni"` do not: full Unicode case folding costs the lock's flash more than it is worth).
pub fn names_match(a: &str, b: &str) -> bool {
    name_core(a).eq_ignore_ascii_case(name_core(b))
}

/// Whether `name` is one the lock takes: not empty once trimmed, no control characters (the
/// type caps the length at [`crate::USER_NAME_MAX`] bytes).
pub fn name_is_valid(name: &str) -> bool {
    !name_core(name).is_empty() && !name.chars().any(char::is_control)
}

impl UserSpec {
    /// The lock's rules for a user, in this order; the first broken one is reported:
    /// - the name ([`name_is_valid`]);
    /// - a scheduled user has a weekly window;
    /// - a guest has `valid_from` and `valid_until`;
    /// - a one-time user's `use_limit` is none or 1;
    /// - an expiring user's minutes are 1 to [`EXPIRING_MINUTES_MAX`];
    /// - `valid_from < valid_until` when both are set;
    /// - every window keeps [`crate::WeeklyWindow::check`];
    /// - a `use_limit` is at least 1.
    pub fn check(&self) -> Result<(), Field> {
        if !name_is_valid(&self.name) {
            return Err(Field::UserName);
        }
        match self.kind {
            UserKind::Scheduled if self.weekly.is_empty() => return Err(Field::WeeklyWindows),
            UserKind::Guest if self.valid_from.is_none() => return Err(Field::ValidFrom),
            UserKind::Guest if self.valid_until.is_none() => return Err(Field::ValidUntil),
            UserKind::OneTime if !matches!(self.use_limit, None | Some(1)) => {
                return Err(Field::UseLimit);
            }
            UserKind::Expiring { minutes } if !(1..=EXPIRING_MINUTES_MAX).contains(&minutes) => {
                return Err(Field::ExpiringMinutes);
            }
            _ => {}
        }
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until)
            && from >= until
        {
            return Err(Field::ValidUntil);
        }
        for (index, window) in self.weekly.iter().enumerate() {
            if let Err(problem) = window.check() {
                // At most WEEKLY_WINDOWS_MAX windows: the index fits.
                return Err(Field::Window { index: index as u8, problem });
            }
        }
        if self.use_limit == Some(0) {
            return Err(Field::UseLimit);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{UserName, WeeklyWindow};
    use crate::window::WindowProblem;

    fn spec(kind: UserKind) -> UserSpec {
        UserSpec {
            name: UserName::try_from("Ann").unwrap(),
            kind,
            enabled: true,
            valid_from: None,
            valid_until: None,
            use_limit: None,
            weekly: heapless::Vec::new(),
        }
    }

    #[test]
    fn each_rule_names_its_field() {
        assert_eq!(spec(UserKind::Owner).check(), Ok(()));
        assert_eq!(spec(UserKind::Scheduled).check(), Err(Field::WeeklyWindows));
        assert_eq!(spec(UserKind::Guest).check(), Err(Field::ValidFrom));
        assert_eq!(spec(UserKind::Expiring { minutes: 0 }).check(), Err(Field::ExpiringMinutes));
        assert_eq!(spec(UserKind::Expiring { minutes: 2881 }).check(), Err(Field::ExpiringMinutes));
        assert_eq!(spec(UserKind::Expiring { minutes: 2880 }).check(), Ok(()));
        let mut s = spec(UserKind::OneTime);
        s.use_limit = Some(2);
        assert_eq!(s.check(), Err(Field::UseLimit));
        s.use_limit = Some(1);
        assert_eq!(s.check(), Ok(()));
        let mut s = spec(UserKind::Owner);
        s.use_limit = Some(0);
        assert_eq!(s.check(), Err(Field::UseLimit));
        s.use_limit = None;
        for bad in ["", "   ", "a\u{7}b", "Ann\n"] {
            s.name = UserName::try_from(bad).unwrap();
            assert_eq!(s.check(), Err(Field::UserName), "{bad:?}");
        }
        let mut g = spec(UserKind::Guest);
        g.valid_from = Some(10);
        assert_eq!(g.check(), Err(Field::ValidUntil));
        g.valid_until = Some(10);
        assert_eq!(g.check(), Err(Field::ValidUntil), "not after valid_from");
        g.valid_until = Some(11);
        assert_eq!(g.check(), Ok(()));
        let mut s = spec(UserKind::Scheduled);
        s.weekly.push(WeeklyWindow { days: 0x1F, start_minute: 480, end_minute: 1080 }).unwrap();
        s.weekly.push(WeeklyWindow { days: 0x10, start_minute: 1320, end_minute: 360 }).unwrap();
        assert_eq!(s.check(), Err(Field::Window { index: 1, problem: WindowProblem::Overnight }));
    }

    #[test]
    fn names_match_ignoring_ascii_case_and_outer_space() {
        assert!(names_match("Ann", "ann"));
        assert!(names_match(" Ann  ", "ANN"));
        assert!(!names_match("Ann", "Anna"));
        assert!(!names_match("A nn", "Ann"));
        assert!(!names_match("Ärni", "ärni"));
        assert!(name_is_valid("Ann Lee") && !name_is_valid(" \t ") && !name_is_valid(""));
    }
}
