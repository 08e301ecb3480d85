//! The Alarms view: each raised alarm since when, and the keypad lockout with its time left.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{log::record_time, panel, waiting};
use crate::display::alarm_words;
use crate::ops::alarms::lockout_left;
use crate::tui::app::App;

/// Draws the Alarms view into `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let at = app.reading.as_ref().map(|r| r.at_ms);
    let [list, keypad] = Layout::vertical([Constraint::Min(3), Constraint::Length(4)]).areas(area);
    let block = panel(app, "Alarms", at);
    let Some(reading) = app.reading.as_ref().map(|r| &r.value) else {
        waiting(frame, list, block);
        return waiting(frame, keypad, panel(app, "Keypad", at));
    };
    let alarms = match &reading.alarms {
        Ok(alarms) => alarms,
        Err(_) => {
            frame.render_widget(Paragraph::new("not available").block(block), list);
            return;
        }
    };
    let zone = app.settings.as_ref().map(|s| &s.value.time_zone);
    let red = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
    let lines: Vec<Line<'_>> = if alarms.is_empty() {
        vec![Line::from("none raised")]
    } else {
        alarms
            .iter()
            .enumerate()
            .map(|(n, a)| {
                let mut text =
                    format!("{:<18} since {}", alarm_words(a.alarm), record_time(a.since, zone));
                if a.seconds_left > 0 {
                    text.push_str(&format!(", ends by itself in {} s", a.seconds_left));
                }
                let style =
                    if n == app.alarm_row { red.add_modifier(Modifier::REVERSED) } else { red };
                Line::styled(text, style)
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), list);
    let state = match lockout_left(alarms) {
        Some(left) => Line::from(vec![
            Span::styled("LOCKED OUT", red),
            Span::raw(format!(" after too many wrong codes: {left} s left; l ends it now")),
        ]),
        None => Line::from("takes codes (not locked out)"),
    };
    frame.render_widget(Paragraph::new(vec![state]).block(panel(app, "Keypad", at)), keypad);
}
