//! Drawing one frame of the TUI with a 10,000-record log loaded: the Log view (following,
//! and scrolled to the middle with a filter) and the Dashboard, at 120x40, into ratatui's
//! `TestBackend`. The budget is 2 ms a frame; run with `cargo bench --bench tui`.

use criterion::{Criterion, criterion_group, criterion_main};
use latchkey::tui::app::{Action, App, View, update};
use latchkey::tui::view::render;
use latchkey_protocol::{
    AccessPath, AccessReason, ChangeKind, LogEntry, LogRecord, Role, UserKind, UserSummary,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const RECORDS: u32 = 10_000;

fn loaded() -> App {
    let mut app = App::new("/dev/ttyUSB0");
    let users = (1..=100)
        .map(|id| UserSummary {
            id,
            name: format!("User {id}").as_str().try_into().expect("short name"),
            kind: UserKind::Owner,
            enabled: true,
            credentials: 1,
        })
        .collect();
    update(&mut app, Action::Users(users));
    let records = (1..=RECORDS)
        .map(|seq| LogRecord {
            seq,
            at: 1_795_000_000 + u64::from(seq),
            entry: if seq % 3 == 0 {
                LogEntry::Change {
                    what: ChangeKind::PinSet,
                    role: Role::Installer,
                    user: Some((seq % 100) as u16 + 1),
                }
            } else {
                LogEntry::Access {
                    path: AccessPath::Keypad,
                    granted: seq % 7 != 0,
                    user: Some((seq % 100) as u16 + 1),
                    reason: AccessReason::Granted,
                }
            },
        })
        .collect();
    update(&mut app, Action::Log(records));
    update(&mut app, Action::LogCaughtUp);
    app
}

fn key(app: &mut App, code: KeyCode) {
    update(app, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn frames(c: &mut Criterion) {
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
    let mut app = loaded();
    app.view = View::Log;
    c.bench_function("log view, 10,000 records, following", |b| {
        b.iter(|| terminal.draw(|frame| render(&app, frame)).map(|_| ()))
    });
    // Scrolled back to the middle, filtered to one user's access records.
    key(&mut app, KeyCode::Char('/'));
    for ch in "kind:access user:7".chars() {
        key(&mut app, KeyCode::Char(ch));
    }
    key(&mut app, KeyCode::Enter);
    for _ in 0..5 {
        key(&mut app, KeyCode::PageUp);
    }
    c.bench_function("log view, 10,000 records, filtered and scrolled", |b| {
        b.iter(|| terminal.draw(|frame| render(&app, frame)).map(|_| ()))
    });
    app.view = View::Dashboard;
    c.bench_function("dashboard, 10,000 records", |b| {
        b.iter(|| terminal.draw(|frame| render(&app, frame)).map(|_| ()))
    });
}

criterion_group!(benches, frames);
criterion_main!(benches);
