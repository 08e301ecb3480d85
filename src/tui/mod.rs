//! The dashboard face: `latchkey tui`.
//!
//! The link runs on a worker thread that polls the lock and sends [`app::Action`]s over a
//! channel; the UI thread only handles keys, applies actions and draws, so a slow or dead
//! link never freezes the screen.

pub mod app;
pub mod view;

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use crate::link::ClientError;
use crate::ops::log::LogTail;
use crate::session::{self, AuthOutcome, ConnectError, ConnectOptions, Connection};
use app::{Action, Answer, App, Reading, Unavailable, update};

/// How often the dashboard polls the lock.
pub const REFRESH: Duration = Duration::from_secs(1);
/// How often the UI wakes to check for keys and news.
const TICK: Duration = Duration::from_millis(100);

/// Why the dashboard could not run.
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

/// Runs the dashboard until `q`.
pub fn run(options: &ConnectOptions) -> Result<(), TuiError> {
    // Connect before taking over the screen, so "port busy" or "no device" prints plainly.
    let connection = open(options)?;
    let mut app = App::new(connection.client.path().display().to_string());
    let (tx, rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let worker = std::thread::Builder::new()
        .name("latchkey-link".into())
        .spawn(move || poll_lock(connection, &tx, &stop_rx))
        .map_err(TuiError::Thread)?;

    let mut terminal = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(e) => {
            let _ = stop_tx.send(());
            let _ = worker.join();
            return Err(TuiError::Terminal(e));
        }
    };
    let result = ui_loop(&mut terminal, &mut app, &rx);
    ratatui::restore();
    let _ = stop_tx.send(());
    let _ = worker.join();
    result.map_err(TuiError::Draw)
}

/// Connects and opens a session. The dashboard only reads: a lock on an older key stays on
/// it. A short back-off is waited out before the screen is taken.
fn open(options: &ConnectOptions) -> Result<Connection, ConnectError> {
    let mut connection = session::connect(options)?;
    loop {
        match connection.authorize()? {
            AuthOutcome::Backoff { retry_after } if retry_after <= options.timeout => {
                eprintln!(
                    "the lock is slowing down after failed authentication; waiting {:.1} s",
                    retry_after.as_secs_f64()
                );
                std::thread::sleep(retry_after + Duration::from_millis(50));
            }
            AuthOutcome::Backoff { retry_after } => {
                return Err(ClientError::Backoff { retry_after }.into());
            }
            AuthOutcome::Unclaimed
            | AuthOutcome::Opened { .. }
            | AuthOutcome::OpenedWithOlderKey { .. } => return Ok(connection),
        }
    }
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
    let mut identified = false;
    let mut log = LogTail::default();
    loop {
        let started = Instant::now();
        if tx.send(Action::Polling).is_err() {
            return;
        }
        if !identified {
            match connection.client.hello() {
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
            let action = read_lock(&mut connection, &mut log)
                .map_or_else(|e| Action::LinkDown(e.to_string()), Action::Reading);
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

/// One reading. A request the lock refuses leaves its panel "not available"; a link that
/// fails (no answer, cable pulled) fails the whole reading.
fn read_lock(connection: &mut Connection, log: &mut LogTail) -> Result<Reading, ClientError> {
    let t0 = Instant::now();
    let clock = connection.client.time();
    let round_trip_ms = u32::try_from(t0.elapsed().as_millis()).unwrap_or(u32::MAX);
    let host_unix_seconds = crate::time::now_unix();
    let clock = answer(connection, clock)?;
    let battery = connection.client.battery();
    let battery = answer(connection, battery)?;
    let diagnostics = connection.client.diagnostics();
    let diagnostics = answer(connection, diagnostics)?;
    let alarms = connection.client.alarms();
    let alarms = answer(connection, alarms)?;
    let last_access = connection.client.last_access();
    let last_access = answer(connection, last_access)?;
    let records = log.refresh(&mut connection.client);
    let records = answer(connection, records)?;
    Ok(Reading {
        clock,
        host_unix_seconds,
        battery,
        diagnostics,
        alarms,
        last_access,
        log: records,
        round_trip_ms,
    })
}

/// A request's outcome for its panel: the lock's refusal (classified for this lock: not
/// claimed, a read-only key, its status) or an answer that does not fit becomes the panel's
/// reason; a link failure stays an error.
fn answer<T>(
    connection: &Connection,
    result: Result<T, ClientError>,
) -> Result<Answer<T>, ClientError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(ClientError::Unexpected(what)) => Ok(Err(Unavailable::Unexpected(what))),
        Err(e) => match connection.classify(&e) {
            Some(refusal) => Ok(Err(Unavailable::Refused(refusal))),
            None => Err(e),
        },
    }
}
