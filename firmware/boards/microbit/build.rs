//! Puts `memory.x` on the linker's search path for cortex-m-rt's `link.x`.

use std::path::PathBuf;
use std::{env, fs};

use latchkey_protocol::crypto::{CLAIM_SALT_LEN, ClaimVerifier, SetupCode};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");

    // The setup code is factory data, printed on the label inside the lock. The image keeps
    // only its claim verifier and salt, made here; the code itself never enters the image.
    // Without LATCHKEY_SETUP_CODE a random code is drawn and shown once, in the build output.
    println!("cargo:rerun-if-env-changed=LATCHKEY_SETUP_CODE");
    let code = match env::var("LATCHKEY_SETUP_CODE") {
        Ok(text) => SetupCode::parse(&text).unwrap_or_else(|why| {
            panic!("LATCHKEY_SETUP_CODE={text:?} is not a setup code: {why}")
        }),
        Err(_) => {
            let code = SetupCode::from_random(random::<8>());
            let shown = String::from_utf8_lossy(&code.display()).into_owned();
            println!(
                "cargo:warning=setup code of this image (note it now, it is not kept): {shown}"
            );
            code
        }
    };
    let salt = random::<CLAIM_SALT_LEN>();
    let verifier = ClaimVerifier::derive(&code, &salt);
    println!("cargo:rustc-env=LATCHKEY_BOARD_CLAIM_SALT={}", hex(&salt));
    println!("cargo:rustc-env=LATCHKEY_BOARD_CLAIM_GENERATOR={}", hex(&verifier.claim));
    println!("cargo:rustc-env=LATCHKEY_BOARD_RESET_GENERATOR={}", hex(&verifier.reset));
}

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut out))
        .expect("read /dev/urandom");
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
