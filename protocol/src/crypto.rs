//! The session crypto both ends share: key derivation, the claim exchange, session
//! handshake proofs, and sealing frames. `docs/security.md` explains the design; this module
//! is its one implementation. Only RustCrypto primitives are used: X25519 (x25519-dalek),
//! HKDF and HMAC over SHA-256, ChaCha20-Poly1305.
//!
//! Key hierarchy (host side):
//!
//! ```text
//! site key S (32 random bytes, the installer's)
//!  ├─ installer lock key  K_i = HKDF(salt "latchkey/v1/lock-key", S, "installer" ‖ serial)
//!  └─ technician site key T = HKDF(salt "latchkey/v1/technician-site", S, "")
//!       └─ technician lock key K_t = HKDF(salt "latchkey/v1/lock-key", T, "technician" ‖ serial)
//! ```
//!
//! A lock holds only its own K_i and K_t. A technician holds T: it opens read-only sessions on
//! every lock of the site and can derive no installer key.

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::frame::{HEADER_LEN, Header};
use crate::message::{ClaimIntent, Role};

/// Bytes of a symmetric key.
pub const KEY_LEN: usize = 32;
/// Bytes of an AEAD tag.
pub const TAG_LEN: usize = 16;
/// Bytes of the explicit counter at the start of a sealed body.
pub const COUNTER_LEN: usize = 4;
/// What sealing adds to a body: the counter and the tag.
pub const SEAL_OVERHEAD: usize = COUNTER_LEN + TAG_LEN;
/// Largest postcard message that fits in a sealed frame.
pub const MAX_SEALED_PLAINTEXT: usize = crate::frame::MAX_BODY_LEN - SEAL_OVERHEAD;
/// Characters in a setup code (Crockford base32, 5 bits each: 60 bits).
pub const SETUP_CODE_LEN: usize = 12;

/// A 256-bit key, wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey(pub [u8; KEY_LEN]);

impl core::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material, not even in debug output.
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// The raw bytes, for storing in a key file or the lock's flash.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A short public fingerprint (first 8 bytes of SHA-256 over a label and the key), so a
    /// person can tell keys apart without seeing them.
    pub fn fingerprint(&self) -> [u8; 8] {
        let digest =
            Sha256::new().chain_update(b"latchkey/v1/fingerprint").chain_update(self.0).finalize();
        let mut out = [0u8; 8];
        out.copy_from_slice(&digest[..8]);
        out
    }
}

fn hkdf32(salt: &[u8], ikm: &[u8], info: &[&[u8]]) -> [u8; KEY_LEN] {
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut out = [0u8; KEY_LEN];
    // 32 bytes is always a valid HKDF-SHA256 output length.
    let _ = hk.expand_multi_info(info, &mut out);
    out
}

/// T, the technician site key, from the site key.
pub fn technician_site_key(site_key: &SecretKey) -> SecretKey {
    SecretKey(hkdf32(b"latchkey/v1/technician-site", &site_key.0, &[]))
}

/// The key one lock holds for `role`. `role_site_key` is the site key S for the installer and
/// the technician site key T for the technician.
pub fn lock_key(role: Role, role_site_key: &SecretKey, serial: &str) -> SecretKey {
    let label: &[u8] = match role {
        Role::Installer => b"installer",
        Role::Technician => b"technician",
    };
    SecretKey(hkdf32(b"latchkey/v1/lock-key", &role_site_key.0, &[label, serial.as_bytes()]))
}

/// HMAC-SHA256 of `parts` under `key`.
fn mac(key: &[u8; KEY_LEN], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length.
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        m.update(part);
    }
    m.finalize().into_bytes().into()
}

/// Compares two proofs in constant time.
pub fn proofs_match(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.ct_eq(b).into()
}

// ---- setup code ---------------------------------------------------------------------------

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The code printed inside a lock, proof of physical access for claiming and factory reset.
/// Twelve Crockford base32 characters (60 bits), shown as `XXXX-XXXX-XXXX`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SetupCode([u8; SETUP_CODE_LEN]);

impl core::fmt::Debug for SetupCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SetupCode(..)")
    }
}

/// Why a typed setup code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupCodeError {
    /// Not 12 characters once dashes and spaces are removed.
    WrongLength,
    /// A character outside the code's alphabet.
    BadCharacter(char),
}

impl core::fmt::Display for SetupCodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::WrongLength => {
                write!(f, "a setup code has {SETUP_CODE_LEN} characters (XXXX-XXXX-XXXX)")
            }
            Self::BadCharacter(c) => write!(f, "{c:?} cannot appear in a setup code"),
        }
    }
}

impl SetupCode {
    /// Parses what a person typed: case-insensitive, dashes and spaces ignored, and the
    /// look-alikes O, I and L read as 0, 1 and 1 (Crockford's rules).
    pub fn parse(text: &str) -> Result<Self, SetupCodeError> {
        let mut out = [0u8; SETUP_CODE_LEN];
        let mut n = 0;
        for c in text.chars() {
            if c == '-' || c == ' ' {
                continue;
            }
            let upper = c.to_ascii_uppercase();
            let normal = match upper {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            if !normal.is_ascii() || !CROCKFORD.contains(&(normal as u8)) {
                return Err(SetupCodeError::BadCharacter(c));
            }
            if n == SETUP_CODE_LEN {
                return Err(SetupCodeError::WrongLength);
            }
            out[n] = normal as u8;
            n += 1;
        }
        if n != SETUP_CODE_LEN {
            return Err(SetupCodeError::WrongLength);
        }
        Ok(Self(out))
    }

    /// A code from 60 random bits (the low 60 bits of `random`).
    pub fn from_random(random: [u8; 8]) -> Self {
        let mut bits = u64::from_le_bytes(random);
        let mut out = [0u8; SETUP_CODE_LEN];
        for c in &mut out {
            *c = CROCKFORD[(bits & 31) as usize];
            bits >>= 5;
        }
        Self(out)
    }

    /// The normalized characters, as fed to the key derivation.
    pub fn as_bytes(&self) -> &[u8; SETUP_CODE_LEN] {
        &self.0
    }

    /// `XXXX-XXXX-XXXX`, to print on the label (or the simulator's console).
    pub fn display(&self) -> [u8; SETUP_CODE_LEN + 2] {
        let mut out = [b'-'; SETUP_CODE_LEN + 2];
        out[0..4].copy_from_slice(&self.0[0..4]);
        out[5..9].copy_from_slice(&self.0[4..8]);
        out[10..14].copy_from_slice(&self.0[8..12]);
        out
    }
}

// ---- X25519 ---------------------------------------------------------------------------------

/// The public half of an X25519 secret.
pub fn x25519_public(secret: &[u8; 32]) -> [u8; 32] {
    let secret = x25519_dalek::StaticSecret::from(*secret);
    x25519_dalek::PublicKey::from(&secret).to_bytes()
}

/// The shared secret, or `None` when the peer sent a low-order point (which would make the
/// "shared" secret predictable).
pub fn x25519_shared(secret: &[u8; 32], their_public: &[u8; 32]) -> Option<[u8; 32]> {
    let secret = x25519_dalek::StaticSecret::from(*secret);
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(*their_public));
    shared.was_contributory().then(|| shared.to_bytes())
}

// ---- the claim exchange ---------------------------------------------------------------------

/// Bytes of the random salt a lock keeps beside its claim verifier (public: `Hello` says it).
pub const CLAIM_SALT_LEN: usize = 16;
/// PBKDF2-HMAC-SHA256 rounds from a setup code to its verifier: about 50 ms on a laptop, done
/// once per claim by the host and once at the factory, never by the lock.
pub const CLAIM_KDF_ROUNDS: u32 = 1 << 16;

/// What a lock keeps of its setup code: the claim PAKE's two generators (one per intent),
/// hashed to the curve from `PBKDF2-HMAC-SHA256(code, "latchkey/v3/claim" ‖ salt,
/// CLAIM_KDF_ROUNDS)`; never the code. They are the PAKE's password, so a copy of the flash
/// still claims that one lock (as physical access to it would), but it reveals the code only to
/// a search through the slow KDF. The factory computes them once; the lock only multiplies.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ClaimVerifier {
    /// The generator of claim exchanges (a Curve25519 u-coordinate).
    pub claim: [u8; 32],
    /// The generator of factory-reset exchanges.
    pub reset: [u8; 32],
}

impl core::fmt::Debug for ClaimVerifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ClaimVerifier(..)")
    }
}

impl ClaimVerifier {
    /// The verifier of `code` under the lock's `salt` (slow on purpose).
    pub fn derive(code: &SetupCode, salt: &[u8; CLAIM_SALT_LEN]) -> Self {
        let mut full_salt = [0u8; 17 + CLAIM_SALT_LEN];
        full_salt[..17].copy_from_slice(b"latchkey/v3/claim");
        full_salt[17..].copy_from_slice(salt);
        let mut password = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(&code.0, &full_salt, CLAIM_KDF_ROUNDS, &mut password);
        let verifier = Self {
            claim: pake::generator(&password, ClaimIntent::Claim),
            reset: pake::generator(&password, ClaimIntent::FactoryReset),
        };
        password.zeroize();
        verifier
    }

    /// The generator for `intent`.
    pub fn generator(&self, intent: ClaimIntent) -> &[u8; 32] {
        match intent {
            ClaimIntent::Claim => &self.claim,
            ClaimIntent::FactoryReset => &self.reset,
        }
    }
}

/// The claim's password-authenticated key exchange: CPace (draft-irtf-cfrg-cpace) on
/// Curve25519 (X25519). The generator is hashed to the curve (RFC 9380 Elligator 2) from the
/// slow KDF's output and the intent, and each side's share is its secret scalar times that
/// generator, so a share made for one guessed code is useless for any other: whoever is on
/// the cable gets one online guess per exchange and nothing to test guesses against offline.
/// The exchange's context (serial, nonce, both shares) is bound into its keys
/// ([`ClaimKeys::derive`]). The lock runs only the Montgomery ladder, as for X25519.
pub mod pake {
    use curve25519_dalek::edwards::EdwardsPoint;
    use curve25519_dalek::montgomery::MontgomeryPoint;
    use sha2::Sha512;

    use crate::message::ClaimIntent;

    /// The generator for `intent` from the slow KDF's output (the host and the factory).
    pub fn generator(password: &[u8; 32], intent: ClaimIntent) -> [u8; 32] {
        let parts: [&[u8]; 2] = [password, &[intent as u8]];
        EdwardsPoint::encode_to_curve::<Sha512>(&parts, &[b"latchkey/v3/claim/CPace-X25519"])
            .to_montgomery()
            .to_bytes()
    }

    /// One side's public share: `secret` (32 random bytes, used as an X25519 scalar: clamped,
    /// so a multiple of the cofactor) times the generator.
    pub fn share(secret: &[u8; 32], generator: &[u8; 32]) -> [u8; 32] {
        MontgomeryPoint(*generator).mul_clamped(*secret).to_bytes()
    }

    /// The shared value from our secret and their share, or `None` when it is all zeros (a
    /// share of low order, which would make the result predictable).
    pub fn shared(secret: &[u8; 32], their_share: &[u8; 32]) -> Option<[u8; 32]> {
        let shared = MontgomeryPoint(*their_share).mul_clamped(*secret).to_bytes();
        (shared != [0u8; 32]).then_some(shared)
    }
}

/// Keys of one claim (or factory-reset) exchange.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ClaimKeys {
    mac: [u8; KEY_LEN],
    enc: [u8; KEY_LEN],
}

impl ClaimKeys {
    /// Derives the exchange's keys from the PAKE's shared point, bound to the lock's serial,
    /// the intent, the host's nonce and both shares.
    pub fn derive(
        shared: &[u8; 32],
        serial: &str,
        intent: ClaimIntent,
        host_nonce: &[u8; 16],
        host_share: &[u8; 32],
        lock_share: &[u8; 32],
    ) -> Self {
        let transcript = Sha256::new()
            .chain_update(b"latchkey/v3/claim")
            .chain_update([intent as u8])
            .chain_update((serial.len() as u32).to_le_bytes())
            .chain_update(serial.as_bytes())
            .chain_update(host_nonce)
            .chain_update(host_share)
            .chain_update(lock_share)
            .finalize();
        Self {
            mac: hkdf32(&transcript, shared, &[b"mac"]),
            enc: hkdf32(&transcript, shared, &[b"enc"]),
        }
    }

    /// The lock's proof that it knows the setup code.
    pub fn lock_proof(&self) -> [u8; 32] {
        mac(&self.mac, &[b"lock"])
    }

    /// Encrypts the claim payload (for a claim: K_i ‖ K_t; for a reset: nothing) in place and
    /// returns the tag. The host's knowledge of the setup code is proven by this tag.
    pub fn seal(&self, payload: &mut [u8]) -> [u8; TAG_LEN] {
        let cipher = ChaCha20Poly1305::new(&self.enc.into());
        match cipher.encrypt_inout_detached(&Nonce::from([0u8; 12]), b"claim", payload.into()) {
            Ok(tag) => tag.into(),
            // Only fails for payloads of gigabytes.
            Err(_) => [0; TAG_LEN],
        }
    }

    /// Decrypts and authenticates a claim payload in place.
    pub fn open(&self, payload: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        let cipher = ChaCha20Poly1305::new(&self.enc.into());
        cipher
            .decrypt_inout_detached(
                &Nonce::from([0u8; 12]),
                b"claim",
                payload.into(),
                &Tag::from(*tag),
            )
            .is_ok()
    }
}

// ---- session handshake ----------------------------------------------------------------------

/// Keys of one management session.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SessionKeys {
    mac: [u8; KEY_LEN],
    host_to_lock: [u8; KEY_LEN],
    lock_to_host: [u8; KEY_LEN],
}

impl SessionKeys {
    /// Derives a session's keys from the lock key of `role` and the handshake's ephemeral
    /// X25519 exchange: `shared` is X25519 of one side's ephemeral secret and the other's
    /// public key. Both the role key (who may open a session) and the ephemeral secret (which
    /// nobody keeps) go in, so a recording plus a key stolen later opens nothing: forward
    /// secrecy, as in Noise's `NNpsk0`.
    pub fn derive(
        lock_key: &SecretKey,
        role: Role,
        serial: &str,
        host_public: &[u8; 32],
        lock_public: &[u8; 32],
        shared: &[u8; 32],
    ) -> Self {
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(host_public);
        salt[32..].copy_from_slice(lock_public);
        let mut ikm = [0u8; 2 * KEY_LEN];
        ikm[..KEY_LEN].copy_from_slice(&lock_key.0);
        ikm[KEY_LEN..].copy_from_slice(shared);
        let role_byte = [role as u8];
        let info = |label: &'static [u8]| -> [&[u8]; 4] {
            [b"latchkey/v3/session/", label, &role_byte, serial.as_bytes()]
        };
        let keys = Self {
            mac: hkdf32(&salt, &ikm, &info(b"mac")),
            host_to_lock: hkdf32(&salt, &ikm, &info(b"h2l")),
            lock_to_host: hkdf32(&salt, &ikm, &info(b"l2h")),
        };
        ikm.zeroize();
        keys
    }

    /// The lock's proof that it holds the lock key.
    pub fn lock_proof(&self) -> [u8; 32] {
        mac(&self.mac, &[b"lock"])
    }

    /// The host's proof that it holds the lock key.
    pub fn host_proof(&self) -> [u8; 32] {
        mac(&self.mac, &[b"host"])
    }

    /// The host's sealer and opener.
    pub fn host_ends(&self) -> (Sealer, Opener) {
        (
            Sealer::new(&self.host_to_lock, Direction::HostToLock),
            Opener::new(&self.lock_to_host, Direction::LockToHost),
        )
    }

    /// The lock's sealer and opener.
    pub fn lock_ends(&self) -> (Sealer, Opener) {
        (
            Sealer::new(&self.lock_to_host, Direction::LockToHost),
            Opener::new(&self.host_to_lock, Direction::HostToLock),
        )
    }

    /// The lock's sealer for events. Same key as its answers, its own counter and nonce
    /// space ([`Direction::LockEvents`]): an event between an answer and that answer's resend
    /// must not make the host refuse the resend as a replay.
    pub fn lock_event_sealer(&self) -> Sealer {
        Sealer::new(&self.lock_to_host, Direction::LockEvents)
    }

    /// The host's opener for the lock's sealed events.
    pub fn host_event_opener(&self) -> Opener {
        Opener::new(&self.lock_to_host, Direction::LockEvents)
    }
}

// ---- sealed frames --------------------------------------------------------------------------

/// Which way a sealed frame travels; part of its nonce, so a frame cannot be reflected back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Direction {
    /// Requests.
    HostToLock = 0,
    /// Responses.
    LockToHost = 1,
    /// Events: under the lock-to-host key, told apart from responses by this nonce byte.
    LockEvents = 2,
}

fn nonce(direction: Direction, counter: u32) -> Nonce {
    let mut n = [0u8; 12];
    n[0] = direction as u8;
    n[4..8].copy_from_slice(&counter.to_le_bytes());
    Nonce::from(n)
}

fn header_bytes(header: &Header) -> [u8; HEADER_LEN] {
    let seq = header.seq.to_le_bytes();
    [header.version, header.kind as u8, seq[0], seq[1]]
}

/// Seals outgoing frames of one direction with a counter that never repeats.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Sealer {
    key: [u8; KEY_LEN],
    #[zeroize(skip)]
    direction: Direction,
    next: u32,
}

/// Why a sealed body was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealError {
    /// Shorter than a counter and a tag.
    TooShort,
    /// The counter is not above the last one accepted: a replayed or reordered frame.
    /// Carries the counter and tag so a lock can recognise an exact resend.
    Replayed {
        /// The frame's counter.
        counter: u32,
    },
    /// Authentication failed: forged, altered or truncated, or another session's key.
    Forged,
    /// The output buffer is too small, or the plaintext too long for a frame.
    TooLong,
    /// The counter is exhausted: open a new session.
    Exhausted,
}

impl Sealer {
    fn new(key: &[u8; KEY_LEN], direction: Direction) -> Self {
        Self { key: *key, direction, next: 1 }
    }

    /// Writes `counter ‖ ciphertext ‖ tag` for `plaintext` into `out`, authenticated together
    /// with `header`; returns its length and the counter used.
    pub fn seal(
        &mut self,
        header: &Header,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, u32), SealError> {
        let total = plaintext.len() + SEAL_OVERHEAD;
        if plaintext.len() > MAX_SEALED_PLAINTEXT || out.len() < total {
            return Err(SealError::TooLong);
        }
        let counter = self.next;
        self.next = counter.checked_add(1).ok_or(SealError::Exhausted)?;
        out[..COUNTER_LEN].copy_from_slice(&counter.to_le_bytes());
        let body = &mut out[COUNTER_LEN..COUNTER_LEN + plaintext.len()];
        body.copy_from_slice(plaintext);
        let cipher = ChaCha20Poly1305::new(&self.key.into());
        let tag = cipher
            .encrypt_inout_detached(
                &nonce(self.direction, counter),
                &header_bytes(header),
                body.into(),
            )
            .map_err(|_| SealError::TooLong)?;
        out[COUNTER_LEN + plaintext.len()..total].copy_from_slice(&tag);
        Ok((total, counter))
    }
}

/// Opens incoming frames of one direction, refusing replays and reordering.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Opener {
    key: [u8; KEY_LEN],
    #[zeroize(skip)]
    direction: Direction,
    last: u32,
}

impl Opener {
    fn new(key: &[u8; KEY_LEN], direction: Direction) -> Self {
        Self { key: *key, direction, last: 0 }
    }

    /// The highest counter accepted so far.
    pub fn last_counter(&self) -> u32 {
        self.last
    }

    /// Authenticates and decrypts a sealed `body` (as received after `header`) into `out`.
    /// Returns the plaintext and its counter. A frame is accepted at most once: its counter
    /// must be above every counter accepted before.
    pub fn open<'o>(
        &mut self,
        header: &Header,
        body: &[u8],
        out: &'o mut [u8],
    ) -> Result<(&'o [u8], u32), SealError> {
        if body.len() < SEAL_OVERHEAD {
            return Err(SealError::TooShort);
        }
        let (counter_bytes, rest) = body.split_at(COUNTER_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let counter = u32::from_le_bytes([
            counter_bytes[0],
            counter_bytes[1],
            counter_bytes[2],
            counter_bytes[3],
        ]);
        if out.len() < ciphertext.len() {
            return Err(SealError::TooLong);
        }
        let plain = &mut out[..ciphertext.len()];
        plain.copy_from_slice(ciphertext);
        let mut tag_arr = [0u8; TAG_LEN];
        tag_arr.copy_from_slice(tag);
        let cipher = ChaCha20Poly1305::new(&self.key.into());
        // Authenticate before looking at the counter's freshness, so a forged frame is
        // reported as forged whatever counter it claims.
        if cipher
            .decrypt_inout_detached(
                &nonce(self.direction, counter),
                &header_bytes(header),
                (&mut *plain).into(),
                &Tag::from(tag_arr),
            )
            .is_err()
        {
            plain.zeroize();
            return Err(SealError::Forged);
        }
        if counter <= self.last {
            plain.zeroize();
            return Err(SealError::Replayed { counter });
        }
        self.last = counter;
        Ok((plain, counter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Kind;

    fn key(byte: u8) -> SecretKey {
        SecretKey([byte; 32])
    }

    #[test]
    fn technician_cannot_derive_the_installer_key() {
        let s = key(7);
        let t = technician_site_key(&s);
        assert_ne!(lock_key(Role::Installer, &s, "A"), lock_key(Role::Technician, &t, "A"));
        assert_ne!(lock_key(Role::Installer, &s, "A"), lock_key(Role::Installer, &s, "B"));
        assert_ne!(t, s);
    }

    #[test]
    fn setup_codes_parse_leniently_and_strictly() {
        let code = SetupCode::parse("abcd-efgh-jk01").unwrap();
        assert_eq!(code.as_bytes(), b"ABCDEFGHJK01");
        assert_eq!(SetupCode::parse("ABCD EFGH JKOI").unwrap().as_bytes(), b"ABCDEFGHJK01");
        assert_eq!(SetupCode::parse("ABCD-EFGH-JK0"), Err(SetupCodeError::WrongLength));
        assert_eq!(SetupCode::parse("ABCD-EFGH-JK0U"), Err(SetupCodeError::BadCharacter('U')));
        let random = SetupCode::from_random([0xA5; 8]);
        assert_eq!(
            SetupCode::parse(core::str::from_utf8(&random.display()).unwrap()).unwrap(),
            random
        );
    }

    /// One side of a claim PAKE: its share and, given the other's, the exchange's keys.
    fn claim_side(
        random: u8,
        code: &SetupCode,
        salt: &[u8; CLAIM_SALT_LEN],
    ) -> ([u8; 32], [u8; 32]) {
        let verifier = ClaimVerifier::derive(code, salt);
        let secret = [random; 32];
        (secret, pake::share(&secret, verifier.generator(ClaimIntent::Claim)))
    }

    #[test]
    fn claim_exchange_agrees_only_with_the_right_code() {
        let salt = [5u8; CLAIM_SALT_LEN];
        let code = SetupCode::parse("0000-1111-2222").unwrap();
        let wrong = SetupCode::parse("0000-1111-2223").unwrap();
        let (lock_secret, lock_share) = claim_side(2, &code, &salt);
        let (host_secret, host_share) = claim_side(1, &code, &salt);
        let (guess_secret, guess_share) = claim_side(1, &wrong, &salt);
        let keys = |shared: &[u8; 32], host_share: &[u8; 32]| {
            ClaimKeys::derive(shared, "S1", ClaimIntent::Claim, &[7; 16], host_share, &lock_share)
        };
        let on_lock = pake::shared(&lock_secret, &host_share).unwrap();
        let on_host = pake::shared(&host_secret, &lock_share).unwrap();
        assert_eq!(on_lock, on_host);
        let lock = keys(&on_lock, &host_share);
        let host = keys(&on_host, &host_share);
        // A host with the wrong code: the lock answers its share with another point.
        let lock_for_guess = keys(&pake::shared(&lock_secret, &guess_share).unwrap(), &guess_share);
        let guess = keys(&pake::shared(&guess_secret, &lock_share).unwrap(), &guess_share);
        assert!(proofs_match(&lock.lock_proof(), &host.lock_proof()));
        assert!(!proofs_match(&lock_for_guess.lock_proof(), &guess.lock_proof()));
        let mut payload = [9u8; 64];
        let tag = host.seal(&mut payload);
        assert_ne!(payload, [9u8; 64]);
        let mut tampered = payload;
        assert!(!lock_for_guess.open(&mut tampered, &tag));
        assert!(lock.open(&mut payload, &tag));
        assert_eq!(payload, [9u8; 64]);
        // Not a point, or the identity: no exchange.
        assert_eq!(pake::shared(&host_secret, &[0u8; 32]), None, "low order is refused");
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(pake::shared(&host_secret, &one), None, "low order is refused");
        assert_eq!(x25519_shared(&[1; 32], &[0u8; 32]), None, "low-order point refused");
    }

    #[test]
    fn the_verifier_is_slow_salted_and_not_the_code() {
        let code = SetupCode::parse("0000-1111-2222").unwrap();
        let a = ClaimVerifier::derive(&code, &[1; CLAIM_SALT_LEN]);
        let b = ClaimVerifier::derive(&code, &[2; CLAIM_SALT_LEN]);
        assert_ne!(a, b, "salted");
        assert_ne!(a.claim, a.reset, "one generator per intent");
        assert!(!a.claim.windows(12).any(|w| w == code.as_bytes()));
    }

    #[test]
    fn sealed_frames_refuse_forgery_replay_and_reorder() {
        let k = lock_key(Role::Installer, &key(3), "S1");
        let host = SessionKeys::derive(&k, Role::Installer, "S1", &[1; 32], &[2; 32], &[3; 32]);
        let lock = SessionKeys::derive(&k, Role::Installer, "S1", &[1; 32], &[2; 32], &[3; 32]);
        assert!(proofs_match(&host.host_proof(), &lock.host_proof()));
        let (mut seal, _) = host.host_ends();
        let (_, mut open) = lock.lock_ends();
        let header = Header::new(Kind::SealedRequest, 5);
        let mut f1 = [0u8; 64];
        let (n1, c1) = seal.seal(&header, b"first", &mut f1).unwrap();
        let mut f2 = [0u8; 64];
        let (n2, _) = seal.seal(&header, b"second", &mut f2).unwrap();
        let mut out = [0u8; 64];
        // Reordered: the second arrives first and is accepted; the first is then stale.
        assert_eq!(open.open(&header, &f2[..n2], &mut out).unwrap().0, b"second");
        assert_eq!(
            open.open(&header, &f1[..n1], &mut out),
            Err(SealError::Replayed { counter: c1 })
        );
        assert!(matches!(open.open(&header, &f2[..n2], &mut out), Err(SealError::Replayed { .. })));
        // One flipped bit anywhere: forged.
        let mut f3 = [0u8; 64];
        let (n3, _) = seal.seal(&header, b"third", &mut f3).unwrap();
        for bit in 0..n3 * 8 {
            let mut bad = f3;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(open.open(&header, &bad[..n3], &mut out).is_err(), "bit {bit}");
        }
        // Another header (a changed seq): forged.
        assert_eq!(
            open.open(&Header::new(Kind::SealedRequest, 6), &f3[..n3], &mut out),
            Err(SealError::Forged)
        );
        // Truncated: forged or too short.
        assert!(open.open(&header, &f3[..n3 - 1], &mut out).is_err());
        // And the genuine one still opens: the session carries on.
        assert_eq!(open.open(&header, &f3[..n3], &mut out).unwrap().0, b"third");
        // A frame sealed for the other direction never opens here.
        let (mut lock_seal, _) = lock.lock_ends();
        let mut f4 = [0u8; 64];
        let (n4, _) = lock_seal.seal(&header, b"reflected", &mut f4).unwrap();
        assert_eq!(open.open(&header, &f4[..n4], &mut out), Err(SealError::Forged));
    }

    #[test]
    fn events_have_their_own_counter_and_never_pass_for_an_answer() {
        let k = lock_key(Role::Technician, &key(4), "S1");
        let host = SessionKeys::derive(&k, Role::Technician, "S1", &[1; 32], &[2; 32], &[3; 32]);
        let lock = SessionKeys::derive(&k, Role::Technician, "S1", &[1; 32], &[2; 32], &[3; 32]);
        let (mut answers, _) = lock.lock_ends();
        let mut events = lock.lock_event_sealer();
        let (_, mut host_answers) = host.host_ends();
        let mut host_events = host.host_event_opener();
        let answer_header = Header::new(Kind::SealedResponse, 9);
        let event_header = Header::new(Kind::SealedEvent, 0);
        let (mut a, mut e) = ([0u8; 64], [0u8; 64]);
        let (na, ca) = answers.seal(&answer_header, b"answer", &mut a).unwrap();
        let (ne, ce) = events.seal(&event_header, b"event", &mut e).unwrap();
        assert_eq!((ca, ce), (1, 1), "two counters");
        let mut out = [0u8; 64];
        // An event first does not make the answer (or its resend) stale.
        assert_eq!(host_events.open(&event_header, &e[..ne], &mut out).unwrap().0, b"event");
        assert_eq!(host_answers.open(&answer_header, &a[..na], &mut out).unwrap().0, b"answer");
        // Neither opens as the other, even under the other's header: the nonce differs.
        let mut events_as_answers = host.host_ends().1;
        assert_eq!(
            events_as_answers.open(&answer_header, &e[..ne], &mut out),
            Err(SealError::Forged)
        );
        let mut answers_as_events = host.host_event_opener();
        assert_eq!(
            answers_as_events.open(&event_header, &a[..na], &mut out),
            Err(SealError::Forged)
        );
        // A replayed event is refused.
        assert!(matches!(
            host_events.open(&event_header, &e[..ne], &mut out),
            Err(SealError::Replayed { .. })
        ));
    }
}
