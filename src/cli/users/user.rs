//! `user` and `schedule`: a user's name, type, dates, use limit and weekly windows.

use latchkey_protocol::{Field, Status, User, UserKind, UserSpec, UserWrite};
use serde_json::{Value, json};

use super::args::{ScheduleCommand, UserCommand};
use super::common::{apply_rules, done, lock_zone, number, report_user, session, zone_for};
use super::output::{print_user, user_json};
use crate::cli::connect::{Access, Explain};
use crate::cli::prompt::confirm;
use crate::cli::{CliError, Context};
use crate::display::user_kind_words;
use crate::input::{self, UserRef, user_name};
use crate::link::ClientError;
use crate::session::Connection;
use crate::time::Dates;

/// The user a refused `user add` meant, when the lock refused it because she is there
/// already: same name, same rules (and the same number, if one was given).
fn already_there(
    c: &mut Connection,
    error: &ClientError,
    spec: &UserSpec,
    id: Option<u16>,
) -> Option<User> {
    let ClientError::Refused(refusal) = error else { return None };
    if refusal.status != Status::Duplicate || refusal.field != Some(Field::UserName) {
        return None;
    }
    let existing = refusal.existing?;
    let user = c.client.user(existing).ok()?;
    (&user.spec == spec && id.is_none_or(|id| id == existing)).then_some(user)
}

pub(in crate::cli) fn user(context: &Context, command: UserCommand) -> Result<(), CliError> {
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
            // Without --id the lock takes its lowest free number in the same request.
            let user = match c.client.put_user(id.unwrap_or(0), UserWrite::Add, spec.clone()) {
                Ok(user) => user,
                Err(e) => match already_there(&mut c, &e, &spec, id) {
                    Some(user) => {
                        // A rerun after a lost answer (a pulled cable): she is there already.
                        if context.json {
                            say!("{}", user_json(&user));
                        } else {
                            say!(
                                "{} is already user {} with these rules; nothing changed",
                                user.spec.name,
                                user.id
                            );
                        }
                        return Ok(());
                    }
                    None => return Err(c.explain(e)),
                },
            };
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
                    .map(|u| json!({ "user": u.id, "name": u.name.as_str(), "kind": u.kind.as_str(), "enabled": u.enabled, "credentials": u.credentials }))
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
                        user_kind_words(u.kind),
                        if u.enabled { "yes" } else { "NO" },
                        u.credentials
                    );
                }
            }
        }
        UserCommand::Show { user } => {
            let user = number(&mut c, &user)?;
            let user = c.client.user(user).map_err(|e| c.explain(e))?;
            if context.json {
                say!("{}", user_json(&user));
            } else {
                let zone = lock_zone(&mut c)?;
                print_user(&user, &zone);
            }
        }
        UserCommand::Edit { user, name, rules, no_dates, no_limit, no_windows } => {
            let user = number(&mut c, &user)?;
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
        UserCommand::Enable { user } => set_enabled(context, &mut c, &user, true)?,
        UserCommand::Disable { user } => set_enabled(context, &mut c, &user, false)?,
        UserCommand::Remove { user, yes } => {
            let user = number(&mut c, &user)?;
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

fn set_enabled(
    context: &Context,
    c: &mut Connection,
    who: &UserRef,
    enabled: bool,
) -> Result<(), CliError> {
    let id = number(c, who)?;
    let mut spec = c.client.user(id).map_err(|e| c.explain(e))?.spec;
    spec.enabled = enabled;
    let user = c.client.put_user(id, UserWrite::Modify, spec).map_err(|e| c.explain(e))?;
    report_user(context, &user, if enabled { "enabled" } else { "disabled" });
    Ok(())
}

pub(in crate::cli) fn schedule(
    context: &Context,
    command: ScheduleCommand,
) -> Result<(), CliError> {
    let mut c = session(context, Access::Change)?;
    let (id, weekly) = match command {
        ScheduleCommand::Set { user, window } => (user, input::windows(&window)?),
        ScheduleCommand::Clear { user } => (user, heapless::Vec::new()),
    };
    let id = number(&mut c, &id)?;
    let mut spec = c.client.user(id).map_err(|e| c.explain(e))?.spec;
    spec.weekly = weekly;
    let user = c.client.put_user(id, UserWrite::Modify, spec).map_err(|e| c.explain(e))?;
    report_user(context, &user, "schedule of");
    Ok(())
}

/// `clear WHAT`: every credential of one kind, or every user, after a confirmation.
pub(in crate::cli) fn clear(
    context: &Context,
    what: latchkey_protocol::ClearTarget,
    yes: bool,
) -> Result<(), CliError> {
    use latchkey_protocol::ClearTarget;
    let question = match what {
        ClearTarget::Pins => "Remove every user's PIN? (cards, fingers and phones keep working)",
        ClearTarget::Cards => "Remove every user's cards?",
        ClearTarget::Fingerprints => "Remove every user's fingerprints?",
        ClearTarget::Phones => "Remove every user's phone keys?",
        ClearTarget::Users => "Remove every user and all their credentials?",
    };
    confirm(context, yes, question)?;
    let mut c = session(context, Access::Change)?;
    let removed = c.client.clear(what).map_err(|e| c.explain(e))?;
    if context.json {
        say!("{}", json!({ "cleared": what.as_str(), "removed": removed }));
    } else {
        say!("{} cleared: {removed} removed", what.as_str());
    }
    Ok(())
}
