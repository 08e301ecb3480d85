//! Reading the lock's log over the simulator's line paced at 115200 baud (8N1): 2,000 records,
//! read as `log read` reads them inside a sealed session, one page at a time and with a window
//! of pages in flight, against the time the answer bytes alone need on that line. Prints both
//! and their ratio; run with `cargo bench --bench log_read`.

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
    // Once a page at a time, once as `log read` reads: a window of pages in flight.
    for window in [1, info.capabilities.max_in_flight] {
        client.set_window(window);
        let began = Instant::now();
        let mut page: Vec<latchkey_protocol::LogRecord> = Vec::new();
        let mut pages = Vec::new();
        for record in latchkey::ops::log::records(&mut client, start).until(bounds.next_seq) {
            page.push(record.expect("read"));
            if page.len() == latchkey_protocol::LOG_PAGE {
                pages.push(std::mem::take(&mut page));
            }
        }
        let took = began.elapsed();
        if !page.is_empty() {
            pages.push(page);
        }
        let records: usize = pages.iter().map(Vec::len).sum();
        let bytes: usize = pages
            .iter()
            .map(|records| {
                wire_bytes(&Response::Log {
                    records: records.iter().copied().collect(),
                    first_seq: bounds.first_seq,
                    next_seq: bounds.next_seq,
                })
            })
            .sum();
        let line = Duration::from_secs_f64(bytes as f64 * 10.0 / f64::from(BAUD));
        println!(
            "log_read, window {window}: {records} records in {:.2} s over the simulator at {BAUD} baud",
            took.as_secs_f64()
        );
        println!(
            "log_read, window {window}: {bytes} answer bytes need {:.2} s on the line alone; ratio {:.2}",
            line.as_secs_f64(),
            took.as_secs_f64() / line.as_secs_f64()
        );
    }
}
