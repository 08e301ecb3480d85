//! `provision`: plan, apply and verify a site file on a lock (or a bench of locks), and
//! export one from a lock. The jobs are [`crate::ops::provision`]; this parses, shows
//! progress and formats.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{Value, json};

use super::connect::{Access, Explain, open};
use super::{CliError, Context, ErrorKind};
use crate::display::hex;
use crate::link::PortSource;
use crate::ops::provision::apply::{self, ApplyError, PinFile, UserResult};
use crate::ops::provision::file::{self, FileError, PinEntry, SiteFile};
use crate::ops::provision::plan::{self, Knowledge, Plan};
use crate::session::{Connection, PortChoice};

/// `latchkey provision ...`
#[derive(Debug, Subcommand)]
pub enum ProvisionCommand {
    /// Show what `apply` would change: users and credentials to add, change, remove
    /// (`--prune`) and unchanged. Reads only (a technician key is enough; PINs, cards and
    /// phones are compared only with the site key). Exit 2, nothing sent, if a row is bad.
    Plan {
        /// The site file: `.toml`, `.csv` or `.json` (docs/provisioning.md).
        file: PathBuf,
        /// Also remove users the file does not name.
        #[arg(long)]
        prune: bool,
        /// The PIN file of an earlier `apply`, to compare generated PINs too.
        #[arg(long, value_name = "FILE")]
        pins: Option<PathBuf>,
    },
    /// Make the lock hold what the file says, in one session; safe to run again (it only
    /// sends what is missing, and finishes an interrupted run). Ends with a checksum
    /// comparison that reads no secret.
    Apply {
        /// The site file: `.toml`, `.csv` or `.json`.
        #[arg(required_unless_present = "bench")]
        file: Option<PathBuf>,
        /// Also remove users the file does not name.
        #[arg(long)]
        prune: bool,
        /// Where generated PINs are written (created with mode 0600; a resumed run reuses
        /// the PINs in it). Needed when the file has `pin = "generate"`.
        #[arg(long, value_name = "FILE")]
        pins_out: Option<PathBuf>,
        /// Several locks at once: a TOML bench file of `[[lock]]` tables with `port`, `file`
        /// and optionally `serial` and `pins_out`; one worker per port.
        #[arg(long, value_name = "FILE", conflicts_with = "file")]
        bench: Option<PathBuf>,
    },
    /// Check, without changing anything and reading no secret, that the lock holds exactly
    /// what the file says: exit 0 when it does, 1 when not.
    Verify {
        /// The site file.
        #[arg(required_unless_present = "bench")]
        file: Option<PathBuf>,
        /// The PIN file `apply` wrote, for users with generated PINs.
        #[arg(long, value_name = "FILE")]
        pins: Option<PathBuf>,
        /// Several locks at once (see `apply --bench`).
        #[arg(long, value_name = "FILE", conflicts_with = "file")]
        bench: Option<PathBuf>,
    },
    /// Write the lock's users as a site file (TOML), with no secret: PINs are `keep`.
    Export {
        /// The file to write; standard output when absent.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Runs a `provision` command on one lock (a bench is [`super::bench::run`]'s).
pub(super) fn provision(context: &Context, command: ProvisionCommand) -> Result<(), CliError> {
    match command {
        ProvisionCommand::Plan { file, prune, pins } => {
            plan_cmd(context, &file, prune, pins.as_deref())
        }
        ProvisionCommand::Apply { file: Some(file), prune, pins_out, .. } => {
            let report = apply_one(context, &file, prune, pins_out.as_deref(), None, None)?;
            // One JSON document either way: a failure carries the report as its detail.
            report.result().map_err(|e| e.with_detail(report.json())).inspect_err(|_| {
                if !context.json {
                    print_apply(context, &report);
                }
            })?;
            print_apply(context, &report);
            Ok(())
        }
        ProvisionCommand::Verify { file: Some(file), pins, .. } => {
            let report = verify_one(context, &file, pins.as_deref(), None)?;
            report.result().map_err(|e| e.with_detail(report.json()))?;
            print_verify(context, &report);
            Ok(())
        }
        ProvisionCommand::Export { out } => export(context, out.as_deref()),
        ProvisionCommand::Apply { .. } | ProvisionCommand::Verify { .. } => {
            Err(CliError::usage("give a site file or --bench FILE"))
        }
    }
}

impl From<FileError> for CliError {
    fn from(error: FileError) -> Self {
        match error {
            FileError::Read { .. } => {
                CliError::new(ErrorKind::Host, error.to_string()).with_hint("check the file's path")
            }
            FileError::Invalid { ref path, ref problems } => {
                let mut message = error.to_string();
                for p in problems {
                    message.push_str(&format!(
                        "\n  {}:{}: {}\n    fix: {}",
                        path.display(),
                        p.line,
                        p.problem,
                        p.fix
                    ));
                }
                let detail: Vec<Value> = problems
                    .iter()
                    .map(|p| json!({ "file": path, "line": p.line, "user": p.user, "problem": p.problem, "fix": p.fix }))
                    .collect();
                CliError::usage(message)
                    .with_hint("fix each row named, then run the command again; docs/provisioning.md has the format")
                    .with_detail(json!(detail))
            }
        }
    }
}

impl From<ApplyError> for CliError {
    fn from(error: ApplyError) -> Self {
        match error {
            ApplyError::Link { source, done, total } => {
                let inner = CliError::from(source);
                CliError {
                    message: format!("{} (after {done} of {total} changes)", inner.message),
                    ..inner
                }
                .with_hint(
                    "run the same command again: it sends only what the lock does not hold yet",
                )
            }
            ApplyError::PinFile { .. } => CliError::host(error.to_string())
                .with_hint("the PIN file must be writable, and readable by you alone (mode 0600)"),
            ApplyError::Generate(e) => CliError::new(ErrorKind::Generate, e.to_string())
                .with_hint("give the users a pin_length this lock takes (`latchkey info`)"),
        }
    }
}

/// A session on the lock, its file checked against the lock, and what the host knows.
struct Ready {
    c: Connection,
    file: SiteFile,
    knows: Knowledge,
    serial: String,
}

fn prepare(
    context: &Context,
    path: &Path,
    access: Access,
    pins: Option<&PinFile>,
    serial: Option<&str>,
) -> Result<Ready, CliError> {
    // The whole file is checked before the port is opened.
    let file = file::load(path)?;
    let mut c = open(context, access)?;
    let info = c.info()?.clone();
    if let Some(serial) = serial
        && serial != info.serial.as_str()
    {
        return Err(CliError::usage(format!(
            "the lock on this port is {}, not {serial}; nothing was changed",
            info.serial
        ))
        .with_hint("check which lock is on which port in the bench file"));
    }
    file.check_against(&info.capabilities)?;
    c.client.set_window(info.capabilities.max_in_flight);
    let zone = c.client.settings().map_err(|e| c.explain(e))?.time_zone;
    let pin_keys = c.pin_keys().map_err(|e| c.explain(e))?;
    let generated = pins.map(|p| p.known().clone()).unwrap_or_default();
    Ok(Ready {
        c,
        file,
        knows: Knowledge { zone, pin_keys, generated },
        serial: info.serial.to_string(),
    })
}

fn read_plan(r: &mut Ready, prune: bool) -> Result<(Plan, Vec<latchkey_protocol::User>), CliError> {
    let lock = plan::read_lock(&mut r.c.client).map_err(|e| r.c.explain(e))?;
    let (_, _, digest) = r.c.client.checksum().map_err(|e| r.c.explain(e))?;
    Ok((plan::plan(&r.file, &lock, &digest, &r.knows, prune), lock))
}

fn plan_cmd(
    context: &Context,
    path: &Path,
    prune: bool,
    pins: Option<&Path>,
) -> Result<(), CliError> {
    let pins = pins.map(PinFile::open).transpose()?;
    let mut r = prepare(context, path, Access::Read, pins.as_ref(), None)?;
    let (plan, _) = read_plan(&mut r, prune)?;
    if context.json {
        let users: Vec<Value> = plan
            .users
            .iter()
            .map(|u| {
                json!({
                    "user": u.user, "name": u.name, "line": u.line, "change": u.change.as_str(),
                    "steps": u.steps.iter().map(|s| s.describe()).collect::<Vec<_>>(),
                    "notes": u.notes,
                })
            })
            .collect();
        say!(
            "{}",
            json!({
                "lock": r.serial, "file": path, "users": users, "pins_compared": plan.pins_compared,
                "add": plan.count(plan::Change::Add), "change": plan.count(plan::Change::Change),
                "remove": plan.count(plan::Change::Remove), "unchanged": plan.count(plan::Change::Unchanged),
                "unmanaged": plan.count(plan::Change::Unmanaged), "nothing_to_do": plan.is_empty(),
            })
        );
        return Ok(());
    }
    for u in &plan.users {
        if u.steps.is_empty() && u.notes.is_empty() && u.change == plan::Change::Unchanged {
            continue;
        }
        let line = u.line.map(|l| format!(" (line {l})")).unwrap_or_default();
        say!("{:<9} user {} {}{line}", u.change.as_str(), u.user, u.name);
        for step in &u.steps {
            say!("            {}", step.describe());
        }
        for note in &u.notes {
            say!("            note: {note}");
        }
    }
    say!(
        "{} to add, {} to change, {} to remove, {} unchanged{}",
        plan.count(plan::Change::Add),
        plan.count(plan::Change::Change),
        plan.count(plan::Change::Remove),
        plan.count(plan::Change::Unchanged),
        match plan.count(plan::Change::Unmanaged) {
            0 => String::new(),
            n => format!(", {n} on the lock but not in the file (kept; --prune removes them)"),
        }
    );
    if plan.is_empty() {
        say!("nothing to do: lock {} holds what {} says", r.serial, path.display());
    }
    if !plan.pins_compared {
        say!("note: PINs compared by whether a user has one only (the site key compares them)");
    }
    Ok(())
}

/// How an apply on one lock went.
pub(super) struct ApplyReport {
    pub serial: String,
    pub file: PathBuf,
    pub users: Vec<UserResult>,
    pub changes: usize,
    /// `Some(matches)` when the checksum was compared.
    pub verified: Option<bool>,
    pub resent: u32,
    pub elapsed: std::time::Duration,
}

impl ApplyReport {
    fn refused(&self) -> usize {
        self.users.iter().filter(|u| !u.refused.is_empty()).count()
    }

    pub(super) fn result(&self) -> Result<(), CliError> {
        if self.refused() > 0 {
            return Err(CliError::refused(
                ErrorKind::Refused,
                format!(
                    "lock {}: the lock refused part of {} user(s)",
                    self.serial,
                    self.refused()
                ),
                None,
            )
            .with_hint("each refused row is listed above with why; fix the file and apply again"));
        }
        match self.verified {
            Some(false) => Err(mismatch(&self.serial, &self.file)),
            _ => Ok(()),
        }
    }

    pub(super) fn json(&self) -> Value {
        let users: Vec<Value> = self
            .users
            .iter()
            .filter(|u| u.outcome() != "unchanged")
            .map(|u| {
                json!({
                    "user": u.user, "name": u.name, "line": u.line, "change": u.change.as_str(),
                    "outcome": u.outcome(), "generated_pin": u.generated_pin,
                    "refused": u.refused.iter().map(|(what, r)| json!({"step": what, "status": r.status.as_str(), "why": crate::display::refusal_words(crate::session::Refusal::Lock(*r))})).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "lock": self.serial, "file": self.file, "changes": self.changes, "users": users,
            "verified": self.verified, "resent": self.resent,
            "elapsed_ms": u64::try_from(self.elapsed.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

fn mismatch(serial: &str, file: &Path) -> CliError {
    CliError::refused(
        ErrorKind::ChecksumMismatch,
        format!("lock {serial} does not hold what {} describes", file.display()),
        None,
    )
    .with_hint(
        "`latchkey provision plan FILE` shows the difference; `provision apply FILE` closes it",
    )
}

/// Applies `path` to the lock `context` names; `bar` shows progress (a bench's own bar).
pub(super) fn apply_one(
    context: &Context,
    path: &Path,
    prune: bool,
    pins_out: Option<&Path>,
    serial: Option<&str>,
    bar: Option<indicatif::ProgressBar>,
) -> Result<ApplyReport, CliError> {
    let started = std::time::Instant::now();
    let mut pins = pins_out.map(PinFile::open).transpose()?;
    // Checked before anything is sent: generated PINs need somewhere to go.
    let preview = file::load(path)?;
    if pins.is_none()
        && preview.rows.iter().any(|r| matches!(r.pin, Some(PinEntry::Generate { .. })))
    {
        return Err(CliError::usage(format!(
            "{} has users with pin = \"generate\"",
            path.display()
        ))
        .with_hint("give --pins-out FILE: generated PINs are written there (mode 0600), once"));
    }
    let mut r = prepare(context, path, Access::Change, pins.as_ref(), serial)?;
    if r.c.client.session_role() != Some(latchkey_protocol::Role::Installer) {
        // A technician key may plan, never change: say so before anything is sent.
        return Err(CliError::refusal(crate::session::Refusal::ReadOnlyKey, None));
    }
    let (plan, _) = read_plan(&mut r, prune)?;
    let capabilities = r.c.info()?.capabilities;
    let total: usize = plan.users.iter().map(|u| u.steps.len()).sum();
    let bar = bar.unwrap_or_else(|| progress_bar(context, &r.serial));
    bar.set_length(total as u64);
    let mut progress = |done: usize, _total: usize| bar.set_position(done as u64);
    let results =
        apply::apply(&mut r.c.client, &plan, &capabilities, pins.as_mut(), &mut progress)?;
    bar.finish_and_clear();
    if let Some(pins) = &pins {
        r.knows.generated = pins.known().clone();
    }
    let verified = verify_lock(&mut r)?;
    Ok(ApplyReport {
        serial: r.serial.clone(),
        file: path.to_path_buf(),
        users: results,
        changes: total,
        verified,
        resent: r.c.client.stats().resent,
        elapsed: started.elapsed(),
    })
}

/// The checksum comparison: `None` when it cannot be made (a technician key, PINs the host
/// does not know, users on the lock the file does not name).
fn verify_lock(r: &mut Ready) -> Result<Option<bool>, CliError> {
    let lock = plan::read_lock(&mut r.c.client).map_err(|e| r.c.explain(e))?;
    let (_, _, digest) = r.c.client.checksum().map_err(|e| r.c.explain(e))?;
    Ok(plan::expected_digests(&r.file, &lock, &r.knows).map(|d| d.contains(&digest)))
}

fn progress_bar(context: &Context, serial: &str) -> indicatif::ProgressBar {
    if context.json || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_prefix(serial.to_string());
    bar
}

fn print_apply(context: &Context, report: &ApplyReport) {
    if context.json {
        say!("{}", report.json());
        return;
    }
    for u in report.users.iter().filter(|u| u.outcome() != "unchanged") {
        let line = u.line.map(|l| format!(" (line {l})")).unwrap_or_default();
        let pin = if u.generated_pin { ", PIN generated (in the PIN file)" } else { "" };
        say!("{:<9} user {} {}{line}{pin}", u.outcome(), u.user, u.name);
        for (what, refusal) in &u.refused {
            say!(
                "            refused: {what}: {}",
                crate::display::refusal_words(crate::session::Refusal::Lock(*refusal))
            );
        }
    }
    say!(
        "lock {}: {} change(s) in {:.1} s, {} resent",
        report.serial,
        report.changes,
        report.elapsed.as_secs_f64(),
        report.resent
    );
    match report.verified {
        Some(true) => say!("verified: the lock's checksum matches {}", report.file.display()),
        Some(false) => {}
        None => say!(
            "note: checksum not compared (PINs kept or generated elsewhere, or a technician key)"
        ),
    }
}

/// How a verification went.
pub(super) struct VerifyReport {
    pub serial: String,
    pub file: PathBuf,
    pub users: u16,
    pub credentials: u16,
    pub checksum: [u8; 16],
    pub matches: bool,
}

impl VerifyReport {
    pub(super) fn result(&self) -> Result<(), CliError> {
        if self.matches { Ok(()) } else { Err(mismatch(&self.serial, &self.file)) }
    }

    pub(super) fn json(&self) -> Value {
        json!({
            "lock": self.serial, "file": self.file, "users": self.users, "credentials": self.credentials,
            "checksum": hex(&self.checksum), "matches": self.matches,
        })
    }
}

pub(super) fn verify_one(
    context: &Context,
    path: &Path,
    pins: Option<&Path>,
    serial: Option<&str>,
) -> Result<VerifyReport, CliError> {
    let pins = pins.map(PinFile::open).transpose()?;
    let mut r = prepare(context, path, Access::Read, pins.as_ref(), serial)?;
    if r.knows.pin_keys.is_empty() {
        return Err(CliError::usage("verifying PINs needs the site key, not a technician key")
            .with_hint("--key NAME with the site's key"));
    }
    let lock = plan::read_lock(&mut r.c.client).map_err(|e| r.c.explain(e))?;
    let (users, credentials, digest) = r.c.client.checksum().map_err(|e| r.c.explain(e))?;
    let Some(expected) = plan::expected_digests(&r.file, &lock, &r.knows) else {
        return Err(CliError::usage(format!(
            "{} has PINs this computer does not know (generate or keep)",
            path.display()
        ))
        .with_hint("give --pins FILE, the PIN file `provision apply --pins-out` wrote"));
    };
    Ok(VerifyReport {
        serial: r.serial,
        file: path.to_path_buf(),
        users,
        credentials,
        checksum: digest,
        matches: expected.contains(&digest),
    })
}

fn print_verify(context: &Context, report: &VerifyReport) {
    if context.json {
        say!("{}", report.json());
    } else if report.matches {
        say!(
            "lock {} holds exactly what {} describes ({} users, {} credentials)",
            report.serial,
            report.file.display(),
            report.users,
            report.credentials
        );
    }
}

fn export(context: &Context, out: Option<&Path>) -> Result<(), CliError> {
    let mut c = open(context, Access::Read)?;
    let serial = c.info()?.serial.to_string();
    if c.pin_keys().map_err(|e| c.explain(e))?.is_empty() {
        return Err(CliError::usage(
            "export needs the site key: a technician sees cards only as fingerprints",
        )
        .with_hint("--key NAME with the site's key"));
    }
    let info = c.info()?.capabilities.max_in_flight;
    c.client.set_window(info);
    let users = plan::read_lock(&mut c.client).map_err(|e| c.explain(e))?;
    let text = crate::ops::provision::export(&serial, &users);
    match out {
        Some(path) => {
            std::fs::write(path, &text)
                .map_err(|e| CliError::host(format!("cannot write {}: {e}", path.display())))?;
            if context.json {
                say!("{}", json!({ "lock": serial, "file": path, "users": users.len() }));
            } else {
                say!("wrote {} user(s) of lock {serial} to {}", users.len(), path.display());
            }
        }
        None => {
            use std::io::Write;
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    Ok(())
}

/// A context for another port (a bench's lock).
pub(super) fn on_port(context: &Context, port: &Path) -> Context {
    let mut c = context.clone();
    c.connect.port = PortChoice::Named(port.to_path_buf(), PortSource::Flag);
    c.connect.picker = None;
    c
}
