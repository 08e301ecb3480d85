//! What the client needs from a line: send bytes, and wait for bytes until a deadline. The
//! real one is a serial port; tests use a scripted lock in memory.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

/// A byte line to a lock. Every wait is bounded by a deadline, so no caller can hang.
pub trait Transport {
    /// Writes all of `bytes`; fails with [`io::ErrorKind::TimedOut`] if the line does not
    /// take them before `deadline`.
    fn send(&mut self, bytes: &[u8], deadline: Instant) -> io::Result<()>;

    /// Waits until bytes arrive or `deadline` passes, and reads what is there into `buf`.
    /// `Ok(0)` means the deadline passed with nothing read.
    fn receive(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<usize>;
}

/// The time left until `deadline`, `None` once it has passed.
fn time_left(deadline: Instant) -> Option<Duration> {
    Some(deadline.saturating_duration_since(Instant::now())).filter(|left| !left.is_zero())
}

/// Puts the port in non-blocking mode. serialport reads by polling and then calling a
/// blocking `read()`: if another program reading the same port takes the bytes in between,
/// that `read()` never returns. Non-blocking, it returns `WouldBlock` and we poll again with
/// the time that is left.
fn ensure_nonblocking(port: &TTYPort) -> io::Result<()> {
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    // SAFETY: the descriptor belongs to `port`, which outlives this borrow (serialport
    // implements `AsRawFd` but not `AsFd`).
    let fd = unsafe { BorrowedFd::borrow_raw(port.as_raw_fd()) };
    let flags = fcntl_getfl(fd)?;
    if !flags.contains(OFlags::NONBLOCK) {
        fcntl_setfl(fd, flags | OFlags::NONBLOCK)?;
    }
    Ok(())
}

impl Transport for TTYPort {
    fn send(&mut self, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
        ensure_nonblocking(self)?;
        // No `flush()` (tcdrain): it waits for the far end without a bound, and the answer
        // we wait for next proves the bytes went out.
        while !bytes.is_empty() {
            let Some(left) = time_left(deadline) else {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "the port took no more bytes"));
            };
            self.set_timeout(left)?;
            match self.write(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::Interrupted
                            | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn receive(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
        ensure_nonblocking(self)?;
        loop {
            let Some(left) = time_left(deadline) else { return Ok(0) };
            self.set_timeout(left)?;
            match self.read(buf) {
                Ok(n) if n > 0 => return Ok(n),
                // Nothing yet (a poll that timed out, bytes another reader took, a signal):
                // wait again with what is left.
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::Interrupted
                            | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }
}
