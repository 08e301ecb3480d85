//! The Commission view's state and how keys and the worker's news change it: the plan, the
//! choices for the next run (checks left out, skipped with a reason, where the report goes),
//! and the run itself as the worker's [`Watcher`](crate::ops::commission::Watcher) reports it.

use std::path::PathBuf;
use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::{App, Command, Fresh, LinkState, Purpose};
use crate::ops::commission::{Again, Check, CheckId, CheckResult, Outcome, Planned};

/// How long each check at the door waits for the lock's decision (the CLI's `--wait`
/// default).
pub const COMMISSION_WAIT: Duration = Duration::from_secs(120);

/// The Commission view: the plan, the choices for the next run, and the run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Commissioning {
    /// Every check the lock allows, planned from its users with nothing left out, once read.
    pub plan: Option<Fresh<Vec<Check>>>,
    /// Checks the next run leaves out (the CLI's `--only` names the others).
    pub left_out: Vec<CheckId>,
    /// Checks the next run skips, each with its reason (`--skip CHECK --reason TEXT`).
    pub skips: Vec<(CheckId, String)>,
    /// Where the report goes (`.json` and `.html` added); `None`: `commission-SERIAL-TIME` in
    /// the folder the TUI was started in.
    pub report_to: Option<PathBuf>,
    /// The selected row.
    pub row: usize,
    /// The run under way, or the last one.
    pub run: Option<Run>,
}

/// One commissioning run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The checks as the run planned them (empty until the worker has read the lock).
    pub checks: Vec<Check>,
    /// The results in, one per check: a retried check's failure is replaced.
    pub results: Vec<CheckResult>,
    /// The check going on now.
    pub waiting: Option<Waiting>,
    /// A door check failed and the person is asked: try again, skip, or leave it failed.
    pub asking: Option<CheckResult>,
    /// Where it stands.
    pub state: RunState,
}

/// The check going on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Which.
    pub check: CheckId,
    /// When it began (the TUI's clock, ms).
    pub since_ms: u64,
    /// How long the person has.
    pub wait: Duration,
    /// Whether the person at the door has something to do (else the lock is only read).
    pub at_the_door: bool,
}

/// Where a run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Asked for: the worker reads the users and plans.
    Starting,
    /// The checks go on.
    Running,
    /// Stop asked: the run ends at the lock's next event.
    Stopping,
    /// Every check is in: the lock signs the report and it is written.
    Reporting,
    /// Ended with a report.
    Finished(Finished),
    /// Ended without a report, for this reason.
    Ended(String),
}

/// A run's report, written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// No check failed.
    pub passed: bool,
    /// The lock signed it (a lock without a device key cannot).
    pub signed: bool,
    /// The JSON file.
    pub json: String,
    /// The HTML page.
    pub html: String,
}

/// What the worker says about commissioning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommissionNews {
    /// The plan with nothing left out, for the view before a run.
    Plan(Vec<Check>),
    /// The run began, with these checks.
    Started(Vec<Check>),
    /// A check began (for a door check: the person has `wait` to act).
    Waiting {
        /// Which.
        check: CheckId,
        /// How long.
        wait: Duration,
        /// Whether it is done at the door.
        at_the_door: bool,
    },
    /// A result is in.
    Result(CheckResult),
    /// A door check failed: retry, skip or leave it failed?
    Asking(CheckResult),
    /// Every check is in; the report is being made.
    Reporting,
    /// The report is written.
    Finished(Finished),
    /// The run ended without a report, for this reason.
    Ended(String),
}

impl Run {
    fn starting() -> Self {
        Self {
            checks: Vec::new(),
            results: Vec::new(),
            waiting: None,
            asking: None,
            state: RunState::Starting,
        }
    }

    /// Whether it still holds the lock.
    pub fn active(&self) -> bool {
        matches!(
            self.state,
            RunState::Starting | RunState::Running | RunState::Stopping | RunState::Reporting
        )
    }

    /// The result of `check`, if in.
    pub fn result(&self, check: CheckId) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.check == check)
    }

    /// Results in: passed, failed, skipped.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |o: Outcome| self.results.iter().filter(|r| r.outcome == o).count();
        (count(Outcome::Pass), count(Outcome::Fail), count(Outcome::Skipped))
    }
}

impl Waiting {
    /// Seconds left at `now_ms` (the TUI's clock).
    pub fn seconds_left(&self, now_ms: u64) -> u64 {
        let wait_ms = u64::try_from(self.wait.as_millis()).unwrap_or(u64::MAX);
        wait_ms.saturating_sub(now_ms.saturating_sub(self.since_ms)).div_ceil(1000)
    }
}

impl Commissioning {
    /// Whether a run holds the lock now.
    pub fn active(&self) -> bool {
        self.run.as_ref().is_some_and(Run::active)
    }

    /// The plan's checks, empty until read.
    pub fn checks(&self) -> &[Check] {
        self.plan.as_ref().map_or(&[], |p| p.value.as_slice())
    }

    /// How the next run treats `check`: as planned, left out, or skipped with a reason.
    pub fn choice(&self, check: &Check) -> Planned {
        if let Some((_, why)) = self.skips.iter().find(|(c, _)| *c == check.id) {
            return Planned::Skip(why.clone());
        }
        check.status.clone()
    }

    /// Whether the next run leaves `check` out.
    pub fn left_out(&self, check: CheckId) -> bool {
        self.left_out.contains(&check)
    }

    /// The rows the view lists: the run's checks while it runs; else the plan's, each with
    /// its result from the last run (so Space and `s` prepare the next run on what is shown).
    pub fn rows(&self) -> &[Check] {
        match &self.run {
            Some(run) if run.active() && !run.checks.is_empty() => &run.checks,
            Some(run) if self.plan.is_none() => &run.checks,
            _ => self.checks(),
        }
    }

    /// What the selected row is.
    pub fn selected(&self) -> Option<&Check> {
        self.rows().get(self.row)
    }

    /// The `--only` list for the next run: empty (every check) when none is left out.
    fn only(&self) -> Vec<CheckId> {
        if self.left_out.is_empty() {
            return Vec::new();
        }
        self.checks().iter().map(|c| c.id).filter(|id| !self.left_out(*id)).collect()
    }
}

/// Applies the worker's news.
pub(super) fn news(app: &mut App, news: CommissionNews) {
    let now_ms = app.now_ms;
    let c = &mut app.commission;
    if let CommissionNews::Plan(checks) = news {
        c.row = c.row.min(checks.len().saturating_sub(1));
        c.plan = Some(Fresh { value: checks, at_ms: now_ms });
        return;
    }
    let run = c.run.get_or_insert_with(Run::starting);
    match news {
        CommissionNews::Plan(_) => {}
        CommissionNews::Started(checks) => {
            run.checks = checks;
            run.state = RunState::Running;
            c.row = 0;
        }
        CommissionNews::Waiting { check, wait, at_the_door } => {
            // A retry: the failure it replaces goes.
            run.results.retain(|r| r.check != check);
            run.asking = None;
            run.waiting = Some(Waiting { check, since_ms: now_ms, wait, at_the_door });
            if let Some(n) = run.checks.iter().position(|ch| ch.id == check) {
                c.row = n;
            }
        }
        CommissionNews::Result(result) => {
            if run.waiting.as_ref().is_some_and(|w| w.check == result.check) {
                run.waiting = None;
            }
            run.results.retain(|r| r.check != result.check);
            run.results.push(result);
        }
        CommissionNews::Asking(result) => run.asking = Some(result),
        CommissionNews::Reporting => {
            run.waiting = None;
            run.state = RunState::Reporting;
        }
        CommissionNews::Finished(finished) => run.state = RunState::Finished(finished),
        CommissionNews::Ended(why) => {
            run.waiting = None;
            run.asking = None;
            run.state = RunState::Ended(why);
        }
    }
    // The list may be the plan again.
    c.row = c.row.min(c.rows().len().saturating_sub(1));
}

/// The link was lost: a run under way ended with it (the lock was left as it was).
pub(super) fn link_lost(app: &mut App) {
    if let Some(run) = app.commission.run.as_mut().filter(|r| r.active()) {
        run.waiting = None;
        run.asking = None;
        run.state = RunState::Ended(
            "the link was lost: the run stopped, nothing was changed on the lock and no report \
             was written"
                .into(),
        );
    }
}

/// Asks the run to stop (Esc, Ctrl-C): the worker answers the run's `stop`, which leaves the
/// lock as it was.
pub(super) fn stop(app: &mut App) -> Option<Command> {
    let run = app.commission.run.as_mut()?;
    run.state = RunState::Stopping;
    run.asking = None;
    app.say(false, "stopping the commissioning…");
    Some(Command::StopCommission)
}

/// The plan, read again when the view is entered (users may have changed meanwhile); not while
/// a run holds the lock or the link is down.
pub(super) fn entered(app: &mut App) -> Option<Command> {
    if app.commission.active() || !matches!(app.link, LinkState::Online { .. }) {
        return None;
    }
    app.run(Command::PlanCommission)
}

/// A key in the Commission view.
pub(super) fn key(app: &mut App, key: KeyEvent) -> Option<Command> {
    let state = app.commission.run.as_ref().map(|r| (r.active(), r.asking.clone()));
    match (state, key.code) {
        // A failed door check: the `Again` answer.
        (Some((_, Some(failed))), code) => match code {
            KeyCode::Char('r') | KeyCode::Enter => answer(app, Again::Retry),
            KeyCode::Char('s') => app.input(Purpose::SkipReason { check: failed.check, now: true }),
            KeyCode::Char('l') => answer(app, Again::Keep),
            KeyCode::Esc => stop(app),
            _ => None,
        },
        (Some((true, None)), KeyCode::Esc) => stop(app),
        (Some((true, None)), _) => {
            app.say(false, "commissioning holds the lock: Esc stops it");
            None
        }
        (_, KeyCode::Enter) => start(app),
        (_, KeyCode::Char(' ')) => {
            let id = app.commission.selected()?.id;
            let c = &mut app.commission;
            if c.left_out(id) {
                c.left_out.retain(|x| *x != id);
            } else {
                c.left_out.push(id);
            }
            None
        }
        (_, KeyCode::Char('s')) => {
            let id = app.commission.selected()?.id;
            let c = &mut app.commission;
            if c.skips.iter().any(|(x, _)| *x == id) {
                // Un-skipping needs no reason.
                c.skips.retain(|(x, _)| *x != id);
                return None;
            }
            app.input(Purpose::SkipReason { check: id, now: false })
        }
        (_, KeyCode::Char('o')) => app.input(Purpose::ReportTo),
        (_, KeyCode::Char('r')) => entered(app),
        _ => None,
    }
}

fn answer(app: &mut App, again: Again) -> Option<Command> {
    if let Some(run) = app.commission.run.as_mut() {
        run.asking = None;
    }
    Some(Command::AfterFailure(again))
}

/// Enter: asks before starting, since the run holds the lock's session for minutes.
fn start(app: &mut App) -> Option<Command> {
    let c = &app.commission;
    if c.plan.is_none() {
        app.say(false, "no plan yet: r reads the lock's users and plans");
        return None;
    }
    let only = c.only();
    let running = c.checks().iter().filter(|ch| !c.left_out(ch.id)).count();
    if running == 0 {
        app.say(false, "every check is left out: Space puts one back");
        return None;
    }
    let to = c.report_to.as_ref().map_or_else(
        || "commission-SERIAL-TIME.json and .html here".to_string(),
        |p| format!("{}", p.with_extension("json").display()),
    );
    let question = format!(
        "Start commissioning: {running} check(s), each at the door waiting up to {} s?\n\
         It holds the lock's session until it ends; Esc stops it (nothing is changed).\n\
         Report: {to}",
        COMMISSION_WAIT.as_secs()
    );
    let command = Command::Commission {
        only,
        skips: c.skips.clone(),
        wait: COMMISSION_WAIT,
        report_to: c.report_to.clone(),
    };
    app.confirm(question, command)
}

/// A run asked for (after the confirmation): its state begins.
pub(super) fn started(app: &mut App) {
    app.commission.run = Some(Run::starting());
    app.commission.row = 0;
}

/// A skip's reason, typed: for the next run, or as the answer to a failed check now.
pub(super) fn skip_reason(app: &mut App, check: CheckId, now: bool, text: &str) -> Option<Command> {
    let reason = text.trim();
    if reason.is_empty() {
        // The failed check is still asked about; nothing else changed.
        app.say(false, "a skip needs a reason; nothing was skipped");
        return None;
    }
    if now {
        return answer(app, Again::Skip(reason.to_string()));
    }
    let c = &mut app.commission;
    c.skips.retain(|(x, _)| *x != check);
    c.skips.push((check, reason.to_string()));
    c.left_out.retain(|x| *x != check);
    None
}

/// The report's file, typed (empty: the default name here).
pub(super) fn report_to(app: &mut App, text: &str) {
    let path = text.trim();
    app.commission.report_to = (!path.is_empty()).then(|| PathBuf::from(path));
    let shown = app.commission.report_to.as_ref().map_or_else(
        || "the report goes to commission-SERIAL-TIME here".to_string(),
        |p| format!("the report goes to {}", p.with_extension("json").display()),
    );
    app.say(true, shown);
}

/// The failed check the person is asked about, if any (the view draws the question).
pub fn asking(app: &App) -> Option<&CheckResult> {
    app.commission.run.as_ref().and_then(|r| r.asking.as_ref())
}

#[cfg(test)]
mod tests {
    use latchkey_protocol::Role;
    use ratatui::crossterm::event::KeyModifiers;

    use super::super::{Action, Modal, View, update};
    use super::*;

    fn key(code: KeyCode) -> Action {
        Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn keys(app: &mut App, text: &str) {
        for c in text.chars() {
            update(app, key(KeyCode::Char(c)));
        }
    }

    fn check(id: CheckId, status: Planned) -> Check {
        Check { id, instruction: format!("do {}", id.as_str()), status }
    }

    fn plan() -> Vec<Check> {
        vec![
            check(CheckId::Clock, Planned::Run),
            check(CheckId::Keypad, Planned::Run),
            check(CheckId::Rfid, Planned::NotReady("no card".into())),
            check(CheckId::Door, Planned::Run),
        ]
    }

    fn result(id: CheckId, outcome: Outcome, seq: Option<u32>) -> CheckResult {
        CheckResult {
            check: id,
            outcome,
            detail: "seen".into(),
            seq,
            at: None,
            user: None,
            user_name: None,
        }
    }

    /// Online, on the Commission view, with the plan read.
    fn ready(role: Role) -> App {
        let mut app = App::new("x");
        app.link = LinkState::Online { round_trip_ms: 1 };
        app.role = Some(role);
        update(&mut app, Action::Commission(CommissionNews::Plan(plan())));
        app.view = View::Commission;
        app
    }

    /// Started (confirmed) and running with `plan()`'s checks.
    fn running() -> App {
        let mut app = ready(Role::Installer);
        update(&mut app, key(KeyCode::Enter));
        assert!(matches!(
            update(&mut app, key(KeyCode::Char('y'))),
            Some(Command::Commission { .. })
        ));
        update(&mut app, Action::Commission(CommissionNews::Started(plan())));
        app
    }

    #[test]
    fn entering_the_view_online_reads_the_plan_and_offline_does_not() {
        let mut app = App::new("x");
        app.link = LinkState::Online { round_trip_ms: 1 };
        assert_eq!(update(&mut app, key(KeyCode::Char('5'))), Some(Command::PlanCommission));
        assert_eq!(app.view, View::Commission);
        let mut app = App::new("x");
        assert_eq!(update(&mut app, key(KeyCode::Char('5'))), None);
        assert_eq!(app.view, View::Commission);
    }

    #[test]
    fn leaving_out_and_skipping_shape_the_run_and_enter_asks_first() {
        let mut app = ready(Role::Installer);
        // Keypad left out; door skipped with a reason.
        update(&mut app, key(KeyCode::Down));
        update(&mut app, key(KeyCode::Char(' ')));
        update(&mut app, key(KeyCode::Down));
        update(&mut app, key(KeyCode::Down));
        update(&mut app, key(KeyCode::Char('s')));
        assert!(matches!(
            app.modal,
            Some(Modal::Input {
                purpose: Purpose::SkipReason { check: CheckId::Door, now: false },
                ..
            })
        ));
        keys(&mut app, "sensor next week");
        assert_eq!(update(&mut app, key(KeyCode::Enter)), None);
        assert_eq!(app.commission.skips, vec![(CheckId::Door, "sensor next week".to_string())]);
        // Enter asks; `y` runs it.
        assert_eq!(update(&mut app, key(KeyCode::Enter)), None);
        assert!(matches!(app.modal, Some(Modal::Confirm { .. })));
        let command = update(&mut app, key(KeyCode::Char('y')));
        assert_eq!(
            command,
            Some(Command::Commission {
                only: vec![CheckId::Clock, CheckId::Rfid, CheckId::Door],
                skips: vec![(CheckId::Door, "sensor next week".into())],
                wait: COMMISSION_WAIT,
                report_to: None,
            })
        );
        assert!(app.commission.active());
    }

    #[test]
    fn a_technician_key_runs_it_too() {
        let mut app = ready(Role::Technician);
        update(&mut app, key(KeyCode::Enter));
        assert!(matches!(
            update(&mut app, key(KeyCode::Char('y'))),
            Some(Command::Commission { .. })
        ));
    }

    #[test]
    fn the_report_file_is_typed_in() {
        let mut app = ready(Role::Installer);
        update(&mut app, key(KeyCode::Char('o')));
        keys(&mut app, "handover");
        update(&mut app, key(KeyCode::Enter));
        assert_eq!(app.commission.report_to, Some(PathBuf::from("handover")));
        update(&mut app, key(KeyCode::Enter));
        let command = update(&mut app, key(KeyCode::Char('y')));
        let Some(Command::Commission { report_to, .. }) = command else {
            panic!("no run: {command:?}");
        };
        assert_eq!(report_to.as_deref(), Some(std::path::Path::new("handover")));
    }

    #[test]
    fn the_run_ticks_each_check_as_news_comes_and_counts_time_left() {
        let mut app = running();
        update(&mut app, Action::Tick(1_000));
        update(
            &mut app,
            Action::Commission(CommissionNews::Waiting {
                check: CheckId::Keypad,
                wait: Duration::from_secs(120),
                at_the_door: true,
            }),
        );
        update(&mut app, Action::Tick(31_000));
        let run = app.commission.run.as_ref().unwrap();
        assert_eq!(run.waiting.as_ref().unwrap().seconds_left(app.now_ms), 90);
        assert_eq!(app.commission.row, 1, "the selection follows the check waited for");
        update(
            &mut app,
            Action::Commission(CommissionNews::Result(result(
                CheckId::Keypad,
                Outcome::Pass,
                Some(23),
            ))),
        );
        let run = app.commission.run.as_ref().unwrap();
        assert!(run.waiting.is_none());
        assert_eq!(run.result(CheckId::Keypad).unwrap().seq, Some(23));
        assert_eq!(run.counts(), (1, 0, 0));
    }

    #[test]
    fn a_failed_check_is_answered_retry_skip_with_a_reason_or_leave_it() {
        let mut app = running();
        let failed = result(CheckId::Door, Outcome::Fail, None);
        let ask = |app: &mut App| {
            update(app, Action::Commission(CommissionNews::Result(failed.clone())));
            update(app, Action::Commission(CommissionNews::Asking(failed.clone())));
        };
        ask(&mut app);
        assert_eq!(
            update(&mut app, key(KeyCode::Char('r'))),
            Some(Command::AfterFailure(Again::Retry))
        );
        // A retry begins: the failure goes.
        update(
            &mut app,
            Action::Commission(CommissionNews::Waiting {
                check: CheckId::Door,
                wait: Duration::from_secs(120),
                at_the_door: true,
            }),
        );
        assert!(app.commission.run.as_ref().unwrap().result(CheckId::Door).is_none());
        ask(&mut app);
        assert_eq!(update(&mut app, key(KeyCode::Char('s'))), None);
        // Cancelling the reason comes back to the question; an empty reason skips nothing.
        update(&mut app, key(KeyCode::Esc));
        assert!(asking(&app).is_some());
        update(&mut app, key(KeyCode::Char('s')));
        assert_eq!(update(&mut app, key(KeyCode::Enter)), None);
        assert!(asking(&app).is_some());
        update(&mut app, key(KeyCode::Char('s')));
        keys(&mut app, "no sensor fitted");
        assert_eq!(
            update(&mut app, key(KeyCode::Enter)),
            Some(Command::AfterFailure(Again::Skip("no sensor fitted".into())))
        );
        assert!(asking(&app).is_none());
        ask(&mut app);
        assert_eq!(
            update(&mut app, key(KeyCode::Char('l'))),
            Some(Command::AfterFailure(Again::Keep))
        );
    }

    #[test]
    fn esc_or_ctrl_c_stops_the_run_and_a_second_ctrl_c_quits() {
        let mut app = running();
        // Other actions wait for the run.
        update(&mut app, key(KeyCode::Char('2')));
        assert_eq!(update(&mut app, key(KeyCode::Char('a'))), None);
        assert!(app.outcome.as_ref().unwrap().value.text.contains("commissioning holds the lock"));
        update(&mut app, key(KeyCode::Char('5')));
        assert_eq!(update(&mut app, key(KeyCode::Esc)), Some(Command::StopCommission));
        assert_eq!(app.commission.run.as_ref().unwrap().state, RunState::Stopping);

        let mut app = running();
        let ctrl_c = Action::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(update(&mut app, ctrl_c.clone()), Some(Command::StopCommission));
        assert!(!app.quit);
        update(&mut app, ctrl_c);
        assert!(app.quit);
    }

    #[test]
    fn the_end_of_a_run_is_shown_and_a_lost_link_ends_it() {
        let mut app = running();
        let finished =
            Finished { passed: true, signed: true, json: "r.json".into(), html: "r.html".into() };
        update(&mut app, Action::Commission(CommissionNews::Finished(finished.clone())));
        assert_eq!(app.commission.run.as_ref().unwrap().state, RunState::Finished(finished));
        assert!(!app.commission.active());

        let mut app = running();
        update(&mut app, Action::LinkDown("gone".into()));
        let run = app.commission.run.as_ref().unwrap();
        assert!(matches!(&run.state, RunState::Ended(why) if why.contains("no report")));
    }
}
