//! The flash regions: where each lives ([`layout`]) and the page-level helpers both the
//! store and the event log use on their region (erase it, tell an erased one from one that
//! holds data). A leaf: the store and the log sit side by side over it.

use crate::hal::{NorFlash, NorFlashError, NorFlashErrorKind};

/// Where each region lives. The one place flash addresses are defined.
pub mod layout {
    use core::ops::Range;

    /// Size of the whole flash (nRF51822).
    pub const FLASH_SIZE: u32 = 256 * 1024;
    /// Erase page size.
    pub const PAGE_SIZE: u32 = 1024;
    /// Program word size: writes are whole, aligned words.
    pub const WORD_SIZE: u32 = 4;

    /// End of the firmware image: the first 128 KiB (`0x0_0000..0x2_0000`) are the image's,
    /// and the board's `memory.x` gives the linker exactly that much, so an image that outgrows
    /// its budget fails to link instead of overlapping the store.
    pub const IMAGE_END: u32 = 0x2_0000;
    /// Start of the store: right after the image, 128 KiB to the end of flash.
    pub const STORE_START: u32 = IMAGE_END;
    /// Settings, boot counter and the format marker: 4 pages. A settings record is about
    /// 56 bytes with its item header, so a page holds ~17 writes before migration; 4 pages keep
    /// one spare page for migration and plenty of headroom.
    pub const SETTINGS: Range<u32> = 0x2_0000..0x2_1000;
    /// Users and their credentials: 40 pages, room for 100 users with 8 credentials of up to
    /// ~40 bytes each plus migration headroom.
    pub const CREDENTIALS: Range<u32> = 0x2_1000..0x2_B000;
    /// The event log ([`crate::log`]): 75 pages, a sequential-storage queue of hash-chained
    /// records. A typical record is a 32-byte item (31 a page): 2,294 records are kept once
    /// the log is full (see `log::CAPACITY`).
    pub const EVENT_LOG: Range<u32> = 0x2_B000..0x3_DC00;
    /// The reserved area for security records ([`crate::log`]): 8 pages of copies of the
    /// log's security records, which only newer security records take room from.
    pub const SECURITY_LOG: Range<u32> = EVENT_LOG.end..0x3_FC00;
    /// End of the store, which the firmware may write.
    pub const STORE_END: u32 = SECURITY_LOG.end;
    /// The factory page ([`crate::factory`]): the last page of flash, written once by the
    /// factory's provisioning step, read-only to the firmware.
    pub const FACTORY: Range<u32> = STORE_END..FLASH_SIZE;

    const _: () = {
        assert!(SETTINGS.start == STORE_START && SETTINGS.end == CREDENTIALS.start);
        assert!(CREDENTIALS.end == EVENT_LOG.start && EVENT_LOG.end == SECURITY_LOG.start);
        assert!(SECURITY_LOG.end == STORE_END);
        assert!(FACTORY.end - FACTORY.start == PAGE_SIZE && FACTORY.end == FLASH_SIZE);
        assert!(STORE_START.is_multiple_of(PAGE_SIZE) && SETTINGS.end.is_multiple_of(PAGE_SIZE));
        assert!(CREDENTIALS.end.is_multiple_of(PAGE_SIZE));
        // The budget: 128 KiB image, 4 + 40 KiB settings and credentials, one factory page,
        // the rest log.
        assert!(IMAGE_END == 128 * 1024 && IMAGE_END.is_multiple_of(PAGE_SIZE));
        assert!(SETTINGS.end - SETTINGS.start == 4 * 1024);
        assert!(CREDENTIALS.end - CREDENTIALS.start == 40 * 1024);
        assert!(EVENT_LOG.end - EVENT_LOG.start == 75 * 1024);
        assert!(SECURITY_LOG.end - SECURITY_LOG.start == 8 * 1024);
    };
}

/// Erases `range` page by page, so a cut leaves whole pages in either state (and at most one
/// half-erased). Shared by the store's regions and
/// the event log.
pub(crate) fn erase_region<F: NorFlash>(
    flash: &mut F,
    range: core::ops::Range<u32>,
) -> Result<(), NorFlashErrorKind> {
    let mut page = range.start;
    while page < range.end {
        flash.erase(page, page + layout::PAGE_SIZE).map_err(|e| e.kind())?;
        page += layout::PAGE_SIZE;
    }
    Ok(())
}

/// What a region holds, to tell a region that was never formatted from one with data.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Contents {
    /// Every byte 0xFF.
    Erased,
    /// Only 0x00 and 0xFF bytes, some 0x00: unprogrammed (QEMU) or an interrupted format.
    Blank,
    /// Anything else: a store, to be mounted and never erased here.
    Data,
}

/// Classifies the bytes of `range`.
pub(crate) fn scan<F: NorFlash>(
    flash: &mut F,
    range: core::ops::Range<u32>,
) -> Result<Contents, NorFlashErrorKind> {
    let mut chunk = [0u8; 64];
    let mut any_zero = false;
    let mut at = range.start;
    while at < range.end {
        let len = chunk.len().min((range.end - at) as usize);
        let part = &mut chunk[..len];
        flash.read(at, part).map_err(|e| e.kind())?;
        for &byte in part.iter() {
            match byte {
                0xFF => {}
                0x00 => any_zero = true,
                _ => return Ok(Contents::Data),
            }
        }
        at += len as u32;
    }
    Ok(if any_zero { Contents::Blank } else { Contents::Erased })
}
