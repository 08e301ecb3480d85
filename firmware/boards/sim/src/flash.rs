//! A NOR flash for the host: erase sets a page to 0xFF, a write can only clear bits.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use latchkey_firmware::hal::{NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};
use latchkey_firmware::region::layout;

/// Why a flash operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SimFlashError {
    /// Address or length not a multiple of the word (write) or page (erase) size.
    #[error("flash access not aligned")]
    NotAligned,
    /// Outside the flash.
    #[error("flash access out of bounds")]
    OutOfBounds,
    /// The backing file could not be written.
    #[error("flash file I/O failed: {0}")]
    Io(io::ErrorKind),
}

impl NorFlashError for SimFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::NotAligned => NorFlashErrorKind::NotAligned,
            Self::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            Self::Io(_) => NorFlashErrorKind::Other,
        }
    }
}

/// NOR flash with the nRF51's geometry, in memory and optionally written through to a file
/// on every write and erase, so killing the process loses nothing the lock acknowledged.
#[derive(Debug)]
pub struct SimFlash {
    bytes: Vec<u8>,
    file: Option<File>,
    /// Page erases since this flash was opened, for wear figures.
    erases: u64,
}

impl SimFlash {
    /// A fully erased flash of the nRF51's size, in memory.
    pub fn erased() -> Self {
        Self { bytes: vec![0xFF; layout::FLASH_SIZE as usize], file: None, erases: 0 }
    }

    /// Pages erased since this flash was opened: what wears a NOR flash out (the nRF51's is
    /// rated for 20,000 erases a page).
    pub fn page_erases(&self) -> u64 {
        self.erases
    }

    /// A flash holding `bytes` (e.g. all zeros, as QEMU's never-programmed flash reads).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self { bytes, file: None, erases: 0 }
    }

    /// Opens the flash image at `path`, creating it fully erased if it does not exist.
    pub fn open_file(path: &Path) -> Result<Self, FlashFileError> {
        let size = layout::FLASH_SIZE as usize;
        match OpenOptions::new().read(true).write(true).open(path) {
            Ok(mut file) => {
                let mut bytes = Vec::with_capacity(size);
                file.read_to_end(&mut bytes).map_err(FlashFileError::Io)?;
                if bytes.len() != size {
                    return Err(FlashFileError::Size { found: bytes.len() as u64 });
                }
                Ok(Self { bytes, file: Some(file), erases: 0 })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .map_err(FlashFileError::Io)?;
                let bytes = vec![0xFF; size];
                file.write_all_at(&bytes, 0).map_err(FlashFileError::Io)?;
                file.sync_all().map_err(FlashFileError::Io)?;
                Ok(Self { bytes, file: Some(file), erases: 0 })
            }
            Err(e) => Err(FlashFileError::Io(e)),
        }
    }

    /// The flash contents.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Another handle on the backing file, if there is one.
    pub fn try_clone_file(&self) -> io::Result<Option<File>> {
        self.file.as_ref().map(File::try_clone).transpose()
    }

    /// Makes the backing file durable (fsync). Writes already reached the OS one by one.
    pub fn sync(&self) -> io::Result<()> {
        match &self.file {
            Some(file) => file.sync_all(),
            None => Ok(()),
        }
    }

    fn range(&self, offset: u32, len: usize) -> Result<std::ops::Range<usize>, SimFlashError> {
        let start = offset as usize;
        let end = start.checked_add(len).ok_or(SimFlashError::OutOfBounds)?;
        if end > self.bytes.len() {
            return Err(SimFlashError::OutOfBounds);
        }
        Ok(start..end)
    }

    /// Puts `new` at `range` in the file first, then in memory, so both agree on failure.
    fn commit(&mut self, range: std::ops::Range<usize>, new: &[u8]) -> Result<(), SimFlashError> {
        if let Some(file) = &self.file {
            file.write_all_at(new, range.start as u64).map_err(|e| SimFlashError::Io(e.kind()))?;
        }
        self.bytes[range].copy_from_slice(new);
        Ok(())
    }
}

impl Drop for SimFlash {
    fn drop(&mut self) {
        // Best effort: every write already reached the OS; this only asks for the disk.
        let _ = self.sync();
    }
}

/// Why the flash file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FlashFileError {
    /// Opening, reading or creating it failed.
    #[error("{0}")]
    Io(io::Error),
    /// It is not a flash image of the right size.
    #[error("it is {found} bytes, not the {} of an nRF51 flash image", layout::FLASH_SIZE)]
    Size {
        /// Its size.
        found: u64,
    },
}

impl embedded_storage::nor_flash::ErrorType for SimFlash {
    type Error = SimFlashError;
}

impl ReadNorFlash for SimFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let range = self.range(offset, bytes.len())?;
        bytes.copy_from_slice(&self.bytes[range]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

impl NorFlash for SimFlash {
    const WRITE_SIZE: usize = layout::WORD_SIZE as usize;
    const ERASE_SIZE: usize = layout::PAGE_SIZE as usize;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        if from > to {
            return Err(SimFlashError::OutOfBounds);
        }
        if !from.is_multiple_of(layout::PAGE_SIZE) || !to.is_multiple_of(layout::PAGE_SIZE) {
            return Err(SimFlashError::NotAligned);
        }
        let range = self.range(from, (to - from) as usize)?;
        let erased = vec![0xFF; range.len()];
        self.commit(range, &erased)?;
        self.erases += u64::from((to - from) / layout::PAGE_SIZE);
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        if !offset.is_multiple_of(layout::WORD_SIZE)
            || !bytes.len().is_multiple_of(layout::WORD_SIZE as usize)
        {
            return Err(SimFlashError::NotAligned);
        }
        let range = self.range(offset, bytes.len())?;
        // NOR programming only pulls bits from 1 to 0.
        let new: Vec<u8> =
            self.bytes[range.clone()].iter().zip(bytes).map(|(old, data)| old & data).collect();
        self.commit(range, &new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nor_semantics() {
        let mut flash = SimFlash::erased();
        flash.write(0, &[0x0F, 0xF0, 0xAA, 0x55]).unwrap();
        flash.write(0, &[0xFF, 0x0F, 0xFF, 0xFF]).unwrap();
        let mut got = [0; 4];
        flash.read(0, &mut got).unwrap();
        assert_eq!(got, [0x0F, 0x00, 0xAA, 0x55]);
        assert_eq!(flash.write(2, &[0; 4]), Err(SimFlashError::NotAligned));
        assert_eq!(flash.write(0, &[0; 3]), Err(SimFlashError::NotAligned));
        assert_eq!(flash.write(layout::FLASH_SIZE, &[0; 4]), Err(SimFlashError::OutOfBounds));
        assert_eq!(flash.erase(0, 100), Err(SimFlashError::NotAligned));
        flash.erase(0, 1024).unwrap();
        flash.read(0, &mut got).unwrap();
        assert_eq!(got, [0xFF; 4]);
    }
}
