//! The ranges of the lock's settings, in one place: the lock refuses a value outside them
//! ([`Setting::check`]), and the host may check early with the same function.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::message::Setting;
use crate::tz::TimeZoneRuleError;

/// Longest auto-relock delay, seconds (0 disables auto-relock).
pub const AUTO_RELOCK_SECONDS_MAX: u16 = 3600;
/// Fewest wrong codes in a row before a keypad lockout.
pub const WRONG_CODE_LIMIT_MIN: u8 = 1;
/// Shortest keypad lockout, seconds.
pub const LOCKOUT_SECONDS_MIN: u16 = 1;
/// Longest keypad lockout, seconds.
pub const LOCKOUT_SECONDS_MAX: u16 = 3600;
/// Longest door-ajar delay, seconds (0 disables the alarm).
pub const DOOR_AJAR_SECONDS_MAX: u16 = 3600;

/// Which setting, without its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingKey {
    /// [`Setting::DoorLabel`].
    DoorLabel,
    /// [`Setting::AutoRelockSeconds`].
    AutoRelockSeconds,
    /// [`Setting::WrongCodeLimit`].
    WrongCodeLimit,
    /// [`Setting::LockoutSeconds`].
    LockoutSeconds,
    /// [`Setting::BeeperVolume`].
    BeeperVolume,
    /// [`Setting::TimeZone`].
    TimeZone,
    /// [`Setting::DoorAjarSeconds`].
    DoorAjarSeconds,
}

impl SettingKey {
    /// Every key, in wire order.
    pub const ALL: [Self; 7] = [
        Self::DoorLabel,
        Self::AutoRelockSeconds,
        Self::WrongCodeLimit,
        Self::LockoutSeconds,
        Self::BeeperVolume,
        Self::TimeZone,
        Self::DoorAjarSeconds,
    ];

    /// A stable lower-case name for scripts and JSON, equal to its serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DoorLabel => "door_label",
            Self::AutoRelockSeconds => "auto_relock_seconds",
            Self::WrongCodeLimit => "wrong_code_limit",
            Self::LockoutSeconds => "lockout_seconds",
            Self::BeeperVolume => "beeper_volume",
            Self::TimeZone => "time_zone",
            Self::DoorAjarSeconds => "door_ajar_seconds",
        }
    }

    /// The inclusive range of a numeric setting, `None` for the others.
    pub const fn range(self) -> Option<(u32, u32)> {
        match self {
            Self::AutoRelockSeconds => Some((0, AUTO_RELOCK_SECONDS_MAX as u32)),
            Self::WrongCodeLimit => Some((WRONG_CODE_LIMIT_MIN as u32, u8::MAX as u32)),
            Self::LockoutSeconds => Some((LOCKOUT_SECONDS_MIN as u32, LOCKOUT_SECONDS_MAX as u32)),
            Self::DoorAjarSeconds => Some((0, DOOR_AJAR_SECONDS_MAX as u32)),
            Self::DoorLabel | Self::BeeperVolume | Self::TimeZone => None,
        }
    }
}

/// Why the lock refuses a setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingError {
    /// The door label is empty.
    Empty,
    /// The door label holds a control character (a line break, a tab, ...).
    NotPrintable,
    /// A number outside `min..=max`.
    OutOfRange {
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
    },
    /// The time zone rule's fields are out of range.
    TimeZone(TimeZoneRuleError),
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the label is empty"),
            Self::NotPrintable => f.write_str("the label holds a control character"),
            Self::OutOfRange { min, max } => write!(f, "the value is outside {min} to {max}"),
            Self::TimeZone(e) => write!(f, "the time zone rule is not usable: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SettingError {}

impl Setting {
    /// Which setting this is.
    pub const fn key(&self) -> SettingKey {
        match self {
            Self::DoorLabel(_) => SettingKey::DoorLabel,
            Self::AutoRelockSeconds(_) => SettingKey::AutoRelockSeconds,
            Self::WrongCodeLimit(_) => SettingKey::WrongCodeLimit,
            Self::LockoutSeconds(_) => SettingKey::LockoutSeconds,
            Self::BeeperVolume(_) => SettingKey::BeeperVolume,
            Self::TimeZone(_) => SettingKey::TimeZone,
            Self::DoorAjarSeconds(_) => SettingKey::DoorAjarSeconds,
        }
    }

    /// Whether the lock accepts this value: a door label of 1 to 32 bytes (the type caps the
    /// length) without control characters; numbers within [`SettingKey::range`]; a time zone
    /// rule whose fields are in range ([`crate::TimeZoneRule::check`]).
    pub fn check(&self) -> Result<(), SettingError> {
        let number = match self {
            Self::DoorLabel(label) if label.is_empty() => return Err(SettingError::Empty),
            Self::DoorLabel(label) if label.chars().any(char::is_control) => {
                return Err(SettingError::NotPrintable);
            }
            Self::DoorLabel(_) | Self::BeeperVolume(_) => return Ok(()),
            Self::TimeZone(rule) => return rule.check().map_err(SettingError::TimeZone),
            Self::AutoRelockSeconds(s) | Self::LockoutSeconds(s) | Self::DoorAjarSeconds(s) => {
                u32::from(*s)
            }
            Self::WrongCodeLimit(n) => u32::from(*n),
        };
        match self.key().range() {
            Some((min, max)) if !(min..=max).contains(&number) => {
                Err(SettingError::OutOfRange { min, max })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{BeeperVolume, DoorLabel};
    use crate::tz::TimeZoneRule;

    #[test]
    fn ranges_as_the_lock_enforces_them() {
        let range = |min, max| Err(SettingError::OutOfRange { min, max });
        assert_eq!(Setting::AutoRelockSeconds(0).check(), Ok(()));
        assert_eq!(Setting::AutoRelockSeconds(3600).check(), Ok(()));
        assert_eq!(Setting::AutoRelockSeconds(3601).check(), range(0, 3600));
        assert_eq!(Setting::WrongCodeLimit(0).check(), range(1, 255));
        assert_eq!(Setting::WrongCodeLimit(1).check(), Ok(()));
        assert_eq!(Setting::WrongCodeLimit(255).check(), Ok(()));
        assert_eq!(Setting::LockoutSeconds(0).check(), range(1, 3600));
        assert_eq!(Setting::LockoutSeconds(1).check(), Ok(()));
        assert_eq!(Setting::LockoutSeconds(3601).check(), range(1, 3600));
        assert_eq!(Setting::DoorAjarSeconds(0).check(), Ok(()));
        assert_eq!(Setting::DoorAjarSeconds(3601).check(), range(0, 3600));
        assert_eq!(Setting::BeeperVolume(BeeperVolume::Off).check(), Ok(()));
        assert_eq!(Setting::DoorLabel(DoorLabel::new()).check(), Err(SettingError::Empty));
        let label = |s: &str| Setting::DoorLabel(DoorLabel::try_from(s).unwrap());
        assert_eq!(label("Front door").check(), Ok(()));
        assert_eq!(label("Front\ndoor").check(), Err(SettingError::NotPrintable));
        assert_eq!(Setting::TimeZone(TimeZoneRule::utc()).check(), Ok(()));
        let mut bad = TimeZoneRule::utc();
        bad.std_offset = 26 * 3600;
        assert_eq!(
            Setting::TimeZone(bad).check(),
            Err(SettingError::TimeZone(TimeZoneRuleError::OutOfRange))
        );
    }

    #[test]
    fn every_key_is_its_settings_key() {
        let settings = [
            Setting::DoorLabel(DoorLabel::new()),
            Setting::AutoRelockSeconds(0),
            Setting::WrongCodeLimit(0),
            Setting::LockoutSeconds(0),
            Setting::BeeperVolume(BeeperVolume::Off),
            Setting::TimeZone(TimeZoneRule::utc()),
            Setting::DoorAjarSeconds(0),
        ];
        for (setting, key) in settings.iter().zip(SettingKey::ALL) {
            assert_eq!(setting.key(), key);
        }
    }
}
