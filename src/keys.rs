//! The host's keystore: site keys (installer) and technician site keys, one TOML file each.
//!
//! Files live in `$LATCHKEY_KEYSTORE`, else `<config dir>/latchkey/keys/` (on Linux
//! `~/.config/latchkey/keys/`), the folder 0700 and each file 0600. A script can instead name
//! a key file directly (`--key ./site.toml`). Key material never goes to the terminal: export
//! writes a file, and `Debug` on a key prints nothing secret.
//!
//! The folder also holds `claimed-locks`: the serial of each lock claimed from here and the
//! key that claimed it, so a lock that says "not claimed" is not taken on its word; and
//! `log-heads`: the newest log record this host saw on each lock, so a log whose tail was
//! cut (which the lock's own chain cannot show) is caught at the next `log verify`.
//!
//! ```toml
//! # latchkey key file. Secret: whoever holds it manages the locks of this site.
//! format = 1
//! name = "acme-hq"
//! kind = "site"                 # "site" (installer) or "technician"
//! key = "64 hex digits"
//! previous = ["64 hex digits"]  # keys before the last rotations, still tried
//! pending = "64 hex digits"     # a rotation's new key whose answer was lost, also tried
//! created = "2026-11-24T12:00:00Z"
//! ```

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use latchkey_protocol::crypto::{KEY_LEN, SecretKey, lock_key, technician_site_key};
use latchkey_protocol::{LOG_TAG_LEN, Role};
use serde::{Deserialize, Serialize};

/// Environment variable naming the keystore folder.
pub const KEYSTORE_ENV: &str = "LATCHKEY_KEYSTORE";
/// Environment variable naming the key to use (a keystore name or a file path).
pub const KEY_ENV: &str = "LATCHKEY_KEY";
/// Name of the key `claim` creates when the keystore is empty.
pub const DEFAULT_KEY_NAME: &str = "default";

/// What a key file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// A site key: installer sessions on every lock of the site.
    Site,
    /// A technician site key: read-only sessions on every lock of the site.
    Technician,
}

impl KeyKind {
    /// The session role this kind of key opens.
    pub fn role(self) -> Role {
        match self {
            Self::Site => Role::Installer,
            Self::Technician => Role::Technician,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileToml {
    format: u32,
    name: String,
    kind: KeyKind,
    key: String,
    #[serde(default)]
    previous: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending: Option<String>,
    created: String,
}

/// A loaded key file.
#[derive(Debug, Clone)]
pub struct KeyFile {
    /// Its name.
    pub name: String,
    /// Site or technician.
    pub kind: KeyKind,
    /// The current key.
    pub key: SecretKey,
    /// Earlier keys, newest first, for locks not yet moved to the current one.
    pub previous: Vec<SecretKey>,
    /// The next key of a rotation that was sent to a lock without its answer coming back (a
    /// pulled cable): kept until a session shows whether the lock took it. Written before the
    /// rotation is sent, so no lock can hold a key the file does not.
    pub pending: Option<SecretKey>,
    /// When it was made (RFC 3339).
    pub created: String,
    /// Where it was loaded from, if from a file.
    pub path: Option<PathBuf>,
}

/// Why a key could not be used or stored.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No such key in the keystore.
    #[error("no key named {name:?} in the keystore {dir}")]
    NotFound {
        /// The name asked for.
        name: String,
        /// The keystore folder.
        dir: PathBuf,
    },
    /// The keystore holds no key at all.
    #[error("the keystore {dir} holds no key")]
    Empty {
        /// The keystore folder.
        dir: PathBuf,
    },
    /// Several keys and none named.
    #[error("the keystore holds several keys ({names}); say which with --key NAME")]
    Ambiguous {
        /// Their names.
        names: String,
    },
    /// A key of that name exists.
    #[error("a key named {name:?} already exists at {path}")]
    Exists {
        /// The name.
        name: String,
        /// Its file.
        path: PathBuf,
    },
    /// The name cannot be a file name.
    #[error("{0:?} is not a usable key name (letters, digits, '-', '_' and '.', at most 64)")]
    BadName(String),
    /// A key file named explicitly (`--key PATH`) that does not exist.
    #[error("there is no key file {path}")]
    NoSuchFile {
        /// The path given.
        path: PathBuf,
    },
    /// Something other than a regular file where a key file should be: a symbolic link, a
    /// device, a directory, a pipe. Never read, and never `chmod`ed on our advice.
    #[error("{path} is {what}, not a key file")]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is ("a symbolic link", "a directory", ...).
        what: &'static str,
    },
    /// The keystore folder, ours, lets other users add or replace key files.
    #[error("the keystore folder {dir} is writable by other users (mode {mode:o})")]
    KeystoreOpen {
        /// The folder.
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The keystore folder is writable by other users and belongs to someone else.
    #[error(
        "the keystore folder {dir} is writable by other users (mode {mode:o}) and is not yours"
    )]
    KeystoreForeign {
        /// The folder.
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A file is readable by others.
    #[error("key file {path} is readable by other users (mode {mode:o})")]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A file is not a valid key file.
    #[error("{path} is not a valid latchkey key file: {why}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The OS random number generator failed.
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
    /// No folder for the keystore.
    #[error("cannot find a configuration folder for the keystore; set {KEYSTORE_ENV}")]
    NoKeystore,
}

impl KeyError {
    /// Whether this says only that no key was named and the keystore offers none to pick
    /// (none at all, or several). A command that can do without a session may go on; any
    /// other key error (a named key missing, a damaged or unsafe file) must stop it.
    pub fn is_no_key(&self) -> bool {
        matches!(self, Self::Empty { .. } | Self::Ambiguous { .. } | Self::NoKeystore)
    }

    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            Self::NotFound { .. } | Self::Empty { .. } => {
                "create one with `latchkey key create NAME`, import one with `latchkey key import FILE`, or name a key file with --key PATH".into()
            }
            Self::Ambiguous { .. } => "`latchkey key list` shows them".into(),
            Self::Exists { .. } => "choose another name, or remove the old file first".into(),
            Self::BadName(_) => "e.g. acme-hq".into(),
            Self::NoSuchFile { .. } => {
                "check the path; `latchkey key list` shows the keystore's keys, which --key takes by name".into()
            }
            Self::NotAFile { .. } => {
                "a key file is a regular file: name the file itself, or export the key again with `latchkey key export NAME --out FILE`".into()
            }
            Self::KeystoreOpen { dir, .. } => format!("run `chmod 700 {}`", dir.display()),
            Self::KeystoreForeign { .. } => {
                format!("keep your keys in a folder of your own: set {KEYSTORE_ENV} to one (mode 0700)")
            }
            Self::TooOpen { path, .. } => format!("run `chmod 600 {}`", path.display()),
            Self::Invalid { .. } => "export it again from the installer's keystore".into(),
            Self::Io { .. } => "check the path and its permissions".into(),
            Self::Random(_) => "the system's entropy source is unavailable".into(),
            Self::NoKeystore => format!("e.g. export {KEYSTORE_ENV}=$HOME/.latchkey-keys"),
        }
    }
}

/// Fresh random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(out)
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Lower-case hex, two digits a byte.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<[u8; KEY_LEN]> {
    bytes_from_hex(text)?.try_into().ok()
}

/// The bytes of hex text (surrounding blanks ignored), if it is hex.
pub fn bytes_from_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len() / 2).map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

/// A short printable fingerprint of a key.
pub fn fingerprint(key: &SecretKey) -> String {
    let fp = key.fingerprint();
    fp.chunks(2).map(to_hex).collect::<Vec<_>>().join(":")
}

impl KeyFile {
    /// A fresh site key.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_string(),
            kind: KeyKind::Site,
            key: SecretKey(random_bytes()?),
            previous: Vec::new(),
            pending: None,
            created: now_rfc3339(),
            path: None,
        })
    }

    /// The session role this key opens.
    pub fn role(&self) -> Role {
        self.kind.role()
    }

    /// The technician key file for this site key.
    pub fn technician(&self) -> Self {
        let derive = |k: &SecretKey| match self.kind {
            KeyKind::Site => technician_site_key(k),
            KeyKind::Technician => k.clone(),
        };
        Self {
            name: format!("{}-technician", self.name.trim_end_matches("-technician")),
            kind: KeyKind::Technician,
            key: derive(&self.key),
            previous: self.previous.iter().map(derive).collect(),
            pending: None,
            created: now_rfc3339(),
            path: None,
        }
    }

    /// The lock keys this file can open sessions with on lock `serial`: the current one, the
    /// previous ones newest first, then the pending one ([`KeyFile::pending_index`]).
    pub fn lock_keys(&self, serial: &str) -> Vec<SecretKey> {
        std::iter::once(&self.key)
            .chain(&self.previous)
            .chain(&self.pending)
            .map(|k| lock_key(self.role(), k, serial))
            .collect()
    }

    /// Where the pending key is in [`KeyFile::lock_keys`], if there is one.
    pub fn pending_index(&self) -> Option<usize> {
        self.pending.as_ref().map(|_| 1 + self.previous.len())
    }

    /// This file with a pending next key: the one already pending (an interrupted rotation
    /// is finished with the same key, so every lock of the site ends on one), else a new one.
    pub fn with_pending(&self) -> Result<Self, KeyError> {
        let mut next = self.clone();
        if next.pending.is_none() {
            next.pending = Some(SecretKey(random_bytes()?));
        }
        Ok(next)
    }

    /// This file with its pending key made current and the current one kept as previous;
    /// `None` without a pending key.
    pub fn promoted(&self) -> Option<Self> {
        let pending = self.pending.clone()?;
        let mut previous = vec![self.key.clone()];
        previous.extend(self.previous.iter().cloned());
        Some(Self { key: pending, previous, pending: None, created: now_rfc3339(), ..self.clone() })
    }

    /// This file without its previous keys.
    pub fn without_previous(&self) -> Self {
        Self { previous: Vec::new(), ..self.clone() }
    }

    /// Writes this file where it came from (its path, else the keystore, under its name).
    pub fn store(&self) -> Result<PathBuf, KeyError> {
        match &self.path {
            Some(path) => self.save(path, true).map(|()| path.clone()),
            None => Keystore::locate()?.replace(self),
        }
    }

    /// Both keys a lock stores, derived from this site key: (installer, technician).
    /// `None` for a technician file, which cannot claim.
    pub fn lock_pair(&self, serial: &str) -> Option<(SecretKey, SecretKey)> {
        (self.kind == KeyKind::Site).then(|| {
            (
                lock_key(Role::Installer, &self.key, serial),
                lock_key(Role::Technician, &technician_site_key(&self.key), serial),
            )
        })
    }

    /// The file's text. Secret: write it only to a file or a pipe.
    pub fn to_toml(&self) -> String {
        let doc = KeyFileToml {
            format: 1,
            name: self.name.clone(),
            kind: self.kind,
            key: to_hex(self.key.as_bytes()),
            previous: self.previous.iter().map(|k| to_hex(k.as_bytes())).collect(),
            pending: self.pending.as_ref().map(|k| to_hex(k.as_bytes())),
            created: self.created.clone(),
        };
        let body = toml::to_string(&doc).unwrap_or_default();
        format!(
            "# latchkey key file. Secret: whoever holds it manages the locks of this site{}.\n{body}",
            if self.kind == KeyKind::Technician { " (read-only)" } else { "" }
        )
    }

    /// Reads a key file, refusing one that other users can read and anything that is not
    /// a regular file (a link is not followed, a device or a pipe never read).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io { path: path.to_path_buf(), source };
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyError::NoSuchFile { path: path.to_path_buf() });
            }
            Err(source) => return Err(io(source)),
        };
        check_regular(path, &meta)?;
        // Opened without following a link and without blocking, then checked again on the
        // open file: what is read is what was checked.
        let fd = rustix::fs::open(
            path,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::NOFOLLOW
                | rustix::fs::OFlags::NONBLOCK
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| io(e.into()))?;
        let mut file = fs::File::from(fd);
        let meta = file.metadata().map_err(io)?;
        check_regular(path, &meta)?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::TooOpen { path: path.to_path_buf(), mode });
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).map_err(io)?;
        let invalid = |why: String| KeyError::Invalid { path: path.to_path_buf(), why };
        let doc: KeyFileToml = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if doc.format != 1 {
            return Err(invalid(format!("format {} is not supported", doc.format)));
        }
        let key = from_hex(&doc.key).ok_or_else(|| invalid("`key` is not 64 hex digits".into()))?;
        let previous = doc
            .previous
            .iter()
            .map(|p| from_hex(p).map(SecretKey))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("`previous` holds something other than 64 hex digits".into()))?;
        let pending = match &doc.pending {
            Some(p) => Some(SecretKey(
                from_hex(p).ok_or_else(|| invalid("`pending` is not 64 hex digits".into()))?,
            )),
            None => None,
        };
        Ok(Self {
            name: doc.name,
            kind: doc.kind,
            key: SecretKey(key),
            previous,
            pending,
            created: doc.created,
            path: Some(path.to_path_buf()),
        })
    }

    /// Writes the key file at `path`, mode 0600, atomically (a temporary file renamed into
    /// place), so a crash never leaves half a key. `overwrite: false` refuses an existing file.
    pub fn save(&self, path: &Path, overwrite: bool) -> Result<(), KeyError> {
        if !overwrite && path.exists() {
            return Err(KeyError::Exists { name: self.name.clone(), path: path.to_path_buf() });
        }
        write_private(path, self.to_toml().as_bytes())
    }
}

/// Writes `bytes` to `path`, mode 0600, atomically: into a temporary file beside it, created
/// exclusively under a random name (nobody can have prepared or linked it), synced, then
/// renamed into place. A crash leaves the old file or the new one, never half of one.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let io = |source| KeyError::Io { path: path.to_path_buf(), source };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tag = u64::from_le_bytes(random_bytes::<8>()?);
    let tmp = path.with_file_name(format!(".{name}.{tag:016x}.tmp"));
    let mut file =
        fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io)?;
    let written =
        file.write_all(bytes).and_then(|()| file.sync_all()).and_then(|()| fs::rename(&tmp, path));
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io(source));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), KeyError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(()) } else { Err(KeyError::BadName(name.to_string())) }
}

/// Refuses anything but a regular file, saying what it is.
fn check_regular(path: &Path, meta: &fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(KeyError::NotAFile { path: path.to_path_buf(), what })
}

/// Whether a keystore folder with permission bits `mode`, owned by `owner`, may be used by
/// `me`: nobody else may add or replace its files. The `chmod` advice is only for our own.
fn check_keystore_mode(dir: &Path, mode: u32, owner: u32, me: u32) -> Result<(), KeyError> {
    let mode = mode & 0o7777;
    if mode & 0o022 == 0 {
        Ok(())
    } else if owner == me {
        Err(KeyError::KeystoreOpen { dir: dir.to_path_buf(), mode })
    } else {
        Err(KeyError::KeystoreForeign { dir: dir.to_path_buf(), mode })
    }
}

/// The keystore folder.
#[derive(Debug, Clone)]
pub struct Keystore {
    dir: PathBuf,
}

impl Keystore {
    /// The keystore named by `$LATCHKEY_KEYSTORE`, else the user's.
    pub fn locate() -> Result<Self, KeyError> {
        let dir = match std::env::var_os(KEYSTORE_ENV) {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => dirs::config_dir().ok_or(KeyError::NoKeystore)?.join("latchkey").join("keys"),
        };
        Ok(Self { dir })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, name: &str) -> Result<PathBuf, KeyError> {
        check_name(name)?;
        Ok(self.dir.join(format!("{name}.toml")))
    }

    /// Checks the folder, if it exists: a real folder nobody else can write to.
    fn check_dir(&self) -> Result<(), KeyError> {
        use std::os::unix::fs::MetadataExt;
        let meta = match fs::metadata(&self.dir) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(KeyError::Io { path: self.dir.clone(), source }),
        };
        if !meta.is_dir() {
            let source = std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder");
            return Err(KeyError::Io { path: self.dir.clone(), source });
        }
        let me = rustix::process::geteuid().as_raw();
        check_keystore_mode(&self.dir, meta.mode(), meta.uid(), me)
    }

    /// Creates the folder (mode 0700) if it does not exist; refuses one others can write to.
    fn ensure_dir(&self) -> Result<(), KeyError> {
        let io = |source| KeyError::Io { path: self.dir.clone(), source };
        if !self.dir.exists() {
            fs::create_dir_all(&self.dir).map_err(io)?;
            fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
        self.check_dir()
    }

    /// Every key file, sorted by name.
    pub fn list(&self) -> Result<Vec<KeyFile>, KeyError> {
        self.check_dir()?;
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(KeyError::Io { path: self.dir.clone(), source }),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let path =
                entry.map_err(|source| KeyError::Io { path: self.dir.clone(), source })?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                keys.push(KeyFile::load(&path)?);
            }
        }
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(keys)
    }

    /// The key called `name`.
    pub fn get(&self, name: &str) -> Result<KeyFile, KeyError> {
        self.check_dir()?;
        let path = self.path_of(name)?;
        match KeyFile::load(&path) {
            Err(KeyError::NoSuchFile { .. }) => {
                Err(KeyError::NotFound { name: name.to_string(), dir: self.dir.clone() })
            }
            other => other,
        }
    }

    /// The only key, when there is exactly one.
    pub fn only(&self) -> Result<KeyFile, KeyError> {
        let mut keys = self.list()?;
        match keys.len() {
            0 => Err(KeyError::Empty { dir: self.dir.clone() }),
            1 => Ok(keys.remove(0)),
            _ => Err(KeyError::Ambiguous {
                names: keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// Stores a new key file; refuses to replace one.
    pub fn add(&self, key: &KeyFile) -> Result<PathBuf, KeyError> {
        self.ensure_dir()?;
        let path = self.path_of(&key.name)?;
        key.save(&path, false)?;
        Ok(path)
    }

    /// Replaces a stored key file (after a rotation).
    pub fn replace(&self, key: &KeyFile) -> Result<PathBuf, KeyError> {
        self.ensure_dir()?;
        let path = self.path_of(&key.name)?;
        key.save(&path, true)?;
        Ok(path)
    }
}

/// The file in the keystore folder that records the locks claimed from this keystore and
/// the key that claimed each: `SERIAL<TAB>KEY NAME` a line. It lets the host tell a lock that
/// says "not claimed" from one it claimed ([`Keystore::claimed_with`]) without trusting the
/// lock's unauthenticated word. Not a `.toml`: the folder's `.toml` files are keys.
const CLAIMS_FILE: &str = "claimed-locks";

impl Keystore {
    /// The lines of one of the folder's record files (`claimed-locks`, `log-heads`), comments
    /// left out; none if it does not exist yet.
    fn record_lines(&self, name: &str) -> Result<Vec<String>, KeyError> {
        self.check_dir()?;
        let path = self.dir.join(name);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(KeyError::Io { path, source }),
        };
        Ok(text.lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect())
    }

    /// Replaces record file `name` with a `# header` line and `lines`, privately.
    fn write_record_lines(
        &self,
        name: &str,
        header: &str,
        lines: impl Iterator<Item = String>,
    ) -> Result<(), KeyError> {
        self.ensure_dir()?;
        let mut text = format!("# {header}\n");
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        write_private(&self.dir.join(name), text.as_bytes())
    }

    fn claims(&self) -> Result<Vec<(String, String)>, KeyError> {
        Ok(self
            .record_lines(CLAIMS_FILE)?
            .iter()
            .filter_map(|l| l.split_once('\t'))
            .map(|(serial, key)| (serial.to_string(), key.to_string()))
            .collect())
    }

    fn write_claims(&self, claims: &[(String, String)]) -> Result<(), KeyError> {
        let lines = claims.iter().map(|(serial, key)| format!("{serial}\t{key}"));
        let header = "Locks claimed from this keystore: serial, tab, key name.";
        self.write_record_lines(CLAIMS_FILE, header, lines)
    }

    /// The name of the key that claimed lock `serial` from here, if one did.
    pub fn claimed_with(&self, serial: &str) -> Result<Option<String>, KeyError> {
        Ok(self.claims()?.into_iter().find(|(s, _)| s == serial).map(|(_, key)| key))
    }

    /// Notes that lock `serial` was claimed with key `key`.
    pub fn record_claim(&self, serial: &str, key: &str) -> Result<(), KeyError> {
        if !serial_fits_a_line(serial) {
            return Ok(());
        }
        let mut claims = self.claims()?;
        claims.retain(|(s, _)| s != serial);
        claims.push((serial.to_string(), key.to_string()));
        self.write_claims(&claims)
    }

    /// Forgets lock `serial` (after a factory reset from here).
    pub fn forget_claim(&self, serial: &str) -> Result<(), KeyError> {
        let mut claims = self.claims()?;
        let before = claims.len();
        claims.retain(|(s, _)| s != serial);
        if claims.len() == before { Ok(()) } else { self.write_claims(&claims) }
    }
}

/// The file in the keystore folder that records, per lock, the log head this host last saw:
/// `SERIAL<TAB>SEQ<TAB>TAG (hex)<TAB>WHEN` a line ([`LogHead`]).
const HEADS_FILE: &str = "log-heads";

/// The file in the keystore folder that pins, per lock, the device key its log heads are
/// signed with: `SERIAL<TAB>KEY (hex)` a line.
const DEVICE_KEYS_FILE: &str = "device-keys";

/// A lock's log head as this host last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHead {
    /// The newest record's seq.
    pub seq: u32,
    /// Its chain tag.
    pub tag: [u8; LOG_TAG_LEN],
    /// When this host saw it (RFC 3339).
    pub seen: String,
}

impl Keystore {
    fn heads(&self) -> Result<Vec<(String, LogHead)>, KeyError> {
        Ok(self
            .record_lines(HEADS_FILE)?
            .iter()
            .filter_map(|line| {
                let mut fields = line.split('\t');
                let serial = fields.next()?.to_string();
                let seq = fields.next()?.parse().ok()?;
                // A line of an older latchkey (a whole record, not a tag) is not a head.
                let tag = bytes_from_hex(fields.next()?)?.try_into().ok()?;
                let seen = fields.next()?.to_string();
                Some((serial, LogHead { seq, tag, seen }))
            })
            .collect())
    }

    /// The log head this host last saw on lock `serial`, if it saw one.
    pub fn log_head(&self, serial: &str) -> Result<Option<LogHead>, KeyError> {
        Ok(self.heads()?.into_iter().find(|(s, _)| s == serial).map(|(_, head)| head))
    }

    /// Notes the log head seen on lock `serial` (now).
    pub fn record_log_head(
        &self,
        serial: &str,
        seq: u32,
        tag: [u8; LOG_TAG_LEN],
    ) -> Result<(), KeyError> {
        if !serial_fits_a_line(serial) {
            return Ok(());
        }
        let mut heads = self.heads()?;
        heads.retain(|(s, _)| s != serial);
        heads.push((serial.to_string(), LogHead { seq, tag, seen: now_rfc3339() }));
        let lines = heads.iter().map(|(serial, head)| {
            format!("{serial}\t{}\t{}\t{}", head.seq, to_hex(&head.tag), head.seen)
        });
        let header = "The log head this host last saw on each lock: serial, seq, chain tag, when.";
        self.write_record_lines(HEADS_FILE, header, lines)
    }

    fn device_keys(&self) -> Result<Vec<(String, [u8; 32])>, KeyError> {
        Ok(self
            .record_lines(DEVICE_KEYS_FILE)?
            .iter()
            .filter_map(|line| {
                let (serial, key) = line.split_once('\t')?;
                Some((serial.to_string(), bytes_from_hex(key)?.try_into().ok()?))
            })
            .collect())
    }

    /// The device key pinned for lock `serial`, if one is.
    pub fn device_key(&self, serial: &str) -> Result<Option<[u8; 32]>, KeyError> {
        Ok(self.device_keys()?.into_iter().find(|(s, _)| s == serial).map(|(_, key)| key))
    }

    /// Pins `key` as lock `serial`'s device key, in place of any pinned before.
    pub fn pin_device_key(&self, serial: &str, key: &[u8; 32]) -> Result<(), KeyError> {
        if !serial_fits_a_line(serial) {
            return Ok(());
        }
        let mut keys = self.device_keys()?;
        keys.retain(|(s, _)| s != serial);
        keys.push((serial.to_string(), *key));
        let lines = keys.iter().map(|(serial, key)| format!("{serial}\t{}", to_hex(key)));
        let header =
            "The device key each lock signs its log heads with: serial, Ed25519 public key.";
        self.write_record_lines(DEVICE_KEYS_FILE, header, lines)
    }
}

/// Whether a serial can be a key of the keystore's record files: a serial is the lock's
/// word, and one that would break the line format is not kept.
fn serial_fits_a_line(serial: &str) -> bool {
    !serial.is_empty() && !serial.chars().any(char::is_control)
}

/// Resolves `--key`/`LATCHKEY_KEY`: a path to a key file if it looks like one, else a
/// keystore name; with neither, the keystore's only key.
pub fn resolve(spec: Option<&str>) -> Result<KeyFile, KeyError> {
    let env = std::env::var(KEY_ENV).ok().filter(|s| !s.is_empty());
    match spec.map(str::to_string).or(env) {
        Some(spec) if spec.contains('/') || spec.ends_with(".toml") => {
            KeyFile::load(Path::new(&spec))
        }
        Some(name) => Keystore::locate()?.get(&name),
        None => Keystore::locate()?.only(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_with_mode_0600_and_refuse_open_ones() {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyFile::generate("acme").unwrap().with_pending().unwrap().promoted().unwrap();
        let path = dir.path().join("acme.toml");
        key.save(&path, false).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let back = KeyFile::load(&path).unwrap();
        assert_eq!(back.key, key.key);
        assert_eq!(back.previous, key.previous);
        assert!(matches!(key.save(&path, false), Err(KeyError::Exists { .. })));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(KeyFile::load(&path), Err(KeyError::TooOpen { .. })));
    }

    #[test]
    fn technician_file_opens_technician_sessions_and_cannot_claim() {
        let site = KeyFile::generate("acme").unwrap();
        let tech = site.technician();
        assert_eq!(tech.role(), Role::Technician);
        assert!(tech.lock_pair("S1").is_none());
        let (_, lock_tech) = site.lock_pair("S1").unwrap();
        assert_eq!(tech.lock_keys("S1")[0], lock_tech);
        assert!(!format!("{tech:?}").contains(&to_hex(tech.key.as_bytes())));
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("acme-hq_2.b").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "sp ace"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn anything_but_a_regular_file_is_refused_without_a_chmod_hint() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        KeyFile::generate("acme").unwrap().save(&real, false).unwrap();
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let folder = dir.path().join("folder.toml");
        fs::create_dir(&folder).unwrap();
        for (path, what) in [
            (link.as_path(), "a symbolic link"),
            (folder.as_path(), "a directory"),
            (Path::new("/dev/null"), "a character device"),
        ] {
            let error = KeyFile::load(path).unwrap_err();
            assert!(matches!(error, KeyError::NotAFile { .. }), "{error:?}");
            assert!(error.to_string().contains(what), "{error}");
            assert!(!error.hint().contains("chmod"), "{}", error.hint());
        }
        assert!(KeyFile::load(&real).is_ok());
    }

    #[test]
    fn a_missing_key_file_is_an_error_of_its_own() {
        let error = KeyFile::load(Path::new("/nonexistent/k.toml")).unwrap_err();
        assert!(matches!(error, KeyError::NoSuchFile { .. }), "{error:?}");
        assert!(!error.is_no_key());
    }

    #[test]
    fn a_keystore_folder_others_can_write_is_refused_and_chmod_is_advised_only_for_our_own() {
        let dir = Path::new("/keys");
        assert!(check_keystore_mode(dir, 0o40700, 1000, 1000).is_ok());
        assert!(check_keystore_mode(dir, 0o40755, 1000, 1000).is_ok());
        assert!(check_keystore_mode(dir, 0o40755, 0, 1000).is_ok());
        for mode in [0o40777, 0o40770, 0o40702, 0o41777] {
            let ours = check_keystore_mode(dir, mode, 1000, 1000).unwrap_err();
            assert!(matches!(ours, KeyError::KeystoreOpen { .. }), "{mode:o}");
            assert_eq!(ours.hint(), "run `chmod 700 /keys`");
            let theirs = check_keystore_mode(dir, mode, 0, 1000).unwrap_err();
            assert!(matches!(theirs, KeyError::KeystoreForeign { .. }), "{mode:o}");
            assert!(!theirs.hint().contains("chmod"), "{}", theirs.hint());
        }
    }

    #[test]
    fn a_keystore_folder_others_can_write_is_refused_when_reading_and_writing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Keystore { dir: dir.path().join("keys") };
        store.add(&KeyFile::generate("acme").unwrap()).unwrap();
        assert_eq!(fs::metadata(store.dir()).unwrap().permissions().mode() & 0o777, 0o700);
        fs::set_permissions(store.dir(), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(store.list(), Err(KeyError::KeystoreOpen { .. })));
        assert!(matches!(store.get("acme"), Err(KeyError::KeystoreOpen { .. })));
        let other = KeyFile::generate("other").unwrap();
        assert!(matches!(store.add(&other), Err(KeyError::KeystoreOpen { .. })));
        // Not silently fixed either.
        assert_eq!(fs::metadata(store.dir()).unwrap().permissions().mode() & 0o777, 0o777);
    }
}
