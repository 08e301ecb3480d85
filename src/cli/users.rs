//! Users and their credentials: `user`, `pin`, `card`, `finger`, `phone`, `schedule`,
//! `guest`, `checksum`, `access`, `alarms`. Parsing what a person types and printing what the
//! lock answers; every rule (ranges, weak PINs, duplicates, schedules) is the lock's.

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::time::Duration;

use clap::{Args, Subcommand};
use latchkey_protocol::checksum::pin_key;
use latchkey_protocol::crypto::lock_key;
use latchkey_protocol::{
    Credential, EnrollFailure, EnrollKind, Enrollment, Pin, Role, Status, TimeZoneRule, User,
    UserKind, UserSpec, UserWrite,
};
use serde_json::{Value, json};

use super::connect::{Access, Explain, open};
use super::prompt::{confirm, interrupted, prompt_failed};
use super::{CliError, Context};
use crate::display::{describe_local_date_time, format_unix, hex};
use crate::input::{self, card_uid, phone_key, user_name};
use crate::keys;
use crate::ops::users::{GuestError, PinChoice, PinError};
use crate::ops::{provision, users as ops};
use crate::session::Connection;
use crate::time::Dates;

// ---- command line -------------------------------------------------------------------------

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
        /// User number.
        user: u16,
    },
    /// Change a user's name or rules; their credentials are kept.
    Edit {
        /// User number.
        user: u16,
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
        /// User number.
        user: u16,
    },
    /// Refuse all of a user's credentials at once, without deleting anything.
    Disable {
        /// User number.
        user: u16,
    },
    /// Delete a user and all their credentials.
    Remove {
        /// User number.
        user: u16,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// The rules of a user, shared by `user add`, `user edit` and `guest add`.
#[derive(Debug, Args, Default)]
pub struct UserRules {
    /// owner, scheduled, guest, one-time, expiring, duress or non-access.
    #[arg(long, value_parser = parse_kind_name)]
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
        /// User number.
        user: u16,
        #[command(flatten)]
        source: PinSource,
    },
    /// Remove a user's PIN.
    Remove {
        /// User number.
        user: u16,
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
        /// User number.
        user: u16,
        /// The card's UID, 4, 7 or 10 bytes in hex (e.g. 04a1b2c3).
        uid: Option<String>,
    },
    /// Take a card from a user.
    Remove {
        /// User number.
        user: u16,
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
        /// User number.
        user: u16,
    },
    /// Remove an enrolled finger.
    Remove {
        /// User number.
        user: u16,
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
        /// User number.
        user: u16,
        /// Ed25519 public key, 64 hex digits.
        public_key: String,
    },
    /// Take a phone key from a user.
    Remove {
        /// User number.
        user: u16,
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
        /// User number.
        user: u16,
        /// e.g. `mon-fri 08:00-18:00`; repeat for up to 4.
        #[arg(long, required = true, value_name = "DAYS HH:MM-HH:MM")]
        window: Vec<String>,
    },
    /// Remove a user's weekly windows.
    Clear {
        /// User number.
        user: u16,
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

/// A user type as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindName {
    /// owner
    Owner,
    /// scheduled
    Scheduled,
    /// guest
    Guest,
    /// one-time
    OneTime,
    /// expiring
    Expiring,
    /// duress
    Duress,
    /// non-access
    NonAccess,
}

fn parse_kind_name(text: &str) -> Result<KindName, String> {
    Ok(match text.to_ascii_lowercase().replace('_', "-").as_str() {
        "owner" | "unrestricted" => KindName::Owner,
        "scheduled" => KindName::Scheduled,
        "guest" => KindName::Guest,
        "one-time" | "onetime" => KindName::OneTime,
        "expiring" => KindName::Expiring,
        "duress" => KindName::Duress,
        "non-access" | "nonaccess" => KindName::NonAccess,
        _ => {
            return Err(
                "use owner, scheduled, guest, one-time, expiring, duress or non-access".into()
            );
        }
    })
}

// ---- parsing what a person types ----------------------------------------------------------

pub(super) const WHEN_HINT: &str = "use 2026-12-01 or 2026-12-01T14:00 (the lock's local time), \
                         2026-12-01T14:00:00Z or 2026-12-01T14:00:00+01:00, now, or +2h / +3d";

/// The lock's rule if a date or time needs it, else UTC (which nothing then reads).
fn zone_for(dates: &Dates, c: &mut Connection) -> Result<TimeZoneRule, CliError> {
    if dates.is_local() { lock_zone(c) } else { Ok(TimeZoneRule::utc()) }
}

/// The lock's time zone rule: its users' dates are in its local time.
fn lock_zone(c: &mut Connection) -> Result<TimeZoneRule, CliError> {
    Ok(c.client.settings().map_err(|e| c.explain(e))?.time_zone)
}

/// Applies the flags of `rules` to `spec`; `from` and `until` are its dates, placed already.
fn apply_rules(
    spec: &mut UserSpec,
    rules: &UserRules,
    (from, until): (Option<u64>, Option<u64>),
) -> Result<(), CliError> {
    if let Some(kind) = rules.kind {
        let kind = match kind {
            KindName::Owner => UserKind::Owner,
            KindName::Scheduled => UserKind::Scheduled,
            KindName::Guest => UserKind::Guest,
            KindName::OneTime => UserKind::OneTime,
            KindName::Expiring => UserKind::Expiring {
                minutes: rules.minutes.ok_or(input::InputError::ExpiringWithoutMinutes)?,
            },
            KindName::Duress => UserKind::Duress,
            KindName::NonAccess => UserKind::NonAccess,
        };
        ops::set_kind(spec, kind);
    }
    if from.is_some() {
        spec.valid_from = from;
    }
    if until.is_some() {
        spec.valid_until = until;
    }
    if let Some(uses) = rules.uses {
        spec.use_limit = Some(uses);
    }
    if !rules.window.is_empty() {
        spec.weekly = input::windows(&rules.window)?;
    }
    Ok(())
}

// ---- output -------------------------------------------------------------------------------

fn kind_name(kind: &UserKind) -> &'static str {
    match kind {
        UserKind::Owner => "owner",
        UserKind::Scheduled => "scheduled",
        UserKind::Guest => "guest",
        UserKind::OneTime => "one-time",
        UserKind::Expiring { .. } => "expiring",
        UserKind::Duress => "duress",
        UserKind::NonAccess => "non-access",
    }
}

fn credential_json(c: &Credential) -> Value {
    match c {
        Credential::Pin => json!({ "type": "pin" }),
        Credential::Card { uid } => json!({ "type": "card", "uid": hex(uid) }),
        Credential::Fingerprint { slot } => json!({ "type": "fingerprint", "slot": slot }),
        Credential::Phone { public_key } => {
            json!({ "type": "phone", "public_key": hex(public_key) })
        }
    }
}

fn credential_text(c: &Credential) -> String {
    match c {
        Credential::Pin => "PIN (set)".into(),
        Credential::Card { uid } => format!("card {}", hex(uid)),
        Credential::Fingerprint { slot } => format!("fingerprint, slot {slot}"),
        Credential::Phone { public_key } => format!("phone {}…", &hex(public_key)[..16]),
    }
}

/// A user as JSON: the shape `user show --json` prints and `checksum --verify` reads.
pub fn user_json(user: &User) -> Value {
    let s = &user.spec;
    json!({
        "user": user.id,
        "name": s.name.as_str(),
        "kind": kind_name(&s.kind),
        "expire_minutes": match s.kind { UserKind::Expiring { minutes } => Some(minutes), _ => None },
        "enabled": s.enabled,
        "valid_from": s.valid_from.map(format_unix),
        "valid_until": s.valid_until.map(format_unix),
        "use_limit": s.use_limit,
        "uses_left": user.uses_left,
        "first_used": user.first_used.map(format_unix),
        "windows": s.weekly.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "credentials": user.credentials.iter().map(credential_json).collect::<Vec<_>>(),
    })
}

/// A user for a person; dates in the lock's local time by `zone`.
fn print_user(user: &User, zone: &TimeZoneRule) {
    let s = &user.spec;
    let local = |t: u64| describe_local_date_time(t, zone);
    say!("user {}  {}", user.id, s.name);
    let kind = match s.kind {
        UserKind::Expiring { minutes } => format!("expiring, {minutes} min after first use"),
        other => kind_name(&other).to_string(),
    };
    say!("  type      {kind}{}", if s.enabled { "" } else { " (DISABLED)" });
    if s.valid_from.is_some() || s.valid_until.is_some() {
        say!(
            "  valid     {} to {}",
            s.valid_from.map(local).unwrap_or_else(|| "any time".into()),
            s.valid_until.map(local).unwrap_or_else(|| "no end".into())
        );
    }
    for w in &s.weekly {
        say!("  window    {w} (lock local time)");
    }
    if let Some(limit) = s.use_limit {
        say!("  uses      {} of {limit} left", user.uses_left.unwrap_or(limit));
    }
    if let Some(first) = user.first_used {
        say!("  first use {}", local(first));
    }
    if user.credentials.is_empty() {
        say!(
            "  no credentials yet: `latchkey pin set {}`, `card add`, `finger enroll`, `phone add`",
            user.id
        );
    }
    for c in &user.credentials {
        say!("  {}", credential_text(c));
    }
}

fn session(context: &Context, access: Access) -> Result<Connection, CliError> {
    open(context, access)
}

// ---- commands -----------------------------------------------------------------------------

pub(super) fn user(context: &Context, command: UserCommand) -> Result<(), CliError> {
    // Dates are checked before connecting; local ones are placed by the lock's rule after.
    let dates = match &command {
        UserCommand::Add { rules, .. } | UserCommand::Edit { rules, .. } => {
            Dates::parse(rules.from.as_deref(), rules.until.as_deref())?
        }
        _ => Dates::default(),
    };
    let access = match command {
        UserCommand::List | UserCommand::Show { .. } => Access::Read,
        _ => Access::Change,
    };
    let mut c = session(context, access)?;
    match command {
        UserCommand::Add { name, id, rules, disabled } => {
            let mut spec = UserSpec {
                name: user_name(&name)?,
                kind: UserKind::Owner,
                enabled: !disabled,
                valid_from: None,
                valid_until: None,
                use_limit: None,
                weekly: heapless::Vec::new(),
            };
            let zone = zone_for(&dates, &mut c)?;
            apply_rules(&mut spec, &rules, dates.resolve(&zone))?;
            let id = match id {
                Some(id) => id,
                None => free_user_id(&mut c)?,
            };
            let user = c.client.put_user(id, UserWrite::Add, spec).map_err(|e| c.explain(e))?;
            if context.json {
                say!("{}", user_json(&user));
            } else {
                say!("added user {} ({})", user.id, user.spec.name);
            }
        }
        UserCommand::List => {
            let users = c.client.users().map_err(|e| c.explain(e))?;
            if context.json {
                let docs: Vec<Value> = users
                    .iter()
                    .map(|u| json!({ "user": u.id, "name": u.name.as_str(), "kind": kind_name(&u.kind), "enabled": u.enabled, "credentials": u.credentials }))
                    .collect();
                say!("{}", json!(docs));
            } else if users.is_empty() {
                say!("no users yet: `latchkey user add NAME`");
            } else {
                say!("{:>4}  {:<24} {:<11} {:<8} credentials", "user", "name", "type", "enabled");
                for u in &users {
                    say!(
                        "{:>4}  {:<24} {:<11} {:<8} {}",
                        u.id,
                        u.name,
                        kind_name(&u.kind),
                        if u.enabled { "yes" } else { "NO" },
                        u.credentials
                    );
                }
            }
        }
        UserCommand::Show { user } => {
            let user = c.client.user(user).map_err(|e| c.explain(e))?;
            if context.json {
                say!("{}", user_json(&user));
            } else {
                let zone = lock_zone(&mut c)?;
                print_user(&user, &zone);
            }
        }
        UserCommand::Edit { user, name, rules, no_dates, no_limit, no_windows } => {
            let mut spec = c.client.user(user).map_err(|e| c.explain(e))?.spec;
            if let Some(name) = name {
                spec.name = user_name(&name)?;
            }
            if no_dates {
                spec.valid_from = None;
                spec.valid_until = None;
            }
            if no_limit {
                spec.use_limit = None;
            }
            if no_windows {
                spec.weekly.clear();
            }
            let zone = zone_for(&dates, &mut c)?;
            apply_rules(&mut spec, &rules, dates.resolve(&zone))?;
            let updated =
                c.client.put_user(user, UserWrite::Modify, spec).map_err(|e| c.explain(e))?;
            report_user(context, &updated, "updated");
        }
        UserCommand::Enable { user } => set_enabled(context, &mut c, user, true)?,
        UserCommand::Disable { user } => set_enabled(context, &mut c, user, false)?,
        UserCommand::Remove { user, yes } => {
            let name = c.client.user(user).map_err(|e| c.explain(e))?.spec.name;
            confirm(
                context,
                yes,
                &format!("Delete user {user} ({name}) and all their credentials?"),
            )?;
            c.client.remove_user(user).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "removed": true }),
                &format!("removed user {user} ({name})"),
            );
        }
    }
    Ok(())
}

fn report_user(context: &Context, user: &User, verb: &str) {
    if context.json {
        say!("{}", user_json(user));
    } else {
        say!("{verb} user {} ({})", user.id, user.spec.name);
    }
}

fn done(context: &Context, doc: Value, text: &str) {
    if context.json {
        say!("{doc}");
    } else {
        say!("{text}");
    }
}

fn set_enabled(
    context: &Context,
    c: &mut Connection,
    id: u16,
    enabled: bool,
) -> Result<(), CliError> {
    let mut spec = c.client.user(id).map_err(|e| c.explain(e))?.spec;
    spec.enabled = enabled;
    let user = c.client.put_user(id, UserWrite::Modify, spec).map_err(|e| c.explain(e))?;
    report_user(context, &user, if enabled { "enabled" } else { "disabled" });
    Ok(())
}

/// The lowest user number not in use.
fn free_user_id(c: &mut Connection) -> Result<u16, CliError> {
    let max = c.info()?.capabilities.max_users;
    ops::free_user_id(&mut c.client, max).map_err(|e| c.explain(e))?.ok_or_else(|| full(max))
}

fn full(max: u16) -> CliError {
    CliError::refused(
        "full",
        format!("the lock holds its maximum of {max} users"),
        Some(Status::ResourceExhausted),
    )
    .with_hint("remove a user first")
}

/// Where the PIN comes from: generated, or read from where `source` says, or typed (hidden,
/// twice) at a terminal. Asked before connecting, so no session waits on a person.
fn pin_choice(context: &Context, source: &PinSource) -> Result<PinChoice, CliError> {
    if source.generate {
        return Ok(PinChoice::Generate { length: source.length });
    }
    if source.stdin || (!context.interactive && !std::io::stdin().is_terminal()) {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::host(format!("cannot read the PIN from standard input: {e}")))?;
        return Ok(PinChoice::Given(input::pin(&line)?));
    }
    if !context.interactive {
        return Err(
            CliError::usage("no PIN given").with_hint("use --stdin (one line) or --generate")
        );
    }
    let text = dialoguer::Password::new()
        .with_prompt("PIN")
        .with_confirmation("Again", "the two entries differ")
        .interact()
        .map_err(prompt_failed)?;
    Ok(PinChoice::Given(input::pin(&text)?))
}

/// Sets `user`'s PIN as `choice` says; returns the PIN when latchkey generated it.
fn set_pin(c: &mut Connection, user: u16, choice: &PinChoice) -> Result<Option<Pin>, CliError> {
    let capabilities = c.info()?.capabilities;
    ops::set_pin(&mut c.client, user, choice, &capabilities).map_err(|e| pin_error(c, e))
}

/// A PIN that could not be set, with the hint that fits.
fn pin_error(c: &Connection, error: PinError) -> CliError {
    match error {
        PinError::Client(e) => c.explain(e),
        PinError::Random(e) => e.into(),
        e @ PinError::Length { .. } => {
            CliError::usage(e.to_string()).with_hint("give --length within that range")
        }
        e @ PinError::Exhausted => {
            CliError::refused("generate", e.to_string(), None).with_hint("try a longer --length")
        }
    }
}

pub(super) fn pin(context: &Context, command: PinCommand) -> Result<(), CliError> {
    let choice = match &command {
        PinCommand::Set { source, .. } => Some(pin_choice(context, source)?),
        PinCommand::Remove { .. } => None,
    };
    let mut c = session(context, Access::Change)?;
    match command {
        PinCommand::Set { user, .. } => {
            let Some(choice) = choice else { return Ok(()) };
            let generated = set_pin(&mut c, user, &choice)?;
            match (&generated, context.json) {
                (Some(pin), true) => say!("{}", json!({ "user": user, "pin": pin.as_str() })),
                (Some(pin), false) => {
                    say!("PIN of user {user} set to {pin} (shown once: note it now)")
                }
                (None, true) => say!("{}", json!({ "user": user, "pin_set": true })),
                (None, false) => say!("PIN of user {user} set"),
            }
        }
        PinCommand::Remove { user, yes } => {
            confirm(context, yes, &format!("Remove the PIN of user {user}?"))?;
            c.client.remove_pin(user).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "pin_removed": true }),
                &format!("removed the PIN of user {user}"),
            );
        }
    }
    Ok(())
}

pub(super) fn card(context: &Context, command: CardCommand) -> Result<(), CliError> {
    let mut c = session(context, Access::Change)?;
    match command {
        CardCommand::Add { user, uid: Some(uid) } => {
            let uid = card_uid(&uid)?;
            c.client.add_card(user, uid.clone()).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "card": hex(&uid) }),
                &format!("card {} added to user {user}", hex(&uid)),
            );
        }
        CardCommand::Add { user, uid: None } => {
            c.client.learn_card(user).map_err(|e| c.explain(e))?;
            let credential = follow_enrollment(context, &mut c, EnrollKind::Card)?;
            if let Credential::Card { uid } = credential {
                done(
                    context,
                    json!({ "user": user, "card": hex(&uid) }),
                    &format!("card {} added to user {user}", hex(&uid)),
                );
            }
        }
        CardCommand::Remove { user, uid, yes } => {
            let uid = card_uid(&uid)?;
            confirm(context, yes, &format!("Take card {} from user {user}?", hex(&uid)))?;
            c.client.remove_card(user, uid.clone()).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "card_removed": hex(&uid) }),
                &format!("card {} removed from user {user}", hex(&uid)),
            );
        }
    }
    Ok(())
}

pub(super) fn finger(context: &Context, command: FingerCommand) -> Result<(), CliError> {
    let mut c = session(context, Access::Change)?;
    match command {
        FingerCommand::Enroll { user } => {
            c.client.enroll_finger(user).map_err(|e| c.explain(e))?;
            let credential = follow_enrollment(context, &mut c, EnrollKind::Fingerprint)?;
            if let Credential::Fingerprint { slot } = credential {
                done(
                    context,
                    json!({ "user": user, "fingerprint_slot": slot, "done": true }),
                    &format!("finger enrolled for user {user} (slot {slot})"),
                );
            }
        }
        FingerCommand::Remove { user, slot, yes } => {
            confirm(context, yes, &format!("Remove fingerprint slot {slot} of user {user}?"))?;
            c.client.remove_finger(user, slot).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "fingerprint_removed": slot }),
                &format!("removed fingerprint slot {slot} of user {user}"),
            );
        }
    }
    Ok(())
}

/// Follows a card learning or finger enrollment to its end: a progress bar at a terminal,
/// JSON Lines under `--json`, plain lines otherwise. Ctrl-C cancels it on the lock.
fn follow_enrollment(
    context: &Context,
    c: &mut Connection,
    kind: EnrollKind,
) -> Result<Credential, CliError> {
    // Ctrl-C cancels the enrollment on the lock rather than leaving it armed.
    interrupted();
    let bar = if !context.json && std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(1);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:20}] {pos}/{len}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(bar)
    } else {
        None
    };
    let mut last: Option<Enrollment> = None;
    loop {
        if interrupted() {
            let _ = c.client.cancel_enrollment();
            if let Some(bar) = &bar {
                bar.abandon_with_message("cancelled");
            }
            return Err(CliError::cancelled("enrollment cancelled; nothing was added"));
        }
        let state = c.client.enrollment().map_err(|e| c.explain(e))?;
        if last.as_ref() != Some(&state) {
            report_progress(context, bar.as_ref(), &state, kind);
            last = Some(state.clone());
        }
        match state {
            Enrollment::Done { credential, .. } => {
                if let Some(bar) = &bar {
                    bar.finish_and_clear();
                }
                return Ok(credential);
            }
            Enrollment::Failed { reason, .. } => {
                if let Some(bar) = &bar {
                    bar.abandon();
                }
                return Err(enroll_error(reason));
            }
            Enrollment::Idle => {
                return Err(CliError::refused(
                    "enrollment",
                    "the lock is not enrolling anything (restarted?)",
                    None,
                )
                .with_hint("run the command again"));
            }
            Enrollment::InProgress { .. } => std::thread::sleep(Duration::from_millis(150)),
        }
    }
}

fn report_progress(
    context: &Context,
    bar: Option<&indicatif::ProgressBar>,
    state: &Enrollment,
    kind: EnrollKind,
) {
    if context.json {
        let doc = match state {
            Enrollment::InProgress { captures, needed, last_quality, seconds_left, .. } => {
                json!({ "progress": { "captures": captures, "needed": needed, "last_quality": last_quality, "seconds_left": seconds_left } })
            }
            _ => return,
        };
        say!("{doc}");
        return;
    }
    let Enrollment::InProgress { captures, needed, last_quality, seconds_left, .. } = state else {
        return;
    };
    let message = match (kind, last_quality) {
        (EnrollKind::Card, _) => format!("tap the card on the lock's reader ({seconds_left} s)"),
        (EnrollKind::Fingerprint, Some(q)) if *q < 40 => {
            format!("poor capture (quality {q}): lift and place again ({captures} of {needed})")
        }
        (EnrollKind::Fingerprint, Some(q)) => {
            format!("good (quality {q}): lift and place again ({captures} of {needed})")
        }
        (EnrollKind::Fingerprint, None) => {
            format!("place the finger on the sensor (0 of {needed})")
        }
    };
    match bar {
        Some(bar) => {
            bar.set_length(u64::from(*needed));
            bar.set_position(u64::from(*captures));
            bar.set_message(message);
        }
        None => eprintln!("{message}"),
    }
}

fn enroll_error(reason: EnrollFailure) -> CliError {
    let (message, hint) = match reason {
        EnrollFailure::PoorQuality => (
            "the captures were too poor to match reliably",
            "clean the sensor and the finger, press flat, and enroll again",
        ),
        EnrollFailure::TimedOut => (
            "nobody presented a card or finger in time",
            "run the command again and present it within 30 s",
        ),
        EnrollFailure::Cancelled => ("cancelled", "nothing was added"),
        EnrollFailure::Duplicate => (
            "that card or finger already belongs to another user",
            "remove it from that user first",
        ),
        EnrollFailure::Full => {
            ("no room: the user's credentials or the sensor are full", "remove a credential first")
        }
    };
    let kind = match reason {
        EnrollFailure::Duplicate => Some(Status::Duplicate),
        EnrollFailure::Full => Some(Status::ResourceExhausted),
        _ => None,
    };
    CliError::refused("enrollment_failed", format!("enrollment failed: {message}"), kind)
        .with_hint(hint)
}

pub(super) fn phone(context: &Context, command: PhoneCommand) -> Result<(), CliError> {
    let mut c = session(context, Access::Change)?;
    match command {
        PhoneCommand::Add { user, public_key } => {
            let key = phone_key(&public_key)?;
            c.client.add_phone(user, key).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "phone": hex(&key) }),
                &format!("phone key added to user {user}"),
            );
        }
        PhoneCommand::Remove { user, public_key, yes } => {
            let key = phone_key(&public_key)?;
            confirm(context, yes, &format!("Take this phone key from user {user}?"))?;
            c.client.remove_phone(user, key).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "phone_removed": hex(&key) }),
                &format!("phone key removed from user {user}"),
            );
        }
    }
    Ok(())
}

pub(super) fn schedule(context: &Context, command: ScheduleCommand) -> Result<(), CliError> {
    let mut c = session(context, Access::Change)?;
    let (id, weekly) = match command {
        ScheduleCommand::Set { user, window } => (user, input::windows(&window)?),
        ScheduleCommand::Clear { user } => (user, heapless::Vec::new()),
    };
    let mut spec = c.client.user(id).map_err(|e| c.explain(e))?.spec;
    spec.weekly = weekly;
    let user = c.client.put_user(id, UserWrite::Modify, spec).map_err(|e| c.explain(e))?;
    report_user(context, &user, "schedule of");
    Ok(())
}

pub(super) fn guest(context: &Context, command: GuestCommand) -> Result<(), CliError> {
    let GuestCommand::Add { name, from, until, uses, source } = command;
    let dates = Dates::parse(Some(from.as_deref().unwrap_or("now")), Some(&until))?;
    let name = user_name(&name)?;
    let source = if !source.stdin && !source.generate && !context.interactive {
        PinSource { generate: true, ..source }
    } else {
        source
    };
    let choice = pin_choice(context, &source)?;
    let mut c = session(context, Access::Change)?;
    // The lock's rule places local dates, and shows the result in its local time.
    let zone = if context.json { zone_for(&dates, &mut c)? } else { lock_zone(&mut c)? };
    let (valid_from, valid_until) = dates.resolve(&zone);
    let spec = UserSpec {
        name,
        kind: UserKind::Guest,
        enabled: true,
        valid_from,
        valid_until,
        use_limit: uses,
        weekly: heapless::Vec::new(),
    };
    let capabilities = c.info()?.capabilities;
    let (user, generated) = match ops::add_guest(&mut c.client, spec, &choice, &capabilities) {
        Ok(added) => added,
        Err(GuestError::Full { max }) => return Err(full(max)),
        Err(GuestError::Client(e)) => return Err(c.explain(e)),
        Err(GuestError::Pin { source, .. }) => return Err(pin_error(&c, source)),
    };
    let s = &user.spec;
    if context.json {
        let mut doc = user_json(&user);
        doc["pin"] = json!(generated.as_ref().map(|p| p.as_str()));
        say!("{doc}");
    } else {
        say!(
            "guest {} ({}) may enter from {} until {}",
            user.id,
            s.name,
            s.valid_from.map(|t| describe_local_date_time(t, &zone)).unwrap_or_default(),
            s.valid_until.map(|t| describe_local_date_time(t, &zone)).unwrap_or_default()
        );
        if let Some(pin) = generated {
            say!("PIN {pin} (shown once: note it now)");
        }
    }
    Ok(())
}

pub(super) fn checksum(context: &Context, verify: Option<&Path>) -> Result<(), CliError> {
    let mut c = session(context, Access::Read)?;
    let (users, credentials, digest) = c.client.checksum().map_err(|e| c.explain(e))?;
    let Some(file) = verify else {
        if context.json {
            say!(
                "{}",
                json!({ "users": users, "credentials": credentials, "checksum": hex(&digest) })
            );
        } else {
            say!("{} ({users} users, {credentials} credentials)", hex(&digest));
        }
        return Ok(());
    };
    // PINs enter the checksum keyed by the PIN key, which comes from the installer key the lock
    // was claimed with: try the site key and its predecessors.
    let key = keys::resolve(context.connect.key.as_deref())?;
    let serial = c.info()?.serial.to_string();
    if key.role() != Role::Installer {
        return Err(CliError::usage("verifying PINs needs the site key, not a technician key"));
    }
    let pin_keys: Vec<_> = std::iter::once(&key.key)
        .chain(&key.previous)
        .map(|k| pin_key(&lock_key(Role::Installer, k, &serial)))
        .collect();
    let zone = lock_zone(&mut c)?;
    let wanted = provision::load(file)?;
    let matches = provision::expected_checksums(&wanted, &pin_keys, &zone)?.contains(&digest);
    if context.json {
        say!(
            "{}",
            json!({ "users": users, "credentials": credentials, "checksum": hex(&digest), "matches": matches })
        );
    } else if matches {
        say!(
            "the lock holds exactly what {} describes ({users} users, {credentials} credentials)",
            file.display()
        );
    }
    if matches {
        Ok(())
    } else {
        Err(CliError::refused("checksum_mismatch", format!("the lock does not hold what {} describes", file.display()), None)
            .with_hint("compare `latchkey user list` with the file; write the missing users and credentials again"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistyped_time_is_a_usage_error_that_shows_the_forms() {
        for bad in ["tomorrow", "2026-13-01", "+soon"] {
            let e = CliError::from(crate::time::parse_when(bad).unwrap_err());
            assert_eq!(e.code, super::super::exit::USAGE, "{bad}");
            assert!(e.message.contains(bad), "{bad}");
            assert!(e.hint.as_deref().unwrap_or("").contains("local time"), "{bad}");
        }
    }
}
