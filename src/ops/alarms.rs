//! The lock's alarms as jobs: clear them, end a keypad lockout, and say how long a lockout
//! still lasts. The lock has one way to end a lockout early, clearing its alarms (the
//! wrong-code alarm's clearing gives the keypad back), so ending a lockout clears them all.

use latchkey_protocol::{ActiveAlarm, Alarm};

use crate::link::{Client, ClientError};

/// Seconds until the keypad lockout ends by itself; `None` when the keypad is not locked out.
pub fn lockout_left(alarms: &[ActiveAlarm]) -> Option<u32> {
    alarms
        .iter()
        .find(|a| a.alarm == Alarm::WrongCodeLimit && a.seconds_left > 0)
        .map(|a| a.seconds_left)
}

/// Clears the raised alarms (and with them a keypad lockout); returns the alarms raised
/// after it, read back, since a cause still present (an open housing) raises its alarm again.
pub fn clear(client: &mut Client) -> Result<Vec<ActiveAlarm>, ClientError> {
    client.clear_alarms()?;
    client.alarms()
}

/// Ends a keypad lockout now. `Ok(false)`: there was none, and nothing was cleared.
pub fn end_lockout(client: &mut Client) -> Result<bool, ClientError> {
    if lockout_left(&client.alarms()?).is_none() {
        return Ok(false);
    }
    client.clear_alarms()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_wrong_code_alarm_with_time_left_is_a_lockout() {
        let alarm = |alarm, seconds_left| ActiveAlarm { alarm, since: 0, seconds_left };
        assert_eq!(lockout_left(&[]), None);
        assert_eq!(lockout_left(&[alarm(Alarm::Tamper, 0)]), None);
        assert_eq!(lockout_left(&[alarm(Alarm::WrongCodeLimit, 0)]), None);
        assert_eq!(
            lockout_left(&[alarm(Alarm::Tamper, 0), alarm(Alarm::WrongCodeLimit, 42)]),
            Some(42)
        );
    }
}
