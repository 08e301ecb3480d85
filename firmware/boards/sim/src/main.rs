//! `latchkey-sim`: a simulated lock on a pseudo-terminal.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;

use clap::Parser;
use latchkey_sim::{
    ACTIONS_HELP, DEFAULT_BATTERY_MV, DEFAULT_SERIAL, RunningSim, SimConfig, SimError, failed_line,
};

/// Run a simulated latchkey lock on a pseudo-terminal.
///
/// The first line of output names the port, the second the setup code. Then the simulated
/// person's actions are read from standard input, one per line, and each access decision,
/// enrollment step and alarm is printed as a line, then a line acknowledging the action
/// (`latchkey-sim: ok ACTION` or `latchkey-sim: failed ACTION: REASON`).
#[derive(Debug, Parser)]
#[command(version, about, after_help = ACTIONS_HELP)]
struct Args {
    /// Keep the lock's flash in this file (created erased if missing); default: in memory.
    #[arg(long, value_name = "FILE")]
    flash: Option<PathBuf>,
    /// Make a symlink at PATH to the pty, a stable name for the port.
    #[arg(long, value_name = "PATH")]
    link: Option<PathBuf>,
    /// Pace the line like a UART at this baud rate (8N1); default: unpaced.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    baud: Option<u32>,
    /// The lock's serial number.
    #[arg(long, value_name = "S", default_value = DEFAULT_SERIAL)]
    serial: String,
    /// Battery voltage at rest, millivolts (4 x AA: 6400 fresh, 4500 critical).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATTERY_MV)]
    battery_mv: u16,
    /// The lock's setup code, XXXX-XXXX-XXXX, needed to claim or factory-reset it. The flash
    /// keeps only its verifier (factory page); the code goes on the label file beside it.
    /// Default: the flash file's, or a new random one. Printed on the second line of output.
    #[arg(long, value_name = "CODE")]
    setup_code: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latchkey-sim: error: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("  hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), SimError> {
    // Install the handler first, so a signal during start-up still stops us cleanly.
    let (stop_tx, stop_rx) = mpsc::channel();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    }) {
        eprintln!(
            "latchkey-sim: warning: cannot handle SIGINT/SIGTERM ({e}); the link may be left behind"
        );
    }
    let mut sim = RunningSim::start(SimConfig {
        flash_path: args.flash,
        link: args.link,
        baud: args.baud,
        serial: args.serial,
        battery_mv: args.battery_mv,
        setup_code: args.setup_code,
    })?;
    let mut out = std::io::stdout().lock();
    let _ = match sim.link_path() {
        Some(link) => writeln!(
            out,
            "latchkey-sim: listening on {} (link {})",
            sim.port_path().display(),
            link.display()
        ),
        None => writeln!(out, "latchkey-sim: listening on {}", sim.port_path().display()),
    };
    // Second line, after the one scripts read the port from: the code on the lock's label.
    let _ = writeln!(out, "latchkey-sim: setup code {}", sim.setup_code());
    let _ = out.flush();
    drop(out);
    // What the lock does, one line each, after the two lines above, and the acknowledgement
    // of each action after the lines it caused: one stream, printed in the lock's order.
    let printer = sim.take_notices().map(|notices| {
        std::thread::spawn(move || {
            for line in notices {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        })
    });
    // The simulated person: actions on standard input. At its end the lock keeps running.
    let control = sim.control();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            if let Err(e) = control.act_acknowledged(&line) {
                eprintln!("latchkey-sim: cannot do that: {e}");
                if matches!(e, SimError::Stopped) {
                    // The lock cannot acknowledge any more: say it here, after whatever it
                    // printed before it stopped (its stream ends when it does).
                    if let Some(printer) = printer {
                        let _ = printer.join();
                    }
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{}", failed_line(&line, &e));
                    let _ = out.flush();
                    break;
                }
            }
        }
    });
    // Wait for a signal; if the handler could not be installed, the sender is gone and we
    // would return at once, so then wait forever (the default signal action ends us).
    if stop_rx.recv().is_err() {
        loop {
            std::thread::park();
        }
    }
    sim.stop()
}
