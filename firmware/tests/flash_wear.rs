//! Flash wear, as page erases, in the lock's steady state (its log full, so every page the log
//! fills costs the erase of its oldest): per 1,000 wrong PINs at the keypad and per 1,000
//! technician sessions. The nRF51's flash is rated for 20,000 erases a page; the figures are
//! in docs/firmware.md. The bounds below are what "written on edges, not on every key press"
//! promises, with room to spare.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::rig::Rig;
use common::{session, test_keys};
use latchkey_protocol::{Request, Response, Role, Setting, Status};
use latchkey_sim::SimFlash;

/// Page erases `phase` costs, less what a boot alone costs.
fn erases(flash: &mut SimFlash, phase: impl FnOnce(&mut Rig)) -> u64 {
    let boot = {
        let before = flash.page_erases();
        drop(Rig::new(flash));
        flash.page_erases() - before
    };
    let before = flash.page_erases();
    {
        let mut r = Rig::new(flash);
        phase(&mut r);
    }
    flash.page_erases() - before - boot
}

/// A claimed lock whose log is full, set to lock the keypad out for 30 s after 5 wrong PINs.
fn steady_lock() -> SimFlash {
    let mut flash = SimFlash::erased();
    {
        let mut r = Rig::new(&mut flash);
        for setting in [Setting::WrongCodeLimit(5), Setting::LockoutSeconds(30)] {
            assert!(matches!(r.ask(&Request::SetSetting(setting)), Response::Settings(_)));
        }
        for _ in 0..2_400 {
            r.lock.mechanical_key();
        }
    }
    flash
}

#[test]
fn a_thousand_wrong_pins_or_sessions_cost_a_bounded_number_of_page_erases() {
    let mut flash = steady_lock();
    // Someone at the keypad: five wrong PINs, the lockout, half a minute, again.
    let pins = erases(&mut flash, |r| {
        for i in 0..1_000 {
            assert!(!r.lock.keypad_entry("111999").granted);
            if i % 5 == 4 {
                r.clock.advance(31_000);
                r.lock.tick();
            }
        }
    });
    // A technician's visits, back to back (a script) and ten minutes apart.
    let technician = |r: &mut Rig, apart_ms: u64| {
        for _ in 0..1_000 {
            let s = session(&mut r.link, &mut r.lock, Role::Technician, &test_keys().technician);
            drop(s.expect("technician session"));
            r.clock.advance(apart_ms);
            r.lock.tick();
        }
    };
    let sessions = erases(&mut flash, |r| technician(r, 1_000));
    let spread = erases(&mut flash, |r| technician(r, 600_000));
    println!(
        "page erases: {pins} per 1,000 wrong PINs (lockouts every 5); {sessions} per 1,000 \
         technician sessions back to back; {spread} per 1,000 ten minutes apart"
    );
    // Each lockout cycle is four records (the first refusal, the burst, the alarm raised and
    // cleared) and two safety-state writes: well under one erase per cycle.
    assert!(pins <= 200, "{pins} erases per 1,000 wrong PINs");
    assert!(sessions <= 10, "{sessions} erases per 1,000 sessions back to back");
    assert!(spread <= 100, "{spread} erases per 1,000 sessions ten minutes apart");
    // And the lock still answers its installer.
    let mut r = Rig::new(&mut flash);
    assert!(matches!(r.ask(&Request::GetSettings), Response::Settings(_)));
    assert_ne!(r.ask(&Request::VerifyLog), Response::Status(Status::Failure));
}
