//! The simulator over a real pseudo-terminal, opened as a host would open a serial port.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{HostSession, claim_exchange, claim_payload, request_frame, split_frames, test_keys};
use latchkey_firmware::sim::{RunningSim, SimConfig, SimError};
use latchkey_protocol::crypto::SetupCode;
use latchkey_protocol::{
    ClaimIntent, Header, Kind, Request, Response, Role, Setting, Status, decode_body,
};
use serialport::TTYPort;

fn open(path: &Path) -> TTYPort {
    serialport::new(path.to_string_lossy(), 115_200)
        .timeout(Duration::from_millis(100))
        .open_native()
        .expect("the pty opens like a serial port")
}

/// Sends a request and waits for the response with its sequence number, skipping events.
fn ask(port: &mut TTYPort, seq: u16, request: &Request) -> Response {
    let (kind, body) = roundtrip(port, seq, &request_frame(seq, request));
    assert_eq!(kind, Kind::Response);
    decode_body(&body).unwrap()
}

/// Sends a frame and waits for the answer with its sequence number, skipping events.
fn roundtrip(port: &mut TTYPort, seq: u16, frame: &[u8]) -> (Kind, Vec<u8>) {
    let mut wire = vec![0];
    wire.extend_from_slice(frame);
    port.write_all(&wire).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut received = Vec::new();
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        match port.read(&mut buf) {
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("read: {e}"),
        }
        for (header, body) in split_frames(&received) {
            if !matches!(header.kind, Kind::Event | Kind::SealedEvent) && header.seq == seq {
                return (header.kind, body);
            }
        }
    }
    panic!("no response to seq {seq}");
}

/// Claims the simulated lock (serial `serial`) with its setup code if `claim`, then opens an
/// installer session over the pty, as `latchkey` does.
fn installer(port: &mut TTYPort, sim: &RunningSim, serial: &str, claim: bool) -> HostSession {
    installer_with_code(port, claim.then(|| sim.setup_code()).as_deref(), serial)
}

/// Claims with `setup_code` (if given) and opens an installer session.
fn installer_with_code(port: &mut TTYPort, setup_code: Option<&str>, serial: &str) -> HostSession {
    let mut seq = 0x4000;
    let mut plain = |request: &Request| {
        seq += 1;
        ask(port, seq, request)
    };
    if let Some(code) = setup_code {
        let code = SetupCode::parse(code).unwrap();
        let payload = claim_payload(&test_keys());
        let answer = claim_exchange(&mut plain, serial, ClaimIntent::Claim, &code, &payload);
        assert_eq!(answer, Response::Status(Status::Success));
    }
    HostSession::open(&mut plain, serial, Role::Installer, &test_keys().installer).unwrap()
}

/// Sends `request` sealed in `session` and opens the answer.
fn ask_sealed(port: &mut TTYPort, session: &mut HostSession, request: &Request) -> Response {
    let seq = session.next_seq();
    let frame = session.seal(seq, request);
    let (kind, body) = roundtrip(port, seq, &frame);
    let header = latchkey_protocol::Header::new(kind, seq);
    session.unseal(&header, &body)
}

fn hello_serial(port: &mut TTYPort, seq: u16) -> String {
    match ask(port, seq, &Request::Hello) {
        Response::Hello(info) => info.serial.to_string(),
        other => panic!("expected hello, got {other:?}"),
    }
}

#[test]
fn answers_over_a_pty_and_survives_the_host_reopening() {
    let sim = RunningSim::start(SimConfig { serial: "SIM-PTY-1".into(), ..SimConfig::default() })
        .unwrap();
    let path = sim.port_path().to_owned();
    assert!(path.starts_with("/dev/pts"), "{path:?}");
    for round in 0..3u16 {
        let mut port = open(&path);
        assert_eq!(hello_serial(&mut port, round), "SIM-PTY-1");
        assert_eq!(
            ask(&mut port, 100 + round, &Request::Ping { nonce: 5 }),
            Response::Pong { nonce: 5 }
        );
        drop(port); // the host closes the port; the next round reopens it
    }
    sim.stop().unwrap();
}

#[test]
fn flash_file_persists_across_simulator_instances() {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("lock.flash");
    let config = SimConfig { flash_path: Some(flash.clone()), ..SimConfig::default() };

    let sim = RunningSim::start(config.clone()).unwrap();
    let code = sim.setup_code();
    let mut port = open(sim.port_path());
    let mut session = installer(&mut port, &sim, "SIM-000001", true);
    let label = latchkey_protocol::DoorLabel::try_from("Persisted").unwrap();
    assert!(matches!(
        ask_sealed(&mut port, &mut session, &Request::SetSetting(Setting::DoorLabel(label.clone()))),
        Response::Settings(s) if s.door_label == label
    ));
    drop(port);
    sim.stop().unwrap();
    assert_eq!(std::fs::metadata(&flash).unwrap().len(), 256 * 1024);

    let sim = RunningSim::start(config).unwrap();
    assert_eq!(sim.setup_code(), code, "the factory record keeps the setup code");
    let mut port = open(sim.port_path());
    assert!(matches!(ask(&mut port, 2, &Request::Hello), Response::Hello(info) if info.claimed));
    let mut session = installer(&mut port, &sim, "SIM-000001", false);
    assert!(matches!(
        ask_sealed(&mut port, &mut session, &Request::GetSettings),
        Response::Settings(s) if s.door_label == label
    ));
    assert!(matches!(
        ask_sealed(&mut port, &mut session, &Request::GetDiagnostics),
        Response::Diagnostics(d) if d.boot_count == 2
    ));
}

#[test]
fn setup_code_is_given_kept_or_random_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("lock.flash");
    let config = SimConfig {
        flash_path: Some(flash.clone()),
        setup_code: Some("abcd efgh jk0l".into()),
        ..SimConfig::default()
    };
    let sim = RunningSim::start(config.clone()).unwrap();
    assert_eq!(sim.setup_code(), "ABCD-EFGH-JK01", "normalized to the label's form");
    sim.stop().unwrap();
    // Without a code, the flash's factory record has it.
    let sim = RunningSim::start(SimConfig { setup_code: None, ..config }).unwrap();
    assert_eq!(sim.setup_code(), "ABCD-EFGH-JK01");
    sim.stop().unwrap();

    // In memory: random, and well-formed.
    let a = RunningSim::start(SimConfig::default()).unwrap();
    let b = RunningSim::start(SimConfig::default()).unwrap();
    assert_ne!(a.setup_code(), b.setup_code());
    for code in [a.setup_code(), b.setup_code()] {
        assert_eq!(code.len(), 14, "{code}");
        assert_eq!(SetupCode::parse(&code).map(|c| c.display().to_vec()), Ok(code.into_bytes()));
    }

    let err = RunningSim::start(SimConfig {
        setup_code: Some("ABCD-EFGH-JKU1".into()),
        ..SimConfig::default()
    })
    .err()
    .unwrap();
    assert!(matches!(err, SimError::SetupCode { .. }), "{err}");
    assert!(err.to_string().contains("'U'"), "{err}");
    assert!(err.hint().is_some());
}

#[test]
fn the_binary_prints_the_port_then_the_setup_code() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey-sim"))
        .args(["--setup-code", "7K2M-9QXA-4RTD"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(first.starts_with("latchkey-sim: listening on /dev/pts/"), "{first}");
    assert_eq!(second, "latchkey-sim: setup code 7K2M-9QXA-4RTD");
}

#[test]
fn link_is_made_replaced_when_stale_and_removed_at_stop() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("lock");
    std::os::unix::fs::symlink("/nonexistent/stale", &link).unwrap();
    let sim =
        RunningSim::start(SimConfig { link: Some(link.clone()), ..SimConfig::default() }).unwrap();
    assert_eq!(std::fs::read_link(&link).unwrap(), sim.port_path());
    let mut port = open(&link);
    assert_eq!(hello_serial(&mut port, 1), "SIM-000001");
    drop(port);
    sim.stop().unwrap();
    assert!(std::fs::symlink_metadata(&link).is_err(), "link removed");

    // A regular file is not ours to replace.
    std::fs::write(&link, b"keep me").unwrap();
    let err = RunningSim::start(SimConfig { link: Some(link.clone()), ..SimConfig::default() })
        .err()
        .unwrap();
    assert!(matches!(err, SimError::LinkOccupied { .. }), "{err}");
    assert_eq!(std::fs::read(&link).unwrap(), b"keep me");
}

#[test]
fn bad_input_is_an_error_with_a_hint_not_a_panic() {
    let err = RunningSim::start(SimConfig {
        flash_path: Some("/nonexistent/dir/lock.flash".into()),
        ..SimConfig::default()
    })
    .err()
    .unwrap();
    assert!(matches!(err, SimError::FlashFile { .. }), "{err}");
    assert!(err.hint().is_some());

    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.flash");
    std::fs::write(&short, [0xFF; 100]).unwrap();
    let err = RunningSim::start(SimConfig { flash_path: Some(short), ..SimConfig::default() })
        .err()
        .unwrap();
    assert!(err.to_string().contains("100 bytes"), "{err}");

    let err = RunningSim::start(SimConfig { serial: "x".repeat(25), ..SimConfig::default() })
        .err()
        .unwrap();
    assert!(matches!(err, SimError::Serial(_)), "{err}");
}

#[test]
fn baud_pacing_slows_the_line_like_a_cable() {
    let baud = 9600;
    let sim = RunningSim::start(SimConfig { baud: Some(baud), ..SimConfig::default() }).unwrap();
    let mut port = open(sim.port_path());
    ask(&mut port, 0, &Request::Ping { nonce: 0 }); // warm up
    let request_len = request_frame(1, &Request::Hello).len() + 1;
    let started = Instant::now();
    let Response::Hello(info) = ask(&mut port, 1, &Request::Hello) else { panic!("hello") };
    let elapsed = started.elapsed();
    let mut response = Vec::new();
    let mut out = [0u8; latchkey_protocol::MAX_ENCODED_LEN];
    response.extend_from_slice(
        latchkey_protocol::encode_frame(
            latchkey_protocol::Header::new(Kind::Response, 1),
            &Response::Hello(info),
            &mut out,
        )
        .unwrap(),
    );
    let bytes = (request_len + response.len()) as u32;
    let line_time = Duration::from_secs(10) * bytes / baud;
    // The behaviour is the floor: the bytes cannot cross faster than the line allows. How
    // close to it the simulator comes is a figure for a benchmark, not an assertion here.
    assert!(elapsed >= line_time * 9 / 10, "{elapsed:?} < line time {line_time:?}");
}

/// Adds user 1 "Ann" with PIN 058213 over the pty.
fn add_ann(port: &mut TTYPort, s: &mut HostSession) {
    use latchkey_protocol::{Pin, UserKind, UserName, UserSpec, UserWrite};
    let spec = UserSpec {
        name: UserName::try_from("Ann").unwrap(),
        kind: UserKind::Owner,
        enabled: true,
        valid_from: None,
        valid_until: None,
        use_limit: None,
        weekly: heapless::Vec::new(),
    };
    let added = ask_sealed(port, s, &Request::PutUser { id: 1, write: UserWrite::Add, spec });
    assert!(matches!(added, Response::User(_)), "{added:?}");
    let pin = Pin::try_from("058213").unwrap();
    let set = ask_sealed(port, s, &Request::SetPin { user: 1, pin });
    assert_eq!(set, Response::Status(Status::Success));
}

/// The frames that arrive on the port within `wait`.
fn frames_within(port: &mut TTYPort, wait: Duration) -> Vec<(Header, Vec<u8>)> {
    let deadline = Instant::now() + wait;
    let mut received = Vec::new();
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        if let Ok(n) = port.read(&mut buf) {
            received.extend_from_slice(&buf[..n]);
        }
    }
    split_frames(&received)
}

/// Reads from the port until an event arrives that `want` accepts: plaintext, or sealed for
/// session `s`.
fn wait_event(
    port: &mut TTYPort,
    s: &mut HostSession,
    want: impl Fn(&latchkey_protocol::Event) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        for (header, body) in frames_within(port, Duration::from_millis(100)) {
            let event = match header.kind {
                Kind::Event => decode_body::<latchkey_protocol::Event>(&body).ok(),
                Kind::SealedEvent => s.unseal_event(&header, &body),
                _ => None,
            };
            if event.as_ref().is_some_and(&want) {
                return;
            }
            seen.push((header.kind, event));
        }
    }
    panic!("no such event; seen {seen:?}");
}

#[test]
fn act_drives_decisions_events_and_a_power_cut() {
    use latchkey_protocol::{AccessPath, AccessReason, Event};
    let sim = RunningSim::start(SimConfig::default()).unwrap();
    let mut port = open(sim.port_path());
    let mut s = installer(&mut port, &sim, "SIM-000001", true);
    add_ann(&mut port, &mut s);

    let lines = sim.act_report("pin 058213").unwrap();
    assert_eq!(lines, ["latchkey-sim: access granted user 1 via keypad"]);
    // Inside the session the event comes sealed, and only the session's holder reads it.
    wait_event(
        &mut port,
        &mut s,
        |e| matches!(e, Event::Access(r) if r.granted && r.user == Some(1) && r.path == AccessPath::Keypad),
    );
    let lines = sim.act_report("card 04A1B2C3").unwrap();
    assert_eq!(lines, ["latchkey-sim: access refused via rfid: unknown_credential"]);
    assert_eq!(sim.act_report("key").unwrap(), ["latchkey-sim: access granted via mechanical_key"]);
    assert_eq!(sim.act_report("tamper on").unwrap(), ["latchkey-sim: alarm tamper"]);
    assert!(
        sim.act_report("battery 4400")
            .unwrap()
            .contains(&"latchkey-sim: alarm critical_battery".to_owned())
    );
    sim.act("battery 6000").unwrap();
    // Bad lines are errors that say why, never a crash.
    let err = sim.act("pin 12x4").unwrap_err().to_string();
    assert!(err.contains("digits") && err.contains("expected") && !err.contains("12x4"), "{err}");
    assert!(sim.act("levitate").unwrap_err().to_string().contains("unknown action"));

    let last = ask_sealed(&mut port, &mut s, &Request::GetLastAccess);
    assert!(
        matches!(last, Response::LastAccess(Some(r)) if r.reason == AccessReason::MechanicalKey)
    );
    // The lock loses power: RAM is gone (session, last access), the flash stays.
    let lines = sim.act_report("power-cut").unwrap();
    assert!(lines[0].starts_with("latchkey-sim: booted (boot 2)"), "{lines:?}");
    wait_event(&mut port, &mut s, |e| matches!(e, Event::Booted { boot_count: 2 }));
    // No session now: what happens at the door puts nothing on the line.
    assert_eq!(sim.act_report("tamper on").unwrap(), ["latchkey-sim: alarm tamper"]);
    let frames = frames_within(&mut port, Duration::from_millis(300));
    assert!(frames.is_empty(), "events without a session: {frames:?}");
    let seq = s.next_seq();
    let (kind, body) = roundtrip(&mut port, seq, &s.seal(seq, &Request::GetLastAccess));
    assert_eq!(kind, Kind::Response, "no session after the cut: a plaintext refusal");
    assert_eq!(decode_body::<Response>(&body).unwrap(), Response::Status(Status::NotAuthorized));
    let mut s = installer(&mut port, &sim, "SIM-000001", false);
    assert_eq!(ask_sealed(&mut port, &mut s, &Request::GetLastAccess), Response::LastAccess(None));
    assert_eq!(
        sim.act_report("pin 058213").unwrap(),
        ["latchkey-sim: access granted user 1 via keypad"],
        "the user is in flash"
    );
    sim.stop().unwrap();
}

#[test]
fn finger_templates_survive_a_simulator_restart() {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("lock.bin");
    let config = SimConfig { flash_path: Some(flash.clone()), ..SimConfig::default() };
    {
        let sim = RunningSim::start(config.clone()).unwrap();
        let mut port = open(sim.port_path());
        let mut s = installer(&mut port, &sim, "SIM-000001", true);
        add_ann(&mut port, &mut s);
        let started = ask_sealed(&mut port, &mut s, &Request::EnrollFinger { user: 1 });
        assert!(matches!(started, Response::Enrollment(_)), "{started:?}");
        assert_eq!(
            sim.act_report("finger ann-thumb 20").unwrap(),
            ["latchkey-sim: enrollment fingerprint user 1: 0/5 (last quality 20)"]
        );
        for _ in 0..4 {
            sim.act("finger ann-thumb").unwrap();
        }
        let lines = sim.act_report("finger ann-thumb 95").unwrap();
        assert_eq!(
            lines.last().unwrap(),
            "latchkey-sim: enrollment done user 1: fingerprint slot 0"
        );
        sim.stop().unwrap();
    }
    assert!(dir.path().join("lock.bin.fingers").exists());
    let sim = RunningSim::start(config).unwrap();
    assert_eq!(
        sim.act_report("finger ann-thumb 70").unwrap(),
        ["latchkey-sim: access granted user 1 via fingerprint"]
    );
    assert_eq!(
        sim.act_report("finger bob-thumb").unwrap(),
        ["latchkey-sim: access refused via fingerprint: unknown_credential"]
    );
}

#[test]
fn the_binary_takes_actions_on_stdin() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey-sim"))
        .args(["--setup-code", "7K2M-9QXA-4RTD", "--serial", "SIM-000009"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let port_path = first.strip_prefix("latchkey-sim: listening on ").unwrap().to_owned();
    assert_eq!(lines.next().unwrap().unwrap(), "latchkey-sim: setup code 7K2M-9QXA-4RTD");

    // Claim over the pty as a host would, add Ann, then act as a person at the door.
    let mut port = open(Path::new(&port_path));
    let mut seq = 0x5000;
    let mut plain = |request: &Request| {
        seq += 1;
        ask(&mut port, seq, request)
    };
    let code = SetupCode::parse("7K2M-9QXA-4RTD").unwrap();
    let payload = claim_payload(&test_keys());
    let claimed = claim_exchange(&mut plain, "SIM-000009", ClaimIntent::Claim, &code, &payload);
    assert_eq!(claimed, Response::Status(Status::Success));
    let mut s =
        HostSession::open(&mut plain, "SIM-000009", Role::Installer, &test_keys().installer)
            .unwrap();
    add_ann(&mut port, &mut s);

    writeln!(stdin, "pin 058213\nwave hands\npin 111111\ncard 01020304\nkey").unwrap();
    stdin.flush().unwrap();
    // Each action's lines, then its acknowledgement; the last one acknowledged ends the burst.
    let mut got = Vec::new();
    while got.last().is_none_or(|line| line != "latchkey-sim: ok key") {
        got.push(lines.next().unwrap().unwrap());
    }
    assert_eq!(got.len(), 9, "{got:#?}");
    assert_eq!(
        got[..2],
        ["latchkey-sim: access granted user 1 via keypad", "latchkey-sim: ok pin 058213"]
    );
    assert!(
        got[2].starts_with("latchkey-sim: failed wave hands: unknown action `wave`"),
        "{}",
        got[2]
    );
    assert_eq!(
        got[3..],
        [
            "latchkey-sim: access refused via keypad: unknown_credential",
            "latchkey-sim: ok pin 111111",
            "latchkey-sim: access refused via rfid: unknown_credential",
            "latchkey-sim: ok card 01020304",
            "latchkey-sim: access granted via mechanical_key",
            "latchkey-sim: ok key",
        ]
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("unknown action `wave`") && stderr.contains("expected"), "{stderr}");
    assert!(!stderr.contains("111111") && !stderr.contains("058213"));
}

#[test]
fn the_binary_logs_a_power_up_after_a_power_cut() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey-sim"))
        .args(["--setup-code", "7K2M-9QXA-4RTD", "--serial", "SIM-000010"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let port_path = first.strip_prefix("latchkey-sim: listening on ").unwrap().to_owned();
    lines.next().unwrap().unwrap();
    let mut port = open(Path::new(&port_path));
    writeln!(stdin, "power-cut").unwrap();
    stdin.flush().unwrap();
    // The stdout lines stay as they were: the reboot, nothing for the log record.
    assert_eq!(lines.next().unwrap().unwrap(), "latchkey-sim: booted (boot 2)");
    // On the line, only the boot is announced in clear; the record is read in a session.
    let events: Vec<_> = frames_within(&mut port, Duration::from_millis(300))
        .into_iter()
        .map(|(header, body)| (header.kind, decode_body::<latchkey_protocol::Event>(&body).ok()))
        .collect();
    assert!(
        events.iter().all(|(kind, e)| *kind == Kind::Event
            && matches!(e, Some(latchkey_protocol::Event::Booted { .. }))),
        "{events:?}"
    );
    assert!(
        events.contains(&(Kind::Event, Some(latchkey_protocol::Event::Booted { boot_count: 2 })))
    );
    let mut s = installer_with_code(&mut port, Some("7K2M-9QXA-4RTD"), "SIM-000010");
    let Response::Log { records, .. } =
        ask_sealed(&mut port, &mut s, &Request::ReadLog { from_seq: 1 })
    else {
        panic!("no log page");
    };
    assert!(
        records.iter().any(|r| r.entry
            == latchkey_protocol::LogEntry::PowerUp {
                boot_count: 2,
                reason: latchkey_protocol::ResetReason::PowerOn
            }),
        "{records:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
