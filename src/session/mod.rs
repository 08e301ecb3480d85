//! Connecting to a lock and authorizing against the keystore, for every face.
//!
//! The layer decides nothing a face should decide: it does not wait out a back-off, it does
//! not move a lock onto the current key unless asked ([`Connection::migrate_keys`]), and it
//! says what happened in types ([`AuthOutcome`], [`Refusal`], [`ConnectError`]), never in
//! English that a face would have to parse back.

mod sim;

use std::path::PathBuf;
use std::time::Duration;

use latchkey_protocol::{LockInfo, Role, Status};

use crate::keys::{self, KeyError, KeyFile, Keystore};
use crate::link::{self, Client, ClientError, LinkOptions, PortInfo, PortSource, ResolveError};

/// Which port to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortChoice {
    /// An in-process simulated lock, claimed for this run.
    Sim,
    /// This path, named by a flag, the environment or the config file.
    Named(PathBuf, PortSource),
    /// Detect a known adapter, or ask ([`ConnectOptions::picker`]).
    Auto,
}

/// Asks a person to choose among ports; `None` when they decline.
pub type PortPick = fn(&[PortInfo]) -> Option<usize>;

/// How to reach a lock and whom to be, as a face resolved it from flags, environment and
/// config file.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Where the port comes from.
    pub port: PortChoice,
    /// Time one request may take, retries included.
    pub timeout: Duration,
    /// The key to open sessions with (a keystore name or a key file path); `None`: the
    /// keystore's only key.
    pub key: Option<String>,
    /// Who picks among several ports when none is named; `None`: nobody (no prompt).
    pub picker: Option<PortPick>,
    /// Whether this run may move a lock still on an older key onto the current one. The
    /// layer never does it on its own; the face reads this and calls
    /// [`Connection::migrate_keys`] (for commands that change the lock).
    pub migrate_keys: bool,
}

impl ConnectOptions {
    /// Options for `port` with the default timeout, the keystore's only key, no picker and
    /// no key migration.
    pub fn new(port: PortChoice) -> Self {
        Self { port, timeout: link::DEFAULT_TIMEOUT, key: None, picker: None, migrate_keys: false }
    }
}

/// Why no link to a lock could be made, or no session opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No port could be chosen.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The port could not be opened, or the lock did not answer or refused.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The built-in simulated lock could not be started.
    #[error("{0}")]
    Sim(String),
    /// The lock is claimed, and no key to open a session with was found.
    #[error("{source}")]
    NoKey {
        /// The lock's serial number.
        serial: String,
        /// Why no key.
        source: KeyError,
    },
    /// A key could not be made or read (other than "none found").
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The lock says it is not claimed, but it was claimed from this keystore: it was
    /// factory-reset, or someone on the cable flipped its unauthenticated answer to make the
    /// host talk in clear. Nothing was sent.
    #[error("lock {serial} says it is not claimed, but it was claimed from here with key {key:?}")]
    ClaimLost {
        /// The lock's serial number.
        serial: String,
        /// The key that claimed it.
        key: String,
    },
}

impl From<sim::SimError> for ConnectError {
    fn from(error: sim::SimError) -> Self {
        match error {
            sim::SimError::Key(e) => ConnectError::Key(e),
            sim::SimError::Client(e) => ConnectError::Client(e),
            other => ConnectError::Sim(other.to_string()),
        }
    }
}

/// What [`Connection::authorize`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The lock is factory-new: no session; it refuses what needs a claim.
    Unclaimed,
    /// A session is open as `role` with the current key.
    Opened {
        /// Installer or technician.
        role: Role,
    },
    /// A session is open, but with an older key of `key`: the lock has not been moved to the
    /// current key since a rotation. [`Connection::migrate_keys`] moves it.
    OpenedWithOlderKey {
        /// Installer or technician.
        role: Role,
        /// The key's name.
        key: String,
        /// Which older key opened it: 1 is the one just before the current.
        generation: usize,
    },
    /// The lock refuses new attempts for this long after failed authentications; nothing was
    /// tried. Waiting and calling [`Connection::authorize`] again is the face's choice.
    Backoff {
        /// How long to wait.
        retry_after: Duration,
    },
}

/// Why the lock refused a request, in terms a face can word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The lock is factory-new: it needs a claim first.
    NotClaimed,
    /// The session is a technician's, which may only read.
    ReadOnlyKey,
    /// Any other refusal: the lock's status.
    Lock(latchkey_protocol::Refusal),
}

/// An open link to a lock, and the simulated lock behind it when [`PortChoice::Sim`] started
/// one.
pub struct Connection {
    /// The client.
    pub client: Client,
    info: Option<LockInfo>,
    key: Option<String>,
    // The key the built-in lock was claimed with; it lives only as long as that lock.
    sim_key: Option<KeyFile>,
    // The key that opened the session, and which of its generations did (0 = current).
    session_key: Option<(KeyFile, usize)>,
    // Dropped after the client, so the lock outlives the link.
    _sim: Option<sim::BuiltIn>,
}

impl Connection {
    /// Whether this is the built-in lock `--sim` started: a new lock each run (with the same
    /// serial), so nothing about it is worth remembering.
    pub fn is_built_in(&self) -> bool {
        self._sim.is_some()
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("client", &self.client)
            .field("info", &self.info)
            .field("simulated", &self._sim.is_some())
            .finish_non_exhaustive()
    }
}

/// Opens the port `options` names (starting and claiming a simulated lock for
/// [`PortChoice::Sim`]). No session yet: see [`Connection::authorize`].
pub fn connect(options: &ConnectOptions) -> Result<Connection, ConnectError> {
    let link_options = LinkOptions {
        timeout: options.timeout,
        attempts: link::attempts_for(options.timeout),
        ..LinkOptions::default()
    };
    let (path, built_in) = match &options.port {
        PortChoice::Sim => {
            let built_in = sim::BuiltIn::start()?;
            (built_in.port_path(), Some(built_in))
        }
        PortChoice::Named(path, _) => (path.clone(), None),
        PortChoice::Auto => {
            let pick = options.picker.as_ref().map(|p| p as link::PortPicker<'_>);
            (link::auto_detect(pick)?.0, None)
        }
    };
    let client = Client::open(&path, link_options)?;
    let mut connection = Connection {
        client,
        info: None,
        key: options.key.clone(),
        sim_key: None,
        session_key: None,
        _sim: None,
    };
    if let Some(built_in) = built_in {
        let key = built_in.claim(&mut connection.client)?;
        connection.info = None;
        connection.sim_key = Some(key);
        connection._sim = Some(built_in);
    }
    Ok(connection)
}

impl Connection {
    /// The key that opened this session: its name and fingerprint.
    pub fn session_key(&self) -> Option<(String, String)> {
        self.session_key
            .as_ref()
            .map(|(key, _)| (key.name.clone(), crate::keys::fingerprint(&key.key)))
    }

    /// The lock's identity if it was asked already (no request).
    pub fn known_info(&self) -> Option<&LockInfo> {
        self.info.as_ref()
    }

    /// The lock's identity (asked once).
    pub fn info(&mut self) -> Result<&LockInfo, ClientError> {
        let info = match self.info.take() {
            Some(info) => info,
            None => self.client.hello()?,
        };
        Ok(self.info.insert(info))
    }

    /// Opens a session if the lock is claimed, with the key the options named (or the
    /// built-in lock's own). On an unclaimed lock nothing happens: the lock itself refuses
    /// what needs a claim, and [`Connection::classify`] says so.
    pub fn authorize(&mut self) -> Result<AuthOutcome, ConnectError> {
        let info = self.info()?.clone();
        if !info.claimed {
            // `Hello` is not authenticated: the keystore, not the lock's word, says whether
            // this lock should have a session.
            let claimed_here = match Keystore::locate() {
                _ if self.sim_key.is_some() => None,
                Ok(store) => store.claimed_with(&info.serial)?,
                Err(KeyError::NoKeystore) => None,
                Err(e) => return Err(e.into()),
            };
            if let Some(key) = claimed_here {
                return Err(ConnectError::ClaimLost { serial: info.serial.to_string(), key });
            }
            return Ok(AuthOutcome::Unclaimed);
        }
        if let Some(role) = self.client.session_role() {
            return Ok(AuthOutcome::Opened { role });
        }
        let serial = info.serial.to_string();
        let key = match &self.sim_key {
            Some(key) => key.clone(),
            // Only "no key named and none to pick" may let a read go on without a session; a
            // named key that is missing or unsafe stops the command.
            None => keys::resolve(self.key.as_deref()).map_err(|source| {
                if source.is_no_key() {
                    ConnectError::NoKey { serial: serial.clone(), source }
                } else {
                    ConnectError::Key(source)
                }
            })?,
        };
        let role = key.role();
        let generation = match self.client.open_session(role, &serial, &key.lock_keys(&serial)) {
            Ok(generation) => {
                // Inside a session requests may be pipelined, up to what the lock takes.
                self.client.set_window(info.capabilities.max_in_flight);
                generation
            }
            Err(ClientError::Backoff { retry_after }) => {
                return Ok(AuthOutcome::Backoff { retry_after });
            }
            Err(e) => return Err(e.into()),
        };
        let (key, generation) = match key.pending_index() {
            // The lock took a rotation whose answer never came back (a pulled cable): its new
            // key becomes the file's current one, the old one its previous.
            Some(pending) if pending == generation => match key.promoted() {
                Some(promoted) => {
                    promoted.store()?;
                    tracing::info!(key = %promoted.name, "the lock holds the pending key; promoted");
                    (promoted, 0)
                }
                None => (key, generation),
            },
            _ => (key, generation),
        };
        let name = key.name.clone();
        self.session_key = Some((key, generation));
        Ok(match generation {
            0 => AuthOutcome::Opened { role },
            generation => AuthOutcome::OpenedWithOlderKey { role, key: name, generation },
        })
    }

    /// Moves the lock onto the current key of the key that opened the session (after
    /// [`AuthOutcome::OpenedWithOlderKey`]). Needs an installer session; the session goes on.
    /// Returns whether anything was changed.
    pub fn migrate_keys(&mut self) -> Result<bool, ClientError> {
        let older = matches!(&self.session_key, Some((_, generation)) if *generation > 0);
        if !older || self.client.session_role() != Some(Role::Installer) {
            return Ok(false);
        }
        let serial = self.info()?.serial.to_string();
        let pair = self.session_key.as_ref().and_then(|(k, _)| k.lock_pair(&serial));
        let Some((installer, technician)) = pair else { return Ok(false) };
        self.client.rotate_keys(&installer, &technician)?;
        if let Some((_, generation)) = &mut self.session_key {
            *generation = 0;
        }
        Ok(true)
    }

    /// The keys this lock's PINs may be hashed with (and its cards and phones fingerprinted
    /// with): derived from each installer key of the key that opened the session, current
    /// first, since a lock keeps the PIN key of the key it was claimed with. Empty for a
    /// technician key, which cannot derive them.
    pub fn pin_keys(&mut self) -> Result<Vec<latchkey_protocol::crypto::SecretKey>, ClientError> {
        let serial = self.info()?.serial.to_string();
        let Some((key, _)) = &self.session_key else { return Ok(Vec::new()) };
        if key.role() != Role::Installer {
            return Ok(Vec::new());
        }
        Ok(key.lock_keys(&serial).iter().map(latchkey_protocol::checksum::pin_key).collect())
    }

    /// What a refusal means for this lock and this session: not claimed yet, a read-only
    /// key, or the lock's own status. `None` for anything but a refusal.
    pub fn classify(&self, error: &ClientError) -> Option<Refusal> {
        let unclaimed = self.info.as_ref().is_some_and(|i| !i.claimed);
        if matches!(error, ClientError::NeedsSession { .. }) && unclaimed {
            return Some(Refusal::NotClaimed);
        }
        let ClientError::Refused(refusal) = error else { return None };
        let technician = self.client.session_role() == Some(Role::Technician);
        Some(match refusal.status {
            Status::NotAuthorized if unclaimed => Refusal::NotClaimed,
            Status::NotAuthorized if technician => Refusal::ReadOnlyKey,
            _ => Refusal::Lock(*refusal),
        })
    }
}
