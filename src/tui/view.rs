//! The dashboard drawn from state alone, so it can be tested with `TestBackend`.
//!
//! Bands from the top: what is wrong (Alarms, Door), the lock (Lock, Clock), its link and
//! battery (Link, Battery), then the newest log records (Log), which get whatever height is
//! left. At 80x24 the middle bands are brief and the log shows five records; a taller
//! terminal gives the middle bands their full height first, then more log.

use latchkey_protocol::{AccessReason, BatteryState, LogEntry, LogRecord};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph};

use super::app::{App, LinkState, Unavailable};
use crate::display::{
    alarm_words, battery_words, bolt_words, describe_access_reason, describe_drift, door_words,
    drift_seconds, format_unix, path_words, record_text, refusal_words, volts,
};
use crate::time::lock_time;

/// Rows of the log band at least, borders included, while the other bands are brief: five
/// records.
const LOG_ROWS: u16 = 7;
/// Rows of the Alarms/Door, Lock/Clock and Link/Battery bands: brief, and in full.
const BRIEF: [u16; 3] = [6, 5, 4];
const FULL: [u16; 3] = [6, 6, 7];
/// The Alarms band grows to show this many alarms before it says "and N more".
const ALARMS_SHOWN_MAX: u16 = 8;

/// Draws `app` into the whole frame.
pub fn render(app: &App, frame: &mut Frame) {
    let [title, body, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)])
            .areas(frame.area());
    let alarms = app.reading.as_ref().and_then(|r| r.alarms.as_ref().ok()).map_or(0, Vec::len);
    let [alert, lock, link, log] = bands(body.height, alarms);
    let [alert, lock, link, log] = Layout::vertical([
        Constraint::Length(alert),
        Constraint::Length(lock),
        Constraint::Length(link),
        Constraint::Min(log),
    ])
    .areas(body);
    let halves = |area| {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area)
    };
    let [alarms_area, door] = halves(alert);
    let [identity, clock] = halves(lock);
    let [link, battery] = halves(link);

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
    render_alarms(app, frame, alarms_area);
    render_door(app, frame, door);
    render_identity(app, frame, identity);
    render_clock(app, frame, clock);
    render_link(app, frame, link);
    render_battery(app, frame, battery);
    render_log(app, frame, log);
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

/// Heights of the four bands for a body `rows` tall with `alarms` raised: the three upper
/// bands brief, then (as rows allow, beyond five log records) Link/Battery, Lock/Clock and
/// Alarms/Door in full; the log gets the rest. The log's height is its minimum (the layout
/// shrinks the others first when even the brief bands do not fit).
fn bands(rows: u16, alarms: usize) -> [u16; 4] {
    let alarms = u16::try_from(alarms).unwrap_or(u16::MAX).min(ALARMS_SHOWN_MAX);
    let full = [FULL[0].max(alarms + 2), FULL[1], FULL[2]];
    let mut heights = BRIEF;
    let mut spare = rows.saturating_sub(BRIEF.iter().sum::<u16>() + LOG_ROWS);
    for band in [2, 1, 0] {
        let grow = spare.min(full[band] - heights[band]);
        heights[band] += grow;
        spare -= grow;
    }
    let log = rows.saturating_sub(heights.iter().sum()).max(3);
    [heights[0], heights[1], heights[2], log]
}

fn waiting(frame: &mut Frame, area: Rect, block: Block<'_>) {
    frame.render_widget(Paragraph::new("waiting for the lock…").block(block), area);
}

/// "not available: <why>", for a panel whose request the lock refused.
fn not_available(why: &Unavailable) -> Vec<Span<'static>> {
    let why = match why {
        Unavailable::Refused(refusal) => refusal_words(*refusal),
        Unavailable::Unexpected(what) => format!("unexpected answer ({what})"),
    };
    vec![
        Span::styled("not available", Style::new().fg(Color::Yellow)),
        Span::raw(format!(": {why}")),
    ]
}

/// A moment as briefly as a panel needs it: the time of day (UTC, like the log) on the lock's
/// today, the date on another day; `None` when the lock's clock was not set then.
fn when(at: u64, now: u64) -> Option<String> {
    let stamp = format_unix(lock_time(at)?);
    let today = format_unix(now);
    Some(match (stamp.split_once('T'), today.split_once('T')) {
        (Some((date, time)), Some((today, _))) if date == today => time.to_string(),
        (Some((date, _)), _) => date.to_string(),
        _ => stamp,
    })
}

fn render_alarms(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Alarms ");
    let Some(reading) = &app.reading else { return waiting(frame, area, block) };
    let alarms = match &reading.alarms {
        Err(why) => {
            return frame
                .render_widget(Paragraph::new(Line::from(not_available(why))).block(block), area);
        }
        Ok(alarms) if alarms.is_empty() => {
            return frame.render_widget(Paragraph::new("none").block(block), area);
        }
        Ok(alarms) => alarms,
    };
    let red = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
    let block = Block::bordered()
        .title(format!(" Alarms ({}) ", alarms.len()))
        .border_style(red)
        .title_style(red);
    let room = usize::from(area.height.saturating_sub(2)).max(1);
    let shown = if alarms.len() > room { room - 1 } else { alarms.len() };
    let width = alarms[..shown].iter().map(|a| alarm_words(a.alarm).len()).max().unwrap_or(0);
    let now = reading.now();
    let mut lines: Vec<Line<'_>> = alarms[..shown]
        .iter()
        .map(|a| {
            let since = match when(a.since, now) {
                Some(at) => format!("since {at}"),
                None => "(clock not set)".to_string(),
            };
            Line::styled(format!("{:<width$}  {since}", alarm_words(a.alarm)), red)
        })
        .collect();
    if shown < alarms.len() {
        lines.push(Line::styled(format!("and {} more", alarms.len() - shown), red));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_door(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Door ");
    let Some(reading) = &app.reading else { return waiting(frame, area, block) };
    let mut lines = Vec::new();
    match &reading.diagnostics {
        Ok(d) => {
            let door = if d.door_open {
                Span::styled(door_words(true), Style::new().fg(Color::Yellow))
            } else {
                Span::raw(door_words(false))
            };
            lines.push(Line::from(vec![
                Span::raw(format!("bolt   {}, door ", bolt_words(d.bolt_locked))),
                door,
            ]));
            lines.push(Line::from(if d.motor_runs == 0 {
                "motor  not run since start".to_string()
            } else {
                format!("motor  {} ms, {} mA peak", d.motor_last_ms, d.motor_last_ma)
            }));
        }
        Err(why) => {
            let mut spans = vec![Span::raw("bolt   ")];
            spans.extend(not_available(why));
            lines.push(Line::from(spans));
        }
    }
    match &reading.last_access {
        Ok(Some(a)) => {
            let (outcome, style) = if a.granted {
                ("granted", Style::new().fg(Color::Green))
            } else {
                ("refused", Style::new().fg(Color::Red).add_modifier(Modifier::BOLD))
            };
            let mut first = vec![Span::raw("last   "), Span::styled(outcome, style)];
            if a.reason != AccessReason::Granted {
                first.push(Span::raw(format!(": {}", describe_access_reason(a.reason))));
            }
            lines.push(Line::from(first));
            let user = a.user.map(|u| format!(", user {u}")).unwrap_or_default();
            let at = when(a.at, reading.now()).unwrap_or_else(|| "clock not set".to_string());
            lines.push(Line::from(format!("       {}{user}, {at}", path_words(a.path))));
        }
        Ok(None) => lines.push(Line::from("last   no attempt since start")),
        Err(why) => {
            let mut spans = vec![Span::raw("last   ")];
            spans.extend(not_available(why));
            lines.push(Line::from(spans));
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
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
    // Most telling first: a brief band shows the first two.
    let mut lines = vec![state];
    match app.reading.as_ref().map(|r| &r.diagnostics) {
        Some(Ok(d)) => {
            lines.push(Line::from(format!(
                "dropped   {} crc, {} malformed, {} long",
                d.dropped_bad_crc, d.dropped_malformed, d.dropped_too_long
            )));
            lines.push(Line::from(format!(
                "frames    {} in, {} out",
                d.frames_received, d.frames_sent
            )));
            lines.push(Line::from(format!("boots     {}", d.boot_count)));
        }
        Some(Err(why)) => {
            let mut spans = vec![Span::raw("counters  ")];
            spans.extend(not_available(why));
            lines.push(Line::from(spans));
        }
        None => {}
    }
    lines.push(Line::from(format!("polls     {}", app.polls)));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_clock(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Clock ");
    let Some(reading) = &app.reading else { return waiting(frame, area, block) };
    let clock = match &reading.clock {
        Ok(clock) => clock,
        Err(why) => {
            return frame
                .render_widget(Paragraph::new(Line::from(not_available(why))).block(block), area);
        }
    };
    let drift = drift_seconds(clock, reading.host_unix_seconds);
    let drift_style = if drift.abs() > 2 { Style::new().fg(Color::Yellow) } else { Style::new() };
    let mut lock = vec![Span::raw(format!("lock   {}", format_unix(clock.unix_seconds)))];
    if !clock.is_set {
        lock.push(Span::styled("  not set", Style::new().fg(Color::Yellow)));
    }
    let lines = vec![
        Line::from(lock),
        Line::from(format!("host   {}", format_unix(reading.host_unix_seconds))),
        Line::from(vec![Span::raw("drift  "), Span::styled(describe_drift(drift), drift_style)]),
    ];
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_battery(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Battery ");
    let Some(reading) = &app.reading else { return waiting(frame, area, block) };
    let b = match &reading.battery {
        Ok(b) => *b,
        Err(why) => {
            return frame
                .render_widget(Paragraph::new(Line::from(not_available(why))).block(block), area);
        }
    };
    let (color, state) = match b.state {
        BatteryState::Ok => (Color::Green, battery_words(b.state).to_string()),
        BatteryState::Low => (Color::Yellow, battery_words(b.state).to_string()),
        // Shouted: the one state that needs the technician now.
        BatteryState::Critical => (Color::Red, battery_words(b.state).to_uppercase()),
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

/// How a log line stands out: a raised alarm red, a refusal or failed authentication yellow.
fn log_style(record: &LogRecord) -> Style {
    match record.entry {
        LogEntry::Alarm { raised: true, .. } => Style::new().fg(Color::Red),
        LogEntry::Access { granted: false, .. } | LogEntry::AuthFailed { .. } => {
            Style::new().fg(Color::Yellow)
        }
        _ => Style::new(),
    }
}

fn render_log(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Log (newest last) ");
    let Some(reading) = &app.reading else { return waiting(frame, area, block) };
    let records = match &reading.log {
        Ok(records) => records,
        Err(why) => {
            return frame
                .render_widget(Paragraph::new(Line::from(not_available(why))).block(block), area);
        }
    };
    if records.is_empty() {
        return frame.render_widget(Paragraph::new("no records").block(block), area);
    }
    let room = usize::from(area.height.saturating_sub(2));
    let shown = &records[records.len().saturating_sub(room)..];
    // `latchkey log read`'s lines, their sequence-number column only as wide as these need.
    let width = shown.iter().map(|r| r.seq.to_string().len()).max().unwrap_or(0);
    let lines: Vec<Line<'_>> = shown
        .iter()
        .map(|r| {
            let text = record_text(r);
            let trimmed = text.get(7usize.saturating_sub(width)..).unwrap_or(&text).to_string();
            Line::styled(trimmed, log_style(r))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

#[cfg(test)]
mod tests {
    use latchkey_protocol::{
        AccessPath, AccessPaths, AccessRecord, ActiveAlarm, Alarm, BatteryReport, Capabilities,
        ChangeKind, ClockReading, Diagnostics, LockInfo, ResetReason, Role, Status,
    };
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;

    use super::*;
    use crate::session::Refusal;
    use crate::tui::app::{Action, Reading, update};

    /// The lock's clock in these tests: 2026-11-18T11:06:40Z.
    const NOW: u64 = 1_795_000_000;

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
                card_uid_lengths: latchkey_protocol::ISO14443_UID_LENGTHS,
                signs_log_head: true,
            },
            claim_salt: [0; 16],
        }
    }

    fn record(seq: u32, ago: u64, entry: LogEntry) -> LogRecord {
        LogRecord { seq, at: NOW - ago, entry }
    }

    /// A quiet day: the installer set a PIN, user 3 came in with it.
    fn quiet_log() -> Vec<LogRecord> {
        vec![
            record(37, 3_700, LogEntry::PowerUp { boot_count: 3, reason: ResetReason::PowerOn }),
            record(38, 3_600, LogEntry::Session { role: Role::Installer, opened: true }),
            record(
                39,
                3_590,
                LogEntry::Change { what: ChangeKind::PinSet, role: Role::Installer, user: Some(3) },
            ),
            record(40, 3_580, LogEntry::Session { role: Role::Installer, opened: false }),
            record(
                41,
                600,
                LogEntry::Access {
                    path: AccessPath::Keypad,
                    granted: true,
                    user: Some(3),
                    reason: AccessReason::Granted,
                },
            ),
        ]
    }

    fn reading(millivolts: u16, percent: u8, state: BatteryState) -> Reading {
        Reading {
            clock: Ok(ClockReading { unix_seconds: NOW, is_set: false, uptime_ms: 61_000 }),
            host_unix_seconds: NOW + 90,
            battery: Ok(BatteryReport {
                millivolts,
                percent,
                state,
                loaded_millivolts: millivolts.saturating_sub(400),
                operations_left: 1000,
                replaced_at: None,
            }),
            diagnostics: Ok(Diagnostics {
                uptime_ms: 61_000,
                boot_count: 3,
                frames_received: 42,
                frames_sent: 42,
                dropped_bad_crc: 2,
                dropped_malformed: 1,
                bolt_locked: true,
                motor_runs: 2,
                motor_last_ms: 412,
                motor_last_ma: 820,
                ..Diagnostics::default()
            }),
            alarms: Ok(Vec::new()),
            last_access: Ok(Some(AccessRecord {
                at: NOW - 600,
                path: AccessPath::Keypad,
                granted: true,
                user: Some(3),
                reason: AccessReason::Granted,
            })),
            log: Ok(quiet_log()),
            round_trip_ms: 3,
        }
    }

    /// Someone pried the housing open and tried a wrong PIN, on batteries running low.
    fn trouble() -> Reading {
        let mut reading = reading(4_800, 12, BatteryState::Low);
        reading.clock = Ok(ClockReading { unix_seconds: NOW, is_set: true, uptime_ms: 61_000 });
        reading.alarms = Ok(vec![
            ActiveAlarm { alarm: Alarm::LowBattery, since: NOW - 86_400, seconds_left: 0 },
            ActiveAlarm { alarm: Alarm::Tamper, since: NOW - 95, seconds_left: 0 },
        ]);
        reading.last_access = Ok(Some(AccessRecord {
            at: NOW - 40,
            path: AccessPath::Keypad,
            granted: false,
            user: None,
            reason: AccessReason::UnknownCredential,
        }));
        let mut log = quiet_log();
        log.extend([
            record(42, 95, LogEntry::Alarm { alarm: Alarm::Tamper, raised: true }),
            record(
                43,
                40,
                LogEntry::Access {
                    path: AccessPath::Keypad,
                    granted: false,
                    user: None,
                    reason: AccessReason::UnknownCredential,
                },
            ),
        ]);
        reading.log = Ok(log);
        reading
    }

    fn terminal(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| render(app, frame)).unwrap();
        terminal
    }

    /// The technician's usual terminal.
    fn draw(app: &App) -> String {
        terminal(app, 80, 24).backend().to_string()
    }

    fn online(reading: Reading) -> App {
        let mut app = App::new("/dev/ttyUSB0");
        update(&mut app, Action::Identity(info()));
        update(&mut app, Action::Reading(reading));
        app
    }

    /// Where `text` starts on screen.
    fn find(buffer: &Buffer, text: &str) -> (u16, u16) {
        let area = buffer.area;
        for y in 0..area.height {
            let row: String = (0..area.width).map(|x| buffer[(x, y)].symbol()).collect();
            if let Some(x) = row.find(text) {
                // Columns, not bytes: the borders are multi-byte.
                return (row[..x].chars().count() as u16, y);
            }
        }
        panic!("{text:?} is not on screen");
    }

    #[test]
    fn before_the_lock_answers() {
        insta::assert_snapshot!(draw(&App::new("/dev/ttyUSB0")));
    }

    #[test]
    fn online_with_a_drifting_clock() {
        insta::assert_snapshot!(draw(&online(reading(5_820, 87, BatteryState::Ok))));
    }

    #[test]
    fn link_down_keeps_the_last_reading_and_says_why() {
        let mut app = online(reading(4_410, 4, BatteryState::Critical));
        update(&mut app, Action::LinkDown("no answer within 3s".into()));
        let screen = draw(&app);
        assert!(screen.contains("no answer"));
        assert!(screen.contains("CRITICAL"));
        insta::assert_snapshot!(screen);
    }

    #[test]
    fn alarms_raised_and_a_refused_access() {
        let app = online(trouble());
        let terminal = terminal(&app, 80, 24);
        let screen = terminal.backend().to_string();
        assert!(screen.contains("Alarms (2)"));
        assert!(screen.contains("refused: unknown credential"));
        // The alarms stand out, and so does the refusal.
        let buffer = terminal.backend().buffer();
        let (x, y) = find(buffer, "tamper");
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        let (x, y) = find(buffer, "Alarms (2)");
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        let (x, y) = find(buffer, "refused: unknown");
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        insta::assert_snapshot!(screen);
    }

    #[test]
    fn a_panel_the_lock_refuses_says_not_available() {
        // An older lock that lets a technician read the counters but not the log or the last
        // access: those panels say why, the rest of the dashboard goes on.
        let mut reading = reading(5_820, 87, BatteryState::Ok);
        let refused = Unavailable::Refused(Refusal::Lock(latchkey_protocol::Refusal::new(
            Status::NotAuthorized,
        )));
        reading.log = Err(refused.clone());
        reading.last_access = Err(refused);
        let screen = draw(&online(reading));
        assert!(!screen.contains("no answer") && screen.contains("online"));
        insta::assert_snapshot!(screen);
    }

    #[test]
    fn a_taller_terminal_shows_everything_and_more_log() {
        let app = online(trouble());
        let screen = terminal(&app, 100, 32).backend().to_string();
        // All seven records, the full Lock, Clock and Link panels.
        assert!(screen.contains("power up #3"));
        assert!(screen.contains("capacity  100 users"));
        assert!(screen.contains("polls     1"));
        insta::assert_snapshot!(screen);
    }

    #[test]
    fn bands_fit_80x24_and_grow_with_the_terminal() {
        // 24 rows less title and footer: brief bands and five log records.
        assert_eq!(bands(22, 0), [6, 5, 4, 7]);
        // Room first for Link/Battery, then Lock/Clock, then the log.
        assert_eq!(bands(25, 0), [6, 5, 7, 7]);
        assert_eq!(bands(26, 0), [6, 6, 7, 7]);
        assert_eq!(bands(40, 0), [6, 6, 7, 21]);
        // Many alarms take room from the log only beyond the other bands' full height.
        assert_eq!(bands(22, 6), [6, 5, 4, 7]);
        assert_eq!(bands(40, 6), [8, 6, 7, 19]);
        assert_eq!(bands(40, 20), [10, 6, 7, 17]);
        // Too small: the log keeps a line; the layout squeezes the rest.
        assert_eq!(bands(10, 0)[3], 3);
    }

    #[test]
    fn too_many_alarms_for_the_room_are_counted() {
        let mut reading = trouble();
        reading.alarms = Ok([
            Alarm::Tamper,
            Alarm::ForcedOpen,
            Alarm::DoorAjar,
            Alarm::Jammed,
            Alarm::WrongCodeLimit,
            Alarm::Duress,
        ]
        .into_iter()
        .map(|alarm| ActiveAlarm { alarm, since: NOW - 10, seconds_left: 0 })
        .collect());
        let screen = draw(&online(reading));
        assert!(screen.contains("Alarms (6)"));
        assert!(screen.contains("and 3 more"), "{screen}");
        assert!(!screen.contains("jammed"));
    }

    #[test]
    fn quit_key_sets_quit() {
        let mut app = App::new("x");
        update(&mut app, Action::Quit);
        assert!(app.quit);
    }
}
