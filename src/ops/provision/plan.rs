//! The difference between a site file and a lock: per user, add, change, remove or
//! unchanged, and the requests that make the lock hold the file. Read-only.

use std::collections::HashMap;

use latchkey_protocol::checksum::{Checksum, ChecksumCredential, pin_digest};
use latchkey_protocol::crypto::SecretKey;
use latchkey_protocol::{
    CardUid, Credential, Pin, Request, Response, TimeZoneRule, User, UserSpec,
};

use super::file::{PinEntry, Row, SiteFile};
use crate::link::{Client, ClientError, Transport};

/// What happens to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// In the file, not on the lock.
    Add,
    /// On both, and something differs.
    Change,
    /// On the lock, not in the file, and `--prune` given.
    Remove,
    /// On both, the same.
    Unchanged,
    /// On the lock, not in the file, left alone (no `--prune`).
    Unmanaged,
}

impl Change {
    /// The machine name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Change => "change",
            Self::Remove => "remove",
            Self::Unchanged => "unchanged",
            Self::Unmanaged => "unmanaged",
        }
    }
}

/// One request of a plan. PINs are named by where they come from, never shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Remove the user with their credentials.
    RemoveUser,
    /// Write the user's rules (`add`: a new user; else change one).
    PutUser {
        /// A new user.
        add: bool,
        /// The rules.
        spec: UserSpec,
    },
    /// Give the user a PIN.
    SetPin(PinEntry),
    /// Take the user's PIN away.
    RemovePin,
    /// Give a card.
    AddCard(CardUid),
    /// Take a card.
    RemoveCard(CardUid),
    /// Give a phone key.
    AddPhone([u8; 32]),
    /// Take a phone key.
    RemovePhone([u8; 32]),
}

impl Step {
    /// What it does, in a few words (no secret).
    pub fn describe(&self) -> String {
        let hex = super::hex;
        match self {
            Self::RemoveUser => "remove the user".into(),
            Self::PutUser { add: true, .. } => "add the user".into(),
            Self::PutUser { add: false, .. } => "change the user's rules".into(),
            Self::SetPin(PinEntry::Given(_)) => "set the PIN".into(),
            Self::SetPin(PinEntry::Generate { length }) => {
                format!("set a generated {length}-digit PIN")
            }
            Self::SetPin(PinEntry::Keep) => "keep the PIN".into(),
            Self::RemovePin => "remove the PIN".into(),
            Self::AddCard(uid) => format!("add card {}", hex(uid)),
            Self::RemoveCard(uid) => format!("remove card {}", hex(uid)),
            Self::AddPhone(key) => format!("add phone {}…", hex(&key[..4])),
            Self::RemovePhone(key) => format!("remove phone {}…", hex(&key[..4])),
        }
    }

    /// The phase it runs in: removals first (freeing PINs, cards and room), then users'
    /// rules, then credentials onto users that exist.
    pub fn phase(&self) -> u8 {
        match self {
            Self::RemoveUser | Self::RemovePin | Self::RemoveCard(_) | Self::RemovePhone(_) => 0,
            Self::PutUser { .. } => 1,
            Self::SetPin(_) | Self::AddCard(_) | Self::AddPhone(_) => 2,
        }
    }
}

/// What happens to one user.
#[derive(Debug, Clone)]
pub struct UserPlan {
    /// User number.
    pub user: u16,
    /// Name (the file's, or the lock's for a user not in the file).
    pub name: String,
    /// The file's line, if the user is in it.
    pub line: Option<usize>,
    /// Add, change, remove, unchanged.
    pub change: Change,
    /// The requests, in order.
    pub steps: Vec<Step>,
    /// What the plan cannot do or could not compare (fingers, credentials a technician key
    /// cannot see).
    pub notes: Vec<String>,
}

/// The whole difference.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every user of the file and of the lock, by number.
    pub users: Vec<UserPlan>,
    /// Whether PINs on the lock were compared with the file (through the checksum, with the
    /// site key); `false`: only whether a user has one.
    pub pins_compared: bool,
}

impl Plan {
    /// Users with something to do.
    pub fn changes(&self) -> impl Iterator<Item = &UserPlan> {
        self.users.iter().filter(|u| !u.steps.is_empty())
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.changes().next().is_none()
    }

    /// How many users each change concerns.
    pub fn count(&self, change: Change) -> usize {
        self.users.iter().filter(|u| u.change == change).count()
    }
}

/// What the host knows to compute with: the lock's time zone, the PIN keys (site key only:
/// the key the lock was claimed with and its predecessors), and PINs generated earlier (the
/// PIN file).
#[derive(Debug, Clone)]
pub struct Knowledge {
    /// The lock's time zone.
    pub zone: TimeZoneRule,
    /// PIN keys to try, current first; empty with a technician key.
    pub pin_keys: Vec<SecretKey>,
    /// Generated PINs, by user.
    pub generated: HashMap<u16, Pin>,
}

impl Knowledge {
    /// The PIN `row` should hold, if known.
    pub fn pin_of(&self, row: &Row) -> Option<Pin> {
        match &row.pin {
            Some(PinEntry::Given(pin)) => Some(pin.clone()),
            Some(PinEntry::Generate { .. }) => self.generated.get(&row.user).cloned(),
            Some(PinEntry::Keep) | None => None,
        }
    }
}

/// Every user on the lock with their credentials, read with up to the window in flight.
pub fn read_lock<T: Transport>(client: &mut Client<T>) -> Result<Vec<User>, ClientError> {
    let ids: Vec<u16> = client.users()?.iter().map(|u| u.id).collect();
    let requests: Vec<Request> = ids.iter().map(|&id| Request::GetUser { id }).collect();
    let mut users = Vec::with_capacity(ids.len());
    for answer in client.pipeline(&requests)? {
        match answer {
            Ok(Response::User(user)) => users.push(user),
            // Removed between the list and the read: not there.
            Err(ClientError::Refused(r)) if r.status == latchkey_protocol::Status::NotFound => {}
            Ok(other) => return Err(ClientError::Unexpected(format!("{other:?}"))),
            Err(e) => return Err(e),
        }
    }
    Ok(users)
}

fn has_pin(user: &User) -> bool {
    user.credentials.iter().any(|c| matches!(c, Credential::Pin))
}

fn cards(user: &User) -> Vec<CardUid> {
    user.credentials
        .iter()
        .filter_map(|c| match c {
            Credential::Card { uid } => Some(uid.clone()),
            _ => None,
        })
        .collect()
}

fn phones(user: &User) -> Vec<[u8; 32]> {
    user.credentials
        .iter()
        .filter_map(|c| match c {
            Credential::Phone { public_key } => Some(*public_key),
            _ => None,
        })
        .collect()
}

fn fingers(user: &User) -> usize {
    user.credentials.iter().filter(|c| matches!(c, Credential::Fingerprint { .. })).count()
}

/// Whether the credentials are shown in clear (an installer session) or as keyed
/// fingerprints (a technician's).
fn hidden(user: &User) -> bool {
    user.credentials.iter().any(|c| {
        matches!(c, Credential::CardFingerprint { .. } | Credential::PhoneFingerprint { .. })
    })
}

/// The checksum items the lock holds apart from PINs, from what it reported.
fn lock_items(users: &[User]) -> Checksum {
    let mut sum = Checksum::new();
    for user in users {
        sum.add_user(user.id, &user.spec);
        for credential in &user.credentials {
            match credential {
                Credential::Card { uid } => {
                    sum.add_credential(user.id, ChecksumCredential::Card(uid))
                }
                Credential::Phone { public_key } => {
                    sum.add_credential(user.id, ChecksumCredential::Phone(public_key))
                }
                Credential::Fingerprint { .. } => {
                    sum.add_credential(user.id, ChecksumCredential::Fingerprint)
                }
                _ => {}
            }
        }
    }
    sum
}

/// Whether every PIN on the lock is the one the file (or the PIN file) gives its user:
/// `Some(true)` when the lock's checksum says so, `Some(false)` when it says some differ,
/// `None` when it cannot tell (a technician key, or a PIN on the lock the host does not
/// know). The checksum is a sum of one term per item, so the host adds the lock's own
/// users and credentials to the PINs it expects and compares: no PIN is read.
fn pins_match(
    file: &SiteFile,
    lock: &[User],
    knows: &Knowledge,
    digest: &[u8; 16],
) -> Option<bool> {
    if knows.pin_keys.is_empty() || lock.iter().any(hidden) {
        return None;
    }
    let rows: HashMap<u16, &Row> = file.rows.iter().map(|r| (r.user, r)).collect();
    let mut expected = Vec::new();
    for user in lock.iter().filter(|u| has_pin(u)) {
        expected.push((user.id, knows.pin_of(rows.get(&user.id)?)?));
    }
    let matches = knows.pin_keys.iter().any(|key| {
        let mut sum = lock_items(lock);
        for (id, pin) in &expected {
            sum.add_credential(*id, ChecksumCredential::Pin(&pin_digest(key, pin.as_str())));
        }
        &sum.digest() == digest
    });
    Some(matches)
}

/// The plan that makes `lock` (its users as read, its checksum `digest`) hold `file`.
/// `prune`: remove users the file does not name.
pub fn plan(
    file: &SiteFile,
    lock: &[User],
    digest: &[u8; 16],
    knows: &Knowledge,
    prune: bool,
) -> Plan {
    let pins = pins_match(file, lock, knows, digest);
    let by_id: HashMap<u16, &User> = lock.iter().map(|u| (u.id, u)).collect();
    let mut users = Vec::new();
    for row in &file.rows {
        let spec = row.spec(&knows.zone);
        let mut steps = Vec::new();
        let mut notes = Vec::new();
        let Some(have) = by_id.get(&row.user) else {
            steps.push(Step::PutUser { add: true, spec });
            steps.extend(row.pin.clone().filter(|p| *p != PinEntry::Keep).map(Step::SetPin));
            if row.pin == Some(PinEntry::Keep) {
                notes.push("pin = \"keep\", and a new user has no PIN to keep: give one".into());
            }
            steps.extend(row.cards.iter().cloned().map(Step::AddCard));
            steps.extend(row.phones.iter().copied().map(Step::AddPhone));
            if let Some(n) = row.fingers.filter(|n| *n > 0) {
                notes.push(format!(
                    "{n} finger(s) to enroll at the lock (`latchkey finger enroll`)"
                ));
            }
            users.push(UserPlan {
                user: row.user,
                name: row.name.to_string(),
                line: Some(row.line),
                change: Change::Add,
                steps,
                notes,
            });
            continue;
        };
        if have.spec != spec {
            steps.push(Step::PutUser { add: false, spec });
        }
        match (&row.pin, has_pin(have)) {
            (None, true) => steps.push(Step::RemovePin),
            (Some(PinEntry::Keep), true) => {}
            (Some(PinEntry::Keep), false) => {
                notes.push("pin = \"keep\", and the user has no PIN on the lock".into())
            }
            (Some(entry), false) => steps.push(Step::SetPin(entry.clone())),
            // Kept: the lock holds a PIN it drew, which only the PIN file knows.
            (Some(PinEntry::Generate { .. }), true) => {}
            (Some(entry @ PinEntry::Given(_)), true) => match pins {
                Some(true) => {}
                Some(false) => steps.push(Step::SetPin(entry.clone())),
                None if knows.pin_keys.is_empty() => {
                    notes.push("PIN set; whether it is the file's needs the site key".into())
                }
                // Some PIN on the lock is unknown here: setting it again is the only way
                // to be sure.
                None => steps.push(Step::SetPin(entry.clone())),
            },
            (None, false) => {}
        }
        if hidden(have) {
            let (c, p) = (row.cards.len(), row.phones.len());
            let have_c = have
                .credentials
                .iter()
                .filter(|c| matches!(c, Credential::CardFingerprint { .. }))
                .count();
            let have_p = have
                .credentials
                .iter()
                .filter(|c| matches!(c, Credential::PhoneFingerprint { .. }))
                .count();
            if (c, p) != (have_c, have_p) {
                notes.push(format!(
                    "the lock holds {have_c} card(s) and {have_p} phone(s), the file {c} and {p}; \
                     which ones needs the site key"
                ));
            }
        } else {
            let have_cards = cards(have);
            let have_phones = phones(have);
            steps.extend(
                have_cards.iter().filter(|c| !row.cards.contains(c)).cloned().map(Step::RemoveCard),
            );
            steps.extend(
                have_phones
                    .iter()
                    .filter(|p| !row.phones.contains(p))
                    .copied()
                    .map(Step::RemovePhone),
            );
            steps.extend(
                row.cards.iter().filter(|c| !have_cards.contains(c)).cloned().map(Step::AddCard),
            );
            steps.extend(
                row.phones.iter().filter(|p| !have_phones.contains(p)).copied().map(Step::AddPhone),
            );
        }
        let enrolled = fingers(have);
        if let Some(n) = row.fingers
            && usize::from(n) != enrolled
        {
            notes.push(format!(
                "{enrolled} finger(s) enrolled, the file says {n}: enroll or remove them at the lock"
            ));
        }
        let change = if steps.is_empty() { Change::Unchanged } else { Change::Change };
        users.push(UserPlan {
            user: row.user,
            name: row.name.to_string(),
            line: Some(row.line),
            change,
            steps,
            notes,
        });
    }
    let in_file: Vec<u16> = file.rows.iter().map(|r| r.user).collect();
    for have in lock.iter().filter(|u| !in_file.contains(&u.id)) {
        let (change, steps) = if prune {
            (Change::Remove, vec![Step::RemoveUser])
        } else {
            (Change::Unmanaged, vec![])
        };
        users.push(UserPlan {
            user: have.id,
            name: have.spec.name.to_string(),
            line: None,
            change,
            steps,
            notes: Vec::new(),
        });
    }
    users.sort_by_key(|u| u.user);
    Plan { users, pins_compared: pins.is_some() }
}

/// The checksum a lock holding exactly `file` reports, once per PIN key; fingers are counted
/// as the lock holds them (the file cannot enroll one). `None` when a PIN is not known
/// (generated, and not in the PIN file) or there is no PIN key.
pub fn expected_digests(
    file: &SiteFile,
    lock: &[User],
    knows: &Knowledge,
) -> Option<Vec<[u8; 16]>> {
    if knows.pin_keys.is_empty() {
        return None;
    }
    let by_id: HashMap<u16, &User> = lock.iter().map(|u| (u.id, u)).collect();
    let mut pins = Vec::new();
    for row in &file.rows {
        if row.pin.is_some() {
            pins.push((row.user, knows.pin_of(row)?));
        }
    }
    Some(
        knows
            .pin_keys
            .iter()
            .map(|key| {
                let mut sum = Checksum::new();
                for row in &file.rows {
                    sum.add_user(row.user, &row.spec(&knows.zone));
                    for card in &row.cards {
                        sum.add_credential(row.user, ChecksumCredential::Card(card));
                    }
                    for phone in &row.phones {
                        sum.add_credential(row.user, ChecksumCredential::Phone(phone));
                    }
                    let enrolled = by_id.get(&row.user).map(|u| fingers(u)).unwrap_or(0);
                    for _ in 0..enrolled {
                        sum.add_credential(row.user, ChecksumCredential::Fingerprint);
                    }
                }
                for (id, pin) in &pins {
                    sum.add_credential(
                        *id,
                        ChecksumCredential::Pin(&pin_digest(key, pin.as_str())),
                    );
                }
                sum.digest()
            })
            .collect(),
    )
}
