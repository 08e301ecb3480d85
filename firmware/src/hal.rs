//! Hardware behind traits, so the same core runs on the MCU, in the simulator and in tests.
//!
//! Flash is `embedded_storage::nor_flash::NorFlash` (re-exported here), the standard trait a
//! board's flash driver already implements. The other traits are ours.
//!
//! Two directions: the core *calls* what it drives or asks (flash, clock, RNG, battery, the
//! bolt [`Motor`], the [`FingerprintSensor`]'s template memory, a [`Phone`] it challenges);
//! the board *feeds* the core what happens in the world (a PIN entered, a card tapped, a
//! finger placed, the mechanical key turned, the door or the tamper switch) through the
//! lock's entry points, and calls [`crate::Lock::tick`] periodically so time-outs and the
//! auto-relock happen without input.

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

    /// The lock's time as it records it (log records, alarms, the last access): the clock's
    /// reading, or 0 ("clock not set") while it has not been set since power-up. The one
    /// definition of that rule.
    fn recorded_now(&self) -> u64 {
        if self.is_set() { self.now() } else { 0 }
    }
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
    /// Pack voltage under load, in millivolts: the lowest the board sampled while the motor
    /// drew `load_ma` (its peak, [`MotorRun::peak_ma`]) during the run that just ended. The
    /// core asks right after each motor run. A board that cannot sample under load reports
    /// the rest voltage (the default).
    fn loaded_millivolts(&mut self, load_ma: u16) -> u16 {
        let _ = load_ma;
        self.millivolts()
    }
}

/// Which way the motor drives the bolt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoltDirection {
    /// Throw the bolt.
    Lock,
    /// Retract the bolt.
    Unlock,
}

/// Why the motor did not move the bolt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MotorFault {
    /// The bolt did not reach its end position (stalled, blocked, or the current limit hit).
    Jammed,
}

/// The bolt motor. The core calls it: after a granted access (unlock), and when the
/// auto-relock time is up (lock).
pub trait Motor {
    /// Drives the bolt all the way in `direction` and stops the motor; returns once the bolt
    /// is there (the board watches its bolt switch and a time-out), or why it is not.
    fn drive(&mut self, direction: BoltDirection) -> Result<(), MotorFault>;
    /// How the last drive went: how long the motor ran and its peak current (all zeros for a
    /// board that does not measure, the default).
    fn last_run(&self) -> MotorRun {
        MotorRun::default()
    }
}

/// One motor run as the board measured it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MotorRun {
    /// How long the motor ran, milliseconds (to the end position, or to the stall time-out).
    pub ms: u16,
    /// Peak current, milliamps (a stalled motor draws its stall current).
    pub peak_ma: u16,
}

/// Why the fingerprint sensor refused an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorFault {
    /// The kept captures do not make one template (not the same finger, or too poor).
    NoTemplate,
    /// No such slot, or the sensor did not answer.
    Failed,
}

/// One finger placed on the sensor, as the board reports it to the core
/// ([`crate::Lock::finger_placed`]). The sensor compares each capture against its stored
/// templates itself, as real modules do; the core never sees an image or a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FingerCapture {
    /// Image quality, 0 to 100.
    pub quality: u8,
    /// The template slot this finger matched, if any.
    pub matched_slot: Option<u8>,
}

/// The fingerprint sensor module: it keeps templates in its own memory, in numbered slots.
/// Which slot belongs to whom is the core's (in flash); the sensor only stores and matches.
pub trait FingerprintSensor {
    /// How many template slots it has (slots are `0..slots()`); 0 if there is no sensor.
    fn slots(&self) -> u8;
    /// An enrollment starts: forget any captures kept for one.
    fn begin_enrollment(&mut self);
    /// Keep the last capture as one of the enrollment's.
    fn keep_capture(&mut self);
    /// Builds a template from the kept captures and stores it in `slot` (replacing whatever
    /// was there).
    fn store_template(&mut self, slot: u8) -> Result<(), SensorFault>;
    /// Deletes the template in `slot` (a free slot is fine).
    fn delete_template(&mut self, slot: u8) -> Result<(), SensorFault>;
}

/// What the core drives or asks, owned by the lock: the bolt motor and the fingerprint
/// sensor. Events from the outside world (a key on the keypad, a card, a finger, a phone, the
/// mechanical key, the door and tamper switches) are fed to the core by the board instead:
/// see [`crate::Lock::keypad_entry`] and its siblings.
pub trait Devices {
    /// The bolt motor.
    type Motor: Motor;
    /// The fingerprint sensor.
    type Fingerprint: FingerprintSensor;
    /// The beeper.
    type Beeper: Beeper;
    /// The bolt motor.
    fn motor(&mut self) -> &mut Self::Motor;
    /// The fingerprint sensor.
    fn fingerprint(&mut self) -> &mut Self::Fingerprint;
    /// The beeper.
    fn beeper(&mut self) -> &mut Self::Beeper;
}

/// A board's devices from their parts.
#[derive(Debug, Clone, Default)]
pub struct Parts<M, S, Z> {
    /// The bolt motor.
    pub motor: M,
    /// The fingerprint sensor.
    pub fingerprint: S,
    /// The beeper.
    pub beeper: Z,
}

impl<M: Motor, S: FingerprintSensor, Z: Beeper> Devices for Parts<M, S, Z> {
    type Motor = M;
    type Fingerprint = S;
    type Beeper = Z;
    fn motor(&mut self) -> &mut M {
        &mut self.motor
    }
    fn fingerprint(&mut self) -> &mut S {
        &mut self.fingerprint
    }
    fn beeper(&mut self) -> &mut Z {
        &mut self.beeper
    }
}

/// What the lock says out loud. The core picks the pattern (so every board warns the same
/// way); [`Beep::steps`] is how it sounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beep {
    /// The battery is low: after each unlock, three short beeps.
    LowBattery,
    /// The battery is critical: after each unlock, one long beep and three short ones.
    CriticalBattery,
}

impl Beep {
    /// The pattern as (sound ms, silence ms) steps.
    pub fn steps(self) -> &'static [(u16, u16)] {
        match self {
            Self::LowBattery => &[(80, 120), (80, 120), (80, 0)],
            Self::CriticalBattery => &[(600, 200), (80, 120), (80, 120), (80, 0)],
        }
    }
}

/// The beeper. [`Beeper::play`] starts a pattern and returns at once: the board plays the
/// steps from its timer, so the lock never stalls on a sound.
pub trait Beeper {
    /// Starts `beep` at `volume` (never called with `BeeperVolume::Off`).
    fn play(&mut self, beep: Beep, volume: latchkey_protocol::BeeperVolume);
}

/// A beeper that is not there (a board without one): the warning is still in the log and the
/// alarms; only the sound is missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBeeper;

impl Beeper for NoBeeper {
    fn play(&mut self, _beep: Beep, _volume: latchkey_protocol::BeeperVolume) {}
}

/// A motor that is not there (a board without one yet): every drive "succeeds" at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMotor;

impl Motor for NoMotor {
    fn drive(&mut self, _direction: BoltDirection) -> Result<(), MotorFault> {
        Ok(())
    }
}

/// A fingerprint sensor that is not there: no slots, so an enrollment is refused at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFingerprintSensor;

impl FingerprintSensor for NoFingerprintSensor {
    fn slots(&self) -> u8 {
        0
    }
    fn begin_enrollment(&mut self) {}
    fn keep_capture(&mut self) {}
    fn store_template(&mut self, _slot: u8) -> Result<(), SensorFault> {
        Err(SensorFault::Failed)
    }
    fn delete_template(&mut self, _slot: u8) -> Result<(), SensorFault> {
        Ok(())
    }
}

/// A phone presenting itself over BLE for a phone-key access ([`crate::Lock::phone_presented`]).
pub trait Phone {
    /// Asks the phone to sign `"latchkey/v1/phone" ‖ serial ‖ challenge` with its key: its
    /// public key and the Ed25519 signature, or `None` if it does not answer.
    fn sign_challenge(&mut self, serial: &str, challenge: &[u8; 32]) -> Option<PhoneAnswer>;
}

/// A phone's answer to the lock's challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneAnswer {
    /// Its Ed25519 public key.
    pub public_key: [u8; 32],
    /// Its signature over the challenge message.
    pub signature: [u8; 64],
}

/// The domain label a phone signs before the serial and the challenge.
pub const PHONE_SIGNATURE_LABEL: &[u8] = b"latchkey/v1/phone";
