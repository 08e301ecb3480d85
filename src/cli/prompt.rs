//! Asking the person at the terminal, and noticing when they press Ctrl-C.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{CliError, Context};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static HANDLER: Once = Once::new();

/// Whether Ctrl-C was pressed since the first call. The first call starts watching for it
/// (instead of the process ending at once), so a long command calls this before it begins
/// and between steps, then stops cleanly: cancels what it started, says where it stopped.
pub(super) fn interrupted() -> bool {
    HANDLER.call_once(|| {
        // One handler per process; it only raises the flag.
        let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    });
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
