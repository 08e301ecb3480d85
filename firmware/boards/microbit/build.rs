//! Puts `memory.x` on the linker's search path for cortex-m-rt's `link.x`.

use std::path::PathBuf;
use std::{env, fs};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");

    // The setup code is factory data, printed on the label inside the lock. Here it is baked
    // into the image at build time; `run-qemu` and the tests choose it.
    println!("cargo:rerun-if-env-changed=LATCHKEY_SETUP_CODE");
    let code = env::var("LATCHKEY_SETUP_CODE").unwrap_or_else(|_| DEVELOPMENT_CODE.to_string());
    if let Err(why) = check_setup_code(&code) {
        panic!("LATCHKEY_SETUP_CODE={code:?} is not a setup code: {why}");
    }
    println!("cargo:rustc-env=LATCHKEY_BOARD_SETUP_CODE={code}");
}

/// Used when the builder chooses none: a development image only.
const DEVELOPMENT_CODE: &str = "DEV0-0000-0000";

/// The same rules as `SetupCode::parse`: 12 Crockford base32 characters, dashes and spaces
/// ignored, O/I/L read as 0/1/1.
fn check_setup_code(code: &str) -> Result<(), String> {
    const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZOIL";
    let chars: Vec<char> =
        code.chars().filter(|c| *c != '-' && *c != ' ').map(|c| c.to_ascii_uppercase()).collect();
    if let Some(bad) = chars.iter().find(|c| !ALPHABET.contains(**c)) {
        return Err(format!("{bad:?} is not allowed"));
    }
    if chars.len() != 12 {
        return Err(format!("{} characters, not 12", chars.len()));
    }
    Ok(())
}
