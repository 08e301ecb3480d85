//! What the user commands share: opening a session, the lock's time zone, applying typed
//! rules to a user, and reporting a change.

use latchkey_protocol::{Status, TimeZoneRule, User, UserSpec};
use serde_json::Value;

use super::args::UserRules;
use super::output::user_json;
use crate::cli::connect::{Access, Explain, open};
use crate::cli::{CliError, Context, ErrorKind};
use crate::input::{self, UserRef};
use crate::ops::users::{set_kind, user_number};
use crate::session::Connection;
use crate::time::Dates;

/// The lock's rule if a date or time needs it, else UTC (which nothing then reads).
pub(super) fn zone_for(dates: &Dates, c: &mut Connection) -> Result<TimeZoneRule, CliError> {
    if dates.is_local() { lock_zone(c) } else { Ok(TimeZoneRule::utc()) }
}

/// The lock's time zone rule: its users' dates are in its local time.
pub(super) fn lock_zone(c: &mut Connection) -> Result<TimeZoneRule, CliError> {
    Ok(c.client.settings().map_err(|e| c.explain(e))?.time_zone)
}

/// Applies the flags of `rules` to `spec`; `from` and `until` are its dates, placed already.
pub(super) fn apply_rules(
    spec: &mut UserSpec,
    rules: &UserRules,
    (from, until): (Option<u64>, Option<u64>),
) -> Result<(), CliError> {
    if let Some(kind) = rules.kind {
        set_kind(spec, kind.kind(rules.minutes)?);
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

/// Opens the port and a session for a command that does `access`.
pub(super) fn session(context: &Context, access: Access) -> Result<Connection, CliError> {
    open(context, access)
}

/// The number of the user `who` names on this lock.
pub(in crate::cli) fn number(c: &mut Connection, who: &UserRef) -> Result<u16, CliError> {
    match user_number(&mut c.client, who).map_err(|e| c.explain(e))? {
        Some(n) => Ok(n),
        None => Err(CliError::refused(
            ErrorKind::Refused,
            format!("no user named {who} on this lock"),
            Some(Status::NotFound),
        )
        .with_hint("`latchkey user list` shows who is there")),
    }
}

/// A user written: JSON, or `verb user N (name)`.
pub(super) fn report_user(context: &Context, user: &User, verb: &str) {
    if context.json {
        say!("{}", user_json(user));
    } else {
        say!("{verb} user {} ({})", user.id, user.spec.name);
    }
}

/// A change done: `doc` under `--json`, else `text`.
pub(super) fn done(context: &Context, doc: Value, text: &str) {
    if context.json {
        say!("{doc}");
    } else {
        say!("{text}");
    }
}

/// No user number free.
pub(super) fn full(max: u16) -> CliError {
    CliError::refused(
        ErrorKind::Full,
        format!("the lock holds its maximum of {max} users"),
        Some(Status::ResourceExhausted),
    )
    .with_hint("remove a user first")
}
