//! The built-in simulated lock behind `--sim`: started in-process on a pseudo-terminal and
//! claimed with a throw-away key, so the tool can be tried without hardware. The only place
//! the host touches the simulator.

use std::path::PathBuf;

use latchkey_firmware::sim::{RunningSim, SimConfig};
use latchkey_protocol::crypto::SetupCode;

use super::{ConnectError, Connection};
use crate::keys::KeyFile;

/// A simulated lock running for as long as this value lives.
pub(super) struct BuiltIn {
    sim: RunningSim,
}

impl BuiltIn {
    /// Starts a factory-new simulated lock with its flash in memory.
    pub(super) fn start() -> Result<Self, ConnectError> {
        let sim = RunningSim::start(SimConfig::default())
            .map_err(|e| ConnectError::Sim(e.to_string()))?;
        Ok(Self { sim })
    }

    /// Its port.
    pub(super) fn port_path(&self) -> PathBuf {
        self.sim.port_path().to_path_buf()
    }

    /// Claims it over `connection` (a zero-setup demo) with a new key that lives as long as
    /// the lock; returns that key.
    pub(super) fn claim(&self, connection: &mut Connection) -> Result<KeyFile, ConnectError> {
        let code = SetupCode::parse(&self.sim.setup_code())
            .map_err(|e| ConnectError::Sim(format!("its setup code is not valid: {e}")))?;
        let key = KeyFile::generate("sim")?;
        let serial = connection.info()?.serial.to_string();
        if let Some((installer, technician)) = key.lock_pair(&serial) {
            connection.client.claim(&code, &serial, &installer, &technician)?;
        }
        Ok(key)
    }
}
