//! Formatting shared by both faces.

use std::time::{Duration, UNIX_EPOCH};

use latchkey_protocol::ClockReading;

/// Seconds the lock's clock is ahead of this computer's (negative: behind).
pub fn drift_seconds(reading: &ClockReading, host_unix: u64) -> i64 {
    reading.unix_seconds as i64 - host_unix as i64
}

/// RFC 3339 for a Unix time, or the raw number when out of range.
pub fn format_unix(unix_seconds: u64) -> String {
    match UNIX_EPOCH.checked_add(Duration::from_secs(unix_seconds)) {
        Some(t) => humantime::format_rfc3339_seconds(t).to_string(),
        None => format!("@{unix_seconds}"),
    }
}

/// "3s ahead", "1m 30s behind", "in step".
pub fn describe_drift(drift: i64) -> String {
    let amount = humantime::format_duration(Duration::from_secs(drift.unsigned_abs()));
    match drift {
        0 => "in step".to_string(),
        d if d > 0 => format!("{amount} ahead"),
        _ => format!("{amount} behind"),
    }
}

/// Millivolts as volts with two decimals: "5.82 V".
pub fn volts(millivolts: u16) -> String {
    format!("{}.{:02} V", millivolts / 1000, (millivolts % 1000) / 10)
}
