//! The Link view, a frame inspector: every frame in and out with its time, direction, kind,
//! sequence number, size and decoded message (sealed frames after opening), and the drop and
//! resend counters of both ends.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::panel;
use crate::display::format_unix;
use crate::tui::app::App;

/// A moment as the inspector shows it: this computer's time of day in UTC, to the ms.
fn time_of_day(at_ms: u64) -> String {
    let stamp = format_unix(at_ms / 1000);
    let time = stamp.split_once('T').map_or(stamp.as_str(), |(_, t)| t).trim_end_matches('Z');
    format!("{time}.{:03}", at_ms % 1000)
}

/// Draws the Link view into `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let [counters, frames] =
        Layout::vertical([Constraint::Length(4), Constraint::Min(3)]).areas(area);
    let s = app.stats;
    let mut lines = vec![Line::from(format!(
        "latchkey  sent {} (resent {}), in {}, dropped {} damaged, {} stale, {} unsealed",
        s.sent, s.resent, s.received, s.dropped, s.stale, s.unsealed
    ))];
    match app.reading.as_ref().map(|r| &r.value.diagnostics) {
        Some(Ok(d)) => lines.push(Line::from(format!(
            "lock      in {}, out {}, dropped {} crc, {} malformed, {} long",
            d.frames_received,
            d.frames_sent,
            d.dropped_bad_crc,
            d.dropped_malformed,
            d.dropped_too_long
        ))),
        _ => lines.push(Line::from("lock      counters not available")),
    }
    let at = app.reading.as_ref().map(|r| r.at_ms);
    frame.render_widget(Paragraph::new(lines).block(panel(app, "Counters", at)), counters);

    let title = match app.frame_row {
        None => format!("Frames: {} · following", app.frames.len()),
        Some(row) => format!("Frames: {} of {} · paused (G follows)", row + 1, app.frames.len()),
    };
    let block = panel(app, &title, None);
    if app.frames.is_empty() {
        return frame.render_widget(Paragraph::new("no frames yet").block(block), frames);
    }
    let room = usize::from(frames.height.saturating_sub(3)).max(1);
    let selected = app.frame_row.unwrap_or(app.frames.len() - 1);
    let top = (selected + 1).saturating_sub(room);
    let width = usize::from(frames.width.saturating_sub(2));
    let head =
        format!("{:<12} {:<3} {:<14} {:>5} {:>4}  message", "time", "dir", "kind", "seq", "size");
    let mut lines = vec![Line::styled(head, Style::new().add_modifier(Modifier::BOLD))];
    for (n, f) in app.frames.iter().enumerate().skip(top).take(room) {
        let text = format!(
            "{:<12} {:<3} {:<14} {:>5} {:>4}  {}",
            time_of_day(f.at_ms),
            if f.outgoing { "out" } else { "in" },
            f.kind,
            f.seq,
            f.len,
            f.message
        );
        let mut style = if f.outgoing { Style::new() } else { Style::new().fg(Color::Cyan) };
        if f.message.starts_with("dropped") || f.message.starts_with("stale") {
            style = Style::new().fg(Color::Yellow);
        }
        if Some(n) == app.frame_row {
            style = style.add_modifier(Modifier::REVERSED);
        }
        // The message's start says what it is: cut its end.
        let text = if text.chars().count() > width {
            let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
            cut.push('…');
            cut
        } else {
            text
        };
        lines.push(Line::styled(text, style));
    }
    frame.render_widget(Paragraph::new(lines).block(block), frames);
}
