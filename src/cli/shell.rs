//! Shell integration generated from the clap definition itself: completion scripts and the
//! manual page, so neither can drift from the real commands and flags.

use super::CliError;

/// `latchkey completions <shell>`: the script on stdout.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut command = super::args::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "latchkey", &mut out);
    write_stdout(&out)
}

/// `latchkey man`: the manual page (roff) on stdout, for `man -l -` or a `man1` folder.
pub(super) fn man() -> Result<(), CliError> {
    let command = super::args::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .map_err(|e| CliError::host(format!("cannot render the manual page: {e}")))?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        // A reader that went away (`| head`) is not an error of ours.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::host(format!("cannot write to standard output: {e}"))
                .with_hint("redirect the output to a file you can write"))
        }
        _ => Ok(()),
    }
}
