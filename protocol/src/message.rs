//! Message bodies: what a request asks, what a response answers, what an event reports.
//!
//! Bodies are postcard-encoded. Postcard writes an enum as its variant index (a varint)
//! followed by the variant's fields in order, so the order of variants and fields below *is*
//! the wire format. New variants are only ever appended; changing or reordering existing ones
//! is a new [`crate::PROTOCOL_VERSION`]. The golden vectors in `protocol/tests/` pin it.

use heapless::String;
use serde::{Deserialize, Serialize};

use crate::names::CredentialKind;
use crate::refusal::Refusal;
use crate::tz::TimeZoneRule;

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
        /// Seconds since 1970-01-01T00:00:00Z. Before [`EARLIEST_TIME`] is refused
        /// (`InvalidField`, [`crate::Field::Time`]).
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
        /// Fresh random bytes: the exchange's session id, bound into its generator.
        host_nonce: [u8; 16],
        /// The host's CPace share (a compressed ristretto255 point).
        host_share: [u8; 32],
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
        /// The host's ephemeral X25519 public key, fresh for this handshake.
        host_public: [u8; 32],
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
    /// Create (`Add`) or change (`Modify`) user `id` (from 1). `Add` with `id` 0 takes the
    /// lowest free number; the answer carries it. `Add` on a slot holding the very same user
    /// answers as if it had just been added (a resend converges); holding another user,
    /// `Occupied`. A name another user has (see [`crate::names_match`]) is refused
    /// `Duplicate` with that user's number. Answered with [`Response::User`] once in flash.
    PutUser {
        /// User number, 1 to `max_users`; 0 with `Add`: the lowest free one.
        id: u16,
        /// Add or modify.
        write: UserWrite,
        /// The user as it should be.
        spec: UserSpec,
    },
    /// One user, with its credentials' public parts: [`Response::User`] or `NotFound`.
    GetUser {
        /// User number.
        id: u16,
    },
    /// Users with a number above `after`, in order, a page at a time: [`Response::Users`].
    ListUsers {
        /// 0 for the first page, then the last number received.
        after: u16,
    },
    /// Delete a user and all of their credentials.
    RemoveUser {
        /// User number.
        id: u16,
    },
    /// Give a user a PIN (replacing theirs). Refused `Weak`, `Duplicate` (another user holds
    /// it) or `InvalidField` (not digits, or outside the lock's length range). The lock keeps
    /// only a keyed hash of it.
    SetPin {
        /// User number.
        user: u16,
        /// Digits only, as a string so leading zeros are kept.
        pin: Pin,
    },
    /// Remove a user's PIN.
    RemovePin {
        /// User number.
        user: u16,
    },
    /// Give a user an RFID card by its UID (4, 7 or 10 bytes).
    AddCard {
        /// User number.
        user: u16,
        /// The card's UID.
        uid: CardUid,
    },
    /// Take a card from a user.
    RemoveCard {
        /// User number.
        user: u16,
        /// The card's UID.
        uid: CardUid,
    },
    /// Start learning a card: the next card tapped on the lock's reader (within
    /// [`LEARN_SECONDS`]) becomes this user's. Follow it with [`Request::GetEnrollment`].
    LearnCard {
        /// User number.
        user: u16,
    },
    /// Start enrolling a finger on the lock's sensor for this user: several captures, each
    /// reported by [`Request::GetEnrollment`] and an [`Event::Enrollment`].
    EnrollFinger {
        /// User number.
        user: u16,
    },
    /// Where the card learning or finger enrollment stands: [`Response::Enrollment`].
    GetEnrollment,
    /// Stop a card learning or finger enrollment.
    CancelEnrollment,
    /// Remove an enrolled finger (its template slot on the sensor).
    RemoveFinger {
        /// User number.
        user: u16,
        /// Template slot.
        slot: u8,
    },
    /// Give a user a phone key: the phone's Ed25519 public key. The phone proves itself over
    /// BLE by signing the lock's challenge.
    AddPhone {
        /// User number.
        user: u16,
        /// Ed25519 public key.
        public_key: [u8; 32],
    },
    /// Take a phone key from a user.
    RemovePhone {
        /// User number.
        user: u16,
        /// Ed25519 public key.
        public_key: [u8; 32],
    },
    /// The checksum of the users and credentials: [`Response::Checksum`].
    GetChecksum,
    /// The last access attempt and how it was decided: [`Response::LastAccess`].
    GetLastAccess,
    /// The alarms now raised: [`Response::Alarms`].
    GetAlarms,
    /// Log records with `seq >= from_seq`, oldest first, a page at a time: [`Response::Log`].
    /// Reading never erases. Allowed to technicians.
    ReadLog {
        /// First sequence number wanted (1 for everything the lock still holds).
        from_seq: u32,
    },
    /// Check the log's hash chain: [`Response::LogReport`]. Allowed to technicians.
    VerifyLog,
    /// Erase the log (installer). The sequence goes on; the first record after says how many
    /// were removed, and by whom the log was cleared is recorded.
    ClearLog,
    /// Clear the raised alarms (installer); each clearing is logged.
    ClearAlarms,
    /// Remove every credential of one kind from every user, or every user (installer).
    /// Each user's change is in flash before the next begins and is logged as the single
    /// removal would be, so an interrupted clear leaves a consistent lock and a resend
    /// finishes it. Answered with [`Response::Cleared`].
    Clear {
        /// What to remove.
        what: ClearTarget,
    },
    /// The lock's device key: the Ed25519 public key its signed log heads verify with,
    /// answered with [`Response::DeviceKey`], or [`Status::Unsupported`] by a lock without one
    /// ([`Capabilities::signs_log_head`]). A host pins it when it claims the lock. Allowed to
    /// technicians.
    GetDeviceKey,
    /// A checkpoint of the log, signed with the lock's device key when it has one:
    /// [`Response::LogHead`]. Allowed to technicians.
    GetLogHead {
        /// The newest record this host saw before (0: none): the answer says whether the lock
        /// still holds it, with its chain tag.
        seen: u32,
        /// Covered by the signature: fresh random bytes, so an old answer cannot be played
        /// back as a new one, or the digest of a document the head is to vouch for (a
        /// commissioning report).
        nonce: [u8; 32],
    },
}

/// What a [`Request::Clear`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClearTarget {
    /// Every PIN.
    Pins,
    /// Every RFID card.
    Cards,
    /// Every enrolled finger (and its template on the sensor).
    Fingerprints,
    /// Every phone key.
    Phones,
    /// Every user, with their credentials.
    Users,
}

impl ClearTarget {
    /// The credential kind it removes; `None` for [`Self::Users`].
    pub const fn credential(self) -> Option<CredentialKind> {
        match self {
            Self::Pins => Some(CredentialKind::Pin),
            Self::Cards => Some(CredentialKind::Card),
            Self::Fingerprints => Some(CredentialKind::Fingerprint),
            Self::Phones => Some(CredentialKind::Phone),
            Self::Users => None,
        }
    }
}

impl Request {
    /// Whether this request may travel outside a session, in a plaintext frame: the
    /// identification, the claim exchange and the session handshake, nothing else. A host
    /// sends nothing else in clear, and a lock carries out nothing else that comes in clear.
    pub fn travels_in_clear(&self) -> bool {
        matches!(
            self,
            Self::Hello
                | Self::Ping { .. }
                | Self::ClaimStart { .. }
                | Self::ClaimFinish { .. }
                | Self::SessionStart { .. }
                | Self::SessionConfirm { .. }
        )
    }

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
            | Self::EndSession
            | Self::PutUser { .. }
            | Self::GetUser { .. }
            | Self::ListUsers { .. }
            | Self::RemoveUser { .. }
            | Self::SetPin { .. }
            | Self::RemovePin { .. }
            | Self::AddCard { .. }
            | Self::RemoveCard { .. }
            | Self::GetEnrollment
            | Self::CancelEnrollment
            | Self::RemoveFinger { .. }
            | Self::AddPhone { .. }
            | Self::RemovePhone { .. }
            | Self::GetChecksum
            | Self::GetLastAccess
            | Self::GetAlarms
            | Self::ReadLog { .. }
            | Self::VerifyLog
            | Self::ClearAlarms
            | Self::GetDeviceKey
            | Self::GetLogHead { .. }
            // Removing what is already gone removes nothing: a resend finishes the job.
            | Self::Clear { .. } => true,
            // Clearing twice would log a second clearing; an exact resend is answered from the
            // lock's cache instead.
            Self::ClearLog => false,
            // Starting again would restart a capture the person may be half-way through; an
            // exact resend is answered from the lock's cache instead.
            Self::LearnCard { .. } | Self::EnrollFinger { .. } => false,
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
    /// The lock's time zone, a POSIX TZ rule: schedules are in the local time it gives.
    TimeZone(TimeZoneRule),
    /// Seconds the door may stand open after an unlock before the door-ajar alarm; 0
    /// disables, at most 3600.
    DoorAjarSeconds(u16),
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
    /// See [`Setting::TimeZone`].
    pub time_zone: TimeZoneRule,
    /// See [`Setting::DoorAjarSeconds`].
    pub door_ajar_seconds: u16,
}

/// Lock to host, in answer to the request with the same sequence number.
// Variants differ in size (a whole user vs. a status), but there is no heap to box into:
// one response exists at a time, built and encoded in place.
#[allow(clippy::large_enum_variant)]
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
        /// The lock's CPace share (a compressed ristretto255 point).
        lock_share: [u8; 32],
        /// Proof that the lock holds the setup code's verifier (HMAC under the exchange key).
        /// It proves something only to a host whose share was made with the same verifier.
        lock_proof: [u8; 32],
    },
    /// Answer to [`Request::SessionStart`].
    SessionChallenge {
        /// The lock's ephemeral X25519 public key, fresh for this handshake.
        lock_public: [u8; 32],
        /// Proof that the lock holds the role's key.
        lock_proof: [u8; 32],
    },
    /// Refused for now: too many failed authentications. Try again after this long.
    Backoff {
        /// Milliseconds until the lock accepts another attempt.
        retry_after_ms: u32,
    },
    /// One user: answer to [`Request::PutUser`] and [`Request::GetUser`].
    User(User),
    /// A page of users: answer to [`Request::ListUsers`].
    Users {
        /// Up to [`USERS_PAGE`] users, in number order.
        users: heapless::Vec<UserSummary, USERS_PAGE>,
        /// Whether users with higher numbers remain.
        more: bool,
    },
    /// Answer to [`Request::GetEnrollment`].
    Enrollment(Enrollment),
    /// Answer to [`Request::GetChecksum`].
    Checksum {
        /// Users held.
        users: u16,
        /// Credentials held.
        credentials: u16,
        /// [`crate::checksum`] over all of them.
        digest: [u8; 16],
    },
    /// Answer to [`Request::GetLastAccess`]: none since boot, or the last one.
    LastAccess(Option<AccessRecord>),
    /// Answer to [`Request::GetAlarms`].
    Alarms(heapless::Vec<ActiveAlarm, ALARMS_MAX>),
    /// Answer to [`Request::ReadLog`].
    Log {
        /// Up to [`LOG_PAGE`] records, oldest first. Empty when nothing is at or after
        /// `from_seq`.
        records: heapless::Vec<LogRecord, LOG_PAGE>,
        /// The oldest record the lock still holds (a `from_seq` below it means records were
        /// dropped for room: the gap).
        first_seq: u32,
        /// The sequence number the next record will get.
        next_seq: u32,
    },
    /// Answer to [`Request::VerifyLog`].
    LogReport(LogReport),
    /// The request was refused, with where and why: the field, the limit, the user who
    /// already holds the value. The lock core refuses this way; the link itself (another
    /// protocol version, an undecodable body, no session) answers [`Response::Status`].
    Refused(Refusal),
    /// Answer to [`Request::Clear`].
    Cleared {
        /// Credentials (or users) this request removed; 0 when nothing was left.
        removed: u16,
    },
    /// Answer to [`Request::GetDeviceKey`]: the Ed25519 public key.
    DeviceKey([u8; 32]),
    /// Answer to [`Request::GetLogHead`].
    LogHead(LogHead),
}

impl Response {
    /// The refusal this answer is, if it is one: a [`Response::Refused`], or a
    /// [`Response::Status`] other than `Success` (a refusal without detail).
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::Refused(refusal) => Some(*refusal),
            Self::Status(Status::Success) => None,
            Self::Status(status) => Some(Refusal::new(*status)),
            _ => None,
        }
    }
}

/// Log records in one [`Response::Log`] page.
pub const LOG_PAGE: usize = 8;

/// What checking the log's hash chain found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogReport {
    /// Records checked.
    pub records: u32,
    /// Oldest record.
    pub first_seq: u32,
    /// Newest record.
    pub last_seq: u32,
    /// Whether the oldest record's own tag could be checked (it is record 1, or its
    /// predecessor is still held).
    pub anchored: bool,
    /// Where the chain breaks, if it does.
    pub broken: Option<LogBreak>,
    /// Security records held in the reserved area (copies, kept after the log dropped them).
    pub reserved: u32,
    /// Where the reserved area's own chain breaks, if it does.
    pub reserved_broken: Option<LogBreak>,
    /// Routine records dropped to make room since the lock was made.
    pub evicted_routine: u32,
    /// Security records dropped from the reserved area (only ever to make room for newer
    /// security records) since the lock was made.
    pub evicted_security: u32,
}

/// A checkpoint of the lock's log ([`Request::GetLogHead`]), signed with its device key.
///
/// The signature is Ed25519 (RFC 8032) over [`LogHead::signed_bytes`]: the lock's serial,
/// the newest record and its chain tag, the record the host asked about and its tag, and the
/// host's nonce. A host that remembers the last head it saw tells a log that went on from it
/// from one cut back (a lower `seq`) or rewritten (another tag for the record it saw). A lock
/// without a device key ([`Capabilities::signs_log_head`] false) answers the same checkpoint
/// unsigned: then only the session vouches for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogHead {
    /// The newest record (0: the log holds none).
    pub seq: u32,
    /// Its chain tag (all zero when the log holds none).
    pub tag: [u8; LOG_TAG_LEN],
    /// The record the host asked about, as asked.
    pub seen: u32,
    /// That record's chain tag, when the lock still holds it.
    pub seen_tag: Option<[u8; LOG_TAG_LEN]>,
    /// The Ed25519 signature, its R half then its S half; `None` from a lock without a device
    /// key.
    pub signature: Option<[[u8; 32]; 2]>,
}

/// Length of a log record's chain tag.
pub const LOG_TAG_LEN: usize = 8;

impl LogHead {
    /// What the signature starts with: says what the bytes are, so no other signature the
    /// device key makes can pass for a log head.
    pub const CONTEXT: &'static [u8] = b"latchkey log head v1";
    /// Longest [`Self::signed_bytes`]: context, serial length and serial, seq, tag, seen,
    /// held flag, seen tag, nonce.
    pub const SIGNED_MAX: usize =
        Self::CONTEXT.len() + 1 + IDENT_MAX + 4 + LOG_TAG_LEN + 4 + 1 + LOG_TAG_LEN + 32;

    /// The bytes the signature covers: `CONTEXT ‖ len(serial) ‖ serial ‖ seq ‖ tag ‖ seen ‖
    /// held ‖ seen_tag ‖ nonce`, integers little-endian, `held` 1 or 0, and `seen_tag` all zero
    /// when not held.
    pub fn signed_bytes(
        &self,
        serial: &str,
        nonce: &[u8; 32],
    ) -> heapless::Vec<u8, { Self::SIGNED_MAX }> {
        let mut out = heapless::Vec::new();
        let serial = &serial.as_bytes()[..serial.len().min(IDENT_MAX)];
        let held = self.seen_tag.is_some();
        let parts: [&[u8]; 9] = [
            Self::CONTEXT,
            &[serial.len() as u8],
            serial,
            &self.seq.to_le_bytes(),
            &self.tag,
            &self.seen.to_le_bytes(),
            &[u8::from(held)],
            &self.seen_tag.unwrap_or_default(),
            nonce,
        ];
        for part in parts {
            // Cannot overflow: SIGNED_MAX is the sum of the parts' longest lengths.
            let _ = out.extend_from_slice(part);
        }
        out
    }

    /// The signature as the 64 bytes Ed25519 defines, if the lock signed.
    pub fn signature_bytes(&self) -> Option<[u8; 64]> {
        let [r, s] = self.signature?;
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&r);
        out[32..].copy_from_slice(&s);
        Some(out)
    }
}

/// Where and how a log's chain breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogBreak {
    /// Records are missing between `after` and `next` (erased or damaged).
    Gap {
        /// Last good record.
        after: u32,
        /// The record found next.
        next: u32,
    },
    /// Record `seq` was altered (its tag does not follow from its predecessor).
    TagMismatch {
        /// The altered record.
        seq: u32,
    },
    /// Records are out of order after `after`.
    OutOfOrder {
        /// Last good record.
        after: u32,
        /// The record found next.
        next: u32,
    },
    /// Something that is not a record follows `after`.
    Undecodable {
        /// Last good record.
        after: u32,
    },
}

/// Longest user name, in UTF-8 bytes.
pub const USER_NAME_MAX: usize = 24;
/// A user's name.
pub type UserName = String<USER_NAME_MAX>;
/// Longest PIN the wire carries (the lock's own range is in [`Capabilities`]).
pub const PIN_MAX: usize = 12;
/// A PIN: digits, as a string so leading zeros are kept. Its `Debug` never shows the digits,
/// so a request printed in a log or a panic message cannot leak it. On the wire it is a plain
/// string.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pin(String<PIN_MAX>);

impl Pin {
    /// The digits.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl core::ops::Deref for Pin {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl TryFrom<&str> for Pin {
    type Error = ();
    fn try_from(text: &str) -> Result<Self, ()> {
        String::try_from(text).map(Self).map_err(|_| ())
    }
}

impl core::fmt::Debug for Pin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Pin(<{} digits>)", self.0.len())
    }
}

impl core::fmt::Display for Pin {
    /// The digits, for the one place that must show them: a PIN the tool generated.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0.as_str())
    }
}
/// Longest RFID card UID.
pub const CARD_UID_MAX: usize = 10;
/// An RFID card's UID: 4, 7 or 10 bytes.
pub type CardUid = heapless::Vec<u8, CARD_UID_MAX>;
/// Weekly windows a user may have.
pub const WEEKLY_WINDOWS_MAX: usize = 4;
/// Credentials listed per user on the wire (at least the lock's `credentials_per_user`).
pub const CREDENTIALS_MAX: usize = 8;
/// Users in one [`Response::Users`] page.
pub const USERS_PAGE: usize = 6;
/// Alarms reported at once.
pub const ALARMS_MAX: usize = 8;
/// Seconds a card learning or finger enrollment waits for the person.
pub const LEARN_SECONDS: u16 = 30;
/// 2020-01-01T00:00:00Z: the lock refuses to set its clock earlier (a clock that was never
/// set, not a time).
pub const EARLIEST_TIME: u64 = 1_577_836_800;
/// Card UID lengths ISO 14443 allows (4, 7 and 10 bytes), as a
/// [`Capabilities::card_uid_lengths`] mask.
pub const ISO14443_UID_LENGTHS: u16 = 1 << 4 | 1 << 7 | 1 << 10;
/// A finger capture below this quality (0 to 100) does not count towards an enrollment: the
/// person lifts and places the finger again.
pub const CAPTURE_MIN_QUALITY: u8 = 40;

/// Whether [`Request::PutUser`] creates or changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserWrite {
    /// Create; the slot must be free (or hold exactly this user). With id 0: the lowest
    /// free slot.
    Add,
    /// Change; the user must exist. Credentials are kept.
    Modify,
}

/// What kind of user, after Matter's user types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    /// Unrestricted.
    Owner,
    /// Only inside their weekly windows (at least one).
    Scheduled,
    /// Only between `valid_from` and `valid_until` (both required).
    Guest,
    /// One successful use, then refused.
    OneTime,
    /// Refused from `minutes` after the first successful use.
    Expiring {
        /// 1 to 2880.
        minutes: u16,
    },
    /// Opens, and raises a silent duress alarm (someone is being forced).
    Duress,
    /// Holds credentials but never opens (e.g. a card kept on record).
    NonAccess,
}

/// A weekly window: these days, from `start_minute` up to (not including) `end_minute`, in
/// the lock's local time (its [`Setting::TimeZone`] rule; UTC until one is set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyWindow {
    /// Bit 0 Monday ... bit 6 Sunday.
    pub days: u8,
    /// Minutes after midnight, 0 to 1439.
    pub start_minute: u16,
    /// Minutes after midnight, `start_minute + 1` to 1440.
    pub end_minute: u16,
}

/// A user as the installer writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSpec {
    /// A name, 1 to 24 bytes.
    pub name: UserName,
    /// Type.
    pub kind: UserKind,
    /// A disabled user's credentials are all refused; re-enabling restores them.
    pub enabled: bool,
    /// Not before (Unix seconds), if set.
    pub valid_from: Option<u64>,
    /// Not after (Unix seconds), if set.
    pub valid_until: Option<u64>,
    /// Successful uses allowed, if limited (1 to 65535). A one-time user has 1.
    pub use_limit: Option<u16>,
    /// If any, access only inside one of them.
    pub weekly: heapless::Vec<WeeklyWindow, WEEKLY_WINDOWS_MAX>,
}

/// A credential as the lock reports it: never a PIN, only that there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Credential {
    /// A PIN (its value never leaves the lock's keyed hash).
    Pin,
    /// An RFID card.
    Card {
        /// Its UID.
        uid: CardUid,
    },
    /// A finger enrolled on the sensor.
    Fingerprint {
        /// The sensor's template slot.
        slot: u8,
    },
    /// A phone key.
    Phone {
        /// Its Ed25519 public key.
        public_key: [u8; 32],
    },
    /// An RFID card as a technician sees it: a keyed fingerprint of its UID
    /// ([`crate::checksum::credential_fingerprint`]; the same card gives the same fingerprint
    /// on this lock), never the UID, which for a UID-only card is the key to the door.
    CardFingerprint {
        /// The fingerprint.
        fingerprint: [u8; 8],
    },
    /// A phone key as a technician sees it: a keyed fingerprint of the public key.
    PhoneFingerprint {
        /// The fingerprint.
        fingerprint: [u8; 8],
    },
}

/// A user as the lock holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Number, from 1.
    pub id: u16,
    /// As written.
    pub spec: UserSpec,
    /// Uses left when limited; counted down by the lock at each successful use.
    pub uses_left: Option<u16>,
    /// When first used (Unix seconds), for expiring users.
    pub first_used: Option<u64>,
    /// Credentials.
    pub credentials: heapless::Vec<Credential, CREDENTIALS_MAX>,
}

/// A line of the user list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    /// Number.
    pub id: u16,
    /// Name.
    pub name: UserName,
    /// Type.
    pub kind: UserKind,
    /// Enabled.
    pub enabled: bool,
    /// How many credentials.
    pub credentials: u8,
}

/// What is being enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollKind {
    /// A card tapped on the reader.
    Card,
    /// A finger on the sensor.
    Fingerprint,
}

/// Why an enrollment did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollFailure {
    /// The captures were too poor to match reliably.
    PoorQuality,
    /// Nobody presented a card or finger in time.
    TimedOut,
    /// Cancelled over the cable.
    Cancelled,
    /// The card or finger already belongs to another user.
    Duplicate,
    /// No room: the user's credentials or the sensor's slots are full.
    Full,
    /// The lock could not store it: its flash failed or is full.
    Storage,
    /// The fingerprint sensor failed to store the template.
    Sensor,
}

/// Where a card learning or finger enrollment stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Enrollment {
    /// Nothing in progress and nothing to report.
    Idle,
    /// Waiting for the person.
    InProgress {
        /// Card or finger.
        kind: EnrollKind,
        /// For whom.
        user: u16,
        /// Good captures so far.
        captures: u8,
        /// Good captures needed (1 for a card).
        needed: u8,
        /// Quality of the last capture, 0 to 100, if any.
        last_quality: Option<u8>,
        /// Whether the last capture counted towards `captures` (false if it was too poor,
        /// or there was none yet): the lock decides, with [`CAPTURE_MIN_QUALITY`].
        last_good: bool,
        /// Seconds before it times out.
        seconds_left: u16,
    },
    /// Finished: the credential was added.
    Done {
        /// For whom.
        user: u16,
        /// What was added.
        credential: Credential,
    },
    /// Did not complete; nothing was added.
    Failed {
        /// Card or finger.
        kind: EnrollKind,
        /// For whom.
        user: u16,
        /// Why.
        reason: EnrollFailure,
    },
}

/// How someone tried to open the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessPath {
    /// PIN on the keypad.
    Keypad,
    /// RFID card.
    Rfid,
    /// Finger on the sensor.
    Fingerprint,
    /// Phone key over BLE.
    Phone,
    /// The mechanical key.
    MechanicalKey,
}

/// How an access attempt was decided, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessReason {
    /// Opened.
    Granted,
    /// Opened under duress: a silent alarm was raised.
    Duress,
    /// No user holds this credential.
    UnknownCredential,
    /// The user is disabled.
    UserDisabled,
    /// Outside the user's weekly windows.
    OutsideSchedule,
    /// Before the user's `valid_from`.
    NotYetValid,
    /// After the user's `valid_until`, or the expiring user's time is up.
    Expired,
    /// The use limit (or one-time use) is spent.
    UsesExhausted,
    /// A non-access user.
    NonAccessUser,
    /// The keypad is locked out after too many wrong codes.
    KeypadLockedOut,
    /// The phone's signature did not verify.
    BadSignature,
    /// The lock's clock is not set, so a time-limited user cannot be checked.
    ClockNotSet,
    /// Opened with the mechanical key (no credential involved).
    MechanicalKey,
}

/// One access attempt as the lock decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    /// When (the lock's clock, Unix seconds).
    pub at: u64,
    /// How.
    pub path: AccessPath,
    /// Opened or not.
    pub granted: bool,
    /// Whose credential, if it was someone's.
    pub user: Option<u16>,
    /// Why.
    pub reason: AccessReason,
}

/// An alarm the lock raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alarm {
    /// Too many wrong codes: the keypad is locked out.
    WrongCodeLimit,
    /// A duress credential was used (silent at the door).
    Duress,
    /// The escutcheon was removed.
    Tamper,
    /// The door opened without an unlock.
    ForcedOpen,
    /// The door stayed open too long.
    DoorAjar,
    /// The bolt did not move.
    Jammed,
    /// Battery low.
    LowBattery,
    /// Battery critical.
    CriticalBattery,
}

/// An alarm now raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveAlarm {
    /// Which.
    pub alarm: Alarm,
    /// Since when (the lock's clock, Unix seconds); 0 if its clock was not set then.
    pub since: u64,
    /// For an alarm that ends by itself (the keypad lockout of `WrongCodeLimit`): seconds
    /// until it does, rounded up; 0 for the others.
    pub seconds_left: u32,
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
    /// The PIN is too easy to guess (one digit repeated, a straight run, ...).
    Weak,
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
            Self::Weak => "weak",
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
    /// The salt of the lock's claim verifier: a host derives the verifier from the setup
    /// code with it ([`crate::crypto::ClaimVerifier::derive`]) before a claim or a reset.
    /// All zeros: the lock holds no factory data ([`LockInfo::has_factory_data`]).
    pub claim_salt: [u8; 16],
}

impl LockInfo {
    /// Whether the lock holds its factory data (a claim verifier). One that does not (never
    /// provisioned, or a damaged factory page) says so with an all-zero `claim_salt`, and
    /// answers `ClaimStart` with `Failure`: it cannot be claimed or factory-reset.
    pub fn has_factory_data(&self) -> bool {
        self.claim_salt != [0; 16]
    }
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
    /// Event-log records it keeps at least, once full (records of typical size; smaller ones,
    /// e.g. without a time after a power cut, fit more).
    pub log_capacity: u32,
    /// Which access paths the hardware has.
    pub access_paths: AccessPaths,
    /// Requests it accepts before answering the first (pipelining depth).
    pub max_in_flight: u8,
    /// Largest frame it accepts, before COBS, in bytes.
    pub max_frame_len: u16,
    /// Card UID lengths it accepts: bit `n` set means `n` bytes
    /// ([`ISO14443_UID_LENGTHS`]: 4, 7 and 10).
    pub card_uid_lengths: u16,
    /// Whether it holds a device key and signs log heads ([`Request::SignLogHead`]); a lock
    /// without answers [`Status::Unsupported`].
    pub signs_log_head: bool,
}

impl Capabilities {
    /// Whether a card UID of `len` bytes is one the lock accepts.
    pub const fn card_uid_length_ok(&self, len: usize) -> bool {
        len < 16 && self.card_uid_lengths & (1 << len) != 0
    }
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
    /// Lowest voltage seen under motor load since the last reading at rest, millivolts (the
    /// figure that tells whether the motor will still move the bolt).
    pub loaded_millivolts: u16,
    /// Estimated bolt operations left before the battery is critical.
    pub operations_left: u32,
    /// When fresh batteries were last detected (the lock's clock), if ever.
    pub replaced_at: Option<u64>,
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
    /// Why the lock last started.
    pub reset_reason: ResetReason,
    /// Records in the event log.
    pub log_records: u32,
    /// Records the event log keeps at least (see [`Capabilities::log_capacity`]).
    pub log_capacity: u32,
    /// Users held.
    pub users: u16,
    /// Whether the bolt is thrown.
    pub bolt_locked: bool,
    /// Whether the door is open.
    pub door_open: bool,
    /// Bolt operations since boot.
    pub motor_runs: u32,
    /// Duration of the last bolt operation, milliseconds.
    pub motor_last_ms: u16,
    /// Peak motor current of the last bolt operation, milliamps.
    pub motor_last_ma: u16,
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
    /// An access attempt was decided.
    Access(AccessRecord),
    /// A card learning or finger enrollment moved on (a capture, done, failed).
    Enrollment(Enrollment),
    /// An alarm was raised.
    AlarmRaised(Alarm),
    /// A record was added to the event log (for `latchkey log follow`).
    Logged(LogRecord),
}

// ---- the lock's event log -------------------------------------------------------------------

/// One record of the lock's own event log. Sequence numbers start at 1, never repeat (not
/// across restarts, power cuts or a full log), and a gap shows records lost to capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Sequence number.
    pub seq: u32,
    /// The lock's clock when it happened (Unix seconds); 0 when the clock was not set.
    pub at: u64,
    /// What happened.
    pub entry: LogEntry,
}

/// What a log record says. Never a secret: no PIN, no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogEntry {
    /// An access attempt and its decision.
    Access {
        /// How.
        path: AccessPath,
        /// Opened or not.
        granted: bool,
        /// Whose credential, if someone's.
        user: Option<u16>,
        /// Why.
        reason: AccessReason,
    },
    /// A change made over the cable, and by whom.
    Change {
        /// What changed.
        what: ChangeKind,
        /// Installer or technician.
        role: Role,
        /// The user it concerns, if any.
        user: Option<u16>,
    },
    /// An alarm was raised or cleared.
    Alarm {
        /// Which.
        alarm: Alarm,
        /// Raised (true) or cleared (false).
        raised: bool,
    },
    /// The battery crossed a threshold or was replaced.
    Battery {
        /// Voltage at rest, millivolts.
        millivolts: u16,
        /// State now.
        state: BatteryState,
        /// True when a fresh battery was detected.
        replaced: bool,
    },
    /// The lock started.
    PowerUp {
        /// Boot counter.
        boot_count: u32,
        /// Why it (re)started.
        reason: ResetReason,
    },
    /// The clock was set over the cable.
    ClockSet {
        /// Reading before (Unix seconds; 0 if it was not set).
        from: u64,
        /// Reading after.
        to: u64,
    },
    /// A management session opened or closed.
    Session {
        /// As whom.
        role: Role,
        /// Opened (true) or closed (false).
        opened: bool,
    },
    /// An authentication failed (wrong setup code, wrong session proof).
    AuthFailed {
        /// During a claim or factory-reset exchange (true) or a session handshake (false).
        claim: bool,
    },
    /// The log was cleared by an installer (this is the first record after).
    Cleared {
        /// Records that were removed.
        removed: u32,
    },
    /// A PIN was refused over the cable because another user holds it (`Duplicate`): an
    /// installer probing for others' PINs shows up here.
    DuplicatePin {
        /// Who tried.
        role: Role,
        /// The user the PIN was for.
        user: Option<u16>,
    },
    /// The end of a burst of identical refusals: the burst's first attempt has its own record
    /// (written as it happened, so a power cut cannot hide it); this one counts the
    /// `count` more that followed, each within [`BURST_GAP_SECONDS`] of the one before, the
    /// last at the record's time.
    Repeated {
        /// What was repeated.
        of: Repeat,
        /// Attempts after the first (a longer burst goes on in a new one).
        count: u16,
        /// When the first attempt was (Unix seconds; 0 when the clock was not set).
        first: u64,
    },
    /// The door sensor saw the door open or close (a forced opening is also an alarm).
    Door {
        /// Opened (true) or closed (false).
        open: bool,
    },
}

/// Attempts closer together than this belong to one burst ([`LogEntry::Repeated`]).
pub const BURST_GAP_SECONDS: u32 = 120;

/// A refusal that repeats, as a burst of them is logged ([`LogEntry::Repeated`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Repeat {
    /// A refused access attempt ([`LogEntry::Access`] with `granted: false`).
    Access {
        /// How.
        path: AccessPath,
        /// Whose credential, if someone's.
        user: Option<u16>,
        /// Why it was refused.
        reason: AccessReason,
    },
    /// [`LogEntry::AuthFailed`].
    AuthFailed {
        /// During a claim or factory-reset exchange.
        claim: bool,
    },
    /// [`LogEntry::DuplicatePin`].
    DuplicatePin {
        /// Who tried.
        role: Role,
        /// The user the PIN was for.
        user: Option<u16>,
    },
}

impl Repeat {
    /// The repeatable part of `entry`, if it is a refusal that bursts coalesce.
    pub const fn of(entry: &LogEntry) -> Option<Self> {
        match *entry {
            LogEntry::Access { path, granted: false, user, reason } => {
                Some(Self::Access { path, user, reason })
            }
            LogEntry::AuthFailed { claim } => Some(Self::AuthFailed { claim }),
            LogEntry::DuplicatePin { role, user } => Some(Self::DuplicatePin { role, user }),
            _ => None,
        }
    }

    /// The record of one such attempt.
    pub const fn entry(self) -> LogEntry {
        match self {
            Self::Access { path, user, reason } => {
                LogEntry::Access { path, granted: false, user, reason }
            }
            Self::AuthFailed { claim } => LogEntry::AuthFailed { claim },
            Self::DuplicatePin { role, user } => LogEntry::DuplicatePin { role, user },
        }
    }
}

/// Which records the log keeps the longest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogClass {
    /// Everyday records: dropped, oldest first, to make room.
    Routine,
    /// What an investigation needs (claims, resets, key rotations, duress, tamper, a forced
    /// door, lockouts, failed authentications, clock sets, log clears): also copied to a
    /// reserved area only other security records take room from.
    Security,
}

impl LogEntry {
    /// The record's class: one definition, for the lock that keeps the records and the host
    /// that reports them.
    pub const fn class(&self) -> LogClass {
        let security = match *self {
            Self::Access { reason, .. } => matches!(reason, AccessReason::Duress),
            Self::Change { what, .. } => matches!(
                what,
                ChangeKind::Claimed
                    | ChangeKind::FactoryReset
                    | ChangeKind::KeysRotated
                    | ChangeKind::AlarmsCleared
                    | ChangeKind::LogCleared
            ),
            Self::Alarm { alarm, .. } => matches!(
                alarm,
                Alarm::WrongCodeLimit | Alarm::Duress | Alarm::Tamper | Alarm::ForcedOpen
            ),
            Self::ClockSet { .. }
            | Self::AuthFailed { .. }
            | Self::Cleared { .. }
            | Self::DuplicatePin { .. } => true,
            Self::Repeated { of, .. } => !matches!(of, Repeat::Access { .. }),
            Self::Battery { .. }
            | Self::PowerUp { .. }
            | Self::Session { .. }
            | Self::Door { .. } => false,
        };
        if security { LogClass::Security } else { LogClass::Routine }
    }
}

/// A change made over the cable, as the log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The lock was claimed.
    Claimed,
    /// The lock was factory-reset.
    FactoryReset,
    /// The keys were rotated.
    KeysRotated,
    /// A setting changed.
    Setting,
    /// A user was added.
    UserAdded,
    /// A user was changed (name, rules, enabled).
    UserChanged,
    /// A user was removed.
    UserRemoved,
    /// A PIN was set.
    PinSet,
    /// A PIN was removed.
    PinRemoved,
    /// A card was added.
    CardAdded,
    /// A card was removed.
    CardRemoved,
    /// A finger was enrolled.
    FingerAdded,
    /// A finger was removed.
    FingerRemoved,
    /// A phone key was added.
    PhoneAdded,
    /// A phone key was removed.
    PhoneRemoved,
    /// Alarms were cleared.
    AlarmsCleared,
    /// The time zone rule changed.
    TimeZone,
    /// The event log was cleared (the record right after its `Cleared` record).
    LogCleared,
}

/// Why the lock (re)started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetReason {
    /// Power was applied (first boot, new battery, a power cut).
    #[default]
    PowerOn,
    /// A watchdog or software reset.
    Reset,
    /// The firmware panicked; the reason was recorded.
    Panic,
}
