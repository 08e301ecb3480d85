//! `log`, `alarms` and `access`: what the lock witnessed, what it is alarmed about, and how
//! it decided the last attempt at the door — the technician's commands.

use std::io::IsTerminal;
use std::time::Duration;

use clap::Subcommand;
use latchkey_protocol::{AccessReason, AccessRecord, LogBreak};
use serde_json::{Value, json};

use super::connect::{Access, Explain, open};
use super::prompt::{confirm, interrupted};
use super::users::user_number;
use super::values::{LogKindArg, PathArg};
use super::{CliError, Context, ErrorKind, Outcome};
use crate::display::{
    alarm_words, describe_access_reason, format_unix, gap_note, gap_summary, grouped, path_words,
    record_text,
};
use crate::input::UserRef;
use crate::ops::log::{self as ops, Gap, GapCause, HeadCheck};
pub use crate::ops::records::record_json;
use crate::ops::records::{CSV_COLUMNS, Filter, record_csv};
use crate::session::Connection;
use crate::time::lock_time;

/// `latchkey log ...`
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Read the lock's event log (never erases it). `--json` prints JSON Lines, `--csv` a table.
    Read {
        /// Start at this sequence number (to resume an interrupted read: the last one + 1).
        #[arg(long, value_name = "SEQ", conflicts_with = "last")]
        since: Option<u32>,
        /// Only the newest N records (of those the other filters keep).
        #[arg(long, value_name = "N")]
        last: Option<u32>,
        /// Only records about this user (their number, or the name of a current user).
        #[arg(long)]
        user: Option<UserRef>,
        /// Only access attempts by this path.
        #[arg(long, value_enum)]
        path: Option<PathArg>,
        /// Only records of this kind.
        #[arg(long, value_enum)]
        kind: Option<LogKindArg>,
        /// Comma-separated values for a spreadsheet.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// Check the log's hash chain: exit 0 when intact, 1 naming where it breaks.
    Verify,
    /// Print new records as the lock writes them, until Ctrl-C.
    Follow,
    /// Erase the log (installer); the clearing itself stays recorded.
    Clear {
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `latchkey alarms ...`
#[derive(Debug, Subcommand)]
pub enum AlarmsCommand {
    /// The alarms now raised (the default).
    List,
    /// Clear them (installer); each clearing is logged.
    Clear {
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

pub(super) fn log(context: &Context, command: LogCommand) -> Result<(), CliError> {
    let access =
        if matches!(command, LogCommand::Clear { .. }) { Access::Change } else { Access::Read };
    let mut c = open(context, access)?;
    match command {
        LogCommand::Read { since, last, user, path, kind, csv } => {
            let user = match user {
                Some(who) => Some(user_number(&mut c, &who)?),
                None => None,
            };
            let filter = Filter { user, path: path.map(Into::into), kind: kind.map(Into::into) };
            read(context, &mut c, since, last, &filter, csv)
        }
        LogCommand::Verify => verify(context, &mut c),
        LogCommand::Follow => follow(context, &mut c),
        LogCommand::Clear { yes } => {
            confirm(
                context,
                yes,
                "Erase the lock's event log? (the clearing itself stays recorded)",
            )?;
            c.client.clear_log().map_err(|e| c.explain(e))?;
            if context.json {
                say!("{}", json!({ "cleared": true }));
            } else {
                say!("log cleared");
            }
            Ok(())
        }
    }
}

fn read(
    context: &Context,
    c: &mut Connection,
    since: Option<u32>,
    last: Option<u32>,
    filter: &Filter,
    csv: bool,
) -> Result<(), CliError> {
    let bounds = ops::bounds(&mut c.client).map_err(|e| c.explain(e))?;
    // `--last N` with a filter means the newest N records the filter keeps: which those are
    // is known only after reading the whole log, so read it all and keep a tail.
    let (tail_len, last) = match last {
        Some(n) if filter.is_active() => (Some(n as usize), None),
        other => (None, other),
    };
    let mut tail = std::collections::VecDeque::new();
    let start = match (since, last) {
        (Some(s), _) => s.max(1),
        (None, Some(n)) => bounds.next_seq.saturating_sub(n).max(bounds.first_seq).max(1),
        // From the very start: the lock puts the security records it kept from before its
        // oldest record first.
        (None, None) => 1,
    };
    // The gap: the lowest seq asked for, when the range asked reaches back to the oldest
    // record kept (no `--since`, `--since` below it, or `--last` reaching back to it).
    let asked_from = match (since, last) {
        (Some(s), _) => Some(s.max(1)),
        (None, Some(n)) => (bounds.next_seq.saturating_sub(n) <= bounds.first_seq).then_some(1),
        (None, None) => Some(1),
    };
    // The first page is read here when the note needs it (its oldest record says why older
    // ones are gone), so the note comes before the records.
    let mut first_page = None;
    if let Some(from) = asked_from
        && from < bounds.first_seq
    {
        let page = c.client.read_log(start).map_err(|e| c.explain(e))?;
        let capacity = c.info()?.capabilities.log_capacity;
        if let Some(note) = Gap::of_page(&page, capacity).and_then(|g| gap_note(&g, from)) {
            let kept = if page.records.first().is_some_and(|r| r.seq < page.first_seq) {
                "; the security records among them were kept, and come first"
            } else {
                ""
            };
            eprintln!("note: {note}{kept}");
        }
        first_page = Some(page);
    }
    let total = u64::from(bounds.next_seq.saturating_sub(start.max(bounds.first_seq)));
    let bar = (!context.json && !csv && std::io::stderr().is_terminal() && total > 50).then(|| {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "reading the log [{bar:30}] {pos}/{len} records ({eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut writer = csv.then(|| csv::Writer::from_writer(std::io::stdout()));
    if let Some(w) = writer.as_mut() {
        let _ = w.write_record(CSV_COLUMNS);
    }
    let mut last_read = None;
    let mut count = 0u32;
    let mut records = ops::records(&mut c.client, start).until(bounds.next_seq);
    if let Some(page) = first_page {
        records = records.starting_with(page);
    }
    let outcome = records.try_for_each(|r| {
        if interrupted() {
            return Err(None);
        }
        let r = r.map_err(Some)?;
        last_read = Some(r.seq);
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        if filter.keeps(&r) {
            count += 1;
            if let Some(n) = tail_len {
                tail.push_back(r);
                if tail.len() > n {
                    tail.pop_front();
                }
                return Ok(());
            }
            match writer.as_mut() {
                Some(w) => {
                    let _ = w.write_record(record_csv(&r));
                }
                None if context.json => say!("{}", record_json(&r)),
                None => say!("{}", record_text(&r)),
            }
        }
        Ok(())
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if tail_len.is_some() && outcome.is_ok() {
        count = u32::try_from(tail.len()).unwrap_or(u32::MAX);
        for r in &tail {
            match writer.as_mut() {
                Some(w) => {
                    let _ = w.write_record(record_csv(r));
                }
                None if context.json => say!("{}", record_json(r)),
                None => say!("{}", record_text(r)),
            }
        }
    }
    if let Some(mut w) = writer {
        let _ = w.flush();
    }
    match (outcome, last_read) {
        (Err(Some(e)), _) => Err(c.explain(e)),
        (Err(None), Some(seq)) => {
            eprintln!("interrupted after record {seq}; resume with --since {}", seq + 1);
            Err(CliError::interrupted("log read interrupted"))
        }
        (Err(None), None) => Err(CliError::interrupted("log read interrupted")),
        (Ok(()), Some(seq)) => {
            if !context.json && !csv {
                eprintln!("{count} records shown, up to {seq}; next time: --since {}", seq + 1);
            }
            Ok(())
        }
        (Ok(()), None) => {
            if !context.json && !csv {
                eprintln!("no records from {start} on");
            }
            Ok(())
        }
    }
}

/// One line on the log head's check, for a log found intact.
fn head_summary(head: &HeadCheck, signed: bool, pinned_now: bool) -> String {
    let vouched = match (signed, pinned_now) {
        (true, false) => "signed by the lock's pinned device key",
        (true, true) => "signed by the lock's device key, pinned now",
        (false, _) => "unsigned (this lock has no device key; its session vouches for it)",
    };
    let against = match head {
        HeadCheck::FirstSeen => "the first this host saw, remembered for next time",
        _ => "it goes on from the head this host saw before",
    };
    format!("log head {vouched}: {against}")
}

fn break_text(b: &LogBreak) -> String {
    match *b {
        LogBreak::Gap { after, next } => {
            format!("records are missing between {after} and {next} (erased or damaged)")
        }
        LogBreak::TagMismatch { seq } => format!("record {seq} was altered"),
        LogBreak::OutOfOrder { after, next } => {
            format!("record {next} is out of order after {after}")
        }
        LogBreak::Undecodable { after } => {
            format!("something that is not a record follows {after}")
        }
    }
}

fn verify(context: &Context, c: &mut Connection) -> Result<(), CliError> {
    let report = c.client.verify_log().map_err(|e| c.explain(e))?;
    // Why the records before the oldest one are gone: its own record says if it is a clearing.
    // Only a reading aid, so a failed read leaves the cause unknown rather than the command.
    let gap = if report.first_seq > 1 {
        let page = c.client.read_log(report.first_seq).ok();
        let capacity = c.info()?.capabilities.log_capacity;
        let (first, next) =
            page.as_ref().map_or((report.first_seq, report.last_seq.saturating_add(1)), |p| {
                (p.first_seq, p.next_seq)
            });
        let oldest = page.as_ref().and_then(|p| p.records.iter().find(|r| r.seq >= p.first_seq));
        // The page answers a moment later than the report: name the report's oldest record.
        Gap::of(first, next, oldest, capacity)
            .filter(|g| g.gone == report.first_seq - 1)
            .or(Some(Gap { gone: report.first_seq - 1, cause: GapCause::Unknown }))
    } else {
        None
    };
    // Against the head this host saw on this lock before: a cut tail shows there.
    let info = c.info()?;
    let (serial, signs) = (info.serial.to_string(), info.capabilities.signs_log_head);
    // (Not for the built-in lock: each `--sim` run is a new lock under the same serial.)
    let keystore = crate::keys::Keystore::locate().ok().filter(|_| !c.is_built_in());
    let seen = keystore.as_ref().and_then(|k| k.log_head(&serial).ok().flatten());
    let pinned = keystore.as_ref().and_then(|k| k.device_key(&serial).ok().flatten());
    let mut pinned_now = false;
    let device_key = match pinned {
        _ if !signs => None,
        Some(key) => Some(key),
        // Claimed before latchkey pinned device keys (or from another host): pinned now.
        None => {
            let key = c.client.device_key().map_err(|e| c.explain(e))?;
            if let Some(keystore) = &keystore {
                pinned_now = true;
                if let Err(e) = keystore.pin_device_key(&serial, &key) {
                    eprintln!("warning: cannot pin this lock's device key: {e}");
                }
            }
            Some(key)
        }
    };
    let (signed, nonce) =
        c.client.log_head(seen.as_ref().map_or(0, |h| h.seq)).map_err(|e| c.explain(e))?;
    let head = ops::check_head(
        &signed,
        &serial,
        &nonce,
        device_key.as_ref(),
        report.first_seq,
        seen.as_ref().map(|h| ops::SeenHead { seq: h.seq, tag: h.tag }),
    );
    let head_holds = matches!(head, HeadCheck::FirstSeen | HeadCheck::Holds);
    if head_holds
        && report.broken.is_none()
        && let Some(keystore) = &keystore
        && let Err(e) = keystore.record_log_head(&serial, signed.seq, signed.tag)
    {
        eprintln!("warning: cannot remember this log's head for next time: {e}");
    }
    let seen_text = |seq: u32| {
        let when = seen.as_ref().map_or(String::new(), |h| format!(" on {}", h.seen));
        format!("this host saw record {seq}{when}")
    };
    let head_broken = match head {
        HeadCheck::Truncated { seen, last } => Some(format!(
            "the log's tail was cut: it ends at record {last}, but {}",
            seen_text(seen)
        )),
        HeadCheck::Rewritten { seq } => {
            Some(format!("record {seq} is not the one {}: the log was rewritten", seen_text(seq)))
        }
        HeadCheck::BadSignature => Some(
            "the log head is not signed by the device key this host pinned for this lock: \
             another lock under its serial, or a forged answer"
                .to_string(),
        ),
        HeadCheck::FirstSeen | HeadCheck::Holds => None,
    };
    if context.json {
        say!(
            "{}",
            json!({
                "intact": report.broken.is_none() && report.reserved_broken.is_none() && head_holds,
                "records": report.records,
                "first_seq": report.first_seq,
                "last_seq": report.last_seq,
                "anchored": report.anchored,
                "dropped_before": report.first_seq.saturating_sub(1),
                "dropped_because": gap.as_ref().map(|g| g.cause.as_str()),
                "broken": report.broken,
                "reserved": report.reserved,
                "reserved_broken": report.reserved_broken,
                "evicted": { "routine": report.evicted_routine, "security": report.evicted_security },
                "head": {
                    "check": match head {
                        HeadCheck::FirstSeen => "first_seen",
                        HeadCheck::Holds => "holds",
                        HeadCheck::Truncated { .. } => "truncated",
                        HeadCheck::Rewritten { .. } => "rewritten",
                        HeadCheck::BadSignature => "bad_signature",
                    },
                    "seq": signed.seq,
                    "signed": device_key.is_some(),
                    "device_key_pinned_now": pinned_now,
                    "seen_seq": seen.as_ref().map(|h| h.seq),
                    "seen_at": seen.as_ref().map(|h| h.seen.clone()),
                },
            })
        );
    }
    if let Some(message) = head_broken {
        return Err(CliError::refused(ErrorKind::LogBroken, message, None).with_hint(
            "someone cut or replaced records in the lock's flash; keep this lock and its log as evidence",
        ));
    }
    let broken =
        report.broken.map(|b| ("log", b)).or(report.reserved_broken.map(|b| ("reserved area", b)));
    match broken {
        None => {
            if !context.json {
                let range = if report.records == 0 {
                    "no records".to_string()
                } else {
                    format!(
                        "{} record{}, seq {} to {}",
                        grouped(report.records),
                        if report.records == 1 { "" } else { "s" },
                        report.first_seq,
                        report.last_seq
                    )
                };
                let gap = gap.map(|g| format!("; {}", gap_summary(&g))).unwrap_or_default();
                say!("log intact: {range}{gap}");
                say!("{}", head_summary(&head, device_key.is_some(), pinned_now));
                say!(
                    "security records kept in the reserved area: {}; records evicted since the lock was made: {} routine, {} security",
                    grouped(report.reserved),
                    grouped(report.evicted_routine),
                    grouped(report.evicted_security)
                );
            }
            Ok(())
        }
        Some((part, b)) => Err(CliError::refused(ErrorKind::LogBroken, format!("the {part}'s chain is broken: {}", break_text(&b)), None)
            .with_hint("someone removed or changed records in the lock's flash; keep this lock's log as evidence")),
    }
}

fn follow(context: &Context, c: &mut Connection) -> Result<(), CliError> {
    // Polls inside the session (sealed), so following the log needs the same key as reading it.
    let from = ops::bounds(&mut c.client).map_err(|e| c.explain(e))?.next_seq;
    if !context.json {
        eprintln!("following the log from record {from}; Ctrl-C stops");
    }
    let mut records = ops::records(&mut c.client, from);
    let outcome = loop {
        if interrupted() {
            break Ok(());
        }
        match records.next() {
            Some(Ok(r)) if context.json => say!("{}", record_json(&r)),
            Some(Ok(r)) => say!("{}", record_text(&r)),
            Some(Err(e)) => break Err(e),
            // Caught up: ask again in a moment.
            None => std::thread::sleep(Duration::from_millis(300)),
        }
    };
    drop(records);
    outcome.map_err(|e| c.explain(e))
}

pub(super) fn alarms(
    context: &Context,
    command: Option<AlarmsCommand>,
    check: bool,
) -> Result<Outcome, CliError> {
    let access = if matches!(command, Some(AlarmsCommand::Clear { .. })) {
        Access::Change
    } else {
        Access::Read
    };
    let mut c = open(context, access)?;
    if let Some(AlarmsCommand::Clear { yes }) = command {
        confirm(context, yes, "Clear the lock's alarms?")?;
        c.client.clear_alarms().map_err(|e| c.explain(e))?;
        if context.json {
            say!("{}", json!({ "cleared": true }));
        } else {
            say!("alarms cleared");
        }
        return Ok(Outcome::Done);
    }
    let alarms = c.client.alarms().map_err(|e| c.explain(e))?;
    let outcome = if check && !alarms.is_empty() { Outcome::Attention } else { Outcome::Done };
    if context.json {
        let docs: Vec<Value> = alarms
            .iter()
            .map(|a| {
                json!({ "alarm": a.alarm.as_str(), "since": lock_time(a.since).map(format_unix), "seconds_left": a.seconds_left })
            })
            .collect();
        say!("{}", json!(docs));
    } else if alarms.is_empty() {
        say!("no alarms");
    } else {
        for a in &alarms {
            let since = lock_time(a.since).map_or_else(
                || "(clock not set)".to_string(),
                |at| format!("since {}", format_unix(at)),
            );
            if a.seconds_left > 0 {
                say!(
                    "{:<18} {since}; the keypad opens again in {} s (`latchkey alarms clear` ends it now)",
                    alarm_words(a.alarm),
                    a.seconds_left
                );
            } else {
                say!("{:<18} {since}", alarm_words(a.alarm));
            }
        }
    }
    Ok(outcome)
}

fn access_json(r: &AccessRecord) -> Value {
    json!({
        "at": lock_time(r.at).map(format_unix),
        "path": r.path.as_str(),
        "granted": r.granted,
        "user": r.user,
        "reason": r.reason.as_str(),
    })
}

pub(super) fn access(context: &Context) -> Result<(), CliError> {
    let mut c = open(context, Access::Read)?;
    let record = c.client.last_access().map_err(|e| c.explain(e))?;
    match (record, context.json) {
        (Some(r), true) => say!("{}", access_json(&r)),
        (None, true) => say!("null"),
        (None, false) => say!("no access attempt since the lock started"),
        (Some(r), false) => {
            let who = r.user.map(|u| format!("user {u}")).unwrap_or_else(|| "unknown".into());
            let reason = describe_access_reason(r.reason);
            let path = path_words(r.path);
            let at = lock_time(r.at).map_or_else(|| "(clock not set)".to_string(), format_unix);
            say!(
                "{at} {} via {path} ({who}): {reason}",
                if r.granted { "GRANTED" } else { "REFUSED" }
            );
            // A lockout says how long it still lasts, and how to end it.
            if r.reason == AccessReason::KeypadLockedOut {
                let alarms = c.client.alarms().map_err(|e| c.explain(e))?;
                if let Some(left) = alarms.iter().map(|a| a.seconds_left).find(|left| *left > 0) {
                    say!(
                        "the keypad opens again in {left} s (`latchkey alarms clear` ends it now)"
                    );
                }
            }
        }
    }
    Ok(())
}
