//! The TUI end to end: the real `latchkey tui` on a pseudo-terminal, its output parsed into
//! a screen (vt100), against the real `latchkey-sim`. Every wait is for text on that screen
//! or a line from the simulator, never a fixed sleep.

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{Sim, latchkey_path};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

/// How long a step may take on a busy machine.
const WAIT: Duration = Duration::from_secs(20);

/// The terminal the TUI runs on, as a person would see it.
struct Terminal {
    shared: Arc<(Mutex<(vt100::Parser, bool)>, Condvar)>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Terminal {
    /// Runs `latchkey --port LINK tui` on an 80x24 terminal.
    fn start(sim: &Sim) -> Terminal {
        Terminal::start_in(sim, &std::env::current_dir().unwrap())
    }

    /// The same, in the folder `cwd` (where a commissioning report goes by default).
    fn start_in(sim: &Sim, cwd: &std::path::Path) -> Terminal {
        let pty = native_pty_system()
            .openpty(PtySize { rows: 24, cols: 80, pixel_width: 0, pixel_height: 0 })
            .unwrap();
        let mut command = CommandBuilder::new(latchkey_path());
        command.args(["--port", sim.link_str(), "tui"]);
        command.cwd(cwd);
        command.env("LATCHKEY_KEYSTORE", &sim.keystore);
        command.env("LATCHKEY_CONFIG", "/nonexistent/latchkey-test-config.toml");
        command.env("TERM", "xterm-256color");
        command.env_remove("LATCHKEY_PORT");
        command.env_remove("LATCHKEY_KEY");
        let child = pty.slave.spawn_command(command).unwrap();
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().unwrap();
        let writer = pty.master.take_writer().unwrap();
        let shared = Arc::new((Mutex::new((vt100::Parser::new(24, 80, 0), false)), Condvar::new()));
        let feed = shared.clone();
        // The master must stay open while the child runs; the reader thread owns it.
        let master = pty.master;
        std::thread::spawn(move || {
            let _master = master;
            let mut buf = [0u8; 4096];
            loop {
                let n = reader.read(&mut buf).unwrap_or(0);
                let (state, changed) = &*feed;
                let mut state = state.lock().unwrap();
                if n == 0 {
                    state.1 = true;
                } else {
                    state.0.process(&buf[..n]);
                }
                changed.notify_all();
                if n == 0 {
                    break;
                }
            }
        });
        Terminal { shared, writer, child }
    }

    /// Waits until everything the program wrote has been read (the terminal closed), so the
    /// screen is its last.
    fn wait_closed(&self) {
        let (state, changed) = &*self.shared;
        let mut state = state.lock().unwrap();
        let deadline = Instant::now() + WAIT;
        while !state.1 {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "the terminal never closed");
            state = changed.wait_timeout(state, left).unwrap().0;
        }
    }

    /// The screen's text now.
    fn text(&self) -> String {
        self.shared.0.lock().unwrap().0.screen().contents()
    }

    /// Waits up to `within` until the screen satisfies `ok`; returns the screen.
    fn wait_within(&self, within: Duration, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        let (state, changed) = &*self.shared;
        let mut state = state.lock().unwrap();
        loop {
            let text = state.0.screen().contents();
            if ok(&text) {
                return text;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero() && !state.1, "{what} never appeared; the screen:\n{text}");
            state = changed.wait_timeout(state, left).unwrap().0;
        }
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait_within(WAIT, text, |screen| screen.contains(text))
    }

    fn keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }
}

#[test]
fn the_tui_acts_follows_the_lock_live_marks_stale_reconnects_and_restores_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["config", "set", "label", "Front door"]).assert().success();
    let mut tui = Terminal::start(&sim);
    tui.wait_for("online");
    tui.wait_for("Front door · SIM-");

    // Users: add one and set a PIN, typed hidden and twice.
    tui.keys("2");
    tui.wait_for("Users (0)");
    tui.keys("a");
    tui.wait_for("Name of the new user");
    tui.keys("Ann\r");
    tui.wait_for("added user 1 (Ann)");
    tui.keys("p");
    tui.wait_for("PIN for user 1 (hidden)");
    tui.keys("482916\r");
    tui.wait_for("The same PIN again");
    let typing = tui.text();
    assert!(!typing.contains("482916"), "the PIN was shown: {typing}");
    tui.keys("482916\r");
    tui.wait_for("PIN of user 1 set");

    // The person at the door tries that PIN; the grant shows in the log without a key.
    tui.keys("3");
    tui.wait_for("Log: ");
    let line = sim.attempt("pin 482916");
    assert!(line.contains("granted"), "{line}");
    tui.wait_for("GRANTED via keypad user 1 (Ann)");

    // The lock goes away: every panel is marked stale (at the first poll that fails; the
    // app's unit tests pin that to the poll, not a wall-clock bound here, which a loaded
    // machine would make flaky), and the header says it is reconnecting.
    tui.keys("1");
    tui.wait_for("Battery");
    sim.stop();
    tui.wait_within(WAIT, "STALE panels", |s| {
        s.contains("RECONNECTING")
            && ["Alarms", "Door", "Clock", "Battery", "Log"]
                .iter()
                .all(|p| s.lines().any(|l| l.contains(p) && l.contains("STALE")))
    });

    // It comes back on the same flash: the TUI reconnects by itself, with fresh data (the
    // lock's own record of its restart).
    let sim = Sim::start(dir.path(), &[]);
    tui.wait_within(WAIT, "reconnected", |s| s.contains("online") && !s.contains("STALE"));
    tui.keys("3");
    tui.wait_for("power up #2");

    // Help, then quit: the terminal is given back (main screen, cursor shown).
    tui.keys("?");
    tui.wait_for("any key closes this help");
    tui.keys("\x1b");
    tui.wait_within(WAIT, "help closed", |s| !s.contains("any key closes this help"));
    tui.keys("q");
    let status = tui.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    tui.wait_closed();
    let (state, _) = &*tui.shared;
    let state = state.lock().unwrap();
    let screen = state.0.screen();
    assert!(!screen.alternate_screen(), "still on the alternate screen");
    assert!(!screen.hide_cursor(), "the cursor is still hidden");
    drop(state);
    sim.stop();
}

/// The Commission view end to end: the plan read from the lock, every check but the keypad
/// left out, the run started (it asks first), the person at the door enters the PIN when the
/// screen says so, and the tick with the lock's log record appears without a key press; the
/// report is written here, signed, naming that record.
#[test]
fn the_commission_view_ticks_a_check_as_the_lock_decides_and_writes_the_signed_report() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start_claimed(dir.path(), &[]);
    sim.cli().args(["time", "sync"]).assert().success();
    sim.add_user_with_pin("Ann", "482916", &[]);
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let mut tui = Terminal::start_in(&sim, &work);
    tui.wait_for("online");

    tui.keys("5");
    tui.wait_for("At the keypad, enter the PIN of Ann");
    tui.wait_for("13 check(s) planned");
    // Every check but the keypad (the fourth of fourteen rows) left out, as `--only keypad`.
    let keys: String = (0..14).map(|row| if row == 3 { "j" } else { " j" }).collect();
    tui.keys(&keys);
    tui.wait_for("1 check(s) planned, 13 left out");
    tui.keys("\r");
    tui.wait_for("Start commissioning: 1 check(s)");
    tui.keys("y");
    let screen = tui.wait_for("s left)");
    assert!(screen.contains("At the keypad, enter the PIN of Ann"), "{screen}");

    // The person at the door acts on what the screen says; the lock's decision ticks it.
    let line = sim.attempt("pin 482916");
    assert!(line.contains("granted"), "{line}");
    let screen = tui.wait_for("granted for Ann (user 1) [log #");
    let seq: u64 = screen
        .split("[log #")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no log seq on screen: {screen}"));
    let screen = tui.wait_for("PASSED: every check that ran passed");
    assert!(screen.contains("signed by the lock"), "{screen}");

    // The report is here, signed, and names the same record.
    let json = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a JSON report");
    assert!(json.with_extension("html").exists());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["body"]["passed"], true);
    assert_eq!(report["body"]["checks"][0]["check"], "keypad");
    assert_eq!(report["body"]["checks"][0]["seq"], seq);
    assert!(report["head"]["signature"].is_string(), "{report}");

    tui.keys("q");
    let status = tui.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    // With the port free again: that seq is the lock's own record of the grant, and the
    // report verifies against the device key pinned at claim.
    let out = sim.cli().args(["log", "read", "--json"]).output().unwrap();
    let record = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["seq"] == seq)
        .expect("the record the report names");
    assert!(record.to_string().contains("keypad"), "{record}");
    sim.cli().args(["report", "verify"]).arg(&json).assert().success();
    sim.stop();
}
