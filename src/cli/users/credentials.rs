//! A user's credentials: `pin`, `card`, `finger` and `phone`.

use std::io::{BufRead, IsTerminal};
use std::time::Duration;

use latchkey_protocol::{
    Credential, EnrollFailure, EnrollKind, Enrollment, LEARN_SECONDS, Pin, Status,
};
use serde_json::json;

use super::args::{CardCommand, FingerCommand, PhoneCommand, PinCommand, PinSource};
use super::common::{done, number, session};
use crate::cli::connect::{Access, Explain};
use crate::cli::prompt::{confirm, interrupted, secret};
use crate::cli::{CliError, Context, ErrorKind};
use crate::display::hex;
use crate::input::{self, card_uid, phone_key};
use crate::ops::users::{self as ops, PinChoice, PinError};
use crate::session::Connection;

/// Where the PIN comes from: generated, or read from where `source` says, or typed (hidden,
/// twice) at a terminal. Asked before connecting, so no session waits on a person.
pub(super) fn pin_choice(context: &Context, source: &PinSource) -> Result<PinChoice, CliError> {
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
    let text = secret("PIN", Some(("Again", "the two entries differ")))?;
    Ok(PinChoice::Given(input::pin(&text)?))
}

/// Sets `user`'s PIN as `choice` says; returns the PIN when latchkey generated it.
fn set_pin(c: &mut Connection, user: u16, choice: &PinChoice) -> Result<Option<Pin>, CliError> {
    let capabilities = c.info()?.capabilities;
    ops::set_pin(&mut c.client, user, choice, &capabilities).map_err(|e| pin_error(c, e))
}

/// A PIN that could not be set, with the hint that fits.
pub(super) fn pin_error(c: &Connection, error: PinError) -> CliError {
    match error {
        PinError::Client(e) => c.explain(e),
        PinError::Random(e) => e.into(),
        e @ PinError::Length { .. } => {
            CliError::usage(e.to_string()).with_hint("give --length within that range")
        }
        e @ PinError::Exhausted => CliError::refused(ErrorKind::Generate, e.to_string(), None)
            .with_hint("try a longer --length"),
    }
}

pub(in crate::cli) fn pin(context: &Context, command: PinCommand) -> Result<(), CliError> {
    let choice = match &command {
        PinCommand::Set { source, .. } => Some(pin_choice(context, source)?),
        PinCommand::Remove { .. } => None,
    };
    let mut c = session(context, Access::Change)?;
    match command {
        PinCommand::Set { user, .. } => {
            let Some(choice) = choice else { return Ok(()) };
            let user = number(&mut c, &user)?;
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
            let user = number(&mut c, &user)?;
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

pub(in crate::cli) fn card(context: &Context, command: CardCommand) -> Result<(), CliError> {
    let mut c = session(context, Access::Change)?;
    match command {
        CardCommand::Add { user, uid: Some(uid) } => {
            let uid = card_uid(&uid)?;
            let user = number(&mut c, &user)?;
            c.client.add_card(user, uid.clone()).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "card": hex(&uid) }),
                &format!("card {} added to user {user}", hex(&uid)),
            );
        }
        CardCommand::Add { user, uid: None } => {
            let user = number(&mut c, &user)?;
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
            let user = number(&mut c, &user)?;
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

pub(in crate::cli) fn finger(context: &Context, command: FingerCommand) -> Result<(), CliError> {
    let mut c = session(context, Access::Change)?;
    match command {
        FingerCommand::Enroll { user } => {
            let user = number(&mut c, &user)?;
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
            let user = number(&mut c, &user)?;
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
                    ErrorKind::Enrollment,
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
            Enrollment::InProgress {
                captures,
                needed,
                last_quality,
                last_good,
                seconds_left,
                ..
            } => {
                json!({ "progress": { "captures": captures, "needed": needed, "last_quality": last_quality, "last_good": last_good, "seconds_left": seconds_left } })
            }
            _ => return,
        };
        say!("{doc}");
        return;
    }
    let Enrollment::InProgress { captures, needed, last_quality, last_good, seconds_left, .. } =
        state
    else {
        return;
    };
    // Whether a capture counted is the lock's call (`last_good`), not a threshold here.
    let message = match (kind, last_quality) {
        (EnrollKind::Card, _) => format!("tap the card on the lock's reader ({seconds_left} s)"),
        (EnrollKind::Fingerprint, Some(q)) if !*last_good => {
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
    let timed_out = format!("run the command again and present it within {LEARN_SECONDS} s");
    let (message, hint) = match reason {
        EnrollFailure::PoorQuality => (
            "the captures were too poor to match reliably",
            "clean the sensor and the finger, press flat, and enroll again",
        ),
        EnrollFailure::TimedOut => {
            ("nobody presented a card or finger in time", timed_out.as_str())
        }
        EnrollFailure::Cancelled => ("cancelled", "nothing was added"),
        EnrollFailure::Duplicate => (
            "that card or finger already belongs to another user",
            "remove it from that user first",
        ),
        EnrollFailure::Full => {
            ("no room: the user's credentials or the sensor are full", "remove a credential first")
        }
        EnrollFailure::Storage => (
            "the lock could not store it (a flash fault)",
            "run `latchkey diag` for the lock's storage, then enroll again",
        ),
        EnrollFailure::Sensor => (
            "the fingerprint sensor failed to store the finger",
            "enroll again; if it fails again, the sensor needs service",
        ),
    };
    let kind = match reason {
        EnrollFailure::Duplicate => Some(Status::Duplicate),
        EnrollFailure::Full => Some(Status::ResourceExhausted),
        _ => None,
    };
    CliError::refused(ErrorKind::EnrollmentFailed, format!("enrollment failed: {message}"), kind)
        .with_hint(hint)
}

pub(in crate::cli) fn phone(context: &Context, command: PhoneCommand) -> Result<(), CliError> {
    let mut c = session(context, Access::Change)?;
    match command {
        PhoneCommand::Add { user, public_key } => {
            let key = phone_key(&public_key)?;
            let user = number(&mut c, &user)?;
            c.client.add_phone(user, key).map_err(|e| c.explain(e))?;
            done(
                context,
                json!({ "user": user, "phone": hex(&key) }),
                &format!("phone key added to user {user}"),
            );
        }
        PhoneCommand::Remove { user, public_key, yes } => {
            let key = phone_key(&public_key)?;
            let user = number(&mut c, &user)?;
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
