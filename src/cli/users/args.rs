//! The command line of the user commands: `user`, `pin`, `card`, `finger`, `phone`,
//! `schedule` and `guest`.

use clap::{Args, Subcommand, ValueEnum};
use latchkey_protocol::UserKind;

use crate::input::{InputError, UserRef};

/// `latchkey user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; prints their number (`--json`: `{"user": N, ...}`).
    Add {
        /// The user's name (1-24 characters).
        name: String,
        /// Use this number instead of the lowest free one.
        #[arg(long)]
        id: Option<u16>,
        #[command(flatten)]
        rules: UserRules,
        /// Add the user disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List the users.
    List,
    /// Show one user and their credentials (never a PIN).
    Show {
        /// The user: their number, or their name.
        user: UserRef,
    },
    /// Change a user's name or rules; their credentials are kept.
    Edit {
        /// The user: their number, or their name.
        user: UserRef,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        rules: UserRules,
        /// Remove the date range.
        #[arg(long, conflicts_with_all = ["from", "until"])]
        no_dates: bool,
        /// Remove the use limit.
        #[arg(long, conflicts_with = "uses")]
        no_limit: bool,
        /// Remove the weekly windows.
        #[arg(long, conflicts_with = "window")]
        no_windows: bool,
    },
    /// Let a disabled user in again (all their credentials work again).
    Enable {
        /// The user: their number, or their name.
        user: UserRef,
    },
    /// Refuse all of a user's credentials at once, without deleting anything.
    Disable {
        /// The user: their number, or their name.
        user: UserRef,
    },
    /// Delete a user and all their credentials.
    Remove {
        /// The user: their number, or their name.
        user: UserRef,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// The rules of a user, shared by `user add`, `user edit` and `guest add`.
#[derive(Debug, Args, Default)]
pub struct UserRules {
    /// The user's type.
    #[arg(long, value_enum)]
    pub kind: Option<KindName>,
    /// For `--kind expiring`: minutes after the first use (1-2880).
    #[arg(long)]
    pub minutes: Option<u16>,
    /// Not before: `2026-12-01` or `2026-12-01T14:00` in the lock's local time
    /// (`latchkey config set time-zone`; UTC until set), `2026-12-01T14:00:00Z` or `+01:00`,
    /// `now`, or `+2h`.
    #[arg(long, value_name = "WHEN")]
    pub from: Option<String>,
    /// Not after: a date (through its last second), a time, both in the lock's local time
    /// unless given with an offset (`Z`, `+01:00`), or `+3d`.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Successful uses allowed; the lock counts them down.
    #[arg(long)]
    pub uses: Option<u16>,
    /// A weekly window, e.g. `mon-fri 08:00-18:00`, `sat,sun 10:00-14:00`, `daily 06:00-22:00`,
    /// in the lock's local time (`latchkey config set time-zone`; UTC until set). Repeat for up
    /// to 4.
    #[arg(long, value_name = "DAYS HH:MM-HH:MM")]
    pub window: Vec<String>,
}

/// `latchkey pin ...`
#[derive(Debug, Subcommand)]
pub enum PinCommand {
    /// Set a user's PIN: typed twice (hidden) at a terminal, `--stdin`, or `--generate`.
    Set {
        /// The user: their number, or their name.
        user: UserRef,
        #[command(flatten)]
        source: PinSource,
    },
    /// Remove a user's PIN.
    Remove {
        /// The user: their number, or their name.
        user: UserRef,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// Where a PIN comes from.
#[derive(Debug, Args, Default)]
pub struct PinSource {
    /// Read the PIN from standard input (one line).
    #[arg(long, conflicts_with = "generate")]
    pub stdin: bool,
    /// Let latchkey choose a random PIN; it is shown once.
    #[arg(long)]
    pub generate: bool,
    /// Digits of a generated PIN.
    #[arg(long, default_value_t = 6, requires = "generate")]
    pub length: u8,
}

/// `latchkey card ...`
#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Give a user a card: its UID in hex, or tap it on the lock when no UID is given.
    Add {
        /// The user: their number, or their name.
        user: UserRef,
        /// The card's UID, 4, 7 or 10 bytes in hex (e.g. 04a1b2c3).
        uid: Option<String>,
    },
    /// Take a card from a user.
    Remove {
        /// The user: their number, or their name.
        user: UserRef,
        /// The card's UID in hex.
        uid: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `latchkey finger ...`
#[derive(Debug, Subcommand)]
pub enum FingerCommand {
    /// Enroll a finger on the lock's sensor; follow the captures (Ctrl-C cancels).
    Enroll {
        /// The user: their number, or their name.
        user: UserRef,
    },
    /// Remove an enrolled finger.
    Remove {
        /// The user: their number, or their name.
        user: UserRef,
        /// Its template slot (`latchkey user show` lists them).
        slot: u8,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `latchkey phone ...`
#[derive(Debug, Subcommand)]
pub enum PhoneCommand {
    /// Give a user a phone key (the phone app shows its public key).
    Add {
        /// The user: their number, or their name.
        user: UserRef,
        /// Ed25519 public key, 64 hex digits.
        public_key: String,
    },
    /// Take a phone key from a user.
    Remove {
        /// The user: their number, or their name.
        user: UserRef,
        /// Ed25519 public key, 64 hex digits.
        public_key: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `latchkey schedule ...`
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Replace a user's weekly windows (they may only enter inside one).
    Set {
        /// The user: their number, or their name.
        user: UserRef,
        /// e.g. `mon-fri 08:00-18:00`; repeat for up to 4.
        #[arg(long, required = true, value_name = "DAYS HH:MM-HH:MM")]
        window: Vec<String>,
    },
    /// Remove a user's weekly windows.
    Clear {
        /// The user: their number, or their name.
        user: UserRef,
    },
}

/// `latchkey guest ...`
#[derive(Debug, Subcommand)]
pub enum GuestCommand {
    /// A guest with a PIN that the lock itself refuses before `--from` and after `--until`.
    Add {
        /// The guest's name.
        name: String,
        /// First moment the code works (default: now); dates and times without an offset are
        /// the lock's local time.
        #[arg(long, value_name = "WHEN")]
        from: Option<String>,
        /// Last moment the code works: a date (through its last second, local), a local time,
        /// a time with an offset (`2026-12-24T18:00:00Z`), or `+3d`.
        #[arg(long, value_name = "WHEN")]
        until: String,
        /// Successful uses allowed.
        #[arg(long)]
        uses: Option<u16>,
        #[command(flatten)]
        source: PinSource,
    },
}

/// A user type as typed: the protocol's machine names (`one_time`), with the older spellings
/// (`one-time`) still taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindName {
    /// Always let in (the default).
    #[value(alias = "unrestricted")]
    Owner,
    /// Only inside their weekly windows.
    Scheduled,
    /// Only between their dates.
    Guest,
    /// Let in once.
    #[value(name = "one_time", alias = "one-time", alias = "onetime")]
    OneTime,
    /// For `--minutes` after the first use.
    Expiring,
    /// Let in, and a silent alarm raised.
    Duress,
    /// Never let in (a record only).
    #[value(name = "non_access", alias = "non-access", alias = "nonaccess")]
    NonAccess,
}

impl KindName {
    /// The protocol's user type; an expiring user lasts `minutes` after the first use.
    pub fn kind(self, minutes: Option<u16>) -> Result<UserKind, InputError> {
        Ok(match self {
            Self::Owner => UserKind::Owner,
            Self::Scheduled => UserKind::Scheduled,
            Self::Guest => UserKind::Guest,
            Self::OneTime => UserKind::OneTime,
            Self::Expiring => {
                UserKind::Expiring { minutes: minutes.ok_or(InputError::ExpiringWithoutMinutes)? }
            }
            Self::Duress => UserKind::Duress,
            Self::NonAccess => UserKind::NonAccess,
        })
    }
}
