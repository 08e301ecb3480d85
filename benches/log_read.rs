//! Reading the lock's log over the simulator's line paced at 115200 baud (8N1): 2,000 records,
//! paged by the real client inside a sealed session, against the time the answer bytes alone
//! need on that line. Prints both and their ratio; run with `cargo bench --bench log_read`.

use std::time::{Duration, Instant};

use latchkey::keys::KeyFile;
use latchkey::link::{Client, LinkOptions};
use latchkey_protocol::crypto::{SEAL_OVERHEAD, SetupCode};
use latchkey_protocol::{CRC_LEN, HEADER_LEN, MAX_BODY_LEN, Response, Role};
use latchkey_sim::{RunningSim, SimConfig};

const BAUD: u32 = 115_200;
const RECORDS: u32 = 2_000;

/// Bytes a sealed response carrying `response` takes on the wire (COBS and delimiter included).
fn wire_bytes(response: &Response) -> usize {
    let mut buf = [0u8; MAX_BODY_LEN];
    let body = postcard::to_slice(response, &mut buf).map(|b| b.len()).unwrap_or(MAX_BODY_LEN);
    let raw = HEADER_LEN + body + SEAL_OVERHEAD + CRC_LEN;
    raw + raw.div_ceil(254) + 1
}

fn main() {
    // Fill the log without pacing (setup is not what is measured), then pace the line.
    let sim = RunningSim::start(SimConfig { baud: Some(BAUD), ..SimConfig::default() })
        .expect("start simulator");
    for _ in 0..RECORDS {
        sim.act("key").expect("mechanical key");
    }
    let options = LinkOptions { timeout: Duration::from_secs(10), ..LinkOptions::default() };
    let mut client = Client::open(sim.port_path(), options).expect("open simulator port");
    let info = client.hello().expect("hello");
    let serial = info.serial.to_string();
    let key = KeyFile::generate("bench").expect("key");
    let (installer, technician) = key.lock_pair(&serial).expect("site key");
    let code = SetupCode::parse(&sim.setup_code()).expect("setup code");
    client.claim(&code, &info, &installer, &technician).expect("claim");
    client.open_session(Role::Installer, &serial, &key.lock_keys(&serial)).expect("session");

    let bounds = client.read_log(u32::MAX).expect("bounds");
    let start = bounds.next_seq.saturating_sub(RECORDS).max(bounds.first_seq);
    let mut next = start;
    let mut records = 0usize;
    let mut bytes = 0usize;
    let began = Instant::now();
    while next < bounds.next_seq {
        let page = client.read_log(next).expect("read");
        let Some(last) = page.records.last().map(|r| r.seq) else { break };
        records += page.records.len();
        bytes += wire_bytes(&Response::Log {
            records: page.records.iter().copied().collect(),
            first_seq: page.first_seq,
            next_seq: page.next_seq,
        });
        next = last + 1;
    }
    let took = began.elapsed();
    let line = Duration::from_secs_f64(bytes as f64 * 10.0 / f64::from(BAUD));
    println!(
        "log_read: {records} records in {:.2} s over the simulator at {BAUD} baud",
        took.as_secs_f64()
    );
    println!("log_read: {bytes} answer bytes need {:.2} s on the line alone", line.as_secs_f64());
    println!(
        "log_read: ratio {:.2} (1.00 would be a line that never idles)",
        took.as_secs_f64() / line.as_secs_f64()
    );
}
