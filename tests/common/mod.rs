//! Shared by the end-to-end tests: the real `latchkey` and `latchkey-sim` binaries, talking
//! over a real pseudo-terminal.
#![allow(dead_code)]

pub mod proxy;
pub mod qemu;
pub mod scenarios;

#[path = "../../firmware/tests/support/sim_process.rs"]
pub mod sim_process;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sim_process::{Lines, SimProcess};

/// The `latchkey` binary, isolated from this machine's config and environment.
pub fn latchkey() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(latchkey_path());
    cmd.env("LATCHKEY_CONFIG", "/nonexistent/latchkey-test-config.toml")
        .env("LATCHKEY_KEYSTORE", "/nonexistent/latchkey-test-keystore")
        .env_remove("LATCHKEY_PORT")
        .env_remove("LATCHKEY_KEY")
        .timeout(Duration::from_secs(60));
    cmd
}

pub fn latchkey_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_latchkey"))
}

/// `latchkey-sim` is its own package (`firmware/boards/sim`); `cargo test --workspace` builds
/// it into the same directory as `latchkey`. When only this package was built, build it now.
pub fn sim_path() -> PathBuf {
    sim_package_binary("latchkey-sim")
}

/// `latchkey-factory`, the micro:bit's provisioning step (`run-qemu` runs it), found or built
/// like [`sim_path`].
pub fn factory_path() -> PathBuf {
    sim_package_binary("latchkey-factory")
}

fn sim_package_binary(name: &str) -> PathBuf {
    let latchkey = latchkey_path();
    let dir = latchkey.parent().expect("binary has a directory");
    let binary = dir.join(name);
    if !binary.exists() {
        let profile_release = dir.ends_with("release");
        let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        build.args(["build", "-p", "latchkey-sim", "--bin", name]);
        if profile_release {
            build.arg("--release");
        }
        let status = build.status().unwrap_or_else(|e| panic!("run cargo to build {name}: {e}"));
        assert!(status.success(), "building {name} failed");
    }
    binary
}

/// A `latchkey-sim` process with a stable link name and a flash file, stopped on drop.
pub struct Sim {
    pub child: Child,
    pub link: PathBuf,
    pub flash: PathBuf,
    /// The setup code the simulator printed (the label inside the lock).
    pub setup_code: String,
    /// This test's keystore (kept across simulator restarts in the same folder).
    pub keystore: PathBuf,
    /// Every line the simulator printed after its first two, as it printed them.
    pub out: Lines,
    /// The simulated person's hands: the simulator's standard input, and how many actions
    /// were written to it (each is acknowledged once, in order).
    stdin: std::sync::Mutex<(Option<std::process::ChildStdin>, usize)>,
}

impl Sim {
    /// Starts the simulator with `--link DIR/lock --flash DIR/lock.flash` plus `extra` args,
    /// and waits until it says where it listens.
    pub fn start(dir: &Path, extra: &[&str]) -> Sim {
        let link = dir.join("lock");
        let flash = dir.join("lock.flash");
        let mut args: Vec<&OsStr> = vec!["--link".as_ref(), link.as_ref()];
        args.extend([OsStr::new("--flash"), flash.as_ref()]);
        args.extend(extra.iter().map(OsStr::new));
        let sim = SimProcess::spawn(&sim_path(), &args, Stdio::inherit());
        // The simulator makes the link before it prints where it listens.
        assert!(link.exists(), "simulator made no link at {}", link.display());
        Sim {
            child: sim.child,
            link,
            flash,
            setup_code: sim.setup_code,
            keystore: dir.join("keys"),
            out: sim.lines,
            stdin: std::sync::Mutex::new((sim.stdin, 0)),
        }
    }

    /// The simulated person does something at the lock (`pin 1234`, `card 04a1b2c3`,
    /// `clock +90s`, ...); returns once the simulator has acknowledged it, so every line it
    /// caused has been read.
    pub fn act(&self, action: &str) {
        let n = self.send(&[action]);
        self.acknowledged(n, action);
    }

    /// Does `action` `times` times without waiting in between (a burst, as a script would),
    /// at most a hundred at a time; returns once the last was acknowledged.
    pub fn act_repeatedly(&self, action: &str, times: usize) {
        let mut left = times;
        while left > 0 {
            // The simulator queues a few hundred lines for its stdout; keep below that.
            let burst = left.min(100);
            let n = self.send(&vec![action; burst]);
            self.acknowledged(n, action);
            left -= burst;
        }
    }

    /// Does `actions` in order, a hundred at a time without waiting in between; returns once
    /// the last was acknowledged.
    pub fn act_all(&self, actions: &[&str]) {
        for chunk in actions.chunks(100) {
            let n = self.send(chunk);
            self.acknowledged(n, chunk[chunk.len() - 1]);
        }
    }

    /// Writes `actions`, one a line; the number of the last one written since the start.
    fn send(&self, actions: &[&str]) -> usize {
        use std::io::Write;
        let mut guard = self.stdin.lock().unwrap();
        let (stdin, sent) = &mut *guard;
        let stdin = stdin.as_mut().expect("simulator stdin");
        for action in actions {
            writeln!(stdin, "{action}").expect("write to the simulator's stdin");
        }
        stdin.flush().unwrap();
        *sent += actions.len();
        *sent
    }

    /// Waits for the `n`-th acknowledgement, and checks every one up to it says `ok`.
    fn acknowledged(&self, n: usize, action: &str) {
        self.out.wait_for_ack(n, action);
        let failed = self.lines_with("latchkey-sim: failed ");
        assert!(failed.is_empty(), "the simulator could not do {action:?}: {failed:?}");
    }

    /// Every line the simulator printed so far, after its first two.
    pub fn lines(&self) -> Vec<String> {
        self.out.all()
    }

    /// Lines printed so far that contain `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.out.with(needle)
    }

    /// Waits until the simulator has printed `count` lines containing `needle`; all of them.
    pub fn wait_for_lines(&self, needle: &str, count: usize) -> Vec<String> {
        self.out.wait_for_count(needle, count)
    }

    /// Does `action` and returns the simulator's line about the access decision it caused
    /// (printed before the action's acknowledgement).
    pub fn attempt(&self, action: &str) -> String {
        let before = self.lines_with("latchkey-sim: access ").len();
        self.act(action);
        let decisions = self.lines_with("latchkey-sim: access ");
        assert_eq!(decisions.len(), before + 1, "{action:?} caused no single access decision");
        decisions[before].clone()
    }

    /// A technician key for this lock's site key, exported next to the keystore.
    pub fn technician_key(&self) -> PathBuf {
        let tech = self.keystore.with_file_name("tech.toml");
        self.cli()
            .args(["key", "export", "default", "--technician", "--out"])
            .arg(&tech)
            .assert()
            .success();
        tech
    }

    /// `user add NAME EXTRA... --json`, then `pin set` from stdin; the user's number.
    pub fn add_user_with_pin(&self, name: &str, pin: &str, extra: &[&str]) -> u64 {
        let out = self.cli().args(["user", "add", name, "--json"]).args(extra).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let id = json(&out)["user"].as_u64().unwrap();
        self.cli()
            .args(["pin", "set", &id.to_string(), "--stdin"])
            .write_stdin(format!("{pin}\n"))
            .assert()
            .success();
        id
    }

    /// `finger enroll USER` in the tool while the simulated person places `finger` five times,
    /// each once the lock has taken the previous capture.
    pub fn enroll_finger(&self, user: u64, finger: &str) {
        let progress = format!("enrollment fingerprint user {user}");
        let before = self.lines_with(&progress).len();
        let enroll = Command::new(latchkey_path())
            .env("LATCHKEY_CONFIG", "/nonexistent/x.toml")
            .env("LATCHKEY_KEYSTORE", &self.keystore)
            .args(["--port", self.link_str(), "--json", "finger", "enroll", &user.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        self.wait_for_lines(&progress, before + 1); // the lock announced the enrollment
        for capture in 1..=5 {
            self.act(&format!("finger {finger} 90"));
            self.wait_for_lines(&progress, before + 1 + capture);
        }
        let out = enroll.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Starts the simulator and claims it with a site key in this test's keystore.
    pub fn start_claimed(dir: &Path, extra: &[&str]) -> Sim {
        let sim = Sim::start(dir, extra);
        sim.cli().args(["claim", "--setup-code", &sim.setup_code]).assert().success();
        sim
    }

    /// `latchkey --port <this simulator>` with this test's keystore.
    pub fn cli(&self) -> assert_cmd::Command {
        let mut cmd = latchkey();
        cmd.env("LATCHKEY_KEYSTORE", &self.keystore).arg("--port").arg(&self.link);
        cmd
    }

    pub fn link_str(&self) -> &str {
        self.link.to_str().expect("utf-8 temp path")
    }

    /// Stops the simulator with SIGTERM, as a person's Ctrl-C or a service manager would,
    /// and checks that it exits cleanly.
    pub fn stop(mut self) {
        terminate(&mut self.child);
        let status = self.child.wait().expect("wait for simulator");
        assert!(status.success(), "simulator exited with {status}");
        assert!(!self.link.exists(), "simulator left its link behind");
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            terminate(&mut self.child);
            let _ = self.child.wait();
        }
    }
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
}

/// Parses a command's stdout as one JSON document.
pub fn json(output: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {text}"))
}
