//! Battery charge from voltage: the discharge curve of 4 x AA alkaline cells in series.
//!
//! The rules live here, in the core, so every board and the simulator report the same
//! percentage and state for the same voltage.

use latchkey_protocol::{BatteryReport, BatteryState};

/// Cells in the pack.
pub const CELLS: u16 = 4;

/// Open-circuit voltage per cell (mV) against charge left (%), for an alkaline AA at the light
/// load of an idle lock. Between points the charge is interpolated linearly. Voltage must fall
/// from one point to the next.
const CURVE: [(u16, u8); 13] = [
    (1600, 100),
    (1550, 95),
    (1500, 85),
    (1450, 75),
    (1400, 62),
    (1350, 50),
    (1300, 38),
    (1250, 26),
    (1200, 15),
    (1150, 8),
    (1100, 4),
    (1050, 2),
    (1000, 0),
];

/// Below this pack voltage (1.225 V a cell, ~20 % left) the battery is low: replace soon.
pub const LOW_MV: u16 = 4900;
/// Below this pack voltage (1.125 V a cell, ~6 % left) it is critical: under the motor's
/// load the pack sags below what the motor needs to throw the bolt reliably.
pub const CRITICAL_MV: u16 = 4500;

/// Charge left, 0 to 100, for a pack voltage.
pub fn percent(pack_mv: u16) -> u8 {
    let cell = pack_mv / CELLS;
    let mut upper = CURVE[0];
    if cell >= upper.0 {
        return upper.1;
    }
    for &lower in &CURVE[1..] {
        if cell >= lower.0 {
            // Linear between lower and upper; the span is never zero as the curve falls.
            let span_mv = u32::from(upper.0 - lower.0);
            let span_pct = u32::from(upper.1 - lower.1);
            let above = u32::from(cell - lower.0);
            let extra = (above * span_pct + span_mv / 2) / span_mv;
            return lower.1 + extra as u8;
        }
        upper = lower;
    }
    0
}

/// Ok, low or critical, for a pack voltage.
pub fn state(pack_mv: u16) -> BatteryState {
    if pack_mv < CRITICAL_MV {
        BatteryState::Critical
    } else if pack_mv < LOW_MV {
        BatteryState::Low
    } else {
        BatteryState::Ok
    }
}

/// The full report for a pack voltage.
pub fn report(pack_mv: u16) -> BatteryReport {
    BatteryReport { millivolts: pack_mv, percent: percent(pack_mv), state: state(pack_mv) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_points_and_interpolation() {
        assert_eq!(percent(6400), 100);
        assert_eq!(percent(7000), 100);
        assert_eq!(percent(6000), 85);
        assert_eq!(percent(5900), 80);
        assert_eq!(percent(4000), 0);
        assert_eq!(percent(0), 0);
        // Monotonic over the whole range.
        let mut last = 0;
        for mv in (0..=7000).step_by(10) {
            let p = percent(mv);
            assert!(p >= last, "{mv} mV gave {p} after {last}");
            last = p;
        }
    }

    #[test]
    fn states_follow_thresholds() {
        assert_eq!(state(6000), BatteryState::Ok);
        assert_eq!(state(LOW_MV), BatteryState::Ok);
        assert_eq!(state(LOW_MV - 1), BatteryState::Low);
        assert_eq!(state(CRITICAL_MV - 1), BatteryState::Critical);
    }
}
