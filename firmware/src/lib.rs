//! The latchkey lock core: dispatcher, link layer, persistent store and HAL traits.
//!
//! `no_std` and heap-free; the `std` feature adds [`sim`], the host simulator that runs the
//! same core behind a pseudo-terminal.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

pub mod access;
pub mod battery;
mod directory;
pub mod hal;
pub mod link;
pub mod lock;
pub mod log;
pub mod session;
pub mod store;
pub mod users;

#[cfg(feature = "std")]
pub mod sim;

pub use link::{Link, LinkStats};
pub use lock::{Access, Handler, Identity, Lock};
pub use store::{LockKeys, Store, StoreError};
