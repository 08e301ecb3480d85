//! What the lock says when it refuses: the [`Status`], and where that applies — which field
//! of the request ([`Field`]), which capacity ([`Limit`]), which user already holds the value
//! (`existing`). With the field, [`crate::Capabilities`] and this crate's constants, a client
//! can tell the person which values are allowed; `docs/protocol.md` lists them per field.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::message::Status;
use crate::setting::SettingKey;
use crate::window::WindowProblem;

/// A refusal in detail, answered as [`crate::Response::Refused`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// What kind of refusal (never [`Status::Success`]).
    pub status: Status,
    /// The field of the request it concerns, if one does.
    pub field: Option<Field>,
    /// The capacity that is used up, with [`Status::ResourceExhausted`].
    pub limit: Option<Limit>,
    /// With [`Status::Duplicate`]: the user who already holds the value (never for a PIN,
    /// which would tell who uses it).
    pub existing: Option<u16>,
}

impl Refusal {
    /// A refusal with nothing more to say than its status.
    pub const fn new(status: Status) -> Self {
        Self { status, field: None, limit: None, existing: None }
    }

    /// `status`, concerning `field`.
    pub const fn at(status: Status, field: Field) -> Self {
        Self { status, field: Some(field), limit: None, existing: None }
    }

    /// [`Status::InvalidField`]: `field` is out of range or malformed.
    pub const fn invalid(field: Field) -> Self {
        Self::at(Status::InvalidField, field)
    }

    /// [`Status::NotFound`]: nothing matches `field` (no such user, or the user holds no
    /// such credential).
    pub const fn not_found(field: Field) -> Self {
        Self::at(Status::NotFound, field)
    }

    /// [`Status::ResourceExhausted`]: `limit` is reached.
    pub const fn exhausted(limit: Limit) -> Self {
        Self { status: Status::ResourceExhausted, field: None, limit: Some(limit), existing: None }
    }

    /// [`Status::Duplicate`]: another user holds `field`'s value (user `existing`, if told).
    pub const fn duplicate(field: Field, existing: Option<u16>) -> Self {
        Self { status: Status::Duplicate, field: Some(field), limit: None, existing }
    }

    /// Adds the field it concerns.
    pub const fn with_field(mut self, field: Field) -> Self {
        self.field = Some(field);
        self
    }
}

impl From<Status> for Refusal {
    fn from(status: Status) -> Self {
        Self::new(status)
    }
}

/// `invalid_field (field pin_length)`, `resource_exhausted (limit user_slots)`,
/// `duplicate (field user_name, existing user 3)`: the machine names, for logs and as a plain
/// fallback; a face words it for people.
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.status.as_str())?;
        let mut sep = " (";
        if let Some(field) = &self.field {
            write!(f, "{sep}field {field}")?;
            sep = ", ";
        }
        if let Some(limit) = self.limit {
            write!(f, "{sep}limit {}", limit.as_str())?;
            sep = ", ";
        }
        if let Some(id) = self.existing {
            write!(f, "{sep}existing user {id}")?;
            sep = ", ";
        }
        if sep == ", " {
            f.write_str(")")?;
        }
        Ok(())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Refusal {}

/// The field of a request a refusal concerns. What each allows is in `docs/protocol.md`
/// ("Refusals"); every rule is one a client can check from the field, the lock's
/// [`crate::Capabilities`] and this crate's constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// A user number: 0 where a user is meant, or above `max_users` (with
    /// [`Limit::UserIdRange`]); with `NotFound`, no user has it.
    UserId,
    /// A user's name: empty (after trimming white space) or with a control character; with
    /// `Duplicate`, another user has it ([`crate::names_match`]).
    UserName,
    /// An expiring user's minutes: 1 to [`crate::EXPIRING_MINUTES_MAX`].
    ExpiringMinutes,
    /// A scheduled user without a weekly window.
    WeeklyWindows,
    /// Weekly window `index` (from 0, in the spec's order) breaks the window rule.
    Window {
        /// Which window.
        index: u8,
        /// How.
        problem: WindowProblem,
    },
    /// `valid_from`: a guest needs one.
    ValidFrom,
    /// `valid_until`: a guest needs one, and it must be after `valid_from`.
    ValidUntil,
    /// `use_limit`: at least 1; a one-time user's is 1 (or none).
    UseLimit,
    /// The PIN as a whole: `Weak` (too easy to guess), `Duplicate` (another user's; which
    /// user is never told), `NotFound` (the user has none).
    Pin,
    /// The PIN holds something other than the digits 0 to 9.
    PinDigits,
    /// The PIN's length is outside `pin_length_min..=pin_length_max`.
    PinLength,
    /// A card UID: its length is not one of `card_uid_lengths`; with `Duplicate` another
    /// user's; with `NotFound` the user holds no such card.
    CardUid,
    /// A phone key: not an Ed25519 public key; `Duplicate`; `NotFound`.
    PhoneKey,
    /// A fingerprint slot the user does not hold (`NotFound`).
    FingerSlot,
    /// A setting's value, outside the range of [`SettingKey::range`] or its rule.
    Setting(SettingKey),
    /// A clock time before [`crate::EARLIEST_TIME`].
    Time,
}

impl Field {
    /// The stable machine name: the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UserId => "user_id",
            Self::UserName => "user_name",
            Self::ExpiringMinutes => "expiring_minutes",
            Self::WeeklyWindows => "weekly_windows",
            Self::Window { .. } => "window",
            Self::ValidFrom => "valid_from",
            Self::ValidUntil => "valid_until",
            Self::UseLimit => "use_limit",
            Self::Pin => "pin",
            Self::PinDigits => "pin_digits",
            Self::PinLength => "pin_length",
            Self::CardUid => "card_uid",
            Self::PhoneKey => "phone_key",
            Self::FingerSlot => "finger_slot",
            Self::Setting(_) => "setting",
            Self::Time => "time",
        }
    }
}

/// `user_id`, `window 1 overnight`, `setting lockout_seconds`.
impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        match self {
            Self::Window { index, problem } => write!(f, " {index} {}", problem.as_str()),
            Self::Setting(key) => write!(f, " {}", key.as_str()),
            _ => Ok(()),
        }
    }
}

/// The capacity a `ResourceExhausted` refusal ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// Every user number, 1 to `max_users`, holds a user.
    UserSlots,
    /// The user holds `credentials_per_user` credentials.
    UserCredentials,
    /// The user number is above `max_users`.
    UserIdRange,
    /// The lock's flash store has no room left.
    Flash,
    /// The fingerprint sensor has no free template slot.
    SensorSlots,
}

impl Limit {
    /// The stable machine name: the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UserSlots => "user_slots",
            Self::UserCredentials => "user_credentials",
            Self::UserIdRange => "user_id_range",
            Self::Flash => "flash",
            Self::SensorSlots => "sensor_slots",
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn display_names_what_and_where() {
        assert_eq!(Refusal::new(Status::NotAuthorized).to_string(), "not_authorized");
        assert_eq!(
            Refusal::invalid(Field::PinLength).to_string(),
            "invalid_field (field pin_length)"
        );
        assert_eq!(
            Refusal::exhausted(Limit::UserIdRange).with_field(Field::UserId).to_string(),
            "resource_exhausted (field user_id, limit user_id_range)"
        );
        assert_eq!(
            Refusal::duplicate(Field::UserName, Some(3)).to_string(),
            "duplicate (field user_name, existing user 3)"
        );
        let window = Field::Window { index: 1, problem: WindowProblem::Overnight };
        assert_eq!(window.to_string(), "window 1 overnight");
        assert_eq!(
            Field::Setting(SettingKey::LockoutSeconds).to_string(),
            "setting lockout_seconds"
        );
    }
}
