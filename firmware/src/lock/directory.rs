//! The lock's requests on users and credentials: add, change, read, list and remove users;
//! give and take PINs, cards, phone keys and fingers; type-wide clears; the checksum.
//!
//! Every change is in flash before it is answered, and every rule (ranges, weak PINs,
//! duplicates, unique names, capacities) is checked here, so it holds whatever client is on
//! the cable. A refusal says which field or limit it concerns ([`Refusal`]).

use latchkey_protocol::checksum::{self, Checksum};
use latchkey_protocol::crypto::SecretKey;
use latchkey_protocol::{
    CardUid, ChangeKind, ClearTarget, Credential, CredentialKind, Field, Limit, LogEntry, Pin,
    PinProblem, Refusal, Response, Role, Status, USERS_PAGE, UserSpec, UserSummary, UserWrite,
    check_pin, names_match,
};

use super::{Lock, capabilities};
use crate::hal::{Battery, Clock, Devices, FingerprintSensor, NorFlash, Rng};
use crate::policy::Via;
use crate::store::StoreError;
use crate::users::{self, CREDENTIALS_PER_USER, MAX_USERS, StoredCredential, StoredUser};

/// A change's outcome: done, or refused with the reason.
pub(super) type Outcome = Result<(), Refusal>;

/// The refusal a store failure is answered with: a full region is `ResourceExhausted`
/// ([`Limit::Flash`]), anything else `Failure`.
pub(super) fn store_refusal(error: StoreError) -> Refusal {
    match error {
        StoreError::Full => Refusal::exhausted(Limit::Flash),
        _ => Refusal::new(Status::Failure),
    }
}

/// One bit per user number, `1..=MAX_USERS`.
struct UserSet([u8; (MAX_USERS as usize).div_ceil(8) + 1]);

impl UserSet {
    const fn new() -> Self {
        Self([0; (MAX_USERS as usize).div_ceil(8) + 1])
    }

    fn insert(&mut self, id: u16) {
        if let Some(byte) = self.0.get_mut(usize::from(id / 8)) {
            *byte |= 1 << (id % 8);
        }
    }

    fn contains(&self, id: u16) -> bool {
        self.0.get(usize::from(id / 8)).is_some_and(|byte| byte & (1 << (id % 8)) != 0)
    }

    /// The numbers in the set, lowest first.
    fn ids(&self) -> impl Iterator<Item = u16> + '_ {
        (1..=MAX_USERS).filter(|&id| self.contains(id))
    }
}

/// Whether `credential` is of `kind`.
fn is_kind(credential: &StoredCredential, kind: CredentialKind) -> bool {
    matches!(
        (credential, kind),
        (StoredCredential::Pin(_), CredentialKind::Pin)
            | (StoredCredential::Card(_), CredentialKind::Card)
            | (StoredCredential::Fingerprint(_), CredentialKind::Fingerprint)
            | (StoredCredential::Phone(_), CredentialKind::Phone)
    )
}

/// How the log records the removal of one credential of `kind`.
fn removed_kind(kind: CredentialKind) -> ChangeKind {
    match kind {
        CredentialKind::Pin => ChangeKind::PinRemoved,
        CredentialKind::Card => ChangeKind::CardRemoved,
        CredentialKind::Fingerprint => ChangeKind::FingerRemoved,
        CredentialKind::Phone => ChangeKind::PhoneRemoved,
    }
}

impl<F: NorFlash, C: Clock, B: Battery, R: Rng, D: Devices> Lock<F, C, B, R, D> {
    /// User `id` from flash: `NotFound` ([`Field::UserId`]) if the slot is empty or out of
    /// range.
    pub(super) fn load_user(&mut self, id: u16) -> Result<StoredUser, Refusal> {
        let missing = Refusal::not_found(Field::UserId);
        if !(1..=MAX_USERS).contains(&id) {
            return Err(missing);
        }
        self.store.user(id).map_err(store_refusal)?.ok_or(missing)
    }

    /// Writes user `id`; `Ok` once in flash.
    pub(super) fn write_user(&mut self, id: u16, user: &StoredUser) -> Outcome {
        self.store.save_user(id, user).map_err(store_refusal)?;
        self.note_store_write();
        Ok(())
    }

    /// The user holding `credential`, if any (the first found: the lock never lets two hold
    /// one).
    pub(super) fn holder(
        &mut self,
        credential: &StoredCredential,
    ) -> Result<Option<(u16, StoredUser)>, StoreError> {
        let mut found = None;
        self.store.for_each_user(|id, user| {
            if found.is_none() && user.holds(credential) {
                found = Some((id, user.clone()));
            }
        })?;
        Ok(found)
    }

    /// The numbers in use, and the lowest-numbered user other than `except` whose name
    /// matches `name` ([`names_match`]).
    fn scan_users(&mut self, name: &str, except: u16) -> Result<(UserSet, Option<u16>), Refusal> {
        let mut used = UserSet::new();
        let mut same_name = None;
        self.store
            .for_each_user(|id, user| {
                used.insert(id);
                let lower = same_name.is_none_or(|found| id < found);
                if id != except && lower && names_match(&user.spec.name, name) {
                    same_name = Some(id);
                }
            })
            .map_err(store_refusal)?;
        Ok((used, same_name))
    }

    /// `PutUser`. The order of refusals: the number, the spec's rules, the slot (`Occupied`,
    /// or `NotFound` to modify), the name (`Duplicate`), room.
    #[inline(never)]
    pub(super) fn put_user(&mut self, id: u16, write: UserWrite, spec: &UserSpec) -> Response {
        match self.try_put_user(id, write, spec) {
            Ok((id, user)) => Response::User(user.to_user(id)),
            Err(refusal) => Response::Refused(refusal),
        }
    }

    // Not inlined, as `try_clear`.
    #[inline(never)]
    fn try_put_user(
        &mut self,
        id: u16,
        write: UserWrite,
        spec: &UserSpec,
    ) -> Result<(u16, StoredUser), Refusal> {
        if id > MAX_USERS {
            return Err(Refusal::exhausted(Limit::UserIdRange).with_field(Field::UserId));
        }
        if id == 0 && write == UserWrite::Modify {
            return Err(Refusal::invalid(Field::UserId));
        }
        spec.check().map_err(Refusal::invalid)?;
        let existing = match id {
            0 => None,
            id => self.store.user(id).map_err(store_refusal)?,
        };
        // A modify that keeps the name is not checked against the others, so users who
        // shared a name before names were unique can still be edited.
        let (user, check_name) = match (write, existing) {
            // A resend of the same add converges: it is already there.
            (UserWrite::Add, Some(user)) if &user.spec == spec => return Ok((id, user)),
            (UserWrite::Add, Some(_)) => return Err(Refusal::new(Status::Occupied)),
            (UserWrite::Add, None) => (StoredUser::new(spec.clone()), true),
            (UserWrite::Modify, None) => return Err(Refusal::not_found(Field::UserId)),
            (UserWrite::Modify, Some(user)) if &user.spec == spec => return Ok((id, user)),
            (UserWrite::Modify, Some(mut user)) => {
                let renamed = !names_match(&user.spec.name, &spec.name);
                // Credentials and counters stay; a new limit starts a new allowance.
                if users::use_limit(spec) != users::use_limit(&user.spec) {
                    user.uses_left = users::use_limit(spec);
                }
                user.spec = spec.clone();
                (user, renamed)
            }
        };
        // Every `Add` (so every id 0) checks the name, in the same pass that finds a free slot.
        let id = if check_name {
            let (used, same_name) = self.scan_users(&spec.name, id)?;
            if let Some(other) = same_name {
                return Err(Refusal::duplicate(Field::UserName, Some(other)));
            }
            match id {
                0 => (1..=MAX_USERS)
                    .find(|&id| !used.contains(id))
                    .ok_or(Refusal::exhausted(Limit::UserSlots))?,
                id => id,
            }
        } else {
            id
        };
        self.write_user(id, &user)?;
        Ok((id, user))
    }

    /// A user and their credentials. A technician sees card UIDs and phone keys only as
    /// keyed fingerprints: reading is their job, copying a card is not.
    #[inline(never)]
    pub(super) fn get_user(&mut self, id: u16, via: Via) -> Response {
        let mut user = match self.load_user(id) {
            Ok(user) => user.to_user(id),
            Err(refusal) => return Response::Refused(refusal),
        };
        if via == Via::Session(Role::Technician) {
            let key = self.pin_key.clone().unwrap_or(SecretKey([0; 32]));
            for credential in &mut user.credentials {
                let seen = match &*credential {
                    Credential::Card { uid } => Credential::CardFingerprint {
                        fingerprint: checksum::credential_fingerprint(&key, uid),
                    },
                    Credential::Phone { public_key } => Credential::PhoneFingerprint {
                        fingerprint: checksum::credential_fingerprint(&key, public_key),
                    },
                    _ => continue,
                };
                *credential = seen;
            }
        }
        Response::User(user)
    }

    #[inline(never)]
    pub(super) fn list_users(&mut self, after: u16) -> Response {
        let mut page = heapless::Vec::<UserSummary, USERS_PAGE>::new();
        let mut more = false;
        let result = self.store.for_each_user(|id, user| {
            if id <= after {
                return;
            }
            // Keep the USERS_PAGE lowest numbers above `after`, in order.
            if page.is_full() {
                more = true;
                match page.last() {
                    Some(last) if id < last.id => {
                        page.pop();
                    }
                    _ => return,
                }
            }
            let at = page.iter().position(|s| s.id > id).unwrap_or(page.len());
            // Room was made above.
            let _ = page.insert(at, user.summary(id));
        });
        match result {
            Ok(()) => Response::Users { users: page, more },
            Err(e) => Response::Refused(store_refusal(e)),
        }
    }

    #[inline(never)]
    pub(super) fn remove_user(&mut self, id: u16) -> Outcome {
        let user = self.load_user(id)?;
        self.store.remove_user(id).map_err(store_refusal)?;
        self.note_store_write();
        // After the flash: a template left by a cut here matches nobody and its slot is free.
        for credential in &user.credentials {
            if let StoredCredential::Fingerprint(slot) = credential {
                let _ = self.devices.fingerprint().delete_template(*slot);
            }
        }
        self.user_removed(id);
        Ok(())
    }

    /// The number of the user holding `credential`, if any: [`Self::holder`] without a copy of
    /// the user (a user is 464 bytes of the MCU's stack).
    #[inline(never)]
    fn holder_id(&mut self, credential: &StoredCredential) -> Result<Option<u16>, StoreError> {
        let mut found = None;
        self.store.for_each_user(|id, user| {
            if found.is_none() && user.holds(credential) {
                found = Some(id);
            }
        })?;
        Ok(found)
    }

    /// Whether user `id` exists (`NotFound` if not), in a frame of its own so the user read
    /// does not stay on the stack.
    #[inline(never)]
    fn check_user(&mut self, id: u16) -> Outcome {
        self.load_user(id).map(drop)
    }

    /// Adds `credential` to user `id`, refusing one another user holds (`Duplicate` on
    /// `field`, naming that user unless it is a PIN); one the user already holds is done at
    /// once. `replace` picks a credential of the user's to replace instead of adding (their
    /// PIN).
    #[inline(never)]
    fn give(
        &mut self,
        id: u16,
        credential: StoredCredential,
        field: Field,
        replace: impl Fn(&StoredCredential) -> bool,
    ) -> Outcome {
        // Who holds it first, before this user is read: one user on the stack at a time.
        let holder = self.holder_id(&credential).map_err(store_refusal)?;
        let mut user = self.load_user(id)?;
        match holder {
            // Who holds a PIN is never told: it would tell the installer that user's PIN.
            Some(holder) if holder != id => {
                let existing = (field != Field::Pin).then_some(holder);
                return Err(Refusal::duplicate(field, existing));
            }
            Some(_) => return Ok(()),
            None => {}
        }
        match user.credentials.iter().position(replace) {
            Some(at) => user.credentials[at] = credential,
            None => user
                .credentials
                .push(credential)
                .map_err(|_| Refusal::exhausted(Limit::UserCredentials))?,
        }
        self.write_user(id, &user)
    }

    /// Takes a credential matching `which` from user `id`: `NotFound` on `field` if they hold
    /// none.
    fn take(
        &mut self,
        id: u16,
        field: Field,
        which: impl Fn(&StoredCredential) -> bool,
    ) -> Outcome {
        let mut user = self.load_user(id)?;
        let at = user.credentials.iter().position(which).ok_or(Refusal::not_found(field))?;
        user.credentials.remove(at);
        self.write_user(id, &user)
    }

    pub(super) fn set_pin(&mut self, id: u16, pin: &Pin) -> Outcome {
        self.check_user(id)?;
        check_pin(pin, &capabilities(self.identity.max_in_flight)).map_err(
            |problem| match problem {
                PinProblem::Weak => Refusal::at(Status::Weak, Field::Pin),
                PinProblem::NotDigits => Refusal::invalid(Field::PinDigits),
                PinProblem::TooShort | PinProblem::TooLong => Refusal::invalid(Field::PinLength),
            },
        )?;
        let Some(pin_key) = &self.pin_key else {
            return Err(Refusal::new(Status::Failure));
        };
        let digest = checksum::pin_digest(pin_key, pin);
        let pin = StoredCredential::Pin(digest);
        self.give(id, pin, Field::Pin, |c| matches!(c, StoredCredential::Pin(_)))
    }

    #[inline(never)]
    pub(super) fn remove_pin(&mut self, id: u16) -> Outcome {
        self.take(id, Field::Pin, |c| matches!(c, StoredCredential::Pin(_)))
    }

    #[inline(never)]
    pub(super) fn add_card(&mut self, id: u16, uid: &CardUid) -> Outcome {
        if !users::card_uid_is_valid(uid) {
            return Err(Refusal::invalid(Field::CardUid));
        }
        self.give(id, StoredCredential::Card(uid.clone()), Field::CardUid, |_| false)
    }

    #[inline(never)]
    pub(super) fn remove_card(&mut self, id: u16, uid: &CardUid) -> Outcome {
        self.take(id, Field::CardUid, |c| matches!(c, StoredCredential::Card(u) if u == uid))
    }

    #[inline(never)]
    pub(super) fn add_phone(&mut self, id: u16, public_key: &[u8; 32]) -> Outcome {
        // A key that is no curve point could never verify a signature.
        if ed25519_dalek::VerifyingKey::from_bytes(public_key).is_err() {
            return Err(Refusal::invalid(Field::PhoneKey));
        }
        self.give(id, StoredCredential::Phone(*public_key), Field::PhoneKey, |_| false)
    }

    #[inline(never)]
    pub(super) fn remove_phone(&mut self, id: u16, public_key: &[u8; 32]) -> Outcome {
        self.take(
            id,
            Field::PhoneKey,
            |c| matches!(c, StoredCredential::Phone(k) if k == public_key),
        )
    }

    #[inline(never)]
    pub(super) fn remove_finger(&mut self, id: u16, slot: u8) -> Outcome {
        self.take(
            id,
            Field::FingerSlot,
            |c| matches!(c, StoredCredential::Fingerprint(s) if *s == slot),
        )?;
        let _ = self.devices.fingerprint().delete_template(slot);
        Ok(())
    }

    /// `Clear`: removes every credential of a kind, or every user, one user at a time, each
    /// in flash before the next and logged as its single removal would be (as `role`). A
    /// cut or a flash fault part-way leaves the users done so far done: a resend finishes.
    #[inline(never)]
    pub(super) fn clear(&mut self, what: ClearTarget, role: Role) -> Response {
        match self.try_clear(what, role) {
            Ok(removed) => Response::Cleared { removed },
            Err(refusal) => Response::Refused(refusal),
        }
    }

    // Not inlined: its user buffer stays off the stack of every other request (the
    // micro:bit's stack budget is measured on the common ones).
    #[inline(never)]
    fn try_clear(&mut self, what: ClearTarget, role: Role) -> Result<u16, Refusal> {
        let kind = what.credential();
        // Who holds something to remove, found first: the store cannot be written while it
        // is being read.
        let mut holders = UserSet::new();
        self.store
            .for_each_user(|id, user| {
                if kind.is_none_or(|kind| user.credentials.iter().any(|c| is_kind(c, kind))) {
                    holders.insert(id);
                }
            })
            .map_err(store_refusal)?;
        let mut removed = 0u16;
        for id in holders.ids() {
            let Some(kind) = kind else {
                self.remove_user(id)?;
                removed = removed.saturating_add(1);
                self.log(LogEntry::Change { what: ChangeKind::UserRemoved, role, user: Some(id) });
                continue;
            };
            let mut user = self.load_user(id)?;
            let mut count = 0u16;
            let mut slots = heapless::Vec::<u8, CREDENTIALS_PER_USER>::new();
            user.credentials.retain(|c| {
                if !is_kind(c, kind) {
                    return true;
                }
                count += 1;
                if let StoredCredential::Fingerprint(slot) = c {
                    // At most as many as the user held: it fits.
                    let _ = slots.push(*slot);
                }
                false
            });
            self.write_user(id, &user)?;
            // After the flash, as for a single removal.
            for slot in slots {
                let _ = self.devices.fingerprint().delete_template(slot);
            }
            for _ in 0..count {
                self.log(LogEntry::Change { what: removed_kind(kind), role, user: Some(id) });
            }
            removed = removed.saturating_add(count);
        }
        Ok(removed)
    }

    #[inline(never)]
    pub(super) fn checksum(&mut self) -> Response {
        let mut sum = Checksum::new();
        let result = self.store.for_each_user(|id, user| {
            sum.add_user(id, &user.spec);
            for credential in &user.credentials {
                sum.add_credential(id, credential.checksum());
            }
        });
        match result {
            Ok(()) => Response::Checksum {
                users: sum.users(),
                credentials: sum.credentials(),
                digest: sum.digest(),
            },
            Err(e) => Response::Refused(store_refusal(e)),
        }
    }

    /// Whether user `id` has room for one more credential.
    pub(super) fn has_room(user: &StoredUser) -> bool {
        user.credentials.len() < CREDENTIALS_PER_USER
    }
}
