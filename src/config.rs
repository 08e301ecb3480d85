//! The host's own settings file (not the lock's settings).
//!
//! `$LATCHKEY_CONFIG`, else `<config dir>/latchkey/config.toml` (on Linux
//! `~/.config/latchkey/config.toml`). Every key is optional:
//!
//! ```toml
//! port = "/dev/ttyUSB0"   # used when neither --port nor LATCHKEY_PORT is given
//! timeout = "3s"          # default for --timeout
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "LATCHKEY_CONFIG";

/// The host settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Port to use when no flag or environment variable names one.
    pub port: Option<String>,
    /// Default request timeout, e.g. "3s" or "500ms"; checked like `--timeout`.
    #[serde(default, deserialize_with = "crate::link::deserialize_timeout")]
    pub timeout: Option<Duration>,
}

/// The config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, or an unknown key.
    #[error("config file {path} is not valid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
}

/// Where the config file is looked for.
pub fn config_path() -> Option<PathBuf> {
    match std::env::var_os(CONFIG_ENV) {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => dirs::config_dir().map(|dir| dir.join("latchkey").join("config.toml")),
    }
}

/// Loads the config file; a missing file is an empty config.
pub fn load() -> Result<(HostConfig, Option<PathBuf>), ConfigError> {
    let Some(path) = config_path() else { return Ok((HostConfig::default(), None)) };
    load_from(&path).map(|config| (config, Some(path)))
}

/// Loads `path`; a missing file is an empty config.
pub fn load_from(path: &Path) -> Result<HostConfig, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HostConfig::default()),
        Err(source) => return Err(ConfigError::Read { path: path.to_path_buf(), source }),
    };
    toml::from_str(&text)
        .map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })
}
