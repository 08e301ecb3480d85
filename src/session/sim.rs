//! The built-in simulated lock behind `--sim`: started in-process on a pseudo-terminal and
//! claimed with a throw-away key, so the tool can be tried without hardware. The only place
//! the host touches the simulator.

use std::path::PathBuf;

use latchkey_protocol::crypto::SetupCode;
#[cfg(feature = "sim")]
use latchkey_sim::{RunningSim, SimConfig};

use crate::keys::{KeyError, KeyFile};
use crate::link::{Client, ClientError};

/// A build without the `sim` feature never holds a simulated lock: no value of this exists.
#[cfg(not(feature = "sim"))]
enum RunningSim {}

#[cfg(not(feature = "sim"))]
impl RunningSim {
    fn port_path(&self) -> &std::path::Path {
        match *self {}
    }

    fn setup_code(&self) -> String {
        match *self {}
    }
}

/// Why the built-in lock is not ready.
#[derive(Debug, thiserror::Error)]
pub(super) enum SimError {
    /// It did not start.
    #[error("cannot start the simulated lock: {0}")]
    Start(String),
    /// It printed a setup code that is not one.
    #[error("the simulated lock's setup code is not valid: {0}")]
    SetupCode(String),
    /// No key to claim it with.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Claiming it failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// A simulated lock running for as long as this value lives.
pub(super) struct BuiltIn {
    sim: RunningSim,
}

impl BuiltIn {
    /// Starts a factory-new simulated lock with its flash in memory.
    pub(super) fn start() -> Result<Self, SimError> {
        #[cfg(feature = "sim")]
        {
            let sim = RunningSim::start(SimConfig::default())
                .map_err(|e| SimError::Start(e.to_string()))?;
            Ok(Self { sim })
        }
        #[cfg(not(feature = "sim"))]
        Err(SimError::Start(
            "this latchkey was built without the simulator (the `sim` feature); name a --port"
                .into(),
        ))
    }

    /// Its port.
    pub(super) fn port_path(&self) -> PathBuf {
        self.sim.port_path().to_path_buf()
    }

    /// Claims it over `client` (a zero-setup demo) with a new key that lives as long as the
    /// lock; returns that key.
    pub(super) fn claim(&self, client: &mut Client) -> Result<KeyFile, SimError> {
        let code = SetupCode::parse(&self.sim.setup_code())
            .map_err(|e| SimError::SetupCode(e.to_string()))?;
        let key = KeyFile::generate("sim")?;
        let info = client.hello()?;
        if let Some((installer, technician)) = key.lock_pair(&info.serial) {
            client.claim(&code, &info, &installer, &technician)?;
        }
        Ok(key)
    }
}
