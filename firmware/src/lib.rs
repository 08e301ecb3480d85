//! The latchkey lock core: dispatcher, link layer, persistent store and HAL traits.
//!
//! `no_std` and heap-free; the `std` feature adds [`sim`], the host simulator that runs the
//! same core behind a pseudo-terminal.
// Unit tests run on the host with std (a RAM flash in a `Vec`, ...).
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![forbid(unsafe_code)]

pub mod battery;
pub mod hal;
pub mod link;
pub mod lock;
pub mod log;
pub mod policy;
pub mod region;
pub mod store;
pub mod users;

#[cfg(feature = "std")]
pub mod sim;

pub use link::{Link, LinkStats, LockPort};
pub use lock::{Identity, Lock};
pub use policy::Via;
pub use store::{LockKeys, Store, StoreError};
