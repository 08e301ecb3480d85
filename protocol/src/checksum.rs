//! The checksum of a lock's users and credentials (in the spirit of Z-Wave's
//! UserCodeChecksum): both ends compute it the same way, so a host that knows what it wrote
//! can tell whether the lock holds exactly that, without reading any secret back.
//!
//! It is order-independent: each user and each credential is hashed on its own (SHA-256 over
//! its postcard encoding, with a label), and the first 16 bytes of every item's hash are
//! added up modulo 2^128. Counters the lock changes by itself (uses left, first use) are not
//! included, nor are fingerprint slots (the sensor picks them); a PIN enters as its keyed
//! digest, never as digits.
//!
//! PINs are kept by the lock only as `pin_digest(pin_key, pin)`. The PIN key is derived from
//! the installer lock key the lock was claimed with, and kept across key rotations (the
//! stored digests depend on it); the host derives the same key from the site key.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::crypto::SecretKey;
use crate::message::UserSpec;

/// Bytes of a PIN digest.
pub const PIN_DIGEST_LEN: usize = 16;

/// The key PINs are hashed with, from the installer lock key at claim time.
pub fn pin_key(installer_lock_key: &SecretKey) -> SecretKey {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(b"latchkey/v1/pin-key"), installer_lock_key.as_bytes());
    let mut out = [0u8; 32];
    // 32 bytes is always a valid HKDF-SHA256 output length.
    let _ = hk.expand(b"", &mut out);
    SecretKey(out)
}

/// A card UID's or phone key's fingerprint as a technician sees it: HMAC-SHA256 under the
/// PIN key of `"latchkey/v3/credential"` and the bytes, first 8 bytes. Keyed, so a list of
/// fingerprints leads to no card; stable, so the same card is recognised on this lock.
pub fn credential_fingerprint(pin_key: &SecretKey, bytes: &[u8]) -> [u8; 8] {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(pin_key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"latchkey/v3/credential");
    mac.update(bytes);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; 8];
    out.copy_from_slice(&full[..8]);
    out
}

/// A PIN as the lock stores it: HMAC-SHA256 under the PIN key, first 16 bytes. The same PIN
/// gives the same digest for every user, which is how the lock finds duplicates.
pub fn pin_digest(pin_key: &SecretKey, pin: &str) -> [u8; PIN_DIGEST_LEN] {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(pin_key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"latchkey/v1/pin");
    mac.update(pin.as_bytes());
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; PIN_DIGEST_LEN];
    out.copy_from_slice(&full[..PIN_DIGEST_LEN]);
    out
}

/// A credential as the checksum sees it.
#[derive(Debug, Clone, Copy, Serialize)]
pub enum ChecksumCredential<'a> {
    /// A PIN, by its digest.
    Pin(&'a [u8; PIN_DIGEST_LEN]),
    /// A card, by its UID.
    Card(&'a [u8]),
    /// An enrolled finger (the slot is the sensor's choice, so it does not count).
    Fingerprint,
    /// A phone, by its public key.
    Phone(&'a [u8; 32]),
}

/// Accumulates the checksum.
#[derive(Debug, Clone, Default)]
pub struct Checksum {
    sum: u128,
    users: u16,
    credentials: u16,
}

impl Checksum {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    fn add_item<T: Serialize>(&mut self, item: &T) {
        let mut buf = [0u8; 192];
        // Every item is far below 192 bytes; a failure would only mean a (detected) mismatch.
        let bytes = postcard::to_slice(item, &mut buf).map(|b| &*b).unwrap_or(&[]);
        let digest =
            Sha256::new().chain_update(b"latchkey/v1/checksum-item").chain_update(bytes).finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(first));
    }

    /// Adds user `id` as written.
    pub fn add_user(&mut self, id: u16, spec: &UserSpec) {
        self.add_item(&("user", id, spec));
        self.users = self.users.saturating_add(1);
    }

    /// Adds one of user `id`'s credentials.
    pub fn add_credential(&mut self, id: u16, credential: ChecksumCredential<'_>) {
        self.add_item(&("credential", id, credential));
        self.credentials = self.credentials.saturating_add(1);
    }

    /// Users added.
    pub fn users(&self) -> u16 {
        self.users
    }

    /// Credentials added.
    pub fn credentials(&self) -> u16 {
        self.credentials
    }

    /// The 16-byte checksum.
    pub fn digest(&self) -> [u8; 16] {
        self.sum.to_le_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::UserKind;

    fn spec(name: &str) -> UserSpec {
        UserSpec {
            name: heapless::String::try_from(name).unwrap(),
            kind: UserKind::Owner,
            enabled: true,
            valid_from: None,
            valid_until: None,
            use_limit: None,
            weekly: heapless::Vec::new(),
        }
    }

    #[test]
    fn order_does_not_matter_content_does() {
        let key = pin_key(&SecretKey([1; 32]));
        let pin = pin_digest(&key, "058213");
        let mut a = Checksum::new();
        a.add_user(1, &spec("Ann"));
        a.add_credential(1, ChecksumCredential::Pin(&pin));
        a.add_credential(1, ChecksumCredential::Card(&[1, 2, 3, 4]));
        let mut b = Checksum::new();
        b.add_credential(1, ChecksumCredential::Card(&[1, 2, 3, 4]));
        b.add_user(1, &spec("Ann"));
        b.add_credential(1, ChecksumCredential::Pin(&pin));
        assert_eq!(a.digest(), b.digest());
        let mut c = b.clone();
        c.add_credential(1, ChecksumCredential::Fingerprint);
        assert_ne!(c.digest(), b.digest());
        assert_ne!(pin_digest(&key, "058213"), pin_digest(&key, "58213"));
    }
}
