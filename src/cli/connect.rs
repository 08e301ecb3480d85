//! The CLI's policy over the session layer: wait out a short back-off with a countdown, move
//! a lock still on an older key onto the current one only for commands that change the lock,
//! and word refusals with the hint that fits this lock.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use super::{CliError, Context};
use crate::link::ClientError;
use crate::session::{self, AuthOutcome, ConnectError, ConnectOptions, Connection};

/// What a command does to the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// Reads only: a lock on an older key stays on it (a note says so).
    Read,
    /// Changes the lock: a lock on an older key is moved to the current one first.
    Change,
    /// Installs a new key itself (`key rotate`): no move beforehand, and no note.
    Rekey,
}

impl Context {
    /// The session layer's options for a command that does `access`.
    pub(super) fn options(&self, access: Access) -> ConnectOptions {
        ConnectOptions { migrate_keys: access == Access::Change, ..self.connect.clone() }
    }
}

/// Opens the port, without a session (claim, factory reset, ping).
pub(super) fn connect(context: &Context) -> Result<Connection, CliError> {
    Ok(session::connect(&context.options(Access::Read))?)
}

/// Opens the port and a session (if the lock is claimed).
pub(super) fn open(context: &Context, access: Access) -> Result<Connection, CliError> {
    let mut connection = session::connect(&context.options(access))?;
    authorize(context, &mut connection, access)?;
    Ok(connection)
}

/// Opens a session on `connection` if the lock is claimed. A back-off no longer than the
/// timeout is waited out (with a countdown) and tried again; a longer one is an error.
pub(super) fn authorize(
    context: &Context,
    connection: &mut Connection,
    access: Access,
) -> Result<(), ConnectError> {
    loop {
        match connection.authorize()? {
            AuthOutcome::Unclaimed | AuthOutcome::Opened { .. } => return Ok(()),
            AuthOutcome::Backoff { retry_after } if retry_after <= context.connect.timeout => {
                // Someone (a wrong code, a replayed recording) made the lock slow down. A
                // short wait is better than failing the installer's command.
                count_down(retry_after + Duration::from_millis(50));
            }
            AuthOutcome::Backoff { retry_after } => {
                return Err(ClientError::Backoff { retry_after }.into());
            }
            AuthOutcome::OpenedWithOlderKey { .. } if access == Access::Rekey => return Ok(()),
            AuthOutcome::OpenedWithOlderKey { key, .. } => {
                let serial = connection.info()?.serial.to_string();
                if access == Access::Change && connection.migrate_keys()? {
                    eprintln!(
                        "note: lock {serial} was on an older key of {key:?}; moved it to the \
                         current key"
                    );
                } else {
                    eprintln!(
                        "note: lock {serial} is on an older key of {key:?}; the next command \
                         that changes it moves it to the current key"
                    );
                }
                return Ok(());
            }
        }
    }
}

/// Waits `wait`, counting down on a terminal (one line otherwise).
fn count_down(wait: Duration) {
    let why = "the lock is slowing down after failed authentication";
    let until = Instant::now() + wait;
    if !std::io::stderr().is_terminal() {
        eprintln!("note: {why}; waiting {:.1} s", wait.as_secs_f64());
        std::thread::sleep(wait);
        return;
    }
    let mut stderr = std::io::stderr();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let _ = write!(stderr, "\rnote: {why}; trying again in {:.1} s ", left.as_secs_f64());
        let _ = stderr.flush();
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
    let _ = writeln!(stderr);
}

/// A client error on `connection` as the CLI reports it, with the hint that fits this lock.
pub(super) trait Explain {
    /// The error, classified against this lock and session.
    fn explain(&self, error: ClientError) -> CliError;
}

impl Explain for Connection {
    fn explain(&self, error: ClientError) -> CliError {
        match self.classify(&error) {
            Some(refusal) => CliError::refusal(refusal, self.known_info().map(|i| &i.capabilities)),
            None => error.into(),
        }
    }
}
