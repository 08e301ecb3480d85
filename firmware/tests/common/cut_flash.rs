//! A flash whose power fails at a chosen byte of a chosen write or erase: the fault the
//! power-cut tests of the store (`power_cut.rs`) and of the event log (`event_log.rs`) inject.

use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};
use latchkey_sim::{SimFlash, SimFlashError};

/// What every operation after the cut gets.
const DEAD: SimFlashError = SimFlashError::Io(std::io::ErrorKind::Other);

/// A flash whose power fails `cut_byte` bytes into its `ops_before_cut`-th write or erase
/// (counting from 0, and counting only erases if made with [`CutFlash::at_erase`]): the bytes
/// before the cut are programmed (a partial word only in its leading bytes, as the NOR cells
/// are programmed in order) or erased, and every later operation fails.
pub struct CutFlash<'a> {
    inner: &'a mut SimFlash,
    ops_before_cut: usize,
    erases_only: bool,
    cut_byte: usize,
    /// The power is gone.
    pub dead: bool,
    /// Writes and erases done (the one the power died in included).
    pub ops: usize,
}

impl<'a> CutFlash<'a> {
    /// Cuts `byte` bytes into write or erase number `op`.
    pub fn new(inner: &'a mut SimFlash, op: usize, byte: usize) -> Self {
        Self { inner, ops_before_cut: op, erases_only: false, cut_byte: byte, dead: false, ops: 0 }
    }

    /// Cuts `byte` bytes into erase number `erases_before_cut`, whatever the writes.
    pub fn at_erase(inner: &'a mut SimFlash, erases_before_cut: usize, byte: usize) -> Self {
        Self { erases_only: true, ..Self::new(inner, erases_before_cut, byte) }
    }

    /// True if this operation is the one the power dies in.
    fn cut_now(&mut self, erase: bool) -> Result<bool, SimFlashError> {
        if self.dead {
            return Err(DEAD);
        }
        self.ops += 1;
        if self.erases_only && !erase {
            return Ok(false);
        }
        if self.ops_before_cut == 0 {
            self.dead = true;
            return Ok(true);
        }
        self.ops_before_cut -= 1;
        Ok(false)
    }
}

impl ErrorType for CutFlash<'_> {
    type Error = SimFlashError;
}

impl ReadNorFlash for CutFlash<'_> {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        if self.dead {
            return Err(DEAD);
        }
        self.inner.read(offset, bytes)
    }
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
}

impl NorFlash for CutFlash<'_> {
    const WRITE_SIZE: usize = SimFlash::WRITE_SIZE;
    const ERASE_SIZE: usize = SimFlash::ERASE_SIZE;

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        if !self.cut_now(false)? {
            return self.inner.write(offset, bytes);
        }
        cut_write(self.inner, offset, bytes, self.cut_byte)
    }

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        if !self.cut_now(true)? {
            return self.inner.erase(from, to);
        }
        cut_erase(self.inner, from, to, self.cut_byte)
    }
}

/// A write the power dies in, `cut_byte` (modulo its length + 1) bytes into it: the bytes
/// before the cut are programmed (a partial word only in its leading bytes, as the NOR cells
/// are programmed in order). Always fails, as the dead flash does.
pub fn cut_write(
    inner: &mut SimFlash,
    offset: u32,
    bytes: &[u8],
    cut_byte: usize,
) -> Result<(), SimFlashError> {
    let cut = cut_byte % (bytes.len() + 1);
    let whole = cut - cut % SimFlash::WRITE_SIZE;
    if whole > 0 {
        inner.write(offset, &bytes[..whole])?;
    }
    if cut > whole {
        // Program only the leading bytes of the last word: 0xFF leaves a NOR cell as is.
        let mut word = [0xFF; SimFlash::WRITE_SIZE];
        word[..cut - whole].copy_from_slice(&bytes[whole..cut]);
        inner.write(offset + whole as u32, &word)?;
    }
    Err(DEAD)
}

/// An erase the power dies in, `cut_byte` (modulo its length + 1) bytes into it: the first
/// bytes are erased, the rest still hold old data. Always fails.
pub fn cut_erase(
    inner: &mut SimFlash,
    from: u32,
    to: u32,
    cut_byte: usize,
) -> Result<(), SimFlashError> {
    const PAGE: usize = SimFlash::ERASE_SIZE;
    let cut = cut_byte % ((to - from) as usize + 1);
    let pages = cut / PAGE;
    let end = from + (pages * PAGE) as u32;
    if pages > 0 {
        inner.erase(from, end)?;
    }
    let partial = cut % PAGE;
    if partial > 0 {
        // A partly erased page: its bytes before the cut become 0xFF.
        let mut page = vec![0u8; PAGE];
        inner.read(end, &mut page)?;
        page[..partial].fill(0xFF);
        inner.erase(end, end + PAGE as u32)?;
        // Reprogram the rest; NOR writes cannot set bits, so this restores exactly `page`.
        inner.write(end, &page)?;
    }
    Err(DEAD)
}
