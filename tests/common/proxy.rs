//! A man in the middle on the serial line: the CLI talks to a pty this proxy owns, and the
//! proxy relays every byte to the lock's port, recording both directions and optionally
//! tampering with the host's frames as an attacker with a spliced cable would.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serialport::{SerialPort, TTYPort};

/// Rewrites one host→lock frame (its COBS-decoded bytes, header and CRC included); returns
/// whether it changed it.
pub type Tamper = Box<dyn FnMut(&mut Vec<u8>) -> bool + Send>;

/// What the proxy does with a host→lock frame, asked before it is relayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Relay it.
    Relay,
    /// Relay it, then relay nothing more either way: the cable is pulled.
    RelayThenCut,
    /// Keep it from the lock and send these wire bytes to the host instead: a forged answer.
    Answer(Vec<u8>),
}

/// Called with each host→lock frame's number (1 for the first frame that is not empty) and
/// its wire bytes before it is relayed; may act on the lock in between (a power cut) and says
/// what to do with it.
pub type OnFrame = Box<dyn FnMut(usize, &[u8]) -> Verdict + Send>;

/// Line noise: given the bytes read from one side (`true`: host to lock), the bytes to
/// relay (some flipped, some dropped).
pub type Noise = Box<dyn FnMut(bool, &[u8]) -> Vec<u8> + Send>;

/// What the man in the middle does besides relaying.
#[derive(Default)]
pub struct Hooks {
    /// Rewrites host→lock frames.
    pub tamper: Option<Tamper>,
    /// Decides about each host→lock frame.
    pub on_frame: Option<OnFrame>,
    /// Rewrites lock→host frames.
    pub answers: Option<Tamper>,
    /// Relays this many host→lock bytes (cutting a frame anywhere), then nothing more either
    /// way: the cable pulled at that byte.
    pub cut_after_bytes: Option<usize>,
    /// Damages the bytes both ways, below the framing (a noisy cable).
    pub noise: Option<Noise>,
}

pub struct Proxy {
    pub path: PathBuf,
    pub host_to_lock: Arc<Mutex<Vec<u8>>>,
    pub lock_to_host: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    _slave: TTYPort,
}

impl Proxy {
    pub fn start(lock_port: &Path, tamper: Option<Tamper>) -> Proxy {
        Self::start_with(lock_port, Hooks { tamper, ..Hooks::default() })
    }

    /// As [`Proxy::start`], with every hook.
    pub fn start_with(lock_port: &Path, hooks: Hooks) -> Proxy {
        let Hooks { mut tamper, mut on_frame, mut answers, cut_after_bytes, mut noise } = hooks;
        let (mut master, slave) = TTYPort::pair().expect("pty pair");
        let path = PathBuf::from(slave.name().expect("pty name"));
        master.set_timeout(Duration::from_millis(5)).unwrap();
        let mut lock = serialport::new(lock_port.to_string_lossy(), 115_200)
            .timeout(Duration::from_millis(5))
            .open_native()
            .expect("open the lock's port");
        let host_to_lock = Arc::new(Mutex::new(Vec::new()));
        let lock_to_host = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (h2l, l2h, halt) = (host_to_lock.clone(), lock_to_host.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (mut pending, mut answer) = (Vec::new(), Vec::new());
            let (mut frames, mut cut, mut relayed) = (0, false, 0);
            while !halt.load(Ordering::Relaxed) {
                // Host to lock, frame by frame so a frame can be altered whole.
                if let Ok(n) = master.read(&mut buf) {
                    if let Some(noise) = noise.as_mut() {
                        let bytes = noise(true, &buf[..n]);
                        h2l.lock().unwrap().extend_from_slice(&bytes);
                        let _ = lock.write_all(&bytes);
                        continue;
                    }
                    if let Some(limit) = cut_after_bytes {
                        let take = if cut { 0 } else { n.min(limit - relayed) };
                        h2l.lock().unwrap().extend_from_slice(&buf[..take]);
                        let _ = lock.write_all(&buf[..take]);
                        relayed += take;
                        cut = relayed >= limit;
                        continue;
                    }
                    for &b in &buf[..n] {
                        pending.push(b);
                        if b != 0 {
                            continue;
                        }
                        let mut frame = std::mem::take(&mut pending);
                        if cut {
                            continue;
                        }
                        h2l.lock().unwrap().extend_from_slice(&frame);
                        if frame.len() > 1 {
                            frames += 1;
                            if let Some(hook) = on_frame.as_mut() {
                                match hook(frames, &frame) {
                                    Verdict::Relay => {}
                                    Verdict::RelayThenCut => cut = true,
                                    Verdict::Answer(forged) => {
                                        let _ = master.write_all(&forged);
                                        continue;
                                    }
                                }
                            }
                        }
                        if let Some(t) = tamper.as_mut() {
                            tamper_frame(&mut frame, t);
                        }
                        let _ = lock.write_all(&frame);
                    }
                }
                if let Ok(n) = lock.read(&mut buf) {
                    if cut {
                        continue;
                    }
                    if let Some(noise) = noise.as_mut() {
                        let bytes = noise(false, &buf[..n]);
                        l2h.lock().unwrap().extend_from_slice(&bytes);
                        let _ = master.write_all(&bytes);
                        continue;
                    }
                    l2h.lock().unwrap().extend_from_slice(&buf[..n]);
                    let Some(t) = answers.as_mut() else {
                        let _ = master.write_all(&buf[..n]);
                        continue;
                    };
                    for &b in &buf[..n] {
                        answer.push(b);
                        if b == 0 {
                            let mut frame = std::mem::take(&mut answer);
                            if frame.len() > 1 {
                                tamper_frame(&mut frame, t);
                            }
                            let _ = master.write_all(&frame);
                        }
                    }
                }
            }
        });
        Proxy { path, host_to_lock, lock_to_host, stop, thread: Some(thread), _slave: slave }
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Stops relaying; returns (host→lock, lock→host) as recorded.
    pub fn finish(mut self) -> (Vec<u8>, Vec<u8>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let h2l = self.host_to_lock.lock().unwrap().clone();
        let l2h = self.lock_to_host.lock().unwrap().clone();
        (h2l, l2h)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Decodes one wire frame (ending in 0x00), lets `tamper` change it, and re-encodes it with a
/// correct CRC, as an attacker who knows the framing would.
fn tamper_frame(frame: &mut Vec<u8>, tamper: &mut Tamper) {
    let body_end = frame.len() - 1;
    let start = frame[..body_end].iter().rposition(|&b| b == 0).map(|i| i + 1).unwrap_or(0);
    let mut raw = frame[start..body_end].to_vec();
    let Ok(n) = cobs::decode_in_place(&mut raw) else { return };
    raw.truncate(n);
    if raw.len() < 6 || !tamper(&mut raw) {
        return;
    }
    let crc_at = raw.len() - 2;
    let crc = latchkey_protocol::CRC.checksum(&raw[..crc_at]);
    raw[crc_at..].copy_from_slice(&crc.to_le_bytes());
    let mut encoded = vec![0u8; raw.len() + raw.len() / 254 + 2];
    let len = cobs::encode(&raw, &mut encoded);
    encoded.truncate(len);
    encoded.push(0);
    frame.truncate(start);
    frame.extend_from_slice(&encoded);
}

/// Whether `needle` occurs anywhere in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every intact frame in a recording: (header, body).
pub fn frames(bytes: &[u8]) -> Vec<(latchkey_protocol::Header, Vec<u8>)> {
    let mut accumulator = latchkey_protocol::FrameAccumulator::new();
    let mut out = Vec::new();
    for &b in bytes {
        if let Some(Ok(frame)) = accumulator.push(b) {
            out.push((frame.header, frame.body.to_vec()));
        }
    }
    out
}

/// Sends `request` in clear on `port` as sequence `seq` and returns the lock's answer to it
/// (events and other answers skipped): a host of its own, as an attacker with the cable is.
pub fn ask_plain(
    port: &mut serialport::TTYPort,
    seq: u16,
    request: &latchkey_protocol::Request,
) -> latchkey_protocol::Response {
    use latchkey_protocol::{Header, Kind, MAX_ENCODED_LEN, Response, decode_body, encode_frame};
    let mut frame = [0u8; MAX_ENCODED_LEN];
    let wire = encode_frame(Header::new(Kind::Request, seq), request, &mut frame).unwrap();
    port.write_all(&[0]).unwrap();
    port.write_all(wire).unwrap();
    port.flush().unwrap();
    let deadline = std::time::Instant::now() + super::sim_process::WAIT;
    let mut accumulator = latchkey_protocol::FrameAccumulator::new();
    let mut buf = [0u8; 512];
    loop {
        assert!(std::time::Instant::now() < deadline, "no answer to {request:?}");
        let n = match port.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(e) => panic!("reading the lock's line: {e}"),
        };
        for &byte in &buf[..n] {
            if let Some(Ok(frame)) = accumulator.push(byte)
                && frame.header == Header::new(Kind::Response, seq)
                && let Ok(response) = decode_body::<Response>(frame.body)
            {
                return response;
            }
        }
    }
}

/// A line that flips one bit in a `flip` share of bytes and drops a `drop` share, both ways,
/// from a fixed seed (so a failure can be replayed).
pub fn noisy(flip: f64, drop: f64, seed: u64) -> Noise {
    const SCALE: u64 = 1_000_000;
    let (drop_below, flip_below) =
        ((drop * SCALE as f64) as u64, ((drop + flip) * SCALE as f64) as u64);
    let mut state = seed.max(1);
    let mut next = move || {
        // xorshift64: deterministic and enough for noise.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    Box::new(move |_, bytes| {
        let mut out = Vec::with_capacity(bytes.len());
        for &b in bytes {
            let roll = next() % SCALE;
            if roll < drop_below {
                continue;
            }
            out.push(if roll < flip_below { b ^ (1 << (next() % 8)) } else { b });
        }
        out
    })
}
