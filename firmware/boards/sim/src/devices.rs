//! The simulator's devices: a bolt motor that can jam, a fingerprint sensor with its own
//! template memory, and phones that sign with a key made from a seed.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey};

use latchkey_protocol::BeeperVolume;

use crate::SimBattery;
use latchkey_firmware::hal::{
    Battery, Beep, Beeper, BoltDirection, FingerCapture, FingerprintSensor, Motor, MotorFault,
    MotorRun, PHONE_SIGNATURE_LABEL, Parts, Phone, PhoneAnswer, SensorFault,
};

/// Template slots of the simulated sensor.
pub const SIM_SENSOR_SLOTS: u8 = 50;

/// A free run of the simulated motor at 6.0 V: 350 ms at a 600 mA peak.
pub const MOTOR_RUN_MS: u16 = 350;
/// Peak current of a free run at 6.0 V, mA.
pub const MOTOR_RUN_MA: u16 = 600;
/// A jammed bolt: the motor stalls at its stall current until the 1 s time-out.
pub const MOTOR_STALL_MS: u16 = 1000;
/// Stall current at 6.0 V, mA.
pub const MOTOR_STALL_MA: u16 = 1500;

/// The bolt motor: moves the bolt, unless jammed. A weaker battery makes a run slower and
/// draws more current (the motor needs the same work done); a jam runs to the stall time-out
/// at stall current.
#[derive(Debug, Default, Clone)]
pub struct SimMotor {
    /// While set, every drive fails and the bolt stays where it is.
    pub jammed: bool,
    /// Drives that moved the bolt, oldest first.
    pub moves: Vec<BoltDirection>,
    /// The battery it runs from (6.0 V if none).
    pub battery: Option<SimBattery>,
    /// The last run.
    pub last: MotorRun,
}

impl Motor for SimMotor {
    fn drive(&mut self, direction: BoltDirection) -> Result<(), MotorFault> {
        let supply = u32::from(self.battery.as_mut().map_or(6000, |b| b.millivolts()).max(1000));
        let scale =
            |value: u16| u16::try_from(u32::from(value) * 6000 / supply).unwrap_or(u16::MAX);
        if self.jammed {
            self.last =
                MotorRun { ms: MOTOR_STALL_MS, peak_ma: MOTOR_STALL_MA.min(scale(MOTOR_STALL_MA)) };
            return Err(MotorFault::Jammed);
        }
        self.last = MotorRun { ms: scale(MOTOR_RUN_MS), peak_ma: scale(MOTOR_RUN_MA) };
        self.moves.push(direction);
        Ok(())
    }

    fn last_run(&self) -> MotorRun {
        self.last
    }
}

/// A fingerprint sensor module. A finger is known by a name (`ann-thumb`); the module's
/// template memory is a map of slot to name, kept in a sidecar file next to the flash image
/// when there is one (the module has its own memory on a real lock, so it survives a
/// restart of the core).
#[derive(Debug, Default)]
pub struct SimFingerprint {
    templates: BTreeMap<u8, String>,
    kept: Vec<String>,
    last: Option<String>,
    file: Option<PathBuf>,
}

impl SimFingerprint {
    /// A sensor with empty memory, kept only in RAM.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sensor whose memory is the file at `path` (created when first written).
    pub fn with_file(path: &Path) -> io::Result<Self> {
        let mut sensor = Self { file: Some(path.to_owned()), ..Self::default() };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                for line in text.lines() {
                    if let Some((slot, name)) = line.split_once(' ')
                        && let Ok(slot) = slot.parse::<u8>()
                    {
                        sensor.templates.insert(slot, name.to_owned());
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(sensor)
    }

    /// The sidecar file for a flash image: `FLASH.fingers`.
    pub fn sidecar_for(flash: &Path) -> PathBuf {
        let mut name = flash.as_os_str().to_owned();
        name.push(".fingers");
        PathBuf::from(name)
    }

    /// A finger named `name` placed with image `quality`: the capture the module reports,
    /// with the slot of a stored template of that finger, if any.
    pub fn place(&mut self, name: &str, quality: u8) -> FingerCapture {
        self.last = Some(name.to_owned());
        let matched_slot =
            self.templates.iter().find(|(_, finger)| finger.as_str() == name).map(|(s, _)| *s);
        FingerCapture { quality, matched_slot }
    }

    /// The finger stored in `slot`, if any.
    pub fn template(&self, slot: u8) -> Option<&str> {
        self.templates.get(&slot).map(String::as_str)
    }

    fn save(&self) {
        let Some(path) = &self.file else { return };
        let text: String =
            self.templates.iter().map(|(slot, name)| format!("{slot} {name}\n")).collect();
        // Written aside and renamed, so a crash leaves the old memory or the new one.
        let tmp = path.with_extension("fingers.tmp");
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}

impl FingerprintSensor for SimFingerprint {
    fn slots(&self) -> u8 {
        SIM_SENSOR_SLOTS
    }

    fn begin_enrollment(&mut self) {
        self.kept.clear();
    }

    fn keep_capture(&mut self) {
        if let Some(last) = &self.last {
            self.kept.push(last.clone());
        }
    }

    fn store_template(&mut self, slot: u8) -> Result<(), SensorFault> {
        if slot >= SIM_SENSOR_SLOTS {
            return Err(SensorFault::Failed);
        }
        // Captures of different fingers make no template.
        let Some(first) = self.kept.first().cloned() else {
            return Err(SensorFault::NoTemplate);
        };
        if self.kept.iter().any(|k| k != &first) {
            self.kept.clear();
            return Err(SensorFault::NoTemplate);
        }
        self.kept.clear();
        self.templates.insert(slot, first);
        self.save();
        Ok(())
    }

    fn delete_template(&mut self, slot: u8) -> Result<(), SensorFault> {
        if self.templates.remove(&slot).is_some() {
            self.save();
        }
        Ok(())
    }
}

/// A beeper that remembers what it played, for the simulator to print and tests to check.
#[derive(Debug, Default, Clone)]
pub struct SimBeeper {
    /// Patterns played and not yet taken, oldest first.
    pub played: Vec<(Beep, BeeperVolume)>,
}

impl Beeper for SimBeeper {
    fn play(&mut self, beep: Beep, volume: BeeperVolume) {
        self.played.push((beep, volume));
    }
}

/// The simulator's devices: its motor, fingerprint sensor and beeper, as any board's.
pub type SimDevices = Parts<SimMotor, SimFingerprint, SimBeeper>;

/// A phone holding the Ed25519 key made from a 32-byte seed.
pub struct SimPhone {
    key: SigningKey,
}

impl SimPhone {
    /// The phone with the key from `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self { key: SigningKey::from_bytes(seed) }
    }

    /// Its public key, as `AddPhone` takes it.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }
}

impl Phone for SimPhone {
    fn sign_challenge(&mut self, serial: &str, challenge: &[u8; 32]) -> Option<PhoneAnswer> {
        let message = [PHONE_SIGNATURE_LABEL, serial.as_bytes(), challenge].concat();
        Some(PhoneAnswer {
            public_key: self.public_key(),
            signature: self.key.sign(&message).to_bytes(),
        })
    }
}
