//! The latchkey service-port protocol.
//!
//! This crate is the contract between the `latchkey` host tool and the lock firmware: every
//! message type, the frame codec and the frame accumulator live here once, and both ends use
//! them. It is `no_std` and never allocates, so the lock can use it with fixed buffers.
//!
//! A frame on the wire is
//!
//! ```text
//! COBS( header[4] | postcard body | CRC-16 little-endian ) 0x00
//! ```
//!
//! See [`frame`] for the byte layout and [`message`] for the bodies. `docs/protocol.md` in the
//! repository is the prose version of the same contract.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;

pub mod checksum;
pub mod crypto;
pub mod frame;
pub mod message;
pub mod names;
pub mod pin;
pub mod refusal;
pub mod setting;
pub mod tz;
pub mod user;
pub mod window;

pub use frame::{
    CRC, CRC_LEN, DropReason, EncodeError, Frame, FrameAccumulator, HEADER_LEN, Header, Kind,
    MAX_BODY_LEN, MAX_ENCODED_LEN, MAX_FRAME_LEN, PROTOCOL_VERSION, decode_body, encode_frame,
    encode_raw,
};
pub use message::*;
pub use names::{CredentialKind, LogKind};
pub use pin::{PinProblem, check_pin, pin_is_weak};
pub use refusal::{Field, Limit, Refusal};
pub use setting::{SettingError, SettingKey};
pub use tz::{TZ_RULE_MAX, TimeZoneRule, TimeZoneRuleError};
pub use user::{EXPIRING_MINUTES_MAX, name_is_valid, names_match};
pub use window::{WindowParseError, WindowProblem};
