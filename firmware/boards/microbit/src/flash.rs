//! `NorFlash` over the nRF51 NVMC: erase 1 KiB pages, program aligned 32-bit words; reads are
//! plain memory reads (flash is memory-mapped at address 0).
//!
//! The driver writes and erases only the store (`layout::STORE_START..STORE_END`): a bug must
//! not be able to erase the code that is running or the factory page above the store, which
//! it may only read.

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use latchkey_firmware::region::layout;
use nrf51_pac as pac;

/// Why a flash operation was refused. The NVMC itself reports no errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashError {
    /// Offset or length not a multiple of the word (write) or page (erase) size.
    NotAligned,
    /// Outside the store region (or, for a read, the store and factory page).
    OutOfBounds,
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::NotAligned => NorFlashErrorKind::NotAligned,
            Self::OutOfBounds => NorFlashErrorKind::OutOfBounds,
        }
    }
}

/// The NVMC as a `NorFlash` whose offsets are flash addresses.
pub struct Nvmc {
    nvmc: pac::NVMC,
}

impl Nvmc {
    /// Takes the NVMC; starts in read-only mode.
    pub fn new(nvmc: pac::NVMC) -> Self {
        nvmc.config.write(|w| w.wen().ren());
        Self { nvmc }
    }

    /// `offset..offset + len` inside `layout::STORE_START..limit`.
    fn check(offset: u32, len: usize, limit: u32) -> Result<(), FlashError> {
        let end = u32::try_from(len).ok().and_then(|len| offset.checked_add(len));
        match end {
            Some(end) if offset >= layout::STORE_START && end <= limit => Ok(()),
            _ => Err(FlashError::OutOfBounds),
        }
    }

    fn wait_ready(&self) {
        while self.nvmc.ready.read().ready().is_busy() {}
    }
}

impl ErrorType for Nvmc {
    type Error = FlashError;
}

impl ReadNorFlash for Nvmc {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        Self::check(offset, bytes.len(), layout::FACTORY.end)?;
        for (i, byte) in bytes.iter_mut().enumerate() {
            // SAFETY: `check` keeps the address inside the store's or the factory page's flash,
            // which is mapped
            // and readable (never address 0). Volatile: the NVMC changes it behind our back.
            *byte = unsafe { core::ptr::read_volatile((offset as usize + i) as *const u8) };
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        layout::FLASH_SIZE as usize
    }
}

impl NorFlash for Nvmc {
    const WRITE_SIZE: usize = layout::WORD_SIZE as usize;
    const ERASE_SIZE: usize = layout::PAGE_SIZE as usize;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        if !from.is_multiple_of(layout::PAGE_SIZE)
            || !to.is_multiple_of(layout::PAGE_SIZE)
            || to < from
        {
            return Err(FlashError::NotAligned);
        }
        Self::check(from, (to - from) as usize, layout::STORE_END)?;
        self.nvmc.config.write(|w| w.wen().een());
        let mut page = from;
        while page < to {
            self.wait_ready();
            // SAFETY: a page-aligned address inside the store.
            self.nvmc.erasepage().write(|w| unsafe { w.bits(page) });
            self.wait_ready();
            page += layout::PAGE_SIZE;
        }
        self.nvmc.config.write(|w| w.wen().ren());
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        if !offset.is_multiple_of(layout::WORD_SIZE)
            || !bytes.len().is_multiple_of(layout::WORD_SIZE as usize)
        {
            return Err(FlashError::NotAligned);
        }
        Self::check(offset, bytes.len(), layout::STORE_END)?;
        self.nvmc.config.write(|w| w.wen().wen());
        for (i, word) in bytes.chunks_exact(4).enumerate() {
            let value = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            self.wait_ready();
            // SAFETY: a word-aligned address inside the store, with writes enabled (WEN).
            unsafe { core::ptr::write_volatile((offset as usize + i * 4) as *mut u32, value) };
            self.wait_ready();
        }
        self.nvmc.config.write(|w| w.wen().ren());
        Ok(())
    }
}
