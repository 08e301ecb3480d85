//! Key rotation survives a pulled cable: the cable cut after every byte count across a
//! `key rotate` exchange, and after each cut the installer still opens a session, with the
//! old key or the new one. The real binaries, a man in the middle on the pty.

mod common;

use common::proxy::{Hooks, Proxy};
use common::{Sim, json, latchkey};
use latchkey::keys::KeyFile;

/// Where each frame the host sent starts (its leading 0x00 flushes the lock's buffer).
fn frame_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        while at < bytes.len() && bytes[at] == 0 {
            at += 1;
        }
        if at < bytes.len() {
            starts.push(at);
        }
        while at < bytes.len() && bytes[at] != 0 {
            at += 1;
        }
    }
    starts
}

#[test]
fn a_cable_pulled_at_any_byte_of_a_key_rotation_never_locks_the_installer_out() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let key_file = sim.keystore.join("default.toml");
    let rotate_through = |proxy: &Proxy| {
        latchkey()
            .env("LATCHKEY_KEYSTORE", &sim.keystore)
            .args(["--port", proxy.path_str(), "--timeout", "100ms", "key", "rotate"])
            .output()
            .unwrap()
    };

    // One whole rotation, recorded: Hello, SessionStart, SessionConfirm, RotateKeys and the
    // EndSession of a client closing.
    let proxy = Proxy::start(&sim.link, None);
    let out = rotate_through(&proxy);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (sent, _) = proxy.finish();
    let starts = frame_starts(&sent);
    assert_eq!(starts.len(), 5, "frames of a rotation: {starts:?}");
    let rotate_from = starts[3];

    // Cut everywhere in the handshake now and then, and at every byte from the RotateKeys
    // frame on, past the end of the exchange.
    let cuts: Vec<usize> =
        (0..rotate_from).step_by(9).chain(rotate_from - 1..sent.len() + 2).collect();
    let (mut rotated, mut interrupted) = (0, 0);
    for cut in cuts {
        let proxy =
            Proxy::start_with(&sim.link, Hooks { cut_after_bytes: Some(cut), ..Hooks::default() });
        let out = rotate_through(&proxy);
        drop(proxy);
        if out.status.success() {
            rotated += 1;
        } else {
            interrupted += 1;
            assert_eq!(
                out.status.code(),
                Some(4),
                "cut at {cut}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // The installer, on a good cable: a session opens, whichever key the lock took.
        let out = sim.cli().args(["--json", "config", "get", "label"]).output().unwrap();
        assert!(
            out.status.success(),
            "locked out after a cut at byte {cut} of {}: {}",
            sent.len(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(json(&out)["door_label"].is_string());
    }
    // A last whole rotation finishes whatever is pending, and the file ends with one key in use.
    sim.cli().args(["key", "rotate"]).assert().success();
    let file = KeyFile::load(&key_file).unwrap();
    assert!(file.pending.is_none());
    assert!(!file.previous.is_empty());
    sim.cli().args(["config", "get", "label"]).assert().success();
    // This lock is on the current key: the previous ones can go, and it still opens.
    let out = sim.cli().args(["--json", "key", "prune", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)["pruned"].as_u64(), Some(file.previous.len() as u64));
    assert!(KeyFile::load(&key_file).unwrap().previous.is_empty());
    sim.cli().args(["config", "get", "label"]).assert().success();
    assert!(interrupted > 50 && rotated > 0, "{interrupted} cut, {rotated} whole");
    sim.stop();
}
