//! A deterministic world for campaigns: a clock that moves only when the test moves it (a
//! year passes in seconds, and two runs of the same seed see the same times) and a seeded
//! random number generator for the lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use latchkey_firmware::hal::{Clock, Rng};

/// The world's time, in milliseconds since the Unix epoch; clones share it.
#[derive(Clone)]
pub struct World(Arc<AtomicU64>);

impl World {
    /// A world whose time is `unix_seconds`.
    pub fn at(unix_seconds: u64) -> Self {
        Self(Arc::new(AtomicU64::new(unix_seconds * 1000)))
    }

    /// A world whose time is `ms` milliseconds since the epoch.
    pub fn at_ms(ms: u64) -> Self {
        Self(Arc::new(AtomicU64::new(ms)))
    }

    /// Time passes.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    pub fn unix_seconds(&self) -> u64 {
        self.now_ms() / 1000
    }

    /// The lock's clock for a boot now: its uptime starts at 0; `set` says whether its RTC
    /// holds the world's time (as one kept by a backup cell, or set by a host) or must be set.
    pub fn clock(&self, set: bool) -> VirtualClock {
        VirtualClock { world: self.clone(), booted_ms: self.now_ms(), offset_s: 0, is_set: set }
    }
}

/// A lock's clock in a [`World`].
pub struct VirtualClock {
    world: World,
    booted_ms: u64,
    offset_s: i64,
    is_set: bool,
}

impl Clock for VirtualClock {
    fn now(&self) -> u64 {
        self.world.unix_seconds().saturating_add_signed(self.offset_s)
    }
    fn is_set(&self) -> bool {
        self.is_set
    }
    fn set(&mut self, unix_seconds: u64) {
        self.offset_s = unix_seconds as i64 - self.world.unix_seconds() as i64;
        self.is_set = true;
    }
    fn uptime_ms(&self) -> u64 {
        self.world.now_ms() - self.booted_ms
    }
}

/// The lock's RNG, from a seed: two boots with the same seed do the same writes.
pub struct SeededRng(fastrand::Rng);

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        Self(fastrand::Rng::with_seed(seed))
    }
}

impl Rng for SeededRng {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        self.0.fill(buf);
    }
}
