//! The command line: global options and the commands (the user commands' own are in
//! [`super::users`], the log's in [`super::log`]).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

mod examples;

use super::context::Context;
use super::error::CliError;
use super::settings::SettingKey;
use super::{log, users};
use crate::link::{PortInfo, PortSource};
use crate::session::{ConnectOptions, PortChoice, PortPick};

/// Commission and diagnose offline smart locks over a cable.
///
/// Exit codes: 0 done; 1 the lock refused (its status is printed), or it was cancelled;
/// 2 usage error; 3 no device (no port found or it cannot be opened); 4 link error or
/// timeout; 5 port busy (another program holds it); 6 this computer failed (terminal, files,
/// randomness); 7 a `--check` found something to attend to (battery low or critical, an
/// alarm); 130 stopped by Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Serial port of the lock: a path, or `auto` to detect a known adapter
    /// [env: LATCHKEY_PORT; else `port` in the config file; else auto]. `provision apply` and
    /// `provision verify` take it more than once: the same file on each lock, at once.
    #[arg(help_heading = GLOBAL, long, short, global = true, value_name = "PATH|auto", action = clap::ArgAction::Append)]
    pub port: Vec<String>,

    /// Talk to a simulated lock started in-process on a pseudo-terminal (no hardware needed).
    #[arg(help_heading = GLOBAL, long, global = true, conflicts_with = "port")]
    pub sim: bool,

    /// Print one JSON document (JSON Lines for streams) instead of text.
    #[arg(help_heading = GLOBAL, long, global = true)]
    pub json: bool,

    /// Time a request may take, retries included, e.g. `3s`, `500ms` or `2` (seconds). Up to
    /// 3 s a request is sent up to 3 times; a longer timeout (for a noisy line) resends every
    /// 250 ms. [default: 3s, or `timeout` in the config file]
    #[arg(help_heading = GLOBAL, long, global = true, value_name = "DURATION", value_parser = crate::link::parse_timeout)]
    pub timeout: Option<Duration>,

    /// Never prompt, even at a terminal; fail with an explanation instead.
    #[arg(help_heading = GLOBAL, long, global = true)]
    pub non_interactive: bool,

    /// Key to open sessions with: a keystore name, or a key file path
    /// [env: LATCHKEY_KEY; default: the keystore's only key]
    #[arg(help_heading = GLOBAL, long = "key", id = "key_spec", global = true, value_name = "NAME|PATH")]
    pub key_spec: Option<String>,

    /// Show what goes over the cable (frames, retries, timings) on stderr; twice for more.
    #[arg(long, short, global = true, help_heading = GLOBAL, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The heading the options every command takes are listed under, apart from its own.
const GLOBAL: &str = "Global options";

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List serial ports, marking known lock adapters.
    Ports,
    /// Show the lock's identity, capabilities and link counters.
    Info,
    /// Check the link: send pings and report round-trip times.
    Ping {
        /// How many pings.
        #[arg(long, short = 'c', default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        count: u32,
        /// Pause between pings, e.g. `200ms`.
        #[arg(long, short = 'i', default_value = "200ms", value_parser = crate::link::parse_interval)]
        interval: Duration,
    },
    /// Read or set the lock's clock.
    #[command(subcommand)]
    Time(TimeCommand),
    /// Show the battery: voltage, charge and state.
    Battery {
        /// Exit 7 when the battery is low or critical (for monitoring scripts).
        #[arg(long)]
        check: bool,
    },
    /// Read or change the lock's settings.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Open the live dashboard of one lock (quit with q).
    Tui,
    /// Take ownership of a factory-new lock with the setup code printed inside it.
    Claim {
        /// The setup code (XXXX-XXXX-XXXX). Without it: asked for at a terminal, else read
        /// from standard input.
        #[arg(long, value_name = "CODE")]
        setup_code: Option<String>,
    },
    /// Manage site keys: create, list, export, import, rotate.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Users of the lock: add, list, show, edit, enable, disable, remove.
    #[command(subcommand)]
    User(users::UserCommand),
    /// A user's PIN: set (hidden prompt, --stdin or --generate) or remove.
    #[command(subcommand)]
    Pin(users::PinCommand),
    /// A user's RFID cards: add (tap it on the lock, or give the UID) or remove.
    #[command(subcommand)]
    Card(users::CardCommand),
    /// A user's fingerprints: enroll on the lock's sensor, or remove.
    #[command(subcommand)]
    Finger(users::FingerCommand),
    /// A user's phone keys: add or remove by public key.
    #[command(subcommand)]
    Phone(users::PhoneCommand),
    /// A user's weekly windows: set or clear.
    #[command(subcommand)]
    Schedule(users::ScheduleCommand),
    /// Temporary codes the lock itself refuses outside their dates.
    #[command(subcommand)]
    Guest(users::GuestCommand),
    /// The lock's checksum of its users and credentials, to compare without reading secrets.
    Checksum {
        /// A provisioning file (JSON) describing what the lock should hold: exit 0 when the
        /// lock holds exactly that, 1 when not.
        #[arg(long, value_name = "FILE")]
        verify: Option<PathBuf>,
    },
    /// How the lock decided its last access attempt (who, which path, why).
    Access,
    /// The alarms the lock has raised: list (the default) or clear.
    Alarms {
        /// Exit 7 when an alarm is raised (for monitoring scripts).
        #[arg(long)]
        check: bool,
        /// What to do.
        #[command(subcommand)]
        action: Option<log::AlarmsCommand>,
    },
    /// Remove every credential of one kind from every user, or every user: `pins`, `cards`,
    /// `fingerprints`, `phones` or `users`. Asks first; each removal is in the lock's log.
    Clear {
        /// What to remove.
        #[arg(value_enum)]
        what: super::values::ClearArg,
        /// Do not ask for confirmation (for scripts).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Print a shell completion script: `source <(latchkey completions bash)`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `latchkey man | man -l -`.
    Man,
    /// The lock's own event log: read, verify, follow, clear.
    #[command(subcommand)]
    Log(log::LogCommand),
    /// Bulk provisioning from a site file: plan, apply, verify; export one from a lock.
    #[command(subcommand)]
    Provision(super::provision::ProvisionCommand),
    /// A technician's summary: firmware, uptime and reset reason, battery under load, bolt and
    /// door, motor, storage and log use, link and security counters.
    Diag,
    /// Test every offline access path at the door, live, then write the handover report the
    /// lock signs (JSON and a printable HTML page). Exit 1 when a check failed.
    Commission {
        /// Run only these checks (repeatable): clock, time_zone, battery, keypad, rfid,
        /// fingerprint, phone, mechanical_key, wrong_pin, disabled_refused, bolt, door,
        /// tamper, log.
        #[arg(long, value_name = "CHECK")]
        only: Vec<String>,
        /// Skip this check (repeatable); each needs a --reason, given in the same order.
        #[arg(long, value_name = "CHECK")]
        skip: Vec<String>,
        /// Why the --skip in the same place is skipped; the report says so.
        #[arg(long, value_name = "TEXT")]
        reason: Vec<String>,
        /// How long each check at the door waits for the lock's decision.
        #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = super::commission::parse_wait)]
        wait: std::time::Duration,
        /// Where to write the report: FILE.json and FILE.html (default:
        /// commission-SERIAL-TIME in this folder). Existing files are never replaced.
        #[arg(long, value_name = "FILE")]
        report: Option<std::path::PathBuf>,
    },
    /// Commissioning reports: `report verify FILE` checks the lock's signature.
    #[command(subcommand)]
    Report(super::commission::ReportCommand),
    /// Return a lock to factory-new: erases its keys, users and credentials (not its log).
    /// Needs the setup code printed inside the lock.
    FactoryReset {
        /// The setup code (XXXX-XXXX-XXXX); asked for at a terminal, else read from stdin.
        #[arg(long, value_name = "CODE")]
        setup_code: Option<String>,
        /// Do not ask for confirmation (for scripts).
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `latchkey key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a new site key in the keystore.
    Create {
        /// A name for it, e.g. the site: acme-hq.
        name: String,
    },
    /// List the keystore's keys (names and fingerprints, never the keys).
    List,
    /// Write a key to a file (mode 0600). Never to a terminal.
    Export {
        /// The key's name.
        name: String,
        /// The file to write; `-` for standard output when it is not a terminal.
        #[arg(long, short)]
        out: PathBuf,
        /// Export the read-only technician key derived from this site key instead.
        #[arg(long)]
        technician: bool,
    },
    /// Add a key file to the keystore.
    Import {
        /// The key file.
        file: PathBuf,
        /// Store it under this name instead of the one in the file.
        #[arg(long)]
        name: Option<String>,
    },
    /// Make a new site key and install it on the lock over the cable. The old key stays in
    /// the file as a previous key, so locks not yet rotated still open (and are moved to the
    /// new key on their next installer session).
    Rotate {
        /// The key to rotate [default: the one --key names, or the keystore's only key].
        name: Option<String>,
    },
    /// Forget a site key's previous keys, once every lock of the site is on the current
    /// one (each lock moves on its next installer session, or with `key rotate`).
    Prune {
        /// The key [default: the one --key names, or the keystore's only key].
        name: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `latchkey time ...`
#[derive(Debug, Subcommand)]
pub enum TimeCommand {
    /// Show the lock's clock beside this computer's, and the drift.
    Get,
    /// Set the lock's clock to this computer's (UTC).
    Sync,
    /// Set the lock's clock to a given time, to try a schedule on site; `time sync` puts it
    /// back.
    Set {
        /// `now`, `+8h`, `2026-12-07T06:59` (the lock's local time) or with an offset
        /// `2026-12-07T05:59:00Z`.
        when: String,
    },
}

/// `latchkey config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Show one setting, or all of them.
    Get {
        /// label, auto-relock, wrong-code-limit, lockout, volume, time-zone or door-ajar.
        key: Option<SettingKey>,
    },
    /// Change one setting; done only once the lock has it in flash.
    Set {
        /// label (1-32 characters), auto-relock (seconds, 0 = off, at most 3600),
        /// wrong-code-limit (1-255), lockout (seconds, 1-3600), volume (off|low|medium|high),
        /// time-zone (a zone name like Europe/Berlin, or a POSIX rule like
        /// CET-1CEST,M3.5.0,M10.5.0/3), door-ajar (seconds, 0 = off, at most 3600).
        key: SettingKey,
        /// The new value.
        value: String,
    },
}

impl Cli {
    /// Resolves the command line against the environment and the config file.
    pub fn context(&self) -> Result<Context, CliError> {
        let cli = self;
        let (config, _) = crate::config::load().map_err(|e| {
            CliError::usage(e.to_string())
                .with_hint("fix the file, or point LATCHKEY_CONFIG at another one")
        })?;
        let timeout = self.timeout.or(config.timeout).unwrap_or(crate::link::DEFAULT_TIMEOUT);
        let env_port = std::env::var("LATCHKEY_PORT").ok().filter(|p| !p.is_empty());
        let port = if cli.sim {
            PortChoice::Sim
        } else if let Some(p) = cli.port.first() {
            named(p, PortSource::Flag)
        } else if let Some(p) = env_port {
            named(&p, PortSource::Env)
        } else if let Some(p) = &config.port {
            named(p, PortSource::ConfigFile)
        } else {
            PortChoice::Auto
        };
        let interactive = !cli.non_interactive
            && std::io::stdin().is_terminal()
            && std::io::stderr().is_terminal()
            && std::env::var_os("CI").is_none();
        let connect = ConnectOptions {
            port,
            timeout,
            key: cli.key_spec.clone(),
            picker: interactive.then_some(pick_port as PortPick),
            migrate_keys: false,
        };
        Ok(Context { json: cli.json, interactive, connect })
    }
}

fn named(path: &str, source: PortSource) -> PortChoice {
    if path == "auto" { PortChoice::Auto } else { PortChoice::Named(PathBuf::from(path), source) }
}

/// Asks the person at the terminal which port the lock is on.
fn pick_port(ports: &[PortInfo]) -> Option<usize> {
    let items: Vec<String> = ports.iter().map(PortInfo::describe).collect();
    dialoguer::Select::new()
        .with_prompt("Which port is the lock on?")
        .items(&items)
        .default(0)
        .interact_opt()
        .ok()
        .flatten()
}

/// The version line: the tool's and the protocol version it speaks, which is what decides
/// whether it can talk to a given lock.
fn version() -> String {
    format!("{} (protocol {})", env!("CARGO_PKG_VERSION"), latchkey_protocol::PROTOCOL_VERSION)
}

/// The clap definition with the runtime version line.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    // Leaked once per process: clap keeps `&'static str`, and the process ends soon after.
    let version: &'static str = Box::leak(version().into_boxed_str());
    examples::with_examples(Cli::command().version(version))
}
