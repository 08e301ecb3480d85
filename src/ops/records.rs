//! Log records as data: which user a record concerns, one record as a flat JSON object or a
//! CSV row (what `latchkey log read --json/--csv` prints and the dashboard exports), and the
//! filter both faces apply (by user, access path and kind).

use std::io::Write;
use std::path::Path;

use latchkey_protocol::{AccessPath, LogEntry, LogKind, LogRecord};
use serde_json::{Value, json};

use crate::time::{format_unix, lock_time};

/// The user a record concerns, if any (a burst's: its attempt's).
pub fn record_user(entry: &LogEntry) -> Option<u16> {
    match entry {
        LogEntry::Access { user, .. }
        | LogEntry::Change { user, .. }
        | LogEntry::DuplicatePin { user, .. } => *user,
        LogEntry::Repeated { of, .. } => record_user(&of.entry()),
        _ => None,
    }
}

/// One record as a flat JSON object: `seq`, `at`, `kind`, then the kind's fields.
pub fn record_json(r: &LogRecord) -> Value {
    let mut doc = json!({
        "seq": r.seq,
        "at": lock_time(r.at).map(format_unix),
        "kind": r.entry.kind().as_str(),
        "class": r.entry.class().as_str(),
    });
    let fields = entry_json(&r.entry);
    if let (Some(doc), Value::Object(fields)) = (doc.as_object_mut(), fields) {
        doc.extend(fields);
    }
    doc
}

/// An entry's own fields as a JSON object.
fn entry_json(entry: &LogEntry) -> Value {
    match *entry {
        LogEntry::Access { path, granted, user, reason } => {
            json!({ "path": path.as_str(), "granted": granted, "user": user, "reason": reason.as_str() })
        }
        LogEntry::Change { what, role, user } => {
            json!({ "what": what.as_str(), "role": role.as_str(), "user": user })
        }
        LogEntry::Alarm { alarm, raised } => json!({ "alarm": alarm.as_str(), "raised": raised }),
        LogEntry::Battery { millivolts, state, replaced } => {
            json!({ "millivolts": millivolts, "state": state.as_str(), "replaced": replaced })
        }
        LogEntry::PowerUp { boot_count, reason } => {
            json!({ "boot_count": boot_count, "reset_reason": reason.as_str() })
        }
        LogEntry::ClockSet { from, to } => json!({
            "from": lock_time(from).map(format_unix),
            "to": format_unix(to),
        }),
        LogEntry::Session { role, opened } => json!({ "role": role.as_str(), "opened": opened }),
        LogEntry::AuthFailed { claim } => {
            json!({ "during": if claim { "claim" } else { "session" } })
        }
        LogEntry::Cleared { removed } => json!({ "removed": removed }),
        LogEntry::DuplicatePin { role, user } => json!({ "role": role.as_str(), "user": user }),
        LogEntry::Door { open } => json!({ "open": open }),
        LogEntry::Repeated { of, count, first } => {
            // The repeated attempt's own fields, then the burst's.
            let repeated = of.entry();
            let mut doc = entry_json(&repeated);
            if let Some(doc) = doc.as_object_mut() {
                doc.insert("of".into(), json!(repeated.kind().as_str()));
                doc.insert("count".into(), json!(count));
                doc.insert("first".into(), json!(lock_time(first).map(format_unix)));
            }
            doc
        }
    }
}

pub const CSV_COLUMNS: [&str; 7] =
    ["seq", "at", "kind", "user", "path_or_what", "outcome", "detail"];

pub fn record_csv(r: &LogRecord) -> [String; 7] {
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
        LogEntry::DuplicatePin { .. } => (String::new(), "refused".into(), field("role")),
        LogEntry::Door { open } => {
            ("door".into(), if open { "opened" } else { "closed" }.into(), String::new())
        }
        LogEntry::Repeated { .. } => {
            (field("of"), format!("{} more", field("count")), format!("since {}", field("first")))
        }
    };
    [
        r.seq.to_string(),
        field("at"),
        r.entry.kind().as_str().to_string(),
        field("user"),
        path_or_what,
        outcome,
        detail,
    ]
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only records about this user.
    pub user: Option<u16>,
    /// Only access attempts by this path.
    pub path: Option<AccessPath>,
    /// Only records of this kind.
    pub kind: Option<LogKind>,
}

impl Filter {
    /// Whether it keeps less than everything.
    pub fn is_active(&self) -> bool {
        self.user.is_some() || self.path.is_some() || self.kind.is_some()
    }

    /// Whether it keeps `r`.
    pub fn keeps(&self, r: &LogRecord) -> bool {
        if self.user.is_some() && record_user(&r.entry) != self.user {
            return false;
        }
        if self.kind.is_some_and(|kind| r.entry.kind() != kind) {
            return false;
        }
        if let Some(path) = self.path {
            match r.entry {
                LogEntry::Access { path: p, .. } if p == path => {}
                _ => return false,
            }
        }
        true
    }
}

/// How [`export`] writes records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A header row, then one row per record ([`CSV_COLUMNS`]).
    Csv,
    /// One JSON object per line ([`record_json`]).
    JsonLines,
}

impl ExportFormat {
    /// CSV for a name ending in `.csv`, JSON Lines otherwise.
    pub fn for_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Self::Csv,
            _ => Self::JsonLines,
        }
    }
}

/// Why records could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The file could not be created or written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Writes `records` to a new file at `path` as `format` (an existing file is not
/// overwritten: an export never destroys an earlier one). Returns how many were written.
pub fn export<'a>(
    path: &Path,
    records: impl IntoIterator<Item = &'a LogRecord>,
    format: ExportFormat,
) -> Result<usize, ExportError> {
    let io = |source| ExportError::Io { path: path.display().to_string(), source };
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(io)?;
    let mut out = std::io::BufWriter::new(file);
    let mut count = 0;
    match format {
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(CSV_COLUMNS).map_err(|e| io(e.into()))?;
            for r in records {
                w.write_record(record_csv(r)).map_err(|e| io(e.into()))?;
                count += 1;
            }
            w.flush().map_err(io)?;
        }
        ExportFormat::JsonLines => {
            for r in records {
                writeln!(out, "{}", record_json(r)).map_err(io)?;
                count += 1;
            }
        }
    }
    out.flush().map_err(io)?;
    Ok(count)
}
