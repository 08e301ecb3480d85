//! `guest add`: a guest and their code in one step.

use latchkey_protocol::{UserKind, UserSpec};
use serde_json::json;

use super::args::{GuestCommand, PinSource};
use super::common::{full, lock_zone, session, zone_for};
use super::credentials::{pin_choice, pin_error};
use super::output::user_json;
use crate::cli::connect::{Access, Explain};
use crate::cli::{CliError, Context};
use crate::display::describe_local_date_time;
use crate::input::user_name;
use crate::ops::users::{self as ops, GuestError};
use crate::time::Dates;

pub(in crate::cli) fn guest(context: &Context, command: GuestCommand) -> Result<(), CliError> {
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
