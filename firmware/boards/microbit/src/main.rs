//! The latchkey lock firmware on a BBC micro:bit v1 (nRF51822, Cortex-M0, 256 KiB flash,
//! 16 KiB RAM), as run by `qemu-system-arm -M microbit` with UART0 on a host pty.
//!
//! This file is the board glue only: it builds the HAL implementations, boots the core
//! (`latchkey_firmware::Lock`) on them and feeds UART bytes to the core's `Link`. Every rule
//! lives in the core; nothing here knows a message type beyond the boot event.
#![no_std]
#![no_main]

mod battery;
mod clock;
mod flash;
mod panic;
mod rng;
mod uart;

use cortex_m_rt::entry;
use latchkey_firmware::hal::{NoBeeper, NoFingerprintSensor, NoMotor, Parts};
use latchkey_firmware::{FactoryClaim, Identity, Link, Lock, Store};
use latchkey_protocol::{Event, Ident, ResetReason};
use nrf51_pac as pac;

/// Model name reported in `Hello`.
const MODEL: &str = "LK-100 (micro:bit)";

/// Requests the host may send before the first is answered. The receive ring holds 1 KiB,
/// three of the largest frames; two leaves room for a retry. (Under QEMU nothing is lost
/// even beyond that: QEMU holds input back while the UART's FIFO is full.)
const MAX_IN_FLIGHT: u8 = 2;

/// The lock as this board builds it.
type BoardLock = Lock<
    flash::Nvmc,
    clock::TimerClock,
    battery::FixedBattery,
    rng::HwRng,
    Parts<NoMotor, NoFingerprintSensor, NoBeeper>,
>;

#[entry]
fn main() -> ! {
    panic::boot_started();
    let Some(p) = pac::Peripherals::take() else {
        // Only reachable if something took them before `main`, which nothing does.
        panic!("peripherals already taken");
    };
    uart::init(p.UART0, &mut cortex_m_nvic());
    // Built in a frame of its own and returned in place: main's frame, under every request
    // for as long as the lock runs, then holds the lock once, not the boot's copies of it.
    let mut lock = boot(p.TIMER0, p.RNG, p.NVMC, &p.FICR);
    panic::boot_completed();

    let mut link = Link::new();
    link.send_event(&Event::Booted { boot_count: lock.boot_count() }, &mut send);

    let mut buf = [0u8; 64];
    loop {
        // Sleeps (WFI) until the UART has bytes or the clock's second ticks, so an idle lock
        // costs no host CPU under QEMU.
        let n = uart::read(&mut buf);
        if n > 0 {
            serve(&mut link, &mut lock, &buf[..n]);
        }
        // Time-outs and the auto-relock; then whatever the lock has to report.
        report(&mut link, &mut lock);
    }
}

/// Reads the factory page, mounts the store and boots the lock. Never inlined: its
/// temporaries (the store before it moves into the lock, the lock before it is returned) go
/// when it returns.
#[inline(never)]
fn boot(timer: pac::TIMER0, rng: pac::RNG, nvmc: pac::NVMC, ficr: &pac::FICR) -> BoardLock {
    let clock = clock::TimerClock::start(timer);
    let rng = rng::HwRng::new(rng);
    let mut flash = flash::Nvmc::new(nvmc);
    // The factory page holds what the lock keeps of its setup code (never the code). A lock
    // without it still serves its users and its technicians; it cannot be claimed, and its
    // `Hello` says so (an all-zero claim salt).
    let claim = FactoryClaim::read(&mut flash).ok();
    let identity = Identity {
        model: ident(MODEL),
        serial: serial_number(ficr),
        simulation: cfg!(feature = "simulation"),
        max_in_flight: MAX_IN_FLIGHT,
        claim,
    };
    // Without its store the lock cannot decide anything: record why and reset (see panic.rs,
    // which stops retrying after a few failed boots in a row).
    let store = match Store::mount(flash) {
        Ok(store) => store,
        Err(e) => panic!("cannot mount the store: {e}"),
    };
    // QEMU's micro:bit has no motor, sensor, beeper, keypad or reader: no hands at this door yet.
    let devices = Parts { motor: NoMotor, fingerprint: NoFingerprintSensor, beeper: NoBeeper };
    // A reset the panic handler made says so; anything else here is a power-up (QEMU's
    // system_reset included: the nRF51's RESETREAS is not emulated).
    let reason = if panic::reset_by_panic() { ResetReason::Panic } else { ResetReason::PowerOn };
    let battery = battery::board_battery();
    match Lock::boot(store, clock, battery, rng, devices, identity, reason) {
        Ok(lock) => lock,
        Err(e) => panic!("cannot boot the lock: {e}"),
    }
}

/// Where the UART's frames go out.
fn send(frame: &[u8]) {
    uart::write(frame);
}

/// Hands received bytes to the link, which answers the requests they complete. Never
/// inlined, like [`boot`] and [`report`]: main's frame stays under the lock's whole life (and
/// under the boot), so it holds the lock and the link, not the buffers of one request.
#[inline(never)]
fn serve(link: &mut Link, lock: &mut BoardLock, bytes: &[u8]) {
    link.receive(bytes, lock, &mut send);
}

/// Runs the lock's clock work, then sends what it has to report.
#[inline(never)]
fn report(link: &mut Link, lock: &mut BoardLock) {
    lock.tick();
    while let Some(event) = lock.next_event() {
        link.send_event(&event, &mut send);
    }
}

/// Unmasking interrupts is a core-peripheral operation; this is the one place that steals
/// `cortex_m::Peripherals` (nothing else in the image uses them).
fn cortex_m_nvic() -> cortex_m::peripheral::NVIC {
    // SAFETY: called once at boot before any interrupt is enabled; NVIC is only used to
    // unmask the UART0 and TIMER0 lines.
    unsafe { cortex_m::Peripherals::steal() }.NVIC
}

/// `s` as an `Ident`; a constant known to fit, so a failure could only ever shorten it.
fn ident(s: &str) -> Ident {
    let mut out = Ident::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

/// The nRF51's factory-programmed 64-bit DEVICEID (QEMU provides one) as 16 hex digits.
fn serial_number(ficr: &pac::FICR) -> Ident {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let id = (u64::from(ficr.deviceid[1].read().bits()) << 32)
        | u64::from(ficr.deviceid[0].read().bits());
    let mut out = Ident::new();
    for shift in (0..16).rev() {
        let digit = HEX[((id >> (shift * 4)) & 0xF) as usize];
        // 16 characters always fit IDENT_MAX (24).
        let _ = out.push(char::from(digit));
    }
    out
}
