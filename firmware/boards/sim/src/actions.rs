//! The simulated person: one action per line (`pin 058213`, `card 04A1B2C3`, ...), as
//! `latchkey-sim` reads them from its standard input and [`crate::RunningSim::act`] takes
//! them from code; and the lines the simulator prints about what the lock did.

use std::fmt;
use std::time::Duration;

use latchkey_firmware::hal::Beep;
use latchkey_protocol::{
    AccessPath, AccessReason, AccessRecord, Alarm, BeeperVolume, Credential, EnrollFailure,
    EnrollKind, Enrollment, Event, PIN_MAX,
};

/// The actions, as `latchkey-sim --help` lists them.
pub const ACTIONS_HELP: &str = "\
Actions, one per line on standard input (what a person does at the door):
  pin DIGITS            enter a PIN on the keypad, e.g. pin 058213
  card HEX              tap an RFID card, its UID in hex (4, 7 or 10 bytes), e.g. card 04A1B2C3
  finger NAME [QUALITY] place a finger (NAME identifies it, e.g. ann-thumb; QUALITY 0-100,
                        default 90): a capture while enrolling, otherwise an access attempt
  phone SEED_HEX        a phone holding the Ed25519 key from this 32-byte seed (64 hex digits)
                        presents itself and signs the lock's challenge
  key                   turn the mechanical key
  tamper on|off         open or close the housing (tamper switch)
  door open|closed      the door opens or closes
  battery MV            set the battery voltage at rest, in millivolts
  jam on|off            jam the bolt (the motor cannot move it) or free it
  power-cut             the lock loses power and boots again from its flash
  clock +DURATION       time passes: the lock's clock and uptime move forward together and
                        the lock does what it would have done meanwhile (a lockout ends, the
                        bolt relocks, a guest expires, the door-ajar alarm, back-off ends),
                        e.g. clock +90s, clock +2h, clock +1d, clock +1h30m
                        (units: ms, s, m/min, h, d, w)
Blank lines and lines starting with # are ignored. Once an action has been carried out,
after every line it caused, one line acknowledges it on standard output (a PIN's digits
masked: latchkey-sim: ok pin ******):
  latchkey-sim: ok clock +90s
or, if it could not be done (the reason also goes to standard error):
  latchkey-sim: failed dance: unknown action `dance` (expected: ...)
Each access decision prints one line, e.g.
  latchkey-sim: access granted user 3 via keypad
  latchkey-sim: access refused via rfid: unknown_credential
and each beep pattern the lock plays, e.g.
  latchkey-sim: beep low_battery (medium)";

/// One thing the simulated person does.
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    /// A PIN entered on the keypad.
    Pin(String),
    /// A card tapped: its UID.
    Card(Vec<u8>),
    /// A finger placed.
    Finger {
        /// Which finger.
        name: String,
        /// Image quality, 0 to 100.
        quality: u8,
    },
    /// A phone with the key from this seed.
    Phone([u8; 32]),
    /// The mechanical key turned.
    Key,
    /// The tamper switch.
    Tamper(bool),
    /// The door: `true` open.
    Door(bool),
    /// The battery voltage, millivolts.
    Battery(u16),
    /// The bolt jammed or free.
    Jam(bool),
    /// Power lost and back.
    PowerCut,
    /// Time passes: the lock's clock moves forward this much.
    Clock(Duration),
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Never the digits.
            Self::Pin(_) => f.write_str("Pin(..)"),
            Self::Card(uid) => write!(f, "Card({})", hex(uid)),
            Self::Finger { name, quality } => write!(f, "Finger({name}, {quality})"),
            Self::Phone(_) => f.write_str("Phone(..)"),
            Self::Key => f.write_str("Key"),
            Self::Tamper(on) => write!(f, "Tamper({on})"),
            Self::Door(open) => write!(f, "Door(open: {open})"),
            Self::Battery(mv) => write!(f, "Battery({mv} mV)"),
            Self::Jam(on) => write!(f, "Jam({on})"),
            Self::PowerCut => f.write_str("PowerCut"),
            Self::Clock(by) => write!(f, "Clock(+{})", humantime::format_duration(*by)),
        }
    }
}

/// Why an action line was not understood. The message names the problem and the valid
/// form; it never repeats a PIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem} (expected: {form})")]
pub struct ActionError {
    problem: String,
    form: &'static str,
}

impl ActionError {
    fn new(problem: impl Into<String>, form: &'static str) -> Self {
        Self { problem: problem.into(), form }
    }
}

const FORMS: &str = "pin DIGITS | card HEX | finger NAME [QUALITY] | phone SEED_HEX | key | \
                     tamper on|off | door open|closed | battery MV | jam on|off | power-cut | \
                     clock +DURATION";

const CLOCK_FORM: &str = "clock +DURATION, e.g. clock +90s, clock +2h, clock +1d or clock +1h30m \
                          (units: ms, s, m, min, h, d, w)";

impl Action {
    /// Parses one line (surrounding blanks ignored).
    pub fn parse(line: &str) -> Result<Action, ActionError> {
        let mut words = line.split_whitespace();
        let Some(verb) = words.next() else {
            return Err(ActionError::new("empty action", FORMS));
        };
        let args: Vec<&str> = words.collect();
        let one = |form: &'static str| match args.as_slice() {
            [arg] => Ok(*arg),
            [] => Err(ActionError::new(format!("`{verb}` needs an argument"), form)),
            _ => Err(ActionError::new(format!("`{verb}` takes one argument"), form)),
        };
        let none = |action: Action| {
            if args.is_empty() {
                Ok(action)
            } else {
                Err(ActionError::new(format!("`{verb}` takes no argument"), "key | power-cut"))
            }
        };
        match verb {
            "pin" => {
                const FORM: &str = "pin DIGITS, e.g. pin 058213";
                let digits = one(FORM)?;
                if digits.is_empty()
                    || digits.len() > PIN_MAX
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(ActionError::new(
                        format!("a PIN is 1 to {PIN_MAX} digits 0-9"),
                        FORM,
                    ));
                }
                Ok(Action::Pin(digits.to_owned()))
            }
            "card" => {
                const FORM: &str = "card HEX, e.g. card 04A1B2C3 (4, 7 or 10 bytes)";
                let text = one(FORM)?;
                let uid = parse_hex(text)
                    .filter(|uid| matches!(uid.len(), 4 | 7 | 10))
                    .ok_or_else(|| {
                        ActionError::new(
                            format!("`{text}` is not a card UID of 4, 7 or 10 bytes in hex"),
                            FORM,
                        )
                    })?;
                Ok(Action::Card(uid))
            }
            "finger" => {
                const FORM: &str = "finger NAME [QUALITY], e.g. finger ann-thumb 85";
                let (name, quality) = match args.as_slice() {
                    [name] => (*name, 90),
                    [name, quality] => {
                        let q =
                            quality.parse::<u8>().ok().filter(|q| *q <= 100).ok_or_else(|| {
                                ActionError::new(
                                    format!("quality `{quality}` is not 0 to 100"),
                                    FORM,
                                )
                            })?;
                        (*name, q)
                    }
                    [] => return Err(ActionError::new("`finger` needs a NAME", FORM)),
                    _ => return Err(ActionError::new("`finger` takes NAME and QUALITY", FORM)),
                };
                Ok(Action::Finger { name: name.to_owned(), quality })
            }
            "phone" => {
                const FORM: &str = "phone SEED_HEX (32 bytes: 64 hex digits)";
                let text = one(FORM)?;
                let seed = parse_hex(text)
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .ok_or_else(|| ActionError::new("the seed is not 64 hex digits", FORM))?;
                Ok(Action::Phone(seed))
            }
            "key" => none(Action::Key),
            "power-cut" => none(Action::PowerCut),
            "tamper" => on_off(one("tamper on|off")?, "tamper on|off").map(Action::Tamper),
            "jam" => on_off(one("jam on|off")?, "jam on|off").map(Action::Jam),
            "door" => match one("door open|closed")? {
                "open" => Ok(Action::Door(true)),
                "closed" | "close" => Ok(Action::Door(false)),
                other => Err(ActionError::new(
                    format!("`{other}` is not open or closed"),
                    "door open|closed",
                )),
            },
            "battery" => {
                const FORM: &str = "battery MV, e.g. battery 4400";
                let text = one(FORM)?;
                text.parse::<u16>().map(Action::Battery).map_err(|_| {
                    ActionError::new(
                        format!("`{text}` is not a voltage in millivolts (0 to 65535)"),
                        FORM,
                    )
                })
            }
            "clock" => {
                // Units may be spaced out (`clock +1h 30m`), as humantime allows.
                let text = args.join(" ");
                if text.is_empty() {
                    return Err(ActionError::new("`clock` needs a duration", CLOCK_FORM));
                }
                let Some(amount) = text.strip_prefix('+') else {
                    let problem = if text.starts_with('-') {
                        "the clock only moves forward".to_owned()
                    } else {
                        format!("`{text}` does not start with +")
                    };
                    return Err(ActionError::new(problem, CLOCK_FORM));
                };
                humantime::parse_duration(amount.trim()).map(Action::Clock).map_err(|_| {
                    ActionError::new(format!("`{text}` is not a duration"), CLOCK_FORM)
                })
            }
            other => Err(ActionError::new(format!("unknown action `{other}`"), FORMS)),
        }
    }
}

/// The line acknowledging that the action on `line` was carried out:
/// `latchkey-sim: ok clock +90s`. A PIN's digits are masked (`ok pin ******`): the simulator
/// never prints a PIN.
pub fn ok_line(line: &str) -> String {
    format!("latchkey-sim: ok {}", quoted(line))
}

/// The line saying the action on `line` could not be carried out, and why:
/// `latchkey-sim: failed dance: unknown action ...`.
pub fn failed_line(line: &str, reason: &dyn fmt::Display) -> String {
    format!("latchkey-sim: failed {}: {reason}", quoted(line))
}

/// `line` trimmed, with the argument of a `pin` action masked, one `*` a character.
fn quoted(line: &str) -> String {
    let line = line.trim();
    match line.split_once(char::is_whitespace) {
        Some(("pin", rest)) => {
            let masked: String =
                rest.chars().map(|c| if c.is_whitespace() { c } else { '*' }).collect();
            format!("pin {masked}")
        }
        _ => line.to_owned(),
    }
}

fn on_off(word: &str, form: &'static str) -> Result<bool, ActionError> {
    match word {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(ActionError::new(format!("`{other}` is not on or off"), form)),
    }
}

fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    let text: String = text.chars().filter(|c| *c != ':').collect();
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A stable name for an access path.
pub fn path_name(path: AccessPath) -> &'static str {
    match path {
        AccessPath::Keypad => "keypad",
        AccessPath::Rfid => "rfid",
        AccessPath::Fingerprint => "fingerprint",
        AccessPath::Phone => "phone",
        AccessPath::MechanicalKey => "mechanical_key",
    }
}

/// A stable name for an access reason.
pub fn reason_name(reason: AccessReason) -> &'static str {
    match reason {
        AccessReason::Granted => "granted",
        AccessReason::Duress => "duress",
        AccessReason::UnknownCredential => "unknown_credential",
        AccessReason::UserDisabled => "user_disabled",
        AccessReason::OutsideSchedule => "outside_schedule",
        AccessReason::NotYetValid => "not_yet_valid",
        AccessReason::Expired => "expired",
        AccessReason::UsesExhausted => "uses_exhausted",
        AccessReason::NonAccessUser => "non_access_user",
        AccessReason::KeypadLockedOut => "keypad_locked_out",
        AccessReason::BadSignature => "bad_signature",
        AccessReason::ClockNotSet => "clock_not_set",
        AccessReason::MechanicalKey => "mechanical_key",
    }
}

/// A stable name for an alarm.
pub fn alarm_name(alarm: Alarm) -> &'static str {
    match alarm {
        Alarm::WrongCodeLimit => "wrong_code_limit",
        Alarm::Duress => "duress",
        Alarm::Tamper => "tamper",
        Alarm::ForcedOpen => "forced_open",
        Alarm::DoorAjar => "door_ajar",
        Alarm::Jammed => "jammed",
        Alarm::LowBattery => "low_battery",
        Alarm::CriticalBattery => "critical_battery",
    }
}

fn kind_name(kind: EnrollKind) -> &'static str {
    match kind {
        EnrollKind::Card => "card",
        EnrollKind::Fingerprint => "fingerprint",
    }
}

fn failure_name(reason: EnrollFailure) -> &'static str {
    match reason {
        EnrollFailure::PoorQuality => "poor_quality",
        EnrollFailure::TimedOut => "timed_out",
        EnrollFailure::Cancelled => "cancelled",
        EnrollFailure::Duplicate => "duplicate",
        EnrollFailure::Full => "full",
        EnrollFailure::Storage => "storage",
        EnrollFailure::Sensor => "sensor",
    }
}

/// The line for a beep pattern the lock played, e.g. `latchkey-sim: beep low_battery (medium)`.
pub fn beep_line(beep: Beep, volume: BeeperVolume) -> String {
    let name = match beep {
        Beep::LowBattery => "low_battery",
        Beep::CriticalBattery => "critical_battery",
    };
    let volume = match volume {
        BeeperVolume::Off => "off",
        BeeperVolume::Low => "low",
        BeeperVolume::Medium => "medium",
        BeeperVolume::High => "high",
    };
    format!("latchkey-sim: beep {name} ({volume})")
}

/// `latchkey-sim: access granted user 3 via keypad`,
/// `latchkey-sim: access refused user 3 via keypad: outside_schedule`,
/// `latchkey-sim: access refused via rfid: unknown_credential`.
pub fn access_line(record: &AccessRecord) -> String {
    let verdict = if record.granted { "granted" } else { "refused" };
    let user = record.user.map(|id| format!(" user {id}")).unwrap_or_default();
    let path = path_name(record.path);
    match record.reason {
        AccessReason::Granted | AccessReason::MechanicalKey if record.granted => {
            format!("latchkey-sim: access {verdict}{user} via {path}")
        }
        reason => {
            format!("latchkey-sim: access {verdict}{user} via {path}: {}", reason_name(reason))
        }
    }
}

/// The line for an event, if it gets one.
pub fn event_line(event: &Event) -> Option<String> {
    Some(match event {
        Event::Access(record) => access_line(record),
        Event::AlarmRaised(alarm) => format!("latchkey-sim: alarm {}", alarm_name(*alarm)),
        Event::Enrollment(state) => match state {
            Enrollment::Idle => return None,
            Enrollment::InProgress { kind, user, captures, needed, last_quality, .. } => {
                let quality =
                    last_quality.map(|q| format!(" (last quality {q})")).unwrap_or_default();
                format!(
                    "latchkey-sim: enrollment {} user {user}: {captures}/{needed}{quality}",
                    kind_name(*kind)
                )
            }
            Enrollment::Done { user, credential } => {
                let what = match credential {
                    Credential::Pin => "pin".to_owned(),
                    Credential::Card { uid } => format!("card {}", hex(uid)),
                    Credential::Fingerprint { slot } => format!("fingerprint slot {slot}"),
                    Credential::Phone { public_key } => format!("phone {}", hex(public_key)),
                    Credential::CardFingerprint { fingerprint } => {
                        format!("card fingerprint {}", hex(fingerprint))
                    }
                    Credential::PhoneFingerprint { fingerprint } => {
                        format!("phone fingerprint {}", hex(fingerprint))
                    }
                };
                format!("latchkey-sim: enrollment done user {user}: {what}")
            }
            Enrollment::Failed { kind, user, reason } => format!(
                "latchkey-sim: enrollment {} user {user} failed: {}",
                kind_name(*kind),
                failure_name(*reason)
            ),
        },
        Event::Booted { boot_count } => format!("latchkey-sim: booted (boot {boot_count})"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(Action::parse("pin 058213"), Ok(Action::Pin("058213".into())));
        assert_eq!(Action::parse(" card 04A1B2C3 "), Ok(Action::Card(vec![4, 0xA1, 0xB2, 0xC3])));
        assert_eq!(
            Action::parse("finger ann-thumb"),
            Ok(Action::Finger { name: "ann-thumb".into(), quality: 90 })
        );
        assert_eq!(
            Action::parse("finger ann-thumb 35"),
            Ok(Action::Finger { name: "ann-thumb".into(), quality: 35 })
        );
        assert_eq!(
            Action::parse(&format!("phone {}", "01".repeat(32))),
            Ok(Action::Phone([1; 32]))
        );
        assert_eq!(Action::parse("key"), Ok(Action::Key));
        assert_eq!(Action::parse("tamper on"), Ok(Action::Tamper(true)));
        assert_eq!(Action::parse("door closed"), Ok(Action::Door(false)));
        assert_eq!(Action::parse("battery 4400"), Ok(Action::Battery(4400)));
        assert_eq!(Action::parse("jam off"), Ok(Action::Jam(false)));
        assert_eq!(Action::parse("power-cut"), Ok(Action::PowerCut));
        assert_eq!(Action::parse("clock +90s"), Ok(Action::Clock(Duration::from_secs(90))));
        assert_eq!(Action::parse("clock +7s"), Ok(Action::Clock(Duration::from_secs(7))));
        assert_eq!(Action::parse("clock +2h"), Ok(Action::Clock(Duration::from_secs(7200))));
        assert_eq!(Action::parse("clock +1d"), Ok(Action::Clock(Duration::from_secs(86_400))));
        assert_eq!(Action::parse("clock +1h 30m"), Ok(Action::Clock(Duration::from_secs(5400))));
        assert_eq!(Action::parse("clock +250ms"), Ok(Action::Clock(Duration::from_millis(250))));
    }

    #[test]
    fn a_bad_clock_line_names_the_accepted_forms() {
        for line in
            ["clock", "clock 90s", "clock -5s", "clock +soon", "clock +90 parsecs", "clock +"]
        {
            let e = Action::parse(line).unwrap_err().to_string();
            assert!(e.contains("clock +DURATION") && e.contains("units"), "{line:?}: {e}");
        }
        let e = Action::parse("clock -5s").unwrap_err().to_string();
        assert!(e.contains("only moves forward"), "{e}");
    }

    #[test]
    fn acknowledgements_quote_the_trimmed_line() {
        assert_eq!(ok_line("  clock +90s \n"), "latchkey-sim: ok clock +90s");
        assert_eq!(failed_line(" dance ", &"no"), "latchkey-sim: failed dance: no");
        assert_eq!(ok_line("pin 058213"), "latchkey-sim: ok pin ******");
        assert_eq!(failed_line("pin 12x4", &"no"), "latchkey-sim: failed pin ****: no");
    }

    #[test]
    fn bad_lines_say_why_without_echoing_a_pin() {
        for (line, needle) in [
            ("", "empty"),
            ("dance", "unknown action `dance`"),
            ("pin", "needs an argument"),
            ("card 0102", "4, 7 or 10 bytes"),
            ("finger", "NAME"),
            ("finger a 101", "0 to 100"),
            ("phone abcd", "64 hex digits"),
            ("tamper maybe", "on or off"),
            ("battery lots", "millivolts"),
            ("key now", "no argument"),
        ] {
            let e = Action::parse(line).unwrap_err().to_string();
            assert!(e.contains(needle), "{line:?}: {e}");
            assert!(e.contains("expected"), "{e}");
        }
        let e = Action::parse("pin 12x4567").unwrap_err().to_string();
        assert!(!e.contains("12x4567") && e.contains("digits"), "{e}");
        assert_eq!(format!("{:?}", Action::Pin("058213".into())), "Pin(..)");
    }
}
