//! How the CLI reports a failure: a message naming the problem, a hint naming the fix, a
//! stable exit code, and under `--json` the same as a JSON document on stdout.

use latchkey_protocol::Status;
use serde_json::json;

use crate::link::{ClientError, ResolveError};

/// Stable exit codes, documented in the README and `latchkey --help`.
pub mod exit {
    /// The lock refused the request.
    pub const REFUSED: u8 = 1;
    /// The command line or a config file is wrong.
    pub const USAGE: u8 = 2;
    /// No device: no port found, or it cannot be opened.
    pub const NO_DEVICE: u8 = 3;
    /// The link failed: timeout, i/o error, protocol mismatch.
    pub const LINK: u8 = 4;
    /// The port is held by another program.
    pub const BUSY: u8 = 5;
}

/// A failure as the CLI reports it.
#[derive(Debug)]
pub struct CliError {
    /// Process exit code.
    pub code: u8,
    /// Stable machine-readable kind (`timeout`, `refused`, `port_busy`, ...).
    pub kind: &'static str,
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The lock's status, when the lock refused.
    pub status: Option<Status>,
    /// When the lock is slowing down attempts: how long to wait.
    pub retry_after_ms: Option<u64>,
}

impl CliError {
    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: exit::USAGE,
            kind: "usage",
            message: message.into(),
            hint: None,
            status: None,
            retry_after_ms: None,
        }
    }

    /// The lock refused, or authentication failed (exit 1).
    pub fn refused(kind: &'static str, message: impl Into<String>, status: Option<Status>) -> Self {
        Self {
            code: exit::REFUSED,
            kind,
            message: message.into(),
            hint: None,
            status,
            retry_after_ms: None,
        }
    }

    /// Adds the fix.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prints the error: JSON on stdout under `--json`, text on stderr always.
    pub fn report(&self, json: bool) {
        if json {
            let doc = json!({
                "error": {
                    "kind": self.kind,
                    "message": self.message,
                    "hint": self.hint,
                    "status": self.status.map(|s| s.as_str()),
                    "retry_after_ms": self.retry_after_ms,
                    "exit_code": self.code,
                }
            });
            println!("{doc}");
        }
        eprintln!("error: {}", self.message);
        if let Some(hint) = &self.hint {
            eprintln!("  hint: {hint}");
        }
    }
}

impl From<ClientError> for CliError {
    fn from(error: ClientError) -> Self {
        let message = error.to_string();
        let (code, kind, hint, status) = match &error {
            ClientError::PortBusy { .. } => (
                exit::BUSY,
                "port_busy",
                "another latchkey, a terminal program or a modem manager holds the port; close it and try again"
                    .to_string(),
                None,
            ),
            ClientError::Open { .. } => (
                exit::NO_DEVICE,
                "no_device",
                "check the cable and the path; `latchkey ports` lists the serial ports".to_string(),
                None,
            ),
            ClientError::Timeout { .. } => (
                exit::LINK,
                "timeout",
                "is the lock powered and the cable seated on its service port? a longer --timeout helps on slow links"
                    .to_string(),
                None,
            ),
            ClientError::Io { .. } => (
                exit::LINK,
                "io",
                "the cable may have been pulled; reconnect and run the command again (it is safe to repeat)"
                    .to_string(),
                None,
            ),
            ClientError::Refused(refusal) => (
                exit::REFUSED,
                "refused",
                refusal_hint(refusal.status).to_string(),
                Some(refusal.status),
            ),
            ClientError::VersionMismatch { lock } => (
                exit::LINK,
                "version_mismatch",
                if *lock > latchkey_protocol::PROTOCOL_VERSION {
                    "update latchkey: this lock's firmware is newer".to_string()
                } else {
                    "update the lock's firmware, or use a latchkey release that speaks its protocol"
                        .to_string()
                },
                None,
            ),
            ClientError::Unexpected(_) => (
                exit::LINK,
                "protocol",
                "this is a bug in latchkey or the lock firmware; please report it with `latchkey info --json`"
                    .to_string(),
                None,
            ),
            ClientError::Encode(_) => {
                (exit::USAGE, "too_large", "use a shorter value".to_string(), None)
            }
            ClientError::Backoff { .. } => (
                exit::REFUSED,
                "backoff",
                "wait that long, then try again; each failure doubles the wait (up to a minute)".to_string(),
                None,
            ),
            ClientError::WrongSetupCode => (
                exit::REFUSED,
                "wrong_setup_code",
                "check the code on the label inside the lock (12 characters, XXXX-XXXX-XXXX); the lock slows down after each wrong code".to_string(),
                Some(Status::NotAuthorized),
            ),
            ClientError::WrongKey => (
                exit::REFUSED,
                "wrong_key",
                "this lock was claimed with another site key: name the right one with --key, or factory-reset the lock with its setup code".to_string(),
                Some(Status::NotAuthorized),
            ),
            ClientError::SessionExpired => (
                exit::LINK,
                "session_expired",
                "the lock may have restarted; run the command again".to_string(),
                None,
            ),
            ClientError::Random(_) => {
                (exit::LINK, "random", "the system's entropy source is unavailable".to_string(), None)
            }
        };
        let retry_after_ms = match &error {
            ClientError::Backoff { retry_after } => Some(retry_after.as_millis() as u64),
            _ => None,
        };
        Self { code, kind, message, hint: Some(hint), status, retry_after_ms }
    }
}

impl From<crate::keys::KeyError> for CliError {
    fn from(error: crate::keys::KeyError) -> Self {
        let hint = error.hint();
        CliError { kind: "key", ..CliError::usage(error.to_string()).with_hint(hint) }
    }
}

impl From<ResolveError> for CliError {
    fn from(error: ResolveError) -> Self {
        let hint = match &error {
            ResolveError::NoneFound { .. } => {
                "plug in the service cable, or name the port with --port PATH (or LATCHKEY_PORT); try `latchkey --sim info` to see the tool without a lock"
            }
            ResolveError::Ambiguous { .. } => "name the port with --port PATH or LATCHKEY_PORT",
            ResolveError::List(_) => "name the port with --port PATH",
            ResolveError::Cancelled => "name the port with --port PATH",
        };
        Self {
            code: exit::NO_DEVICE,
            kind: "no_device",
            message: error.to_string(),
            hint: Some(hint.into()),
            status: None,
            retry_after_ms: None,
        }
    }
}

/// What to do about each refusal.
fn refusal_hint(status: Status) -> &'static str {
    match status {
        Status::InvalidField => {
            "the value is out of the allowed range; see `latchkey config set --help`"
        }
        Status::NotAuthorized => "this needs an installer key: a technician key is read-only",
        Status::Busy => "the lock is busy; try again in a moment",
        Status::Unsupported => "the lock's firmware does not support this; update it",
        Status::ResourceExhausted => "the lock is full; remove something first",
        Status::NotFound => "no such item on the lock",
        Status::Duplicate => "the lock already holds that value elsewhere",
        Status::Occupied => "that slot is in use",
        Status::BadFrame => "the request was damaged on the line; run the command again",
        Status::Weak => {
            "choose a PIN that is not one digit repeated, a straight run (1234, 9876) or a repeated pair"
        }
        Status::Failure | Status::Success => {
            "the lock could not complete it; run `latchkey info` for its diagnostics"
        }
    }
}
