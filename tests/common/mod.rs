//! Shared by the end-to-end tests: the real `latchkey` and `latchkey-sim` binaries, talking
//! over a real pseudo-terminal.
#![allow(dead_code)]

pub mod proxy;
pub mod qemu;
pub mod scenarios;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    let latchkey = latchkey_path();
    let dir = latchkey.parent().expect("binary has a directory");
    let sim = dir.join("latchkey-sim");
    if !sim.exists() {
        let profile_release = dir.ends_with("release");
        let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        build.args(["build", "-p", "latchkey-sim", "--bin", "latchkey-sim"]);
        if profile_release {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo to build latchkey-sim");
        assert!(status.success(), "building latchkey-sim failed");
    }
    sim
}

/// A `latchkey-sim` process with a stable link name and a flash file, stopped on drop.
pub struct Sim {
    pub child: Child,
    pub link: PathBuf,
    pub flash: PathBuf,
    pub banner: String,
    /// The setup code the simulator printed (the label inside the lock).
    pub setup_code: String,
    /// This test's keystore (kept across simulator restarts in the same folder).
    pub keystore: PathBuf,
    /// Every line the simulator printed after its first two, as it printed them.
    pub lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The simulated person's hands: the simulator's standard input.
    stdin: std::sync::Mutex<Option<std::process::ChildStdin>>,
}

impl Sim {
    /// Starts the simulator with `--link DIR/lock --flash DIR/lock.flash` plus `extra` args,
    /// and waits until it says where it listens.
    pub fn start(dir: &Path, extra: &[&str]) -> Sim {
        let link = dir.join("lock");
        let flash = dir.join("lock.flash");
        let mut child = Command::new(sim_path())
            .arg("--link")
            .arg(&link)
            .arg("--flash")
            .arg(&flash)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start latchkey-sim");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("sim stdout");
        let mut reader = BufReader::new(stdout);
        let mut banner = String::new();
        reader.read_line(&mut banner).expect("read sim banner");
        assert!(banner.contains("listening"), "unexpected simulator banner: {banner:?}");
        let mut code_line = String::new();
        reader.read_line(&mut code_line).expect("read sim setup code line");
        let setup_code = code_line
            .trim()
            .strip_prefix("latchkey-sim: setup code ")
            .unwrap_or_else(|| panic!("unexpected simulator setup code line: {code_line:?}"))
            .to_string();
        // Keep draining stdout (so the simulator never blocks on a full pipe) into `lines`.
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                sink.lock().unwrap().push(line.trim_end().to_string());
                line.clear();
            }
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while !link.exists() {
            assert!(Instant::now() < deadline, "simulator made no link at {}", link.display());
            std::thread::sleep(Duration::from_millis(10));
        }
        Sim {
            child,
            link,
            flash,
            banner,
            setup_code,
            keystore: dir.join("keys"),
            lines,
            stdin: std::sync::Mutex::new(stdin),
        }
    }

    /// The simulated person does something at the lock (`pin 1234`, `card 04a1b2c3`, ...).
    pub fn act(&self, action: &str) {
        use std::io::Write;
        let mut stdin = self.stdin.lock().unwrap();
        let stdin = stdin.as_mut().expect("simulator stdin");
        writeln!(stdin, "{action}").expect("write to the simulator's stdin");
        stdin.flush().unwrap();
    }

    /// Lines printed so far that contain `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.lines.lock().unwrap().iter().filter(|l| l.contains(needle)).cloned().collect()
    }

    /// Does `action` and waits for the simulator's line about the access decision it caused;
    /// returns that line.
    pub fn attempt(&self, action: &str) -> String {
        let before = self.lines_with("access").len();
        self.act(action);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = self.lines_with("access");
            if lines.len() > before {
                return lines[before].clone();
            }
            assert!(Instant::now() < deadline, "no access decision printed after {action:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
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
