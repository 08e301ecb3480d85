//! `commission` and `report verify`: the checklist at the door and the handover report. The
//! plan, the run and the report are [`crate::ops::commission`]; this shows them, asks the
//! installer what to do after a failure, and writes the files.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Subcommand;
use serde_json::json;

use super::connect::{Access, Explain, open};
use super::prompt::interrupted;
use super::{CliError, Context, ErrorKind};
use crate::display::hex;
use crate::keys::Keystore;
use crate::ops::commission::{
    self as ops, Again, Check, CheckId, CheckResult, Mismatch, Outcome, Planned, Report, ReportKey,
    Watcher,
};

/// `latchkey report ...`
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Check a commissioning report (its JSON, or the HTML page) against the device key this
    /// computer pinned for its lock; with `--port`, also against the lock itself. Exit 1
    /// naming what does not match.
    Verify {
        /// The report: `.json` or `.html`.
        file: PathBuf,
    },
}

/// How long a door check may wait: `2m`, `90s`; 5 s to 30 min.
pub fn parse_wait(text: &str) -> Result<Duration, String> {
    let wait = humantime::parse_duration(text).map_err(|e| format!("{text:?}: {e}"))?;
    if (Duration::from_secs(5)..=Duration::from_secs(1800)).contains(&wait) {
        Ok(wait)
    } else {
        Err(format!("{text:?} is outside 5s to 30m"))
    }
}

fn check_arg(name: &str) -> Result<CheckId, CliError> {
    CheckId::parse(name).ok_or_else(|| {
        let names: Vec<&str> = CheckId::ALL.iter().map(|c| c.as_str()).collect();
        CliError::usage(format!("there is no check {name:?}"))
            .with_hint(format!("the checks: {}", names.join(", ")))
    })
}

/// `latchkey commission`.
pub(super) fn commission(
    context: &Context,
    only: &[String],
    skip: &[String],
    reason: &[String],
    wait: Duration,
    report: Option<&Path>,
) -> Result<(), CliError> {
    let only = only.iter().map(|n| check_arg(n)).collect::<Result<Vec<_>, _>>()?;
    if skip.len() != reason.len() {
        return Err(CliError::usage("each --skip needs its --reason")
            .with_hint("--skip door --reason \"door sensor not fitted yet\""));
    }
    let skips = skip
        .iter()
        .zip(reason)
        .map(|(name, why)| Ok((check_arg(name)?, why.clone())))
        .collect::<Result<Vec<_>, CliError>>()?;
    // Ctrl-C from here on stops the run between events, cleanly.
    let _ = interrupted();
    let mut c = open(context, Access::Read)?;
    let info = c.info()?.clone();
    let users = c.client.users().map_err(|e| c.explain(e))?;
    let users = users
        .iter()
        .map(|u| c.client.user(u.id))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| c.explain(e))?;
    let checks = ops::plan(&info, &users, &only, &skips);
    let label = c.client.settings().map_err(|e| c.explain(e))?.door_label.to_string();
    if context.json {
        let planned: Vec<_> = checks
            .iter()
            .map(|c| json!({ "check": c.id.as_str(), "instruction": c.instruction, "status": planned_str(&c.status) }))
            .collect();
        say!(
            "{}",
            json!({ "event": "plan", "serial": info.serial.as_str(), "label": label, "checks": planned })
        );
    } else {
        eprintln!(
            "commissioning lock {} \"{label}\": {} checks; Ctrl-C stops and leaves the lock as it was",
            info.serial,
            checks.len()
        );
    }
    let mut watcher =
        Cli { json: context.json, ask: context.interactive && !context.json, closed: false };
    let results = match ops::run(&mut c.client, &checks, &users, wait, &mut watcher) {
        Ok(results) => results,
        Err(ops::RunError::Stopped(_)) if watcher.closed => {
            return Err(CliError::host(
                "the output was closed: commissioning stopped; nothing was changed on the lock \
                 and no report was written",
            ));
        }
        Err(ops::RunError::Stopped(_)) => {
            return Err(CliError::interrupted(
                "commissioning stopped; nothing was changed on the lock and no report was written",
            ));
        }
        Err(ops::RunError::Client(e)) => return Err(c.explain(e)),
    };
    let (name, fingerprint) = c.session_key().unwrap_or_else(|| ("(none)".into(), String::new()));
    let by = ReportKey { name, fingerprint };
    let body = ops::report_body(&mut c.client, &info, &users, label, results, by)
        .map_err(|e| c.explain(e))?;
    let passed = body.passed;
    let signed = ops::sign(&mut c.client, body).map_err(|e| c.explain(e))?;
    let base =
        report.map_or_else(|| ops::default_report_base(info.serial.as_str()), Path::to_path_buf);
    let (json_path, html_path) = ops::write_report(&signed, &base).map_err(|e| {
        CliError::host(e.to_string()).with_hint("name another file with --report FILE")
    })?;
    if context.json {
        say!(
            "{}",
            json!({ "event": "report", "passed": passed, "json": json_path, "html": html_path,
                    "signed": signed.head.signature.is_some() })
        );
    } else {
        let failed = signed.body.checks.iter().filter(|r| r.outcome == Outcome::Fail).count();
        say!(
            "{}: report in {} and {}{}",
            if passed {
                "every check passed".to_string()
            } else {
                format!("{failed} check(s) failed")
            },
            json_path.display(),
            html_path.display(),
            if signed.head.signature.is_some() {
                ", signed by the lock"
            } else {
                " (unsigned: this lock has no device key)"
            }
        );
    }
    if passed {
        Ok(())
    } else {
        Err(CliError::refused(ErrorKind::Refused, "some commissioning checks failed", None)
            .with_hint("fix what each failed check names, then run `latchkey commission` again"))
    }
}

fn planned_str(status: &Planned) -> &'static str {
    match status {
        Planned::Run => "run",
        Planned::Skip(_) => "skip",
        Planned::NotReady(_) => "not_ready",
    }
}

/// The run as the terminal or a script sees it.
struct Cli {
    json: bool,
    /// Whether to ask the person after a failed check.
    ask: bool,
    /// Whoever read the output went away (a closed pipe): the run stops.
    closed: bool,
}

impl Cli {
    /// One line on standard output; a reader that went away stops the run.
    fn line(&mut self, text: &str) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
            self.closed = true;
        }
    }
}

impl Watcher for Cli {
    fn waiting(&mut self, check: &Check, wait: Duration) {
        if !matches!(check.status, Planned::Run) {
            return;
        }
        let door = check.id.needs_the_door();
        if self.json {
            self.line(
                &json!({ "event": "waiting", "check": check.id.as_str(), "instruction": check.instruction,
                         "at_the_door": door, "wait_seconds": door.then_some(wait.as_secs()) })
                .to_string(),
            );
        } else if door {
            eprintln!(
                "  -> {:<16} {} (within {} s)",
                check.id.as_str(),
                check.instruction,
                wait.as_secs()
            );
        }
    }

    fn result(&mut self, r: &CheckResult) {
        if self.json {
            let mut doc = serde_json::to_value(r).unwrap_or_default();
            if let Some(doc) = doc.as_object_mut() {
                doc.insert("event".into(), json!("result"));
            }
            self.line(&doc.to_string());
            return;
        }
        let mark = match r.outcome {
            Outcome::Pass => "ok  ",
            Outcome::Fail => "FAIL",
            Outcome::Skipped => "skip",
        };
        let seq = r.seq.map_or_else(String::new, |s| format!(" [log #{s}]"));
        self.line(&format!("  {mark} {:<16} {}{seq}", r.check.as_str(), r.detail));
    }

    fn stop(&mut self) -> bool {
        interrupted() || self.closed
    }

    fn after_failure(&mut self, r: &CheckResult) -> Option<Again> {
        if !self.ask || !std::io::stdin().is_terminal() {
            return Some(Again::Keep);
        }
        let choice = dialoguer::Select::new()
            .with_prompt(format!("{} failed", r.check.as_str()))
            .items(["try again", "skip it (give a reason)", "leave it failed and go on"])
            .default(0)
            .interact();
        Some(match choice {
            Ok(0) => Again::Retry,
            Ok(1) => dialoguer::Input::<String>::new()
                .with_prompt("why")
                .interact_text()
                .map_or(Again::Keep, Again::Skip),
            _ => Again::Keep,
        })
    }
}

/// `latchkey report verify FILE`.
pub(super) fn report(context: &Context, command: ReportCommand) -> Result<(), CliError> {
    let ReportCommand::Verify { file } = command;
    let text = std::fs::read_to_string(&file)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
    let mismatch = |m: Mismatch| {
        CliError::refused(ErrorKind::ChecksumMismatch, m.to_string(), None).with_hint(match m {
            Mismatch::NotPinned { .. } => "verify it on a computer that claimed the lock, or add --port to ask the lock itself",
            Mismatch::Unsigned { .. } => "only the lock's session vouched for this report; compare it with the lock itself",
            _ => "this is not the report the lock signed; ask for the original",
        })
    };
    let report: Report = ops::parse(&text).map_err(mismatch)?;
    let serial = report.body.lock.serial.clone();
    let keystore = Keystore::locate().ok();
    let mut pinned = keystore.as_ref().and_then(|k| k.device_key(&serial).ok().flatten());
    let against_lock = matches!(context.connect.port, crate::session::PortChoice::Named(..));
    if against_lock {
        let mut c = open(context, Access::Read)?;
        let info = c.info()?.clone();
        if info.serial.as_str() != serial {
            return Err(mismatch(Mismatch::NotAReport(format!(
                "it is lock {serial}'s report, but the lock on this port is {}",
                info.serial
            ))));
        }
        let key = c.client.device_key().map_err(|e| c.explain(e))?;
        if let Some(p) = pinned
            && p != key
        {
            return Err(mismatch(Mismatch::OtherKey {
                serial,
                report: hex(&key),
                pinned: hex(&p),
            }));
        }
        pinned = Some(key);
        // The lock's log still holds the head the report names, with the same tag.
        let (head, _) = c.client.log_head(report.head.seq).map_err(|e| c.explain(e))?;
        if head.seen_tag.map(|t| hex(&t)).as_deref() != Some(report.head.tag.as_str()) {
            return Err(mismatch(Mismatch::NotAReport(format!(
                "the lock's log no longer holds record {} as the report names it",
                report.head.seq
            ))));
        }
    }
    ops::verify(&report, pinned.as_ref()).map_err(mismatch)?;
    if context.json {
        say!(
            "{}",
            json!({ "verified": true, "serial": serial, "passed": report.body.passed, "against_lock": against_lock })
        );
    } else {
        say!(
            "report verified: signed by lock {serial}'s device key{}; commissioned {} by {:?}, {}",
            if against_lock {
                ", which the lock itself confirms"
            } else {
                " pinned on this computer"
            },
            report.body.commissioned_at,
            report.body.commissioned_by.name,
            if report.body.passed { "every check passed" } else { "with failed checks" }
        );
    }
    Ok(())
}
