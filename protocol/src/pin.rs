//! The PIN rules both ends apply: the format (digits only, a length within the lock's range)
//! and the weak-PIN rule. The lock is the judge ([`check_pin`] runs on every `SetPin`); the
//! host uses the same functions to generate a PIN the lock will take, or to refuse one early
//! with a better message.

use crate::message::Capabilities;

/// Why a PIN is refused before it is hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinProblem {
    /// Something other than the digits 0 to 9.
    NotDigits,
    /// Fewer digits than the lock's [`Capabilities::pin_length_min`].
    TooShort,
    /// More digits than the lock's [`Capabilities::pin_length_max`].
    TooLong,
    /// Too easy to guess ([`pin_is_weak`]).
    Weak,
}

impl PinProblem {
    /// A stable lower-case name for scripts and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotDigits => "not_digits",
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::Weak => "weak",
        }
    }
}

impl core::fmt::Display for PinProblem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NotDigits => "a PIN is digits only",
            Self::TooShort => "the PIN is shorter than the lock allows",
            Self::TooLong => "the PIN is longer than the lock allows",
            Self::Weak => {
                "the PIN is too easy to guess (one digit repeated, a straight run or a repeated pair)"
            }
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PinProblem {}

/// Checks `pin` as the lock does: digits only, `capabilities.pin_length_min` to
/// `capabilities.pin_length_max` of them, and not weak ([`pin_is_weak`]). Problems are
/// reported in that order.
pub fn check_pin(pin: &str, capabilities: &Capabilities) -> Result<(), PinProblem> {
    if !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PinProblem::NotDigits);
    }
    let len = pin.len();
    if len < usize::from(capabilities.pin_length_min) {
        return Err(PinProblem::TooShort);
    }
    if len > usize::from(capabilities.pin_length_max) {
        return Err(PinProblem::TooLong);
    }
    if pin_is_weak(pin) {
        return Err(PinProblem::Weak);
    }
    Ok(())
}

/// The weak-PIN rule, in one place. Weak: one digit repeated (`0000`); a straight run up or
/// down, wrapping past 9/0 (`1234`, `9876`, `34567`, `7890`); a repeated pair (`1212`,
/// `121212`); anything shorter than 2 digits. Expects digits only.
pub fn pin_is_weak(pin: &str) -> bool {
    let digits = pin.as_bytes();
    if digits.len() < 2 {
        return true;
    }
    let steps_all =
        |s: i16| digits.windows(2).all(|w| (i16::from(w[1]) - i16::from(w[0])).rem_euclid(10) == s);
    let repeated_pair =
        digits.len().is_multiple_of(2) && digits.chunks_exact(2).all(|pair| pair == &digits[..2]);
    steps_all(0) || steps_all(1) || steps_all(9) || repeated_pair
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::AccessPaths;

    fn caps() -> Capabilities {
        let paths = AccessPaths {
            keypad: true,
            rfid: true,
            fingerprint: true,
            phone: true,
            mechanical_key: true,
        };
        Capabilities {
            max_users: 100,
            credentials_per_user: 8,
            pin_length_min: 4,
            pin_length_max: 10,
            log_capacity: 1000,
            access_paths: paths,
            max_in_flight: 4,
            max_frame_len: 512,
            card_uid_lengths: crate::ISO14443_UID_LENGTHS,
            signs_log_head: true,
        }
    }

    #[test]
    fn weak_pins() {
        for weak in
            ["0000", "1111", "1234", "9876", "34567", "7890", "3210", "1212", "121212", "1", ""]
        {
            assert!(pin_is_weak(weak), "{weak} is weak");
        }
        for strong in ["058213", "1235", "2580", "1213", "12121", "9875", "4711", "123123"] {
            assert!(!pin_is_weak(strong), "{strong} is not weak");
        }
    }

    #[test]
    fn pin_format_in_order() {
        let caps = caps();
        assert_eq!(check_pin("058213", &caps), Ok(()));
        assert_eq!(check_pin("5821", &caps), Ok(()));
        assert_eq!(check_pin("5820137462", &caps), Ok(()));
        assert_eq!(check_pin("123", &caps), Err(PinProblem::TooShort));
        assert_eq!(check_pin("12345678901", &caps), Err(PinProblem::TooLong));
        assert_eq!(check_pin("12a4", &caps), Err(PinProblem::NotDigits));
        assert_eq!(check_pin("12 45", &caps), Err(PinProblem::NotDigits));
        assert_eq!(check_pin("", &caps), Err(PinProblem::TooShort));
        assert_eq!(check_pin("4444", &caps), Err(PinProblem::Weak));
        // Digits are checked before the length: "12a" is not digits, not "too short".
        assert_eq!(check_pin("12a", &caps), Err(PinProblem::NotDigits));
    }
}
