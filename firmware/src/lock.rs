//! The lock core: owns the store, the clock and the battery, and answers requests.
//!
//! Every rule is enforced here, so it holds whichever host sends the request: what each
//! kind of link may ask ([`authorize`]), the settings' ranges, and the keys that make a lock
//! claimed. The handshakes and sealed frames that establish *how* a request arrived are the
//! link's (`session`); what that allows is decided here.

use latchkey_protocol::crypto::{SecretKey, SetupCode};
use latchkey_protocol::{
    AccessPaths, Capabilities, ClockReading, Diagnostics, Ident, LockInfo, MAX_FRAME_LEN,
    PROTOCOL_VERSION, Request, Response, Role, Setting, Settings, Status,
};

use crate::battery;
use crate::hal::{Battery, Clock, NorFlash, Rng};
use crate::link::LinkStats;
use crate::store::{LockKeys, Store, StoreError};

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
    /// The setup code printed inside the lock (factory data): proof of physical access for
    /// claiming and factory reset. A factory reset never changes it.
    pub setup_code: SetupCode,
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

/// How a request reached the lock, which decides what it may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// In a plaintext request frame: anyone holding the cable.
    Plaintext,
    /// Sealed in a session opened with `role`'s lock key.
    Session(Role),
}

/// Whether `request` is one of the handshakes that open a session or claim the lock. The link
/// answers these itself (`session`); they never reach [`Handler::handle`].
pub fn is_handshake(request: &Request) -> bool {
    matches!(
        request,
        Request::ClaimStart { .. }
            | Request::ClaimFinish { .. }
            | Request::SessionStart { .. }
            | Request::SessionConfirm { .. }
    )
}

/// The access table: whether `request`, arriving by `access` at a lock that is `claimed` or
/// not, may be carried out. `Err` holds the status to answer instead.
///
/// New requests are refused to plaintext links and technicians until listed here: the table
/// fails closed.
pub fn authorize(access: Access, claimed: bool, request: &Request) -> Result<(), Status> {
    use Request as R;
    let allowed = match access {
        Access::Plaintext => match request {
            // Identification and the claim exchange are how a host starts; the claim exchange
            // is protected by the setup code, not by a session.
            R::Hello | R::Ping { .. } | R::ClaimStart { .. } | R::ClaimFinish { .. } => true,
            // Nothing to open a session with until the lock holds keys.
            R::SessionStart { .. } | R::SessionConfirm { .. } => claimed,
            // Everything else needs a session, even while one is open: no plaintext fallback.
            _ => false,
        },
        // A handshake inside a session is a confused host, not an authorization question.
        Access::Session(_) if is_handshake(request) => return Err(Status::InvalidField),
        // Sessions exist only on a claimed lock; a factory reset ends them.
        Access::Session(_) if !claimed => false,
        Access::Session(Role::Installer) => true,
        Access::Session(Role::Technician) => matches!(
            request,
            R::Hello
                | R::Ping { .. }
                | R::GetTime
                | R::GetBattery
                | R::GetSettings
                | R::GetDiagnostics
                | R::EndSession
        ),
    };
    if allowed { Ok(()) } else { Err(Status::NotAuthorized) }
}

/// The lock as the link layer sees it: it answers requests, and lends the session layer what
/// a handshake needs (randomness, the clock, the setup code, the stored keys).
pub trait Handler {
    /// The response to `request`, which arrived by `access` (checked against [`authorize`]
    /// here too, so no caller can skip it); `link` carries the link's counters.
    fn handle(&mut self, request: &Request, access: Access, link: &LinkStats) -> Response;
    /// Whether the lock holds keys: management then needs a session.
    fn is_claimed(&self) -> bool;
    /// Milliseconds since boot, for session expiry and back-off.
    fn uptime_ms(&self) -> u64;
    /// Fills `buf` from the lock's cryptographic RNG.
    fn fill_random(&mut self, buf: &mut [u8]);
    /// The lock's serial number, bound into every key derivation.
    fn serial(&self) -> &str;
    /// The setup code, for the claim exchange.
    fn setup_code(&self) -> &SetupCode;
    /// The stored lock key for `role`, if claimed.
    fn lock_key(&self, role: Role) -> Option<&SecretKey>;
    /// Claims the lock with `keys`: `Occupied` if already claimed, `Success` once in flash.
    fn install_keys(&mut self, keys: &LockKeys) -> Status;
    /// Returns the lock to unclaimed: erases the keys (later also users and credentials; not
    /// the settings, the event log or the setup code). `Success` once in flash.
    fn factory_reset(&mut self) -> Status;
}

/// The lock core.
pub struct Lock<F: NorFlash, C: Clock, B: Battery, R: Rng> {
    store: Store<F>,
    clock: C,
    battery: B,
    rng: R,
    identity: Identity,
    /// Copy of what is in flash, so reads cost no flash scan.
    settings: Settings,
    /// Copy of the stored keys; `None` while unclaimed.
    keys: Option<LockKeys>,
    boot_count: u32,
    store_writes: u32,
}

impl<F: NorFlash, C: Clock, B: Battery, R: Rng> Lock<F, C, B, R> {
    /// Boots the core: counts the boot in flash and loads the settings and keys.
    pub fn boot(
        mut store: Store<F>,
        clock: C,
        battery: B,
        rng: R,
        identity: Identity,
    ) -> Result<Self, StoreError> {
        let boot_count = store.increment_boot_count()?;
        let settings = store.settings()?;
        let keys = store.keys()?;
        Ok(Self {
            store,
            clock,
            battery,
            rng,
            identity,
            settings,
            keys,
            boot_count,
            store_writes: 1,
        })
    }

    /// Whether the lock holds keys.
    pub fn is_claimed(&self) -> bool {
        self.keys.is_some()
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
            claimed: self.is_claimed(),
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

    fn save_keys(&mut self, keys: &LockKeys) -> Status {
        if self.store.save_keys(keys).is_err() {
            return Status::Failure;
        }
        self.store_writes = self.store_writes.saturating_add(1);
        self.keys = Some(keys.clone());
        Status::Success
    }

    fn rotate_keys(&mut self, installer: &[u8; 32], technician: &[u8; 32]) -> Status {
        if self.keys.is_none() {
            return Status::NotAuthorized;
        }
        let new = LockKeys { installer: SecretKey(*installer), technician: SecretKey(*technician) };
        // The same keys again (a resend after a lost answer) are already durable.
        if self.keys.as_ref() == Some(&new) {
            return Status::Success;
        }
        self.save_keys(&new)
    }
}

impl<F: NorFlash, C: Clock, B: Battery, R: Rng> Handler for Lock<F, C, B, R> {
    fn handle(&mut self, request: &Request, access: Access, link: &LinkStats) -> Response {
        if let Err(status) = authorize(access, self.is_claimed(), request) {
            return Response::Status(status);
        }
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
                sealed_rejected: link.sealed_rejected,
                auth_failures: link.auth_failures,
            }),
            Request::RotateKeys { installer_key, technician_key } => {
                Response::Status(self.rotate_keys(installer_key, technician_key))
            }
            // The link closes the session once this answer is sealed.
            Request::EndSession => Response::Status(Status::Success),
            // Answered by the link's session layer; one that reaches here was misrouted.
            Request::ClaimStart { .. }
            | Request::ClaimFinish { .. }
            | Request::SessionStart { .. }
            | Request::SessionConfirm { .. } => Response::Status(Status::InvalidField),
        }
    }

    fn is_claimed(&self) -> bool {
        self.keys.is_some()
    }

    fn uptime_ms(&self) -> u64 {
        self.clock.uptime_ms()
    }

    fn fill_random(&mut self, buf: &mut [u8]) {
        self.rng.fill_bytes(buf);
    }

    fn serial(&self) -> &str {
        &self.identity.serial
    }

    fn setup_code(&self) -> &SetupCode {
        &self.identity.setup_code
    }

    fn lock_key(&self, role: Role) -> Option<&SecretKey> {
        self.keys.as_ref().map(|keys| match role {
            Role::Installer => &keys.installer,
            Role::Technician => &keys.technician,
        })
    }

    fn install_keys(&mut self, keys: &LockKeys) -> Status {
        // Claiming is for a factory-new lock; a claimed one must be reset first.
        if self.keys.is_some() {
            return Status::Occupied;
        }
        self.save_keys(keys)
    }

    fn factory_reset(&mut self) -> Status {
        // Settings (the door label, ...) are the door's, not the owner's, and stay. Users and
        // credentials will be erased here too once the lock holds them.
        if self.keys.is_some() {
            if self.store.erase_keys().is_err() {
                return Status::Failure;
            }
            self.store_writes = self.store_writes.saturating_add(1);
            self.keys = None;
        }
        Status::Success
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
