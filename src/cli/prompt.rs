//! Asking the person at the terminal, and noticing when they press Ctrl-C.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, PoisonError};

use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};

use super::{CliError, Context};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
// Set by the first `interrupted()`: from then on Ctrl-C only raises the flag, and the command
// stops itself cleanly. Before that, Ctrl-C ends the process at once (exit 130).
static COOPERATIVE: AtomicBool = AtomicBool::new(false);
static HANDLER: Once = Once::new();
// The terminal's settings at start, put back when Ctrl-C ends the process: a hidden prompt
// turns echo off, and dying by the signal would leave it off. Every change latchkey makes to
// the terminal is made holding this lock, and the Ctrl-C handler exits holding it, so no
// change can land after the handler has put the settings back.
static TERMINAL: Mutex<Option<rustix::termios::Termios>> = Mutex::new(None);

/// Watches for Ctrl-C from the start of the process: until a command opts in to stopping
/// cleanly ([`interrupted`]), Ctrl-C restores the terminal and exits 130, as a shell expects
/// of a program that SIGINT stopped.
pub(super) fn watch_interrupts() {
    HANDLER.call_once(|| {
        if let Ok(settings) = tcgetattr(std::io::stdin()) {
            *TERMINAL.lock().unwrap_or_else(PoisonError::into_inner) = Some(settings);
        }
        let _ = ctrlc::set_handler(|| {
            if COOPERATIVE.load(Ordering::SeqCst) {
                INTERRUPTED.store(true, Ordering::SeqCst);
                return;
            }
            let saved = TERMINAL.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(settings) = saved.as_ref()
                && let Ok(tty) = terminal()
            {
                let _ = tcsetattr(&tty, OptionalActions::Now, settings);
            }
            eprintln!();
            eprintln!("interrupted");
            // `saved` is still held: the process ends before anything can turn echo off again.
            std::process::exit(i32::from(super::exit::INTERRUPTED));
        });
    });
}

/// The controlling terminal, where prompts are shown and answered.
fn terminal() -> std::io::Result<File> {
    OpenOptions::new().read(true).write(true).open("/dev/tty")
}

/// Asks for a secret on the terminal with echo off, twice when `again` names the second
/// prompt, until both entries agree.
///
/// dialoguer's `Password` shows its prompt and only then turns echo off, on another thread's
/// terms than the Ctrl-C handler: a Ctrl-C in between could leave the shell without echo. Here
/// echo goes off before the prompt appears, under the same lock as the handler's restore.
pub(super) fn secret(prompt: &str, again: Option<(&str, &str)>) -> Result<String, CliError> {
    watch_interrupts();
    loop {
        let first = hidden_line(prompt).map_err(no_answer)?;
        let Some((again, differ)) = again else {
            return Ok(first);
        };
        if hidden_line(again).map_err(no_answer)? == first {
            return Ok(first);
        }
        eprintln!("{differ}");
    }
}

/// One line read from the terminal with echo off, its line ending removed.
fn hidden_line(prompt: &str) -> std::io::Result<String> {
    let mut tty = terminal()?;
    let original = {
        let mut saved = TERMINAL.lock().unwrap_or_else(PoisonError::into_inner);
        let original = tcgetattr(&tty)?;
        saved.get_or_insert_with(|| original.clone());
        let mut quiet = original.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        // The Enter that ends the line still moves the cursor on.
        quiet.local_modes.insert(LocalModes::ECHONL);
        tcsetattr(&tty, OptionalActions::Flush, &quiet)?;
        original
    };
    let mut line = String::new();
    let read = write!(tty, "{prompt}: ")
        .and_then(|()| tty.flush())
        .and_then(|()| BufReader::new(&tty).read_line(&mut line));
    {
        let _saved = TERMINAL.lock().unwrap_or_else(PoisonError::into_inner);
        tcsetattr(&tty, OptionalActions::Now, &original)?;
    }
    if read? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the terminal closed (Ctrl-D)",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// A hidden prompt that got no answer.
fn no_answer(error: std::io::Error) -> CliError {
    CliError::host(format!("no answer from the terminal: {error}"))
        .with_hint("type the answer and press Enter, or pass it on standard input")
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
