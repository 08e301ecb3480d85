//! One function per command: ask the client, print the answer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use latchkey_firmware::sim::{RunningSim, SimConfig};
use latchkey_protocol::{BatteryState, LockInfo};
use serde_json::{Value, json};

use super::{CliError, Command, ConfigCommand, Context, PortChoice, SettingKey, TimeCommand};
use crate::display::{describe_drift, drift_seconds, format_unix, volts};
use crate::link::{self, Client, LinkOptions};

/// An open link to a lock, and the simulated lock behind it when `--sim` started one.
pub struct Connection {
    /// The client.
    pub client: Client,
    // Dropped after the client, so the lock outlives the link.
    _sim: Option<RunningSim>,
}

/// Opens the port the context names (starting a simulated lock for `--sim`).
pub fn connect(context: &Context) -> Result<Connection, CliError> {
    let options = LinkOptions { timeout: context.timeout, ..LinkOptions::default() };
    let (path, sim) = match &context.port {
        PortChoice::Sim => {
            let sim = RunningSim::start(SimConfig::default()).map_err(|e| CliError {
                code: super::exit::NO_DEVICE,
                kind: "sim",
                message: format!("cannot start the simulated lock: {e}"),
                hint: Some("the simulator needs a pseudo-terminal (/dev/ptmx)".into()),
                status: None,
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
    Ok(Connection { client, _sim: sim })
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
    }
}

fn ports(context: &Context) -> Result<(), CliError> {
    let ports = link::list_ports().map_err(link::ResolveError::from)?;
    if context.json {
        print_json(&json!(ports));
        return Ok(());
    }
    if ports.is_empty() {
        println!("no serial ports found");
    }
    for port in &ports {
        println!("{}", port.describe());
    }
    Ok(())
}

fn info(context: &Context) -> Result<(), CliError> {
    let mut connection = connect(context)?;
    let client = &mut connection.client;
    let info = client.hello()?;
    let diagnostics = client.diagnostics()?;
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
    println!(
        "capacity     {} users, {} credentials each, log of {} records",
        c.max_users, c.credentials_per_user, c.log_capacity
    );
    println!("pin length   {} to {} digits", c.pin_length_min, c.pin_length_max);
    println!("access       {}", paths.join(", "));
    println!(
        "link         {} (up to {} requests in flight, frames up to {} bytes)",
        client.path().display(),
        c.max_in_flight,
        c.max_frame_len
    );
    let d = diagnostics;
    println!(
        "uptime       {} (boot #{})",
        humantime::format_duration(Duration::from_secs(d.uptime_ms / 1000)),
        d.boot_count
    );
    println!("frames       {} received, {} sent", d.frames_received, d.frames_sent);
    println!(
        "dropped      {} bad CRC, {} malformed, {} too long, {} undecodable, {} wrong version",
        d.dropped_bad_crc,
        d.dropped_malformed,
        d.dropped_too_long,
        d.dropped_undecodable,
        d.wrong_version
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
            println!("pong {n}: {:.2} ms", rtt.as_secs_f64() * 1e3);
        }
    }
    let stats = client.stats();
    if !context.json {
        let total: Duration = times.iter().sum();
        let max = times.iter().max().copied().unwrap_or_default();
        println!(
            "{count} pings, average {:.2} ms, slowest {:.2} ms, {} resent",
            total.as_secs_f64() * 1e3 / f64::from(count),
            max.as_secs_f64() * 1e3,
            stats.resent
        );
    }
    Ok(())
}

fn print_identity(info: &LockInfo) {
    println!("model        {}{}", info.model, if info.simulation { " (simulation)" } else { "" });
    println!("serial       {}", info.serial);
    println!("firmware     {} (protocol {})", info.firmware_version, info.protocol_version);
}

fn host_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

fn time_get(context: &Context) -> Result<(), CliError> {
    let mut connection = connect(context)?;
    let reading = connection.client.time()?;
    let host = host_now().as_secs();
    let drift = drift_seconds(&reading, host);
    if context.json {
        print_json(&json!({
            "unix_seconds": reading.unix_seconds,
            "time": format_unix(reading.unix_seconds),
            "is_set": reading.is_set,
            "uptime_ms": reading.uptime_ms,
            "host_unix_seconds": host,
            "drift_seconds": drift,
        }));
        return Ok(());
    }
    println!(
        "lock   {}{}",
        format_unix(reading.unix_seconds),
        if reading.is_set { "" } else { "  (never set since power-up: run `latchkey time sync`)" }
    );
    println!("host   {}", format_unix(host));
    println!("drift  {}", describe_drift(drift));
    Ok(())
}

fn time_sync(context: &Context) -> Result<(), CliError> {
    let mut connection = connect(context)?;
    let client = &mut connection.client;
    let before = client.time()?;
    let drift_before = drift_seconds(&before, host_now().as_secs());
    // The lock keeps whole seconds: send the next whole second at the moment it begins, so
    // the lock starts in step rather than up to a second behind.
    let now = host_now();
    let target = now.as_secs() + 1;
    std::thread::sleep(Duration::from_secs(target) - now);
    let after = client.set_time(target)?;
    let drift_after = drift_seconds(&after, host_now().as_secs());
    if context.json {
        print_json(&json!({
            "unix_seconds": after.unix_seconds,
            "time": format_unix(after.unix_seconds),
            "drift_before_seconds": drift_before,
            "drift_after_seconds": drift_after,
        }));
        return Ok(());
    }
    println!(
        "lock clock set to {} (was {})",
        format_unix(after.unix_seconds),
        describe_drift(drift_before)
    );
    Ok(())
}

fn battery(context: &Context) -> Result<(), CliError> {
    let mut connection = connect(context)?;
    let report = connection.client.battery()?;
    if context.json {
        print_json(&json!(report));
        return Ok(());
    }
    let advice = match report.state {
        BatteryState::Ok => "ok",
        BatteryState::Low => "low: replace the batteries soon",
        BatteryState::Critical => "CRITICAL: replace the batteries now",
    };
    println!("battery  {}, {} %, {}", volts(report.millivolts), report.percent, advice);
    Ok(())
}

fn config_get(context: &Context, key: Option<SettingKey>) -> Result<(), CliError> {
    let mut connection = connect(context)?;
    let settings = connection.client.settings()?;
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
        println!("{}", key.display(&settings));
    } else {
        for key in keys {
            println!("{:<17}{}", key.name(), key.display(&settings));
        }
    }
    Ok(())
}

fn config_set(context: &Context, key: SettingKey, value: &str) -> Result<(), CliError> {
    let setting = key.parse(value)?;
    let mut connection = connect(context)?;
    let settings = connection.client.set_setting(setting)?;
    if context.json {
        print_json(&json!({ key.name(): key.value(&settings) }));
    } else {
        println!("{} = {}", key.name(), key.display(&settings));
    }
    Ok(())
}

fn print_json(value: &Value) {
    println!("{value}");
}
