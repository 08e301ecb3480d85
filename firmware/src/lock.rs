//! The lock core: owns the store, the clock and the battery, and answers requests.
//!
//! Every rule is enforced here, so it holds whichever host sends the request: what each
//! kind of link may ask ([`authorize`]), the settings' ranges, and the keys that make a lock
//! claimed. The handshakes and sealed frames that establish *how* a request arrived are the
//! link's (`session`); what that allows is decided here.

use latchkey_protocol::checksum;
use latchkey_protocol::crypto::{SecretKey, SetupCode};
use latchkey_protocol::{
    AccessPaths, Capabilities, ClockReading, Diagnostics, Ident, LockInfo, MAX_FRAME_LEN,
    PROTOCOL_VERSION, Request, Response, Role, Setting, Settings, Status,
};

use crate::access::AccessState;
use crate::battery;
use crate::hal::{Battery, Clock, Devices, FingerprintSensor, NorFlash, Rng};
use crate::link::LinkStats;
use crate::store::{LockKeys, Store, StoreError};
use crate::users::{CREDENTIALS_PER_USER, MAX_USERS};

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
        max_users: MAX_USERS,
        credentials_per_user: CREDENTIALS_PER_USER as u8,
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
                | R::GetUser { .. }
                | R::ListUsers { .. }
                | R::GetChecksum
                | R::GetLastAccess
                | R::GetAlarms
                | R::GetEnrollment
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
pub struct Lock<F: NorFlash, C: Clock, B: Battery, R: Rng, D: Devices> {
    pub(crate) store: Store<F>,
    pub(crate) clock: C,
    pub(crate) battery: B,
    pub(crate) rng: R,
    pub(crate) devices: D,
    pub(crate) identity: Identity,
    /// Copy of what is in flash, so reads cost no flash scan.
    pub(crate) settings: Settings,
    /// Copy of the stored keys; `None` while unclaimed.
    keys: Option<LockKeys>,
    /// Copy of the stored PIN key; `None` while unclaimed.
    pub(crate) pin_key: Option<SecretKey>,
    boot_count: u32,
    pub(crate) store_writes: u32,
    /// What lives in RAM only: the last access, the alarms, the enrollment, the keypad
    /// lockout, the bolt, the events not yet sent.
    pub(crate) access: AccessState,
}

impl<F: NorFlash, C: Clock, B: Battery, R: Rng, D: Devices> Lock<F, C, B, R, D> {
    /// Boots the core: counts the boot in flash and loads the settings and keys. `devices`
    /// are what the core drives (the bolt motor) and asks (the fingerprint sensor).
    pub fn boot(
        mut store: Store<F>,
        clock: C,
        battery: B,
        rng: R,
        devices: D,
        identity: Identity,
    ) -> Result<Self, StoreError> {
        let boot_count = store.increment_boot_count()?;
        let mut store_writes = 1;
        let settings = store.settings()?;
        let keys = store.keys()?;
        let mut pin_key = store.pin_key()?;
        if let (Some(keys), None) = (&keys, &pin_key) {
            // Claimed by a firmware that kept no PIN key: derive it as a claim does.
            let key = checksum::pin_key(&keys.installer);
            store.save_pin_key(&key)?;
            store_writes += 1;
            pin_key = Some(key);
        }
        Ok(Self {
            store,
            clock,
            battery,
            rng,
            devices,
            identity,
            settings,
            keys,
            pin_key,
            boot_count,
            store_writes,
            access: AccessState::new(),
        })
    }

    /// The board's devices (the simulator reaches its sensor through this).
    pub fn devices(&mut self) -> &mut D {
        &mut self.devices
    }

    /// Powers the core off: gives the flash and the devices back as they are (a simulated
    /// power cut boots a new core on them). Everything in RAM is lost, as on a real cut.
    pub fn power_off(self) -> (F, D) {
        (self.store.into_flash(), self.devices)
    }

    /// The lock's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The lock's serial number.
    pub fn serial_number(&self) -> &str {
        &self.identity.serial
    }

    pub(crate) fn note_store_write(&mut self) {
        self.store_writes = self.store_writes.saturating_add(1);
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

impl<F: NorFlash, C: Clock, B: Battery, R: Rng, D: Devices> Handler for Lock<F, C, B, R, D> {
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
            Request::PutUser { id, write, spec } => self.put_user(*id, *write, spec),
            Request::GetUser { id } => self.get_user(*id),
            Request::ListUsers { after } => self.list_users(*after),
            Request::RemoveUser { id } => Response::Status(self.remove_user(*id)),
            Request::SetPin { user, pin } => Response::Status(self.set_pin(*user, pin)),
            Request::RemovePin { user } => Response::Status(self.remove_pin(*user)),
            Request::AddCard { user, uid } => Response::Status(self.add_card(*user, uid)),
            Request::RemoveCard { user, uid } => Response::Status(self.remove_card(*user, uid)),
            Request::AddPhone { user, public_key } => {
                Response::Status(self.add_phone(*user, public_key))
            }
            Request::RemovePhone { user, public_key } => {
                Response::Status(self.remove_phone(*user, public_key))
            }
            Request::RemoveFinger { user, slot } => {
                Response::Status(self.remove_finger(*user, *slot))
            }
            Request::GetChecksum => self.checksum(),
            Request::LearnCard { user } => self.start_learn_card(*user),
            Request::EnrollFinger { user } => self.start_enroll_finger(*user),
            Request::GetEnrollment => Response::Enrollment(self.enrollment()),
            Request::CancelEnrollment => Response::Status(self.cancel_enrollment()),
            Request::GetLastAccess => Response::LastAccess(self.last_access()),
            Request::GetAlarms => Response::Alarms(self.access.alarms.clone()),
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
        // The PIN key first: a cut after it leaves an unclaimed lock whose next claim
        // replaces it; the keys are the commit point.
        let pin_key = checksum::pin_key(&keys.installer);
        if self.store.save_pin_key(&pin_key).is_err() {
            return Status::Failure;
        }
        self.note_store_write();
        self.pin_key = Some(pin_key);
        self.save_keys(keys)
    }

    fn factory_reset(&mut self) -> Status {
        // Settings (the door label, ...) are the door's, not the owner's, and stay, and so do
        // the setup code and the event log. Keys, the PIN key and every user go.
        if self.keys.is_some() {
            if self.store.factory_reset().is_err() {
                return Status::Failure;
            }
            self.note_store_write();
            self.keys = None;
            self.pin_key = None;
            // The sensor's templates belong to the users just erased.
            let sensor = self.devices.fingerprint();
            for slot in 0..sensor.slots() {
                let _ = sensor.delete_template(slot);
            }
            self.access.forget_users();
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
