//! Asking the person at the terminal, and noticing when they press Ctrl-C.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

use super::{CliError, Context};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
// Set by the first `interrupted()`: from then on Ctrl-C only raises the flag, and the command
// stops itself cleanly. Before that, Ctrl-C ends the process at once (exit 130).
static COOPERATIVE: AtomicBool = AtomicBool::new(false);
static HANDLER: Once = Once::new();
// The terminal's settings at start, put back when Ctrl-C ends the process: a hidden prompt
// turns echo off, and dying by the signal would leave it off.
static TERMINAL: Mutex<Option<rustix::termios::Termios>> = Mutex::new(None);

/// Watches for Ctrl-C from the start of the process: until a command opts in to stopping
/// cleanly ([`interrupted`]), Ctrl-C restores the terminal and exits 130, as a shell expects
/// of a program that SIGINT stopped.
pub(super) fn watch_interrupts() {
    HANDLER.call_once(|| {
        if let Ok(settings) = rustix::termios::tcgetattr(std::io::stdin())
            && let Ok(mut saved) = TERMINAL.lock()
        {
            *saved = Some(settings);
        }
        let _ = ctrlc::set_handler(|| {
            if COOPERATIVE.load(Ordering::SeqCst) {
                INTERRUPTED.store(true, Ordering::SeqCst);
                return;
            }
            if let Ok(saved) = TERMINAL.lock()
                && let Some(settings) = saved.as_ref()
            {
                let _ = rustix::termios::tcsetattr(
                    std::io::stdin(),
                    rustix::termios::OptionalActions::Now,
                    settings,
                );
            }
            eprintln!();
            eprintln!("interrupted");
            std::process::exit(i32::from(super::exit::INTERRUPTED));
        });
    });
}

/// Whether Ctrl-C was pressed since the first call. The first call makes Ctrl-C only raise
/// this flag (instead of ending the process), so a long command calls this before it begins
/// and between steps, then stops cleanly: cancels what it started, says where it stopped.
pub(super) fn interrupted() -> bool {
    watch_interrupts();
    COOPERATIVE.store(true, Ordering::SeqCst);
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Asks to go on with `prompt` unless `yes`; without a person to ask, `--yes` is needed.
pub(super) fn confirm(context: &Context, yes: bool, prompt: &str) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !context.interactive {
        return Err(CliError::usage(format!("{prompt}: this needs confirmation"))
            .with_hint("pass --yes to confirm without a prompt"));
    }
    match dialoguer::Confirm::new().with_prompt(prompt).default(false).interact() {
        Ok(true) => Ok(()),
        Ok(false) => Err(CliError::cancelled("cancelled; nothing was changed")),
        Err(e) => Err(prompt_failed(e)),
    }
}

/// A prompt that got no answer: Ctrl-C, or a terminal that went away.
pub(super) fn prompt_failed(error: dialoguer::Error) -> CliError {
    let dialoguer::Error::IO(e) = error;
    if e.kind() == std::io::ErrorKind::Interrupted {
        CliError::interrupted("cancelled at the prompt; nothing was changed")
    } else {
        CliError::host(format!("no answer from the terminal: {e}"))
    }
}
