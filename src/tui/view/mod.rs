//! Every view drawn from state alone, so each can be tested with `TestBackend`.
//!
//! Rows from the top: the header (which lock, the link), the tab bar with the last action's
//! outcome, the view, and the keys it takes. A dialog (help, a question, a line to type)
//! draws over the view. Colour is only ever a second signal: every state is also in words,
//! and crossterm leaves colour out when `NO_COLOR` is set.

mod alarms;
mod commission;
mod dashboard;
mod link;
mod log;
#[cfg(test)]
mod tests;
mod users;

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::app::{App, LinkState, Modal, View};

/// Draws `app` into the whole frame.
pub fn render(app: &App, frame: &mut Frame) {
    let [header, tabs, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    render_header(app, frame, header);
    render_tabs(app, frame, tabs);
    match app.view {
        View::Dashboard => dashboard::render(app, frame, body),
        View::Users => users::render(app, frame, body),
        View::Log => log::render(app, frame, body),
        View::Alarms => alarms::render(app, frame, body),
        View::Commission => commission::render(app, frame, body),
        View::Link => link::render(app, frame, body),
    }
    render_footer(app, frame, footer);
    match &app.modal {
        Some(Modal::Help) => render_help(app, frame),
        Some(Modal::Confirm { question, .. }) => {
            let mut lines: Vec<Line<'_>> = question.lines().map(Line::from).collect();
            lines.push(Line::from(""));
            lines.push(Line::from(vec![
                key("y"),
                Span::raw(" yes   "),
                key("n"),
                Span::raw(" no"),
            ]));
            dialog(frame, " Confirm ", lines);
        }
        Some(Modal::Input { purpose, text }) => {
            let shown =
                if purpose.hidden() { "•".repeat(text.chars().count()) } else { text.clone() };
            let lines = vec![
                Line::from(purpose.prompt()),
                Line::from(""),
                Line::from(vec![
                    Span::raw("> "),
                    Span::raw(shown),
                    Span::styled("_", Style::new().add_modifier(Modifier::SLOW_BLINK)),
                ]),
                Line::from(""),
                Line::from(vec![
                    key("Enter"),
                    Span::raw(" done   "),
                    key("Esc"),
                    Span::raw(" cancel"),
                ]),
            ];
            dialog(frame, " Input ", lines);
        }
        None => {}
    }
}

/// A key as the footer and help show it.
fn key(name: &str) -> Span<'static> {
    Span::styled(name.to_string(), Style::new().add_modifier(Modifier::BOLD))
}

/// `text` cut to `width` columns by taking out its middle: a long port path keeps its start
/// and its end (`/dev/serial/by-id/usb-…-if00-port0`).
pub fn elide_middle(text: &str, width: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= width {
        return text.to_string();
    }
    if width < 3 {
        return chars[..width].iter().collect();
    }
    let keep = width - 1;
    let head = keep / 2;
    let tail = keep - head;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// How old something is, briefly: "now", "12 s", "3 min", "2 h".
pub fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 => "now".into(),
        1..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3600),
    }
}

/// A panel's frame: its title, and the age of what it shows (marked stale while the link
/// is down, so nothing old passes for live).
pub fn panel(app: &App, title: &str, at_ms: Option<u64>) -> Block<'static> {
    let mut spans = vec![Span::raw(format!(" {title} "))];
    match at_ms {
        Some(at) if app.stale() => spans.push(Span::styled(
            format!("STALE {} old ", age(app.now_ms.saturating_sub(at))),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        )),
        Some(at) => spans.push(Span::styled(
            format!("{} ", age(app.now_ms.saturating_sub(at))),
            Style::new().fg(Color::DarkGray),
        )),
        None => {}
    }
    let block = Block::bordered().title(Line::from(spans));
    if app.stale() && at_ms.is_some() {
        block.border_style(Style::new().fg(Color::DarkGray))
    } else {
        block
    }
}

/// "waiting for the lock…" in a panel.
pub fn waiting(frame: &mut Frame, area: Rect, block: Block<'_>) {
    frame.render_widget(Paragraph::new("waiting for the lock…").block(block), area);
}

fn render_header(app: &App, frame: &mut Frame, area: Rect) {
    let (state, style) = match &app.link {
        LinkState::Connecting => ("connecting…".to_string(), Style::new().fg(Color::Yellow)),
        LinkState::Online { round_trip_ms } => {
            (format!("online {round_trip_ms} ms"), Style::new().fg(Color::Green))
        }
        LinkState::Reconnecting { since_ms, attempts, .. } => (
            format!(
                "RECONNECTING… lost {} ago, try {attempts}",
                age(app.now_ms.saturating_sub(*since_ms))
            ),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
    };
    let label = app
        .settings
        .as_ref()
        .map(|s| s.value.door_label.as_str().to_string())
        .filter(|l| !l.is_empty());
    let serial = app.identity.as_ref().map_or("…".to_string(), |i| i.value.serial.to_string());
    let lock = match label {
        Some(label) => format!("{label} · {serial}"),
        None => serial,
    };
    let width = usize::from(area.width);
    // The port gives way first: its middle is elided to what is left.
    let fixed = " latchkey ".len() + 1 + lock.chars().count() + 4 + 1 + state.chars().count() + 1;
    let port = elide_middle(&app.port, width.saturating_sub(fixed).max(8));
    let left = format!(" {lock} on {port}");
    let pad = width
        .saturating_sub(" latchkey ".len() + left.chars().count() + state.chars().count() + 1)
        .max(1);
    frame.render_widget(
        Line::from(vec![
            Span::styled(
                " latchkey ",
                Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            ),
            Span::raw(left),
            Span::raw(" ".repeat(pad)),
            Span::styled(state, style),
            Span::raw(" "),
        ]),
        area,
    );
}

fn render_tabs(app: &App, frame: &mut Frame, area: Rect) {
    let status = match (&app.busy, &app.outcome) {
        (Some(busy), _) => Some((busy.as_str(), Style::new().fg(Color::Cyan))),
        (None, Some(outcome)) => {
            let color = if outcome.value.ok { Color::Green } else { Color::Yellow };
            Some((outcome.value.text.as_str(), Style::new().fg(color)))
        }
        (None, None) => None,
    };
    let tabs = |compact: bool| -> Vec<Span<'static>> {
        View::ALL
            .iter()
            .enumerate()
            .map(|(n, view)| {
                if *view == app.view {
                    Span::styled(
                        format!(" {} {} ", n + 1, view.title()),
                        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
                    )
                } else if compact {
                    Span::raw(format!(" {} ", n + 1))
                } else {
                    Span::raw(format!(" {} {} ", n + 1, view.title()))
                }
            })
            .collect()
    };
    let width = usize::from(area.width);
    let used = |spans: &[Span<'_>]| spans.iter().map(|s| s.content.chars().count()).sum::<usize>();
    let mut spans = tabs(false);
    if let Some((text, style)) = status {
        // An outcome may hold what must be read in full (a generated PIN): the other tabs
        // give way to it, then its end.
        if used(&spans) + 2 + text.chars().count() > width {
            spans = tabs(true);
        }
        let room = width.saturating_sub(used(&spans) + 2);
        let shown = if text.chars().count() > room {
            let mut cut: String = text.chars().take(room.saturating_sub(1)).collect();
            cut.push('…');
            cut
        } else {
            text.to_string()
        };
        spans.push(Span::raw("  "));
        spans.push(Span::styled(shown, style));
    }
    frame.render_widget(Line::from(spans), area);
}

/// A key and what it does.
type Keys = (&'static str, &'static str);

/// The keys the view takes, as pairs; the write actions dimmed, with the reason, when they
/// cannot be used.
fn view_keys(app: &App) -> (Vec<Keys>, Vec<Keys>) {
    match app.view {
        View::Dashboard => (vec![], vec![]),
        View::Users => (
            vec![],
            vec![
                ("a", "add"),
                ("e", "name"),
                ("Spc", "on/off"),
                ("d", "del"),
                ("p", "PIN"),
                ("P", "gen"),
                ("c", "card"),
                ("f", "finger"),
            ],
        ),
        View::Log => {
            (vec![("/", "filter"), ("f", "follow"), ("v", "verify"), ("x", "export")], vec![])
        }
        View::Alarms => (vec![], vec![("c", "clear"), ("l", "end lockout")]),
        // Commissioning only reads the lock: nothing is dimmed for a technician.
        View::Commission => match &app.commission.run {
            Some(run) if run.asking.is_some() => (
                vec![("r", "retry"), ("s", "skip"), ("l", "leave failed"), ("Esc", "stop")],
                vec![],
            ),
            Some(run) if run.active() => (vec![("Esc", "stop the run")], vec![]),
            _ => (
                vec![
                    ("Enter", "start"),
                    ("Spc", "in/out"),
                    ("s", "skip"),
                    ("o", "report to"),
                    ("r", "re-plan"),
                ],
                vec![],
            ),
        },
        View::Link => (vec![], vec![]),
    }
}

fn render_footer(app: &App, frame: &mut Frame, area: Rect) {
    let (reads, writes) = view_keys(app);
    let blocked = app.writes_blocked();
    let mut items: Vec<(&str, &str, bool)> =
        reads.into_iter().map(|(k, w)| (k, w, false)).collect();
    items.extend(writes.iter().map(|(k, w)| (*k, *w, blocked.is_some())));
    items.push(("?", "help", false));
    items.push(("q", "quit", false));
    // Two spaces between keys when they fit, one when not: every key stays on screen.
    let wide: usize = items.iter().map(|(k, w, _)| k.chars().count() + w.chars().count() + 3).sum();
    let sep = if wide < usize::from(area.width) { "  " } else { " " };
    let mut spans = vec![Span::raw(" ")];
    for (k, what, dim) in items {
        if dim {
            spans.push(Span::styled(
                format!("{k} {what}"),
                Style::new().fg(Color::DarkGray).add_modifier(Modifier::CROSSED_OUT),
            ));
        } else {
            spans.push(key(k));
            spans.push(Span::raw(format!(" {what}")));
        }
        spans.push(Span::raw(sep));
    }
    if let (Some(why), false) = (app.writes_blocked_brief(), writes.is_empty()) {
        spans.push(Span::styled(format!("({why})"), Style::new().fg(Color::DarkGray)));
    }
    frame.render_widget(Line::from(spans), area);
}

fn render_help(app: &App, frame: &mut Frame) {
    let row = |k: &str, what: &str| {
        Line::from(vec![
            Span::styled(format!("{k:<14}"), Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(what.to_string()),
        ])
    };
    let mut lines = vec![
        row("Tab Shift-Tab", "next / previous view (1-6 jump to one)"),
        row("↑ ↓  j k", "move; PgUp PgDn, g G first and last"),
        row("Enter", "open (a user's details)"),
        row("Esc", "close, cancel, clear the filter or an enrollment"),
        row("/", "filter the log: kind:access user:Ann path:keypad words"),
        row("?", "this help"),
        row("q  Ctrl-C", "quit"),
        Line::from(""),
        row("Users", "a add, e rename, Space enable/disable, d remove,"),
        row("", "p set PIN, P generate PIN, c learn card, f enroll finger"),
        row("Log", "f follow live, v verify the chain, x export (.csv or JSON Lines)"),
        row("Alarms", "c clear all, l end the keypad lockout"),
        row("Commission", "Enter start, Space in/out, s skip, o report file, r re-plan;"),
        row("", "in a run Esc stops; a failed check: r retry, s skip, l leave"),
        Line::from(""),
        Line::from(format!(
            "Live: the lock's events update the views; it is read every {} s as well.",
            super::POLL.as_secs()
        )),
        Line::from("Each panel says how old its data is; STALE while the link is down."),
    ];
    if let Some(why) = app.writes_blocked() {
        lines.push(Line::from(Span::styled(
            format!("Changes: {why}"),
            Style::new().fg(Color::Yellow),
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::from("any key closes this help"));
    dialog(frame, " Help ", lines);
}

/// A box in the middle of the screen, as tall as its lines once wrapped (within the screen).
fn dialog(frame: &mut Frame, title: &str, lines: Vec<Line<'_>>) {
    let area = frame.area();
    let width = lines.iter().map(Line::width).max().unwrap_or(20).max(title.len()) as u16 + 4;
    let width = width.min(area.width);
    let inner = usize::from(width.saturating_sub(2)).max(1);
    // A line wider than the box wraps at a word: one more row than its width alone needs,
    // so the keys on the last line are never cut off.
    let rows: usize = lines
        .iter()
        .map(|l| if l.width() <= inner { 1 } else { l.width().div_ceil(inner) + 1 })
        .sum();
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX).min(area.height);
    let [area] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(area);
    let [area] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(title.to_string())),
        area,
    );
}
