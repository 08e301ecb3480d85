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
mod bench;
mod commission;
mod connect;
mod context;
mod device;
mod error;
pub mod log;
mod prompt;
pub mod provision;
mod security;
mod settings;
mod shell;
pub mod users;
mod values;

use std::process::ExitCode;

pub use args::{Cli, Command, ConfigCommand, KeyCommand, TimeCommand, command};
use connect::Access;
pub use context::Context;
pub use error::{CliError, ErrorKind, Outcome, exit};
pub use settings::SettingKey;

/// Entry point of the `latchkey` binary.
pub fn main() -> ExitCode {
    let cli = match parse_args() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let json = cli.json;
    prompt::watch_interrupts();
    init_tracing(cli.verbose);
    match run(cli) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Attention) => ExitCode::from(exit::CHECK),
        Err(error) => {
            error.report(json);
            ExitCode::from(error.code)
        }
    }
}

/// Parses the command line. A usage error under `--json` is one JSON document on stdout as
/// well as clap's text on stderr, so a script always gets JSON (exit 2).
fn parse_args() -> Result<Cli, ExitCode> {
    use clap::FromArgMatches;
    use clap::error::ErrorKind;
    let parsed = command().try_get_matches().and_then(|m| Cli::from_arg_matches(&m));
    match parsed {
        Ok(cli) => Ok(cli),
        Err(error) => {
            let informational = matches!(
                error.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            );
            let wants_json = std::env::args_os().skip(1).any(|a| a == "--json");
            if wants_json && !informational {
                let rendered = error.render().to_string();
                let message =
                    rendered.lines().find(|l| !l.trim().is_empty()).unwrap_or("usage error");
                let message = message.trim().strip_prefix("error: ").unwrap_or(message.trim());
                let usage = CliError::usage(message.to_string())
                    .with_hint("see `latchkey --help`, or the command's own `--help`");
                say!("{}", usage.json_document());
            }
            // clap prints help and version on stdout (exit 0), errors on stderr (exit 2).
            let _ = error.print();
            Err(if informational { ExitCode::SUCCESS } else { ExitCode::from(exit::USAGE) })
        }
    }
}

/// `-v`: the link's debug events (frames, retries, session) on stderr; `-vv`: everything.
fn init_tracing(verbose: u8) {
    use tracing_subscriber::filter::LevelFilter;
    let level = match verbose {
        0 => return,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .with_target(false)
        .with_ansi(false)
        .try_init();
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<Outcome, CliError> {
    // These two need no lock, no keystore and no config file.
    match cli.command {
        Command::Completions { shell } => return shell::completions(shell).map(|()| Outcome::Done),
        Command::Man => return shell::man().map(|()| Outcome::Done),
        _ => {}
    }
    let context = cli.context()?;
    if cli.port.len() > 1 {
        return several_ports(&context, &cli.port, cli.command).map(|()| Outcome::Done);
    }
    dispatch(&context, cli.command)
}

/// `--port` given more than once: the same site file on each lock at once.
fn several_ports(context: &Context, ports: &[String], command: Command) -> Result<(), CliError> {
    use provision::ProvisionCommand::{Apply, Verify};
    match command {
        Command::Provision(Apply { file: Some(file), prune, pins_out, bench: None }) => {
            bench::run_ports(
                context,
                ports,
                &file,
                pins_out.as_deref(),
                bench::Job::Apply { prune },
            )
        }
        Command::Provision(Verify { file: Some(file), pins, bench: None }) => {
            bench::run_ports(context, ports, &file, pins.as_deref(), bench::Job::Verify)
        }
        _ => Err(CliError::usage("--port is given more than once").with_hint(
            "only `provision apply FILE` and `provision verify FILE` work on several locks at once",
        )),
    }
}

fn dispatch(context: &Context, command: Command) -> Result<Outcome, CliError> {
    let done = match command {
        Command::Ports => device::ports(context),
        Command::Info => device::info(context),
        Command::Ping { count, interval } => device::ping(context, count, interval),
        Command::Time(TimeCommand::Get) => device::time_get(context),
        Command::Time(TimeCommand::Sync) => device::time_sync(context),
        Command::Time(TimeCommand::Set { when }) => device::time_set(context, &when),
        Command::Battery { check } => return device::battery(context, check),
        Command::Config(ConfigCommand::Get { key }) => device::config_get(context, key),
        Command::Config(ConfigCommand::Set { key, value }) => {
            device::config_set(context, key, &value)
        }
        Command::Diag => device::diag(context),
        Command::Commission { only, skip, reason, wait, report } => {
            commission::commission(context, &only, &skip, &reason, wait, report.as_deref())
        }
        Command::Report(command) => commission::report(context, command),
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
        Command::Alarms { action, check } => return log::alarms(context, action, check),
        Command::Clear { what, yes } => users::clear(context, what.into(), yes),
        Command::Completions { shell } => shell::completions(shell),
        Command::Man => shell::man(),
        Command::Log(command) => log::log(context, command),
        Command::Provision(provision::ProvisionCommand::Apply {
            bench: Some(file), prune, ..
        }) => bench::run(context, &file, bench::Job::Apply { prune }),
        Command::Provision(provision::ProvisionCommand::Verify { bench: Some(file), .. }) => {
            bench::run(context, &file, bench::Job::Verify)
        }
        Command::Provision(command) => provision::provision(context, command),
    };
    done.map(|()| Outcome::Done)
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
