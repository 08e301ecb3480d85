//! A bench of locks: one worker thread per port, each applying (or verifying) its own site
//! file, progress bars side by side, a summary table (JSON Lines under `--json`), and an
//! exit that names every lock that failed.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::json;

use super::provision::{apply_one, on_port, verify_one};
use super::{CliError, Context};

/// What each worker does.
#[derive(Debug, Clone, Copy)]
pub(super) enum Job {
    /// `provision apply`.
    Apply {
        /// `--prune`.
        prune: bool,
    },
    /// `provision verify`.
    Verify,
}

/// One lock of a bench file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct BenchLock {
    /// Its serial port.
    port: PathBuf,
    /// Its site file (relative to the bench file).
    file: PathBuf,
    /// Its serial number, checked before anything is sent.
    serial: Option<String>,
    /// Its PIN file (apply) or the one to verify with.
    pins: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bench {
    lock: Vec<BenchLock>,
}

fn load(path: &Path) -> Result<Vec<BenchLock>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::host(format!("{}: {e}", path.display())))?;
    let bench: Bench = toml::from_str(&text).map_err(|e| {
        CliError::usage(format!("{} is not a bench file: {e}", path.display())).with_hint(
            "[[lock]] tables with port = \"...\", file = \"...\" and optionally serial and pins",
        )
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let locks: Vec<BenchLock> = bench
        .lock
        .into_iter()
        .map(|l| BenchLock { file: base.join(&l.file), pins: l.pins.map(|p| base.join(p)), ..l })
        .collect();
    if locks.is_empty() {
        return Err(CliError::usage(format!("{} names no lock", path.display())));
    }
    Ok(locks)
}

/// Runs `job` on every lock of the bench file at once.
pub(super) fn run(context: &Context, bench: &Path, job: Job) -> Result<(), CliError> {
    run_locks(context, load(bench)?, job)
}

/// Runs `job` with the same site file on each of `ports` at once (`--port` given more than
/// once). A PIN file is per lock, so generated PINs need a bench file.
pub(super) fn run_ports(
    context: &Context,
    ports: &[String],
    file: &Path,
    pins: Option<&Path>,
    job: Job,
) -> Result<(), CliError> {
    if pins.is_some() {
        return Err(CliError::usage(
            "a PIN file belongs to one lock, and several ports were given",
        )
        .with_hint("give each lock its own `pins` in a bench file (--bench FILE)"));
    }
    let locks = ports
        .iter()
        .map(|port| BenchLock {
            port: PathBuf::from(port),
            file: file.to_path_buf(),
            serial: None,
            pins: None,
        })
        .collect();
    run_locks(context, locks, job)
}

fn run_locks(context: &Context, locks: Vec<BenchLock>, job: Job) -> Result<(), CliError> {
    // Every site file is checked before any port is opened: one bad row stops the bench.
    for lock in &locks {
        crate::ops::provision::file::load(&lock.file)?;
    }
    let multi = if context.json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
    } else {
        indicatif::MultiProgress::new()
    };
    let outcomes: Vec<(BenchLock, Result<serde_json::Value, CliError>)> = std::thread::scope(|s| {
        let workers: Vec<_> = locks
            .iter()
            .map(|lock| {
                let context = on_port(context, &lock.port);
                let bar = multi.add(indicatif::ProgressBar::new(0));
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{prefix:20} [{bar:30}] {pos}/{len}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar.set_prefix(lock.port.display().to_string());
                s.spawn(move || -> Result<serde_json::Value, CliError> {
                    let serial = lock.serial.as_deref();
                    match job {
                        Job::Apply { prune } => {
                            let report = apply_one(
                                &context,
                                &lock.file,
                                prune,
                                lock.pins.as_deref(),
                                serial,
                                Some(bar),
                            )?;
                            report.result()?;
                            Ok(report.json())
                        }
                        Job::Verify => {
                            let report =
                                verify_one(&context, &lock.file, lock.pins.as_deref(), serial)?;
                            report.result()?;
                            Ok(report.json())
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .zip(&locks)
            .map(|(w, lock)| {
                let outcome = w.join().unwrap_or_else(|_| Err(CliError::host("a worker stopped")));
                (lock.clone(), outcome)
            })
            .collect()
    });
    let _ = multi.clear();
    let mut failed = Vec::new();
    for (lock, outcome) in &outcomes {
        let port = lock.port.display().to_string();
        let name = lock.serial.clone().unwrap_or_else(|| port.clone());
        match outcome {
            Ok(doc) => {
                if context.json {
                    let mut doc = doc.clone();
                    doc["port"] = json!(port);
                    doc["ok"] = json!(true);
                    say!("{doc}");
                } else {
                    let what = match job {
                        Job::Apply { .. } => format!(
                            "{} change(s), {} resent, {} ms",
                            doc["changes"], doc["resent"], doc["elapsed_ms"]
                        ),
                        Job::Verify => {
                            format!("{} users, {} credentials", doc["users"], doc["credentials"])
                        }
                    };
                    say!(
                        "{:<24} {:<12} verified   {what}",
                        port,
                        doc["lock"].as_str().unwrap_or("")
                    );
                }
            }
            Err(e) => {
                if context.json {
                    let mut doc = e.json_document();
                    doc["port"] = json!(port);
                    doc["lock"] = json!(lock.serial);
                    doc["ok"] = json!(false);
                    say!("{doc}");
                } else {
                    say!(
                        "{:<24} {:<12} FAILED     {}",
                        port,
                        lock.serial.as_deref().unwrap_or(""),
                        e.message
                    );
                }
                failed.push((name, e));
            }
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    let names: Vec<String> =
        failed.iter().map(|(n, e)| format!("{n} ({})", e.kind.as_str())).collect();
    let first = &failed[0].1;
    Err(CliError::new(
        first.kind,
        format!("{} of {} lock(s) failed: {}", failed.len(), outcomes.len(), names.join(", ")),
    )
    .with_hint("run the same command again: locks already done are left as they are"))
}
