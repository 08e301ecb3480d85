//! The persistent store: a power-fail-safe key-value map on NOR flash.
//!
//! Built on `sequential-storage`'s [`MapStorage`], which appends items with a CRC and migrates
//! live items page by page, so a power cut at any byte leaves either the old or the new value
//! of a key. Every write returns only once it is in flash: the core answers a change after
//! [`Store`] returned `Ok`, never before ("acknowledged means durable").
//!
//! # Layout
//!
//! All regions are page-aligned ranges of the nRF51822's flash (256 KiB, 1 KiB erase pages,
//! 4-byte program words): the firmware image gets the first 128 KiB, the store the other
//! 128 KiB. See [`crate::region::layout`]; the simulator's flash file has the same size and
//! addresses.

use embassy_embedded_hal::adapter::BlockingAsync;
use embassy_futures::block_on;
use latchkey_protocol::crypto::{KEY_LEN, SecretKey};
use latchkey_protocol::{
    ActiveAlarm, Alarm, BeeperVolume, DoorLabel, Settings, Status, TimeZoneRule,
};
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapStorage, PostcardValue, SerializationError, Value};
use serde::{Deserialize, Serialize};

use crate::hal::{NorFlash, NorFlashError, NorFlashErrorKind};
use crate::region::{Contents, erase_region, layout, scan};
use crate::users::{MAX_USERS, StoredUser};

/// Keys of the settings map. Never renumber: they are on flash.
mod key {
    /// Format marker, written first when a region is formatted.
    pub const FORMAT: u8 = 0;
    /// Boot counter.
    pub const BOOT_COUNT: u8 = 1;
    /// The whole [`latchkey_protocol::Settings`], one record so a change is atomic.
    pub const SETTINGS: u8 = 2;
    /// The lock keys ([`super::KeysRecord`]); `None` once erased by a factory reset.
    pub const KEYS: u8 = 3;
    /// Retired: the setup code itself, which locks no longer keep (never reused).
    pub const _RETIRED_SETUP_CODE: u8 = 4;
    /// The PIN key ([`super::PinKeyRecord`]): set at claim, kept across key rotations,
    /// `None` once erased by a factory reset.
    pub const PIN_KEY: u8 = 5;
    /// `true` while a factory reset is wiping the users: a mount that finds it set finishes
    /// the wipe, so a power cut cannot leave half the users behind.
    pub const WIPE_PENDING: u8 = 6;
    /// Factory data: the key the event log's records are chained with, made by the lock's
    /// RNG at its first boot. A factory reset keeps it (the log stays too).
    pub const LOG_KEY: u8 = 7;
    /// The event log's sequence high-water mark (see [`super::Store::log_seq_mark`]).
    pub const LOG_SEQ_MARK: u8 = 8;
    /// What the battery monitor must remember across a power cut ([`super::BatteryMemo`]).
    pub const BATTERY: u8 = 9;
    /// Retired: the claim verifier, now in its own page ([`crate::factory`]). Never reused.
    pub const _RETIRED_FACTORY_CLAIM: u8 = 10;
    /// Failed authentications in a row (a `u32`), so a power cut does not end a back-off.
    pub const AUTH_FAILURES: u8 = 11;
    /// The door's safety state ([`super::SafetyRecord`]): wrong codes, lockout, alarms.
    pub const SAFETY: u8 = 12;
    /// Log records dropped for room since the lock was made, routine and security (two
    /// `u32`s): written when a full log drops a page, about once per 31 records.
    pub const LOG_EVICTED: u8 = 13;
}

/// Format marker value: "LK" and the layout version of the settings region. A change to the
/// stored types is a new version (and a migration).
pub const FORMAT_VERSION: u32 = 0x4C4B_0001;

/// Why the store failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The flash driver reported an error.
    #[error("flash error: {0}")]
    Flash(NorFlashErrorKind),
    /// The region holds data the store library cannot make sense of, even after its repair.
    #[error("store is corrupted")]
    Corrupted,
    /// No room left in the region.
    #[error("store is full")]
    Full,
    /// The region was formatted by a firmware with another layout.
    #[error("store format {found:#010x} is not the supported {FORMAT_VERSION:#010x}")]
    UnknownFormat {
        /// The marker found.
        found: u32,
    },
    /// A stored value could not be encoded or decoded.
    #[error("stored value could not be encoded or decoded")]
    Value,
    /// The store library reported an internal error.
    #[error("store library error")]
    Internal,
}

impl<E: NorFlashError> From<sequential_storage::Error<E>> for StoreError {
    fn from(error: sequential_storage::Error<E>) -> Self {
        use sequential_storage::Error;
        match error {
            Error::Storage { value, .. } => Self::Flash(value.kind()),
            Error::Corrupted { .. } => Self::Corrupted,
            Error::FullStorage => Self::Full,
            Error::SerializationError(_) | Error::ItemTooBig => Self::Value,
            _ => Self::Internal,
        }
    }
}

/// The status a store failure is answered with: a full region is `ResourceExhausted`, any
/// other fault `Failure`.
impl From<StoreError> for Status {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Full => Status::ResourceExhausted,
            _ => Status::Failure,
        }
    }
}

/// The settings every lock starts with.
pub fn default_settings() -> Settings {
    let mut door_label = DoorLabel::new();
    // "Door" fits the 32-byte label; ignoring the impossible error keeps this infallible.
    let _ = door_label.push_str("Door");
    Settings {
        door_label,
        auto_relock_seconds: 30,
        wrong_code_limit: 5,
        lockout_seconds: 180,
        beeper_volume: BeeperVolume::Medium,
        time_zone: TimeZoneRule::utc(),
        door_ajar_seconds: 60,
    }
}

#[derive(Serialize)]
struct SettingsRecord(Settings);

/// The settings as locks wrote them before the time zone and the door-ajar time existed:
/// such a record still loads, the two new settings at their defaults, so a firmware update
/// keeps the door's label and rules.
#[derive(Deserialize)]
struct SettingsRecordV1 {
    door_label: DoorLabel,
    auto_relock_seconds: u16,
    wrong_code_limit: u8,
    lockout_seconds: u16,
    beeper_volume: BeeperVolume,
}

impl Value<'_> for SettingsRecord {
    fn serialize_into(&self, buffer: &mut [u8]) -> Result<usize, SerializationError> {
        Ok(postcard::to_slice(self, buffer).map(|s| s.len())?)
    }

    fn deserialize_from(buffer: &[u8]) -> Result<(Self, usize), SerializationError> {
        if let Ok(settings) = postcard::from_bytes::<Settings>(buffer) {
            return Ok((Self(settings), buffer.len()));
        }
        let old: SettingsRecordV1 = postcard::from_bytes(buffer)?;
        let settings = Settings {
            door_label: old.door_label,
            auto_relock_seconds: old.auto_relock_seconds,
            wrong_code_limit: old.wrong_code_limit,
            lockout_seconds: old.lockout_seconds,
            beeper_volume: old.beeper_volume,
            ..default_settings()
        };
        Ok((Self(settings), buffer.len()))
    }
}

/// The two keys a claimed lock holds: the installer's and the technician's lock keys. The
/// lock never sees the site keys they are derived from.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LockKeys {
    /// Opens installer sessions (everything).
    pub installer: SecretKey,
    /// Opens technician sessions (read-only).
    pub technician: SecretKey,
}

/// `None` marks the keys erased: the library's advice for flash without multi-write, and an
/// append like any other write, so an erase is exactly as power-cut safe as a settings write.
#[derive(Serialize, Deserialize)]
struct KeysRecord(Option<([u8; KEY_LEN], [u8; KEY_LEN])>);
impl PostcardValue<'_> for KeysRecord {}

impl Drop for KeysRecord {
    fn drop(&mut self) {
        // The store's copies of key material are wiped as soon as they are done with.
        if let Some((installer, technician)) = &mut self.0 {
            zeroize::Zeroize::zeroize(installer);
            zeroize::Zeroize::zeroize(technician);
        }
    }
}

/// What the door must not forget in a power cut: unknown PINs in a row, whether the keypad
/// is locked out, and the active alarms. Compact on purpose (a bit per kind of alarm and its
/// time in seconds): the MCU reads it back on a small stack. A lockout interrupted by a power
/// cut runs again in full (how long the lock was off, it cannot tell).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyRecord {
    /// Unknown PINs in a row.
    pub wrong_codes: u8,
    /// Whether the keypad is locked out.
    pub locked_out: bool,
    /// Bit `n` set: the alarm [`ALARM_KINDS`]`[n]` is raised.
    pub raised: u8,
    /// When each raised alarm was raised (the lock's clock, Unix seconds; 0 if unset).
    pub since: [u32; 8],
}
impl PostcardValue<'_> for SafetyRecord {}

/// Every kind of alarm, in the order of [`SafetyRecord::raised`]'s bits.
pub const ALARM_KINDS: [Alarm; 8] = [
    Alarm::WrongCodeLimit,
    Alarm::Duress,
    Alarm::Tamper,
    Alarm::ForcedOpen,
    Alarm::DoorAjar,
    Alarm::Jammed,
    Alarm::LowBattery,
    Alarm::CriticalBattery,
];

impl SafetyRecord {
    /// The record of this state.
    pub fn of(wrong_codes: u8, locked_out: bool, alarms: &[ActiveAlarm]) -> Self {
        let mut record = Self { wrong_codes, locked_out, ..Self::default() };
        for active in alarms {
            if let Some(bit) = ALARM_KINDS.iter().position(|k| *k == active.alarm) {
                record.raised |= 1 << bit;
                record.since[bit] = u32::try_from(active.since).unwrap_or(u32::MAX);
            }
        }
        record
    }

    /// The alarms it records as raised, in [`ALARM_KINDS`] order.
    pub fn alarms(&self) -> impl Iterator<Item = ActiveAlarm> + '_ {
        ALARM_KINDS.iter().enumerate().filter(|(bit, _)| self.raised & (1 << bit) != 0).map(
            |(bit, alarm)| ActiveAlarm {
                alarm: *alarm,
                since: u64::from(self.since[bit]),
                seconds_left: 0,
            },
        )
    }
}

#[derive(Serialize, Deserialize)]
struct PinKeyRecord(Option<[u8; KEY_LEN]>);
impl PostcardValue<'_> for PinKeyRecord {}

#[derive(Serialize, Deserialize)]
struct EvictedRecord(u32, u32);
impl PostcardValue<'_> for EvictedRecord {}

impl Drop for PinKeyRecord {
    fn drop(&mut self) {
        if let Some(key) = &mut self.0 {
            zeroize::Zeroize::zeroize(key);
        }
    }
}

#[derive(Serialize, Deserialize)]
struct LogKeyRecord([u8; KEY_LEN]);
impl PostcardValue<'_> for LogKeyRecord {}

impl Drop for LogKeyRecord {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// What the battery monitor keeps in flash, written only when the battery's state changes:
/// the state last announced, the rest voltage then, and when fresh batteries were last
/// detected. Batteries are usually changed with the power off, so telling a replacement needs
/// the reading from before the cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BatteryMemo {
    /// 0 ok, 1 low, 2 critical.
    pub state: u8,
    /// Rest voltage when the state was announced, millivolts.
    pub millivolts: u16,
    /// The lock's clock when fresh batteries were last detected.
    pub replaced_at: Option<u64>,
}
impl PostcardValue<'_> for BatteryMemo {}

/// A user slot in the credentials map. A removed user is a `Removed` record (flash that
/// cannot rewrite a word in place has no cheaper delete), so the newest record of a slot
/// always says what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Only ever a value being decoded, on the stack: the empty variant costs nothing to keep.
#[allow(clippy::large_enum_variant)]
pub enum UserRecord {
    /// No user in this slot.
    Removed,
    /// A user (first layout of the record).
    V1(StoredUser),
}

/// [`UserRecord`] as written, borrowing the user: the same encoding.
#[derive(Serialize)]
enum UserRecordRef<'a> {
    Removed,
    V1(&'a StoredUser),
}

/// Longest key + user record in bytes, rounded to a word (a unit test checks the largest
/// user fits).
pub const USER_RECORD_MAX: usize = 416;

/// Scratch buffer for the store library: the largest key + value, rounded to a word. The
/// alignment is what the nRF51 NVMC needs for word writes from RAM.
#[repr(C, align(4))]
struct Scratch([u8; USER_RECORD_MAX]);

/// Uncached: a scan of a region costs less than a cache's RAM, and the maps are made per
/// operation over the one flash (both regions live on it).
type Map<'f, F, K> =
    MapStorage<K, BlockingAsync<&'f mut F>, Cache<Uncached, Uncached, Uncached, K>>;

fn settings_map<F: NorFlash>(flash: &mut F) -> Map<'_, F, u8> {
    MapStorage::new(
        BlockingAsync::new(flash),
        const { MapConfig::new(layout::SETTINGS) },
        Cache::new_uncached(),
    )
}

fn users_map<F: NorFlash>(flash: &mut F) -> Map<'_, F, u16> {
    MapStorage::new(
        BlockingAsync::new(flash),
        const { MapConfig::new(layout::CREDENTIALS) },
        Cache::new_uncached(),
    )
}

/// The lock's persistent store.
pub struct Store<F: NorFlash> {
    flash: F,
    scratch: Scratch,
}

impl<F: NorFlash> Store<F> {
    /// Mounts the store on `flash`, formatting the settings region if it holds no store.
    ///
    /// A region whose every byte is 0x00 or 0xFF holds no store: the format marker, the first
    /// item ever written and never removed, has other bytes (and so does every item's CRC).
    /// Such a region is flash nobody programmed (it reads 0x00 on the nRF51 under QEMU, which
    /// sequential-storage would take for a region of closed, corrupted pages) or a format that
    /// a power cut interrupted; it is erased. A region that ever acknowledged a write always
    /// holds the marker, so it is never erased here: whatever a power cut left, the library
    /// repairs; what it cannot repair is reported as [`StoreError::Corrupted`]. The
    /// credentials region is formatted the same way, and a factory reset that a power cut
    /// interrupted is finished here.
    pub fn mount(mut flash: F) -> Result<Self, StoreError> {
        const {
            // The layout is in nRF51 pages; a flash with another geometry needs another layout.
            assert!(F::ERASE_SIZE == layout::PAGE_SIZE as usize);
            assert!(F::WRITE_SIZE <= layout::WORD_SIZE as usize);
        }
        for region in [layout::SETTINGS, layout::CREDENTIALS] {
            if scan(&mut flash, region.clone()).map_err(StoreError::Flash)? == Contents::Blank {
                erase_region(&mut flash, region).map_err(StoreError::Flash)?;
            }
        }
        let mut store = Self { flash, scratch: Scratch([0; USER_RECORD_MAX]) };
        match store.fetch::<u32>(key::FORMAT)? {
            Some(FORMAT_VERSION) => {}
            Some(found) => return Err(StoreError::UnknownFormat { found }),
            // Erased, or the power went while the marker was being written: (re)write it.
            None => store.put(key::FORMAT, &FORMAT_VERSION)?,
        }
        if store.fetch::<bool>(key::WIPE_PENDING)? == Some(true) {
            store.finish_wipe()?;
        }
        Ok(store)
    }

    /// Gives the flash back (a simulated power cut boots a new core on it).
    pub fn into_flash(self) -> F {
        self.flash
    }

    /// The boot counter (0 before the first boot).
    pub fn boot_count(&mut self) -> Result<u32, StoreError> {
        Ok(self.fetch::<u32>(key::BOOT_COUNT)?.unwrap_or(0))
    }

    /// Adds one to the boot counter and returns the new count, once it is in flash.
    pub fn increment_boot_count(&mut self) -> Result<u32, StoreError> {
        let count = self.boot_count()?.saturating_add(1);
        self.put(key::BOOT_COUNT, &count)?;
        Ok(count)
    }

    /// The stored settings, or [`default_settings`] if none were ever stored.
    pub fn settings(&mut self) -> Result<Settings, StoreError> {
        Ok(self
            .fetch::<SettingsRecord>(key::SETTINGS)?
            .map_or_else(default_settings, |record| record.0))
    }

    /// Stores `settings`; returns once they are in flash.
    pub fn save_settings(&mut self, settings: &Settings) -> Result<(), StoreError> {
        // Clone into the record wrapper: Settings is ~40 bytes, cheaper than a borrow-wrapper type.
        self.put(key::SETTINGS, &SettingsRecord(settings.clone()))
    }

    /// The lock keys, or `None` if the lock is not claimed (never was, or factory reset).
    pub fn keys(&mut self) -> Result<Option<LockKeys>, StoreError> {
        let record = self.fetch::<KeysRecord>(key::KEYS)?;
        let result = record
            .as_ref()
            .and_then(|r| r.0.as_ref())
            .map(|(i, t)| LockKeys { installer: SecretKey(*i), technician: SecretKey(*t) });
        // The scratch buffer held the serialized keys: wipe it too.
        zeroize::Zeroize::zeroize(&mut self.scratch.0);
        Ok(result)
    }

    /// Stores the lock keys (a claim, or a rotation); returns once they are in flash.
    pub fn save_keys(&mut self, keys: &LockKeys) -> Result<(), StoreError> {
        let record = KeysRecord(Some((keys.installer.0, keys.technician.0)));
        let result = self.put(key::KEYS, &record);
        zeroize::Zeroize::zeroize(&mut self.scratch.0);
        result
    }

    /// The key PINs are hashed with, if the lock holds one (claimed).
    pub fn pin_key(&mut self) -> Result<Option<SecretKey>, StoreError> {
        let record = self.fetch::<PinKeyRecord>(key::PIN_KEY)?;
        let result = record.as_ref().and_then(|r| r.0).map(SecretKey);
        zeroize::Zeroize::zeroize(&mut self.scratch.0);
        Ok(result)
    }

    /// Stores the PIN key (at claim); returns once it is in flash.
    pub fn save_pin_key(&mut self, pin_key: &SecretKey) -> Result<(), StoreError> {
        let result = self.put(key::PIN_KEY, &PinKeyRecord(Some(pin_key.0)));
        zeroize::Zeroize::zeroize(&mut self.scratch.0);
        result
    }

    /// The event log's key, if one was made.
    pub fn log_key(&mut self) -> Result<Option<[u8; KEY_LEN]>, StoreError> {
        let result = self.fetch::<LogKeyRecord>(key::LOG_KEY)?.map(|r| r.0);
        zeroize::Zeroize::zeroize(&mut self.scratch.0);
        Ok(result)
    }

    /// Stores the event log's key (factory data: once, at the first boot).
    pub fn save_log_key(&mut self, log_key: &[u8; KEY_LEN]) -> Result<(), StoreError> {
        let result = self.put(key::LOG_KEY, &LogKeyRecord(*log_key));
        zeroize::Zeroize::zeroize(&mut self.scratch.0);
        result
    }

    /// The event log's sequence high-water mark: a `next_seq` the log had reached (stored
    /// every [`crate::log`]-defined interval), 0 if none.
    pub fn log_seq_mark(&mut self) -> Result<u32, StoreError> {
        Ok(self.fetch::<u32>(key::LOG_SEQ_MARK)?.unwrap_or(0))
    }

    /// Stores the event log's sequence high-water mark.
    pub fn save_log_seq_mark(&mut self, next_seq: u32) -> Result<(), StoreError> {
        self.put(key::LOG_SEQ_MARK, &next_seq)
    }

    /// The safety state as last recorded, if ever.
    pub fn safety(&mut self) -> Result<Option<SafetyRecord>, StoreError> {
        self.fetch::<SafetyRecord>(key::SAFETY)
    }

    /// Records the safety state; written on its edges (a wrong code, a lockout that starts or
    /// ends, an alarm raised or cleared), never on a granted entry that changes nothing.
    pub fn save_safety(&mut self, record: &SafetyRecord) -> Result<(), StoreError> {
        self.put(key::SAFETY, record)
    }

    /// Failed authentications in a row, as last recorded (0 if never).
    pub fn auth_failures(&mut self) -> Result<u32, StoreError> {
        Ok(self.fetch::<u32>(key::AUTH_FAILURES)?.unwrap_or(0))
    }

    /// Records the count of failed authentications in a row; written on each failure and on
    /// the success that ends a run (the back-off bounds how often: at most one a minute once
    /// it is long).
    pub fn save_auth_failures(&mut self, failures: u32) -> Result<(), StoreError> {
        self.put(key::AUTH_FAILURES, &failures)
    }

    /// Log records dropped for room since the lock was made: (routine, security).
    pub fn log_evicted(&mut self) -> Result<(u32, u32), StoreError> {
        Ok(self.fetch::<EvictedRecord>(key::LOG_EVICTED)?.map_or((0, 0), |r| (r.0, r.1)))
    }

    /// Records the totals of log records dropped for room.
    pub fn save_log_evicted(&mut self, routine: u32, security: u32) -> Result<(), StoreError> {
        self.put(key::LOG_EVICTED, &EvictedRecord(routine, security))
    }

    /// What the battery monitor stored, if anything.
    pub fn battery_memo(&mut self) -> Result<Option<BatteryMemo>, StoreError> {
        self.fetch::<BatteryMemo>(key::BATTERY)
    }

    /// Stores what the battery monitor must remember.
    pub fn save_battery_memo(&mut self, memo: &BatteryMemo) -> Result<(), StoreError> {
        self.put(key::BATTERY, memo)
    }

    /// The flash, for the event log (which shares it, in its own region).
    pub(crate) fn flash_mut(&mut self) -> &mut F {
        &mut self.flash
    }

    /// Factory reset of the store: erases the lock keys, the PIN key and every user, keeping
    /// the settings, the setup code (and the event log). Power-cut safe: a flag written first
    /// makes the next mount finish an interrupted wipe.
    pub fn factory_reset(&mut self) -> Result<(), StoreError> {
        self.put(key::WIPE_PENDING, &true)?;
        self.finish_wipe()
    }

    fn finish_wipe(&mut self) -> Result<(), StoreError> {
        self.put(key::KEYS, &KeysRecord(None))?;
        self.put(key::PIN_KEY, &PinKeyRecord(None))?;
        erase_region(&mut self.flash, layout::CREDENTIALS).map_err(StoreError::Flash)?;
        self.put(key::WIPE_PENDING, &false)
    }

    /// User `id`, if the slot holds one.
    pub fn user(&mut self, id: u16) -> Result<Option<StoredUser>, StoreError> {
        let mut map = users_map(&mut self.flash);
        let Some(bytes) = block_on(map.fetch_item::<&[u8]>(&mut self.scratch.0, &id))? else {
            return Ok(None);
        };
        match postcard::from_bytes::<UserRecord>(bytes).map_err(|_| StoreError::Value)? {
            UserRecord::Removed => Ok(None),
            UserRecord::V1(user) => Ok(Some(user)),
        }
    }

    /// Stores user `id`; returns once it is in flash. A full region is [`StoreError::Full`].
    pub fn save_user(&mut self, id: u16, user: &StoredUser) -> Result<(), StoreError> {
        self.put_user(id, &UserRecordRef::V1(user))
    }

    /// Empties slot `id`; returns once that is in flash.
    pub fn remove_user(&mut self, id: u16) -> Result<(), StoreError> {
        self.put_user(id, &UserRecordRef::Removed)
    }

    fn put_user(&mut self, id: u16, record: &UserRecordRef<'_>) -> Result<(), StoreError> {
        let mut value = [0u8; USER_RECORD_MAX];
        let bytes = postcard::to_slice(record, &mut value).map_err(|_| StoreError::Value)?;
        let mut map = users_map(&mut self.flash);
        Ok(block_on(map.store_item::<&[u8]>(&mut self.scratch.0, &id, &&*bytes))?)
    }

    /// Calls `f` with every user, in slot order... of the flash, not of the number: the
    /// map's items are read twice, first to find each slot's newest record, then to decode
    /// those. Two scans of the region, however many users; no RAM beyond a slot table.
    pub fn for_each_user(&mut self, mut f: impl FnMut(u16, &StoredUser)) -> Result<(), StoreError> {
        // newest[id] = ordinal (from 1) of the newest record of slot `id`.
        let mut newest = [0u16; MAX_USERS as usize + 1];
        let mut map = users_map(&mut self.flash);
        {
            let mut items = block_on(map.fetch_all_items(&mut self.scratch.0))?;
            let mut ordinal = 0u16;
            while let Some((id, _)) = block_on(items.next::<&[u8]>(&mut self.scratch.0))? {
                ordinal = ordinal.saturating_add(1);
                if let Some(slot) = newest.get_mut(usize::from(id)) {
                    *slot = ordinal;
                }
            }
        }
        let mut items = block_on(map.fetch_all_items(&mut self.scratch.0))?;
        let mut ordinal = 0u16;
        while let Some((id, bytes)) = block_on(items.next::<&[u8]>(&mut self.scratch.0))? {
            ordinal = ordinal.saturating_add(1);
            if newest.get(usize::from(id)) != Some(&ordinal) || id == 0 {
                continue;
            }
            match postcard::from_bytes::<UserRecord>(bytes).map_err(|_| StoreError::Value)? {
                UserRecord::Removed => {}
                UserRecord::V1(user) => f(id, &user),
            }
        }
        Ok(())
    }

    fn fetch<V>(&mut self, key: u8) -> Result<Option<V>, StoreError>
    where
        V: for<'d> sequential_storage::map::Value<'d>,
    {
        let mut map = settings_map(&mut self.flash);
        Ok(block_on(map.fetch_item::<V>(&mut self.scratch.0, &key))?)
    }

    fn put<V>(&mut self, key: u8, value: &V) -> Result<(), StoreError>
    where
        V: for<'d> sequential_storage::map::Value<'d>,
    {
        let mut map = settings_map(&mut self.flash);
        Ok(block_on(map.store_item(&mut self.scratch.0, &key, value))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::{CREDENTIALS_PER_USER, StoredCredential};
    use embedded_storage::nor_flash::{ErrorType, ReadNorFlash};
    use latchkey_protocol::{UserKind, UserName, UserSpec, WeeklyWindow};

    /// NOR flash in RAM with the layout's geometry: erase sets a page to 0xFF, a write can
    /// only clear bits. (The simulator has a fuller one; the core's own tests need no host.)
    struct RamFlash(Vec<u8>);

    impl RamFlash {
        fn erased() -> Self {
            Self(vec![0xFF; layout::FLASH_SIZE as usize])
        }

        fn range(
            &self,
            offset: u32,
            len: usize,
        ) -> Result<core::ops::Range<usize>, NorFlashErrorKind> {
            let start = offset as usize;
            let end = start.checked_add(len).filter(|end| *end <= self.0.len());
            end.map(|end| start..end).ok_or(NorFlashErrorKind::OutOfBounds)
        }
    }

    impl ErrorType for RamFlash {
        type Error = NorFlashErrorKind;
    }

    impl ReadNorFlash for RamFlash {
        const READ_SIZE: usize = 1;

        fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
            let range = self.range(offset, bytes.len())?;
            bytes.copy_from_slice(&self.0[range]);
            Ok(())
        }

        fn capacity(&self) -> usize {
            self.0.len()
        }
    }

    impl NorFlash for RamFlash {
        const WRITE_SIZE: usize = layout::WORD_SIZE as usize;
        const ERASE_SIZE: usize = layout::PAGE_SIZE as usize;

        fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
            let len = to.checked_sub(from).ok_or(NorFlashErrorKind::OutOfBounds)?;
            if !from.is_multiple_of(layout::PAGE_SIZE) || !len.is_multiple_of(layout::PAGE_SIZE) {
                return Err(NorFlashErrorKind::NotAligned);
            }
            let range = self.range(from, len as usize)?;
            self.0[range].fill(0xFF);
            Ok(())
        }

        fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
            if !offset.is_multiple_of(layout::WORD_SIZE)
                || !bytes.len().is_multiple_of(layout::WORD_SIZE as usize)
            {
                return Err(NorFlashErrorKind::NotAligned);
            }
            let range = self.range(offset, bytes.len())?;
            for (cell, byte) in self.0[range].iter_mut().zip(bytes) {
                *cell &= byte;
            }
            Ok(())
        }
    }

    /// The settings record as the first firmware wrote it.
    #[derive(Serialize, Deserialize)]
    struct FirstSettings {
        door_label: DoorLabel,
        auto_relock_seconds: u16,
        wrong_code_limit: u8,
        lockout_seconds: u16,
        beeper_volume: BeeperVolume,
    }
    impl PostcardValue<'_> for FirstSettings {}

    #[test]
    fn settings_written_before_the_time_zone_existed_still_load() {
        let mut flash = RamFlash::erased();
        let mut store = Store::mount(&mut flash).unwrap();
        let first = FirstSettings {
            door_label: DoorLabel::try_from("Back door").unwrap(),
            auto_relock_seconds: 10,
            wrong_code_limit: 3,
            lockout_seconds: 60,
            beeper_volume: BeeperVolume::High,
        };
        store.put(key::SETTINGS, &first).unwrap();
        let loaded = store.settings().unwrap();
        assert_eq!(loaded.door_label.as_str(), "Back door");
        assert_eq!(
            (loaded.auto_relock_seconds, loaded.wrong_code_limit, loaded.lockout_seconds),
            (10, 3, 60)
        );
        assert_eq!(loaded.beeper_volume, BeeperVolume::High);
        assert_eq!(loaded.time_zone, TimeZoneRule::utc());
        assert_eq!(loaded.door_ajar_seconds, default_settings().door_ajar_seconds);

        // Saved again, it is in today's layout and reads back whole.
        let mut changed = loaded;
        changed.time_zone = TimeZoneRule::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        store.save_settings(&changed).unwrap();
        assert_eq!(store.settings().unwrap(), changed);
    }

    #[test]
    fn largest_user_fits_the_store_buffer() {
        let mut s = UserSpec {
            name: UserName::try_from("x".repeat(24).as_str()).unwrap(),
            kind: UserKind::Expiring { minutes: 2880 },
            enabled: true,
            valid_from: Some(u64::MAX),
            valid_until: Some(u64::MAX),
            use_limit: Some(u16::MAX),
            weekly: heapless::Vec::new(),
        };
        for _ in 0..4 {
            s.weekly
                .push(WeeklyWindow { days: 0x7F, start_minute: 1439, end_minute: 1440 })
                .unwrap();
        }
        let mut u = StoredUser::new(s);
        u.uses_left = Some(u16::MAX);
        u.first_used = Some(u64::MAX);
        for _ in 0..CREDENTIALS_PER_USER {
            u.credentials.push(StoredCredential::Phone([0xFF; 32])).unwrap();
        }
        let mut buf = [0u8; USER_RECORD_MAX];
        let len = postcard::to_slice(&UserRecord::V1(u), &mut buf).unwrap().len();
        assert!(len + 2 <= USER_RECORD_MAX, "{len}");
    }
}
