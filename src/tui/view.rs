//! The dashboard drawn from state alone, so it can be tested with `TestBackend`.

use latchkey_protocol::BatteryState;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph};

use super::app::{App, LinkState};
use crate::display::{describe_drift, drift_seconds, format_unix, volts};

/// Draws `app` into the whole frame.
pub fn render(app: &App, frame: &mut Frame) {
    let [title, body, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)])
            .areas(frame.area());
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
    let [identity, link] =
        Layout::vertical([Constraint::Length(7), Constraint::Min(0)]).areas(left);
    let [clock, battery] =
        Layout::vertical([Constraint::Length(6), Constraint::Min(0)]).areas(right);

    let label = app.identity.as_ref().map(|i| i.serial.as_str()).unwrap_or("…");
    frame.render_widget(
        Line::from(vec![
            Span::styled(
                " latchkey ",
                Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            ),
            Span::raw(format!(" lock {label} on {}", app.port)),
        ]),
        title,
    );
    render_identity(app, frame, identity);
    render_link(app, frame, link);
    render_clock(app, frame, clock);
    render_battery(app, frame, battery);
    let status = if app.polling { "refreshing…" } else { "" };
    frame.render_widget(
        Line::from(vec![
            Span::raw(" q quit"),
            Span::raw("   "),
            Span::styled(status, Style::new().fg(Color::DarkGray)),
        ]),
        footer,
    );
}

fn waiting(frame: &mut Frame, area: Rect, block: Block<'_>) {
    frame.render_widget(Paragraph::new("waiting for the lock…").block(block), area);
}

fn render_identity(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Lock ");
    let Some(info) = &app.identity else { return waiting(frame, area, block) };
    let model = if info.simulation {
        format!("{} (simulation)", info.model)
    } else {
        info.model.to_string()
    };
    let lines = vec![
        Line::from(format!("model     {model}")),
        Line::from(format!("serial    {}", info.serial)),
        Line::from(format!(
            "firmware  {} (protocol {})",
            info.firmware_version, info.protocol_version
        )),
        Line::from(format!(
            "capacity  {} users, log {}",
            info.capabilities.max_users, info.capabilities.log_capacity
        )),
    ];
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_link(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Link ");
    let state = match &app.link {
        LinkState::Connecting => Line::from("connecting…"),
        LinkState::Online { round_trip_ms } => Line::from(vec![
            Span::styled("online", Style::new().fg(Color::Green)),
            Span::raw(format!(", round trip {round_trip_ms} ms")),
        ]),
        LinkState::Down(why) => Line::from(vec![
            Span::styled("no answer", Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)),
            Span::raw(format!(": {why}")),
        ]),
    };
    let mut lines = vec![state, Line::from(format!("polls     {}", app.polls))];
    if let Some(reading) = &app.reading {
        let d = &reading.diagnostics;
        lines
            .push(Line::from(format!("frames    {} in, {} out", d.frames_received, d.frames_sent)));
        lines.push(Line::from(format!(
            "dropped   {} crc, {} malformed, {} long",
            d.dropped_bad_crc, d.dropped_malformed, d.dropped_too_long
        )));
        lines.push(Line::from(format!("boots     {}", d.boot_count)));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_clock(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Clock ");
    let Some(reading) = &app.reading else { return waiting(frame, area, block) };
    let drift = drift_seconds(&reading.clock, reading.host_unix_seconds);
    let drift_style = if drift.abs() > 2 { Style::new().fg(Color::Yellow) } else { Style::new() };
    let mut lines = vec![
        Line::from(format!("lock   {}", format_unix(reading.clock.unix_seconds))),
        Line::from(format!("host   {}", format_unix(reading.host_unix_seconds))),
        Line::from(vec![Span::raw("drift  "), Span::styled(describe_drift(drift), drift_style)]),
    ];
    if !reading.clock.is_set {
        lines.push(Line::styled("not set since power-up", Style::new().fg(Color::Yellow)));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_battery(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Battery ");
    let Some(reading) = &app.reading else { return waiting(frame, area, block) };
    let b = reading.battery;
    let (color, state) = match b.state {
        BatteryState::Ok => (Color::Green, "ok"),
        BatteryState::Low => (Color::Yellow, "low"),
        BatteryState::Critical => (Color::Red, "CRITICAL"),
    };
    let label = format!("{}  {} %  {state}", volts(b.millivolts), b.percent);
    frame.render_widget(
        Gauge::default()
            .block(block)
            .gauge_style(Style::new().fg(color))
            .percent(u16::from(b.percent.min(100)))
            .label(label),
        area,
    );
}

#[cfg(test)]
mod tests {
    use latchkey_protocol::{
        AccessPaths, BatteryReport, Capabilities, ClockReading, Diagnostics, LockInfo,
    };
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::tui::app::{Action, Reading, update};

    fn info() -> LockInfo {
        LockInfo {
            model: "LK-100".try_into().unwrap(),
            serial: "SIM-000001".try_into().unwrap(),
            firmware_version: "0.1.0".try_into().unwrap(),
            protocol_version: 1,
            simulation: true,
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
                    fingerprint: true,
                    phone: true,
                    mechanical_key: true,
                },
                max_in_flight: 4,
                max_frame_len: 326,
            },
        }
    }

    fn reading(millivolts: u16, percent: u8, state: BatteryState) -> Reading {
        Reading {
            clock: ClockReading { unix_seconds: 1_795_000_000, is_set: false, uptime_ms: 61_000 },
            host_unix_seconds: 1_795_000_090,
            battery: BatteryReport {
                millivolts,
                percent,
                state,
                loaded_millivolts: millivolts.saturating_sub(400),
                operations_left: 1000,
                replaced_at: None,
            },
            diagnostics: Diagnostics {
                uptime_ms: 61_000,
                boot_count: 3,
                frames_received: 42,
                frames_sent: 42,
                dropped_bad_crc: 2,
                dropped_malformed: 1,
                ..Diagnostics::default()
            },
            round_trip_ms: 3,
        }
    }

    fn draw(app: &App) -> String {
        let mut terminal = Terminal::new(TestBackend::new(80, 16)).unwrap();
        terminal.draw(|frame| render(app, frame)).unwrap();
        terminal.backend().to_string()
    }

    #[test]
    fn before_the_lock_answers() {
        insta::assert_snapshot!(draw(&App::new("/dev/ttyUSB0")));
    }

    #[test]
    fn online_with_a_drifting_clock() {
        let mut app = App::new("/dev/ttyUSB0");
        update(&mut app, Action::Identity(info()));
        update(&mut app, Action::Reading(reading(5_820, 87, BatteryState::Ok)));
        insta::assert_snapshot!(draw(&app));
    }

    #[test]
    fn link_down_keeps_the_last_reading_and_says_why() {
        let mut app = App::new("/dev/ttyUSB0");
        update(&mut app, Action::Identity(info()));
        update(&mut app, Action::Reading(reading(4_410, 4, BatteryState::Critical)));
        update(&mut app, Action::LinkDown("no answer within 3s".into()));
        let screen = draw(&app);
        assert!(screen.contains("no answer"));
        assert!(screen.contains("CRITICAL"));
        insta::assert_snapshot!(screen);
    }

    #[test]
    fn quit_key_sets_quit() {
        let mut app = App::new("x");
        update(&mut app, Action::Quit);
        assert!(app.quit);
    }
}
