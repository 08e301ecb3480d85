//! `latchkey-factory`: the factory's provisioning step for a micro:bit lock under QEMU.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use latchkey_protocol::crypto::SetupCode;
use latchkey_sim::factory;

/// Provision a new micro:bit lock for QEMU: make its flash file with factory data.
///
/// Writes FILE, the upper 128 KiB of the lock's flash (store and factory page, what
/// `run-qemu --flash FILE` loads), erased except for the factory page: the salt and verifier
/// of a new setup code, never the code. The code is printed once on standard output
/// (`setup code XXXX-XXXX-XXXX`) and kept on the lock's label, FILE with the extension
/// `.label`, readable by its owner only. A lock is provisioned once: an existing FILE is
/// never replaced.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The flash file to create.
    file: PathBuf,
    /// The setup code to provision (default: a new random one). Prefer the default: a code
    /// on a command line ends up in the shell's history.
    #[arg(long, value_name = "CODE")]
    setup_code: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "setup code {}", String::from_utf8_lossy(&code.display()));
            ExitCode::SUCCESS
        }
        Err((message, hint)) => {
            eprintln!("latchkey-factory: error: {message}");
            eprintln!("  hint: {hint}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<SetupCode, (String, &'static str)> {
    let code = match &args.setup_code {
        Some(text) => SetupCode::parse(text).map_err(|why| {
            (
                format!("invalid setup code {text:?}: {why}"),
                "a setup code is 12 characters of 0-9 and A-Z without U, e.g. 7K2M-9QXA-4RTD",
            )
        })?,
        None => factory::random_code().map_err(|e| {
            (format!("the operating system's random number generator failed: {e}"), "retry")
        })?,
    };
    let claim = factory::claim_for(&code).map_err(|e| {
        (format!("the operating system's random number generator failed: {e}"), "retry")
    })?;
    let file = &args.file;
    factory::create_new(file, &factory::qemu_flash_file(&claim), 0o600).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AlreadyExists {
            "a lock is provisioned once; run-qemu --flash FILE reuses it, or choose a new path"
        } else {
            "check that the directory exists and is writable"
        };
        (format!("cannot create {}: {e}", file.display()), hint)
    })?;
    let label = factory::label_path(file);
    if let Err(e) = factory::write_label(&label, &code) {
        // Without its label nobody can claim the lock: take the flash file back.
        let _ = std::fs::remove_file(file);
        return Err((
            format!("cannot write the label {}: {e}", label.display()),
            "check that the directory is writable",
        ));
    }
    Ok(code)
}
