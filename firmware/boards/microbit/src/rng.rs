//! The nRF51 RNG peripheral (QEMU emulates it) as the core's `Rng`.
//!
//! Bias correction is on: slower (~4x), but every byte is usable for keys. The generator runs
//! only while bytes are being drawn: left running it keeps producing values nobody reads
//! (current on a lock; host CPU under QEMU).

use latchkey_firmware::hal::Rng;
use nrf51_pac as pac;

/// The hardware random number generator.
pub struct HwRng {
    rng: pac::RNG,
}

impl HwRng {
    /// Takes the RNG, stopped, with bias correction.
    pub fn new(rng: pac::RNG) -> Self {
        rng.config.write(|w| w.dercen().enabled());
        // SAFETY: 1 triggers the task.
        rng.tasks_stop.write(|w| unsafe { w.bits(1) });
        Self { rng }
    }
}

impl Rng for HwRng {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        self.rng.events_valrdy.write(|w| unsafe { w.bits(0) });
        // SAFETY: 1 triggers the task.
        self.rng.tasks_start.write(|w| unsafe { w.bits(1) });
        for byte in buf {
            while self.rng.events_valrdy.read().bits() == 0 {}
            // Clear before reading, like the UART: the next value may already be on its way.
            self.rng.events_valrdy.write(|w| unsafe { w.bits(0) });
            *byte = self.rng.value.read().value().bits();
        }
        // SAFETY: 1 triggers the task.
        self.rng.tasks_stop.write(|w| unsafe { w.bits(1) });
    }
}
