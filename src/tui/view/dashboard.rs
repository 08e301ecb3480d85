//! The dashboard drawn from state alone, so it can be tested with `TestBackend`.
//!
//! Bands from the top: what is wrong (Alarms, Door), the lock (Lock, Clock), its link and
//! battery (Link, Battery), then the newest log records (Log), which get whatever height is
//! left. At 80x24 the middle bands are brief and the log shows five records; a taller
//! terminal gives the middle bands their full height first, then more log.

use latchkey_protocol::{AccessReason, BatteryState};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph};

use super::{panel, waiting};
use crate::display::{
    alarm_words, battery_words, bolt_words, describe_access_reason, describe_drift, door_words,
    drift_seconds, format_unix, path_words, refusal_words, volts,
};
use crate::time::lock_time;
use crate::tui::app::{App, Fresh, LinkState, Reading, Unavailable, user_name};

/// Rows of the log band at least, borders included, while the other bands are brief: five
/// records.
const LOG_ROWS: u16 = 7;
/// Rows of the Alarms/Door, Lock/Clock and Link/Battery bands: brief, and in full.
const BRIEF: [u16; 3] = [6, 5, 4];
const FULL: [u16; 3] = [6, 6, 7];
/// The Alarms band grows to show this many alarms before it says "and N more".
const ALARMS_SHOWN_MAX: u16 = 8;

/// Draws the dashboard into `body`.
pub fn render(app: &App, frame: &mut Frame, body: Rect) {
    let alarms = app.alarms().len();
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
    render_alarms(app, frame, alarms_area);
    render_door(app, frame, door);
    render_identity(app, frame, identity);
    render_clock(app, frame, clock);
    render_link(app, frame, link);
    render_battery(app, frame, battery);
    render_log(app, frame, log);
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

/// The last reading and its panel frame titled `title`.
fn reading<'a>(app: &'a App, title: &str) -> (Option<&'a Reading>, Block<'static>) {
    let at = app.reading.as_ref().map(|r| r.at_ms);
    (app.reading.as_ref().map(|r: &Fresh<Reading>| &r.value), panel(app, title, at))
}

fn render_alarms(app: &App, frame: &mut Frame, area: Rect) {
    let (reading, block) = reading(app, "Alarms");
    let Some(reading) = reading else { return waiting(frame, area, block) };
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
    let block =
        panel(app, &format!("Alarms ({})", alarms.len()), app.reading.as_ref().map(|r| r.at_ms))
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
            // The keypad lockout says first how long it still lasts.
            let since = match a.seconds_left {
                0 => since,
                left => format!("{left} s left, {since}"),
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
    let (reading, block) = reading(app, "Door");
    let Some(reading) = reading else { return waiting(frame, area, block) };
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
            let user = a
                .user
                .map(|u| match user_name(app.user_list(), u) {
                    Some(name) => format!(", {} ({u})", super::elide_middle(name, 12)),
                    None => format!(", user {u}"),
                })
                .unwrap_or_default();
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
    let block = panel(app, "Lock", app.identity.as_ref().map(|i| i.at_ms));
    let Some(info) = app.identity.as_ref().map(|i| &i.value) else {
        return waiting(frame, area, block);
    };
    let label = match app.settings.as_ref().map(|s| s.value.door_label.as_str()) {
        Some("") => "(none: latchkey config set label …)".to_string(),
        Some(label) => label.to_string(),
        None => "not available".to_string(),
    };
    let model = if info.simulation {
        format!("{} (simulation)", info.model)
    } else {
        info.model.to_string()
    };
    let lines = vec![
        Line::from(format!("label     {label}")),
        Line::from(format!("serial    {}", info.serial)),
        Line::from(format!("model     {model}")),
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
    let block = panel(app, "Link", app.reading.as_ref().map(|r| r.at_ms));
    let state = match &app.link {
        LinkState::Connecting => Line::from("connecting…"),
        LinkState::Online { round_trip_ms } => Line::from(vec![
            Span::styled("online", Style::new().fg(Color::Green)),
            Span::raw(format!(", round trip {round_trip_ms} ms")),
        ]),
        // The header shows the port: the cause goes without it, so it fits a brief band.
        LinkState::Reconnecting { why, .. } => {
            let why = why.replace(&format!(" on {}", app.port), "");
            return frame.render_widget(
                Paragraph::new(vec![
                    Line::styled(
                        "no answer: reconnecting…",
                        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                    ),
                    Line::from(why),
                    Line::from(format!("polls     {}", app.polls)),
                ])
                .wrap(ratatui::widgets::Wrap { trim: true })
                .block(block),
                area,
            );
        }
    };
    // Most telling first: a brief band shows the first two.
    let mut lines = vec![state];
    match app.reading.as_ref().map(|r| &r.value.diagnostics) {
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
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: true }).block(block),
        area,
    );
}

fn render_clock(app: &App, frame: &mut Frame, area: Rect) {
    let (reading, block) = reading(app, "Clock");
    let Some(reading) = reading else { return waiting(frame, area, block) };
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
    let (reading, block) = reading(app, "Battery");
    let Some(reading) = reading else { return waiting(frame, area, block) };
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

fn render_log(app: &App, frame: &mut Frame, area: Rect) {
    let block = panel(app, "Log (newest last)", app.log_at_ms);
    if app.log.is_empty() {
        let text = if app.log_complete { "no records" } else { "reading the log…" };
        return frame.render_widget(Paragraph::new(text).block(block), area);
    }
    let room = usize::from(area.height.saturating_sub(2));
    let shown = &app.log[app.log.len().saturating_sub(room)..];
    let zone = app.settings.as_ref().map(|s| &s.value.time_zone);
    let width = shown.iter().map(|r| r.seq.to_string().len()).max().unwrap_or(0);
    let lines: Vec<Line<'_>> = shown
        .iter()
        .map(|r| {
            Line::styled(
                super::log::record_line(r, width, zone, app.user_list()),
                super::log::log_style(r),
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
