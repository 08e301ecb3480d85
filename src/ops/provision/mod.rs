//! Bulk provisioning: site files ([`file`]: TOML, CSV or JSON, checked row by row), the
//! difference with a lock ([`plan`]), carrying it out ([`apply`]), a site file from a lock
//! ([`export`]); and, for `checksum --verify`, the JSON list of users it has always read with
//! the checksum a lock holding exactly them reports. The format is `docs/provisioning.md`.

use std::path::{Path, PathBuf};

use latchkey_protocol::checksum::{Checksum, ChecksumCredential, pin_digest};
use latchkey_protocol::crypto::SecretKey;
use latchkey_protocol::{TimeZoneRule, UserKind, UserSpec};
use serde::Deserialize;

use crate::input::{self, InputError};
use crate::time::{Dates, TimeError};

/// One user of a provisioning file.
#[derive(Debug, Clone, Deserialize)]
pub struct ProvisionedUser {
    /// User number.
    pub user: u16,
    /// Name.
    pub name: String,
    /// User type by its machine name (`owner` when absent).
    #[serde(default = "owner")]
    pub kind: String,
    /// For an `expiring` user: minutes after the first use.
    pub expire_minutes: Option<u16>,
    /// Whether the user may enter (`true` when absent).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Not before: a date or time as `user add --from` takes it.
    pub valid_from: Option<String>,
    /// Not after: as `user add --until` takes it.
    pub valid_until: Option<String>,
    /// Successful uses allowed.
    pub use_limit: Option<u16>,
    /// Weekly windows like `mon-fri 08:00-18:00`.
    #[serde(default)]
    pub windows: Vec<String>,
    /// The PIN the host set, if any.
    pub pin: Option<String>,
    /// Card UIDs in hex.
    #[serde(default)]
    pub cards: Vec<String>,
    /// Phone public keys in hex.
    #[serde(default)]
    pub phones: Vec<String>,
    /// How many fingers are enrolled (templates never leave the lock).
    #[serde(default)]
    pub fingers: u8,
}

fn owner() -> String {
    UserKind::Owner.as_str().into()
}

fn yes() -> bool {
    true
}

/// Why a provisioning file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// Unreadable.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a JSON list of users.
    #[error("{} is not a provisioning file: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        source: serde_json::Error,
    },
    /// A user's value is not valid.
    #[error("user {user}: {source}")]
    Value {
        /// The user's number in the file.
        user: u16,
        /// What is wrong.
        source: InputError,
    },
    /// A user's date is not valid.
    #[error("user {user}: {source}")]
    Date {
        /// The user's number in the file.
        user: u16,
        /// What is wrong.
        source: TimeError,
    },
}

/// Reads a provisioning file.
pub fn load(path: &Path) -> Result<Vec<ProvisionedUser>, ProvisionError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ProvisionError::Read { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text)
        .map_err(|source| ProvisionError::Parse { path: path.to_path_buf(), source })
}

impl ProvisionedUser {
    /// The user's rules as the lock would hold them; dates without an offset are the lock's
    /// local time by `zone`, as typed to `user add`.
    pub fn spec(&self, zone: &TimeZoneRule) -> Result<UserSpec, ProvisionError> {
        let value = |source| ProvisionError::Value { user: self.user, source };
        let dates = Dates::parse(self.valid_from.as_deref(), self.valid_until.as_deref())
            .map_err(|source| ProvisionError::Date { user: self.user, source })?;
        let (valid_from, valid_until) = dates.resolve(zone);
        let mut spec = UserSpec {
            name: input::user_name(&self.name).map_err(value)?,
            kind: UserKind::Owner,
            enabled: self.enabled,
            valid_from,
            valid_until,
            use_limit: self.use_limit,
            weekly: input::windows(&self.windows).map_err(value)?,
        };
        let kind = input::user_kind(&self.kind, self.expire_minutes).map_err(value)?;
        super::users::set_kind(&mut spec, kind);
        Ok(spec)
    }
}

/// The checksum a lock holding exactly `users` reports, once for each of `pin_keys` (PINs
/// enter it keyed by the PIN key, which comes from the installer key the lock was claimed
/// with: the site key or one of its predecessors). `zone` is the lock's time zone rule.
pub fn expected_checksums(
    users: &[ProvisionedUser],
    pin_keys: &[SecretKey],
    zone: &TimeZoneRule,
) -> Result<Vec<[u8; 16]>, ProvisionError> {
    let specs = users.iter().map(|u| u.spec(zone)).collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for key in pin_keys {
        let mut sum = Checksum::new();
        for (u, spec) in users.iter().zip(&specs) {
            let value = |source| ProvisionError::Value { user: u.user, source };
            sum.add_user(u.user, spec);
            if let Some(pin) = &u.pin {
                let digest = pin_digest(key, input::pin(pin).map_err(value)?.as_str());
                sum.add_credential(u.user, ChecksumCredential::Pin(&digest));
            }
            for card in &u.cards {
                sum.add_credential(
                    u.user,
                    ChecksumCredential::Card(&input::card_uid(card).map_err(value)?),
                );
            }
            for phone in &u.phones {
                sum.add_credential(
                    u.user,
                    ChecksumCredential::Phone(&input::phone_key(phone).map_err(value)?),
                );
            }
            for _ in 0..u.fingers {
                sum.add_credential(u.user, ChecksumCredential::Fingerprint);
            }
        }
        out.push(sum.digest());
    }
    Ok(out)
}

pub mod apply;
pub mod file;
pub mod plan;

/// A site file (TOML) describing `users` as the lock holds them, with no secret: a PIN is
/// `pin = "keep"` (the lock never gives one back), cards and phones as the installer sees
/// them, dates in UTC, fingers as a count (they are enrolled at the lock).
pub fn export(serial: &str, users: &[latchkey_protocol::User]) -> String {
    use latchkey_protocol::Credential;
    use std::fmt::Write as _;
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# latchkey site file, exported from lock {serial}: {} user(s).",
        users.len()
    );
    let _ = writeln!(out, "# No secrets: PINs are `keep` (the lock never gives one back).");
    for user in users {
        let spec = &user.spec;
        let _ = writeln!(out, "\n[[user]]");
        let _ = writeln!(out, "user = {}", user.id);
        let _ = writeln!(out, "name = {}", quote(&spec.name));
        let _ = writeln!(out, "kind = {}", quote(spec.kind.as_str()));
        if let UserKind::Expiring { minutes } = spec.kind {
            let _ = writeln!(out, "minutes = {minutes}");
        }
        if !spec.enabled {
            let _ = writeln!(out, "enabled = false");
        }
        for (key, at) in [("valid_from", spec.valid_from), ("valid_until", spec.valid_until)] {
            if let Some(at) = at {
                let _ = writeln!(out, "{key} = {}", quote(&rfc3339(at)));
            }
        }
        if let Some(uses) = spec.use_limit.filter(|_| spec.kind != UserKind::OneTime) {
            let _ = writeln!(out, "uses = {uses}");
        }
        let list =
            |items: Vec<String>| items.iter().map(|i| quote(i)).collect::<Vec<_>>().join(", ");
        if !spec.weekly.is_empty() {
            let _ = writeln!(
                out,
                "windows = [{}]",
                list(spec.weekly.iter().map(|w| w.to_string()).collect())
            );
        }
        let mut cards = Vec::new();
        let mut phones = Vec::new();
        let mut fingers = 0;
        let mut pin = false;
        for credential in &user.credentials {
            match credential {
                Credential::Pin => pin = true,
                Credential::Card { uid } => cards.push(hex(uid)),
                Credential::Phone { public_key } => phones.push(hex(public_key)),
                Credential::Fingerprint { .. } => fingers += 1,
                Credential::CardFingerprint { .. } | Credential::PhoneFingerprint { .. } => {}
            }
        }
        if pin {
            let _ = writeln!(out, "pin = \"keep\"");
        }
        if !cards.is_empty() {
            let _ = writeln!(out, "cards = [{}]", list(cards));
        }
        if !phones.is_empty() {
            let _ = writeln!(out, "phones = [{}]", list(phones));
        }
        if fingers > 0 {
            let _ = writeln!(out, "fingers = {fingers}");
        }
    }
    out
}

/// Bytes as lower-case hex, as files and the lock's users show them.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A Unix time as RFC 3339 UTC, as a site file's dates take it (the raw number beyond 9999).
fn rfc3339(unix_seconds: u64) -> String {
    const YEAR_10000: u64 = 253_402_300_800;
    match std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(unix_seconds)) {
        Some(t) if unix_seconds < YEAR_10000 => humantime::format_rfc3339_seconds(t).to_string(),
        _ => format!("@{unix_seconds}"),
    }
}
