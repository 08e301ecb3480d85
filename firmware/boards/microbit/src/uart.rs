//! UART0: interrupt-driven receive into a ring buffer, blocking transmit.
//!
//! The receive interrupt moves bytes from the UART into [`RX`]; the main loop drains the ring
//! and sleeps in WFI while it is empty. If the ring fills, the interrupt masks itself and
//! leaves the byte in the UART: the hardware FIFO then fills and (under QEMU) the host's bytes
//! wait in the pty instead of being lost. The main loop unmasks it after draining.

use core::cell::RefCell;

use critical_section::Mutex;
use heapless::Deque;
use nrf51_pac as pac;
use pac::interrupt;

/// Receive ring: three of the largest encoded frames (`MAX_ENCODED_LEN` is ~330 bytes).
const RX_CAPACITY: usize = 1024;

static RX: Mutex<RefCell<Deque<u8, RX_CAPACITY>>> = Mutex::new(RefCell::new(Deque::new()));

/// micro:bit v1 edge-connector UART pins (TX P0.24, RX P0.25), the ones its USB bridge uses.
const PIN_TXD: u32 = 24;
const PIN_RXD: u32 = 25;

fn regs() -> &'static pac::uart0::RegisterBlock {
    // SAFETY: UART0's registers are always mapped; after `init` the only users are this
    // module's interrupt handler (RX side) and the main loop (TX side and INTENSET), whose
    // accesses are single register reads and writes.
    unsafe { &*pac::UART0::ptr() }
}

/// Enables UART0 at 115200 8N1 and its receive interrupt. Takes the peripheral so nothing
/// else can configure it.
pub fn init(_uart: pac::UART0, nvic: &mut cortex_m::peripheral::NVIC) {
    let uart = regs();
    // SAFETY (all `bits` writes below): values from the nRF51 reference manual.
    uart.pseltxd.write(|w| unsafe { w.bits(PIN_TXD) });
    uart.pselrxd.write(|w| unsafe { w.bits(PIN_RXD) });
    uart.baudrate.write(|w| unsafe { w.bits(0x01D7_E000) }); // 115200 (ignored by QEMU)
    uart.enable.write(|w| w.enable().enabled());
    uart.events_rxdrdy.write(|w| unsafe { w.bits(0) });
    uart.events_txdrdy.write(|w| unsafe { w.bits(0) });
    uart.tasks_startrx.write(|w| unsafe { w.bits(1) });
    uart.tasks_starttx.write(|w| unsafe { w.bits(1) });
    uart.intenset.write(|w| w.rxdrdy().set());
    // SAFETY: the handler below only touches RX (through the critical-section mutex) and
    // UART0's receive registers.
    unsafe { nvic.set_priority(pac::Interrupt::UART0, 0) };
    unsafe { cortex_m::peripheral::NVIC::unmask(pac::Interrupt::UART0) };
}

#[interrupt]
fn UART0() {
    let uart = regs();
    critical_section::with(|cs| {
        let mut rx = RX.borrow_ref_mut(cs);
        while uart.events_rxdrdy.read().bits() != 0 {
            if rx.is_full() {
                // Leave the byte (and the event) in the UART; `read` unmasks us after draining.
                uart.intenclr.write(|w| w.rxdrdy().clear());
                return;
            }
            // Clear the event *before* reading RXD: QEMU raises it again at once while its
            // FIFO still holds data, so clearing after the read would lose that signal.
            uart.events_rxdrdy.write(|w| unsafe { w.bits(0) });
            let byte = uart.rxd.read().rxd().bits();
            // Cannot fail: checked `is_full` above.
            let _ = rx.push_back(byte);
        }
    });
}

/// Fills `buf` with received bytes, sleeping until at least one has arrived or another
/// interrupt (the clock's once a second) wakes the core. Returns how many: 0 after such a
/// wake, so the caller can let time pass (`Lock::tick`) and sleep again.
pub fn read(buf: &mut [u8]) -> usize {
    {
        let n = critical_section::with(|cs| {
            let mut rx = RX.borrow_ref_mut(cs);
            let mut n = 0;
            while n < buf.len() {
                match rx.pop_front() {
                    Some(byte) => {
                        buf[n] = byte;
                        n += 1;
                    }
                    None => break,
                }
            }
            if n == 0 {
                // Sleeping with interrupts masked closes the race between "ring empty" and
                // WFI: a pending interrupt still wakes the core, and runs when `with` ends.
                cortex_m::asm::wfi();
            }
            n
        });
        if n > 0 {
            // The ring has room again; a receive interrupt masked while it was full resumes
            // (its event is still pending, so it fires at once).
            regs().intenset.write(|w| w.rxdrdy().set());
        }
        n
    }
}

/// Sends `bytes`, waiting for each to leave the transmit register.
pub fn write(bytes: &[u8]) {
    let uart = regs();
    for &byte in bytes {
        // SAFETY: any byte is a valid TXD value.
        uart.txd.write(|w| unsafe { w.txd().bits(byte) });
        while uart.events_txdrdy.read().bits() == 0 {}
        uart.events_txdrdy.write(|w| unsafe { w.bits(0) });
    }
}
