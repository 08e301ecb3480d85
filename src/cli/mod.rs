//! The command-line face: parsing, prompts, progress and output, over the session layer
//! ([`crate::session`]) and the operations ([`crate::ops`]).

/// `println!` that does not panic when standard output is closed (`latchkey info | head -1`):
/// a reader that went away is not an error of ours.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod args;
mod connect;
mod context;
mod device;
mod error;
pub mod log;
mod prompt;
mod security;
mod settings;
pub mod users;
mod values;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command, ConfigCommand, KeyCommand, TimeCommand};
use connect::Access;
pub use context::Context;
pub use error::{CliError, ErrorKind, exit};
pub use settings::SettingKey;

/// Entry point of the `latchkey` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error.report(json);
            ExitCode::from(error.code)
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let context = cli.context()?;
    dispatch(&context, cli.command)
}

fn dispatch(context: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::Ports => device::ports(context),
        Command::Info => device::info(context),
        Command::Ping { count, interval } => device::ping(context, count, interval),
        Command::Time(TimeCommand::Get) => device::time_get(context),
        Command::Time(TimeCommand::Sync) => device::time_sync(context),
        Command::Battery => device::battery(context),
        Command::Config(ConfigCommand::Get { key }) => device::config_get(context, key),
        Command::Config(ConfigCommand::Set { key, value }) => {
            device::config_set(context, key, &value)
        }
        Command::Diag => device::diag(context),
        Command::Tui => tui(context),
        Command::Claim { setup_code } => security::claim(context, setup_code),
        Command::Key(command) => security::key(context, command),
        Command::FactoryReset { setup_code, yes } => {
            security::factory_reset(context, setup_code, yes)
        }
        Command::User(command) => users::user(context, command),
        Command::Pin(command) => users::pin(context, command),
        Command::Card(command) => users::card(context, command),
        Command::Finger(command) => users::finger(context, command),
        Command::Phone(command) => users::phone(context, command),
        Command::Schedule(command) => users::schedule(context, command),
        Command::Guest(command) => users::guest(context, command),
        Command::Checksum { verify } => users::checksum(context, verify.as_deref()),
        Command::Access => log::access(context),
        Command::Alarms { action } => log::alarms(context, action),
        Command::Log(command) => log::log(context, command),
    }
}

/// The dashboard: the CLI's only use of the TUI.
fn tui(context: &Context) -> Result<(), CliError> {
    if context.json {
        return Err(CliError::usage("the dashboard has no JSON form")
            .with_hint("use `latchkey info --json`, `battery --json` or `time get --json`"));
    }
    crate::tui::run(&context.options(Access::Read)).map_err(|e| match e {
        crate::tui::TuiError::Connect(e) => e.into(),
        other => CliError::host(other.to_string()).with_hint("run it in an interactive terminal"),
    })
}
