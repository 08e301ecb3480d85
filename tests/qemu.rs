//! End to end on the MCU: the real `latchkey` binary against the micro:bit image
//! (`firmware/boards/microbit`) running under `qemu-system-arm -M microbit`, over the pty QEMU
//! makes of the board's UART. The scenarios are the ones `tests/cli.rs` runs against the
//! host simulator (`common::scenarios`).
//!
//! Each test starts its own QEMU. Without QEMU installed the tests skip with a message,
//! unless `CI` is set: then they fail.

mod common;

use std::time::Instant;

use common::qemu::{self, ImageSize, Qemu, RAM_SIZE, RAM_START};
use common::scenarios::{self, Expected, Target};
use latchkey_firmware::region::layout;
use serde::Deserialize;

const EXPECTED: Expected<'static> =
    Expected { serial: None, model_contains: "micro:bit", simulation: true };

/// Starts QEMU on the image and claims the lock with the test keystore's site key, as an
/// installer would; or returns `None` when the test is to be skipped.
fn start() -> Option<Qemu> {
    let qemu = qemu::available().then(Qemu::start)?;
    lk(qemu.port()).args(["claim", "--setup-code", qemu::SETUP_CODE]).assert().success();
    Some(qemu)
}

/// Each test's own keystore with its own site key. Every QEMU lock has the same serial (QEMU's
/// FICR is fixed), and the keystore remembers per serial what it saw of a lock's log: tests in
/// parallel must not share that memory. (Tests run each on a thread of its own.)
fn keystore() -> std::path::PathBuf {
    thread_local! {
        static KEYSTORE: tempfile::TempDir = {
            let dir = tempfile::tempdir().unwrap();
            common::latchkey()
                .env("LATCHKEY_KEYSTORE", dir.path())
                .args(["key", "create", "qemu-site"])
                .assert()
                .success();
            dir
        };
    }
    KEYSTORE.with(|dir| dir.path().to_path_buf())
}

/// `latchkey --port PORT --timeout 5s`: generous, so a loaded machine (tests in parallel, each
/// with a QEMU, on 2 cores) is not a failure; the lock itself answers in about a millisecond.
fn lk(port: &str) -> assert_cmd::Command {
    let mut cmd = common::latchkey();
    cmd.env("LATCHKEY_KEYSTORE", keystore()).args(["--port", port, "--timeout", "5s"]);
    cmd
}

/// Runs `scenario` against the lock in `qemu`.
fn on(qemu: &Qemu, scenario: impl FnOnce(&Target)) {
    let port = qemu.port().to_owned();
    let cli = move || lk(&port);
    scenario(&Target { port: qemu.port(), cli: &cli });
}

#[test]
fn qemu_info_names_the_board_and_its_versions() {
    let Some(lock) = start() else { return };
    on(&lock, |t| scenarios::info_reports_identity_and_capabilities(t, &EXPECTED));
    // The serial number is the nRF51's factory DEVICEID in hex.
    let out = lk(lock.port()).args(["info", "--json"]).output().unwrap();
    let serial = common::json(&out)["serial"].as_str().unwrap().to_owned();
    assert!(serial.len() == 16 && serial.chars().all(|c| c.is_ascii_hexdigit()), "{serial}");
    lock.quit();
}

#[test]
fn qemu_ping_answers() {
    let Some(lock) = start() else { return };
    on(&lock, scenarios::ping_answers);
    lock.quit();
}

#[test]
fn qemu_time_sync_then_get_agree_with_the_host_clock() {
    let Some(lock) = start() else { return };
    on(&lock, scenarios::a_fresh_clock_is_reported_as_not_set_and_drifting);
    on(&lock, scenarios::time_sync_then_get_agree_with_the_host_clock);
    lock.quit();
}

#[test]
fn qemu_label_survives_a_system_reset() {
    let Some(mut lock) = start() else { return };
    let port = lock.port().to_owned();
    let before = boot_count(&port);
    let cli = || lk(&port);
    let target = Target { port: &port, cli: &cli };
    scenarios::label_survives_a_restart(&target, &mut || lock.system_reset());
    // It really was a reboot: the boot counter (in flash) went up.
    assert_eq!(boot_count(&port), before + 1);
    lock.quit();
}

#[test]
fn qemu_garbage_on_the_line_is_dropped_counted_and_survived() {
    let Some(lock) = start() else { return };
    on(&lock, scenarios::garbage_on_the_line_is_dropped_counted_and_survived);
    lock.quit();
}

#[test]
fn qemu_a_value_out_of_range_is_refused_by_the_lock_with_exit_code_1() {
    let Some(lock) = start() else { return };
    on(&lock, scenarios::a_value_out_of_range_is_refused_by_the_lock_with_exit_code_1);
    lock.quit();
}

#[test]
fn qemu_the_log_records_changes_with_the_role_and_verifies() {
    let Some(lock) = start() else { return };
    on(&lock, scenarios::the_log_records_changes_with_the_role_and_verifies);
    lock.quit();
}

#[test]
fn qemu_first_request_after_start_answers_within_the_default_timeout() {
    let Some(lock) = start() else { return };
    // `start` waited for the lock to answer over its held descriptor; a new `latchkey`
    // process opening the port now must not pay QEMU's one-second reader poll again, or a
    // command with the tool's default timeout and no retry would fail. The behaviour is the
    // tool's own time-out; the figure is printed, not asserted.
    let started = Instant::now();
    let mut ping = common::latchkey();
    ping.env("LATCHKEY_KEYSTORE", keystore())
        .args(["--port", lock.port(), "ping", "--count", "1"])
        .assert()
        .success();
    eprintln!(
        "first answer after cont: {:?}; latchkey ping: {:?}",
        lock.first_answer,
        started.elapsed()
    );
    lock.quit();
}

fn boot_count(port: &str) -> u64 {
    let out = lk(port).args(["info", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    common::json(&out)["diagnostics"]["boot_count"].as_u64().unwrap()
}

/// The limits in `firmware/boards/microbit/budget.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Budget {
    flash_max: u64,
    static_ram_max: u64,
    stack_unused_min: u64,
}

/// Flash, static RAM and the stack's high-water mark (after every scenario above has run on
/// one lock) against the budget in the repository. Prints the figures: `.ci/run` runs this
/// test with `--nocapture` so they are in the CI log.
#[test]
fn qemu_image_fits_its_size_budget() {
    if !qemu::available() {
        return;
    }
    let budget_path = qemu::board_dir().join("budget.toml");
    let budget: Budget = toml::from_str(&std::fs::read_to_string(&budget_path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", budget_path.display()));
    let size = ImageSize::of_elf(&std::fs::read(qemu::image()).unwrap()).unwrap();

    let Some(mut lock) = start() else { return };
    let port = lock.port().to_owned();
    on(&lock, |t| {
        scenarios::info_reports_identity_and_capabilities(t, &EXPECTED);
        scenarios::ping_answers(t);
        scenarios::time_sync_then_get_agree_with_the_host_clock(t);
        scenarios::garbage_on_the_line_is_dropped_counted_and_survived(t);
        scenarios::a_value_out_of_range_is_refused_by_the_lock_with_exit_code_1(t);
    });
    // Each step's deepest stack, as it goes: which one is the heaviest shows in the CI log.
    let step = |lock: &mut Qemu, what: &str, args: &[&str], stdin: Option<&str>| {
        let mut cmd = lk(&port);
        cmd.args(args);
        if let Some(text) = stdin {
            cmd.write_stdin(text);
        }
        cmd.assert().success();
        let untouched = qemu::stack_untouched(&lock.memsave(RAM_START, RAM_SIZE), &size);
        println!("  after {what:<28} {untouched:>6} bytes of stack never touched");
    };
    // A flash write (the store's deepest path) and the battery, which the scenarios skip.
    step(&mut lock, "config set label", &["config", "set", "label", "Budget check"], None);
    step(&mut lock, "battery", &["battery"], None);
    // The heaviest user: a PIN, cards and phone keys up to the eight credentials a user holds
    // (the image has no fingerprint sensor); then the log read and checked.
    step(&mut lock, "user add", &["user", "add", "Budget"], None);
    step(&mut lock, "pin set", &["pin", "set", "Budget", "--stdin"], Some("582917\n"));
    for uid in ["04a1b2c3", "04a1b2c4", "04a1b2c5d6e7f8", "04a1b2c5d6e7f9"] {
        step(&mut lock, "card add", &["card", "add", "Budget", uid], None);
    }
    for seed in 1..=3u8 {
        let phone = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key();
        let key: String = phone.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        step(&mut lock, "phone add", &["phone", "add", "Budget", &key], None);
    }
    step(&mut lock, "user show", &["user", "show", "Budget"], None);
    step(&mut lock, "log read", &["log", "read"], None);
    step(&mut lock, "log verify", &["log", "verify"], None);
    let ram = lock.memsave(RAM_START, RAM_SIZE);
    lock.quit();

    let stack_size = size.stack_top - size.stack_bottom;
    let untouched = qemu::stack_untouched(&ram, &size);
    let used = stack_size - untouched;
    println!("micro:bit image size report ({})", qemu::image().display());
    println!(
        "  flash       {:>6} bytes (text {} + data {}), budget {}",
        size.flash(),
        size.text,
        size.data,
        budget.flash_max
    );
    println!(
        "  static RAM  {:>6} bytes (data {} + bss {}), budget {}",
        size.static_ram(),
        size.data,
        size.bss,
        budget.static_ram_max
    );
    println!(
        "  stack       {used:>6} bytes high-water of {stack_size} ({:#010x}..{:#010x}); \
         {untouched} never touched, budget: at least {} untouched",
        size.stack_bottom, size.stack_top, budget.stack_unused_min
    );
    assert!(size.flash() <= budget.flash_max, "flash over budget");
    assert!(size.static_ram() <= budget.static_ram_max, "static RAM over budget");
    assert!(u64::from(untouched) >= budget.stack_unused_min, "stack over budget");
    // The paint must have been there at all, or "untouched" means nothing.
    assert!(untouched > 0, "no stack paint found: is cortex-m-rt's paint-stack feature on?");
}

#[test]
fn qemu_neither_the_image_nor_a_claimed_locks_flash_holds_its_setup_code() {
    let Some(mut qemu) = start() else { return };
    lk(qemu.port()).args(["user", "add", "Ann"]).assert().success();
    let store = layout::STORE_START..layout::FLASH_SIZE;
    let flash = qemu.memsave(store.start, store.end - store.start);
    // The whole ELF, debug sections included: a superset of what reaches the flash.
    let image = std::fs::read(qemu::image()).unwrap();
    let code = qemu::SETUP_CODE;
    let bare: String = code.chars().filter(|c| *c != '-').collect();
    for spelling in [code.to_string(), code.to_lowercase(), bare.clone(), bare.to_lowercase()] {
        let found = |bytes: &[u8]| bytes.windows(spelling.len()).any(|w| w == spelling.as_bytes());
        assert!(!found(&image), "{spelling:?} is in the image");
        assert!(!found(&flash), "{spelling:?} is in the claimed lock's flash");
    }
    // What it keeps instead: the factory page, untouched by the claim and the user.
    let page = &flash[(layout::FACTORY.start - store.start) as usize..];
    assert_eq!(page, qemu::factory_page(), "the factory page is as the provisioning step wrote it");
}

#[test]
fn qemu_a_lock_never_provisioned_serves_but_cannot_be_claimed() {
    if !qemu::available() {
        return;
    }
    // Erased flash: no factory page. The lock boots and answers; nothing can claim it.
    let mut qemu = Qemu::start_unprovisioned();
    let info = lk(qemu.port()).args(["info", "--json"]).assert().success();
    let info: serde_json::Value = serde_json::from_slice(&info.get_output().stdout).unwrap();
    assert_eq!(info["factory_data"], false, "{info}");
    assert_eq!(info["claimed"], false, "{info}");
    lk(qemu.port())
        .args(["info"])
        .assert()
        .success()
        .stdout(predicates::str::contains("cannot be: no factory data"));
    lk(qemu.port())
        .args(["claim", "--setup-code", qemu::SETUP_CODE])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("holds no factory data"))
        .stderr(predicates::str::contains("factory provisioning step"));
    // And the lock, asked directly anyway, refuses the exchange.
    let host_share = latchkey_protocol::crypto::pake::share(&[0x31; 32], &[9; 32]);
    let request = latchkey_protocol::Request::ClaimStart {
        intent: latchkey_protocol::ClaimIntent::Claim,
        host_nonce: [1; 16],
        host_share,
    };
    let answer = qemu.ask(&request);
    assert_eq!(answer, latchkey_protocol::Response::Status(latchkey_protocol::Status::Failure));
}

#[test]
fn qemu_a_lock_without_a_fingerprint_sensor_says_so() {
    let Some(qemu) = start() else { return };
    let info = lk(qemu.port()).args(["info", "--json"]).assert().success();
    let info: serde_json::Value = serde_json::from_slice(&info.get_output().stdout).unwrap();
    assert_eq!(info["capabilities"]["access_paths"]["fingerprint"], false, "{info}");
    assert_eq!(info["capabilities"]["access_paths"]["keypad"], true, "{info}");
    lk(qemu.port()).args(["user", "add", "Ann"]).assert().success();
    lk(qemu.port())
        .args(["finger", "enroll", "Ann"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("this lock has no fingerprint sensor"))
        .stderr(predicates::str::contains("a PIN, a card or a phone key instead"));
}

/// `run-qemu` as a person runs it, on one flash file: the store survives a QMP reset made
/// while the script runs (on the user's own QMP socket) and a restart of the script.
#[test]
fn qemu_run_qemu_keeps_the_store_across_a_reset_and_a_restart() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    use std::process::{Command, Stdio};
    use std::time::Duration;
    use wait_timeout::ChildExt;

    if !qemu::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("lock.flash");
    let qmp = dir.path().join("qmp.sock");
    /// run-qemu stopped as Ctrl-C stops it (it then quits its QEMU), also when a test panics.
    struct RunQemu(Option<std::process::Child>);
    impl Drop for RunQemu {
        fn drop(&mut self) {
            if let Some(mut child) = self.0.take() {
                let pid = rustix::process::Pid::from_child(&child);
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
                if !matches!(child.wait_timeout(Duration::from_secs(30)), Ok(Some(_))) {
                    let _ = child.kill();
                }
            }
        }
    }
    // Starts run-qemu; returns it with the port and the code it printed.
    let start = || {
        let mut child = Command::new(qemu::board_dir().join("run-qemu"))
            .arg("--elf")
            .arg(qemu::image())
            .arg("--flash")
            .arg(&flash)
            .arg("--qmp")
            .arg(&qmp)
            .env("LATCHKEY_FACTORY", common::factory_path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let guard = RunQemu(Some(child));
        let port = lines.next().unwrap().unwrap();
        let code = lines.next().unwrap().unwrap();
        (guard, port, code.trim_start_matches("setup code ").to_string())
    };
    let stop = |mut guard: RunQemu| {
        let mut child = guard.0.take().unwrap();
        let pid = rustix::process::Pid::from_child(&child);
        rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
        let status = child.wait_timeout(Duration::from_secs(30)).unwrap().expect("run-qemu stops");
        assert!(status.success(), "run-qemu exited with {status}");
    };
    let label = |port: &str| {
        let out = lk(port).args(["config", "get", "label"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };

    let (child, port, code) = start();
    lk(&port).args(["claim", "--setup-code", &code]).assert().success();
    lk(&port).args(["config", "set", "label", "First run"]).assert().success();
    stop(child);
    assert!(dir.path().join("lock.label").exists(), "the code's label beside the flash file");

    let (child, port, again) = start();
    assert_eq!(again, code, "the same lock: its code read from its label");
    assert_eq!(label(&port), "First run");
    lk(&port).args(["config", "set", "label", "Second run"]).assert().success();
    // A reset through the user's QMP socket while the script holds its own.
    let stream = UnixStream::connect(&qmp).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap(); // greeting
    for command in ["qmp_capabilities", "system_reset"] {
        writeln!(writer, "{{\"execute\":\"{command}\"}}").unwrap();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line.contains("\"return\"") {
                break;
            }
        }
    }
    let info = lk(&port).args(["diag", "--json"]).output().unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert!(info["diagnostics"]["uptime_ms"].as_u64().unwrap() < 60_000, "reset: {info}");
    assert_eq!(label(&port), "Second run", "the reset rolled the store back");
    stop(child);

    let (child, port, _) = start();
    assert_eq!(label(&port), "Second run");
    stop(child);
}
