//! The device itself: `ports`, `info`, `ping`, `time`, `battery`, `config`, `diag`.

use std::time::Duration;

use latchkey_protocol::{BatteryState, Diagnostics, LockInfo};
use serde_json::{Value, json};

use super::connect::{Access, Explain, authorize, connect, open};
use super::{CliError, Context, Outcome, SettingKey};
use crate::display::{
    alarm_words, battery_words, bolt_words, describe_drift, describe_local, door_words,
    drift_seconds, format_local, format_unix, reset_words, volts,
};
use crate::link;
use crate::session::ConnectError;
use crate::time::{self, lock_time};

pub(super) fn ports(context: &Context) -> Result<(), CliError> {
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

pub(super) fn info(context: &Context) -> Result<(), CliError> {
    let mut connection = connect(context)?;
    let info = connection.info()?.clone();
    // Identity is public; the counters need a session on a claimed lock. Without a key,
    // show what can be shown and say why the rest is missing.
    let diagnostics = match authorize(context, &mut connection, Access::Read) {
        // A factory-new lock shows its counters to nobody: they wait for a claim.
        Ok(()) if !info.claimed => None,
        Ok(()) => Some(connection.client.diagnostics().map_err(|e| connection.explain(e))?),
        Err(ConnectError::NoKey { source, .. }) => {
            eprintln!("note: {source}; showing identity only");
            None
        }
        Err(e) => return Err(e.into()),
    };
    let client = &mut connection.client;
    if context.json {
        let mut doc = json!(info);
        doc["port"] = json!(client.path());
        doc["factory_data"] = json!(info.has_factory_data());
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
    say!(
        "claimed      {}",
        match (info.claimed, info.has_factory_data()) {
            (true, _) => "yes",
            (false, true) => "no: run `latchkey claim`",
            (false, false) =>
                "no, and it cannot be: no factory data (setup code never provisioned)",
        }
    );
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
    print_security(&d);
    Ok(())
}

pub(super) fn ping(context: &Context, count: u32, interval: Duration) -> Result<(), CliError> {
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

pub(super) fn time_get(context: &Context) -> Result<(), CliError> {
    let mut connection = open(context, Access::Read)?;
    let reading = connection.client.time().map_err(|e| connection.explain(e))?;
    let host = time::now().as_secs();
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

pub(super) fn time_sync(context: &Context) -> Result<(), CliError> {
    let mut connection = open(context, Access::Change)?;
    let before = connection.client.time().map_err(|e| connection.explain(e))?;
    let drift_before = drift_seconds(&before, time::now().as_secs());
    let zone = connection.client.settings().map_err(|e| connection.explain(e))?.time_zone;
    // The lock keeps whole seconds: send the next whole second at the moment it begins, so
    // the lock starts in step rather than up to a second behind.
    let now = time::now();
    let target = now.as_secs() + 1;
    std::thread::sleep(Duration::from_secs(target) - now);
    let after = connection.client.set_time(target).map_err(|e| connection.explain(e))?;
    let drift_after = drift_seconds(&after, time::now().as_secs());
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

/// `time set WHEN`: puts the lock's clock at a chosen time, so an installer can try a
/// schedule on site; local forms are read in the lock's own time zone.
pub(super) fn time_set(context: &Context, when: &str) -> Result<(), CliError> {
    let when = time::parse_when(when).map_err(|e| {
        CliError::usage(e.to_string()).with_hint(
            "use now, +8h, 2026-12-07T06:59 (the lock's local time) or 2026-12-07T05:59:00Z",
        )
    })?;
    let mut connection = open(context, Access::Change)?;
    let zone = connection.client.settings().map_err(|e| connection.explain(e))?.time_zone;
    let target = when.resolve(false, &zone, time::now().as_secs());
    let after = connection.client.set_time(target).map_err(|e| connection.explain(e))?;
    let drift = drift_seconds(&after, time::now().as_secs());
    if context.json {
        print_json(&json!({
            "unix_seconds": after.unix_seconds,
            "time": format_unix(after.unix_seconds),
            "local_time": format_local(after.unix_seconds, &zone),
            "utc_offset_seconds": zone.offset_seconds(after.unix_seconds),
            "drift_seconds": drift,
        }));
        return Ok(());
    }
    say!(
        "lock clock set to {} ({}); `latchkey time sync` puts it back to this computer's time",
        format_unix(after.unix_seconds),
        describe_local(after.unix_seconds, &zone),
    );
    Ok(())
}

pub(super) fn battery(context: &Context, check: bool) -> Result<Outcome, CliError> {
    let mut connection = open(context, Access::Read)?;
    let report = connection.client.battery().map_err(|e| connection.explain(e))?;
    let outcome =
        if check && report.state != BatteryState::Ok { Outcome::Attention } else { Outcome::Done };
    if context.json {
        print_json(&json!(report));
        return Ok(outcome);
    }
    let advice = match report.state {
        BatteryState::Ok => "ok",
        BatteryState::Low => "low: replace the batteries soon",
        BatteryState::Critical => "CRITICAL: replace the batteries now",
    };
    say!("battery      {}, {} %, {advice}", volts(report.millivolts), report.percent);
    say!("under load   {} (lowest while the motor ran)", volts(report.loaded_millivolts));
    say!("operations   about {} left before critical", report.operations_left);
    if let Some(at) = report.replaced_at.and_then(lock_time) {
        say!("replaced     {}", format_unix(at));
    }
    Ok(outcome)
}

pub(super) fn config_get(context: &Context, key: Option<SettingKey>) -> Result<(), CliError> {
    let mut connection = open(context, Access::Read)?;
    let settings = connection.client.settings().map_err(|e| connection.explain(e))?;
    let keys: &[SettingKey] = match &key {
        Some(key) => std::slice::from_ref(key),
        None => &SettingKey::ALL,
    };
    if context.json {
        let mut doc = serde_json::Map::new();
        for key in keys {
            doc.insert(key.json_key().to_string(), key.value(&settings));
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

pub(super) fn config_set(context: &Context, key: SettingKey, value: &str) -> Result<(), CliError> {
    let setting = key.parse(value)?;
    // A zone name is resolved here; the lock keeps only its rule, so say where it came from.
    let zone_name = match key {
        SettingKey::TimeZone => super::settings::resolve_time_zone(value)?.name,
        _ => None,
    };
    let mut connection = open(context, Access::Change)?;
    let settings = connection.client.set_setting(setting).map_err(|e| connection.explain(e))?;
    if context.json {
        let mut doc = json!({ key.json_key(): key.value(&settings) });
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

pub(super) fn diag(context: &Context) -> Result<(), CliError> {
    let mut c = open(context, Access::Read)?;
    let info = c.info()?.clone();
    let d = c.client.diagnostics().map_err(|e| c.explain(e))?;
    let battery = c.client.battery().map_err(|e| c.explain(e))?;
    let alarms = c.client.alarms().map_err(|e| c.explain(e))?;
    let stats = c.client.stats();
    if context.json {
        say!(
            "{}",
            json!({
                "model": info.model.as_str(),
                "serial": info.serial.as_str(),
                "firmware_version": info.firmware_version.as_str(),
                "diagnostics": d,
                "battery": battery,
                "alarms": alarms.iter().map(|a| json!({ "alarm": a.alarm.as_str(), "seconds_left": a.seconds_left })).collect::<Vec<_>>(),
                "host_link": { "sent": stats.sent, "resent": stats.resent, "received": stats.received, "dropped": stats.dropped, "stale": stats.stale, "unsealed": stats.unsealed },
            })
        );
        return Ok(());
    }
    say!("lock         {} {} (firmware {})", info.model, info.serial, info.firmware_version);
    say!(
        "uptime       {} since the last start (#{}, {})",
        humantime::format_duration(Duration::from_secs(d.uptime_ms / 1000)),
        d.boot_count,
        reset_words(d.reset_reason)
    );
    say!(
        "battery      {} at rest, {} under load, {} %, {}",
        volts(battery.millivolts),
        volts(battery.loaded_millivolts),
        battery.percent,
        battery_words(battery.state)
    );
    say!("bolt         {}, door {}", bolt_words(d.bolt_locked), door_words(d.door_open));
    say!(
        "motor        {} runs since start; last {} ms, {} mA peak",
        d.motor_runs,
        d.motor_last_ms,
        d.motor_last_ma
    );
    say!(
        "storage      {} users; log {} records (keeps at least {}); {} flash writes since start",
        d.users,
        d.log_records,
        d.log_capacity,
        d.store_writes
    );
    say!(
        "link         {} frames in, {} out; dropped {} bad CRC, {} malformed, {} too long, {} undecodable",
        d.frames_received,
        d.frames_sent,
        d.dropped_bad_crc,
        d.dropped_malformed,
        d.dropped_too_long,
        d.dropped_undecodable
    );
    print_security(&d);
    if alarms.is_empty() {
        say!("alarms       none");
    }
    for a in &alarms {
        match a.seconds_left {
            0 => say!("alarm        {}", alarm_words(a.alarm)),
            left => say!("alarm        {} ({left} s left)", alarm_words(a.alarm)),
        }
    }
    Ok(())
}

/// The security counters, as `info` and `diag` show them.
fn print_security(d: &Diagnostics) {
    say!(
        "security     {} sealed frames rejected, {} failed authentications",
        d.sealed_rejected,
        d.auth_failures
    );
}
