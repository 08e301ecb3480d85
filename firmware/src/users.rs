//! Users and credentials: how the lock keeps them, and the rules that apply to them.
//!
//! Everything here is a pure function of its arguments (no flash, no clock), so each rule has
//! one definition and its own unit tests: whether a user may open the door at a given time
//! ([`check_rules`]). The rules the host shares (a valid `UserSpec`, unique names, the PIN
//! format and weak PINs, weekly windows, settings' ranges) are in `latchkey_protocol`.

use core::fmt;

use latchkey_protocol::checksum::{ChecksumCredential, PIN_DIGEST_LEN};
use latchkey_protocol::{
    AccessReason, CREDENTIALS_MAX, CardUid, Credential, TimeZoneRule, User, UserKind, UserSpec,
    UserSummary,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// Users a lock holds, numbered `1..=MAX_USERS`.
pub const MAX_USERS: u16 = 100;
/// Credentials each user may hold.
pub const CREDENTIALS_PER_USER: usize = 8;
const _: () = assert!(CREDENTIALS_PER_USER <= CREDENTIALS_MAX);

/// A credential as the lock stores it. A PIN is only its keyed digest
/// (`checksum::pin_digest`), never its digits.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredCredential {
    /// A PIN, by its 16-byte keyed digest.
    Pin([u8; PIN_DIGEST_LEN]),
    /// An RFID card, by its UID.
    Card(CardUid),
    /// An enrolled finger, by its template slot on the sensor.
    Fingerprint(u8),
    /// A phone, by its Ed25519 public key.
    Phone([u8; 32]),
}

impl fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Not even the digest: a debug print has no business with PIN material.
            Self::Pin(_) => f.write_str("Pin(..)"),
            Self::Card(uid) => f.debug_tuple("Card").field(uid).finish(),
            Self::Fingerprint(slot) => f.debug_tuple("Fingerprint").field(slot).finish(),
            Self::Phone(key) => f.debug_tuple("Phone").field(key).finish(),
        }
    }
}

impl StoredCredential {
    /// The same credential, compared in constant time for PIN digests.
    pub fn same_as(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Pin(a), Self::Pin(b)) => bool::from(a.ct_eq(b)),
            (a, b) => a == b,
        }
    }

    /// As the host sees it: a PIN only as "there is one".
    pub fn public(&self) -> Credential {
        match self {
            Self::Pin(_) => Credential::Pin,
            Self::Card(uid) => Credential::Card { uid: uid.clone() },
            Self::Fingerprint(slot) => Credential::Fingerprint { slot: *slot },
            Self::Phone(key) => Credential::Phone { public_key: *key },
        }
    }

    /// As the checksum sees it.
    pub fn checksum(&self) -> ChecksumCredential<'_> {
        match self {
            Self::Pin(digest) => ChecksumCredential::Pin(digest),
            Self::Card(uid) => ChecksumCredential::Card(uid),
            Self::Fingerprint(_) => ChecksumCredential::Fingerprint,
            Self::Phone(key) => ChecksumCredential::Phone(key),
        }
    }
}

/// A user as the lock stores it: the spec as written, the counters the lock keeps, and the
/// credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredUser {
    /// As written by the installer.
    pub spec: UserSpec,
    /// Uses left, when limited.
    pub uses_left: Option<u16>,
    /// First successful use (Unix seconds), for expiring users.
    pub first_used: Option<u64>,
    /// Credentials.
    pub credentials: heapless::Vec<StoredCredential, CREDENTIALS_PER_USER>,
}

impl StoredUser {
    /// A new user with no credentials and a full use allowance.
    pub fn new(spec: UserSpec) -> Self {
        let uses_left = use_limit(&spec);
        Self { spec, uses_left, first_used: None, credentials: heapless::Vec::new() }
    }

    /// Whether this user holds `credential`.
    pub fn holds(&self, credential: &StoredCredential) -> bool {
        // Every credential is compared, so the time taken does not tell which one matched.
        self.credentials.iter().fold(false, |found, c| found | c.same_as(credential))
    }

    /// The index of the user's PIN, if any.
    pub fn pin_index(&self) -> Option<usize> {
        self.credentials.iter().position(|c| matches!(c, StoredCredential::Pin(_)))
    }

    /// The user as the host sees it.
    pub fn to_user(&self, id: u16) -> User {
        let mut credentials = heapless::Vec::new();
        for c in &self.credentials {
            // CREDENTIALS_PER_USER <= CREDENTIALS_MAX: it always fits.
            let _ = credentials.push(c.public());
        }
        User {
            id,
            spec: self.spec.clone(),
            uses_left: self.uses_left,
            first_used: self.first_used,
            credentials,
        }
    }

    /// A line of the user list.
    pub fn summary(&self, id: u16) -> UserSummary {
        UserSummary {
            id,
            name: self.spec.name.clone(),
            kind: self.spec.kind,
            enabled: self.spec.enabled,
            credentials: self.credentials.len() as u8,
        }
    }
}

/// The uses a user gets: a one-time user 1, otherwise the spec's limit.
pub fn use_limit(spec: &UserSpec) -> Option<u16> {
    match spec.kind {
        UserKind::OneTime => Some(1),
        _ => spec.use_limit,
    }
}

/// Day of the week (0 Monday ... 6 Sunday) and minute of the day of `seconds` since
/// 1970-01-01T00:00 (UTC, or local time from [`TimeZoneRule::local_seconds`]).
/// 1970-01-01 was a Thursday.
pub fn weekday_and_minute(seconds: u64) -> (u8, u16) {
    let days = seconds / 86_400;
    let weekday = ((days + 3) % 7) as u8;
    let minute = ((seconds % 86_400) / 60) as u16;
    (weekday, minute)
}

/// Whether a user's access depends on the clock.
pub fn is_time_limited(spec: &UserSpec) -> bool {
    spec.valid_from.is_some()
        || spec.valid_until.is_some()
        || !spec.weekly.is_empty()
        || matches!(spec.kind, UserKind::Expiring { .. })
}

/// The lock's rules for a user whose credential was presented, in their order: disabled,
/// non-access, clock not set (for a time-limited user), not yet valid, expired (date range or
/// expiring time), outside every weekly window (in `zone`'s local time), uses exhausted.
/// `now` is UTC. `Ok` grants access.
pub fn check_rules(
    user: &StoredUser,
    now: u64,
    clock_set: bool,
    zone: &TimeZoneRule,
) -> Result<(), AccessReason> {
    let spec = &user.spec;
    if !spec.enabled {
        return Err(AccessReason::UserDisabled);
    }
    if spec.kind == UserKind::NonAccess {
        return Err(AccessReason::NonAccessUser);
    }
    if is_time_limited(spec) && !clock_set {
        return Err(AccessReason::ClockNotSet);
    }
    if spec.valid_from.is_some_and(|from| now < from) {
        return Err(AccessReason::NotYetValid);
    }
    if spec.valid_until.is_some_and(|until| now > until) {
        return Err(AccessReason::Expired);
    }
    if let (UserKind::Expiring { minutes }, Some(first)) = (spec.kind, user.first_used)
        && now >= first.saturating_add(u64::from(minutes) * 60)
    {
        return Err(AccessReason::Expired);
    }
    if !spec.weekly.is_empty() {
        let (weekday, minute) = weekday_and_minute(zone.local_seconds(now));
        let inside = spec.weekly.iter().any(|w| w.contains(weekday, minute));
        if !inside {
            return Err(AccessReason::OutsideSchedule);
        }
    }
    if user.uses_left == Some(0) {
        return Err(AccessReason::UsesExhausted);
    }
    Ok(())
}

/// Card UID lengths the lock takes (as `Capabilities::card_uid_lengths`): 4, 7 or 10 bytes,
/// as ISO 14443 allows.
pub const CARD_UID_LENGTHS: u16 = latchkey_protocol::ISO14443_UID_LENGTHS;

/// Whether a card UID has a length the lock takes ([`CARD_UID_LENGTHS`]).
pub fn card_uid_is_valid(uid: &[u8]) -> bool {
    uid.len() < 16 && CARD_UID_LENGTHS & (1 << uid.len()) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_protocol::{UserName, WeeklyWindow};

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
    fn weekdays() {
        assert_eq!(weekday_and_minute(0), (3, 0)); // Thursday
        // 2024-01-01T10:30Z was a Monday.
        assert_eq!(weekday_and_minute(1_704_105_000), (0, 630));
        // 2024-01-07T23:59Z a Sunday.
        assert_eq!(weekday_and_minute(1_704_671_940), (6, 1439));
    }

    #[test]
    fn card_uid_lengths() {
        for (len, ok) in [(0, false), (3, false), (4, true), (5, false), (7, true), (10, true)] {
            assert_eq!(card_uid_is_valid(&[1; 10][..len]), ok, "{len}");
        }
        assert!(!card_uid_is_valid(&[1; 16]));
    }

    #[test]
    fn rules_in_order() {
        let now = 1_704_105_000; // Monday 10:30
        let utc = TimeZoneRule::utc();
        let mut u = StoredUser::new(spec(UserKind::Owner));
        assert_eq!(check_rules(&u, now, false, &utc), Ok(()), "an owner needs no clock");
        u.spec.enabled = false;
        u.spec.kind = UserKind::NonAccess;
        assert_eq!(check_rules(&u, now, true, &utc), Err(AccessReason::UserDisabled));
        u.spec.enabled = true;
        assert_eq!(check_rules(&u, now, true, &utc), Err(AccessReason::NonAccessUser));
        let mut g = StoredUser::new(spec(UserKind::Guest));
        g.spec.valid_from = Some(now + 1);
        g.spec.valid_until = Some(now + 100);
        assert_eq!(check_rules(&g, now, false, &utc), Err(AccessReason::ClockNotSet));
        assert_eq!(check_rules(&g, now, true, &utc), Err(AccessReason::NotYetValid));
        assert_eq!(check_rules(&g, now + 100, true, &utc), Ok(()));
        assert_eq!(check_rules(&g, now + 101, true, &utc), Err(AccessReason::Expired));
        let mut e = StoredUser::new(spec(UserKind::Expiring { minutes: 2 }));
        assert_eq!(check_rules(&e, now, true, &utc), Ok(()));
        e.first_used = Some(now);
        assert_eq!(check_rules(&e, now + 119, true, &utc), Ok(()));
        assert_eq!(check_rules(&e, now + 120, true, &utc), Err(AccessReason::Expired));
        let mut s = StoredUser::new(spec(UserKind::Scheduled));
        // Weekdays 09:00-17:00.
        s.spec
            .weekly
            .push(WeeklyWindow { days: 0x1F, start_minute: 540, end_minute: 1020 })
            .unwrap();
        assert_eq!(check_rules(&s, now, true, &utc), Ok(()));
        assert_eq!(
            check_rules(&s, now + 5 * 86_400, true, &utc),
            Err(AccessReason::OutsideSchedule)
        );
        assert_eq!(check_rules(&s, now + 7 * 3600, true, &utc), Err(AccessReason::OutsideSchedule));
        // The same window in New York: 10:30 UTC is 05:30 there, before opening; 15:30 UTC is
        // 10:30 there. In July (daylight saving) 13:30 UTC is 09:30 there.
        let new_york = TimeZoneRule::parse("EST5EDT,M3.2.0,M11.1.0").unwrap();
        assert_eq!(check_rules(&s, now, true, &new_york), Err(AccessReason::OutsideSchedule));
        assert_eq!(check_rules(&s, now + 5 * 3600, true, &new_york), Ok(()));
        let july_1330 = 1_719_840_600; // Monday 2024-07-01T13:30Z
        assert_eq!(check_rules(&s, july_1330, true, &new_york), Ok(()));
        assert_eq!(check_rules(&s, july_1330, true, &utc), Ok(()));
        assert_eq!(
            check_rules(&s, july_1330 - 3600, true, &new_york),
            Err(AccessReason::OutsideSchedule),
            "08:30 in New York"
        );
        let mut o = StoredUser::new(spec(UserKind::OneTime));
        assert_eq!(o.uses_left, Some(1));
        o.uses_left = Some(0);
        assert_eq!(check_rules(&o, now, false, &utc), Err(AccessReason::UsesExhausted));
    }

    #[test]
    fn debug_never_shows_pin_digests() {
        let c = StoredCredential::Pin([0xAB; 16]);
        let text = format!("{c:?}");
        assert_eq!(text, "Pin(..)");
    }
}
