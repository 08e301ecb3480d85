//! Battery charge from voltage: the discharge curve of 4 x AA alkaline cells in series.
//!
//! The rules live here, in the core, so every board and the simulator report the same
//! percentage and state for the same voltage.

use latchkey_protocol::BatteryState;

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

/// The state leaves low (or critical) only once the voltage is this far back above its
/// threshold: a pack hovering at a threshold (alkaline cells recover a little after a load)
/// raises its alarm once, not at every reading.
pub const HYSTERESIS_MV: u16 = 100;

/// A rest voltage this much above the last one, from below the low threshold, is fresh
/// batteries (a pack does not recover 300 mV by resting).
pub const REPLACED_JUMP_MV: u16 = 300;

/// Usable charge of the pack from full to empty: 4 x AA alkaline, about 2,500 mAh at the
/// lock's loads, in µAh.
pub const CAPACITY_UAH: u32 = 2_500_000;

/// What one bolt operation costs besides the motor (waking, the reader or keypad, the
/// decision, the beeper), µAh.
pub const OPERATION_OVERHEAD_UAH: u32 = 40;

/// The motor's share of an operation when no run was measured yet: 600 mA for 350 ms.
pub const DEFAULT_MOTOR_UAH: u32 = 58;

/// The charge a motor run took, µAh: peak current × time (a bound: the current is below its
/// peak for most of a run).
pub fn run_uah(ms: u16, peak_ma: u16) -> u32 {
    (u32::from(ms) * u32::from(peak_ma)).div_ceil(3600)
}

/// Bolt operations left before the pack reaches the critical threshold.
///
/// The model: the charge between the rest voltage and [`CRITICAL_MV`] on the discharge curve
/// ([`percent`] of [`CAPACITY_UAH`]), divided by one operation's cost: the motor's measured
/// charge per run (`motor_uah`, from [`run_uah`] of the last run) plus
/// [`OPERATION_OVERHEAD_UAH`]. The idle drain (µA) is left out: over a battery life it is
/// small against the operations of a busy door, and it makes the estimate optimistic for a
/// door that is rarely used.
pub fn operations_left(pack_mv: u16, motor_uah: u32) -> u32 {
    let above = u32::from(percent(pack_mv).saturating_sub(percent(CRITICAL_MV)));
    let charge = CAPACITY_UAH / 100 * above;
    charge / (motor_uah.max(1) + OPERATION_OVERHEAD_UAH)
}

/// What a battery reading changed, for the lock to raise, clear and log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The state moved (down across a threshold, or back up past the hysteresis).
    State {
        /// Before.
        from: BatteryState,
        /// Now.
        to: BatteryState,
    },
    /// Fresh batteries: the state is ok again.
    Replaced {
        /// Before.
        from: BatteryState,
    },
}

/// The battery's state with hysteresis, and replacement detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Monitor {
    /// The state last announced.
    pub state: BatteryState,
    /// The rest voltage when it was announced (or at the first reading).
    pub announced_mv: u16,
    /// The last rest reading.
    pub last_mv: Option<u16>,
}

impl Monitor {
    /// A monitor that last announced `state` at `announced_mv` (from flash, or ok at 0 for a
    /// lock that never read its battery).
    pub const fn new(state: BatteryState, announced_mv: u16) -> Self {
        Self { state, announced_mv, last_mv: None }
    }

    /// The state for `mv` given the state now: down at once, up only past the hysteresis.
    pub fn next_state(current: BatteryState, mv: u16) -> BatteryState {
        let plain = state(mv);
        match (current, plain) {
            (BatteryState::Critical, BatteryState::Low | BatteryState::Ok)
                if mv < CRITICAL_MV + HYSTERESIS_MV =>
            {
                BatteryState::Critical
            }
            (BatteryState::Critical | BatteryState::Low, BatteryState::Ok)
                if mv < LOW_MV + HYSTERESIS_MV =>
            {
                BatteryState::Low
            }
            _ => plain,
        }
    }

    /// Takes a rest reading; what changed, if anything.
    pub fn observe(&mut self, mv: u16) -> Option<Change> {
        let previous = self.last_mv.unwrap_or(self.announced_mv);
        self.last_mv = Some(mv);
        let next = Self::next_state(self.state, mv);
        let from = self.state;
        let jumped = previous < LOW_MV && mv >= previous.saturating_add(REPLACED_JUMP_MV);
        let replaced = next == BatteryState::Ok
            && (jumped || from == BatteryState::Critical)
            && from != BatteryState::Ok;
        if next == from && !replaced {
            return None;
        }
        self.state = next;
        self.announced_mv = mv;
        Some(if replaced { Change::Replaced { from } } else { Change::State { from, to: next } })
    }
}

/// A state as stored (see `store::BatteryMemo`).
pub fn state_code(state: BatteryState) -> u8 {
    match state {
        BatteryState::Ok => 0,
        BatteryState::Low => 1,
        BatteryState::Critical => 2,
    }
}

/// A stored state code; unknown codes read as ok.
pub fn state_from_code(code: u8) -> BatteryState {
    match code {
        1 => BatteryState::Low,
        2 => BatteryState::Critical,
        _ => BatteryState::Ok,
    }
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

    #[test]
    fn hysteresis_and_replacement() {
        let mut m = Monitor::new(BatteryState::Ok, 0);
        assert_eq!(m.observe(6000), None);
        assert_eq!(
            m.observe(LOW_MV - 10),
            Some(Change::State { from: BatteryState::Ok, to: BatteryState::Low })
        );
        // Hovering at the threshold changes nothing.
        assert_eq!(m.observe(LOW_MV + 10), None);
        assert_eq!(m.observe(LOW_MV - 10), None);
        assert_eq!(
            m.observe(CRITICAL_MV - 1),
            Some(Change::State { from: BatteryState::Low, to: BatteryState::Critical })
        );
        assert_eq!(m.observe(CRITICAL_MV + 50), None);
        assert_eq!(m.observe(6200), Some(Change::Replaced { from: BatteryState::Critical }));
        assert_eq!(m.observe(6200), None);
        // Low, then a slow recovery past the hysteresis: not a replacement.
        let mut m = Monitor::new(BatteryState::Ok, 0);
        m.observe(4850);
        assert_eq!(
            m.observe(LOW_MV + HYSTERESIS_MV),
            Some(Change::State { from: BatteryState::Low, to: BatteryState::Ok })
        );
        // Low, then a jump of more than 300 mV: fresh batteries.
        let mut m = Monitor::new(BatteryState::Ok, 0);
        m.observe(4800);
        assert_eq!(m.observe(5200), Some(Change::Replaced { from: BatteryState::Low }));
    }

    #[test]
    fn operations_left_model() {
        // A fresh pack: tens of thousands of operations; none left at critical.
        let fresh = operations_left(6000, DEFAULT_MOTOR_UAH);
        assert!((10_000..30_000).contains(&fresh), "{fresh}");
        assert_eq!(operations_left(CRITICAL_MV, DEFAULT_MOTOR_UAH), 0);
        // A harder-working motor leaves fewer.
        assert!(operations_left(6000, 200) < fresh);
        assert_eq!(run_uah(350, 600), 59);
    }
}
