//! The lock's part of a claim and of a session handshake on the micro:bit image under QEMU
//! with `-icount shift=6` (one instruction per 64 ns: about the 16 MHz Cortex-M0 of a real
//! nRF51), over the image's pty. A bench binary, not criterion: a few timed runs, printed.
//!
//! `cargo bench --bench qemu_claim` (needs qemu-system-arm and the thumbv6m target).

#[allow(dead_code)]
#[path = "../tests/common/qemu.rs"]
mod qemu;

use std::time::{Duration, Instant};

use latchkey::keys::KeyFile;
use latchkey::link::{Client, LinkOptions};
use latchkey_protocol::crypto::{ClaimVerifier, SetupCode};
use latchkey_protocol::{ClaimIntent, Role};

fn main() {
    if !qemu::available() {
        eprintln!("qemu-system-arm is not installed: nothing measured");
        return;
    }
    let lock = qemu::Qemu::start_with(&["-icount", "shift=6"]);
    let options = LinkOptions { timeout: Duration::from_secs(30), ..LinkOptions::default() };
    let mut client = Client::open(lock.port().as_ref(), options).expect("open the image's pty");
    let info = client.hello().expect("hello");
    let code = SetupCode::parse(qemu::SETUP_CODE).expect("setup code");
    let key = KeyFile::generate("bench").expect("key");
    let (installer, technician) = key.lock_pair(&info.serial).expect("site key");

    // The host's share of a claim (the slow KDF and the hash to the curve), to subtract.
    let started = Instant::now();
    let verifier = ClaimVerifier::derive(&code, &info.claim_salt);
    let _ = verifier.generator(ClaimIntent::Claim);
    let host_kdf = started.elapsed();

    let mut claims = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        client.claim(&code, &info, &installer, &technician).expect("claim");
        claims.push(started.elapsed());
        client.factory_reset(&code, &info).expect("factory reset");
    }
    client.claim(&code, &info, &installer, &technician).expect("claim");
    let keys = key.lock_keys(&info.serial);
    let mut handshakes = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        client.open_session(Role::Installer, &info.serial, &keys).expect("session");
        handshakes.push(started.elapsed());
    }
    let best = |times: &[Duration]| times.iter().min().copied().unwrap_or_default();
    println!("micro:bit image under QEMU -icount shift=6 (about 16 MHz):");
    println!(
        "  claim: {:.0} ms in all (best of {}), of which the host's KDF and hash {:.0} ms",
        best(&claims).as_secs_f64() * 1e3,
        claims.len(),
        host_kdf.as_secs_f64() * 1e3
    );
    println!(
        "  lock's part of a claim, at most: {:.0} ms",
        best(&claims).saturating_sub(host_kdf).as_secs_f64() * 1e3
    );
    println!(
        "  session handshake: {:.0} ms (best of {})",
        best(&handshakes).as_secs_f64() * 1e3,
        handshakes.len()
    );
    lock.quit();
}
