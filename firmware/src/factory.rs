//! Factory data: what a lock keeps of the setup code printed on the label inside it, in its own
//! flash page ([`layout::FACTORY`]), written once by the factory and never by the firmware.
//!
//! The page holds the claim PAKE's salt and verifier ([`FactoryClaim`]), never the code. It
//! lives outside the store, so nothing the store does (a format after corruption, a factory
//! reset) can lose it, and the board's flash driver refuses to write it: only a provisioning
//! step (the factory's programmer; `latchkey-factory` for the simulator and QEMU) does.
//!
//! # Layout
//!
//! One record at the start of the page, [`RECORD_LEN`] bytes, the rest erased (0xFF):
//!
//! | offset | size | field                                                              |
//! |--------|------|--------------------------------------------------------------------|
//! | 0      | 4    | magic `LKF1`                                                       |
//! | 4      | 16   | claim salt                                                         |
//! | 20     | 32   | claim generator ([`ClaimVerifier::claim`])                         |
//! | 52     | 32   | factory-reset generator ([`ClaimVerifier::reset`])                 |
//! | 84     | 2    | CRC-16 of bytes 0..84 (the frame CRC, [`latchkey_protocol::CRC`]), little-endian |
//! | 86     | 2    | 0xFF                                                               |

use latchkey_protocol::CRC;
use latchkey_protocol::crypto::{CLAIM_SALT_LEN, ClaimVerifier};

use crate::hal::{NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};
use crate::region::{Contents, erase_region, layout, scan};

/// The record's first bytes: "LK", "F" for factory, format 1.
pub const MAGIC: [u8; 4] = *b"LKF1";
/// Bytes of the record, a whole number of flash words.
pub const RECORD_LEN: usize = 88;
const SALT_AT: usize = MAGIC.len();
const CLAIM_AT: usize = SALT_AT + CLAIM_SALT_LEN;
const RESET_AT: usize = CLAIM_AT + 32;
const CRC_AT: usize = RESET_AT + 32;
const _: () = assert!(CRC_AT + 4 == RECORD_LEN && RECORD_LEN.is_multiple_of(4));

/// The factory's record of a lock's setup code: the verifier and its salt, never the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactoryClaim {
    /// Public: `Hello` gives it to hosts, who derive the verifier from the code with it.
    pub salt: [u8; CLAIM_SALT_LEN],
    /// [`ClaimVerifier::derive`] of the code under `salt`.
    pub verifier: ClaimVerifier,
}

/// Why a lock has no usable factory data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FactoryError {
    /// The page was never written: the lock skipped its provisioning step.
    #[error("no factory data: the lock was never provisioned with a setup code")]
    Missing,
    /// The page holds something that is not a factory record, or one whose CRC fails.
    #[error("the factory data is damaged (bad magic or CRC)")]
    Damaged,
    /// The flash could not be read.
    #[error("flash error: {0:?}")]
    Flash(NorFlashErrorKind),
}

impl FactoryClaim {
    /// The page's record for this claim.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut out = [0xFF; RECORD_LEN];
        out[..SALT_AT].copy_from_slice(&MAGIC);
        out[SALT_AT..CLAIM_AT].copy_from_slice(&self.salt);
        out[CLAIM_AT..RESET_AT].copy_from_slice(&self.verifier.claim);
        out[RESET_AT..CRC_AT].copy_from_slice(&self.verifier.reset);
        let crc = CRC.checksum(&out[..CRC_AT]);
        out[CRC_AT..CRC_AT + 2].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// The claim a page's record holds.
    pub fn decode(record: &[u8; RECORD_LEN]) -> Result<Self, FactoryError> {
        if record.iter().all(|&b| b == 0xFF) || record.iter().all(|&b| b == 0) {
            return Err(FactoryError::Missing);
        }
        let crc = u16::from_le_bytes([record[CRC_AT], record[CRC_AT + 1]]);
        if record[..SALT_AT] != MAGIC || CRC.checksum(&record[..CRC_AT]) != crc {
            return Err(FactoryError::Damaged);
        }
        let mut claim = Self {
            salt: [0; CLAIM_SALT_LEN],
            verifier: ClaimVerifier { claim: [0; 32], reset: [0; 32] },
        };
        claim.salt.copy_from_slice(&record[SALT_AT..CLAIM_AT]);
        claim.verifier.claim.copy_from_slice(&record[CLAIM_AT..RESET_AT]);
        claim.verifier.reset.copy_from_slice(&record[RESET_AT..CRC_AT]);
        Ok(claim)
    }

    /// Reads the lock's factory page.
    pub fn read<F: ReadNorFlash>(flash: &mut F) -> Result<Self, FactoryError> {
        let mut record = [0u8; RECORD_LEN];
        flash
            .read(layout::FACTORY.start, &mut record)
            .map_err(|e| FactoryError::Flash(e.kind()))?;
        Self::decode(&record)
    }

    /// Writes the factory page: the provisioning step's job, never the firmware's. Erases the
    /// page first, so a re-provisioned lock gets a record, never a mix of two.
    pub fn write<F: NorFlash>(&self, flash: &mut F) -> Result<(), NorFlashErrorKind> {
        if scan(flash, layout::FACTORY)? != Contents::Erased {
            erase_region(flash, layout::FACTORY)?;
        }
        flash.write(layout::FACTORY.start, &self.encode()).map_err(|e| e.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim() -> FactoryClaim {
        FactoryClaim {
            salt: [7; CLAIM_SALT_LEN],
            verifier: ClaimVerifier { claim: [1; 32], reset: [2; 32] },
        }
    }

    #[test]
    fn a_record_reads_back_and_any_flipped_bit_is_caught() {
        let record = claim().encode();
        assert_eq!(FactoryClaim::decode(&record), Ok(claim()));
        for bit in 0..CRC_AT * 8 {
            let mut bad = record;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(FactoryClaim::decode(&bad), Err(FactoryError::Damaged), "bit {bit}");
        }
    }

    #[test]
    fn an_erased_or_zeroed_page_is_missing_data() {
        assert_eq!(FactoryClaim::decode(&[0xFF; RECORD_LEN]), Err(FactoryError::Missing));
        assert_eq!(FactoryClaim::decode(&[0; RECORD_LEN]), Err(FactoryError::Missing));
    }
}
