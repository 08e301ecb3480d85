//! `latchkey-factory`, the provisioning step for a micro:bit lock under QEMU: a new flash file
//! whose factory page verifies the code it printed once, a label only its owner reads, and no
//! second provisioning over a lock that exists.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use latchkey_firmware::factory::FactoryClaim;
use latchkey_firmware::region::layout;
use latchkey_protocol::crypto::{ClaimVerifier, SetupCode};
use latchkey_sim::SimFlash;

fn factory() -> Command {
    Command::new(env!("CARGO_BIN_EXE_latchkey-factory"))
}

#[test]
fn a_new_lock_gets_its_own_code_whose_verifier_alone_is_in_its_flash() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lock.flash");
    let out = factory().arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let printed = stdout.trim().strip_prefix("setup code ").expect("the code, once");
    let code = SetupCode::parse(printed).unwrap();

    // The upper half of flash: erased but for the factory page, which verifies that code.
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes.len() as u32, layout::FLASH_SIZE - layout::STORE_START);
    let mut whole = vec![0xFF; layout::STORE_START as usize];
    whole.extend_from_slice(&bytes);
    let claim = FactoryClaim::read(&mut SimFlash::from_bytes(whole)).unwrap();
    assert_eq!(ClaimVerifier::derive(&code, &claim.salt), claim.verifier);
    let page = (layout::FACTORY.start - layout::STORE_START) as usize;
    assert!(bytes[..page].iter().all(|&b| b == 0xFF), "only the factory page is written");
    let bare: String = printed.chars().filter(|c| *c != '-').collect();
    for spelling in [printed.to_string(), printed.to_lowercase(), bare.clone(), bare.to_lowercase()]
    {
        assert!(!bytes.windows(spelling.len()).any(|w| w == spelling.as_bytes()), "{spelling}");
    }

    // The label holds the code, for its owner's eyes only.
    let label = dir.path().join("lock.label");
    assert_eq!(std::fs::read_to_string(&label).unwrap().trim(), printed);
    assert_eq!(std::fs::metadata(&label).unwrap().permissions().mode() & 0o777, 0o600);

    // A lock is provisioned once: the file is not replaced, and the error says what to do.
    let again = factory().arg(&file).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("provisioned once"), "{stderr}");
    assert_eq!(std::fs::read(&file).unwrap(), bytes);

    // Two locks, two codes.
    let other = dir.path().join("other.flash");
    let out = factory().arg(&other).output().unwrap();
    assert!(out.status.success());
    assert_ne!(String::from_utf8(out.stdout).unwrap(), stdout);
}

#[test]
fn a_code_given_is_checked_and_used() {
    let dir = tempfile::tempdir().unwrap();
    let bad = factory().arg(dir.path().join("a.flash")).args(["--setup-code", "nope"]).output();
    let bad = bad.unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid setup code"));
    assert!(!dir.path().join("a.flash").exists(), "nothing made for a bad code");

    let out = factory()
        .arg(dir.path().join("b.flash"))
        .args(["--setup-code", "7K2M-9QXA-4RTD"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "setup code 7K2M-9QXA-4RTD");
}
