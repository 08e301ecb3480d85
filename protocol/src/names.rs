//! One machine name per protocol enum value: `as_str` gives the same lower-case snake_case
//! name serde gives (so JSON, CSV, command-line values and the simulator's lines agree), and
//! a test proves it for every variant. Human wording is the host's (`display.rs`), not this.

use serde::{Deserialize, Serialize};

use crate::message::*;

/// The kind of a [`LogEntry`], as scripts and filters name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// [`LogEntry::Access`].
    Access,
    /// [`LogEntry::Change`].
    Change,
    /// [`LogEntry::Alarm`].
    Alarm,
    /// [`LogEntry::Battery`].
    Battery,
    /// [`LogEntry::PowerUp`].
    PowerUp,
    /// [`LogEntry::ClockSet`].
    ClockSet,
    /// [`LogEntry::Session`].
    Session,
    /// [`LogEntry::AuthFailed`].
    AuthFailed,
    /// [`LogEntry::Cleared`].
    Cleared,
    /// [`LogEntry::DuplicatePin`].
    DuplicatePin,
    /// [`LogEntry::Repeated`].
    Repeated,
    /// [`LogEntry::Door`].
    Door,
}

impl LogKind {
    /// Every kind, in wire order.
    pub const ALL: [Self; 12] = [
        Self::Access,
        Self::Change,
        Self::Alarm,
        Self::Battery,
        Self::PowerUp,
        Self::ClockSet,
        Self::Session,
        Self::AuthFailed,
        Self::Cleared,
        Self::DuplicatePin,
        Self::Repeated,
        Self::Door,
    ];

    /// The stable machine name: the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Change => "change",
            Self::Alarm => "alarm",
            Self::Battery => "battery",
            Self::PowerUp => "power_up",
            Self::ClockSet => "clock_set",
            Self::Session => "session",
            Self::AuthFailed => "auth_failed",
            Self::Cleared => "cleared",
            Self::DuplicatePin => "duplicate_pin",
            Self::Repeated => "repeated",
            Self::Door => "door",
        }
    }
}

impl LogClass {
    /// The stable machine name: the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Routine => "routine",
            Self::Security => "security",
        }
    }
}

impl LogEntry {
    /// What kind of record this is.
    pub const fn kind(&self) -> LogKind {
        match self {
            Self::Access { .. } => LogKind::Access,
            Self::Change { .. } => LogKind::Change,
            Self::Alarm { .. } => LogKind::Alarm,
            Self::Battery { .. } => LogKind::Battery,
            Self::PowerUp { .. } => LogKind::PowerUp,
            Self::ClockSet { .. } => LogKind::ClockSet,
            Self::Session { .. } => LogKind::Session,
            Self::AuthFailed { .. } => LogKind::AuthFailed,
            Self::Cleared { .. } => LogKind::Cleared,
            Self::DuplicatePin { .. } => LogKind::DuplicatePin,
            Self::Repeated { .. } => LogKind::Repeated,
            Self::Door { .. } => LogKind::Door,
        }
    }
}

/// The kind of a [`Credential`], without its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// [`Credential::Pin`].
    Pin,
    /// [`Credential::Card`].
    Card,
    /// [`Credential::Fingerprint`].
    Fingerprint,
    /// [`Credential::Phone`].
    Phone,
}

impl CredentialKind {
    /// Every kind, in wire order.
    pub const ALL: [Self; 4] = [Self::Pin, Self::Card, Self::Fingerprint, Self::Phone];

    /// The stable machine name: the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pin => "pin",
            Self::Card => "card",
            Self::Fingerprint => "fingerprint",
            Self::Phone => "phone",
        }
    }
}

impl ClearTarget {
    /// The stable machine name: the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pins => "pins",
            Self::Cards => "cards",
            Self::Fingerprints => "fingerprints",
            Self::Phones => "phones",
            Self::Users => "users",
        }
    }
}

impl Credential {
    /// What kind of credential this is.
    pub const fn kind(&self) -> CredentialKind {
        match self {
            Self::Pin => CredentialKind::Pin,
            Self::Card { .. } | Self::CardFingerprint { .. } => CredentialKind::Card,
            Self::Fingerprint { .. } => CredentialKind::Fingerprint,
            Self::Phone { .. } | Self::PhoneFingerprint { .. } => CredentialKind::Phone,
        }
    }
}

impl BeeperVolume {
    /// The stable machine name (for JSON, CSV and command-line values): the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

impl UserWrite {
    /// The stable machine name (for JSON, CSV and command-line values): the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Modify => "modify",
        }
    }
}

impl UserKind {
    /// The stable machine name (for JSON, CSV and command-line values): the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Scheduled => "scheduled",
            Self::Guest => "guest",
            Self::OneTime => "one_time",
            Self::Expiring { .. } => "expiring",
            Self::Duress => "duress",
            Self::NonAccess => "non_access",
        }
    }
}

impl EnrollKind {
    /// The stable machine name (for JSON, CSV and command-line values): the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::Fingerprint => "fingerprint",
        }
    }
}

impl EnrollFailure {
    /// The stable machine name (for JSON, CSV and command-line values): the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PoorQuality => "poor_quality",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
            Self::Duplicate => "duplicate",
            Self::Full => "full",
            Self::Storage => "storage",
            Self::Sensor => "sensor",
        }
    }
}

impl AccessPath {
    /// The stable machine name (for JSON, CSV and command-line values): the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Keypad => "keypad",
            Self::Rfid => "rfid",
            Self::Fingerprint => "fingerprint",
            Self::Phone => "phone",
            Self::MechanicalKey => "mechanical_key",
        }
    }
}

impl AccessReason {
    /// The stable machine name (for JSON, CSV and command-line values): the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Granted => "granted",
            Self::Duress => "duress",
            Self::UnknownCredential => "unknown_credential",
            Self::UserDisabled => "user_disabled",
            Self::OutsideSchedule => "outside_schedule",
            Self::NotYetValid => "not_yet_valid",
            Self::Expired => "expired",
            Self::UsesExhausted => "uses_exhausted",
            Self::NonAccessUser => "non_access_user",
            Self::KeypadLockedOut => "keypad_locked_out",
            Self::BadSignature => "bad_signature",
            Self::ClockNotSet => "clock_not_set",
            Self::MechanicalKey => "mechanical_key",
        }
    }
}

impl Alarm {
    /// The stable machine name (for JSON, CSV and command-line values): the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::WrongCodeLimit => "wrong_code_limit",
            Self::Duress => "duress",
            Self::Tamper => "tamper",
            Self::ForcedOpen => "forced_open",
            Self::DoorAjar => "door_ajar",
            Self::Jammed => "jammed",
            Self::LowBattery => "low_battery",
            Self::CriticalBattery => "critical_battery",
        }
    }
}

impl Role {
    /// The stable machine name (for JSON, CSV and command-line values): the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Installer => "installer",
            Self::Technician => "technician",
        }
    }
}

impl ClaimIntent {
    /// The stable machine name (for JSON, CSV and command-line values): the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Claim => "claim",
            Self::FactoryReset => "factory_reset",
        }
    }
}

impl BatteryState {
    /// The stable machine name (for JSON, CSV and command-line values): the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Low => "low",
            Self::Critical => "critical",
        }
    }
}

impl LogBreak {
    /// The stable machine name (for JSON, CSV and command-line values): the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Gap { .. } => "gap",
            Self::TagMismatch { .. } => "tag_mismatch",
            Self::OutOfOrder { .. } => "out_of_order",
            Self::Undecodable { .. } => "undecodable",
        }
    }
}

impl ChangeKind {
    /// The stable machine name (for JSON, CSV and command-line values): the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "claimed",
            Self::FactoryReset => "factory_reset",
            Self::KeysRotated => "keys_rotated",
            Self::Setting => "setting",
            Self::UserAdded => "user_added",
            Self::UserChanged => "user_changed",
            Self::UserRemoved => "user_removed",
            Self::PinSet => "pin_set",
            Self::PinRemoved => "pin_removed",
            Self::CardAdded => "card_added",
            Self::CardRemoved => "card_removed",
            Self::FingerAdded => "finger_added",
            Self::FingerRemoved => "finger_removed",
            Self::PhoneAdded => "phone_added",
            Self::PhoneRemoved => "phone_removed",
            Self::AlarmsCleared => "alarms_cleared",
            Self::TimeZone => "time_zone",
            Self::LogCleared => "log_cleared",
        }
    }
}

impl ResetReason {
    /// The stable machine name (for JSON, CSV and command-line values): the serde name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PowerOn => "power_on",
            Self::Reset => "reset",
            Self::Panic => "panic",
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::pin::PinProblem;
    use crate::refusal::{Field, Limit};
    use crate::setting::SettingKey;
    use crate::window::WindowProblem;
    use serde::de::DeserializeOwned;
    use std::vec::Vec;

    /// Every variant of `T`, found by decoding each variant index in turn (postcard writes an
    /// enum as its index, then its fields; zeros are a valid value for every field here), so
    /// a variant added later is checked without editing this test.
    fn variants<T: DeserializeOwned>() -> Vec<T> {
        let mut out = Vec::new();
        for index in 0u8..100 {
            let mut bytes = [0u8; 64];
            bytes[0] = index;
            match postcard::from_bytes::<T>(&bytes) {
                Ok(value) => out.push(value),
                Err(_) => break,
            }
        }
        assert!(!out.is_empty());
        out
    }

    /// The serde name of a unit variant (a JSON string) or a data variant (the object's key).
    fn serde_name<T: Serialize>(value: &T) -> std::string::String {
        match serde_json::to_value(value).unwrap() {
            serde_json::Value::String(name) => name,
            serde_json::Value::Object(map) if map.len() == 1 => map.keys().next().unwrap().clone(),
            other => panic!("not an enum variant: {other}"),
        }
    }

    fn check<T: DeserializeOwned + Serialize + core::fmt::Debug>(
        name: impl Fn(&T) -> &'static str,
    ) {
        let all = variants::<T>();
        let mut seen = Vec::new();
        for value in &all {
            assert_eq!(name(value), serde_name(value), "{value:?}");
            assert!(!seen.contains(&name(value)), "{value:?}: a name used twice");
            seen.push(name(value));
        }
    }

    #[test]
    fn as_str_is_the_serde_name_for_every_variant() {
        check::<Status>(|v| v.as_str());
        check::<BeeperVolume>(|v| v.as_str());
        check::<UserWrite>(|v| v.as_str());
        check::<UserKind>(|v| v.as_str());
        check::<EnrollKind>(|v| v.as_str());
        check::<EnrollFailure>(|v| v.as_str());
        check::<AccessPath>(|v| v.as_str());
        check::<AccessReason>(|v| v.as_str());
        check::<Alarm>(|v| v.as_str());
        check::<Role>(|v| v.as_str());
        check::<ClaimIntent>(|v| v.as_str());
        check::<BatteryState>(|v| v.as_str());
        check::<LogBreak>(|v| v.as_str());
        check::<ChangeKind>(|v| v.as_str());
        check::<ResetReason>(|v| v.as_str());
        check::<LogKind>(|v| v.as_str());
        check::<LogClass>(|v| v.as_str());
        check::<CredentialKind>(|v| v.as_str());
        check::<SettingKey>(|v| v.as_str());
        check::<ClearTarget>(|v| v.as_str());
        check::<Field>(|v| v.as_str());
        check::<Limit>(|v| v.as_str());
        check::<WindowProblem>(|v| v.as_str());
        assert_eq!(variants::<LogKind>(), LogKind::ALL);
        assert_eq!(variants::<CredentialKind>(), CredentialKind::ALL);
        assert_eq!(variants::<SettingKey>(), SettingKey::ALL);
    }

    #[test]
    fn every_log_entry_and_credential_has_its_kind() {
        let entries = variants::<LogEntry>();
        assert_eq!(entries.len(), LogKind::ALL.len());
        for (entry, kind) in entries.iter().zip(LogKind::ALL) {
            assert_eq!(entry.kind(), kind);
            assert_eq!(kind.as_str(), serde_name(&kind));
        }
        // One variant per kind, in order, then what technicians see of cards and phones.
        let credentials = variants::<Credential>();
        let kinds =
            CredentialKind::ALL.into_iter().chain([CredentialKind::Card, CredentialKind::Phone]);
        assert_eq!(credentials.len(), CredentialKind::ALL.len() + 2);
        for (credential, kind) in credentials.iter().zip(kinds) {
            assert_eq!(credential.kind(), kind, "{credential:?}");
        }
    }

    #[test]
    fn rule_problems_have_distinct_names() {
        let pins =
            [PinProblem::NotDigits, PinProblem::TooShort, PinProblem::TooLong, PinProblem::Weak];
        let mut names: Vec<_> = pins.iter().map(|p| p.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), pins.len());
    }
}
