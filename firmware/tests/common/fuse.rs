//! A flash with a fuse: the test arms it while a lock runs on the flash (the lock owns the
//! flash, so the test keeps a [`Fuse`] handle), and from then on every write and erase is
//! recorded, and the power dies at a chosen byte of a chosen one, as [`super::cut_flash`] cuts
//! it. At the cut the fuse keeps the flash as it was just before the interrupted operation
//! and as it would be had that operation finished: the two states a reboot may find.

use std::cell::RefCell;
use std::rc::Rc;

use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};
use latchkey_sim::{SimFlash, SimFlashError};

use super::cut_flash::{cut_erase, cut_write};

/// One flash operation: what it touched (not its data), to tell two runs apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Write { offset: u32, len: usize },
    Erase { from: u32, to: u32 },
}

impl Op {
    /// The first address it touches.
    pub fn address(&self) -> u32 {
        match *self {
            Op::Write { offset, .. } => offset,
            Op::Erase { from, .. } => from,
        }
    }
}

#[derive(Default)]
struct State {
    armed: bool,
    /// The flash when the first operation after arming came.
    at_arm: Option<Vec<u8>>,
    /// What each write wrote (`None` for an erase), to replay the operations.
    data: Vec<Option<Vec<u8>>>,
    /// Operation (counted from arming) and byte to cut at.
    cut: Option<(usize, usize)>,
    /// Operations since arming, the one the power died in included.
    ops: Vec<Op>,
    dead: bool,
    /// The flash just before the interrupted operation, and had it finished.
    before: Option<Vec<u8>>,
    whole: Option<Vec<u8>>,
}

/// The test's handle on a [`FusedFlash`].
#[derive(Clone, Default)]
pub struct Fuse(Rc<RefCell<State>>);

impl Fuse {
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on operations are recorded; with `cut`, the power dies `byte` bytes into
    /// operation number `op` (from 0).
    pub fn arm(&self, cut: Option<(usize, usize)>) {
        let mut state = self.0.borrow_mut();
        state.armed = true;
        state.cut = cut;
    }

    /// Operations since arming.
    pub fn ops(&self) -> Vec<Op> {
        self.0.borrow().ops.clone()
    }

    /// Whether the power died.
    pub fn dead(&self) -> bool {
        self.0.borrow().dead
    }

    /// The flash as it was at arming with the first `n` recorded operations done (all of
    /// them whole): the flash at any point of a run that was not cut. `None` before the
    /// first operation.
    pub fn replay(&self, n: usize) -> Option<Vec<u8>> {
        let state = self.0.borrow();
        let mut flash = SimFlash::from_bytes(state.at_arm.clone()?);
        for (op, data) in state.ops.iter().zip(&state.data).take(n) {
            match (op, data) {
                (Op::Write { offset, .. }, Some(bytes)) => flash.write(*offset, bytes).unwrap(),
                (Op::Erase { from, to }, _) => flash.erase(*from, *to).unwrap(),
                (Op::Write { .. }, None) => unreachable!("a write's data is kept"),
            }
        }
        Some(flash.bytes().to_vec())
    }

    /// The flash just before the interrupted operation, and had it finished.
    pub fn cut_states(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        let state = self.0.borrow();
        Some((state.before.clone()?, state.whole.clone()?))
    }
}

/// The flash a lock runs on, wired to a [`Fuse`].
pub struct FusedFlash<'a> {
    inner: &'a mut SimFlash,
    fuse: Fuse,
}

impl<'a> FusedFlash<'a> {
    pub fn new(inner: &'a mut SimFlash, fuse: &Fuse) -> Self {
        Self { inner, fuse: fuse.clone() }
    }

    /// Records `op`; true if the power dies in it, after keeping the flash as it is and as
    /// `finish` (the whole operation) would leave it.
    fn cut_now(
        &mut self,
        op: Op,
        data: Option<&[u8]>,
        finish: impl FnOnce(&mut SimFlash) -> Result<(), SimFlashError>,
    ) -> Result<bool, SimFlashError> {
        let mut state = self.fuse.0.borrow_mut();
        if state.dead {
            return Err(SimFlashError::Io(std::io::ErrorKind::Other));
        }
        if !state.armed {
            return Ok(false);
        }
        if state.at_arm.is_none() {
            state.at_arm = Some(self.inner.bytes().to_vec());
        }
        state.ops.push(op);
        state.data.push(data.map(<[u8]>::to_vec));
        if state.cut.is_none_or(|(at, _)| at + 1 != state.ops.len()) {
            return Ok(false);
        }
        state.dead = true;
        let before = self.inner.bytes().to_vec();
        let mut whole = SimFlash::from_bytes(before.clone());
        finish(&mut whole)?;
        state.before = Some(before);
        state.whole = Some(whole.bytes().to_vec());
        Ok(true)
    }

    fn cut_byte(&self) -> usize {
        self.fuse.0.borrow().cut.map_or(0, |(_, byte)| byte)
    }
}

impl ErrorType for FusedFlash<'_> {
    type Error = SimFlashError;
}

impl ReadNorFlash for FusedFlash<'_> {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        if self.fuse.dead() {
            return Err(SimFlashError::Io(std::io::ErrorKind::Other));
        }
        self.inner.read(offset, bytes)
    }
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
}

impl NorFlash for FusedFlash<'_> {
    const WRITE_SIZE: usize = SimFlash::WRITE_SIZE;
    const ERASE_SIZE: usize = SimFlash::ERASE_SIZE;

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let op = Op::Write { offset, len: bytes.len() };
        if self.cut_now(op, Some(bytes), |whole| whole.write(offset, bytes))? {
            let byte = self.cut_byte();
            return cut_write(self.inner, offset, bytes, byte);
        }
        self.inner.write(offset, bytes)
    }

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        if self.cut_now(Op::Erase { from, to }, None, |whole| whole.erase(from, to))? {
            let byte = self.cut_byte();
            return cut_erase(self.inner, from, to, byte);
        }
        self.inner.erase(from, to)
    }
}
