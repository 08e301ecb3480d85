//! Panics: record the reason in RAM that survives a reset, then reset.
//!
//! A lock that halts is a locked door until someone pulls its batteries, so a panic resets
//! the MCU and the lock boots again. The reason ("panicked at src/main.rs:52:19: cannot mount
//! the store: ...") is written to [`RECORD`], a `.uninit` RAM section that cortex-m-rt neither
//! zeroes nor initializes, so the next boot finds it. It stays there until the next panic:
//! a debugger reads it at the symbol `LATCHKEY_PANIC_RECORD`, and [`last_panic`] hands it to
//! the core once the protocol has a message for it (a later issue).
//!
//! A panic during boot that repeats [`MAX_CONSECUTIVE`] times in a row (say, a store that
//! cannot be mounted) stops the resets: the core sleeps with every interrupt masked rather
//! than boot-looping at full power. Power-up leaves RAM random; the magic number and check
//! word tell a record from noise.

use core::fmt::Write;
use core::mem::MaybeUninit;
use core::panic::PanicInfo;
use core::ptr::{addr_of, addr_of_mut};

const MAGIC: u32 = 0x4C4B_5041; // "LKPA"
const TEXT_LEN: usize = 120;
/// Panics in a row, without a completed boot in between, after which the lock stays down.
const MAX_CONSECUTIVE: u32 = 3;

#[repr(C)]
struct Record {
    magic: u32,
    /// `magic ^ consecutive ^ len`: a random power-up pattern will not match it.
    check: u32,
    /// Panics since the last boot that completed.
    consecutive: u32,
    /// Bytes of `text` in use; 0 when no panic was ever recorded.
    len: u32,
    text: [u8; TEXT_LEN],
}

#[unsafe(link_section = ".uninit.LATCHKEY_PANIC_RECORD")]
#[unsafe(no_mangle)]
static mut LATCHKEY_PANIC_RECORD: MaybeUninit<Record> = MaybeUninit::uninit();

/// The record, as a raw pointer: it may be uninitialized, so no reference is made to it
/// until it was written.
fn record() -> *mut Record {
    addr_of_mut!(LATCHKEY_PANIC_RECORD).cast()
}

/// `(consecutive, len)` of a valid record.
fn read_header() -> Option<(u32, u32)> {
    let rec = record();
    // SAFETY: in-bounds reads of plain integers from our own static; a never-written (random)
    // record is rejected by the magic and check words. Volatile, because the value must come
    // from RAM as the previous boot left it.
    unsafe {
        let magic = core::ptr::read_volatile(addr_of!((*rec).magic));
        let check = core::ptr::read_volatile(addr_of!((*rec).check));
        let consecutive = core::ptr::read_volatile(addr_of!((*rec).consecutive));
        let len = core::ptr::read_volatile(addr_of!((*rec).len));
        (magic == MAGIC && check == MAGIC ^ consecutive ^ len && len as usize <= TEXT_LEN)
            .then_some((consecutive, len))
    }
}

fn write_header(consecutive: u32, len: u32) {
    let rec = record();
    // SAFETY: in-bounds writes of plain integers to our own static, single-threaded (boot
    // code or the panic handler with interrupts disabled).
    unsafe {
        core::ptr::write_volatile(addr_of_mut!((*rec).consecutive), consecutive);
        core::ptr::write_volatile(addr_of_mut!((*rec).len), len);
        core::ptr::write_volatile(addr_of_mut!((*rec).check), MAGIC ^ consecutive ^ len);
        core::ptr::write_volatile(addr_of_mut!((*rec).magic), MAGIC);
    }
}

/// First thing at boot: turns power-up noise into an empty record; keeps a real one.
pub fn boot_started() {
    if read_header().is_none() {
        // SAFETY: as in `write_header`; the text is zeroed so it is never read uninitialized.
        unsafe { core::ptr::write_bytes(addr_of_mut!((*record()).text), 0, 1) };
        write_header(0, 0);
    }
}

/// Whether this start follows a panic (one recorded since the last completed boot). Ask
/// before [`boot_completed`], which starts a new count.
pub fn reset_by_panic() -> bool {
    read_header().is_some_and(|(consecutive, _)| consecutive > 0)
}

/// The lock booted: a later panic starts a new count of panics in a row.
pub fn boot_completed() {
    let len = read_header().map_or(0, |(_, len)| len);
    write_header(0, len);
}

/// Why the last panic happened, if one was recorded since power-up.
#[expect(dead_code, reason = "reported over the protocol by a later issue; kept for that")]
pub fn last_panic() -> Option<&'static str> {
    let (_, len) = read_header()?;
    if len == 0 {
        return None;
    }
    // SAFETY: a valid header means the text was written by `panic` (or zeroed at boot).
    let text: &'static [u8; TEXT_LEN] = unsafe { &*addr_of!((*record()).text) };
    let text = &text[..len as usize];
    // The record is cut at a byte count, possibly inside a character: keep the valid prefix.
    Some(match core::str::from_utf8(text) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&text[..e.valid_up_to()]).unwrap_or_default(),
    })
}

/// Formats into the record's text, cutting what does not fit.
struct Truncating<'a> {
    buf: &'a mut [u8; TEXT_LEN],
    len: usize,
}

impl Write for Truncating<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(TEXT_LEN - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    cortex_m::interrupt::disable();
    let consecutive = read_header().map_or(0, |(n, _)| n).saturating_add(1);
    // SAFETY: interrupts are off and nothing else runs; the text is a plain byte array.
    let text = unsafe {
        let text = addr_of_mut!((*record()).text);
        core::ptr::write_bytes(text, 0, 1);
        &mut *text
    };
    let mut out = Truncating { buf: text, len: 0 };
    let _ = write!(out, "{info}");
    let len = out.len as u32;
    write_header(consecutive, len);

    if consecutive < MAX_CONSECUTIVE {
        cortex_m::peripheral::SCB::sys_reset();
    }
    // Stay down: mask every interrupt line so WFI really sleeps (PRIMASK alone would let a
    // pending interrupt wake it at once, forever).
    // SAFETY: writing all ones to ICER only disables interrupts.
    unsafe { (*cortex_m::peripheral::NVIC::PTR).icer[0].write(u32::MAX) };
    loop {
        cortex_m::asm::wfi();
    }
}
