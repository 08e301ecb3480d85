//! Protocol values as command-line values: host-side mirrors of protocol enums that clap
//! parses (`--path mechanical_key`, `--kind power_up`), named by the protocol's own
//! `as_str()` so a name is written once.

/// A mirror of the protocol enum `$proto` for clap, with the same variants. Converting from
/// the protocol enum is written out in full, so a variant added there fails to compile here
/// until it is added.
macro_rules! mirror {
    ($(#[$doc:meta])* $name:ident => $proto:ty { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $(
                #[doc = concat!("`", stringify!($variant), "`")]
                $variant
            ),+
        }

        impl From<$name> for $proto {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => <$proto>::$variant),+
                }
            }
        }

        impl From<$proto> for $name {
            fn from(value: $proto) -> Self {
                match value {
                    $(<$proto>::$variant => $name::$variant),+
                }
            }
        }

        impl clap::ValueEnum for $name {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($name::$variant),+]
            }

            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(clap::builder::PossibleValue::new(<$proto>::from(*self).as_str()))
            }
        }
    };
}

mirror! {
    /// How someone came to the door.
    PathArg => latchkey_protocol::AccessPath {
        Keypad, Rfid, Fingerprint, Phone, MechanicalKey,
    }
}

mirror! {
    /// A kind of log record.
    LogKindArg => latchkey_protocol::LogKind {
        Access, Change, Alarm, Battery, PowerUp, ClockSet, Session, AuthFailed, Cleared,
        DuplicatePin, Repeated, Door,
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;
    use latchkey_protocol::{AccessPath, LogKind};

    use super::*;

    #[test]
    fn command_line_values_are_the_protocol_names() {
        assert_eq!(PathArg::from_str("mechanical_key", false), Ok(PathArg::MechanicalKey));
        assert_eq!(AccessPath::from(PathArg::Rfid), AccessPath::Rfid);
        for kind in LogKind::ALL {
            let arg = LogKindArg::from_str(kind.as_str(), false).unwrap();
            assert_eq!(LogKind::from(arg), kind);
        }
        assert!(LogKindArg::from_str("powerup", false).is_err());
    }
}

mirror! {
    /// What a type-wide clear removes.
    ClearArg => latchkey_protocol::ClearTarget {
        Pins, Cards, Fingerprints, Phones, Users,
    }
}
