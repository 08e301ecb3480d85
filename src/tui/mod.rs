//! The dashboard face: `latchkey tui`.
//!
//! The link runs on a worker thread that polls the lock and sends [`app::Action`]s over a
//! channel; the UI thread only handles keys, applies actions and draws, so a slow or dead
//! link never freezes the screen.

pub mod app;
pub mod view;

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use crate::cli::commands::{Connection, connect_authorized};
use crate::cli::{CliError, Context};
use app::{Action, App, Reading, update};

/// How often the dashboard polls the lock.
pub const REFRESH: Duration = Duration::from_secs(1);
/// How often the UI wakes to check for keys and news.
const TICK: Duration = Duration::from_millis(100);

/// Runs the dashboard until `q`.
pub fn run(context: &Context) -> Result<(), CliError> {
    if context.json {
        return Err(CliError::usage("the dashboard has no JSON form")
            .with_hint("use `latchkey info --json`, `battery --json` or `time get --json`"));
    }
    // Connect before taking over the screen, so "port busy" or "no device" prints plainly.
    let connection = connect_authorized(context)?;
    let mut app = App::new(connection.client.path().display().to_string());
    let (tx, rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let worker = std::thread::Builder::new()
        .name("latchkey-link".into())
        .spawn(move || poll_lock(connection, &tx, &stop_rx))
        .map_err(|e| CliError::usage(format!("cannot start the link thread: {e}")))?;

    let mut terminal = ratatui::try_init().map_err(|e| {
        CliError::usage(format!("cannot open the terminal: {e}"))
            .with_hint("run it in an interactive terminal")
    })?;
    let result = ui_loop(&mut terminal, &mut app, &rx);
    ratatui::restore();
    let _ = stop_tx.send(());
    let _ = worker.join();
    result.map_err(|e| CliError::usage(format!("terminal error: {e}")))
}

fn ui_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    rx: &Receiver<Action>,
) -> std::io::Result<()> {
    while !app.quit {
        terminal.draw(|frame| view::render(app, frame))?;
        if event::poll(TICK)?
            && let Event::Key(key) = event::read()?
            && key.kind == KeyEventKind::Press
        {
            let quit = matches!(key.code, KeyCode::Char('q') | KeyCode::Esc)
                || (key.code == KeyCode::Char('c')
                    && key.modifiers.contains(KeyModifiers::CONTROL));
            if quit {
                update(app, Action::Quit);
            }
        }
        while let Ok(action) = rx.try_recv() {
            update(app, action);
        }
    }
    Ok(())
}

/// The worker: identity once, then a reading every [`REFRESH`] until told to stop.
fn poll_lock(mut connection: Connection, tx: &Sender<Action>, stop: &Receiver<()>) {
    let client = &mut connection.client;
    let mut identified = false;
    loop {
        let started = Instant::now();
        if tx.send(Action::Polling).is_err() {
            return;
        }
        if !identified {
            match client.hello() {
                Ok(info) => {
                    identified = true;
                    let _ = tx.send(Action::Identity(info));
                }
                Err(e) => {
                    let _ = tx.send(Action::LinkDown(e.to_string()));
                }
            }
        }
        if identified {
            let action = (|| {
                let t0 = Instant::now();
                let clock = client.time()?;
                let round_trip_ms = u32::try_from(t0.elapsed().as_millis()).unwrap_or(u32::MAX);
                let host_unix_seconds =
                    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                let battery = client.battery()?;
                let diagnostics = client.diagnostics()?;
                Ok::<_, crate::link::ClientError>(Action::Reading(Reading {
                    clock,
                    host_unix_seconds,
                    battery,
                    diagnostics,
                    round_trip_ms,
                }))
            })()
            .unwrap_or_else(|e| Action::LinkDown(e.to_string()));
            if tx.send(action).is_err() {
                return;
            }
        }
        let rest = REFRESH.saturating_sub(started.elapsed());
        if stop.recv_timeout(rest) != Err(mpsc::RecvTimeoutError::Timeout) {
            return;
        }
    }
}
