//! Users and their credentials: `user`, `pin`, `card`, `finger`, `phone`, `schedule`,
//! `guest` and `checksum`. Parsing what a person types and printing what the lock answers;
//! every rule (ranges, weak PINs, duplicates, schedules) is the lock's, and the jobs with
//! more than one step are [`crate::ops::users`].

mod args;
mod checksum;
mod common;
mod credentials;
mod guest;
mod output;
mod user;

pub use args::{
    CardCommand, FingerCommand, GuestCommand, KindName, PhoneCommand, PinCommand, PinSource,
    ScheduleCommand, UserCommand, UserRules,
};
pub(super) use checksum::checksum;
pub(super) use common::number as user_number;
pub(super) use credentials::{card, finger, phone, pin};
pub(super) use guest::guest;
pub(super) use user::{clear, schedule, user};

#[cfg(test)]
mod tests {
    #[test]
    fn a_mistyped_time_is_a_usage_error_that_shows_the_forms() {
        for bad in ["tomorrow", "2026-13-01", "+soon"] {
            let e = crate::cli::CliError::from(crate::time::parse_when(bad).unwrap_err());
            assert_eq!(e.code, crate::cli::exit::USAGE, "{bad}");
            assert!(e.message.contains(bad), "{bad}");
            assert!(e.hint.as_deref().unwrap_or("").contains("local time"), "{bad}");
        }
    }
}
