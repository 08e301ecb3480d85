//! Time-zone rules: the POSIX TZ text the tool parses (`TimeZoneRule::parse`, and the
//! host's `config set time-zone` reader, which also takes IANA zone names), and the parsed
//! rule as the lock receives it on the wire (postcard), checked and evaluated.
//!
//! A rule that parses writes back as text that parses to the same rule; for any instant, the
//! local time it gives maps back (`local_to_unix`) to an instant with that local time.
//!
//! The input's first byte picks: 0 the protocol's parser, 1 the host's reader, 2 a wire rule;
//! the rest is the text (or postcard bytes), then 8 bytes of instant for evaluation.
#![no_main]

use latchkey::cli::SettingKey;
use latchkey_protocol::{TimeZoneRule, decode_body};
use libfuzzer_sys::fuzz_target;

/// From 1970-01-03 to year ~2514: local times stay clear of the clamp at 0.
fn instant(bytes: &[u8]) -> u64 {
    let mut raw = [0u8; 8];
    let n = bytes.len().min(8);
    raw[..n].copy_from_slice(&bytes[..n]);
    172_800 + u64::from_le_bytes(raw) % 17_179_869_184
}

fn evaluate(rule: &TimeZoneRule, at: u64) {
    let local = rule.local_seconds(at);
    let back = rule.local_to_unix(local as i64);
    assert_eq!(rule.local_seconds(back), local, "{rule} at {at}: {local} maps back to {back}");
    // When the clocks go back, the earlier of the two instants is taken.
    assert!(back <= at, "{rule} at {at}: {back} is later");
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    // The text (or wire bytes) up to a 0xFF, the instant after it.
    let (input, at) = match rest.iter().position(|&b| b == 0xFF) {
        Some(i) => (&rest[..i], instant(&rest[i + 1..])),
        None => (rest, instant(&[])),
    };
    match which % 3 {
        0 => {
            let Ok(text) = std::str::from_utf8(input) else { return };
            let Ok(rule) = TimeZoneRule::parse(text) else { return };
            assert!(rule.check().is_ok(), "a parsed rule is in range");
            let written = rule.to_string();
            assert_eq!(TimeZoneRule::parse(&written), Ok(rule), "{text:?} written as {written:?}");
            evaluate(&rule, at);
        }
        1 => {
            let Ok(text) = std::str::from_utf8(input) else { return };
            // The CLI shows the message and hint, or sends the setting.
            match SettingKey::TimeZone.parse(text) {
                Ok(setting) => drop(format!("{setting:?}")),
                Err(e) => drop(e.json_document().to_string()),
            }
        }
        _ => {
            let Ok(rule) = decode_body::<TimeZoneRule>(input) else { return };
            // The lock keeps only a rule that checks; one that does not counts as UTC.
            if rule.check().is_ok() {
                evaluate(&rule, at);
                let _ = rule.to_string();
            } else {
                assert_eq!(rule.offset_seconds(at), 0);
            }
        }
    }
});
