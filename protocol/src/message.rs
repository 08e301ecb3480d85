//! Message bodies: what a request asks, what a response answers, what an event reports.
//!
//! Bodies are postcard-encoded. Postcard writes an enum as its variant index (a varint)
//! followed by the variant's fields in order, so the order of variants and fields below *is*
//! the wire format. New variants are only ever appended; changing or reordering existing ones
//! is a new [`crate::PROTOCOL_VERSION`]. The golden vectors in `protocol/tests/` pin it.

use heapless::String;
use serde::{Deserialize, Serialize};

/// Longest door label, in UTF-8 bytes.
pub const DOOR_LABEL_MAX: usize = 32;
/// A door label, e.g. "Front door".
pub type DoorLabel = String<DOOR_LABEL_MAX>;
/// Model name, serial number and firmware version strings are at most this long.
pub const IDENT_MAX: usize = 24;
/// An identity string (model, serial number, firmware version).
pub type Ident = String<IDENT_MAX>;

/// Host to lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Who are you? Answered with [`Response::Hello`]. Always allowed.
    Hello,
    /// Liveness check; answered with [`Response::Pong`] carrying the same nonce.
    Ping {
        /// Echoed back.
        nonce: u32,
    },
    /// Read the lock's clock: [`Response::Time`].
    GetTime,
    /// Set the lock's clock (UTC). Answered with [`Response::Time`] showing the new reading.
    SetTime {
        /// Seconds since 1970-01-01T00:00:00Z. Before 2020 is refused as `InvalidField`.
        unix_seconds: u64,
    },
    /// Read the battery: [`Response::Battery`].
    GetBattery,
    /// Read every setting: [`Response::Settings`].
    GetSettings,
    /// Change one setting. Answered with [`Response::Settings`] only once it is in flash.
    SetSetting(Setting),
    /// Read link and store counters: [`Response::Diagnostics`].
    GetDiagnostics,
    /// Begin a claim or factory-reset exchange, proving physical access with the setup code.
    /// Answered with [`Response::ClaimChallenge`]. Always allowed (slowed after failures).
    ClaimStart {
        /// Claim a new lock, or reset a claimed one.
        intent: ClaimIntent,
        /// The host's ephemeral X25519 public key.
        host_public: [u8; 32],
    },
    /// Finish the exchange begun by the last `ClaimStart`: the payload, encrypted under the
    /// exchange key. For a claim: the installer and technician lock keys (64 bytes); for a
    /// reset: nothing. Answered with `Status(Success)` once done and in flash.
    ClaimFinish {
        /// The encrypted payload.
        ciphertext: heapless::Vec<u8, 64>,
        /// Its ChaCha20-Poly1305 tag: proof that the host knows the setup code.
        tag: [u8; 16],
    },
    /// Begin a management session as `role`. Answered with [`Response::SessionChallenge`].
    SessionStart {
        /// Installer or technician.
        role: Role,
        /// Fresh random bytes from the host.
        host_nonce: [u8; 16],
    },
    /// Prove the host holds the role's lock key; answered `Status(Success)`, after which
    /// every request travels sealed.
    SessionConfirm {
        /// HMAC proof.
        host_proof: [u8; 32],
    },
    /// Replace the lock's keys (installer session only, sealed). Answered `Status(Success)`
    /// once in flash; the session goes on under its current keys.
    RotateKeys {
        /// New installer lock key.
        installer_key: [u8; 32],
        /// New technician lock key.
        technician_key: [u8; 32],
    },
    /// Close the session; answered `Status(Success)`.
    EndSession,
}

impl Request {
    /// Whether sending this request twice has the same effect as sending it once, so a client
    /// may resend it after a timeout. Every request so far is: setting a value to what it
    /// already is changes nothing.
    pub fn is_idempotent(&self) -> bool {
        match self {
            Self::Hello
            | Self::Ping { .. }
            | Self::GetTime
            | Self::SetTime { .. }
            | Self::GetBattery
            | Self::GetSettings
            | Self::SetSetting(_)
            | Self::GetDiagnostics
            | Self::RotateKeys { .. }
            | Self::EndSession => true,
            // Each carries fresh randomness or depends on the exchange before it: a resend
            // would start over, so the client restarts the exchange instead.
            Self::ClaimStart { .. }
            | Self::ClaimFinish { .. }
            | Self::SessionStart { .. }
            | Self::SessionConfirm { .. } => false,
        }
    }
}

/// One of the lock's settings with its new value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Setting {
    /// A name for the door, shown in the tool and the log. 1 to 32 bytes of printable UTF-8.
    DoorLabel(DoorLabel),
    /// Seconds after an unlock before the bolt throws again; 0 disables, at most 3600.
    AutoRelockSeconds(u16),
    /// Wrong codes in a row before the keypad locks out; 1 to 255.
    WrongCodeLimit(u8),
    /// How long the keypad stays locked out, in seconds; 1 to 3600.
    LockoutSeconds(u16),
    /// Beeper loudness.
    BeeperVolume(BeeperVolume),
}

/// Beeper loudness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BeeperVolume {
    /// Silent.
    Off,
    /// Quiet.
    Low,
    /// Normal.
    Medium,
    /// Loud.
    High,
}

/// Every setting of the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// See [`Setting::DoorLabel`].
    pub door_label: DoorLabel,
    /// See [`Setting::AutoRelockSeconds`].
    pub auto_relock_seconds: u16,
    /// See [`Setting::WrongCodeLimit`].
    pub wrong_code_limit: u8,
    /// See [`Setting::LockoutSeconds`].
    pub lockout_seconds: u16,
    /// See [`Setting::BeeperVolume`].
    pub beeper_volume: BeeperVolume,
}

/// Lock to host, in answer to the request with the same sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The request was refused, or done with nothing to report ([`Status::Success`]).
    Status(Status),
    /// Answer to [`Request::Hello`].
    Hello(LockInfo),
    /// Answer to [`Request::Ping`].
    Pong {
        /// The request's nonce.
        nonce: u32,
    },
    /// Answer to [`Request::GetTime`] and [`Request::SetTime`].
    Time(ClockReading),
    /// Answer to [`Request::GetBattery`].
    Battery(BatteryReport),
    /// Answer to [`Request::GetSettings`] and [`Request::SetSetting`].
    Settings(Settings),
    /// Answer to [`Request::GetDiagnostics`].
    Diagnostics(Diagnostics),
    /// Answer to [`Request::ClaimStart`].
    ClaimChallenge {
        /// The lock's ephemeral X25519 public key.
        lock_public: [u8; 32],
        /// Proof that the lock knows the setup code (HMAC under the exchange key).
        lock_proof: [u8; 32],
    },
    /// Answer to [`Request::SessionStart`].
    SessionChallenge {
        /// Fresh random bytes from the lock.
        lock_nonce: [u8; 16],
        /// Proof that the lock holds the role's key.
        lock_proof: [u8; 32],
    },
    /// Refused for now: too many failed authentications. Try again after this long.
    Backoff {
        /// Milliseconds until the lock accepts another attempt.
        retry_after_ms: u32,
    },
}

/// Who a session acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Role {
    /// Everything: settings, users, credentials, keys.
    Installer = 0,
    /// Read-only: identity, battery, clock, settings, diagnostics, log, access tests.
    Technician = 1,
}

/// What a claim exchange is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ClaimIntent {
    /// Take ownership of a factory-new lock: install its keys.
    Claim = 0,
    /// Return a claimed lock to factory-new: erase keys, users and credentials (not the log).
    FactoryReset = 1,
}

/// Outcome vocabulary, after Matter's Door Lock cluster, plus what a link needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Done.
    Success,
    /// Failed for a reason not listed here (a flash error, say).
    Failure,
    /// The value is already held elsewhere (another user's PIN or card).
    Duplicate,
    /// The slot is in use.
    Occupied,
    /// A field is out of range or malformed.
    InvalidField,
    /// No room left (users, credentials, flash).
    ResourceExhausted,
    /// No such item.
    NotFound,
    /// The link is not allowed to do this (not claimed, wrong role, no session).
    NotAuthorized,
    /// The lock is busy; try again shortly.
    Busy,
    /// The lock does not know this request or this protocol version.
    Unsupported,
    /// The frame arrived intact but its body could not be decoded.
    BadFrame,
}

impl Status {
    /// A stable lower-case name for scripts and JSON (`"invalid_field"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Duplicate => "duplicate",
            Self::Occupied => "occupied",
            Self::InvalidField => "invalid_field",
            Self::ResourceExhausted => "resource_exhausted",
            Self::NotFound => "not_found",
            Self::NotAuthorized => "not_authorized",
            Self::Busy => "busy",
            Self::Unsupported => "unsupported",
            Self::BadFrame => "bad_frame",
        }
    }
}

impl core::fmt::Display for Status {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The lock's identity and what it can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Model name.
    pub model: Ident,
    /// Serial number, unique per lock.
    pub serial: Ident,
    /// Firmware version, semver.
    pub firmware_version: Ident,
    /// The lock's [`crate::PROTOCOL_VERSION`].
    pub protocol_version: u8,
    /// True on a simulator build, whose physical world is simulated.
    pub simulation: bool,
    /// True once the lock has been claimed: management then needs a session.
    pub claimed: bool,
    /// Capacities and hardware.
    pub capabilities: Capabilities,
}

/// What a lock can hold and do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Users it can hold, numbered from 1.
    pub max_users: u16,
    /// Credentials each user can hold.
    pub credentials_per_user: u8,
    /// Shortest PIN, in digits.
    pub pin_length_min: u8,
    /// Longest PIN, in digits.
    pub pin_length_max: u8,
    /// Event-log records it keeps.
    pub log_capacity: u32,
    /// Which access paths the hardware has.
    pub access_paths: AccessPaths,
    /// Requests it accepts before answering the first (pipelining depth).
    pub max_in_flight: u8,
    /// Largest frame it accepts, before COBS, in bytes.
    pub max_frame_len: u16,
}

/// Access paths a lock's hardware has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessPaths {
    /// PIN keypad.
    pub keypad: bool,
    /// RFID card reader.
    pub rfid: bool,
    /// Fingerprint sensor.
    pub fingerprint: bool,
    /// Phone key over BLE.
    pub phone: bool,
    /// Mechanical key cylinder.
    pub mechanical_key: bool,
}

/// The lock's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockReading {
    /// Seconds since the Unix epoch, UTC, by the lock's clock.
    pub unix_seconds: u64,
    /// False until the clock has been set since the lock last lost power: schedules are then
    /// not trustworthy.
    pub is_set: bool,
    /// Milliseconds since the lock booted.
    pub uptime_ms: u64,
}

/// Battery charge state, decided by the lock from its discharge curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatteryState {
    /// Fine.
    Ok,
    /// Replace soon.
    Low,
    /// Replace now: the motor may soon fail to move the bolt.
    Critical,
}

/// A battery reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatteryReport {
    /// Voltage at rest, millivolts.
    pub millivolts: u16,
    /// Charge left, 0 to 100, from the chemistry's discharge curve.
    pub percent: u8,
    /// Ok, low or critical.
    pub state: BatteryState,
}

/// Counters that tell a technician how the lock and its link are doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Diagnostics {
    /// Milliseconds since boot.
    pub uptime_ms: u64,
    /// Times the lock has booted, from flash.
    pub boot_count: u32,
    /// Frames received intact.
    pub frames_received: u32,
    /// Frames sent.
    pub frames_sent: u32,
    /// Frames dropped: longer than the maximum.
    pub dropped_too_long: u32,
    /// Frames dropped: not valid COBS or shorter than a header.
    pub dropped_malformed: u32,
    /// Frames dropped: CRC mismatch.
    pub dropped_bad_crc: u32,
    /// Frames with an intact CRC whose body could not be decoded (answered `BadFrame`).
    pub dropped_undecodable: u32,
    /// Frames of another protocol version (answered `Unsupported`).
    pub wrong_version: u32,
    /// Writes committed to the flash store since boot.
    pub store_writes: u32,
    /// Sealed frames rejected: forged, altered, replayed or reordered.
    pub sealed_rejected: u32,
    /// Failed authentications (wrong setup code, wrong key) since boot.
    pub auth_failures: u32,
}

/// Unsolicited, lock to host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// The lock (re)started; sent once when it boots.
    Booted {
        /// Boot counter from flash.
        boot_count: u32,
    },
    /// A setting changed.
    SettingChanged(Setting),
    /// The clock was set.
    ClockSet {
        /// New reading, seconds since the Unix epoch.
        unix_seconds: u64,
    },
}
