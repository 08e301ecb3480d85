//! Golden wire vectors: the exact bytes of one frame of every message kind. An accidental
//! change to the wire format (a reordered variant, a new field, another CRC) fails here.
//!
//! The vectors live in `tests/golden_vectors.txt`, one `name hex` per line. After an
//! *intentional* wire change (which also bumps `PROTOCOL_VERSION`), regenerate them with
//! `LATCHKEY_BLESS=1 cargo test -p latchkey-protocol --test golden` and review the diff.

use latchkey_protocol::*;

fn s<const N: usize>(text: &str) -> heapless::String<N> {
    heapless::String::try_from(text).unwrap()
}

fn info() -> LockInfo {
    LockInfo {
        model: s("LK-100"),
        serial: s("LK1-000042"),
        firmware_version: s("0.1.0"),
        protocol_version: 3,
        simulation: false,
        claimed: true,
        capabilities: Capabilities {
            max_users: 100,
            credentials_per_user: 8,
            pin_length_min: 4,
            pin_length_max: 10,
            log_capacity: 2048,
            access_paths: AccessPaths {
                keypad: true,
                rfid: true,
                fingerprint: false,
                phone: true,
                mechanical_key: true,
            },
            max_in_flight: 2,
            max_frame_len: MAX_FRAME_LEN as u16,
            card_uid_lengths: ISO14443_UID_LENGTHS,
            signs_log_head: true,
        },
        claim_salt: [0x5C; 16],
    }
}

fn guest() -> UserSpec {
    UserSpec {
        name: s("Guest 12"),
        kind: UserKind::Guest,
        enabled: true,
        valid_from: Some(1_795_000_000),
        valid_until: Some(1_795_086_400),
        use_limit: Some(5),
        weekly: heapless::Vec::from_slice(&[WeeklyWindow {
            days: 0b001_1111,
            start_minute: 480,
            end_minute: 1080,
        }])
        .unwrap(),
    }
}

fn log_record() -> LogRecord {
    LogRecord {
        seq: 1234,
        at: 1_795_000_100,
        entry: LogEntry::Change { what: ChangeKind::PinSet, role: Role::Installer, user: Some(3) },
    }
}

fn access() -> AccessRecord {
    AccessRecord {
        at: 1_795_000_100,
        path: AccessPath::Keypad,
        granted: false,
        user: Some(3),
        reason: AccessReason::OutsideSchedule,
    }
}

/// A message of any kind.
#[allow(clippy::large_enum_variant)] // test-only, a few dozen values
#[derive(Debug, PartialEq)]
enum Msg {
    Req(Request),
    Resp(Response),
    Ev(Event),
}

impl Msg {
    fn kind(&self) -> Kind {
        match self {
            Msg::Req(_) => Kind::Request,
            Msg::Resp(_) => Kind::Response,
            Msg::Ev(_) => Kind::Event,
        }
    }

    /// Through the crate's own encoder.
    fn encode(&self, seq: u16) -> Vec<u8> {
        let mut out = [0u8; MAX_ENCODED_LEN];
        let header = Header::new(self.kind(), seq);
        match self {
            Msg::Req(m) => encode_frame(header, m, &mut out),
            Msg::Resp(m) => encode_frame(header, m, &mut out),
            Msg::Ev(m) => encode_frame(header, m, &mut out),
        }
        .unwrap()
        .to_vec()
    }

    /// Built by hand from the layout in docs/protocol.md, independently of `encode_frame`.
    fn layout(&self, seq: u16) -> Vec<u8> {
        let mut body = [0u8; MAX_BODY_LEN];
        let body = match self {
            Msg::Req(m) => postcard::to_slice(m, &mut body),
            Msg::Resp(m) => postcard::to_slice(m, &mut body),
            Msg::Ev(m) => postcard::to_slice(m, &mut body),
        }
        .unwrap();
        let mut raw = vec![PROTOCOL_VERSION, self.kind() as u8];
        raw.extend_from_slice(&seq.to_le_bytes());
        raw.extend_from_slice(body);
        let crc = crc::Crc::<u16>::new(&crc::CRC_16_IBM_SDLC).checksum(&raw);
        raw.extend_from_slice(&crc.to_le_bytes());
        let mut out = vec![0u8; MAX_ENCODED_LEN];
        let n = cobs::encode(&raw, &mut out);
        out.truncate(n);
        out.push(0);
        out
    }

    fn decode(kind: Kind, body: &[u8]) -> Msg {
        match kind {
            Kind::Request => Msg::Req(decode_body(body).unwrap()),
            Kind::Response => Msg::Resp(decode_body(body).unwrap()),
            Kind::Event => Msg::Ev(decode_body(body).unwrap()),
            Kind::SealedRequest | Kind::SealedResponse | Kind::SealedEvent => {
                panic!("sealed frames have their own test")
            }
        }
    }
}

/// Every vector: name, sequence number, message.
fn vectors() -> Vec<(&'static str, u16, Msg)> {
    use Msg::*;
    vec![
        ("req_hello", 1, Req(Request::Hello)),
        ("req_ping", 2, Req(Request::Ping { nonce: 0xDEAD_BEEF })),
        ("req_get_time", 3, Req(Request::GetTime)),
        ("req_set_time", 4, Req(Request::SetTime { unix_seconds: 1_795_000_000 })),
        ("req_get_battery", 5, Req(Request::GetBattery)),
        ("req_get_settings", 6, Req(Request::GetSettings)),
        ("req_set_label", 7, Req(Request::SetSetting(Setting::DoorLabel(s("Front door"))))),
        ("req_set_relock", 8, Req(Request::SetSetting(Setting::AutoRelockSeconds(30)))),
        ("req_set_wrong_code_limit", 9, Req(Request::SetSetting(Setting::WrongCodeLimit(5)))),
        ("req_set_lockout", 10, Req(Request::SetSetting(Setting::LockoutSeconds(300)))),
        ("req_set_volume", 11, Req(Request::SetSetting(Setting::BeeperVolume(BeeperVolume::High)))),
        (
            "req_set_time_zone",
            12,
            Req(Request::SetSetting(Setting::TimeZone(
                TimeZoneRule::parse("CET-1CEST,M3.5.0,M10.5.0/3").expect("valid rule"),
            ))),
        ),
        ("req_set_door_ajar", 13, Req(Request::SetSetting(Setting::DoorAjarSeconds(90)))),
        ("req_get_diagnostics", 0x1234, Req(Request::GetDiagnostics)),
        (
            "req_claim_start",
            12,
            Req(Request::ClaimStart {
                intent: ClaimIntent::Claim,
                host_nonce: [0x10; 16],
                host_share: [0x11; 32],
            }),
        ),
        (
            "req_claim_finish",
            13,
            Req(Request::ClaimFinish {
                ciphertext: heapless::Vec::from_slice(&[0x22; 64]).unwrap(),
                tag: [0x33; 16],
            }),
        ),
        (
            "req_session_start",
            14,
            Req(Request::SessionStart { role: Role::Technician, host_public: [0x44; 32] }),
        ),
        ("req_session_confirm", 15, Req(Request::SessionConfirm { host_proof: [0x55; 32] })),
        (
            "req_rotate_keys",
            16,
            Req(Request::RotateKeys { installer_key: [0x66; 32], technician_key: [0x77; 32] }),
        ),
        ("req_end_session", 17, Req(Request::EndSession)),
        ("req_put_user", 18, Req(Request::PutUser { id: 3, write: UserWrite::Add, spec: guest() })),
        (
            "req_set_pin",
            19,
            Req(Request::SetPin { user: 3, pin: Pin::try_from("058213").unwrap() }),
        ),
        (
            "req_add_card",
            20,
            Req(Request::AddCard {
                user: 3,
                uid: heapless::Vec::from_slice(&[0x04, 0xA1, 0xB2, 0xC3]).unwrap(),
            }),
        ),
        ("req_enroll_finger", 21, Req(Request::EnrollFinger { user: 3 })),
        ("req_add_phone", 22, Req(Request::AddPhone { user: 3, public_key: [0xCC; 32] })),
        ("req_get_checksum", 23, Req(Request::GetChecksum)),
        ("req_get_last_access", 24, Req(Request::GetLastAccess)),
        ("req_read_log", 25, Req(Request::ReadLog { from_seq: 1200 })),
        ("req_verify_log", 26, Req(Request::VerifyLog)),
        ("req_clear_log", 27, Req(Request::ClearLog)),
        ("req_clear_alarms", 28, Req(Request::ClearAlarms)),
        (
            "req_put_user_lowest_free",
            29,
            Req(Request::PutUser { id: 0, write: UserWrite::Add, spec: guest() }),
        ),
        ("req_clear_pins", 30, Req(Request::Clear { what: ClearTarget::Pins })),
        ("req_clear_users", 31, Req(Request::Clear { what: ClearTarget::Users })),
        ("req_get_device_key", 32, Req(Request::GetDeviceKey)),
        ("req_get_log_head", 33, Req(Request::GetLogHead { seen: 3573, nonce: [0x5A; 32] })),
        ("resp_success", 1, Resp(Response::Status(Status::Success))),
        ("resp_not_authorized", 1, Resp(Response::Status(Status::NotAuthorized))),
        ("resp_bad_frame", 1, Resp(Response::Status(Status::BadFrame))),
        // The answer to a frame of another version: `00 09` in every version.
        ("resp_unsupported", 1, Resp(Response::Status(Status::Unsupported))),
        (
            "resp_refused_pin_length",
            19,
            Resp(Response::Refused(Refusal::invalid(Field::PinLength))),
        ),
        (
            "resp_refused_window",
            18,
            Resp(Response::Refused(Refusal::invalid(Field::Window {
                index: 1,
                problem: WindowProblem::Overnight,
            }))),
        ),
        (
            "resp_refused_setting",
            10,
            Resp(Response::Refused(Refusal::invalid(Field::Setting(SettingKey::LockoutSeconds)))),
        ),
        (
            "resp_refused_id_range",
            18,
            Resp(Response::Refused(
                Refusal::exhausted(Limit::UserIdRange).with_field(Field::UserId),
            )),
        ),
        (
            "resp_refused_duplicate_name",
            29,
            Resp(Response::Refused(Refusal::duplicate(Field::UserName, Some(3)))),
        ),
        ("resp_cleared", 30, Resp(Response::Cleared { removed: 12 })),
        (
            "resp_enrollment_failed",
            21,
            Resp(Response::Enrollment(Enrollment::Failed {
                kind: EnrollKind::Card,
                user: 3,
                reason: EnrollFailure::Storage,
            })),
        ),
        ("resp_hello", 1, Resp(Response::Hello(info()))),
        ("resp_pong", 2, Resp(Response::Pong { nonce: 0xDEAD_BEEF })),
        (
            "resp_time",
            3,
            Resp(Response::Time(ClockReading {
                unix_seconds: 1_795_000_000,
                is_set: true,
                uptime_ms: 3_600_000,
            })),
        ),
        (
            "resp_battery",
            5,
            Resp(Response::Battery(BatteryReport {
                millivolts: 5_820,
                percent: 87,
                state: BatteryState::Ok,
                loaded_millivolts: 5_310,
                operations_left: 21_000,
                replaced_at: Some(1_790_000_000),
            })),
        ),
        (
            "resp_settings",
            6,
            Resp(Response::Settings(Settings {
                door_label: s("Front door"),
                auto_relock_seconds: 30,
                wrong_code_limit: 5,
                lockout_seconds: 300,
                beeper_volume: BeeperVolume::Medium,
                time_zone: TimeZoneRule::utc(),
                door_ajar_seconds: 60,
            })),
        ),
        (
            "resp_diagnostics",
            0x1234,
            Resp(Response::Diagnostics(Diagnostics {
                uptime_ms: 3_600_000,
                boot_count: 7,
                frames_received: 1000,
                frames_sent: 1001,
                dropped_too_long: 1,
                dropped_malformed: 2,
                dropped_bad_crc: 3,
                dropped_undecodable: 4,
                wrong_version: 5,
                store_writes: 6,
                sealed_rejected: 8,
                auth_failures: 9,
                reset_reason: ResetReason::Panic,
                log_records: 1234,
                log_capacity: 2573,
                users: 12,
                bolt_locked: true,
                door_open: false,
                motor_runs: 40,
                motor_last_ms: 480,
                motor_last_ma: 900,
            })),
        ),
        (
            "resp_claim_challenge",
            12,
            Resp(Response::ClaimChallenge { lock_share: [0x88; 32], lock_proof: [0x99; 32] }),
        ),
        (
            "resp_session_challenge",
            14,
            Resp(Response::SessionChallenge { lock_public: [0xAA; 32], lock_proof: [0xBB; 32] }),
        ),
        ("resp_backoff", 14, Resp(Response::Backoff { retry_after_ms: 2000 })),
        ("resp_weak", 19, Resp(Response::Status(Status::Weak))),
        (
            "resp_user",
            18,
            Resp(Response::User(User {
                id: 3,
                spec: guest(),
                uses_left: Some(4),
                first_used: None,
                credentials: heapless::Vec::from_slice(&[
                    Credential::Pin,
                    Credential::Fingerprint { slot: 7 },
                ])
                .unwrap(),
            })),
        ),
        (
            "resp_enrollment",
            21,
            Resp(Response::Enrollment(Enrollment::InProgress {
                kind: EnrollKind::Fingerprint,
                user: 3,
                captures: 2,
                needed: 5,
                last_quality: Some(81),
                last_good: true,
                seconds_left: 25,
            })),
        ),
        (
            "resp_checksum",
            23,
            Resp(Response::Checksum { users: 3, credentials: 7, digest: [0xDD; 16] }),
        ),
        ("resp_last_access", 24, Resp(Response::LastAccess(Some(access())))),
        (
            "resp_log",
            25,
            Resp(Response::Log {
                records: heapless::Vec::from_slice(&[log_record()]).unwrap(),
                first_seq: 1001,
                next_seq: 1235,
            }),
        ),
        (
            "resp_log_report",
            26,
            Resp(Response::LogReport(LogReport {
                records: 2573,
                first_seq: 1001,
                last_seq: 3573,
                anchored: false,
                broken: Some(LogBreak::Gap { after: 1500, next: 1502 }),
                reserved: 12,
                reserved_broken: None,
                evicted_routine: 1000,
                evicted_security: 0,
            })),
        ),
        ("resp_device_key", 32, Resp(Response::DeviceKey([0xD1; 32]))),
        (
            "resp_log_head",
            33,
            Resp(Response::LogHead(LogHead {
                seq: 3580,
                tag: [0x7E; 8],
                seen: 3573,
                seen_tag: Some([0x3C; 8]),
                signature: Some([[0xA5; 32], [0x0B; 32]]),
            })),
        ),
        (
            "resp_log_head_unsigned",
            33,
            Resp(Response::LogHead(LogHead {
                seq: 0,
                tag: [0; 8],
                seen: 0,
                seen_tag: None,
                signature: None,
            })),
        ),
        ("event_booted", 1, Ev(Event::Booted { boot_count: 7 })),
        ("event_access", 4, Ev(Event::Access(access()))),
        ("event_alarm", 5, Ev(Event::AlarmRaised(Alarm::WrongCodeLimit))),
        ("event_logged", 6, Ev(Event::Logged(log_record()))),
        (
            "event_logged_repeated",
            7,
            Ev(Event::Logged(LogRecord {
                seq: 1240,
                at: 1_795_000_190,
                entry: LogEntry::Repeated {
                    of: Repeat::Access {
                        path: AccessPath::Keypad,
                        user: None,
                        reason: AccessReason::UnknownCredential,
                    },
                    count: 12,
                    first: 1_795_000_110,
                },
            })),
        ),
        (
            "event_logged_duplicate_pin",
            8,
            Ev(Event::Logged(LogRecord {
                seq: 1241,
                at: 1_795_000_200,
                entry: LogEntry::DuplicatePin { role: Role::Installer, user: Some(4) },
            })),
        ),
        ("event_setting_changed", 2, Ev(Event::SettingChanged(Setting::WrongCodeLimit(3)))),
        ("event_clock_set", 3, Ev(Event::ClockSet { unix_seconds: 1_795_000_000 })),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden_vectors.txt");

fn stored() -> Vec<(String, Vec<u8>)> {
    let text = std::fs::read_to_string(FILE).expect("golden vectors file");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (name, hex) = l.split_once(' ').expect("`name hex` per line");
            (name.to_string(), unhex(hex))
        })
        .collect()
}

#[test]
fn encoder_matches_the_documented_layout() {
    for (name, seq, msg) in vectors() {
        assert_eq!(msg.encode(seq), msg.layout(seq), "{name}");
    }
}

#[test]
fn wire_bytes_match_the_golden_vectors() {
    let computed: Vec<(&str, Vec<u8>)> =
        vectors().iter().map(|(name, seq, msg)| (*name, msg.encode(*seq))).collect();
    if std::env::var_os("LATCHKEY_BLESS").is_some() {
        let text: String = computed.iter().map(|(n, w)| format!("{n} {}\n", hex(w))).collect();
        std::fs::write(FILE, text).unwrap();
    }
    let stored = stored();
    assert_eq!(stored.len(), computed.len(), "vector count changed");
    for ((name, wire), (stored_name, stored_wire)) in computed.iter().zip(&stored) {
        assert_eq!(name, stored_name);
        assert_eq!(hex(wire), hex(stored_wire), "wire bytes of {name} changed");
    }
}

#[test]
fn golden_bytes_decode_back_to_the_same_messages() {
    let mut acc = FrameAccumulator::new();
    for ((name, seq, msg), (_, wire)) in vectors().into_iter().zip(stored()) {
        let mut decoded = Vec::new();
        for &b in &wire {
            if let Some(frame) = acc.push(b) {
                let frame = frame.unwrap();
                assert_eq!(frame.header, Header::new(msg.kind(), seq), "{name}");
                decoded.push(Msg::decode(frame.header.kind, frame.body));
            }
        }
        assert_eq!(decoded, vec![msg], "{name}");
    }
}

/// A sealed frame with fixed keys and nonces: pins the sealing layout (counter, nonce, AAD,
/// tag) as the other vectors pin the plain one.
#[test]
fn sealed_frame_matches_its_golden_vector() {
    use latchkey_protocol::crypto::{SecretKey, SessionKeys, lock_key};
    let site = SecretKey([0x5A; 32]);
    let key = lock_key(Role::Installer, &site, "LK1-000042");
    let keys =
        SessionKeys::derive(&key, Role::Installer, "LK1-000042", &[1; 32], &[2; 32], &[3; 32]);
    let (mut sealer, _) = keys.host_ends();
    let (_, mut opener) = keys.lock_ends();
    let header = Header::new(Kind::SealedRequest, 21);
    let mut plain = [0u8; MAX_BODY_LEN];
    let plain = postcard::to_slice(&Request::GetSettings, &mut plain).unwrap();
    let mut body = [0u8; MAX_BODY_LEN];
    let (n, counter) = sealer.seal(&header, plain, &mut body).unwrap();
    assert_eq!(counter, 1);
    let raw_hex = format!("{}{}", hex(&[PROTOCOL_VERSION, 3, 21, 0]), hex(&body[..n]));
    let expected = "0503150001000000970179b381544e5c9584f6c3f6d2666294";
    if std::env::var_os("LATCHKEY_BLESS").is_some() {
        println!("sealed vector: {raw_hex}");
    }
    assert_eq!(&raw_hex, expected, "sealed layout changed");
    let mut out = [0u8; MAX_BODY_LEN];
    let (opened, _) = opener.open(&header, &body[..n], &mut out).unwrap();
    assert_eq!(decode_body::<Request>(opened).unwrap(), Request::GetSettings);

    // A sealed event, the lock's first in that session: its own counter and nonce byte 2.
    let mut events = keys.lock_event_sealer();
    let header = Header::new(Kind::SealedEvent, 3);
    let event = Event::AlarmRaised(Alarm::Tamper);
    let mut plain = [0u8; MAX_BODY_LEN];
    let plain = postcard::to_slice(&event, &mut plain).unwrap();
    let (n, counter) = events.seal(&header, plain, &mut body).unwrap();
    assert_eq!(counter, 1);
    let raw_hex = format!("{}{}", hex(&[PROTOCOL_VERSION, 5, 3, 0]), hex(&body[..n]));
    if std::env::var_os("LATCHKEY_BLESS").is_some() {
        println!("sealed event vector: {raw_hex}");
    }
    assert_eq!(
        &raw_hex, "05050300010000009d868148431e70a025f94cff48a11cb48fab",
        "sealed event layout changed"
    );
    let (opened, _) = keys.host_event_opener().open(&header, &body[..n], &mut out).unwrap();
    assert_eq!(decode_body::<Event>(opened).unwrap(), event);
}

/// The claim exchange with fixed inputs, every intermediate value pinned: the worked example
/// of docs/protocol.md section 7.5.
#[test]
fn claim_exchange_matches_its_worked_example() {
    use latchkey_protocol::crypto::{ClaimKeys, ClaimVerifier, SetupCode, pake};
    let code = SetupCode::parse("7K2M-9QXD-4HRT").unwrap();
    let salt = [0x5C; 16];
    let verifier = ClaimVerifier::derive(&code, &salt);
    let (host_secret, lock_secret) = ([0x01; 32], [0x02; 32]);
    let host_nonce = [0x10; 16];
    let intent = ClaimIntent::Claim;
    let host_share = pake::share(&host_secret, verifier.generator(intent));
    let lock_share = pake::share(&lock_secret, verifier.generator(intent));
    let shared = pake::shared(&host_secret, &lock_share).unwrap();
    assert_eq!(Some(shared), pake::shared(&lock_secret, &host_share));
    let keys =
        ClaimKeys::derive(&shared, "LK1-000042", intent, &host_nonce, &host_share, &lock_share);
    let mut payload = [0x11; 64];
    let tag = keys.seal(&mut payload);
    let values = [
        ("generator_claim", hex(&verifier.claim)),
        ("generator_reset", hex(&verifier.reset)),
        ("host_share", hex(&host_share)),
        ("lock_share", hex(&lock_share)),
        ("shared", hex(&shared)),
        ("lock_proof", hex(&keys.lock_proof())),
        ("tag", hex(&tag)),
    ];
    let text: String = values.iter().map(|(k, v)| format!("{k:<16}{v}\n")).collect();
    if std::env::var_os("LATCHKEY_BLESS").is_some() {
        print!("claim example:\n{text}");
    }
    assert_eq!(text, CLAIM_EXAMPLE, "the claim exchange changed");
}

const CLAIM_EXAMPLE: &str = "\
generator_claim c4d3258fa4fd6fa016af2410d1c17ca61a7b804569397d926aeda20e31656c11\n\
generator_reset b61c8ade40602358150ec1a95d375f663f2af115815d050aabdeecf3f23bb514\n\
host_share      d0096fe23bff989d9cd3b42d1fd64d4e6f85feb8e135dede7b3117ff9786393a\n\
lock_share      f19e77675ca571ea01384810f68e445ee7fea17cbdacc8bf813ee9d60bcbfb01\n\
shared          5cd6f6d888a017a80ca6f0bfa4332819f39e3d86ae4c46476b52e8c3997a5377\n\
lock_proof      2d88a6ae8f02cf7740db5734cb0b6873365f389909f5c5925933692ebe5e8f4d\n\
tag             a5faa0b867041e0d85bd53ea37045b7e\n\
";

/// A PIN digest with fixed inputs: the worked example of docs/protocol.md section 6.9.
#[test]
fn pin_digest_matches_its_worked_example() {
    use latchkey_protocol::checksum::{pin_digest, pin_key};
    use latchkey_protocol::crypto::{SecretKey, lock_key};
    let installer = lock_key(Role::Installer, &SecretKey([0x5A; 32]), "LK1-000042");
    let key = pin_key(&installer);
    assert_eq!(hex(key.as_bytes()), PIN_KEY_EXAMPLE);
    assert_eq!(hex(&pin_digest(&key, "058213")), PIN_DIGEST_EXAMPLE);
}

const PIN_KEY_EXAMPLE: &str = "c9c0ebd97120d40994dc4a558263837837e8b02d7b85d3bb00d69de873f9a134";
const PIN_DIGEST_EXAMPLE: &str = "7e02c68296660e20b285ecabd4212016";
