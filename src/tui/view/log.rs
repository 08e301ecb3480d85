//! The Log view: every record read, filtered, scrolled or following the newest; names
//! beside user numbers; times in the lock's own zone. Only the rows on screen are formatted,
//! so a long log costs no more to draw than a short one.

use latchkey_protocol::{LogEntry, LogRecord, TimeZoneRule, UserSummary};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::panel;
use crate::display::{entry_text, format_unix, grouped};
use crate::ops::records::record_user;
use crate::time::lock_time;
use crate::tui::app::{App, user_name};

/// A record's time in the lock's zone ("2026-11-18 12:06:40"), in UTC ("…Z") while the zone
/// is not known, or "(clock not set)" padded to the same width.
pub fn record_time(at: u64, zone: Option<&TimeZoneRule>) -> String {
    match (lock_time(at), zone) {
        (None, _) => format!("{:<19}", "(clock not set)"),
        (Some(at), Some(zone)) => {
            format_unix(zone.local_seconds(at)).trim_end_matches('Z').replacen('T', " ", 1)
        }
        (Some(at), None) => format_unix(at),
    }
}

/// A record as a line: its number (right-aligned to `width`), its time, what happened, and
/// the user's name beside their number.
pub fn record_line(
    r: &LogRecord,
    width: usize,
    zone: Option<&TimeZoneRule>,
    users: &[UserSummary],
) -> String {
    let mut text = entry_text(&r.entry);
    if let Some((id, name)) = record_user(&r.entry).and_then(|u| Some((u, user_name(users, u)?))) {
        let needle = format!("user {id}");
        // The number as a whole word: "user 3" must not match inside "user 30".
        let at = text
            .match_indices(&needle)
            .map(|(i, _)| i + needle.len())
            .find(|&end| !text[end..].starts_with(|c: char| c.is_ascii_digit()));
        if let Some(end) = at {
            text.insert_str(end, &format!(" ({name})"));
        }
    }
    format!("{:>width$}  {}  {text}", r.seq, record_time(r.at, zone))
}

/// How a log line stands out: a raised alarm red, a refusal or failed authentication yellow.
pub fn log_style(record: &LogRecord) -> Style {
    match record.entry {
        LogEntry::Alarm { raised: true, .. } => Style::new().fg(Color::Red),
        LogEntry::Access { granted: false, .. } | LogEntry::AuthFailed { .. } => {
            Style::new().fg(Color::Yellow)
        }
        _ => Style::new(),
    }
}

/// Draws the Log view into `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let mut title = format!(
        "Log: {} of {} records",
        grouped(u32::try_from(app.log_shown.len()).unwrap_or(u32::MAX)),
        grouped(u32::try_from(app.log.len()).unwrap_or(u32::MAX))
    );
    if !app.log_filter_text.is_empty() {
        title.push_str(&format!(" · filter {}", app.log_filter_text));
    }
    if !app.log_complete {
        title.push_str(" · reading…");
    }
    title.push_str(if app.log_follow { " · following" } else { " · paused (f follows)" });
    let block = panel(app, &title, app.log_at_ms);
    if app.log_shown.is_empty() {
        let text = match (app.log.is_empty(), app.log_complete) {
            (true, false) => "reading the log…",
            (true, true) => "no records",
            (false, _) => "no record matches the filter (Esc clears it)",
        };
        return frame.render_widget(Paragraph::new(text).block(block), area);
    }
    let room = usize::from(area.height.saturating_sub(2)).max(1);
    // The window that holds the selected row, at its bottom when it is further down.
    let top = (app.log_row + 1).saturating_sub(room);
    let rows = &app.log_shown[top..(top + room).min(app.log_shown.len())];
    let width = rows.iter().map(|&i| app.log[i].seq.to_string().len()).max().unwrap_or(0);
    let zone = app.settings.as_ref().map(|s| &s.value.time_zone);
    let users = app.user_list();
    let lines: Vec<Line<'_>> = rows
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let r = &app.log[i];
            let mut style = log_style(r);
            if top + n == app.log_row && !app.log_follow {
                style = style.add_modifier(Modifier::REVERSED);
            }
            Line::styled(record_line(r, width, zone, users), style)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).style(Style::new()).block(block), area);
}
