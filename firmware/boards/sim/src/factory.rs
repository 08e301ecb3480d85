//! The factory's provisioning step, done on a host: a setup code is drawn (or given), its
//! claim verifier goes into the lock's factory page ([`latchkey_firmware::factory`]), and the
//! code goes on the lock's label — here a `.label` file beside the flash file, readable by its
//! owner only (the sticker inside the housing). Neither flash nor image ever holds the code.
//!
//! The simulator does this at its first start on a flash; `latchkey-factory` does it for the
//! micro:bit image under QEMU, whose flash file is the upper half of flash ([`QEMU_FILE`]).

use std::io::{self, Write};
use std::ops::Range;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use latchkey_firmware::factory::FactoryClaim;
use latchkey_firmware::region::layout;
use latchkey_protocol::crypto::{CLAIM_SALT_LEN, ClaimVerifier, SetupCode};

/// The flash addresses a QEMU flash file (`run-qemu --flash`) holds: everything above the
/// image, store and factory page.
pub const QEMU_FILE: Range<u32> = layout::STORE_START..layout::FLASH_SIZE;

/// A new random setup code, as printed on a label.
pub fn random_code() -> Result<SetupCode, getrandom::Error> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random)?;
    Ok(SetupCode::from_random(random))
}

/// The factory record for `code` under a new random salt (the slow KDF runs here).
pub fn claim_for(code: &SetupCode) -> Result<FactoryClaim, getrandom::Error> {
    let mut salt = [0u8; CLAIM_SALT_LEN];
    getrandom::fill(&mut salt)?;
    Ok(FactoryClaim { salt, verifier: ClaimVerifier::derive(code, &salt) })
}

/// Whether `code` is the one `claim` was made from.
pub fn verifies(claim: &FactoryClaim, code: &SetupCode) -> bool {
    ClaimVerifier::derive(code, &claim.salt) == claim.verifier
}

/// The contents of a new QEMU flash file: erased flash with `claim` in its factory page.
pub fn qemu_flash_file(claim: &FactoryClaim) -> Vec<u8> {
    let mut bytes = vec![0xFF; (QEMU_FILE.end - QEMU_FILE.start) as usize];
    let at = (layout::FACTORY.start - QEMU_FILE.start) as usize;
    let record = claim.encode();
    bytes[at..at + record.len()].copy_from_slice(&record);
    bytes
}

/// The label file that goes with a flash file: `lock.flash` → `lock.label`.
pub fn label_path(flash: &Path) -> PathBuf {
    flash.with_extension("label")
}

/// The code on a label file, if it holds one.
pub fn read_label(path: &Path) -> Option<SetupCode> {
    let text = std::fs::read_to_string(path).ok()?;
    SetupCode::parse(text.trim()).ok()
}

/// Writes the label file: the code as printed, readable by its owner only.
pub fn write_label(path: &Path, code: &SetupCode) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(&code.display())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// Writes a new file, refusing to replace one (a flash file holds a lock's whole state).
pub fn create_new(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
