//! Users and their codes as jobs: pick a free user number, generate a PIN the lock will
//! take, set a PIN, and add a guest with a code in one step (no half-made guest when a step
//! fails). The lock stays the judge of every rule; these only ask it in the right order.

use latchkey_protocol::{
    Capabilities, Pin, PinProblem, Status, User, UserKind, UserName, UserSpec, UserWrite, check_pin,
};

use crate::input::UserRef;
use crate::keys::{self, KeyError};
use crate::link::{Client, ClientError};

/// Where a user's new PIN comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinChoice {
    /// This PIN, as given.
    Given(Pin),
    /// A random PIN of this many digits, generated here.
    Generate {
        /// Digits.
        length: u8,
    },
}

/// Why a PIN could not be set.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The lock refused the PIN, or the link failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// No randomness to generate one from.
    #[error(transparent)]
    Random(#[from] KeyError),
    /// A generated PIN cannot have that many digits on this lock.
    #[error("a PIN on this lock has {min} to {max} digits, not {length}")]
    Length {
        /// Asked for.
        length: u8,
        /// The lock's shortest.
        min: u8,
        /// The lock's longest.
        max: u8,
    },
    /// Every PIN generated was already someone else's.
    #[error("could not generate a PIN the lock accepts (each one drawn was taken)")]
    Exhausted,
}

/// Why a guest could not be added.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    /// No free user number.
    #[error("the lock holds its maximum of {max} users")]
    Full {
        /// The lock's maximum.
        max: u16,
    },
    /// The lock refused the guest, or the link failed, before anything was written.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The guest was written but their PIN was not; the guest was removed again
    /// (`removed`), or removing failed too and they remain without a code.
    #[error("{source}")]
    Pin {
        /// The guest's user number.
        user: u16,
        /// Why the PIN failed.
        source: PinError,
        /// Whether the half-made guest was removed.
        removed: bool,
    },
}

/// The number of the user `who` names: a number as given (the lock says if nobody has it),
/// a name looked up in the lock's list as the lock compares names. `Ok(None)`: nobody of
/// that name.
pub fn user_number(client: &mut Client, who: &UserRef) -> Result<Option<u16>, ClientError> {
    match who {
        UserRef::Number(n) => Ok(Some(*n)),
        UserRef::Name(name) => Ok(client
            .users()?
            .iter()
            .find(|u| latchkey_protocol::names_match(&u.name, name))
            .map(|u| u.id)),
    }
}

/// A random PIN of `length` digits that the lock's rules allow (digits, its length range,
/// not weak), drawn here; whether another user has it only the lock knows.
pub fn generate_pin(length: u8, capabilities: &Capabilities) -> Result<Pin, PinError> {
    let (min, max) = (capabilities.pin_length_min, capabilities.pin_length_max);
    if !(min..=max).contains(&length) {
        return Err(PinError::Length { length, min, max });
    }
    loop {
        let bytes: [u8; 32] = keys::random_bytes()?;
        // 250 is the largest multiple of 10 in a byte: reject above it so every digit is even.
        let digits: String = bytes
            .iter()
            .filter(|b| **b < 250)
            .map(|b| char::from(b'0' + b % 10))
            .take(usize::from(length))
            .collect();
        match check_pin(&digits, capabilities) {
            Ok(()) => {
                return Pin::try_from(digits.as_str()).map_err(|_| PinError::Length {
                    length,
                    min,
                    max,
                });
            }
            // Too few usable bytes, or a weak draw: draw again.
            Err(PinProblem::TooShort | PinProblem::Weak) => continue,
            Err(PinProblem::NotDigits | PinProblem::TooLong) => {
                return Err(PinError::Length { length, min, max });
            }
        }
    }
}

/// Sets `user`'s PIN as `choice` says; returns the PIN when it was generated (to show once).
/// A generated PIN that another user already has is drawn again.
pub fn set_pin(
    client: &mut Client,
    user: u16,
    choice: &PinChoice,
    capabilities: &Capabilities,
) -> Result<Option<Pin>, PinError> {
    match choice {
        PinChoice::Given(pin) => {
            client.set_pin(user, pin.clone())?;
            Ok(None)
        }
        PinChoice::Generate { length } => {
            for _ in 0..10 {
                let pin = generate_pin(*length, capabilities)?;
                match client.set_pin(user, pin.clone()) {
                    Ok(()) => return Ok(Some(pin)),
                    // The lock is the judge: another user's PIN, or a rule newer than ours.
                    Err(ClientError::Refused(latchkey_protocol::Refusal {
                        status: Status::Duplicate | Status::Weak,
                        ..
                    })) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            Err(PinError::Exhausted)
        }
    }
}

/// Sets `spec`'s type; a one-time user gets a use limit of one.
pub fn set_kind(spec: &mut UserSpec, kind: UserKind) {
    spec.kind = kind;
    if kind == UserKind::OneTime {
        spec.use_limit = Some(1);
    }
}

/// Adds a guest (the lock's lowest free user number) with a PIN, as one step: when the PIN cannot
/// be set, the guest is removed again, since a guest without a code is useless and would
/// linger. Returns the guest, and the PIN when it was generated.
pub fn add_guest(
    client: &mut Client,
    spec: UserSpec,
    pin: &PinChoice,
    capabilities: &Capabilities,
) -> Result<(User, Option<Pin>), GuestError> {
    // Number 0: the lock takes its lowest free number, in the same request (no race, no list).
    let user = client.put_user(0, UserWrite::Add, spec)?;
    let id = user.id;
    match set_pin(client, id, pin, capabilities) {
        Ok(generated) => Ok((user, generated)),
        Err(source) => {
            let removed = client.remove_user(id).is_ok();
            Err(GuestError::Pin { user: id, source, removed })
        }
    }
}

/// Adds a user called `name` (an owner, enabled, no limits) under the lock's lowest free
/// number, in one request.
pub fn add_user(client: &mut Client, name: UserName) -> Result<User, ClientError> {
    let spec = UserSpec {
        name,
        kind: UserKind::Owner,
        enabled: true,
        valid_from: None,
        valid_until: None,
        use_limit: None,
        weekly: heapless::Vec::new(),
    };
    client.put_user(0, UserWrite::Add, spec)
}

/// Changes user `id` as `change` says, on the lock's current record of them (so nothing
/// else about them is lost); credentials are kept. Returns the user as the lock now has them.
pub fn modify_user(
    client: &mut Client,
    id: u16,
    change: impl FnOnce(&mut UserSpec),
) -> Result<User, ClientError> {
    let mut spec = client.user(id)?.spec;
    change(&mut spec);
    client.put_user(id, UserWrite::Modify, spec)
}

#[cfg(test)]
mod tests {
    use latchkey_protocol::{AccessPaths, pin_is_weak};

    use super::*;

    fn capabilities() -> Capabilities {
        Capabilities {
            max_users: 100,
            credentials_per_user: 8,
            pin_length_min: 4,
            pin_length_max: 10,
            log_capacity: 2048,
            access_paths: AccessPaths {
                keypad: true,
                rfid: true,
                fingerprint: true,
                phone: true,
                mechanical_key: true,
            },
            max_in_flight: 4,
            max_frame_len: 326,
            card_uid_lengths: 1 << 4 | 1 << 7 | 1 << 10,
            signs_log_head: true,
        }
    }

    #[test]
    fn generated_pins_have_the_length_asked_and_are_never_weak() {
        for length in [4, 6, 10] {
            for _ in 0..200 {
                let pin = generate_pin(length, &capabilities()).unwrap();
                assert_eq!(pin.len(), usize::from(length));
                assert!(!pin_is_weak(pin.as_str()), "{}", pin.as_str());
            }
        }
    }

    #[test]
    fn a_length_outside_the_locks_range_is_an_error_not_a_silent_other_length() {
        for length in [0, 3, 11, 12] {
            let e = generate_pin(length, &capabilities()).unwrap_err();
            assert!(matches!(e, PinError::Length { min: 4, max: 10, .. }), "{length}: {e}");
        }
    }

    #[test]
    fn a_one_time_user_may_enter_once() {
        let mut spec = UserSpec {
            name: "Courier".try_into().unwrap(),
            kind: UserKind::Owner,
            enabled: true,
            valid_from: None,
            valid_until: None,
            use_limit: Some(5),
            weekly: heapless::Vec::new(),
        };
        set_kind(&mut spec, UserKind::OneTime);
        assert_eq!(spec.use_limit, Some(1));
        set_kind(&mut spec, UserKind::Guest);
        assert_eq!((spec.kind, spec.use_limit), (UserKind::Guest, Some(1)));
    }
}
