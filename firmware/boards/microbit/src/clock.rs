//! The lock's clock: TIMER0 counting seconds since boot, plus an offset that `SetTime` sets.
//!
//! The real board would use RTC0 (32.768 kHz, runs in sleep at ~µA); QEMU 7.2's micro:bit
//! emulates no RTC (its `info mtree` has TIMER0..2 only), so the uptime comes from TIMER0 at
//! 31 250 Hz, cleared by hardware once a second. Each clear interrupts the core, which counts
//! the second: one wake-up per second, negligible. Swapping in RTC0 changes only this file.
//!
//! Unix time = the offset set by the host + uptime. After power-up the offset is unknown: the
//! clock reads seconds since boot (1970) and says it is not set.

use core::cell::Cell;

use critical_section::Mutex;
use latchkey_firmware::hal::Clock;
use nrf51_pac as pac;
use pac::interrupt;

/// 16 MHz / 2^9.
const PRESCALER: u32 = 9;
const TICK_HZ: u32 = 16_000_000 >> PRESCALER;

/// Whole seconds since boot, counted by the TIMER0 interrupt.
static SECONDS: Mutex<Cell<u32>> = Mutex::new(Cell::new(0));

fn regs() -> &'static pac::timer0::RegisterBlock {
    // SAFETY: TIMER0's registers are always mapped; after `start` only this module uses them:
    // the interrupt clears COMPARE[0], `uptime_ms` captures into CC[1] in a critical section.
    unsafe { &*pac::TIMER0::ptr() }
}

/// The clock over TIMER0.
pub struct TimerClock {
    /// Unix milliseconds at boot, as last set by the host; 0 until then.
    offset_ms: i64,
    is_set: bool,
}

impl TimerClock {
    /// Starts TIMER0 and its once-a-second interrupt. Takes the peripheral so nothing else
    /// can reconfigure it.
    pub fn start(_timer: pac::TIMER0) -> Self {
        let t = regs();
        t.tasks_stop.write(|w| unsafe { w.bits(1) });
        t.tasks_clear.write(|w| unsafe { w.bits(1) });
        t.mode.write(|w| w.mode().timer());
        t.bitmode.write(|w| w.bitmode()._32bit());
        // SAFETY: prescaler 9 and a compare value below 2^32 are valid.
        t.prescaler.write(|w| unsafe { w.prescaler().bits(PRESCALER as u8) });
        t.cc[0].write(|w| unsafe { w.bits(TICK_HZ) });
        t.shorts.write(|w| w.compare0_clear().enabled());
        t.events_compare[0].write(|w| unsafe { w.bits(0) });
        t.intenset.write(|w| w.compare0().set());
        // SAFETY: the handler only touches SECONDS (through its mutex) and COMPARE[0].
        unsafe { cortex_m::peripheral::NVIC::unmask(pac::Interrupt::TIMER0) };
        t.tasks_start.write(|w| unsafe { w.bits(1) });
        Self { offset_ms: 0, is_set: false }
    }
}

#[interrupt]
fn TIMER0() {
    critical_section::with(|cs| {
        regs().events_compare[0].write(|w| unsafe { w.bits(0) });
        let seconds = SECONDS.borrow(cs);
        seconds.set(seconds.get().wrapping_add(1));
    });
}

/// Milliseconds since boot.
fn uptime_ms() -> u64 {
    critical_section::with(|cs| {
        let t = regs();
        t.tasks_capture[1].write(|w| unsafe { w.bits(1) });
        // Clamped: an emulator may show the counter past the compare value for an instant
        // before its clear lands; that must not read as more than a second.
        let ticks = t.cc[1].read().bits().min(TICK_HZ - 1);
        let mut seconds = u64::from(SECONDS.borrow(cs).get());
        // A clear happened but its interrupt is held off by this critical section: count it,
        // unless the capture was taken just before the clear (ticks still high).
        if t.events_compare[0].read().bits() != 0 && ticks < TICK_HZ / 2 {
            seconds += 1;
        }
        seconds * 1000 + u64::from(ticks) * 1000 / u64::from(TICK_HZ)
    })
}

impl Clock for TimerClock {
    fn now(&self) -> u64 {
        let uptime = i64::try_from(uptime_ms()).unwrap_or(i64::MAX);
        u64::try_from(self.offset_ms.saturating_add(uptime) / 1000).unwrap_or(0)
    }

    fn is_set(&self) -> bool {
        self.is_set
    }

    fn set(&mut self, unix_seconds: u64) {
        let target_ms = i64::try_from(unix_seconds).unwrap_or(i64::MAX / 1000).saturating_mul(1000);
        let uptime = i64::try_from(uptime_ms()).unwrap_or(i64::MAX);
        self.offset_ms = target_ms.saturating_sub(uptime);
        self.is_set = true;
    }

    fn uptime_ms(&self) -> u64 {
        uptime_ms()
    }
}
