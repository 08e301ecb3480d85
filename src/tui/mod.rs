//! The TUI: `latchkey tui`. Views of the lock (dashboard, users, log, alarms, the frames on
//! the link) that act on it too, and keep going when the lock goes away and comes back.
//!
//! The link runs on a worker thread ([`worker`]) that follows the lock's events, polls as a
//! fallback, carries out commands and reconnects; the UI thread only handles keys, applies
//! actions ([`app::update`]) and draws ([`view::render`]), so a slow or dead link never
//! freezes the screen.

pub mod app;
pub mod view;
mod worker;

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyEventKind};

use crate::session::{ConnectError, ConnectOptions};
use app::{Action, App, Command, update};
pub use worker::{POLL, RECONNECT};

/// How often the UI wakes to check for keys and news, and redraws.
const TICK: Duration = Duration::from_millis(100);

/// Why the TUI could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// No link to the lock, or no session.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The link's worker thread could not be started.
    #[error("cannot start the link thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The terminal could not be taken over.
    #[error("cannot open the terminal: {0}")]
    Terminal(#[source] std::io::Error),
    /// Drawing or reading keys failed.
    #[error("terminal error: {0}")]
    Draw(#[source] std::io::Error),
}

/// Runs the TUI until `q`.
pub fn run(options: &ConnectOptions) -> Result<(), TuiError> {
    // Connect before taking over the screen, so "port busy" or "no device" prints plainly.
    // A short back-off is waited out first.
    let connection = loop {
        match worker::open(options) {
            Err(ConnectError::Client(crate::link::ClientError::Backoff { retry_after }))
                if retry_after <= options.timeout =>
            {
                eprintln!(
                    "the lock is slowing down after failed authentication; waiting {:.1} s",
                    retry_after.as_secs_f64()
                );
                std::thread::sleep(retry_after + Duration::from_millis(50));
            }
            other => break other?,
        }
    };
    let mut app = App::new(connection.client.path().display().to_string());
    let (tx, rx) = mpsc::channel();
    let (command_tx, command_rx) = mpsc::channel::<Command>();
    let worker_options = options.clone();
    let worker = std::thread::Builder::new()
        .name("latchkey-link".into())
        .spawn(move || worker::run(worker_options, connection, tx, command_rx))
        .map_err(TuiError::Thread)?;

    // `ratatui::try_init` also restores the terminal on a panic, before the panic message.
    let mut terminal = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(e) => {
            drop(command_tx);
            let _ = worker.join();
            return Err(TuiError::Terminal(e));
        }
    };
    let result = ui_loop(&mut terminal, &mut app, &rx, &command_tx);
    ratatui::restore();
    // The worker stops when its command channel closes.
    drop(command_tx);
    let _ = worker.join();
    result.map_err(TuiError::Draw)
}

fn ui_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    rx: &Receiver<Action>,
    commands: &Sender<Command>,
) -> std::io::Result<()> {
    let started = Instant::now();
    let apply = |app: &mut App, action: Action| {
        if let Some(command) = update(app, action) {
            // A worker that is gone ends the loop at the next turn anyway.
            let _ = commands.send(command);
        }
    };
    while !app.quit {
        let now_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        apply(app, Action::Tick(now_ms));
        terminal.draw(|frame| view::render(app, frame))?;
        if event::poll(TICK)?
            && let Event::Key(key) = event::read()?
            && key.kind == KeyEventKind::Press
        {
            apply(app, Action::Key(key));
        }
        while let Ok(action) = rx.try_recv() {
            apply(app, action);
        }
    }
    Ok(())
}
