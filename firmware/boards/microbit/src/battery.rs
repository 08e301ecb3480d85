//! The battery's voltage sensor.

use latchkey_firmware::hal::Battery;

/// What a simulation build reports: 6.0 V, a healthy 4 x AA pack, like `latchkey-sim`.
#[cfg(feature = "simulation")]
const SIMULATED_MILLIVOLTS: u16 = 6000;

/// What a simulation build reports under the motor's load: the same pack sagging by 480 mV
/// (600 mA through 0.8 Ω), as `latchkey-sim` computes for a free run at 6.0 V.
#[cfg(feature = "simulation")]
const SIMULATED_LOADED_MILLIVOLTS: u16 = 5520;

/// QEMU emulates no ADC, so a simulation build reports a fixed voltage (and the lock's
/// identity says `simulation`).
#[cfg(feature = "simulation")]
pub struct FixedBattery(u16);

#[cfg(feature = "simulation")]
impl Battery for FixedBattery {
    fn millivolts(&mut self) -> u16 {
        self.0
    }

    fn loaded_millivolts(&mut self, _load_ma: u16) -> u16 {
        SIMULATED_LOADED_MILLIVOLTS
    }
}

/// This board's battery sensor.
#[cfg(feature = "simulation")]
pub fn board_battery() -> FixedBattery {
    FixedBattery(SIMULATED_MILLIVOLTS)
}

// The lock's 4 x AA pack would be measured through a divider on an analog pin with the ADC;
// the micro:bit has no such divider and QEMU no ADC, so there is nothing to build yet.
#[cfg(not(feature = "simulation"))]
compile_error!(
    "the micro:bit board has no battery sensing yet: build with the `simulation` feature"
);
