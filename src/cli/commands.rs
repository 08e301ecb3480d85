//! One function per command: ask the client, print the answer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use latchkey_protocol::{BatteryState, LockInfo};
#[cfg(feature = "sim")]
use latchkey_sim::{RunningSim, SimConfig};
use serde_json::{Value, json};

use super::{CliError, Command, ConfigCommand, Context, PortChoice, SettingKey, TimeCommand};
use crate::display::{
    describe_drift, describe_local, drift_seconds, format_local, format_unix, volts,
};
use crate::keys::{self, KeyFile};
use crate::link::{self, Client, ClientError, LinkOptions};
use latchkey_protocol::Role;
use latchkey_protocol::crypto::SetupCode;

/// A build without the `sim` feature never holds a simulated lock: no value of this exists.
#[cfg(not(feature = "sim"))]
enum RunningSim {}

#[cfg(not(feature = "sim"))]
impl RunningSim {
    fn setup_code(&self) -> String {
        match *self {}
    }
}

/// An open link to a lock, and the simulated lock behind it when `--sim` started one.
pub struct Connection {
    /// The client.
    pub client: Client,
    info: Option<LockInfo>,
    // The key `--sim` claimed its lock with; it lives only as long as the simulated lock.
    sim_key: Option<KeyFile>,
    // Dropped after the client, so the lock outlives the link.
    _sim: Option<RunningSim>,
}

impl Connection {
    /// The lock's identity (asked once).
    pub fn info(&mut self) -> Result<&LockInfo, CliError> {
        if self.info.is_none() {
            self.info = Some(self.client.hello()?);
        }
        self.info.as_ref().ok_or_else(|| CliError::usage("no identity"))
    }

    /// Opens a session if the lock is claimed, with the key the context names. On an
    /// unclaimed lock nothing happens: the lock itself refuses what needs a claim, and
    /// [`Connection::explain`] turns that into "claim it first".
    pub fn authorize(&mut self, context: &Context) -> Result<(), CliError> {
        let info = self.info()?.clone();
        if !info.claimed || self.client.session_role().is_some() {
            return Ok(());
        }
        let key = match &self.sim_key {
            Some(key) => key.clone(),
            None => keys::resolve(context.key.as_deref()).map_err(|e| {
                let hint = format!(
                    "{}; this lock ({}) is claimed, so it needs its site's key",
                    e.hint(),
                    info.serial
                );
                CliError { kind: "no_key", ..CliError::usage(e.to_string()).with_hint(hint) }
            })?,
        };
        let serial = info.serial.as_str();
        let keys = key.lock_keys(serial);
        let used = match self.client.open_session(key.role(), serial, &keys) {
            // Someone (a wrong code, a replayed recording) made the lock slow down. A short
            // wait is better than failing the installer's command; a long one is reported.
            Err(ClientError::Backoff { retry_after }) if retry_after <= context.timeout => {
                eprintln!(
                    "note: the lock is slowing down after failed authentication; waiting {:.1} s",
                    retry_after.as_secs_f64()
                );
                std::thread::sleep(retry_after + std::time::Duration::from_millis(50));
                self.client.open_session(key.role(), serial, &keys)?
            }
            other => other?,
        };
        if used > 0 && key.role() == Role::Installer {
            // The lock still has a key from before a rotation: move it to the current one.
            if let Some((installer, technician)) = key.lock_pair(serial) {
                self.client.rotate_keys(&installer, &technician)?;
                eprintln!(
                    "note: lock {serial} was on an older key of {:?}; moved it to the current key",
                    key.name
                );
            }
        }
        Ok(())
    }

    /// A client error, with the hint that fits this lock.
    pub fn explain(&self, error: ClientError) -> CliError {
        let unclaimed = self.info.as_ref().is_some_and(|i| !i.claimed);
        let technician = self.client.session_role() == Some(Role::Technician);
        let mut e = CliError::from(error);
        if e.status == Some(latchkey_protocol::Status::NotAuthorized) && e.kind == "refused" {
            if unclaimed {
                e.message = "the lock refused: it is not claimed yet".into();
                e.hint = Some("claim it first with `latchkey claim` and the setup code printed inside the lock".into());
            } else if technician {
                e.message = "the lock refused: a technician key is read-only".into();
                e.hint = Some("changes need the site's installer key (--key NAME)".into());
            }
        }
        e
    }
}

/// Opens the port the context names (starting a simulated lock for `--sim`).
pub fn connect(context: &Context) -> Result<Connection, CliError> {
    let options = LinkOptions { timeout: context.timeout, ..LinkOptions::default() };
    let (path, sim): (_, Option<RunningSim>) = match &context.port {
        #[cfg(not(feature = "sim"))]
        PortChoice::Sim => {
            return Err(CliError {
                code: super::exit::NO_DEVICE,
                kind: "sim",
                message: "this latchkey was built without the simulator".into(),
                hint: Some("build it with the default `sim` feature, or name a --port".into()),
                status: None,
                retry_after_ms: None,
            });
        }
        #[cfg(feature = "sim")]
        PortChoice::Sim => {
            let sim = RunningSim::start(SimConfig::default()).map_err(|e| CliError {
                code: super::exit::NO_DEVICE,
                kind: "sim",
                message: format!("cannot start the simulated lock: {e}"),
                hint: Some("the simulator needs a pseudo-terminal (/dev/ptmx)".into()),
                status: None,
                retry_after_ms: None,
            })?;
            (sim.port_path().to_path_buf(), Some(sim))
        }
        PortChoice::Named(path, _) => (path.clone(), None),
        PortChoice::Auto => {
            let prompt = |ports: &[link::PortInfo]| -> Option<usize> {
                let items: Vec<String> = ports.iter().map(link::PortInfo::describe).collect();
                dialoguer::Select::new()
                    .with_prompt("Which port is the lock on?")
                    .items(&items)
                    .default(0)
                    .interact_opt()
                    .ok()
                    .flatten()
            };
            let pick: Option<link::PortPicker<'_>> =
                if context.interactive { Some(&prompt) } else { None };
            let (path, _) = link::auto_detect(pick)?;
            (path, None)
        }
    };
    let client = Client::open(&path, options)?;
    let mut connection = Connection { client, info: None, sim_key: None, _sim: None };
    if let Some(sim) = sim {
        // The built-in lock is a zero-setup demo: claim it with a key that lives as long as it.
        let code = SetupCode::parse(&sim.setup_code())
            .map_err(|e| CliError::usage(format!("simulator setup code: {e}")))?;
        let key = KeyFile::generate("sim")?;
        let serial = connection.info()?.serial.to_string();
        if let Some((installer, technician)) = key.lock_pair(&serial) {
            connection.client.claim(&code, &serial, &installer, &technician)?;
        }
        connection.info = None;
        connection.sim_key = Some(key);
        connection._sim = Some(sim);
    }
    Ok(connection)
}

/// Connects and opens a session (if the lock is claimed).
pub fn connect_authorized(context: &Context) -> Result<Connection, CliError> {
    let mut connection = connect(context)?;
    connection.authorize(context)?;
    Ok(connection)
}

pub(super) fn dispatch(context: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::Ports => ports(context),
        Command::Info => info(context),
        Command::Ping { count, interval } => ping(context, count, interval),
        Command::Time(TimeCommand::Get) => time_get(context),
        Command::Time(TimeCommand::Sync) => time_sync(context),
        Command::Battery => battery(context),
        Command::Config(ConfigCommand::Get { key }) => config_get(context, key),
        Command::Config(ConfigCommand::Set { key, value }) => config_set(context, key, &value),
        Command::Tui => crate::tui::run(context),
        Command::Claim { setup_code } => super::security::claim(context, setup_code),
        Command::Key(command) => super::security::key(context, command),
        Command::User(command) => super::users::user(context, command),
        Command::Pin(command) => super::users::pin(context, command),
        Command::Card(command) => super::users::card(context, command),
        Command::Finger(command) => super::users::finger(context, command),
        Command::Phone(command) => super::users::phone(context, command),
        Command::Schedule(command) => super::users::schedule(context, command),
        Command::Guest(command) => super::users::guest(context, command),
        Command::Checksum { verify } => super::users::checksum(context, verify.as_deref()),
        Command::Access => super::users::access(context),
        Command::Alarms { action } => super::log::alarms(context, action),
        Command::Log(command) => super::log::log(context, command),
        Command::Diag => super::log::diag(context),
        Command::FactoryReset { setup_code, yes } => {
            super::security::factory_reset(context, setup_code, yes)
        }
    }
}

fn ports(context: &Context) -> Result<(), CliError> {
    let ports = link::list_ports().map_err(link::ResolveError::from)?;
    if context.json {
        print_json(&json!(ports));
        return Ok(());
    }
    if ports.is_empty() {
        say!("no serial ports found");
    }
    for port in &ports {
        say!("{}", port.describe());
    }
    Ok(())
}

fn info(context: &Context) -> Result<(), CliError> {
    let mut connection = connect(context)?;
    let info = connection.info()?.clone();
    // Identity is public; the counters need a session on a claimed lock. Without a key,
    // show what can be shown and say why the rest is missing.
    let diagnostics = match connection.authorize(context) {
        // A factory-new lock shows its counters to nobody: they wait for a claim.
        Ok(()) if !info.claimed => None,
        Ok(()) => Some(connection.client.diagnostics().map_err(|e| connection.explain(e))?),
        Err(e) if e.kind == "no_key" => {
            eprintln!("note: {}; showing identity only", e.message);
            None
        }
        Err(e) => return Err(e),
    };
    let client = &mut connection.client;
    if context.json {
        let mut doc = json!(info);
        doc["port"] = json!(client.path());
        doc["diagnostics"] = json!(diagnostics);
        print_json(&doc);
        return Ok(());
    }
    print_identity(&info);
    let c = info.capabilities;
    let paths = [
        ("keypad", c.access_paths.keypad),
        ("rfid", c.access_paths.rfid),
        ("fingerprint", c.access_paths.fingerprint),
        ("phone", c.access_paths.phone),
        ("mechanical key", c.access_paths.mechanical_key),
    ];
    let paths: Vec<&str> = paths.iter().filter(|(_, has)| *has).map(|(name, _)| *name).collect();
    say!(
        "capacity     {} users, {} credentials each, log of at least {} records",
        c.max_users,
        c.credentials_per_user,
        c.log_capacity
    );
    say!("pin length   {} to {} digits", c.pin_length_min, c.pin_length_max);
    say!("access       {}", paths.join(", "));
    say!(
        "link         {} (up to {} requests in flight, frames up to {} bytes)",
        client.path().display(),
        c.max_in_flight,
        c.max_frame_len
    );
    say!("claimed      {}", if info.claimed { "yes" } else { "no: run `latchkey claim`" });
    let Some(d) = diagnostics else { return Ok(()) };
    say!(
        "uptime       {} (boot #{})",
        humantime::format_duration(Duration::from_secs(d.uptime_ms / 1000)),
        d.boot_count
    );
    say!("frames       {} received, {} sent", d.frames_received, d.frames_sent);
    say!(
        "dropped      {} bad CRC, {} malformed, {} too long, {} undecodable, {} wrong version",
        d.dropped_bad_crc,
        d.dropped_malformed,
        d.dropped_too_long,
        d.dropped_undecodable,
        d.wrong_version
    );
    say!(
        "security     {} sealed frames rejected, {} failed authentications",
        d.sealed_rejected,
        d.auth_failures
    );
    Ok(())
}

fn ping(context: &Context, count: u32, interval: Duration) -> Result<(), CliError> {
    let mut connection = connect(context)?;
    let client = &mut connection.client;
    let mut times = Vec::with_capacity(count as usize);
    for n in 0..count {
        if n > 0 {
            std::thread::sleep(interval);
        }
        let started = std::time::Instant::now();
        client.ping(n)?;
        let rtt = started.elapsed();
        times.push(rtt);
        if context.json {
            print_json(&json!({ "seq": n, "round_trip_us": rtt.as_micros() as u64 }));
        } else {
            say!("pong {n}: {:.2} ms", rtt.as_secs_f64() * 1e3);
        }
    }
    let stats = client.stats();
    if !context.json {
        let total: Duration = times.iter().sum();
        let max = times.iter().max().copied().unwrap_or_default();
        say!(
            "{count} pings, average {:.2} ms, slowest {:.2} ms, {} resent",
            total.as_secs_f64() * 1e3 / f64::from(count),
            max.as_secs_f64() * 1e3,
            stats.resent
        );
    }
    Ok(())
}

fn print_identity(info: &LockInfo) {
    say!("model        {}{}", info.model, if info.simulation { " (simulation)" } else { "" });
    say!("serial       {}", info.serial);
    say!("firmware     {} (protocol {})", info.firmware_version, info.protocol_version);
}

fn host_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

fn time_get(context: &Context) -> Result<(), CliError> {
    let mut connection = connect_authorized(context)?;
    let reading = connection.client.time().map_err(|e| connection.explain(e))?;
    let host = host_now().as_secs();
    let drift = drift_seconds(&reading, host);
    // Schedules are in the lock's local time, by its own rule.
    let zone = connection.client.settings().map_err(|e| connection.explain(e))?.time_zone;
    if context.json {
        print_json(&json!({
            "unix_seconds": reading.unix_seconds,
            "time": format_unix(reading.unix_seconds),
            "local_time": format_local(reading.unix_seconds, &zone),
            "utc_offset_seconds": zone.offset_seconds(reading.unix_seconds),
            "time_zone": zone.to_string(),
            "is_set": reading.is_set,
            "uptime_ms": reading.uptime_ms,
            "host_unix_seconds": host,
            "drift_seconds": drift,
        }));
        return Ok(());
    }
    say!(
        "lock   {} ({}){}",
        format_unix(reading.unix_seconds),
        describe_local(reading.unix_seconds, &zone),
        if reading.is_set { "" } else { "  (never set since power-up: run `latchkey time sync`)" }
    );
    say!("host   {}", format_unix(host));
    say!("drift  {}", describe_drift(drift));
    Ok(())
}

fn time_sync(context: &Context) -> Result<(), CliError> {
    let mut connection = connect_authorized(context)?;
    let before = connection.client.time().map_err(|e| connection.explain(e))?;
    let drift_before = drift_seconds(&before, host_now().as_secs());
    let zone = connection.client.settings().map_err(|e| connection.explain(e))?.time_zone;
    // The lock keeps whole seconds: send the next whole second at the moment it begins, so
    // the lock starts in step rather than up to a second behind.
    let now = host_now();
    let target = now.as_secs() + 1;
    std::thread::sleep(Duration::from_secs(target) - now);
    let after = connection.client.set_time(target).map_err(|e| connection.explain(e))?;
    let drift_after = drift_seconds(&after, host_now().as_secs());
    if context.json {
        print_json(&json!({
            "unix_seconds": after.unix_seconds,
            "time": format_unix(after.unix_seconds),
            "local_time": format_local(after.unix_seconds, &zone),
            "utc_offset_seconds": zone.offset_seconds(after.unix_seconds),
            "drift_before_seconds": drift_before,
            "drift_after_seconds": drift_after,
        }));
        return Ok(());
    }
    say!(
        "lock clock set to {} ({}; was {})",
        format_unix(after.unix_seconds),
        describe_local(after.unix_seconds, &zone),
        describe_drift(drift_before)
    );
    Ok(())
}

fn battery(context: &Context) -> Result<(), CliError> {
    let mut connection = connect_authorized(context)?;
    let report = connection.client.battery().map_err(|e| connection.explain(e))?;
    if context.json {
        print_json(&json!(report));
        return Ok(());
    }
    let advice = match report.state {
        BatteryState::Ok => "ok",
        BatteryState::Low => "low: replace the batteries soon",
        BatteryState::Critical => "CRITICAL: replace the batteries now",
    };
    say!("battery      {}, {} %, {advice}", volts(report.millivolts), report.percent);
    say!("under load   {} (lowest while the motor ran)", volts(report.loaded_millivolts));
    say!("operations   about {} left before critical", report.operations_left);
    if let Some(at) = report.replaced_at {
        say!("replaced     {}", format_unix(at));
    }
    Ok(())
}

fn config_get(context: &Context, key: Option<SettingKey>) -> Result<(), CliError> {
    let mut connection = connect_authorized(context)?;
    let settings = connection.client.settings().map_err(|e| connection.explain(e))?;
    let keys: &[SettingKey] = match &key {
        Some(key) => std::slice::from_ref(key),
        None => &SettingKey::ALL,
    };
    if context.json {
        let mut doc = serde_json::Map::new();
        for key in keys {
            doc.insert(key.name().to_string(), key.value(&settings));
        }
        print_json(&Value::Object(doc));
    } else if let Some(key) = key {
        say!("{}", key.display(&settings));
    } else {
        for key in keys {
            say!("{:<17}{}", key.name(), key.display(&settings));
        }
    }
    Ok(())
}

fn config_set(context: &Context, key: SettingKey, value: &str) -> Result<(), CliError> {
    let setting = key.parse(value)?;
    // A zone name is resolved here; the lock keeps only its rule, so say where it came from.
    let zone_name = match key {
        SettingKey::TimeZone => super::settings::resolve_time_zone(value)?.name,
        _ => None,
    };
    let mut connection = connect_authorized(context)?;
    let settings = connection.client.set_setting(setting).map_err(|e| connection.explain(e))?;
    if context.json {
        let mut doc = json!({ key.name(): key.value(&settings) });
        if let Some(name) = zone_name {
            doc["zone_name"] = json!(name);
        }
        print_json(&doc);
    } else if let Some(name) = zone_name {
        say!("{} = {} ({name}'s rule today)", key.name(), key.display(&settings));
    } else {
        say!("{} = {}", key.name(), key.display(&settings));
    }
    Ok(())
}

fn print_json(value: &Value) {
    say!("{value}");
}
