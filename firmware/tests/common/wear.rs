//! A flash that counts erases page by page, and by cause: the test says what the lock is
//! doing (serving the door, a session over the cable) and each erase is booked to it, so wear
//! can be projected for another mix of traffic.

use std::cell::RefCell;
use std::rc::Rc;

use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};
use latchkey_firmware::region::layout;
use latchkey_sim::{SimFlash, SimFlashError};

const PAGES: usize = (layout::FLASH_SIZE / layout::PAGE_SIZE) as usize;

/// Erases per page, booked to causes `0..causes`.
pub struct Wear {
    cause: usize,
    erases: Vec<[u64; PAGES]>,
}

/// The test's handle on a [`WearFlash`]'s counts.
#[derive(Clone)]
pub struct WearMeter(Rc<RefCell<Wear>>);

impl WearMeter {
    /// Books the erases from now on to `cause`.
    pub fn cause(&self, cause: usize) {
        self.0.borrow_mut().cause = cause;
    }

    /// Erases of page `page` (its index in the flash) booked to `cause`.
    pub fn erases(&self, cause: usize, page: usize) -> u64 {
        self.0.borrow().erases[cause][page]
    }

    /// Erases of page `page`, every cause.
    pub fn total(&self, page: usize) -> u64 {
        self.0.borrow().erases.iter().map(|by_page| by_page[page]).sum()
    }
}

/// The flash a lock runs on, counting its erases.
pub struct WearFlash {
    inner: SimFlash,
    meter: WearMeter,
}

impl WearFlash {
    pub fn new(inner: SimFlash, causes: usize) -> (Self, WearMeter) {
        let meter =
            WearMeter(Rc::new(RefCell::new(Wear { cause: 0, erases: vec![[0; PAGES]; causes] })));
        (Self { inner, meter: meter.clone() }, meter)
    }
}

impl ErrorType for WearFlash {
    type Error = SimFlashError;
}

impl ReadNorFlash for WearFlash {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.inner.read(offset, bytes)
    }
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
}

impl NorFlash for WearFlash {
    const WRITE_SIZE: usize = SimFlash::WRITE_SIZE;
    const ERASE_SIZE: usize = SimFlash::ERASE_SIZE;

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.inner.write(offset, bytes)
    }

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let before = self.inner.page_erases();
        self.inner.erase(from, to)?;
        // The simulator's own count says how many pages that was.
        debug_assert_eq!(self.inner.page_erases() - before, u64::from((to - from) / 1024));
        let mut wear = self.meter.0.borrow_mut();
        let cause = wear.cause;
        for page in from / layout::PAGE_SIZE..to / layout::PAGE_SIZE {
            wear.erases[cause][page as usize] += 1;
        }
        Ok(())
    }
}
