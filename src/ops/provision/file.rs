//! Site files: what a lock should hold, as a TOML site file (`[[user]]` tables), a CSV
//! (one user a row) or the JSON list `checksum --verify` reads. The whole file is checked
//! before anything is sent, and every bad row is named by its line with the fix
//! ([`FileError::Invalid`]); the format is `docs/provisioning.md`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use latchkey_protocol::{
    CREDENTIALS_MAX, Capabilities, CardUid, Pin, TimeZoneRule, UserKind, UserName, UserSpec,
    check_pin, pin_is_weak,
};
use serde::Deserialize;

use crate::input::{self, Windows};
use crate::time::Dates;

/// Digits of a generated PIN when the file does not say.
pub const DEFAULT_PIN_LENGTH: u8 = 6;

/// The columns of a CSV site file, in the order `provision export` writes them.
pub const CSV_COLUMNS: [&str; 14] = [
    "user",
    "name",
    "kind",
    "minutes",
    "enabled",
    "valid_from",
    "valid_until",
    "uses",
    "windows",
    "pin",
    "pin_length",
    "cards",
    "phones",
    "fingers",
];

/// The keys of a `[[user]]` table (the CSV columns, and the JSON names `user show` uses).
const KEYS: [&str; 16] = [
    "user",
    "name",
    "kind",
    "minutes",
    "expire_minutes",
    "enabled",
    "valid_from",
    "valid_until",
    "uses",
    "use_limit",
    "windows",
    "pin",
    "pin_length",
    "cards",
    "phones",
    "fingers",
];

/// Where a user's PIN comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinEntry {
    /// This PIN.
    Given(Pin),
    /// Drawn by `apply` when the user has none, `length` digits; written to the PIN file.
    Generate {
        /// Digits.
        length: u8,
    },
    /// Whatever PIN the lock holds (what `provision export` writes: it has no PIN to give).
    Keep,
}

/// One user of a site file, checked.
#[derive(Debug, Clone)]
pub struct Row {
    /// The line it starts on (for JSON: its position in the list, from 1).
    pub line: usize,
    /// User number.
    pub user: u16,
    /// Name.
    pub name: UserName,
    /// Type.
    pub kind: UserKind,
    /// May enter.
    pub enabled: bool,
    /// Not before / not after, as typed; placed by the lock's time zone.
    pub dates: Dates,
    /// Successful uses allowed.
    pub use_limit: Option<u16>,
    /// Weekly windows.
    pub weekly: Windows,
    /// The PIN, if the user has one.
    pub pin: Option<PinEntry>,
    /// Card UIDs.
    pub cards: Vec<CardUid>,
    /// Phone public keys.
    pub phones: Vec<[u8; 32]>,
    /// Fingers enrolled at the lock, if the file says (never enrolled by a file).
    pub fingers: Option<u8>,
}

impl Row {
    /// The user as the lock would hold it; dates without an offset are the lock's local
    /// time by `zone`.
    pub fn spec(&self, zone: &TimeZoneRule) -> UserSpec {
        let (valid_from, valid_until) = self.dates.resolve(zone);
        let mut spec = UserSpec {
            name: self.name.clone(),
            kind: UserKind::Owner,
            enabled: self.enabled,
            valid_from,
            valid_until,
            use_limit: self.use_limit,
            weekly: self.weekly.clone(),
        };
        crate::ops::users::set_kind(&mut spec, self.kind);
        spec
    }
}

/// A checked site file.
#[derive(Debug, Clone)]
pub struct SiteFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its users, in file order.
    pub rows: Vec<Row>,
}

/// What is wrong with one row, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// The line.
    pub line: usize,
    /// The user's number, when the row has a readable one.
    pub user: Option<u16>,
    /// What is wrong.
    pub problem: String,
    /// The fix.
    pub fix: String,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {} (fix: {})", self.line, self.problem, self.fix)
    }
}

/// Why a site file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Unreadable.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Rows that are wrong; nothing was sent.
    #[error("{} has {} bad row(s); nothing was sent", path.display(), bad_rows(problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem, in line order.
        problems: Vec<RowProblem>,
    },
}

/// How many rows `problems` concern.
fn bad_rows(problems: &[RowProblem]) -> usize {
    let mut lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    lines.dedup();
    lines.len()
}

/// A row's fields as text, whatever the format.
#[derive(Debug, Default, Deserialize)]
struct RawRow {
    user: Option<i64>,
    name: Option<String>,
    kind: Option<String>,
    #[serde(alias = "expire_minutes")]
    minutes: Option<i64>,
    enabled: Option<bool>,
    valid_from: Option<String>,
    valid_until: Option<String>,
    #[serde(alias = "use_limit")]
    uses: Option<i64>,
    #[serde(default)]
    windows: Vec<String>,
    pin: Option<String>,
    pin_length: Option<i64>,
    #[serde(default)]
    cards: Vec<String>,
    #[serde(default)]
    phones: Vec<String>,
    fingers: Option<i64>,
}

/// Collects a row's problems.
struct Problems<'a> {
    line: usize,
    user: Option<u16>,
    out: &'a mut Vec<RowProblem>,
}

impl Problems<'_> {
    fn add(&mut self, problem: impl Into<String>, fix: impl Into<String>) {
        self.out.push(RowProblem {
            line: self.line,
            user: self.user,
            problem: problem.into(),
            fix: fix.into(),
        });
    }
}

/// Reads and checks a site file: `.toml` and `.csv` by their extension, anything else as
/// the JSON list.
pub fn load(path: &Path) -> Result<SiteFile, FileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| FileError::Read { path: path.to_path_buf(), source })?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let mut problems = Vec::new();
    let raws = match ext.as_str() {
        "toml" => toml_rows(&text, &mut problems),
        "csv" => csv_rows(&text, &mut problems),
        _ => json_rows(&text, &mut problems),
    };
    let rows = check_rows(raws, &mut problems);
    if problems.is_empty() {
        Ok(SiteFile { path: path.to_path_buf(), rows })
    } else {
        problems.sort_by_key(|p| p.line);
        Err(FileError::Invalid { path: path.to_path_buf(), problems })
    }
}

impl SiteFile {
    /// The rules of this lock that a file can break without the lock's word: user numbers
    /// up to `max_users`, PIN lengths, credentials per user, card UID lengths. Checked
    /// after `Hello`, before anything is changed.
    pub fn check_against(&self, capabilities: &Capabilities) -> Result<(), FileError> {
        let mut problems = Vec::new();
        for row in &self.rows {
            let mut p = Problems { line: row.line, user: Some(row.user), out: &mut problems };
            if row.user > capabilities.max_users {
                p.add(
                    format!(
                        "user number {} is above this lock's {}",
                        row.user, capabilities.max_users
                    ),
                    format!("number users 1 to {}", capabilities.max_users),
                );
            }
            let (min, max) = (capabilities.pin_length_min, capabilities.pin_length_max);
            match &row.pin {
                Some(PinEntry::Given(pin))
                    if check_pin(pin.as_str(), capabilities).is_err()
                        && !pin_is_weak(pin.as_str()) =>
                {
                    p.add(
                        format!("the PIN has {} digits", pin.len()),
                        format!("this lock takes PINs of {min} to {max} digits"),
                    );
                }
                Some(PinEntry::Generate { length }) if !(min..=max).contains(length) => p.add(
                    format!("pin_length {length} is outside this lock's range"),
                    format!("give pin_length {min} to {max}"),
                ),
                _ => {}
            }
            let credentials = usize::from(row.pin.is_some())
                + row.cards.len()
                + row.phones.len()
                + usize::from(row.fingers.unwrap_or(0));
            if credentials > usize::from(capabilities.credentials_per_user) {
                p.add(
                    format!("{credentials} credentials for one user"),
                    format!(
                        "this lock holds at most {} per user",
                        capabilities.credentials_per_user
                    ),
                );
            }
            for card in &row.cards {
                if capabilities.card_uid_lengths & (1u16 << card.len().min(15)) == 0 {
                    p.add(
                        format!("card {} has {} bytes", super::hex(card), card.len()),
                        "this lock reads 4, 7 or 10-byte UIDs; check the card's UID",
                    );
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(FileError::Invalid { path: self.path.clone(), problems })
        }
    }
}

/// The line (from 1) of each `[[user]]` header, in order.
fn toml_headers(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim();
            l.strip_prefix("[[").and_then(|r| r.split(']').next()).map(str::trim) == Some("user")
        })
        .map(|(i, _)| i + 1)
        .collect()
}

fn toml_rows(text: &str, problems: &mut Vec<RowProblem>) -> Vec<(usize, RawRow)> {
    let table: toml::Table = match toml::from_str(text) {
        Ok(table) => table,
        Err(e) => {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
                .unwrap_or(1);
            problems.push(RowProblem {
                line,
                user: None,
                problem: format!("not TOML: {}", e.message()),
                fix: "each user is a [[user]] table of `key = value` lines (docs/provisioning.md)"
                    .into(),
            });
            return Vec::new();
        }
    };
    for key in table.keys().filter(|k| *k != "user") {
        problems.push(RowProblem {
            line: 1,
            user: None,
            problem: format!("unknown top-level key {key:?}"),
            fix: "a site file holds only [[user]] tables".into(),
        });
    }
    let Some(users) = table.get("user") else { return Vec::new() };
    let Some(users) = users.as_array() else {
        problems.push(RowProblem {
            line: 1,
            user: None,
            problem: "`user` is not a list of tables".into(),
            fix: "write each user as a [[user]] table".into(),
        });
        return Vec::new();
    };
    let headers = toml_headers(text);
    let mut out = Vec::new();
    for (index, value) in users.iter().enumerate() {
        let line = headers.get(index).copied().unwrap_or(1);
        let mut p = Problems { line, user: None, out: problems };
        let Some(table) = value.as_table() else {
            p.add("a user that is not a table", "write each user as a [[user]] table");
            continue;
        };
        for key in table.keys().filter(|k| !KEYS.contains(&k.as_str())) {
            p.add(
                format!("unknown key {key:?}"),
                format!("the keys are {}", CSV_COLUMNS.join(", ")),
            );
        }
        match RawRow::deserialize(toml::Value::Table(table.clone())) {
            Ok(raw) => out.push((line, raw)),
            Err(e) => p.add(
                format!("a value of the wrong type: {}", e.message()),
                "numbers without quotes, text in quotes, lists in [ ]",
            ),
        }
    }
    out
}

fn csv_rows(text: &str, problems: &mut Vec<RowProblem>) -> Vec<(usize, RawRow)> {
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.iter().map(str::to_ascii_lowercase).collect::<Vec<_>>(),
        Err(e) => {
            problems.push(RowProblem {
                line: 1,
                user: None,
                problem: format!("no header row: {e}"),
                fix: format!("the first row names the columns: {}", CSV_COLUMNS.join(",")),
            });
            return Vec::new();
        }
    };
    for h in headers.iter().filter(|h| !KEYS.contains(&h.as_str())) {
        problems.push(RowProblem {
            line: 1,
            user: None,
            problem: format!("unknown column {h:?}"),
            fix: format!("the columns are {}", CSV_COLUMNS.join(",")),
        });
    }
    if !headers.iter().any(|h| h == "user") || !headers.iter().any(|h| h == "name") {
        problems.push(RowProblem {
            line: 1,
            user: None,
            problem: "no `user` or `name` column".into(),
            fix: "every row needs a user number and a name".into(),
        });
        return Vec::new();
    }
    let mut out = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(1);
                problems.push(RowProblem {
                    line,
                    user: None,
                    problem: format!("not a CSV row: {e}"),
                    fix: format!("give {} cells, empty where unset", headers.len()),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line() as usize).unwrap_or(1);
        let mut p = Problems { line, user: None, out: problems };
        let mut raw = RawRow::default();
        for (header, cell) in headers.iter().zip(record.iter()) {
            if cell.is_empty() {
                continue;
            }
            let list = || cell.split(';').map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
            let mut number = |what: &str| match cell.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    p.add(
                        format!("{what} {cell:?} is not a number"),
                        format!("write {what} as digits"),
                    );
                    None
                }
            };
            match header.as_str() {
                "user" => raw.user = number("the user number"),
                "name" => raw.name = Some(cell.to_string()),
                "kind" => raw.kind = Some(cell.to_string()),
                "minutes" | "expire_minutes" => raw.minutes = number("minutes"),
                "enabled" => match cell.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" => raw.enabled = Some(true),
                    "false" | "no" | "0" => raw.enabled = Some(false),
                    _ => p.add(format!("enabled {cell:?} is not yes or no"), "write true or false"),
                },
                "valid_from" => raw.valid_from = Some(cell.to_string()),
                "valid_until" => raw.valid_until = Some(cell.to_string()),
                "uses" | "use_limit" => raw.uses = number("uses"),
                "windows" => raw.windows = list().collect(),
                "pin" => raw.pin = Some(cell.to_string()),
                "pin_length" => raw.pin_length = number("pin_length"),
                "cards" => raw.cards = list().collect(),
                "phones" => raw.phones = list().collect(),
                "fingers" => raw.fingers = number("fingers"),
                _ => {}
            }
        }
        out.push((line, raw));
    }
    out
}

fn json_rows(text: &str, problems: &mut Vec<RowProblem>) -> Vec<(usize, RawRow)> {
    let values: Vec<serde_json::Value> = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            problems.push(RowProblem {
                line: e.line().max(1),
                user: None,
                problem: format!("not a JSON list of users: {e}"),
                fix: "a JSON array of objects with user, name, pin, cards, ... (docs/provisioning.md)"
                    .into(),
            });
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (index, value) in values.into_iter().enumerate() {
        match RawRow::deserialize(value) {
            Ok(raw) => out.push((index + 1, raw)),
            Err(e) => problems.push(RowProblem {
                line: index + 1,
                user: None,
                problem: format!("entry {}: {e}", index + 1),
                fix: "numbers without quotes, text in quotes, lists in [ ]".into(),
            }),
        }
    }
    out
}

/// Checks each row on its own, then across rows (numbers, names, PINs and cards that must
/// be unique on a lock).
fn check_rows(raws: Vec<(usize, RawRow)>, problems: &mut Vec<RowProblem>) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut numbers: HashMap<u16, usize> = HashMap::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut pins: HashMap<String, usize> = HashMap::new();
    let mut cards: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut phones: HashMap<[u8; 32], usize> = HashMap::new();
    for (line, raw) in raws {
        let user = raw.user.and_then(|n| u16::try_from(n).ok()).filter(|n| *n > 0);
        let mut p = Problems { line, user, out: problems };
        let Some(row) = check_row(line, raw, &mut p) else { continue };
        if let Some(first) = numbers.insert(row.user, line) {
            p.add(
                format!("user number {} is also on line {first}", row.user),
                "give each user a number of its own",
            );
        }
        let key = row.name.trim().to_ascii_lowercase();
        if let Some(first) = names.insert(key, line) {
            p.add(
                format!("the name {:?} is also on line {first}", row.name.as_str()),
                "the lock refuses two users of the same name: make them differ",
            );
        }
        if let Some(PinEntry::Given(pin)) = &row.pin
            && let Some(first) = pins.insert(pin.as_str().to_string(), line)
        {
            p.add(
                format!("the same PIN as line {first}"),
                "the lock refuses a PIN another user holds: give another PIN, or `generate`",
            );
        }
        for card in &row.cards {
            if let Some(first) = cards.insert(card.to_vec(), line).filter(|f| *f != line) {
                p.add(
                    format!("card {} is also on line {first}", super::hex(card)),
                    "a card belongs to one user",
                );
            }
        }
        for phone in &row.phones {
            if let Some(first) = phones.insert(*phone, line).filter(|f| *f != line) {
                p.add(
                    format!("a phone key also on line {first}"),
                    "a phone key belongs to one user",
                );
            }
        }
        rows.push(row);
    }
    rows
}

fn check_row(line: usize, raw: RawRow, p: &mut Problems<'_>) -> Option<Row> {
    let before = p.out.len();
    let user = match raw.user {
        Some(n) if (1..=i64::from(u16::MAX)).contains(&n) => n as u16,
        Some(n) => {
            p.add(format!("user number {n} is out of range"), "user numbers run from 1");
            0
        }
        None => {
            p.add("no user number", "give `user`, the user's number on the lock (from 1)");
            0
        }
    };
    let name = match raw.name.as_deref().map(input::user_name) {
        Some(Ok(name)) if latchkey_protocol::name_is_valid(&name) => Some(name),
        Some(Ok(_)) => {
            p.add("an empty name, or one with a control character", "give the user a name");
            None
        }
        Some(Err(e)) => {
            p.add(e.to_string(), e.hint());
            None
        }
        None => {
            p.add("no name", "give `name`, 1 to 24 bytes");
            None
        }
    };
    let small = |n: Option<i64>, what: &str, p: &mut Problems<'_>| -> Option<u16> {
        let n = n?;
        match u16::try_from(n) {
            Ok(v) => Some(v),
            Err(_) => {
                p.add(format!("{what} {n} is out of range"), format!("{what} is 0 to 65535"));
                None
            }
        }
    };
    let minutes = small(raw.minutes, "minutes", p);
    let kind = match input::user_kind(raw.kind.as_deref().unwrap_or("owner"), minutes) {
        Ok(kind) => Some(kind),
        Err(e) => {
            let fix = match e {
                input::InputError::ExpiringWithoutMinutes => {
                    "give `minutes` after the first use, e.g. 120"
                }
                _ => e.hint(),
            };
            p.add(e.to_string(), fix);
            None
        }
    };
    let dates = match Dates::parse(raw.valid_from.as_deref(), raw.valid_until.as_deref()) {
        Ok(d) => Some(d),
        Err(e) => {
            p.add(e.to_string(), e.hint());
            None
        }
    };
    let use_limit = small(raw.uses, "uses", p);
    let weekly = match input::windows(&raw.windows) {
        Ok(w) => Some(w),
        Err(e) => {
            p.add(e.to_string(), e.hint());
            None
        }
    };
    let pin = match raw.pin.as_deref().map(str::trim) {
        None | Some("") => {
            if raw.pin_length.is_some() {
                p.add(
                    "pin_length without pin = \"generate\"",
                    "set pin to generate, or drop pin_length",
                );
            }
            None
        }
        Some(k) if k.eq_ignore_ascii_case("keep") => Some(PinEntry::Keep),
        Some(g) if g.eq_ignore_ascii_case("generate") => {
            match raw.pin_length.map(u8::try_from).unwrap_or(Ok(DEFAULT_PIN_LENGTH)) {
                Ok(length) => Some(PinEntry::Generate { length }),
                Err(_) => {
                    p.add("pin_length out of range", "give the number of digits, e.g. 6");
                    None
                }
            }
        }
        Some(text) => match input::pin(text) {
            Ok(pin) if pin_is_weak(pin.as_str()) => {
                p.add(
                    "a weak PIN (one digit repeated, a straight run or a repeated pair)",
                    "choose another PIN, or `generate`",
                );
                None
            }
            Ok(pin) => Some(PinEntry::Given(pin)),
            Err(e) => {
                p.add(format!("pin: {e}"), "digits only, `generate` or `keep`");
                None
            }
        },
    };
    let mut cards = Vec::new();
    for text in &raw.cards {
        match input::card_uid(text) {
            Ok(uid) if cards.contains(&uid) => {
                p.add(format!("card {text} twice"), "list each card once")
            }
            Ok(uid) => cards.push(uid),
            Err(e) => p.add(e.to_string(), e.hint()),
        }
    }
    let mut phones = Vec::new();
    for text in &raw.phones {
        match input::phone_key(text) {
            Ok(key) if phones.contains(&key) => p.add("a phone key twice", "list each phone once"),
            Ok(key) => phones.push(key),
            Err(e) => p.add(e.to_string(), e.hint()),
        }
    }
    let fingers = match raw.fingers.map(u8::try_from) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            p.add("fingers out of range", "give how many fingers are enrolled");
            None
        }
    };
    let credentials = usize::from(pin.is_some()) + cards.len() + phones.len();
    if credentials > CREDENTIALS_MAX {
        p.add(
            format!("{credentials} credentials for one user"),
            format!("a user holds at most {CREDENTIALS_MAX}"),
        );
    }
    let (Some(name), Some(kind), Some(dates), Some(weekly)) = (name, kind, dates, weekly) else {
        return None;
    };
    let row = Row {
        line,
        user,
        name,
        kind,
        enabled: raw.enabled.unwrap_or(true),
        dates,
        use_limit,
        weekly,
        pin,
        cards,
        phones,
        fingers,
    };
    // The lock's own rules for a user, checked here for a message naming the row; dates are
    // placed in UTC only to check their order.
    if let Err(field) = row.spec(&TimeZoneRule::utc()).check() {
        let (problem, fix) = field_words(field);
        p.add(problem, fix);
    }
    (p.out.len() == before).then_some(row)
}

/// A user rule broken, and its fix.
fn field_words(field: latchkey_protocol::Field) -> (String, String) {
    use latchkey_protocol::Field;
    let (problem, fix) = match field {
        Field::UserName => ("the name is empty", "give the user a name"),
        Field::WeeklyWindows => {
            ("a scheduled user without a window", "add windows, e.g. [\"mon-fri 08:00-18:00\"]")
        }
        Field::ValidFrom => ("a guest without valid_from", "give valid_from and valid_until"),
        Field::ValidUntil => (
            "valid_until missing or not after valid_from",
            "give a valid_until later than valid_from",
        ),
        Field::UseLimit => ("uses out of range", "uses is at least 1; a one_time user's is 1"),
        Field::ExpiringMinutes => {
            ("minutes out of range", "an expiring user lasts 1 to 2880 minutes")
        }
        Field::Window { .. } => {
            ("a weekly window the lock refuses", "e.g. \"mon-fri 08:00-18:00\"")
        }
        _ => ("a value the lock refuses", "see docs/provisioning.md"),
    };
    (problem.to_string(), fix.to_string())
}
