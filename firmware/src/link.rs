//! The link layer: bytes in, frames out.
//!
//! It owns the frame accumulator, counts what it drops and why, and turns each intact request
//! into exactly one response frame with the request's sequence number.

use latchkey_protocol::{
    DropReason, Event, FrameAccumulator, Header, Kind, MAX_ENCODED_LEN, PROTOCOL_VERSION, Request,
    Response, Status, decode_body, encode_frame,
};

use crate::lock::Handler;

/// Link counters, reported in `Diagnostics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames with a good CRC.
    pub frames_received: u32,
    /// Frames sent.
    pub frames_sent: u32,
    /// Dropped: longer than the maximum.
    pub dropped_too_long: u32,
    /// Dropped: bad COBS, too short, or unknown kind.
    pub dropped_malformed: u32,
    /// Dropped: CRC mismatch.
    pub dropped_bad_crc: u32,
    /// Intact but undecodable body (answered `BadFrame`).
    pub dropped_undecodable: u32,
    /// Another protocol version (answered `Unsupported`).
    pub wrong_version: u32,
}

/// The lock's end of the serial link.
pub struct Link {
    accumulator: FrameAccumulator,
    stats: LinkStats,
    event_seq: u16,
}

impl Default for Link {
    fn default() -> Self {
        Self::new()
    }
}

impl Link {
    /// A link with nothing received yet.
    pub const fn new() -> Self {
        Self {
            accumulator: FrameAccumulator::new(),
            stats: LinkStats {
                frames_received: 0,
                frames_sent: 0,
                dropped_too_long: 0,
                dropped_malformed: 0,
                dropped_bad_crc: 0,
                dropped_undecodable: 0,
                wrong_version: 0,
            },
            event_seq: 0,
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// Forgets a partial frame (after the host went away, say).
    pub fn reset(&mut self) {
        self.accumulator.reset();
    }

    /// Takes bytes from the line; calls `emit` with each encoded response frame, in order.
    pub fn receive(
        &mut self,
        bytes: &[u8],
        handler: &mut impl Handler,
        emit: &mut impl FnMut(&[u8]),
    ) {
        for &byte in bytes {
            let Some(result) = self.accumulator.push(byte) else {
                continue;
            };
            let frame = match result {
                Ok(frame) => frame,
                Err(reason) => {
                    let counter = match reason {
                        DropReason::TooLong => &mut self.stats.dropped_too_long,
                        DropReason::BadCrc => &mut self.stats.dropped_bad_crc,
                        DropReason::Undecodable => &mut self.stats.dropped_undecodable,
                        DropReason::BadCobs | DropReason::TooShort | DropReason::BadKind => {
                            &mut self.stats.dropped_malformed
                        }
                    };
                    *counter = counter.saturating_add(1);
                    continue;
                }
            };
            self.stats.frames_received = self.stats.frames_received.saturating_add(1);
            let seq = frame.header.seq;
            let response = if frame.header.version != PROTOCOL_VERSION {
                // Its body may mean anything in that version: do not decode it.
                self.stats.wrong_version = self.stats.wrong_version.saturating_add(1);
                Response::Status(Status::Unsupported)
            } else if frame.header.kind != Kind::Request {
                // Responses and events are for the host; a lock has nothing to say to them.
                continue;
            } else {
                match decode_body::<Request>(frame.body) {
                    Ok(request) => handler.handle(&request, &self.stats),
                    Err(_) => {
                        self.stats.dropped_undecodable =
                            self.stats.dropped_undecodable.saturating_add(1);
                        Response::Status(Status::BadFrame)
                    }
                }
            };
            self.send(Header::new(Kind::Response, seq), &response, emit);
        }
    }

    /// Sends an unsolicited event, e.g. [`Event::Booted`] at boot.
    pub fn send_event(&mut self, event: &Event, emit: &mut impl FnMut(&[u8])) {
        let seq = self.event_seq;
        self.event_seq = self.event_seq.wrapping_add(1);
        let mut out = [0u8; MAX_ENCODED_LEN];
        if let Ok(wire) = encode_frame(Header::new(Kind::Event, seq), event, &mut out) {
            self.stats.frames_sent = self.stats.frames_sent.saturating_add(1);
            emit(wire);
        }
    }

    fn send(&mut self, header: Header, response: &Response, emit: &mut impl FnMut(&[u8])) {
        let mut out = [0u8; MAX_ENCODED_LEN];
        // Every response fits MAX_BODY_LEN by construction; should one not, the host still
        // gets an answer to its sequence number rather than a timeout.
        let wire = match encode_frame(header, response, &mut out) {
            Ok(wire) => wire.len(),
            Err(_) => match encode_frame(header, &Response::Status(Status::Failure), &mut out) {
                Ok(wire) => wire.len(),
                Err(_) => return,
            },
        };
        self.stats.frames_sent = self.stats.frames_sent.saturating_add(1);
        emit(&out[..wire]);
    }
}

// The link is static RAM on the MCU (16 KiB): one receive buffer and the counters.
const _: () = assert!(core::mem::size_of::<Link>() <= MAX_ENCODED_LEN + 64);
