//! The Users view: the list on the left, the selected user's record and credentials on the
//! right, and a card learning or finger enrollment's progress while it runs.

use latchkey_protocol::{Credential, EnrollKind, Enrollment, User};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::{log::record_time, panel, waiting};
use crate::display::{hex, user_kind_words};
use crate::tui::app::App;

/// Draws the Users view into `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let [list, detail] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let at = app.users.as_ref().map(|u| u.at_ms);
    let Some(users) = app.users.as_ref().map(|u| &u.value) else {
        waiting(frame, list, panel(app, "Users", at));
        return waiting(frame, detail, panel(app, "User", None));
    };
    let block = panel(app, &format!("Users ({})", users.len()), at);
    if users.is_empty() {
        frame.render_widget(Paragraph::new("no users yet: a adds one").block(block), list);
    } else {
        let room = usize::from(list.height.saturating_sub(2)).max(1);
        let top = (app.user_row + 1).saturating_sub(room);
        let name_width = usize::from(list.width).saturating_sub(2 + 5 + 4 + 4).clamp(4, 24);
        let lines: Vec<Line<'_>> = users
            .iter()
            .enumerate()
            .skip(top)
            .take(room)
            .map(|(n, u)| {
                let name: String = u.name.as_str().chars().take(name_width).collect();
                let text = format!(
                    "{:>4} {:<name_width$} {} {}",
                    u.id,
                    name,
                    if u.enabled { "on " } else { "OFF" },
                    u.credentials
                );
                let mut style =
                    if u.enabled { Style::new() } else { Style::new().fg(Color::DarkGray) };
                if n == app.user_row {
                    style = style.add_modifier(Modifier::REVERSED);
                }
                Line::styled(text, style)
            })
            .collect();
        frame.render_widget(Paragraph::new(lines).block(block), list);
    }
    render_detail(app, frame, detail);
}

fn render_detail(app: &App, frame: &mut Frame, area: Rect) {
    let Some(selected) = app.selected_user() else {
        return frame.render_widget(Paragraph::new("").block(panel(app, "User", None)), area);
    };
    let record = app.user.as_ref().filter(|u| u.value.id == selected.id);
    let block = panel(app, &format!("User {}", selected.id), record.map(|u| u.at_ms));
    let mut lines = match record {
        Some(user) => user_lines(app, &user.value),
        None => vec![
            Line::from(format!("name      {}", selected.name)),
            Line::from(format!("type      {}", user_kind_words(selected.kind))),
            Line::from(format!("enabled   {}", if selected.enabled { "yes" } else { "NO" })),
            Line::from(format!("creds     {}", selected.credentials)),
            Line::from(""),
            Line::from("Enter: the full record"),
        ],
    };
    if let Some(enrollment) = &app.enrollment {
        lines.push(Line::from(""));
        lines.push(enrollment_line(enrollment));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

fn user_lines(app: &App, user: &User) -> Vec<Line<'static>> {
    let zone = app.settings.as_ref().map(|s| &s.value.time_zone);
    let spec = &user.spec;
    let mut lines = vec![
        Line::from(format!("name      {}", spec.name)),
        Line::from(format!("type      {}", user_kind_words(spec.kind))),
        Line::from(format!("enabled   {}", if spec.enabled { "yes" } else { "NO" })),
    ];
    if let Some(from) = spec.valid_from {
        lines.push(Line::from(format!("from      {}", record_time(from, zone))));
    }
    if let Some(until) = spec.valid_until {
        lines.push(Line::from(format!("until     {}", record_time(until, zone))));
    }
    if let Some(limit) = spec.use_limit {
        let left = user.uses_left.unwrap_or(limit);
        lines.push(Line::from(format!("uses      {left} of {limit} left")));
    }
    if !spec.weekly.is_empty() {
        lines.push(Line::from(format!("schedule  {} weekly window(s)", spec.weekly.len())));
    }
    if user.credentials.is_empty() {
        lines.push(Line::from("creds     none: p sets a PIN"));
    }
    for (n, credential) in user.credentials.iter().enumerate() {
        let what = match credential {
            Credential::Pin => "PIN".to_string(),
            Credential::Card { uid } => format!("card {}", hex(uid)),
            Credential::Fingerprint { slot } => format!("finger, slot {slot}"),
            Credential::Phone { public_key } => format!("phone {}…", hex(&public_key[..4])),
            Credential::CardFingerprint { fingerprint } => format!("card #{}", hex(fingerprint)),
            Credential::PhoneFingerprint { fingerprint } => format!("phone #{}", hex(fingerprint)),
        };
        let head = if n == 0 { "creds     " } else { "          " };
        lines.push(Line::from(format!("{head}{what}")));
    }
    lines
}

fn enrollment_line(enrollment: &Enrollment) -> Line<'static> {
    let kind = |k: &EnrollKind| if *k == EnrollKind::Card { "card" } else { "finger" };
    match enrollment {
        Enrollment::Idle => Line::from("no enrollment running"),
        Enrollment::InProgress {
            kind: k,
            captures,
            needed,
            last_quality,
            last_good,
            seconds_left,
            ..
        } => {
            let last = match (last_quality, last_good) {
                (Some(q), true) => format!(", last good (quality {q})"),
                (Some(q), false) => format!(", last too poor (quality {q}): again"),
                (None, _) => String::new(),
            };
            Line::styled(
                format!(
                    "{}: {captures} of {needed}{last}; {seconds_left} s left, Esc cancels",
                    kind(k)
                ),
                Style::new().fg(Color::Cyan),
            )
        }
        Enrollment::Done { credential, .. } => {
            Line::styled(format!("enrolled: {credential:?}"), Style::new().fg(Color::Green))
        }
        Enrollment::Failed { kind: k, reason, .. } => Line::styled(
            format!("{} failed: {reason:?}; nothing was added", kind(k)),
            Style::new().fg(Color::Yellow),
        ),
    }
}
