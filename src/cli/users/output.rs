//! Users and credentials as JSON and as text.

use latchkey_protocol::{Credential, TimeZoneRule, User, UserKind};
use serde_json::{Value, json};

use crate::display::{describe_local_date_time, format_unix, hex, user_kind_words};

fn credential_json(c: &Credential) -> Value {
    match c {
        Credential::Pin => json!({ "type": "pin" }),
        Credential::Card { uid } => json!({ "type": "card", "uid": hex(uid) }),
        Credential::Fingerprint { slot } => json!({ "type": "fingerprint", "slot": slot }),
        Credential::Phone { public_key } => {
            json!({ "type": "phone", "public_key": hex(public_key) })
        }
        // What a technician is shown instead of the UID or the key.
        Credential::CardFingerprint { fingerprint } => {
            json!({ "type": "card", "fingerprint": hex(fingerprint) })
        }
        Credential::PhoneFingerprint { fingerprint } => {
            json!({ "type": "phone", "fingerprint": hex(fingerprint) })
        }
    }
}

fn credential_text(c: &Credential) -> String {
    match c {
        Credential::Pin => "PIN (set)".into(),
        Credential::Card { uid } => format!("card {}", hex(uid)),
        Credential::Fingerprint { slot } => format!("fingerprint, slot {slot}"),
        Credential::Phone { public_key } => format!("phone {}…", &hex(public_key)[..16]),
        Credential::CardFingerprint { fingerprint } => {
            format!("card, fingerprint {} (the UID is shown to installers)", hex(fingerprint))
        }
        Credential::PhoneFingerprint { fingerprint } => {
            format!("phone, fingerprint {} (the key is shown to installers)", hex(fingerprint))
        }
    }
}

/// A user as JSON: the shape `user show --json` prints and `checksum --verify` reads.
pub(super) fn user_json(user: &User) -> Value {
    let s = &user.spec;
    json!({
        "user": user.id,
        "name": s.name.as_str(),
        "kind": s.kind.as_str(),
        "expire_minutes": match s.kind { UserKind::Expiring { minutes } => Some(minutes), _ => None },
        "enabled": s.enabled,
        "valid_from": s.valid_from.map(format_unix),
        "valid_until": s.valid_until.map(format_unix),
        "use_limit": s.use_limit,
        "uses_left": user.uses_left,
        "first_used": user.first_used.map(format_unix),
        "windows": s.weekly.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "credentials": user.credentials.iter().map(credential_json).collect::<Vec<_>>(),
    })
}

/// A user for a person; dates in the lock's local time by `zone`.
pub(super) fn print_user(user: &User, zone: &TimeZoneRule) {
    let s = &user.spec;
    let local = |t: u64| describe_local_date_time(t, zone);
    say!("user {}  {}", user.id, s.name);
    let kind = match s.kind {
        UserKind::Expiring { minutes } => format!("expiring, {minutes} min after first use"),
        other => user_kind_words(other).to_string(),
    };
    say!("  type      {kind}{}", if s.enabled { "" } else { " (DISABLED)" });
    if s.valid_from.is_some() || s.valid_until.is_some() {
        say!(
            "  valid     {} to {}",
            s.valid_from.map(local).unwrap_or_else(|| "any time".into()),
            s.valid_until.map(local).unwrap_or_else(|| "no end".into())
        );
    }
    for w in &s.weekly {
        say!("  window    {w} (lock local time)");
    }
    if let Some(limit) = s.use_limit {
        say!("  uses      {} of {limit} left", user.uses_left.unwrap_or(limit));
    }
    if let Some(first) = user.first_used {
        say!("  first use {}", local(first));
    }
    if user.credentials.is_empty() {
        say!(
            "  no credentials yet: `latchkey pin set {}`, `card add`, `finger enroll`, `phone add`",
            user.id
        );
    }
    for c in &user.credentials {
        say!("  {}", credential_text(c));
    }
}
