//! `log`, `alarms` and `diag`: what the lock witnessed, what it is alarmed about, and how it
//! is doing — the technician's commands.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Subcommand;
use latchkey_protocol::{LogBreak, LogEntry, LogRecord};
use serde_json::{Value, json};

use super::commands::{Connection, connect_authorized};
use super::{CliError, Context};
use crate::display::format_unix;

/// `latchkey log ...`
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Read the lock's event log (never erases it). `--json` prints JSON Lines, `--csv` a table.
    Read {
        /// Start at this sequence number (to resume an interrupted read: the last one + 1).
        #[arg(long, value_name = "SEQ", conflicts_with = "last")]
        since: Option<u32>,
        /// Only the newest N records.
        #[arg(long, value_name = "N")]
        last: Option<u32>,
        /// Only records about this user.
        #[arg(long)]
        user: Option<u16>,
        /// Only access attempts by this path: keypad, rfid, fingerprint, phone, mechanical_key.
        #[arg(long)]
        path: Option<String>,
        /// Only records of this kind: access, change, alarm, battery, power_up, clock_set,
        /// session, auth_failed, cleared.
        #[arg(long)]
        kind: Option<String>,
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

fn name_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The kind of a record as scripts and filters name it.
pub fn record_kind(entry: &LogEntry) -> &'static str {
    match entry {
        LogEntry::Access { .. } => "access",
        LogEntry::Change { .. } => "change",
        LogEntry::Alarm { .. } => "alarm",
        LogEntry::Battery { .. } => "battery",
        LogEntry::PowerUp { .. } => "power_up",
        LogEntry::ClockSet { .. } => "clock_set",
        LogEntry::Session { .. } => "session",
        LogEntry::AuthFailed { .. } => "auth_failed",
        LogEntry::Cleared { .. } => "cleared",
    }
}

fn record_user(entry: &LogEntry) -> Option<u16> {
    match entry {
        LogEntry::Access { user, .. } | LogEntry::Change { user, .. } => *user,
        _ => None,
    }
}

/// One record as a flat JSON object: `seq`, `at`, `kind`, then the kind's fields.
pub fn record_json(r: &LogRecord) -> Value {
    let mut doc = json!({
        "seq": r.seq,
        "at": if r.at == 0 { Value::Null } else { json!(format_unix(r.at)) },
        "kind": record_kind(&r.entry),
    });
    let fields = match r.entry {
        LogEntry::Access { path, granted, user, reason } => {
            json!({ "path": path, "granted": granted, "user": user, "reason": reason })
        }
        LogEntry::Change { what, role, user } => {
            json!({ "what": what, "role": role, "user": user })
        }
        LogEntry::Alarm { alarm, raised } => json!({ "alarm": alarm, "raised": raised }),
        LogEntry::Battery { millivolts, state, replaced } => {
            json!({ "millivolts": millivolts, "state": state, "replaced": replaced })
        }
        LogEntry::PowerUp { boot_count, reason } => {
            json!({ "boot_count": boot_count, "reset_reason": reason })
        }
        LogEntry::ClockSet { from, to } => json!({
            "from": if from == 0 { Value::Null } else { json!(format_unix(from)) },
            "to": format_unix(to),
        }),
        LogEntry::Session { role, opened } => json!({ "role": role, "opened": opened }),
        LogEntry::AuthFailed { claim } => {
            json!({ "during": if claim { "claim" } else { "session" } })
        }
        LogEntry::Cleared { removed } => json!({ "removed": removed }),
    };
    if let (Some(doc), Value::Object(fields)) = (doc.as_object_mut(), fields) {
        doc.extend(fields);
    }
    doc
}

/// One line for a person.
pub fn record_text(r: &LogRecord) -> String {
    let at = if r.at == 0 { "(clock not set)       ".to_string() } else { format_unix(r.at) };
    let user = |u: Option<u16>| u.map(|u| format!(" user {u}")).unwrap_or_default();
    let what = match r.entry {
        LogEntry::Access { path, granted, user: u, reason } => format!(
            "{} via {}{}: {}",
            if granted { "GRANTED" } else { "refused" },
            name_of(&path),
            user(u),
            name_of(&reason)
        ),
        LogEntry::Change { what, role, user: u } => {
            format!("{} by {}{}", name_of(&what), name_of(&role), user(u))
        }
        LogEntry::Alarm { alarm, raised } => {
            format!("alarm {} {}", name_of(&alarm), if raised { "raised" } else { "cleared" })
        }
        LogEntry::Battery { millivolts, state, replaced } => format!(
            "battery {} ({}){}",
            crate::display::volts(millivolts),
            name_of(&state),
            if replaced { ", fresh batteries" } else { "" }
        ),
        LogEntry::PowerUp { boot_count, reason } => {
            format!("power up #{boot_count} ({})", name_of(&reason))
        }
        LogEntry::ClockSet { from, to } => format!(
            "clock set {} -> {}",
            if from == 0 { "unset".to_string() } else { format_unix(from) },
            format_unix(to)
        ),
        LogEntry::Session { role, opened } => {
            format!("{} session {}", name_of(&role), if opened { "opened" } else { "closed" })
        }
        LogEntry::AuthFailed { claim } => {
            format!("failed authentication ({})", if claim { "setup code" } else { "session key" })
        }
        LogEntry::Cleared { removed } => format!("log cleared ({removed} records removed)"),
    };
    format!("{:>7}  {at}  {what}", r.seq)
}

const CSV_COLUMNS: [&str; 7] = ["seq", "at", "kind", "user", "path_or_what", "outcome", "detail"];

fn record_csv(r: &LogRecord) -> [String; 7] {
    let doc = record_json(r);
    let field = |k: &str| match &doc[k] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let (path_or_what, outcome, detail) = match r.entry {
        LogEntry::Access { .. } => (
            field("path"),
            if field("granted") == "true" { "granted" } else { "refused" }.to_string(),
            field("reason"),
        ),
        LogEntry::Change { .. } => (field("what"), String::new(), field("role")),
        LogEntry::Alarm { .. } => (
            field("alarm"),
            if field("raised") == "true" { "raised" } else { "cleared" }.to_string(),
            String::new(),
        ),
        LogEntry::Battery { .. } => (
            field("millivolts"),
            field("state"),
            if field("replaced") == "true" { "replaced".into() } else { String::new() },
        ),
        LogEntry::PowerUp { .. } => (field("boot_count"), field("reset_reason"), String::new()),
        LogEntry::ClockSet { .. } => (field("from"), field("to"), String::new()),
        LogEntry::Session { .. } => (
            field("role"),
            if field("opened") == "true" { "opened" } else { "closed" }.to_string(),
            String::new(),
        ),
        LogEntry::AuthFailed { .. } => (field("during"), "failed".into(), String::new()),
        LogEntry::Cleared { .. } => (field("removed"), String::new(), String::new()),
    };
    [
        r.seq.to_string(),
        field("at"),
        record_kind(&r.entry).to_string(),
        field("user"),
        path_or_what,
        outcome,
        detail,
    ]
}

struct Filter {
    user: Option<u16>,
    path: Option<String>,
    kind: Option<String>,
}

impl Filter {
    fn keeps(&self, r: &LogRecord) -> bool {
        if self.user.is_some() && record_user(&r.entry) != self.user {
            return false;
        }
        if let Some(kind) = &self.kind
            && record_kind(&r.entry) != kind
        {
            return false;
        }
        if let Some(path) = &self.path {
            match r.entry {
                LogEntry::Access { path: p, .. } if name_of(&p) == *path => {}
                _ => return false,
            }
        }
        true
    }
}

const KINDS: [&str; 9] = [
    "access",
    "change",
    "alarm",
    "battery",
    "power_up",
    "clock_set",
    "session",
    "auth_failed",
    "cleared",
];
const PATHS: [&str; 5] = ["keypad", "rfid", "fingerprint", "phone", "mechanical_key"];

fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    // One handler per process; the log commands are the only users in their runs.
    let _ = ctrlc::set_handler(move || f.store(true, Ordering::SeqCst));
    flag
}

pub(super) fn log(context: &Context, command: LogCommand) -> Result<(), CliError> {
    let mut c = connect_authorized(context)?;
    match command {
        LogCommand::Read { since, last, user, path, kind, csv } => {
            if let Some(k) = &kind
                && !KINDS.contains(&k.as_str())
            {
                return Err(CliError::usage(format!("unknown record kind {k:?}"))
                    .with_hint(format!("one of: {}", KINDS.join(", "))));
            }
            if let Some(p) = &path
                && !PATHS.contains(&p.as_str())
            {
                return Err(CliError::usage(format!("unknown access path {p:?}"))
                    .with_hint(format!("one of: {}", PATHS.join(", "))));
            }
            read(context, &mut c, since, last, &Filter { user, path, kind }, csv)
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

fn confirm(context: &Context, yes: bool, prompt: &str) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !context.interactive {
        return Err(CliError::usage(format!("{prompt}: this needs confirmation"))
            .with_hint("pass --yes to confirm without a prompt"));
    }
    match dialoguer::Confirm::new().with_prompt(prompt).default(false).interact() {
        Ok(true) => Ok(()),
        _ => Err(CliError::usage("cancelled; nothing was changed")),
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
    // Where the log stands: a page from the very end returns no records, only the bounds.
    let bounds = c.client.read_log(u32::MAX).map_err(|e| c.explain(e))?;
    let start = match (since, last) {
        (Some(s), _) => s.max(1),
        (None, Some(n)) => bounds.next_seq.saturating_sub(n).max(bounds.first_seq).max(1),
        (None, None) => bounds.first_seq.max(1),
    };
    if start < bounds.first_seq {
        eprintln!(
            "note: records {start} to {} were dropped for room before they were read (the log keeps the newest)",
            bounds.first_seq - 1
        );
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
    let interrupted = interrupt_flag();
    let mut next = start;
    let mut last_read = None;
    let mut count = 0u32;
    while next < bounds.next_seq {
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        let page = c.client.read_log(next).map_err(|e| c.explain(e))?;
        let Some(tail) = page.records.last().map(|r| r.seq) else { break };
        for r in &page.records {
            last_read = Some(r.seq);
            if !filter.keeps(r) {
                continue;
            }
            count += 1;
            match writer.as_mut() {
                Some(w) => {
                    let _ = w.write_record(record_csv(r));
                }
                None if context.json => say!("{}", record_json(r)),
                None => say!("{}", record_text(r)),
            }
        }
        if let Some(bar) = &bar {
            bar.inc(page.records.len() as u64);
        }
        next = tail + 1;
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(mut w) = writer {
        let _ = w.flush();
    }
    match last_read {
        Some(seq) if interrupted.load(Ordering::SeqCst) => {
            eprintln!("interrupted after record {seq}; resume with --since {}", seq + 1);
            Err(CliError::refused("interrupted", "log read interrupted", None))
        }
        Some(seq) => {
            if !context.json && !csv {
                eprintln!("{count} records shown, up to {seq}; next time: --since {}", seq + 1);
            }
            Ok(())
        }
        None => {
            if !context.json && !csv {
                eprintln!("no records from {start} on");
            }
            Ok(())
        }
    }
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
    if context.json {
        say!(
            "{}",
            json!({
                "intact": report.broken.is_none(),
                "records": report.records,
                "first_seq": report.first_seq,
                "last_seq": report.last_seq,
                "anchored": report.anchored,
                "broken": report.broken,
            })
        );
    }
    match report.broken {
        None => {
            if !context.json {
                say!(
                    "log intact: {} records, {} to {}{}",
                    report.records,
                    report.first_seq,
                    report.last_seq,
                    if report.anchored { "" } else { " (older records were dropped for room)" }
                );
            }
            Ok(())
        }
        Some(b) => Err(CliError::refused("log_broken", format!("the log's chain is broken: {}", break_text(&b)), None)
            .with_hint("someone removed or changed records in the lock's flash; keep this lock's log as evidence")),
    }
}

fn follow(context: &Context, c: &mut Connection) -> Result<(), CliError> {
    // Polls inside the session (sealed), so following the log needs the same key as reading it.
    let interrupted = interrupt_flag();
    let mut next = c.client.read_log(u32::MAX).map_err(|e| c.explain(e))?.next_seq;
    if !context.json {
        eprintln!("following the log from record {next}; Ctrl-C stops");
    }
    while !interrupted.load(Ordering::SeqCst) {
        let page = c.client.read_log(next).map_err(|e| c.explain(e))?;
        for r in &page.records {
            if context.json {
                say!("{}", record_json(r));
            } else {
                say!("{}", record_text(r));
            }
            next = r.seq + 1;
        }
        if page.records.is_empty() {
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    Ok(())
}

pub(super) fn alarms(context: &Context, command: Option<AlarmsCommand>) -> Result<(), CliError> {
    let mut c = connect_authorized(context)?;
    if let Some(AlarmsCommand::Clear { yes }) = command {
        confirm(context, yes, "Clear the lock's alarms?")?;
        c.client.clear_alarms().map_err(|e| c.explain(e))?;
        if context.json {
            say!("{}", json!({ "cleared": true }));
        } else {
            say!("alarms cleared");
        }
        return Ok(());
    }
    let alarms = c.client.alarms().map_err(|e| c.explain(e))?;
    if context.json {
        let docs: Vec<Value> = alarms
            .iter()
            .map(|a| json!({ "alarm": a.alarm, "since": format_unix(a.since) }))
            .collect();
        say!("{}", json!(docs));
    } else if alarms.is_empty() {
        say!("no alarms");
    } else {
        for a in &alarms {
            say!("{:<18} since {}", name_of(&a.alarm), format_unix(a.since));
        }
    }
    Ok(())
}

pub(super) fn diag(context: &Context) -> Result<(), CliError> {
    let mut c = connect_authorized(context)?;
    let info = c.info()?.clone();
    let d = c.client.diagnostics().map_err(|e| c.explain(e))?;
    let battery = c.client.battery().map_err(|e| c.explain(e))?;
    let stats = c.client.stats();
    if context.json {
        say!(
            "{}",
            json!({
                "model": info.model.as_str(),
                "serial": info.serial.as_str(),
                "firmware_version": info.firmware_version.as_str(),
                "diagnostics": d,
                "battery": battery,
                "host_link": { "sent": stats.sent, "resent": stats.resent, "received": stats.received, "dropped": stats.dropped, "stale": stats.stale },
            })
        );
        return Ok(());
    }
    say!("lock         {} {} (firmware {})", info.model, info.serial, info.firmware_version);
    say!(
        "uptime       {} since the last start (#{}, {})",
        humantime::format_duration(Duration::from_secs(d.uptime_ms / 1000)),
        d.boot_count,
        name_of(&d.reset_reason)
    );
    say!(
        "battery      {} at rest, {} under load, {} %, {}",
        crate::display::volts(battery.millivolts),
        crate::display::volts(battery.loaded_millivolts),
        battery.percent,
        name_of(&battery.state)
    );
    say!(
        "bolt         {}, door {}",
        if d.bolt_locked { "locked" } else { "unlocked" },
        if d.door_open { "open" } else { "closed" }
    );
    say!(
        "motor        {} runs since start; last {} ms, {} mA peak",
        d.motor_runs,
        d.motor_last_ms,
        d.motor_last_ma
    );
    say!(
        "storage      {} users; log {} of {} records; {} flash writes since start",
        d.users,
        d.log_records,
        d.log_capacity,
        d.store_writes
    );
    say!(
        "link         {} frames in, {} out; dropped {} bad CRC, {} malformed, {} too long, {} undecodable",
        d.frames_received,
        d.frames_sent,
        d.dropped_bad_crc,
        d.dropped_malformed,
        d.dropped_too_long,
        d.dropped_undecodable
    );
    say!(
        "security     {} sealed frames rejected, {} failed authentications",
        d.sealed_rejected,
        d.auth_failures
    );
    Ok(())
}
