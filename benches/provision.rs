//! `provision apply` of as many users with PINs as the lock holds, over the simulator's line
//! paced at 115200 baud (8N1, 11,520 bytes/s), against the line time: the busier direction's
//! bytes divided by 11,520. Once one request at a time, once pipelined up to the lock's
//! `max_in_flight`. Then 8 locks at once, one thread each as `--bench` runs them, against one.
//! Prints the figures; run with `cargo bench --bench provision`.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use latchkey::keys::KeyFile;
use latchkey::link::{Client, LinkOptions, Transport};
use latchkey::ops::provision::{apply, file, plan};
use latchkey_protocol::checksum::pin_key;
use latchkey_protocol::crypto::SetupCode;
use latchkey_protocol::{ClearTarget, Role};
use latchkey_sim::{RunningSim, SimConfig};
use serialport::TTYPort;

const BAUD: u32 = 115_200;
const BYTES_PER_SECOND: f64 = BAUD as f64 / 10.0;

/// The serial port, counting the bytes each way.
struct Counting {
    port: TTYPort,
    sent: Rc<Cell<usize>>,
    received: Rc<Cell<usize>>,
}

impl Transport for Counting {
    fn send(&mut self, bytes: &[u8], deadline: Instant) -> io::Result<()> {
        self.sent.set(self.sent.get() + bytes.len());
        self.port.send(bytes, deadline)
    }

    fn receive(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
        let n = self.port.receive(buf, deadline)?;
        self.received.set(self.received.get() + n);
        Ok(n)
    }
}

fn site(users: u16) -> String {
    (1..=users)
        .map(|u| {
            format!(
                "[[user]]\nuser = {u}\nname = \"Flat {u}\"\npin = \"{:06}\"\n\n",
                580_213 + u32::from(u) * 7919
            )
        })
        .collect()
}

fn main() {
    let sim = RunningSim::start(SimConfig { baud: Some(BAUD), ..SimConfig::default() })
        .expect("start simulator");
    let port = serialport::new(sim.port_path().to_string_lossy(), BAUD)
        .open_native()
        .expect("open simulator port");
    let (sent, received) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let counting = Counting { port, sent: sent.clone(), received: received.clone() };
    let options = LinkOptions { timeout: Duration::from_secs(10), ..LinkOptions::default() };
    let mut client = Client::with_transport(counting, sim.port_path(), options);
    let info = client.hello().expect("hello");
    let serial = info.serial.to_string();
    let key = KeyFile::generate("bench").expect("key");
    let (installer, technician) = key.lock_pair(&serial).expect("site key");
    let code = SetupCode::parse(&sim.setup_code()).expect("setup code");
    client.claim(&code, &info, &installer, &technician).expect("claim");
    client.open_session(Role::Installer, &serial, &key.lock_keys(&serial)).expect("session");
    let users = info.capabilities.max_users;
    let dir = std::env::temp_dir().join(format!("latchkey-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("site.toml");
    std::fs::write(&path, site(users)).expect("site file");
    let file = file::load(&path).expect("site file checks");
    let knows = plan::Knowledge {
        zone: client.settings().expect("settings").time_zone,
        pin_keys: vec![pin_key(&installer)],
        generated: Default::default(),
    };
    for window in [1, info.capabilities.max_in_flight] {
        client.clear(ClearTarget::Users).expect("clear");
        client.set_window(window);
        let lock = plan::read_lock(&mut client).expect("read");
        let (_, _, digest) = client.checksum().expect("checksum");
        let plan = plan::plan(&file, &lock, &digest, &knows, false);
        let (s0, r0) = (sent.get(), received.get());
        let began = Instant::now();
        let results = apply::apply(&mut client, &plan, &info.capabilities, None, &mut |_, _| {})
            .expect("apply");
        let took = began.elapsed().as_secs_f64();
        assert!(results.iter().all(|r| r.refused.is_empty()), "refused");
        let (out, back) = (sent.get() - s0, received.get() - r0);
        let line = out.max(back) as f64 / BYTES_PER_SECOND;
        println!(
            "provision apply, window {window}: {users} users with PINs ({} requests) in {took:.2} s; \
             {out} bytes out, {back} back: line time {line:.2} s; ratio {:.2}; {:.0} bytes out per user",
            2 * usize::from(users),
            took / line,
            out as f64 / f64::from(users),
        );
    }
    drop(client);
    // Many locks: each its own simulator, line and thread, as `provision apply --bench` runs.
    let one = parallel(1, &path);
    let eight = parallel(8, &path);
    println!(
        "provision apply on 8 locks at once: {eight:.2} s, against {one:.2} s for one: {:.2} x",
        eight / one
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Seconds to apply `path` to `n` fresh locks at once, one thread each (setup not counted).
fn parallel(n: usize, path: &std::path::Path) -> f64 {
    let sims: Vec<RunningSim> = (0..n)
        .map(|_| {
            RunningSim::start(SimConfig { baud: Some(BAUD), ..SimConfig::default() })
                .expect("start simulator")
        })
        .collect();
    let start = std::sync::Barrier::new(n);
    let took: Vec<f64> = std::thread::scope(|s| {
        let workers: Vec<_> = sims
            .iter()
            .map(|sim| {
                let (port, code, start) = (sim.port_path().to_path_buf(), sim.setup_code(), &start);
                s.spawn(move || {
                    let options =
                        LinkOptions { timeout: Duration::from_secs(10), ..LinkOptions::default() };
                    let mut client = Client::open(&port, options).expect("open");
                    let info = client.hello().expect("hello");
                    let serial = info.serial.to_string();
                    let key = KeyFile::generate("bench").expect("key");
                    let (installer, technician) = key.lock_pair(&serial).expect("site key");
                    let code = SetupCode::parse(&code).expect("setup code");
                    client.claim(&code, &info, &installer, &technician).expect("claim");
                    client
                        .open_session(Role::Installer, &serial, &key.lock_keys(&serial))
                        .expect("session");
                    client.set_window(info.capabilities.max_in_flight);
                    let file = file::load(path).expect("site file");
                    let knows = plan::Knowledge {
                        zone: client.settings().expect("settings").time_zone,
                        pin_keys: vec![pin_key(&installer)],
                        generated: Default::default(),
                    };
                    start.wait();
                    let began = Instant::now();
                    let lock = plan::read_lock(&mut client).expect("read");
                    let (_, _, digest) = client.checksum().expect("checksum");
                    let plan = plan::plan(&file, &lock, &digest, &knows, false);
                    apply::apply(&mut client, &plan, &info.capabilities, None, &mut |_, _| {})
                        .expect("apply");
                    began.elapsed().as_secs_f64()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).collect()
    });
    took.into_iter().fold(0.0, f64::max)
}
