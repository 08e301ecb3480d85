//! Values as people and provisioning files write them: card UIDs and phone keys in hex, PINs
//! as digits, user names, user types, weekly windows. Checked here for a clear message; the
//! lock still judges every value it is sent.

use latchkey_protocol::{
    CardUid, Pin, UserKind, UserName, WEEKLY_WINDOWS_MAX, WeeklyWindow, WindowParseError,
};

/// The weekly windows of one user.
pub type Windows = heapless::Vec<WeeklyWindow, WEEKLY_WINDOWS_MAX>;

/// A value that cannot be what it is meant to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Not hex, or longer than any card UID (which lengths a lock takes is its to say).
    #[error("{0:?} is not a card UID")]
    CardUid(String),
    /// Not 32 bytes of hex.
    #[error("{0:?} is not a phone key")]
    PhoneKey(String),
    /// Empty, or something other than digits.
    #[error("a PIN is digits only")]
    PinDigits,
    /// More digits than any lock takes.
    #[error("that PIN is too long")]
    PinTooLong,
    /// A user name longer than the lock keeps.
    #[error("the name {0:?} is longer than 24 bytes")]
    NameTooLong(String),
    /// Not a weekly window.
    #[error("{text:?} is not a weekly window: {problem}")]
    Window {
        /// What was written.
        text: String,
        /// What is wrong with it.
        problem: WindowParseError,
    },
    /// More windows than a user may have.
    #[error("at most {WEEKLY_WINDOWS_MAX} weekly windows per user")]
    TooManyWindows,
    /// Not the name of a user type.
    #[error("{0:?} is not a user type")]
    UserKind(String),
    /// `expiring` without how long.
    #[error("an expiring user needs its minutes after the first use")]
    ExpiringWithoutMinutes,
    /// Digits alone, but not a number a user can have.
    #[error("{0:?} is not a user number (they run from 1 to 65535)")]
    UserNumber(String),
    /// Nothing where a user's number or name was meant.
    #[error("no user given")]
    NoUser,
    /// A name of digits alone: it would read as a user's number.
    #[error("the name {0:?} is only digits, which reads as a user number")]
    NameOnlyDigits(String),
}

impl InputError {
    /// What to write instead.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::CardUid(_) => "give 4, 7 or 10 bytes in hex, e.g. 04a1b2c3",
            Self::PhoneKey(_) => "the Ed25519 public key is 64 hex digits",
            Self::PinDigits => "e.g. 058213 (leading zeros are kept)",
            Self::PinTooLong => "`latchkey info` shows the PIN lengths the lock takes",
            Self::NameTooLong(_) => "use a shorter name",
            Self::Window { .. } => {
                "e.g. \"mon-fri 08:00-18:00\", \"sat,sun 10:00-14:00\" or \"daily 06:00-22:00\""
            }
            Self::TooManyWindows => "merge windows, or give the user fewer",
            Self::UserKind(_) => {
                "owner, scheduled, guest, one_time, expiring, duress or non_access"
            }
            Self::ExpiringWithoutMinutes => "e.g. --kind expiring --minutes 120",
            Self::UserNumber(_) | Self::NoUser => {
                "give the user's number or name; `latchkey user list` shows both"
            }
            Self::NameOnlyDigits(_) => "add a word, e.g. \"Flat 12\"",
        }
    }
}

/// Bytes written in hex, with `:`, `-` or spaces between them allowed.
pub fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    let text: String = text.chars().filter(|c| !matches!(c, ':' | '-' | ' ')).collect();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// A card UID in hex (4, 7 or 10 bytes).
pub fn card_uid(text: &str) -> Result<CardUid, InputError> {
    hex_bytes(text)
        .and_then(|b| CardUid::from_slice(&b).ok())
        .ok_or_else(|| InputError::CardUid(text.to_string()))
}

/// An Ed25519 public key in hex (32 bytes).
pub fn phone_key(text: &str) -> Result<[u8; 32], InputError> {
    hex_bytes(text)
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| InputError::PhoneKey(text.to_string()))
}

/// A PIN: digits only, leading zeros kept; surrounding white space (a line's end) ignored.
/// Its length and strength are the lock's to judge.
pub fn pin(text: &str) -> Result<Pin, InputError> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InputError::PinDigits);
    }
    Pin::try_from(text).map_err(|_| InputError::PinTooLong)
}

/// A user's name. A name of digits alone is refused: commands take a user by number or by
/// name ([`UserRef`]), and such a name would read as a number.
pub fn user_name(text: &str) -> Result<UserName, InputError> {
    if is_user_number(text) {
        return Err(InputError::NameOnlyDigits(text.to_string()));
    }
    UserName::try_from(text).map_err(|_| InputError::NameTooLong(text.to_string()))
}

fn is_user_number(text: &str) -> bool {
    let text = text.trim();
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// A user as a command names them: by number (`7`) or by name (`Ann`, matched as the lock
/// matches names: [`latchkey_protocol::names_match`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// The user's number.
    Number(u16),
    /// The user's name.
    Name(String),
}

impl std::str::FromStr for UserRef {
    type Err = InputError;

    fn from_str(text: &str) -> Result<Self, InputError> {
        if text.trim().is_empty() {
            return Err(InputError::NoUser);
        }
        if is_user_number(text) {
            return match text.trim().parse::<u16>() {
                Ok(n) if n > 0 => Ok(Self::Number(n)),
                _ => Err(InputError::UserNumber(text.to_string())),
            };
        }
        Ok(Self::Name(text.to_string()))
    }
}

impl std::fmt::Display for UserRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "user {n}"),
            Self::Name(name) => write!(f, "{name:?}"),
        }
    }
}

/// Weekly windows, each like `mon-fri 08:00-18:00`.
pub fn windows<S: AsRef<str>>(texts: &[S]) -> Result<Windows, InputError> {
    let mut out = Windows::new();
    for text in texts {
        let text = text.as_ref();
        let window = text
            .parse::<WeeklyWindow>()
            .map_err(|problem| InputError::Window { text: text.to_string(), problem })?;
        out.push(window).map_err(|_| InputError::TooManyWindows)?;
    }
    Ok(out)
}

/// A user type by its name (`one_time`; `one-time` too), with the minutes an `expiring` user
/// lasts after the first use.
pub fn user_kind(name: &str, minutes: Option<u16>) -> Result<UserKind, InputError> {
    let wanted = name.trim().to_ascii_lowercase().replace('-', "_");
    let kinds = [
        UserKind::Owner,
        UserKind::Scheduled,
        UserKind::Guest,
        UserKind::OneTime,
        UserKind::Expiring { minutes: 0 },
        UserKind::Duress,
        UserKind::NonAccess,
    ];
    match kinds.into_iter().find(|k| k.as_str() == wanted) {
        Some(UserKind::Expiring { .. }) => minutes
            .map(|minutes| UserKind::Expiring { minutes })
            .ok_or(InputError::ExpiringWithoutMinutes),
        Some(kind) => Ok(kind),
        None => Err(InputError::UserKind(name.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_keep_leading_zeros_and_refuse_non_digits() {
        assert_eq!(pin("058213\n").unwrap().as_str(), "058213");
        assert_eq!(pin("12a4"), Err(InputError::PinDigits));
        assert_eq!(pin(""), Err(InputError::PinDigits));
    }

    #[test]
    fn hex_values_take_separators_and_check_their_length() {
        assert_eq!(card_uid("04:a1:b2:c3").unwrap().as_slice(), [0x04, 0xa1, 0xb2, 0xc3]);
        assert!(card_uid("04a1b2c").is_err());
        assert!(card_uid(&"04".repeat(11)).is_err());
        assert!(phone_key(&"ab".repeat(32)).is_ok());
        assert!(phone_key(&"ab".repeat(31)).is_err());
    }

    #[test]
    fn user_kinds_by_their_machine_name_or_the_older_spelling() {
        assert_eq!(user_kind("one_time", None), Ok(UserKind::OneTime));
        assert_eq!(user_kind("One-Time", None), Ok(UserKind::OneTime));
        assert_eq!(user_kind("non-access", None), Ok(UserKind::NonAccess));
        assert_eq!(user_kind("expiring", Some(5)), Ok(UserKind::Expiring { minutes: 5 }));
        assert_eq!(user_kind("expiring", None), Err(InputError::ExpiringWithoutMinutes));
        assert!(user_kind("boss", None).is_err());
    }

    #[test]
    fn windows_are_counted() {
        assert_eq!(windows(&["mon-fri 08:00-18:00"]).unwrap().len(), 1);
        let five = ["daily 01:00-02:00"; 5];
        assert_eq!(windows(&five), Err(InputError::TooManyWindows));
        assert!(matches!(windows(&["someday 08:00-09:00"]), Err(InputError::Window { .. })));
    }
}
