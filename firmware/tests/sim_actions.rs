//! The simulator's actions as a test drives them: each one acknowledged after the lines it
//! caused, and `clock +DURATION` moving the lock's time instead of a test waiting it out.

mod common;

use std::io::{BufRead, BufReader, Lines, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::{HostSession, claim_exchange, claim_payload, request_frame, split_frames, test_keys};
use latchkey_firmware::sim::{RunningSim, SimConfig, SimError};
use latchkey_protocol::crypto::SetupCode;
use latchkey_protocol::{ClaimIntent, Header, Kind, Request, Response, Role, Status, decode_body};
use serialport::TTYPort;

/// A `latchkey-sim` process, its stdin and its stdout lines after the first two.
struct SimProcess {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    port: String,
}

impl SimProcess {
    fn start(serial: &str) -> SimProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey-sim"))
            .args(["--setup-code", "7K2M-9QXA-4RTD", "--serial", serial])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let port = first.strip_prefix("latchkey-sim: listening on ").unwrap().to_owned();
        assert_eq!(lines.next().unwrap().unwrap(), "latchkey-sim: setup code 7K2M-9QXA-4RTD");
        SimProcess { child, stdin, lines, port }
    }

    /// Sends `action` and returns every line up to and including its acknowledgement.
    fn act(&mut self, action: &str) -> Vec<String> {
        writeln!(self.stdin, "{action}").unwrap();
        self.stdin.flush().unwrap();
        let mut got = Vec::new();
        loop {
            let line = self.lines.next().expect("the simulator's stdout ended").unwrap();
            let acked = line == format!("latchkey-sim: ok {}", action.trim())
                || line.starts_with(&format!("latchkey-sim: failed {}: ", action.trim()));
            got.push(line);
            if acked {
                return got;
            }
        }
    }

    fn stop(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let mut stderr = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        stderr
    }
}

#[test]
fn each_action_is_acknowledged_after_the_lines_it_caused() {
    let mut sim = SimProcess::start("SIM-ACK-1");
    assert_eq!(sim.act("tamper on"), ["latchkey-sim: alarm tamper", "latchkey-sim: ok tamper on"]);
    // Blanks around the action are trimmed in the acknowledgement; a quiet action is
    // acknowledged alone.
    assert_eq!(sim.act("  battery 6000  "), ["latchkey-sim: ok battery 6000"]);
    assert_eq!(
        sim.act("pin 1234"),
        [
            "latchkey-sim: access refused via keypad: unknown_credential",
            "latchkey-sim: ok pin 1234"
        ]
    );
    // A line not understood: a `failed` line naming the problem, on stdout and stderr.
    let failed = sim.act("dance");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].starts_with("latchkey-sim: failed dance: unknown action `dance`"),
        "{failed:?}"
    );
    // The simulator goes on after it.
    assert_eq!(
        sim.act("key"),
        ["latchkey-sim: access granted via mechanical_key", "latchkey-sim: ok key"]
    );
    let stderr = sim.stop();
    assert!(stderr.contains("unknown action `dance`"), "{stderr}");
}

#[test]
fn a_bad_clock_line_fails_naming_the_accepted_forms() {
    let mut sim = SimProcess::start("SIM-ACK-2");
    for line in ["clock -5s", "clock +soon", "clock 90s", "clock"] {
        let got = sim.act(line);
        assert_eq!(got.len(), 1, "{got:?}");
        let failed = &got[0];
        assert!(failed.starts_with(&format!("latchkey-sim: failed {line}: ")), "{failed}");
        assert!(failed.contains("clock +DURATION") && failed.contains("clock +90s"), "{failed}");
    }
    assert!(sim.act("clock -5s")[0].contains("only moves forward"));
    sim.stop();
}

#[test]
fn moving_the_clock_ends_a_keypad_lockout_without_waiting() {
    let mut sim = SimProcess::start("SIM-CLOCK-1");
    // Five wrong codes (the default limit) lock the keypad for 180 s (the default lockout).
    for _ in 0..4 {
        sim.act("pin 1111");
    }
    let fifth = sim.act("pin 1111");
    assert!(fifth.contains(&"latchkey-sim: alarm wrong_code_limit".to_owned()), "{fifth:?}");
    assert_eq!(
        sim.act("pin 2222")[0],
        "latchkey-sim: access refused via keypad: keypad_locked_out"
    );
    assert_eq!(sim.act("clock +3m"), ["latchkey-sim: ok clock +3m"]);
    assert_eq!(
        sim.act("pin 2222")[0],
        "latchkey-sim: access refused via keypad: unknown_credential"
    );
    sim.stop();
}

#[test]
fn what_falls_due_while_the_clock_moves_is_printed_before_the_acknowledgement() {
    let mut sim = SimProcess::start("SIM-CLOCK-2");
    // The door-ajar alarm is due 60 s (the default) after the door opened.
    let opened = sim.act("door open");
    assert!(!opened.iter().any(|l| l.contains("door_ajar")), "{opened:?}");
    let moved = sim.act("clock +61s");
    assert_eq!(moved, ["latchkey-sim: alarm door_ajar", "latchkey-sim: ok clock +61s"]);
    sim.stop();
}

#[test]
fn the_in_process_simulator_moves_its_clock_too() {
    let sim = RunningSim::start(SimConfig { serial: "SIM-CLOCK-3".into(), ..SimConfig::default() })
        .unwrap();
    sim.act("door open").unwrap();
    assert_eq!(sim.act_report("clock +1m 1s").unwrap(), ["latchkey-sim: alarm door_ajar"]);
    let err = sim.act("clock -1s").unwrap_err();
    assert!(matches!(err, SimError::Action(_)), "{err:?}");
    assert!(err.to_string().contains("clock +DURATION"), "{err}");
}

#[test]
fn the_clock_action_moves_wall_time_and_uptime_together() {
    let mut sim = SimProcess::start("SIM-CLOCK-4");
    let mut port = serialport::new(&sim.port, 115_200)
        .timeout(Duration::from_millis(100))
        .open_native()
        .unwrap();
    let mut seq = 0x6000;
    let mut plain = |request: &Request| {
        seq += 1;
        ask(&mut port, seq, request)
    };
    let code = SetupCode::parse("7K2M-9QXA-4RTD").unwrap();
    let payload = claim_payload(&test_keys());
    let claimed = claim_exchange(&mut plain, "SIM-CLOCK-4", ClaimIntent::Claim, &code, &payload);
    assert_eq!(claimed, Response::Status(Status::Success));
    let mut session =
        HostSession::open(&mut plain, "SIM-CLOCK-4", Role::Installer, &test_keys().installer)
            .unwrap();
    let before = time(&mut port, &mut session);
    assert_eq!(sim.act("clock +2h"), ["latchkey-sim: ok clock +2h"]);
    // Two hours later the session has expired, as it would have: open a new one.
    let mut seq = 0x7000;
    let mut plain = |request: &Request| {
        seq += 1;
        ask(&mut port, seq, request)
    };
    let mut session =
        HostSession::open(&mut plain, "SIM-CLOCK-4", Role::Installer, &test_keys().installer)
            .unwrap();
    let after = time(&mut port, &mut session);
    assert!(after.0 >= before.0 + 7200, "wall clock {before:?} -> {after:?}");
    assert!(after.1 >= before.1 + 7_200_000, "uptime {before:?} -> {after:?}");
    sim.stop();
}

/// The lock's (unix seconds, uptime ms).
fn time(port: &mut TTYPort, session: &mut HostSession) -> (u64, u64) {
    let seq = session.next_seq();
    let frame = session.seal(seq, &Request::GetTime);
    let (kind, body) = roundtrip(port, seq, &frame);
    match session.unseal(&Header::new(kind, seq), &body) {
        Response::Time(reading) => (reading.unix_seconds, reading.uptime_ms),
        other => panic!("expected the time, got {other:?}"),
    }
}

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
    // A bound on a lost answer, not a timing assertion.
    let deadline = Instant::now() + Duration::from_secs(10);
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
