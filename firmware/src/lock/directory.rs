//! The lock's requests on users and credentials: add, change, read, list and remove users;
//! give and take PINs, cards, phone keys and fingers; the checksum.
//!
//! Every change is in flash before it is answered, and every rule (ranges, weak PINs,
//! duplicates, capacities) is checked here, so it holds whatever client is on the cable.

use latchkey_protocol::checksum::{self, Checksum};
use latchkey_protocol::{
    CardUid, Pin, PinProblem, Response, Status, USERS_PAGE, UserSpec, UserSummary, UserWrite,
    check_pin,
};

use super::{Lock, capabilities};
use crate::hal::{Battery, Clock, Devices, FingerprintSensor, NorFlash, Rng};
use crate::store::StoreError;
use crate::users::{self, CREDENTIALS_PER_USER, MAX_USERS, StoredCredential, StoredUser};

/// The status a store failure is answered with: a full region is `ResourceExhausted`.
pub(super) fn store_status(error: StoreError) -> Status {
    match error {
        StoreError::Full => Status::ResourceExhausted,
        _ => Status::Failure,
    }
}

impl<F: NorFlash, C: Clock, B: Battery, R: Rng, D: Devices> Lock<F, C, B, R, D> {
    /// User `id` from flash: `NotFound` if the slot is empty or out of range.
    pub(super) fn load_user(&mut self, id: u16) -> Result<StoredUser, Status> {
        if !(1..=MAX_USERS).contains(&id) {
            return Err(Status::NotFound);
        }
        self.store.user(id).map_err(store_status)?.ok_or(Status::NotFound)
    }

    /// Writes user `id`; `Ok` once in flash.
    pub(super) fn write_user(&mut self, id: u16, user: &StoredUser) -> Result<(), Status> {
        self.store.save_user(id, user).map_err(store_status)?;
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

    pub(super) fn put_user(&mut self, id: u16, write: UserWrite, spec: &UserSpec) -> Response {
        if id == 0 {
            return Response::Status(Status::InvalidField);
        }
        if id > MAX_USERS {
            return Response::Status(Status::ResourceExhausted);
        }
        if !users::spec_is_valid(spec) {
            return Response::Status(Status::InvalidField);
        }
        let existing = match self.store.user(id) {
            Ok(existing) => existing,
            Err(e) => return Response::Status(store_status(e)),
        };
        let user = match (write, existing) {
            // A resend of the same add converges: it is already there.
            (UserWrite::Add, Some(user)) if &user.spec == spec => {
                return Response::User(user.to_user(id));
            }
            (UserWrite::Add, Some(_)) => return Response::Status(Status::Occupied),
            (UserWrite::Add, None) => StoredUser::new(spec.clone()),
            (UserWrite::Modify, None) => return Response::Status(Status::NotFound),
            (UserWrite::Modify, Some(user)) if &user.spec == spec => {
                return Response::User(user.to_user(id));
            }
            (UserWrite::Modify, Some(mut user)) => {
                // Credentials and counters stay; a new limit starts a new allowance.
                if users::use_limit(spec) != users::use_limit(&user.spec) {
                    user.uses_left = users::use_limit(spec);
                }
                user.spec = spec.clone();
                user
            }
        };
        match self.write_user(id, &user) {
            Ok(()) => Response::User(user.to_user(id)),
            Err(status) => Response::Status(status),
        }
    }

    pub(super) fn get_user(&mut self, id: u16) -> Response {
        match self.load_user(id) {
            Ok(user) => Response::User(user.to_user(id)),
            Err(status) => Response::Status(status),
        }
    }

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
            Err(e) => Response::Status(store_status(e)),
        }
    }

    pub(super) fn remove_user(&mut self, id: u16) -> Status {
        let user = match self.load_user(id) {
            Ok(user) => user,
            Err(status) => return status,
        };
        if let Err(e) = self.store.remove_user(id) {
            return store_status(e);
        }
        self.note_store_write();
        // After the flash: a template left by a cut here matches nobody and its slot is free.
        for credential in &user.credentials {
            if let StoredCredential::Fingerprint(slot) = credential {
                let _ = self.devices.fingerprint().delete_template(*slot);
            }
        }
        self.user_removed(id);
        Status::Success
    }

    /// Adds `credential` to user `id`, refusing one another user holds (`Duplicate`); one the
    /// user already holds is `Success` at once. `replace` picks a credential of the user's to
    /// replace instead of adding (their PIN).
    fn give(
        &mut self,
        id: u16,
        credential: StoredCredential,
        replace: impl Fn(&StoredCredential) -> bool,
    ) -> Status {
        let mut user = match self.load_user(id) {
            Ok(user) => user,
            Err(status) => return status,
        };
        match self.holder(&credential) {
            Ok(Some((holder, _))) if holder != id => return Status::Duplicate,
            Ok(Some(_)) => return Status::Success,
            Ok(None) => {}
            Err(e) => return store_status(e),
        }
        match user.credentials.iter().position(replace) {
            Some(at) => user.credentials[at] = credential,
            None => {
                if user.credentials.push(credential).is_err() {
                    return Status::ResourceExhausted;
                }
            }
        }
        match self.write_user(id, &user) {
            Ok(()) => Status::Success,
            Err(status) => status,
        }
    }

    /// Takes a credential matching `which` from user `id`: `NotFound` if they hold none.
    fn take(&mut self, id: u16, which: impl Fn(&StoredCredential) -> bool) -> Status {
        let mut user = match self.load_user(id) {
            Ok(user) => user,
            Err(status) => return status,
        };
        let Some(at) = user.credentials.iter().position(which) else {
            return Status::NotFound;
        };
        user.credentials.remove(at);
        match self.write_user(id, &user) {
            Ok(()) => Status::Success,
            Err(status) => status,
        }
    }

    pub(super) fn set_pin(&mut self, id: u16, pin: &Pin) -> Status {
        if let Err(status) = self.load_user(id) {
            return status;
        }
        match check_pin(pin, &capabilities(self.identity.max_in_flight)) {
            Ok(()) => {}
            Err(PinProblem::Weak) => return Status::Weak,
            Err(PinProblem::NotDigits | PinProblem::TooShort | PinProblem::TooLong) => {
                return Status::InvalidField;
            }
        }
        let Some(pin_key) = &self.pin_key else {
            return Status::Failure;
        };
        let digest = checksum::pin_digest(pin_key, pin);
        self.give(id, StoredCredential::Pin(digest), |c| matches!(c, StoredCredential::Pin(_)))
    }

    pub(super) fn remove_pin(&mut self, id: u16) -> Status {
        self.take(id, |c| matches!(c, StoredCredential::Pin(_)))
    }

    pub(super) fn add_card(&mut self, id: u16, uid: &CardUid) -> Status {
        if !users::card_uid_is_valid(uid) {
            return Status::InvalidField;
        }
        self.give(id, StoredCredential::Card(uid.clone()), |_| false)
    }

    pub(super) fn remove_card(&mut self, id: u16, uid: &CardUid) -> Status {
        self.take(id, |c| matches!(c, StoredCredential::Card(u) if u == uid))
    }

    pub(super) fn add_phone(&mut self, id: u16, public_key: &[u8; 32]) -> Status {
        // A key that is no curve point could never verify a signature.
        if ed25519_dalek::VerifyingKey::from_bytes(public_key).is_err() {
            return Status::InvalidField;
        }
        self.give(id, StoredCredential::Phone(*public_key), |_| false)
    }

    pub(super) fn remove_phone(&mut self, id: u16, public_key: &[u8; 32]) -> Status {
        self.take(id, |c| matches!(c, StoredCredential::Phone(k) if k == public_key))
    }

    pub(super) fn remove_finger(&mut self, id: u16, slot: u8) -> Status {
        let status = self.take(id, |c| matches!(c, StoredCredential::Fingerprint(s) if *s == slot));
        if status == Status::Success {
            let _ = self.devices.fingerprint().delete_template(slot);
        }
        status
    }

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
            Err(e) => Response::Status(store_status(e)),
        }
    }

    /// Whether user `id` has room for one more credential.
    pub(super) fn has_room(user: &StoredUser) -> bool {
        user.credentials.len() < CREDENTIALS_PER_USER
    }
}
