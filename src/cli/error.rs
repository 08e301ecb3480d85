//! How the CLI reports a failure: a message naming the problem, a hint naming the fix, a
//! stable exit code, and under `--json` the same as a JSON document on stdout.

use latchkey_protocol::{Capabilities, Status};
use serde_json::json;

use crate::link::{ClientError, ResolveError};
use crate::session::{ConnectError, Refusal};

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
    /// This computer could not do its part: the terminal, a file, its randomness.
    pub const HOST: u8 = 6;
    /// A `--check` found something to attend to: the battery low or critical, an alarm raised.
    pub const CHECK: u8 = 7;
    /// Ctrl-C stopped it (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: u8 = 130;
}

/// How a command that ran to the end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, nothing to report.
    Done,
    /// A `--check` found something to attend to (exit 7).
    Attention,
}

/// What kind of failure, as scripts see it (`"kind"` in the JSON error). Each kind has one
/// exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line, a value or a config file is wrong; nothing was sent.
    Usage,
    /// A value too long to fit in a request.
    TooLarge,
    /// A key file or the keystore cannot be used.
    Key,
    /// The lock is claimed and no key for it was found.
    NoKey,
    /// The lock refused the request.
    Refused,
    /// The lock is claimed already.
    AlreadyClaimed,
    /// The lock holds something other than the provisioning file says.
    ChecksumMismatch,
    /// The log's hash chain is broken.
    LogBroken,
    /// A card or finger enrollment ended without a credential.
    EnrollmentFailed,
    /// The lock was not enrolling anything (restarted?).
    Enrollment,
    /// No user number is free.
    Full,
    /// No PIN could be generated that the lock took.
    Generate,
    /// The lock refuses attempts for a while after failed authentications.
    Backoff,
    /// The setup code is wrong.
    WrongSetupCode,
    /// The lock holds no factory data: nothing can prove its setup code.
    NotProvisioned,
    /// No key tried opens a session on this lock.
    WrongKey,
    /// The person said no, or stopped a step that needs them.
    Cancelled,
    /// No port found, or it cannot be opened.
    NoDevice,
    /// The built-in simulated lock did not start.
    Sim,
    /// No answer within the timeout.
    Timeout,
    /// Reading or writing the port failed.
    Io,
    /// The lock speaks another protocol version.
    VersionMismatch,
    /// The lock answered something that does not fit.
    Protocol,
    /// The lock ended the session and a new one failed.
    SessionExpired,
    /// The lock refused a request it should have taken inside the session; it was not done.
    NotCarriedOut,
    /// The lock restarted while the session was being opened.
    LockRestarted,
    /// An answer inside the session came unsealed: whether it was done is not confirmed.
    Unconfirmed,
    /// The command needs a session with the lock, and none could be opened.
    NeedsSession,
    /// The lock says it is not claimed, though it was claimed from here: a factory reset, or
    /// tampering on the cable. Nothing was sent.
    ClaimLost,
    /// Another program holds the port.
    PortBusy,
    /// This computer could not do its part: the terminal, a file.
    Host,
    /// No randomness from the operating system.
    Random,
    /// Ctrl-C stopped it.
    Interrupted,
}

impl ErrorKind {
    /// The stable name scripts read.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::TooLarge => "too_large",
            Self::Key => "key",
            Self::NoKey => "no_key",
            Self::Refused => "refused",
            Self::AlreadyClaimed => "already_claimed",
            Self::ChecksumMismatch => "checksum_mismatch",
            Self::LogBroken => "log_broken",
            Self::EnrollmentFailed => "enrollment_failed",
            Self::Enrollment => "enrollment",
            Self::Full => "full",
            Self::Generate => "generate",
            Self::Backoff => "backoff",
            Self::WrongSetupCode => "wrong_setup_code",
            Self::NotProvisioned => "not_provisioned",
            Self::WrongKey => "wrong_key",
            Self::Cancelled => "cancelled",
            Self::NoDevice => "no_device",
            Self::Sim => "sim",
            Self::Timeout => "timeout",
            Self::Io => "io",
            Self::VersionMismatch => "version_mismatch",
            Self::Protocol => "protocol",
            Self::SessionExpired => "session_expired",
            Self::NotCarriedOut => "not_carried_out",
            Self::LockRestarted => "lock_restarted",
            Self::Unconfirmed => "unconfirmed",
            Self::NeedsSession => "needs_session",
            Self::ClaimLost => "claim_lost",
            Self::PortBusy => "port_busy",
            Self::Host => "host",
            Self::Random => "random",
            Self::Interrupted => "interrupted",
        }
    }

    /// The process exit code of this kind of failure.
    pub const fn exit_code(self) -> u8 {
        match self {
            Self::Usage | Self::TooLarge | Self::Key | Self::NoKey => exit::USAGE,
            Self::Refused
            | Self::AlreadyClaimed
            | Self::ChecksumMismatch
            | Self::LogBroken
            | Self::EnrollmentFailed
            | Self::Enrollment
            | Self::Full
            | Self::Generate
            | Self::Backoff
            | Self::WrongSetupCode
            | Self::NotProvisioned
            | Self::WrongKey
            | Self::Cancelled
            | Self::NeedsSession
            | Self::ClaimLost => exit::REFUSED,
            Self::NoDevice | Self::Sim => exit::NO_DEVICE,
            Self::Timeout
            | Self::Io
            | Self::VersionMismatch
            | Self::Protocol
            | Self::SessionExpired
            | Self::NotCarriedOut
            | Self::LockRestarted
            | Self::Unconfirmed => exit::LINK,
            Self::PortBusy => exit::BUSY,
            Self::Host | Self::Random => exit::HOST,
            Self::Interrupted => exit::INTERRUPTED,
        }
    }
}

/// A failure as the CLI reports it.
#[derive(Debug)]
pub struct CliError {
    /// Process exit code (the kind's).
    pub code: u8,
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The lock's status, when the lock refused.
    pub status: Option<Status>,
    /// When the lock is slowing down attempts: how long to wait.
    pub retry_after_ms: Option<u64>,
    /// More for scripts (a site file's bad rows), as `"detail"` in the JSON error.
    pub detail: Option<serde_json::Value>,
}

impl CliError {
    /// A failure of `kind`, with its exit code.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            code: kind.exit_code(),
            kind,
            message: message.into(),
            hint: None,
            status: None,
            retry_after_ms: None,
            detail: None,
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// This computer failed at its part (exit 6): the terminal, a file.
    pub fn host(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Host, message)
    }

    /// The person said no, or stopped a step that needs them (exit 1).
    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Cancelled, message)
    }

    /// Ctrl-C stopped the command (exit 130, as a shell reports a process ended by SIGINT).
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Interrupted, message)
    }

    /// The lock refused, or the lock's state does not allow it (exit 1).
    pub fn refused(kind: ErrorKind, message: impl Into<String>, status: Option<Status>) -> Self {
        Self { status, ..Self::new(kind, message) }
    }

    /// The lock refused, as the session layer classified it; the lock's `capabilities`, when
    /// known, let the hint name the values it allows.
    pub fn refusal(refusal: Refusal, capabilities: Option<&Capabilities>) -> Self {
        match refusal {
            Refusal::Lock(refusal) => {
                let (message, hint) = crate::display::lock_refusal_words(&refusal, capabilities);
                let error = Self::refused(ErrorKind::Refused, message, Some(refusal.status));
                match hint {
                    Some(hint) => error.with_hint(hint),
                    None => error.with_hint(refusal_hint(refusal.status)),
                }
            }
            Refusal::NotClaimed => Self::refused(
                ErrorKind::Refused,
                "the lock refused: it is not claimed yet",
                Some(Status::NotAuthorized),
            )
            .with_hint(
                "claim it first with `latchkey claim` and the setup code printed inside the lock",
            ),
            Refusal::ReadOnlyKey => Self::refused(
                ErrorKind::Refused,
                "the lock refused: a technician key is read-only",
                Some(Status::NotAuthorized),
            )
            .with_hint("changes need the site's installer key (--key NAME)"),
        }
    }

    /// Adds detail for scripts.
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// Adds the fix.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The error as the one JSON document printed under `--json`.
    pub fn json_document(&self) -> serde_json::Value {
        json!({
            "error": {
                "kind": self.kind.as_str(),
                "message": self.message,
                "hint": self.hint,
                "status": self.status.map(|s| s.as_str()),
                "retry_after_ms": self.retry_after_ms,
                "exit_code": self.code,
                "detail": self.detail,
            }
        })
    }

    /// Prints the error: JSON on stdout under `--json`, text on stderr always.
    pub fn report(&self, json: bool) {
        if json {
            println!("{}", self.json_document());
        }
        eprintln!("error: {}", self.message);
        if let Some(hint) = &self.hint {
            eprintln!("  hint: {hint}");
        }
    }
}

impl From<ClientError> for CliError {
    fn from(error: ClientError) -> Self {
        if let ClientError::Refused(refusal) = error {
            return Self::refusal(Refusal::Lock(refusal), None);
        }
        let message = error.to_string();
        let (kind, hint, status) = match &error {
            ClientError::PortBusy { .. } => (ErrorKind::PortBusy,
                "another latchkey, a terminal program or a modem manager holds the port; close it and try again"
                    .to_string(),
                None,
            ),
            ClientError::Open { .. } => (ErrorKind::NoDevice,
                "check the cable and the path; `latchkey ports` lists the serial ports".to_string(),
                None,
            ),
            ClientError::Timeout { .. } => (ErrorKind::Timeout,
                "is the lock powered and the cable seated on its service port? a longer --timeout helps on slow links"
                    .to_string(),
                None,
            ),
            ClientError::Io { .. } => (ErrorKind::Io,
                "the cable may have been pulled; reconnect and run the command again (it is safe to repeat)"
                    .to_string(),
                None,
            ),
            ClientError::Refused(refusal) => (
                ErrorKind::Refused,
                refusal_hint(refusal.status).to_string(),
                Some(refusal.status),
            ),
            ClientError::VersionMismatch { lock } => (
                ErrorKind::VersionMismatch,
                if *lock > latchkey_protocol::PROTOCOL_VERSION {
                    "update latchkey: this lock's firmware is newer".to_string()
                } else {
                    "update the lock's firmware, or use a latchkey release that speaks its protocol"
                        .to_string()
                },
                None,
            ),
            ClientError::Unexpected(_) => (ErrorKind::Protocol,
                "this is a bug in latchkey or the lock firmware; please report it with `latchkey info --json`"
                    .to_string(),
                None,
            ),
            ClientError::Encode(_) => {
                (ErrorKind::TooLarge, "use a shorter value".to_string(), None)
            }
            ClientError::Backoff { .. } => (ErrorKind::Backoff,
                "wait that long, then try again; each failure doubles the wait (up to a minute)".to_string(),
                None,
            ),
            ClientError::WrongSetupCode => (ErrorKind::WrongSetupCode,
                "check the code on the label inside the lock (12 characters, XXXX-XXXX-XXXX); the lock slows down after each wrong code".to_string(),
                Some(Status::NotAuthorized),
            ),
            ClientError::NotProvisioned => (ErrorKind::NotProvisioned,
                "the lock's factory page is empty or damaged, so it cannot be claimed or reset (its users still work); it needs its factory provisioning step: for the QEMU image, run-qemu with a new --flash file".to_string(),
                None,
            ),
            ClientError::WrongKey => (ErrorKind::WrongKey,
                "this lock was claimed with another site key: name the right one with --key, or factory-reset the lock with its setup code".to_string(),
                Some(Status::NotAuthorized),
            ),
            ClientError::SessionExpired => (ErrorKind::SessionExpired,
                "the lock may have restarted; run the command again".to_string(),
                None,
            ),
            ClientError::NotCarriedOut { .. } => (
                ErrorKind::NotCarriedOut,
                "nothing was changed; run the command again".to_string(),
                None,
            ),
            ClientError::LockRestarted => (
                ErrorKind::LockRestarted,
                "the lock restarted during the handshake; no session was opened and nothing was changed; run the command again".to_string(),
                None,
            ),
            ClientError::Random(_) => {
                (ErrorKind::Random, "the system's entropy source is unavailable".to_string(), None)
            }
            ClientError::NeedsSession { .. } => (
                ErrorKind::NeedsSession,
                "name the lock's site key with --key; nothing was sent".to_string(),
                None,
            ),
            ClientError::Unconfirmed { .. } => (
                ErrorKind::Unconfirmed,
                "something on the cable answered in the lock's place; check the adapter and the cable, then see what the lock holds with a read (e.g. `latchkey user list`)".to_string(),
                None,
            ),
        };
        let retry_after_ms = match &error {
            ClientError::Backoff { retry_after } => Some(retry_after.as_millis() as u64),
            _ => None,
        };
        Self {
            code: kind.exit_code(),
            kind,
            message,
            hint: Some(hint),
            status,
            retry_after_ms,
            detail: None,
        }
    }
}

impl From<crate::keys::KeyError> for CliError {
    fn from(error: crate::keys::KeyError) -> Self {
        use crate::keys::KeyError;
        let kind = match &error {
            // This computer's part, not the command line's.
            KeyError::Io { .. } => ErrorKind::Host,
            KeyError::Random(_) => ErrorKind::Random,
            _ => ErrorKind::Key,
        };
        let hint = error.hint();
        CliError::new(kind, error.to_string()).with_hint(hint)
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
        CliError::new(ErrorKind::NoDevice, error.to_string()).with_hint(hint)
    }
}

impl From<ConnectError> for CliError {
    fn from(error: ConnectError) -> Self {
        match error {
            ConnectError::Resolve(e) => e.into(),
            ConnectError::Client(e) => e.into(),
            ConnectError::Key(e) => e.into(),
            ConnectError::NoKey { serial, source } => {
                let hint = format!(
                    "{}; this lock ({serial}) is claimed, so it needs its site's key",
                    source.hint()
                );
                CliError::new(ErrorKind::NoKey, source.to_string()).with_hint(hint)
            }
            e @ ConnectError::ClaimLost { .. } => {
                let hint = "nothing was sent. If the lock was factory-reset, claim it again \
                            (`latchkey claim`); if not, someone or something on the cable may \
                            be tampering: check the adapter and the cable before going on";
                CliError::new(ErrorKind::ClaimLost, e.to_string()).with_hint(hint)
            }
            e @ ConnectError::Sim(_) => CliError::new(ErrorKind::Sim, e.to_string())
                .with_hint("the simulator needs a pseudo-terminal (/dev/ptmx)"),
        }
    }
}

impl From<crate::time::TimeError> for CliError {
    fn from(error: crate::time::TimeError) -> Self {
        let hint = error.hint();
        CliError::usage(error.to_string()).with_hint(hint)
    }
}

impl From<crate::input::InputError> for CliError {
    fn from(error: crate::input::InputError) -> Self {
        let hint = error.hint();
        CliError::usage(error.to_string()).with_hint(hint)
    }
}

impl From<crate::ops::provision::ProvisionError> for CliError {
    fn from(error: crate::ops::provision::ProvisionError) -> Self {
        use crate::ops::provision::ProvisionError;
        let hint = match &error {
            ProvisionError::Read { .. } => "check the file's path".to_string(),
            ProvisionError::Parse { .. } => "a JSON array of users shaped like `latchkey user show --json`, plus \"pin\", \"cards\", \"phones\", \"fingers\" (a count); docs/provisioning.md describes it, and `latchkey provision verify` also reads TOML and CSV site files".to_string(),
            ProvisionError::Value { source, .. } => source.hint().to_string(),
            ProvisionError::Date { source, .. } => source.hint().to_string(),
        };
        let kind = match &error {
            ProvisionError::Read { .. } => ErrorKind::Host,
            _ => ErrorKind::Usage,
        };
        CliError::new(kind, error.to_string()).with_hint(hint)
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

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [ErrorKind; 28] = [
        ErrorKind::Usage,
        ErrorKind::TooLarge,
        ErrorKind::Key,
        ErrorKind::NoKey,
        ErrorKind::Refused,
        ErrorKind::AlreadyClaimed,
        ErrorKind::ChecksumMismatch,
        ErrorKind::LogBroken,
        ErrorKind::EnrollmentFailed,
        ErrorKind::Enrollment,
        ErrorKind::Full,
        ErrorKind::Generate,
        ErrorKind::Backoff,
        ErrorKind::WrongSetupCode,
        ErrorKind::NotProvisioned,
        ErrorKind::WrongKey,
        ErrorKind::Cancelled,
        ErrorKind::NoDevice,
        ErrorKind::Sim,
        ErrorKind::Timeout,
        ErrorKind::Io,
        ErrorKind::VersionMismatch,
        ErrorKind::Protocol,
        ErrorKind::SessionExpired,
        ErrorKind::PortBusy,
        ErrorKind::Host,
        ErrorKind::Random,
        ErrorKind::Interrupted,
    ];

    #[test]
    fn each_kind_has_its_own_name_and_only_usage_kinds_exit_2() {
        let mut names: Vec<&str> = KINDS.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KINDS.len());
        for kind in KINDS {
            let usage = matches!(
                kind,
                ErrorKind::Usage | ErrorKind::TooLarge | ErrorKind::Key | ErrorKind::NoKey
            );
            assert_eq!(kind.exit_code() == exit::USAGE, usage, "{}", kind.as_str());
        }
    }

    #[test]
    fn runtime_failures_are_not_usage_errors() {
        let e = CliError::from(ClientError::Random("no entropy".into()));
        assert_eq!((e.code, e.kind), (exit::HOST, ErrorKind::Random));
        assert_eq!(CliError::interrupted("stopped").code, 130);
        let e = CliError::from(ClientError::Refused(latchkey_protocol::Refusal::new(Status::Busy)));
        assert_eq!((e.code, e.kind.as_str(), e.status), (1, "refused", Some(Status::Busy)));
    }
}
