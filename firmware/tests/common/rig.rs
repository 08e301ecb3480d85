//! A claimed lock on a test clock and battery, with an installer session open over an
//! in-process link: what the tests of users, credentials and the log start from. Each test
//! file adds its own helpers in an `impl Rig` block of its own.

use latchkey_firmware::Link;
use latchkey_firmware::lock::access::FINGER_CAPTURES;
use latchkey_protocol::{
    AccessRecord, Alarm, Credential, Enrollment, Pin, Request, Response, Status, User, UserSpec,
    UserWrite,
};
use latchkey_sim::{SimBattery, SimFlash};

use super::{ClockHandle, HostSession, TestLock, boot_full, installer};

pub struct Rig<'a> {
    pub lock: TestLock<'a>,
    pub link: Link,
    /// The installer's session.
    pub s: HostSession,
    /// Moves the lock's clock forward.
    pub clock: ClockHandle,
    /// The battery, whose voltage a test may change.
    pub battery: SimBattery,
}

impl<'a> Rig<'a> {
    /// Boots a lock on `flash` with a fresh 6.0 V battery, claims it and opens an installer
    /// session.
    pub fn new(flash: &'a mut SimFlash) -> Self {
        let battery = SimBattery::new(6000);
        let (mut lock, clock) = boot_full(flash, battery.clone());
        let mut link = Link::new();
        let s = installer(&mut link, &mut lock);
        Self { lock, link, s, clock, battery }
    }

    /// Sends `request` in the installer's session; the lock's answer.
    pub fn ask(&mut self, request: &Request) -> Response {
        self.s.ask(&mut self.link, &mut self.lock, request)
    }

    /// Sends `request`; the status it was answered with (panics on any other answer).
    pub fn status(&mut self, request: &Request) -> Status {
        match self.ask(request) {
            Response::Status(status) => status,
            Response::Refused(refusal) => refusal.status,
            other => panic!("expected a status, got {other:?}"),
        }
    }

    /// Sends `request` and checks that it was done.
    pub fn ok(&mut self, request: &Request) {
        let answer = self.ask(request);
        assert!(
            matches!(
                answer,
                Response::Status(Status::Success)
                    | Response::User(_)
                    | Response::Settings(_)
                    | Response::Time(_)
                    | Response::Enrollment(_)
            ),
            "{request:?} -> {answer:?}"
        );
    }

    pub fn put(&mut self, id: u16, spec: &UserSpec) -> Response {
        self.ask(&Request::PutUser { id, write: UserWrite::Add, spec: spec.clone() })
    }

    pub fn add(&mut self, id: u16, spec: &UserSpec) {
        assert!(matches!(self.put(id, spec), Response::User(_)), "user {id} added");
    }

    pub fn user(&mut self, id: u16) -> User {
        match self.ask(&Request::GetUser { id }) {
            Response::User(user) => user,
            other => panic!("expected user {id}, got {other:?}"),
        }
    }

    pub fn set_pin(&mut self, user: u16, pin: &str) -> Status {
        self.status(&Request::SetPin { user, pin: Pin::try_from(pin).unwrap() })
    }

    pub fn set_time(&mut self, unix_seconds: u64) {
        assert!(matches!(self.ask(&Request::SetTime { unix_seconds }), Response::Time(_)));
    }

    pub fn alarms(&mut self) -> Vec<Alarm> {
        match self.ask(&Request::GetAlarms) {
            Response::Alarms(list) => list.iter().map(|a| a.alarm).collect(),
            other => panic!("expected alarms, got {other:?}"),
        }
    }

    pub fn enrollment(&mut self) -> Enrollment {
        match self.ask(&Request::GetEnrollment) {
            Response::Enrollment(e) => e,
            other => panic!("expected enrollment, got {other:?}"),
        }
    }

    /// Someone enters `digits` at the keypad.
    pub fn pin(&mut self, digits: &str) -> AccessRecord {
        self.lock.keypad_entry(digits)
    }

    /// Someone places finger `name` on the sensor, a capture of `quality`.
    pub fn finger(&mut self, name: &str, quality: u8) -> Option<AccessRecord> {
        let capture = self.lock.devices().fingerprint.place(name, quality);
        self.lock.finger_placed(capture)
    }

    /// Enrolls finger `name` for `user` with good captures; its slot.
    pub fn enroll_finger(&mut self, user: u16, name: &str) -> u8 {
        assert!(matches!(
            self.ask(&Request::EnrollFinger { user }),
            Response::Enrollment(Enrollment::InProgress { .. })
        ));
        for _ in 0..FINGER_CAPTURES {
            assert_eq!(self.finger(name, 90), None, "a capture is no access decision");
        }
        match self.enrollment() {
            Enrollment::Done { user: u, credential: Credential::Fingerprint { slot } } => {
                assert_eq!(u, user);
                slot
            }
            other => panic!("enrollment did not finish: {other:?}"),
        }
    }
}
