//! Names of the lock's settings on the command line, and their values as text and JSON.
//! The ranges are the lock's rules; they are checked here only to give a better message
//! before asking, and the lock checks them again.

use latchkey_protocol::{BeeperVolume, DOOR_LABEL_MAX, DoorLabel, Setting, Settings};
use serde_json::{Value, json};

use super::CliError;

/// A setting's name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SettingKey {
    /// The door's name.
    Label,
    /// Seconds before the bolt throws again after an unlock (0 = off).
    AutoRelock,
    /// Wrong codes in a row before the keypad locks out.
    WrongCodeLimit,
    /// Seconds the keypad stays locked out.
    Lockout,
    /// Beeper loudness.
    Volume,
}

impl SettingKey {
    /// Every key, in display order.
    pub const ALL: [SettingKey; 5] =
        [Self::Label, Self::AutoRelock, Self::WrongCodeLimit, Self::Lockout, Self::Volume];

    /// The key as typed.
    pub fn name(self) -> &'static str {
        match self {
            Self::Label => "label",
            Self::AutoRelock => "auto-relock",
            Self::WrongCodeLimit => "wrong-code-limit",
            Self::Lockout => "lockout",
            Self::Volume => "volume",
        }
    }

    /// This key's value in `settings`, as JSON.
    pub fn value(self, settings: &Settings) -> Value {
        match self {
            Self::Label => json!(settings.door_label.as_str()),
            Self::AutoRelock => json!(settings.auto_relock_seconds),
            Self::WrongCodeLimit => json!(settings.wrong_code_limit),
            Self::Lockout => json!(settings.lockout_seconds),
            Self::Volume => json!(volume_name(settings.beeper_volume)),
        }
    }

    /// This key's value in `settings`, for a person.
    pub fn display(self, settings: &Settings) -> String {
        match self {
            Self::Label => settings.door_label.to_string(),
            Self::AutoRelock if settings.auto_relock_seconds == 0 => "off".into(),
            Self::AutoRelock => format!("{} s", settings.auto_relock_seconds),
            Self::WrongCodeLimit => settings.wrong_code_limit.to_string(),
            Self::Lockout => format!("{} s", settings.lockout_seconds),
            Self::Volume => volume_name(settings.beeper_volume).into(),
        }
    }

    /// Parses `text` as a new value for this key.
    pub fn parse(self, text: &str) -> Result<Setting, CliError> {
        let bad = |why: &str, fix: &str| {
            CliError::usage(format!("{:?} is not a valid {}: {why}", text, self.name()))
                .with_hint(fix.to_string())
        };
        match self {
            Self::Label => {
                let label = DoorLabel::try_from(text).map_err(|_| {
                    bad(
                        &format!("longer than {DOOR_LABEL_MAX} bytes"),
                        "use a shorter name, e.g. \"Front door\"",
                    )
                })?;
                Ok(Setting::DoorLabel(label))
            }
            Self::AutoRelock => {
                let seconds = parse_seconds(text).ok_or_else(|| {
                    bad("not a number of seconds", "give seconds (0 = off), e.g. 30 or 2m")
                })?;
                Ok(Setting::AutoRelockSeconds(seconds))
            }
            Self::WrongCodeLimit => {
                let n = text
                    .trim()
                    .parse::<u8>()
                    .map_err(|_| bad("not a whole number from 1 to 255", "e.g. 5"))?;
                Ok(Setting::WrongCodeLimit(n))
            }
            Self::Lockout => {
                let seconds = parse_seconds(text).ok_or_else(|| {
                    bad("not a number of seconds", "give seconds from 1 to 3600, e.g. 60 or 5m")
                })?;
                Ok(Setting::LockoutSeconds(seconds))
            }
            Self::Volume => {
                let volume = match text.trim().to_ascii_lowercase().as_str() {
                    "off" | "silent" => BeeperVolume::Off,
                    "low" => BeeperVolume::Low,
                    "medium" => BeeperVolume::Medium,
                    "high" => BeeperVolume::High,
                    _ => return Err(bad("not a volume", "use off, low, medium or high")),
                };
                Ok(Setting::BeeperVolume(volume))
            }
        }
    }
}

/// Whole seconds: `30`, or a duration like `2m`. Saturates above u16 so the lock (which
/// knows its range) is the one to refuse it.
fn parse_seconds(text: &str) -> Option<u16> {
    let text = text.trim();
    let seconds = match text.parse::<u64>() {
        Ok(n) => n,
        Err(_) => {
            let d = humantime::parse_duration(text).ok()?;
            if d.subsec_nanos() != 0 {
                return None;
            }
            d.as_secs()
        }
    };
    Some(u16::try_from(seconds).unwrap_or(u16::MAX))
}

fn volume_name(volume: BeeperVolume) -> &'static str {
    match volume {
        BeeperVolume::Off => "off",
        BeeperVolume::Low => "low",
        BeeperVolume::Medium => "medium",
        BeeperVolume::High => "high",
    }
}
