//! Hardware behind traits, so the same core runs on the MCU, in the simulator and in tests.
//!
//! Flash is `embedded_storage::nor_flash::NorFlash` (re-exported here), the standard trait a
//! board's flash driver already implements. The other traits are ours. The traits below the
//! clock and the battery are placeholders that later issues fill in; each has just enough to
//! name what the core will ask of that part.

pub use embedded_storage::nor_flash::{NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};

/// The real-time clock and the uptime counter.
pub trait Clock {
    /// Seconds since the Unix epoch, UTC, by this clock (whether or not it was ever set).
    fn now(&self) -> u64;
    /// Whether the clock was set since it last lost power: until then its reading is a guess.
    fn is_set(&self) -> bool;
    /// Sets the clock to `unix_seconds` (already validated by the core).
    fn set(&mut self, unix_seconds: u64);
    /// Milliseconds since boot; never goes backwards.
    fn uptime_ms(&self) -> u64;
}

/// A cryptographic random number generator: the claim exchange's ephemeral keys and the
/// session nonces come from it, so it must be unpredictable (a hardware TRNG such as the
/// nRF51's RNG peripheral with bias correction, or the host OS's generator in the simulator).
/// It cannot fail: a platform whose generator can fail must stop rather than return weak bytes.
pub trait Rng {
    /// Fills `buf` with random bytes.
    fn fill_bytes(&mut self, buf: &mut [u8]);
}

/// The battery's voltage sensor. Charge and state are the core's job (see `battery`), so every
/// board reports the same percentages for the same voltage.
pub trait Battery {
    /// Pack voltage at rest (motor idle), in millivolts.
    fn millivolts(&mut self) -> u16;
}

/// Which way the motor drives the bolt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoltDirection {
    /// Throw the bolt.
    Lock,
    /// Retract the bolt.
    Unlock,
}

/// The bolt motor. To be filled by the access-path issue (drive time, current limit, jam).
pub trait Motor {
    /// Starts driving the bolt; the core stops it on the bolt sensor or a timeout.
    fn drive(&mut self, direction: BoltDirection);
    /// Stops the motor.
    fn stop(&mut self);
}

/// Door position switch. To be filled by the access-path issue.
pub trait DoorSensor {
    /// Whether the door is closed against its frame.
    fn is_closed(&mut self) -> bool;
}

/// Bolt position switch. To be filled by the access-path issue.
pub trait BoltSensor {
    /// Whether the bolt is fully thrown.
    fn is_thrown(&mut self) -> bool;
}

/// A key on the keypad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A digit 0 to 9.
    Digit(u8),
    /// The confirm key.
    Enter,
    /// The clear key.
    Clear,
}

/// The PIN keypad. To be filled by the credentials issue.
pub trait Keypad {
    /// The next key pressed, if any.
    fn poll_key(&mut self) -> Option<Key>;
}

/// The fingerprint sensor. To be filled by the credentials issue.
pub trait Fingerprint {
    /// The template slot that matched the finger on the sensor, if any.
    fn poll_match(&mut self) -> Option<u16>;
}

/// The RFID reader. To be filled by the credentials issue.
pub trait Rfid {
    /// The UID of a card in the field, if any (up to 10 bytes, ISO 14443).
    fn poll_card(&mut self) -> Option<heapless::Vec<u8, 10>>;
}

/// The BLE radio used for phone keys. To be filled by the phone-key issue.
pub trait Ble {
    /// Whether a phone is connected.
    fn is_connected(&mut self) -> bool;
}

/// The mechanical key cylinder. To be filled by the access-path issue.
pub trait MechanicalKey {
    /// Whether the key was turned since the last call.
    fn take_turned(&mut self) -> bool;
}

/// The tamper switch. To be filled by the alarms issue.
pub trait Tamper {
    /// Whether the housing is open.
    fn is_tripped(&mut self) -> bool;
}
