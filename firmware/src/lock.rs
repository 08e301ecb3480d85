//! The lock core: owns the store, the clock and the battery, and answers requests.
//!
//! Every rule is enforced here, so it holds whichever host sends the request.

use latchkey_protocol::{
    AccessPaths, Capabilities, ClockReading, Diagnostics, Ident, LockInfo, MAX_FRAME_LEN,
    PROTOCOL_VERSION, Request, Response, Setting, Settings, Status,
};

use crate::battery;
use crate::hal::{Battery, Clock, NorFlash};
use crate::link::LinkStats;
use crate::store::{Store, StoreError};

/// 2020-01-01T00:00:00Z: an earlier time is a clock that was never set, refused.
pub const EARLIEST_TIME: u64 = 1_577_836_800;

/// What this lock is; fixed per board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Model name, e.g. "LK-100".
    pub model: Ident,
    /// Serial number.
    pub serial: Ident,
    /// Whether this is a simulation.
    pub simulation: bool,
    /// Requests the board's receive path buffers before the first is answered.
    pub max_in_flight: u8,
}

/// The capacities this firmware is built for (the store layout sizes its regions for them).
pub const fn capabilities(max_in_flight: u8) -> Capabilities {
    Capabilities {
        max_users: 100,
        credentials_per_user: 8,
        pin_length_min: 4,
        pin_length_max: 10,
        log_capacity: 2048,
        access_paths: AccessPaths {
            keypad: true,
            rfid: true,
            fingerprint: true,
            phone: true,
            mechanical_key: true,
        },
        max_in_flight,
        max_frame_len: MAX_FRAME_LEN as u16,
    }
}

/// Answers requests. The link layer calls it with each decoded request.
pub trait Handler {
    /// The response to `request`; `link` carries the link's counters for diagnostics.
    fn handle(&mut self, request: &Request, link: &LinkStats) -> Response;
}

/// The lock core.
pub struct Lock<F: NorFlash, C: Clock, B: Battery> {
    store: Store<F>,
    clock: C,
    battery: B,
    identity: Identity,
    /// Copy of what is in flash, so reads cost no flash scan.
    settings: Settings,
    boot_count: u32,
    store_writes: u32,
}

impl<F: NorFlash, C: Clock, B: Battery> Lock<F, C, B> {
    /// Boots the core: counts the boot in flash and loads the settings.
    pub fn boot(
        mut store: Store<F>,
        clock: C,
        battery: B,
        identity: Identity,
    ) -> Result<Self, StoreError> {
        let boot_count = store.increment_boot_count()?;
        let settings = store.settings()?;
        Ok(Self { store, clock, battery, identity, settings, boot_count, store_writes: 1 })
    }

    /// The boot counter, including this boot.
    pub fn boot_count(&self) -> u32 {
        self.boot_count
    }

    /// The current settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn info(&self) -> LockInfo {
        let mut firmware_version = Ident::new();
        // The crate version is short ("0.1.0"); a longer one is cut rather than refused.
        for c in env!("CARGO_PKG_VERSION").chars() {
            if firmware_version.push(c).is_err() {
                break;
            }
        }
        LockInfo {
            model: self.identity.model.clone(),
            serial: self.identity.serial.clone(),
            firmware_version,
            protocol_version: PROTOCOL_VERSION,
            simulation: self.identity.simulation,
            capabilities: capabilities(self.identity.max_in_flight),
        }
    }

    fn time(&self) -> ClockReading {
        ClockReading {
            unix_seconds: self.clock.now(),
            is_set: self.clock.is_set(),
            uptime_ms: self.clock.uptime_ms(),
        }
    }

    fn set_setting(&mut self, setting: &Setting) -> Response {
        let Some(new) = apply(&self.settings, setting) else {
            return Response::Status(Status::InvalidField);
        };
        // Setting a value to what it already is needs no flash write: it is already durable.
        if new != self.settings {
            if self.store.save_settings(&new).is_err() {
                return Response::Status(Status::Failure);
            }
            self.store_writes = self.store_writes.saturating_add(1);
            self.settings = new;
        }
        Response::Settings(self.settings.clone())
    }
}

impl<F: NorFlash, C: Clock, B: Battery> Handler for Lock<F, C, B> {
    fn handle(&mut self, request: &Request, link: &LinkStats) -> Response {
        match request {
            Request::Hello => Response::Hello(self.info()),
            Request::Ping { nonce } => Response::Pong { nonce: *nonce },
            Request::GetTime => Response::Time(self.time()),
            Request::SetTime { unix_seconds } => {
                if *unix_seconds < EARLIEST_TIME {
                    return Response::Status(Status::InvalidField);
                }
                self.clock.set(*unix_seconds);
                Response::Time(self.time())
            }
            Request::GetBattery => Response::Battery(battery::report(self.battery.millivolts())),
            Request::GetSettings => Response::Settings(self.settings.clone()),
            Request::SetSetting(setting) => self.set_setting(setting),
            Request::GetDiagnostics => Response::Diagnostics(Diagnostics {
                uptime_ms: self.clock.uptime_ms(),
                boot_count: self.boot_count,
                frames_received: link.frames_received,
                frames_sent: link.frames_sent,
                dropped_too_long: link.dropped_too_long,
                dropped_malformed: link.dropped_malformed,
                dropped_bad_crc: link.dropped_bad_crc,
                dropped_undecodable: link.dropped_undecodable,
                wrong_version: link.wrong_version,
                store_writes: self.store_writes,
            }),
        }
    }
}

/// `settings` with `setting` applied, or `None` if the value is out of its documented range.
pub fn apply(settings: &Settings, setting: &Setting) -> Option<Settings> {
    let mut new = settings.clone();
    match setting {
        Setting::DoorLabel(label) => {
            // 1 to 32 bytes (the type caps the length) of printable text.
            if label.is_empty() || label.chars().any(char::is_control) {
                return None;
            }
            new.door_label = label.clone();
        }
        Setting::AutoRelockSeconds(s) if *s <= 3600 => new.auto_relock_seconds = *s,
        Setting::WrongCodeLimit(n) if *n >= 1 => new.wrong_code_limit = *n,
        Setting::LockoutSeconds(s) if (1..=3600).contains(s) => new.lockout_seconds = *s,
        Setting::BeeperVolume(v) => new.beeper_volume = *v,
        _ => return None,
    }
    Some(new)
}
