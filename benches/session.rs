//! What the secure session costs, over the simulator's line paced at 115200 baud (8N1): the
//! handshake (SessionStart + SessionConfirm, two round trips), and a ping in clear against a
//! sealed ping. Sealing adds `SEAL_OVERHEAD` bytes to every frame; printed below.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use latchkey::keys::KeyFile;
use latchkey::link::{Client, LinkOptions};
use latchkey_protocol::Role;
use latchkey_protocol::crypto::{SEAL_OVERHEAD, SetupCode};
use latchkey_sim::{RunningSim, SimConfig};

const BAUD: u32 = 115_200;

fn setup() -> (RunningSim, Client, KeyFile, String) {
    let sim = RunningSim::start(SimConfig { baud: Some(BAUD), ..SimConfig::default() })
        .expect("start simulator");
    let options = LinkOptions { timeout: Duration::from_secs(5), ..LinkOptions::default() };
    let mut client = Client::open(sim.port_path(), options).expect("open simulator port");
    let info = client.hello().expect("hello");
    let serial = info.serial.to_string();
    let key = KeyFile::generate("bench").expect("key");
    let (installer, technician) = key.lock_pair(&serial).expect("site key");
    let code = SetupCode::parse(&sim.setup_code()).expect("setup code");
    client.claim(&code, &info, &installer, &technician).expect("claim");
    (sim, client, key, serial)
}

fn bench(c: &mut Criterion) {
    println!("sealing adds {SEAL_OVERHEAD} bytes per frame (4-byte counter, 16-byte tag)");
    let (sim, mut client, key, serial) = setup();
    let keys = key.lock_keys(&serial);
    let mut group = c.benchmark_group("session_115200_baud");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("plain_ping", |b| {
        b.iter(|| client.ping(7).expect("ping"));
    });
    group.bench_function("handshake", |b| {
        b.iter(|| client.open_session(Role::Installer, &serial, &keys).expect("session"));
    });
    client.open_session(Role::Installer, &serial, &keys).expect("session");
    group.bench_function("sealed_ping", |b| {
        b.iter(|| client.ping(7).expect("ping"));
    });
    group.finish();

    // A claim and a factory reset, each a PAKE exchange: the host's slow KDF (PBKDF2, 65,536
    // rounds) and hash to the curve, the lock's two X25519 multiplications, and the line.
    let code = SetupCode::parse(&sim.setup_code()).expect("setup code");
    let info = client.hello().expect("hello");
    let (installer, technician) = key.lock_pair(&serial).expect("site key");
    let mut group = c.benchmark_group("claim_115200_baud");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("factory_reset_then_claim", |b| {
        b.iter(|| {
            client.factory_reset(&code, &info).expect("reset");
            client.claim(&code, &info, &installer, &technician).expect("claim");
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
