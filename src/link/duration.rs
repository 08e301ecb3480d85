//! The one parser for durations the host takes from a person: `--timeout`, `ping --interval`
//! and `timeout` in the config file. Each has an allowed range, and a value outside it is an
//! error naming that range, never a panic or a silent zero.

use std::fmt;
use std::time::Duration;

/// The values a duration setting accepts, and what to call it in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationRange {
    /// What the value is ("a timeout").
    pub what: &'static str,
    /// The shortest allowed.
    pub min: Duration,
    /// The longest allowed.
    pub max: Duration,
}

impl DurationRange {
    /// Whether `value` is allowed.
    pub fn contains(&self, value: Duration) -> bool {
        (self.min..=self.max).contains(&value)
    }
}

impl fmt::Display for DurationRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {} to {}",
            self.what,
            humantime::format_duration(self.min),
            humantime::format_duration(self.max)
        )
    }
}

/// `--timeout` and the config file's `timeout`: the budget of one request, retries included.
/// Below a millisecond no answer can come back; above an hour a dead line looks like a hang.
pub const TIMEOUT_RANGE: DurationRange = DurationRange {
    what: "a timeout",
    min: Duration::from_millis(1),
    max: Duration::from_secs(3600),
};

/// `ping --interval`: the pause between pings.
pub const INTERVAL_RANGE: DurationRange = DurationRange {
    what: "an interval",
    min: Duration::from_millis(1),
    max: Duration::from_secs(3600),
};

/// A duration that could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a duration at all.
    #[error("{text:?} is not a duration: {why} (examples: 3s, 500ms, 2)")]
    Malformed {
        /// What was given (shortened when long).
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// A duration, but not one this setting allows.
    #[error("{text} is out of range: {range}")]
    OutOfRange {
        /// What was given (shortened when long).
        text: String,
        /// What is allowed.
        range: DurationRange,
    },
}

/// Parses `text` as a duration within `range`: a number of seconds (`2`, `0.5`) or a
/// duration with units (`3s`, `500ms`, `1m 30s`).
pub fn parse_duration_in(text: &str, range: DurationRange) -> Result<Duration, DurationError> {
    let text = text.trim();
    let out_of_range = || DurationError::OutOfRange { text: shorten(text), range };
    let value = if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_nan() {
            return Err(DurationError::Malformed {
                text: shorten(text),
                why: "not a number".into(),
            });
        }
        // Checked as a float first: converting a huge or infinite number would panic, and
        // a tiny one would round to zero.
        if seconds < range.min.as_secs_f64() || seconds > range.max.as_secs_f64() {
            return Err(out_of_range());
        }
        Duration::try_from_secs_f64(seconds).map_err(|_| out_of_range())?
    } else {
        match humantime::parse_duration(text) {
            Ok(value) => value,
            Err(humantime::DurationError::NumberOverflow) => return Err(out_of_range()),
            Err(e) => {
                return Err(DurationError::Malformed { text: shorten(text), why: e.to_string() });
            }
        }
    };
    if range.contains(value) { Ok(value) } else { Err(out_of_range()) }
}

/// A request timeout ([`TIMEOUT_RANGE`]); fits clap's `value_parser`.
pub fn parse_timeout(text: &str) -> Result<Duration, DurationError> {
    parse_duration_in(text, TIMEOUT_RANGE)
}

/// A pause between repeated requests ([`INTERVAL_RANGE`]); fits clap's `value_parser`.
pub fn parse_interval(text: &str) -> Result<Duration, DurationError> {
    parse_duration_in(text, INTERVAL_RANGE)
}

/// Deserializes an optional duration within [`TIMEOUT_RANGE`] from a string (`"3s"`) or a
/// number of seconds, for the config file.
pub fn deserialize_timeout<'de, D>(deserializer: D) -> Result<Option<Duration>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Written {
        Text(String),
        Integer(i64),
        Float(f64),
    }
    let text = match <Option<Written> as serde::Deserialize>::deserialize(deserializer)? {
        None => return Ok(None),
        Some(Written::Text(text)) => text,
        Some(Written::Integer(n)) => n.to_string(),
        Some(Written::Float(x)) => x.to_string(),
    };
    parse_timeout(&text).map(Some).map_err(serde::de::Error::custom)
}

/// At most 40 characters of what a person typed, so a pasted megabyte is not echoed back.
fn shorten(text: &str) -> String {
    const KEEP: usize = 40;
    match text.char_indices().nth(KEEP) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_seconds_and_units_are_taken() {
        assert_eq!(parse_timeout("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_timeout(" 0.5 "), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("0.001"), Ok(Duration::from_millis(1)));
        assert_eq!(parse_timeout("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("3600"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_interval("1ms"), Ok(Duration::from_millis(1)));
    }

    #[test]
    fn values_out_of_range_are_errors_naming_the_range() {
        for text in [
            "18446744073709551615",
            "18446744073709551616",
            "9999999999999999999",
            "1e20",
            "1e19",
            "inf",
            "-inf",
            "0.0000000001",
            "0",
            "-1",
            "-0",
            "18446744073709551615s",
            "99999999999999999999999s",
            "0ns",
            "999us",
            "1h 1ns",
            "3601",
        ] {
            let error = parse_timeout(text).expect_err(text);
            assert!(matches!(error, DurationError::OutOfRange { .. }), "{text}: {error}");
            assert!(error.to_string().contains("a timeout is 1ms to 1h"), "{text}: {error}");
        }
    }

    #[test]
    fn what_is_not_a_duration_says_so_with_examples() {
        for text in ["", "abc", "NaN", "0x10", "5s5", "3 parsecs"] {
            let error = parse_timeout(text).expect_err(text);
            assert!(matches!(error, DurationError::Malformed { .. }), "{text}: {error}");
            assert!(error.to_string().contains("examples: 3s"), "{text}: {error}");
        }
    }

    #[test]
    fn a_long_input_is_not_echoed_in_full() {
        let text = "9".repeat(100_000);
        let message = parse_timeout(&text).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
    }

    #[test]
    fn the_config_file_form_uses_the_same_rules() {
        #[derive(serde::Deserialize, Debug)]
        struct Config {
            #[serde(default, deserialize_with = "deserialize_timeout")]
            timeout: Option<Duration>,
        }
        let parse = |text: &str| toml::from_str::<Config>(text).map(|c| c.timeout);
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("timeout = \"500ms\"").unwrap(), Some(Duration::from_millis(500)));
        assert_eq!(parse("timeout = 2").unwrap(), Some(Duration::from_secs(2)));
        assert_eq!(parse("timeout = 0.25").unwrap(), Some(Duration::from_millis(250)));
        for bad in [
            "timeout = \"18446744073709551615\"",
            "timeout = \"1e20\"",
            "timeout = 0",
            "timeout = 1e300",
        ] {
            let error = parse(bad).unwrap_err().to_string();
            assert!(error.contains("a timeout is 1ms to 1h"), "{bad}: {error}");
        }
        assert!(parse("timeout = \"banana\"").unwrap_err().to_string().contains("not a duration"));
    }
}
