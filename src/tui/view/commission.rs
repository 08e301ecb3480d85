//! The Commission view: the plan before a run (each check, what the person does for it, and
//! whether it runs, is skipped or cannot pass yet), then the run live: the check waited for
//! with its time left, each result ticked as the lock decides (with the user and the log
//! record behind it), the failed check's question, and where the report went.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{dialog, elide_middle, key, panel, waiting};
use crate::ops::commission::{Check, CheckResult, Outcome, Planned};
use crate::tui::app::{App, Commissioning, Run, RunState, asking};

/// Columns of the mark ("planned", "NOT READY", "ok", ...) and of the check's name.
const MARK: usize = 10;
const NAME: usize = 17;

/// Draws the Commission view into `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let [list, detail] = Layout::vertical([Constraint::Min(3), Constraint::Length(5)]).areas(area);
    let c = &app.commission;
    let at = c.plan.as_ref().map(|p| p.at_ms);
    let rows = c.rows();
    if rows.is_empty() {
        let block = panel(app, "Commission", at);
        if c.plan.is_some() {
            frame.render_widget(Paragraph::new("nothing to check on this lock").block(block), list);
        } else {
            waiting(frame, list, block);
        }
    } else {
        render_list(app, frame, list, rows);
    }
    render_detail(app, frame, detail);
    if let Some(failed) = asking(app)
        && app.modal.is_none()
    {
        render_question(frame, failed);
    }
}

fn title(c: &Commissioning) -> String {
    match &c.run {
        Some(run) if run.active() => {
            let (pass, fail, skip) = run.counts();
            let doing = match run.state {
                RunState::Starting => "starting",
                RunState::Stopping => "STOPPING",
                RunState::Reporting => "making the report",
                _ => "running",
            };
            format!(
                "Commission: {doing}, {} of {} in: {pass} ok, {fail} failed, {skip} skipped",
                run.results.len(),
                run.checks.len()
            )
        }
        _ => {
            let checks = c.checks();
            let out = checks.iter().filter(|ch| c.left_out(ch.id)).count();
            let skipped = checks
                .iter()
                .filter(|ch| !c.left_out(ch.id) && matches!(c.choice(ch), Planned::Skip(_)))
                .count();
            format!(
                "Commission: {} check(s) planned, {out} left out, {skipped} skipped",
                checks.len() - out - skipped
            )
        }
    }
}

fn render_list(app: &App, frame: &mut Frame, area: Rect, rows: &[Check]) {
    let c = &app.commission;
    let run = c.run.as_ref();
    let active = run.is_some_and(Run::active);
    let at = if active { None } else { c.plan.as_ref().map(|p| p.at_ms) };
    let to = c.report_to.as_ref().map_or_else(
        || "commission-SERIAL-TIME.json/.html here".to_string(),
        |p| format!("{}/.html", p.with_extension("json").display()),
    );
    let width = usize::from(area.width.saturating_sub(2));
    let bottom = elide_middle(&format!(" report to {to} "), width);
    let block = panel(app, &title(c), at).title_bottom(Line::from(bottom));
    let room = usize::from(area.height.saturating_sub(2)).max(1);
    let top = (c.row + 1).saturating_sub(room);
    let lines: Vec<Line<'_>> = rows
        .iter()
        .enumerate()
        .skip(top)
        .take(room)
        .map(|(n, check)| {
            let mut line = row(app, check, width);
            if !active && n == c.row {
                line = line.patch_style(Style::new().add_modifier(Modifier::REVERSED));
            }
            line
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// One check's row: its mark, its name, and what it says now.
fn row(app: &App, check: &Check, width: usize) -> Line<'static> {
    let c = &app.commission;
    let run = c.run.as_ref();
    let active = run.is_some_and(Run::active);
    let room = width.saturating_sub(MARK + NAME);
    let name = check.id.as_str();
    let cut = |text: &str| cut_end(text, room);
    let line = |mark: &str, text: String, style: Style| {
        Line::styled(format!("{mark:<MARK$}{name:<NAME$}{text}"), style)
    };
    if let Some(w) = run.and_then(|r| r.waiting.as_ref()).filter(|w| w.check == check.id) {
        let text = if w.at_the_door {
            let left = format!("  ({} s left)", w.seconds_left(app.now_ms));
            format!("{}{left}", cut_end(&check.instruction, room.saturating_sub(left.len())))
        } else {
            cut(&format!("checking: {}", check.instruction))
        };
        return line("->", text, Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD));
    }
    if !active {
        // The next run's choices come first: they are what Enter will do.
        if c.left_out(check.id) {
            return line("left out", cut(&check.instruction), dim());
        }
        if let (true, Planned::Skip(why)) =
            (c.skips.iter().any(|(id, _)| *id == check.id), c.choice(check))
        {
            return line("skip", cut(&format!("skipped: {why}")), dim());
        }
    }
    if let Some(result) = run.and_then(|r| r.result(check.id)) {
        return result_line(result, room, &line);
    }
    match &check.status {
        // During a run, a check still to come has no mark yet.
        Planned::Run if active => line("", cut(&check.instruction), Style::new()),
        Planned::Run => line("planned", cut(&check.instruction), Style::new()),
        Planned::Skip(why) => line("skip", cut(&format!("skipped: {why}")), dim()),
        Planned::NotReady(why) => line("NOT READY", cut(why), Style::new().fg(Color::Yellow)),
    }
}

fn result_line(
    result: &CheckResult,
    room: usize,
    line: &dyn Fn(&str, String, Style) -> Line<'static>,
) -> Line<'static> {
    // The log record behind the result is never cut: the detail gives way.
    let seq = result.seq.map_or_else(String::new, |s| format!(" [log #{s}]"));
    let text = format!("{}{seq}", cut_end(&result.detail, room.saturating_sub(seq.len())));
    match result.outcome {
        Outcome::Pass => line("ok", text, Style::new().fg(Color::Green)),
        Outcome::Fail => {
            line("FAIL", text, Style::new().fg(Color::Red).add_modifier(Modifier::BOLD))
        }
        Outcome::Skipped => line("skip", text, dim()),
    }
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// `text` cut to `width` columns at its end, with `…` when cut.
fn cut_end(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn render_detail(app: &App, frame: &mut Frame, area: Rect) {
    let c = &app.commission;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let (title, lines): (&str, Vec<Line<'_>>) = match c.run.as_ref().map(|r| (r, &r.state)) {
        Some((run, RunState::Starting)) if run.checks.is_empty() => {
            ("Now", vec![Line::from("reading the lock's users and planning…")])
        }
        Some((_, RunState::Stopping)) => (
            "Now",
            vec![Line::from(
                "stopping: the run ends at the lock's next event; nothing is changed on the lock",
            )],
        ),
        Some((_, RunState::Reporting)) => (
            "Now",
            vec![Line::from("every check is in: the lock signs the report, then it is written…")],
        ),
        Some((run, _)) if run.active() => ("Now", now_lines(app, run)),
        Some((_, RunState::Finished(f))) => {
            let verdict = if f.passed {
                Span::styled("PASSED: every check that ran passed", bold.fg(Color::Green))
            } else {
                let failed = c.run.as_ref().map_or(0, |r| r.counts().1);
                Span::styled(format!("FAILED: {failed} check(s) failed"), bold.fg(Color::Red))
            };
            let signed = if f.signed {
                Span::raw(", signed by the lock")
            } else {
                Span::styled(
                    ", UNSIGNED: this lock has no device key",
                    Style::new().fg(Color::Yellow),
                )
            };
            let width = usize::from(area.width.saturating_sub(2 + 6));
            (
                "Report written",
                vec![
                    Line::from(vec![verdict, signed]),
                    Line::from(format!("JSON  {}", elide_middle(&f.json, width))),
                    Line::from(format!("HTML  {}", elide_middle(&f.html, width))),
                ],
            )
        }
        Some((_, RunState::Ended(why))) => (
            "Ended",
            vec![Line::from(vec![
                Span::styled("NO REPORT: ", bold.fg(Color::Yellow)),
                Span::raw(why.clone()),
            ])],
        ),
        _ => ("Check", selected_lines(app)),
    };
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(panel(app, title, None)),
        area,
    );
}

/// During a run: the check waited for, what to do and the time left; else the last result.
fn now_lines(app: &App, run: &Run) -> Vec<Line<'static>> {
    let cyan = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    if let Some(w) = &run.waiting {
        let instruction =
            run.checks.iter().find(|c| c.id == w.check).map_or("", |c| c.instruction.as_str());
        if w.at_the_door {
            return vec![
                Line::styled(format!("{}: {instruction}", w.check.as_str()), cyan),
                Line::from(format!(
                    "{} s left; the lock's decision ticks it here. Esc stops the run.",
                    w.seconds_left(app.now_ms)
                )),
            ];
        }
        return vec![Line::from(format!("checking {}: {instruction}", w.check.as_str()))];
    }
    run.results.last().map_or_else(Vec::new, |r| result_lines(r))
}

/// A result in full: what was seen, whose credential, the log record and the lock's time.
fn result_lines(r: &CheckResult) -> Vec<Line<'static>> {
    let word = match r.outcome {
        Outcome::Pass => "ok",
        Outcome::Fail => "FAILED",
        Outcome::Skipped => "skipped",
    };
    let mut facts = Vec::new();
    if let Some(user) = r.user {
        facts.push(match &r.user_name {
            Some(name) => format!("user {user} ({name})"),
            None => format!("user {user}"),
        });
    }
    if let Some(seq) = r.seq {
        facts.push(format!("log #{seq}"));
    }
    if let Some(at) = &r.at {
        facts.push(format!("at {at}"));
    }
    let mut lines = vec![Line::from(format!("{} {word}: {}", r.check.as_str(), r.detail))];
    if !facts.is_empty() {
        lines.push(Line::from(facts.join(" · ")));
    }
    lines
}

/// Before a run (or after one): the selected check in full.
fn selected_lines(app: &App) -> Vec<Line<'static>> {
    let c = &app.commission;
    let Some(check) = c.selected() else {
        return vec![Line::from("r reads the lock's users and plans the checks")];
    };
    if let Some(result) = c.run.as_ref().and_then(|r| r.result(check.id)) {
        return result_lines(result);
    }
    let status = if c.left_out(check.id) {
        "left out of the next run (Space puts it back)".to_string()
    } else {
        match c.choice(check) {
            Planned::Run => "runs".to_string(),
            Planned::Skip(why) => format!("skipped: {why}"),
            Planned::NotReady(why) => format!("cannot pass yet: {why}"),
        }
    };
    vec![Line::from(format!("{}: {}", check.id.as_str(), check.instruction)), Line::from(status)]
}

/// The failed door check's question: the run waits for the answer.
fn render_question(frame: &mut Frame, failed: &CheckResult) {
    let lines = vec![
        Line::from(format!("{} failed: {}", failed.check.as_str(), failed.detail)),
        Line::from(""),
        Line::from(vec![
            key("r"),
            Span::raw(" try again   "),
            key("s"),
            Span::raw(" skip it (give a reason)   "),
            key("l"),
            Span::raw(" leave it failed"),
        ]),
        Line::from(vec![key("Esc"), Span::raw(" stop the run (no report)")]),
    ];
    dialog(frame, " A check failed ", lines);
}
