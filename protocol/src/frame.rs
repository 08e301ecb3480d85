//! Frame layout, encoding and the receive-side accumulator.
//!
//! Before COBS encoding a frame is:
//!
//! | offset | size | field                                                       |
//! |-------:|-----:|-------------------------------------------------------------|
//! | 0      | 1    | protocol version ([`PROTOCOL_VERSION`])                     |
//! | 1      | 1    | kind: 0 request, 1 response, 2 event, 3/4 sealed ([`Kind`])|
//! | 2      | 2    | sequence number, little-endian                              |
//! | 4      | n    | postcard-encoded body, `n <= MAX_BODY_LEN`                  |
//! | 4 + n  | 2    | CRC-16/IBM-SDLC over bytes `0 .. 4 + n`, little-endian      |
//!
//! The whole is COBS-encoded, so it contains no 0x00, and followed by one 0x00 delimiter.
//! A sender may also put a 0x00 *before* a frame: the receiver ignores empty frames, and the
//! leading delimiter flushes whatever garbage a noisy line left in the receiver's buffer.

use serde::{Deserialize, Serialize};

/// Version of the frame format and message set. The header (this byte first) and the CRC
/// are the same in every version, so a receiver always knows the sender's version: the lock
/// answers a request of another version with [`crate::Status::Unsupported`] in a frame of
/// its own version (body `00 09` in every version), without decoding the body, and the host
/// reads the lock's version from that answer's header.
///
/// Version 2: typed refusals ([`crate::Response::Refused`]), `Clear`, lock-chosen user
/// numbers, unique names, `Enrollment::InProgress::last_good`, `EnrollFailure::Storage` and
/// `Sensor`, `Capabilities::card_uid_lengths`.
///
/// Version 3: forward-secret sessions: `SessionStart` and `SessionChallenge` carry ephemeral
/// X25519 public keys instead of nonces, and the session keys mix their exchange with the
/// role's key ([`crate::crypto::SessionKeys::derive`]).
pub const PROTOCOL_VERSION: u8 = 5;
/// Bytes of header before the body.
pub const HEADER_LEN: usize = 4;
/// Bytes of CRC after the body.
pub const CRC_LEN: usize = 2;
/// Largest postcard body either end sends or accepts.
pub const MAX_BODY_LEN: usize = 320;
/// Largest frame before COBS encoding.
pub const MAX_FRAME_LEN: usize = HEADER_LEN + MAX_BODY_LEN + CRC_LEN;
/// Largest frame on the wire: COBS overhead plus the trailing 0x00 delimiter.
pub const MAX_ENCODED_LEN: usize = cobs::max_encoding_length(MAX_FRAME_LEN) + 1;

/// The frame check: CRC-16/IBM-SDLC (the HDLC/X.25 FCS; poly 0x1021 reflected, init 0xFFFF,
/// xorout 0xFFFF, check value 0x906E). It detects every error of up to 3 bits and every burst
/// of up to 16 bits in frames of our size.
pub const CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_SDLC);

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Host to lock: a [`crate::Request`].
    Request = 0,
    /// Lock to host: a [`crate::Response`] to the request with the same sequence number.
    Response = 1,
    /// Lock to host, unsolicited: an [`crate::Event`]. Its sequence number counts events.
    Event = 2,
    /// Host to lock, inside a session: a [`crate::Request`] sealed with the session key
    /// (see [`crate::crypto::Sealer`]).
    SealedRequest = 3,
    /// Lock to host, inside a session: a sealed [`crate::Response`].
    SealedResponse = 4,
    /// Lock to host, unsolicited, inside a session: a sealed [`crate::Event`], with its own
    /// counter ([`crate::crypto::SessionKeys::lock_event_sealer`]). Outside a session the lock
    /// sends no event but `Booted`: who came in is not for whoever holds the cable.
    SealedEvent = 5,
}

impl Kind {
    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::Request),
            1 => Some(Self::Response),
            2 => Some(Self::Event),
            3 => Some(Self::SealedRequest),
            4 => Some(Self::SealedResponse),
            5 => Some(Self::SealedEvent),
            _ => None,
        }
    }
}

/// The fixed part at the start of every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Protocol version of the sender.
    pub version: u8,
    /// What the body is.
    pub kind: Kind,
    /// Request sequence number, echoed in its response; event counter for events.
    pub seq: u16,
}

impl Header {
    /// A header of this crate's protocol version.
    pub const fn new(kind: Kind, seq: u16) -> Self {
        Self { version: PROTOCOL_VERSION, kind, seq }
    }
}

/// A decoded, CRC-checked frame whose body is still postcard bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The header.
    pub header: Header,
    /// The postcard body; decode it with [`decode_body`].
    pub body: &'a [u8],
}

/// Why the sender could not build a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The body does not fit in [`MAX_BODY_LEN`] bytes.
    BodyTooLong,
    /// The output buffer is smaller than the encoded frame.
    BufferTooSmall,
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BodyTooLong => write!(f, "message body longer than {MAX_BODY_LEN} bytes"),
            Self::BufferTooSmall => write!(f, "output buffer too small for the encoded frame"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for EncodeError {}

/// Why a receiver dropped what it received. Receivers count these; the lock reports its counts
/// in [`crate::Diagnostics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// More than [`MAX_ENCODED_LEN`] bytes arrived before a 0x00.
    TooLong,
    /// The bytes between two 0x00 are not valid COBS.
    BadCobs,
    /// Shorter than a header and a CRC.
    TooShort,
    /// The CRC does not match: line noise or a truncated frame.
    BadCrc,
    /// The kind byte is not one of [`Kind`].
    BadKind,
    /// The body is not a valid postcard encoding of the expected message.
    Undecodable,
}

impl core::fmt::Display for DropReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::TooLong => "frame too long",
            Self::BadCobs => "invalid COBS encoding",
            Self::TooShort => "frame too short",
            Self::BadCrc => "CRC mismatch",
            Self::BadKind => "unknown frame kind",
            Self::Undecodable => "undecodable message body",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DropReason {}

/// Encodes `body` behind `header` into `out`, COBS-encoded and 0x00-terminated.
/// Returns the bytes to put on the wire.
pub fn encode_frame<'o, T: Serialize + ?Sized>(
    header: Header,
    body: &T,
    out: &'o mut [u8],
) -> Result<&'o [u8], EncodeError> {
    let mut raw = [0u8; MAX_FRAME_LEN];
    let body_len = postcard::to_slice(body, &mut raw[HEADER_LEN..HEADER_LEN + MAX_BODY_LEN])
        .map_err(|_| EncodeError::BodyTooLong)?
        .len();
    finish_frame(header, &mut raw, body_len, out)
}

/// Like [`encode_frame`] for a body that is already bytes (a sealed body).
pub fn encode_raw<'o>(
    header: Header,
    body: &[u8],
    out: &'o mut [u8],
) -> Result<&'o [u8], EncodeError> {
    if body.len() > MAX_BODY_LEN {
        return Err(EncodeError::BodyTooLong);
    }
    let mut raw = [0u8; MAX_FRAME_LEN];
    raw[HEADER_LEN..HEADER_LEN + body.len()].copy_from_slice(body);
    finish_frame(header, &mut raw, body.len(), out)
}

/// Writes the header and CRC around a body already at `raw[HEADER_LEN..]`, then COBS.
fn finish_frame<'o>(
    header: Header,
    raw: &mut [u8; MAX_FRAME_LEN],
    body_len: usize,
    out: &'o mut [u8],
) -> Result<&'o [u8], EncodeError> {
    raw[0] = header.version;
    raw[1] = header.kind as u8;
    raw[2..HEADER_LEN].copy_from_slice(&header.seq.to_le_bytes());
    let crc_at = HEADER_LEN + body_len;
    let crc = CRC.checksum(&raw[..crc_at]);
    raw[crc_at..crc_at + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
    let raw = &raw[..crc_at + CRC_LEN];
    let encoded_len = cobs::try_encode(raw, out).map_err(|_| EncodeError::BufferTooSmall)?;
    let Some(delimiter) = out.get_mut(encoded_len) else {
        return Err(EncodeError::BufferTooSmall);
    };
    *delimiter = 0;
    Ok(&out[..=encoded_len])
}

/// Decodes a frame body as message type `T`.
pub fn decode_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DropReason> {
    postcard::from_bytes(body).map_err(|_| DropReason::Undecodable)
}

/// Checks a COBS-decoded frame: length, CRC and kind.
fn check_raw(raw: &[u8]) -> Result<Frame<'_>, DropReason> {
    if raw.len() < HEADER_LEN + CRC_LEN {
        return Err(DropReason::TooShort);
    }
    let (data, crc) = raw.split_at(raw.len() - CRC_LEN);
    if CRC.checksum(data).to_le_bytes() != [crc[0], crc[1]] {
        return Err(DropReason::BadCrc);
    }
    let kind = Kind::from_byte(data[1]).ok_or(DropReason::BadKind)?;
    Ok(Frame {
        header: Header { version: data[0], kind, seq: u16::from_le_bytes([data[2], data[3]]) },
        body: &data[HEADER_LEN..],
    })
}

/// Collects bytes from the line and yields whole frames.
///
/// Feed it every received byte with [`FrameAccumulator::push`]. On each 0x00 it yields the
/// frame that ended there, or the reason it was dropped; after garbage it resynchronises on the
/// next 0x00, so one bad frame never costs the next one. Empty frames (two 0x00 in a row) are
/// skipped silently. The buffer is fixed: [`MAX_ENCODED_LEN`] bytes.
pub struct FrameAccumulator {
    buf: [u8; MAX_ENCODED_LEN],
    len: usize,
    overflowed: bool,
}

impl Default for FrameAccumulator {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameAccumulator {
    /// An empty accumulator.
    pub const fn new() -> Self {
        Self { buf: [0; MAX_ENCODED_LEN], len: 0, overflowed: false }
    }

    /// Forgets any partial frame (after a reconnect, say).
    pub fn reset(&mut self) {
        self.len = 0;
        self.overflowed = false;
    }

    /// Whether part of a frame is buffered.
    pub fn is_mid_frame(&self) -> bool {
        self.len > 0 || self.overflowed
    }

    /// Takes one byte from the line. Returns `Some` when the byte ended a frame.
    pub fn push(&mut self, byte: u8) -> Option<Result<Frame<'_>, DropReason>> {
        if byte != 0 {
            if self.len < self.buf.len() {
                self.buf[self.len] = byte;
                self.len += 1;
            } else {
                self.overflowed = true;
            }
            return None;
        }
        let len = core::mem::take(&mut self.len);
        if core::mem::take(&mut self.overflowed) {
            return Some(Err(DropReason::TooLong));
        }
        if len == 0 {
            return None;
        }
        let decoded = match cobs::decode_in_place(&mut self.buf[..len]) {
            Ok(n) => n,
            Err(_) => return Some(Err(DropReason::BadCobs)),
        };
        if decoded > MAX_FRAME_LEN {
            return Some(Err(DropReason::TooLong));
        }
        Some(check_raw(&self.buf[..decoded]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_the_documented_one() {
        assert_eq!(CRC.checksum(b"123456789"), 0x906E);
    }

    #[test]
    fn round_trip_through_accumulator() {
        let mut out = [0u8; MAX_ENCODED_LEN];
        let wire = encode_frame(Header::new(Kind::Request, 7), &(1u8, 300u16), &mut out).unwrap();
        assert_eq!(wire.last(), Some(&0));
        assert!(!wire[..wire.len() - 1].contains(&0));
        let mut acc = FrameAccumulator::new();
        let mut got = None;
        for &b in wire {
            if let Some(r) = acc.push(b) {
                let f = r.unwrap();
                got = Some((f.header, decode_body::<(u8, u16)>(f.body).unwrap()));
            }
        }
        assert_eq!(got, Some((Header::new(Kind::Request, 7), (1, 300))));
    }

    #[test]
    fn bad_crc_is_reported_and_next_frame_survives() {
        let mut out = [0u8; MAX_ENCODED_LEN];
        let wire =
            encode_frame(Header::new(Kind::Event, 1), &42u32, &mut out).unwrap().to_vec_fixed();
        let mut corrupt = wire;
        corrupt.0[2] ^= 0x01;
        let mut acc = FrameAccumulator::new();
        let mut results = heapless::Vec::<Result<u16, DropReason>, 4>::new();
        for &b in corrupt.as_slice().iter().chain(wire.as_slice()) {
            if let Some(r) = acc.push(b) {
                results.push(r.map(|f| f.header.seq)).unwrap();
            }
        }
        assert_eq!(results.as_slice(), &[Err(DropReason::BadCrc), Ok(1)]);
    }

    #[test]
    fn overlong_garbage_is_too_long_then_resyncs() {
        let mut acc = FrameAccumulator::new();
        for _ in 0..MAX_ENCODED_LEN + 10 {
            assert!(acc.push(0x55).is_none());
        }
        assert_eq!(acc.push(0).map(|r| r.map(|f| f.header)), Some(Err(DropReason::TooLong)));
        assert!(!acc.is_mid_frame());
        let mut out = [0u8; MAX_ENCODED_LEN];
        let wire = encode_frame(Header::new(Kind::Response, 9), &(), &mut out).unwrap();
        let mut seq = None;
        for &b in wire {
            if let Some(r) = acc.push(b) {
                seq = Some(r.unwrap().header.seq);
            }
        }
        assert_eq!(seq, Some(9));
    }

    #[test]
    fn body_too_long_is_refused() {
        let mut out = [0u8; MAX_ENCODED_LEN];
        let big = [7u8; MAX_BODY_LEN + 1];
        assert_eq!(
            encode_frame(Header::new(Kind::Request, 1), &big[..], &mut out),
            Err(EncodeError::BodyTooLong)
        );
    }

    /// A fixed-size copy of a wire frame, so tests need no allocator.
    #[derive(Clone, Copy)]
    struct Wire([u8; MAX_ENCODED_LEN], usize);
    impl Wire {
        fn as_slice(&self) -> &[u8] {
            &self.0[..self.1]
        }
    }
    trait ToWire {
        fn to_vec_fixed(&self) -> Wire;
    }
    impl ToWire for [u8] {
        fn to_vec_fixed(&self) -> Wire {
            let mut w = Wire([0; MAX_ENCODED_LEN], self.len());
            w.0[..self.len()].copy_from_slice(self);
            w
        }
    }
}

#[cfg(test)]
mod cobs_form {
    /// docs/protocol.md section 2 says how a 254-byte run is coded; this pins it.
    #[test]
    fn a_run_of_254_non_zero_bytes_is_one_full_block_without_a_trailing_code() {
        let data = [0x11u8; 254];
        let mut out = [0u8; 300];
        let n = cobs::encode(&data, &mut out);
        assert_eq!(out[0], 0xFF);
        assert_eq!(&out[1..255], &data[..]);
        assert_eq!(n, 255, "{:02x?}", &out[..n]);
        let mut back = out[..n].to_vec();
        let len = cobs::decode_in_place(&mut back).unwrap();
        assert_eq!(&back[..len], &data[..]);
        // One more byte starts a new block.
        let longer = [0x11u8; 255];
        let n = cobs::encode(&longer, &mut out);
        assert_eq!((out[0], out[255], n), (0xFF, 0x02, 257));
    }
}
