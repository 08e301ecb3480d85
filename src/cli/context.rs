//! How a command was asked to behave, once flags, the environment and the config file are
//! resolved ([`super::Cli::context`]).

use crate::session::ConnectOptions;

/// How the command was asked to behave, after flags, environment and config file.
#[derive(Debug, Clone)]
pub struct Context {
    /// JSON output.
    pub json: bool,
    /// A person can answer prompts.
    pub interactive: bool,
    /// How to reach the lock (port, timeout, `--key`, who picks a port).
    pub connect: ConnectOptions,
}
