//! The latchkey lock core: dispatcher, link layer, persistent store and HAL traits.
//!
//! `no_std` and heap-free. Its hosts are boards: `firmware/boards/microbit` (the MCU image)
//! and `firmware/boards/sim` (crate `latchkey-sim`: the same core on a pseudo-terminal). The
//! `std` feature only adds `std::error::Error` to the error types.
// Unit tests run on the host with std (a RAM flash in a `Vec`, ...).
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![forbid(unsafe_code)]
// unwrap, expect and panic are denied in the core (Cargo.toml); its unit tests may use them.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod battery;
pub mod factory;
pub mod hal;
pub mod link;
pub mod lock;
pub mod log;
pub mod policy;
pub mod region;
pub mod store;
pub mod users;

pub use factory::FactoryClaim;
pub use link::{Link, LinkStats, LockPort};
pub use lock::{Identity, Lock};
pub use policy::Via;
pub use store::{LockKeys, Store, StoreError};
