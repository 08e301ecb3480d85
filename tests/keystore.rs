//! The keystore and `--key`, end to end through the real `latchkey` against `latchkey-sim`:
//! only regular key files in a folder nobody else can write to are used, a refusal never
//! advises a `chmod` that would touch something else, and a key named but missing is an
//! error, not a quiet fallback.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::Sim;

/// A copy of the lock's site key at `path`, mode 0600.
fn copy_key(sim: &Sim, path: &Path) {
    fs::copy(sim.keystore.join("default.toml"), path).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

/// Runs `latchkey <args>` against the simulator; (exit code, stderr).
fn run(sim: &Sim, args: &[&str]) -> (Option<i32>, String) {
    let out = sim.cli().args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn text(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

#[test]
fn a_key_file_that_is_a_symlink_is_refused_without_a_chmod_hint() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let real = dir.path().join("site.toml");
    copy_key(&sim, &real);
    let to_key = dir.path().join("to-key.toml");
    std::os::unix::fs::symlink(&real, &to_key).unwrap();
    let to_null = dir.path().join("to-null.toml");
    std::os::unix::fs::symlink("/dev/null", &to_null).unwrap();

    for link in [&to_key, &to_null] {
        let (code, stderr) = run(&sim, &["--key", text(link), "info"]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("is a symbolic link, not a key file"), "{stderr}");
        assert!(!stderr.contains("chmod"), "{stderr}");
    }
    // The file the link points to is a good key: the link alone is refused.
    let (code, stderr) = run(&sim, &["--key", text(&real), "info"]);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_key_file_that_is_a_device_or_a_directory_is_refused_without_a_chmod_hint() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let folder = dir.path().join("folder.toml");
    fs::create_dir(&folder).unwrap();

    for (args, what) in [
        (vec!["--key", "/dev/null", "info"], "is a character device"),
        (vec!["key", "import", "/dev/null"], "is a character device"),
        (vec!["--key", text(&folder), "info"], "is a directory"),
        (vec!["key", "import", text(&folder)], "is a directory"),
    ] {
        let (code, stderr) = run(&sim, &args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(what), "{args:?}: {stderr}");
        assert!(!stderr.contains("chmod"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_keystore_folder_others_can_write_to_is_refused_with_a_hint_to_chmod_700_it() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let hint = format!("chmod 700 {}", sim.keystore.display());

    for mode in [0o777, 0o770] {
        fs::set_permissions(&sim.keystore, fs::Permissions::from_mode(mode)).unwrap();
        for args in [&["info"][..], &["user", "list"], &["key", "list"]] {
            let (code, stderr) = run(&sim, args);
            assert_eq!(code, Some(2), "{mode:o} {args:?}: {stderr}");
            assert!(stderr.contains("writable by other users"), "{mode:o} {args:?}: {stderr}");
            assert!(stderr.contains(&hint), "{mode:o} {args:?}: {stderr}");
        }
        // Refused, not quietly repaired.
        let now = fs::metadata(&sim.keystore).unwrap().permissions().mode() & 0o777;
        assert_eq!(now, mode);
    }
    fs::set_permissions(&sim.keystore, fs::Permissions::from_mode(0o700)).unwrap();
    let (code, stderr) = run(&sim, &["user", "list"]);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_key_naming_a_missing_file_or_name_is_an_error_not_a_fallback_to_identity_only() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);

    let (code, stderr) = run(&sim, &["--key", "/nonexistent/k.toml", "info"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("there is no key file /nonexistent/k.toml"), "{stderr}");
    assert!(!stderr.contains("showing identity only"), "{stderr}");

    let out = sim.cli().env("LATCHKEY_KEY", "/nonexistent/k.toml").arg("info").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));

    let (code, stderr) = run(&sim, &["--key", "no-such-site", "info"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no key named \"no-such-site\""), "{stderr}");
}

#[test]
fn with_no_key_at_all_info_still_shows_the_identity() {
    // The one quiet fallback that stays: nothing named, nothing in the keystore.
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    let empty = dir.path().join("empty-keystore");
    let out = sim.cli().env("LATCHKEY_KEYSTORE", &empty).args(["info", "--json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("showing identity only"), "{stderr}");
    assert_eq!(common::json(&out)["claimed"], true);
}
