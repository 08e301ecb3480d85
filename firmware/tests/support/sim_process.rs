//! What the end-to-end tests of both packages share about child processes: the lines a child
//! prints, collected by a reader thread and waited for on a condition variable (never by
//! sleeping), and the `latchkey-sim` binary started with its two banner lines read.
//!
//! Included by path from `firmware/tests/` and from the host's `tests/common`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a test waits for something a child process should print. Generous: the machine
/// running the tests may be busy; a wait that ends early costs nothing.
pub const WAIT: Duration = Duration::from_secs(20);

#[derive(Default)]
struct State {
    lines: Vec<String>,
    /// The child closed its end (exited): nothing more will come.
    closed: bool,
}

/// The lines a child prints, as it prints them.
#[derive(Clone)]
pub struct Lines {
    shared: Arc<(Mutex<State>, Condvar)>,
    /// Who prints them, for failure messages.
    who: Arc<str>,
}

impl Lines {
    /// Reads `source` line by line on a thread of its own (so the child never blocks on a full
    /// pipe), waking every waiter at each line and at the end.
    pub fn follow(who: &str, source: impl Read + Send + 'static) -> Lines {
        Self::follow_buffered(who, BufReader::new(source))
    }

    /// [`Self::follow`] for a reader some lines were already taken from.
    pub fn follow_buffered(who: &str, mut reader: impl BufRead + Send + 'static) -> Lines {
        let lines = Lines { shared: Arc::default(), who: who.into() };
        let shared = lines.shared.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            loop {
                line.clear();
                let more = reader.read_line(&mut line).is_ok_and(|n| n > 0);
                let (state, changed) = &*shared;
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                if more {
                    state.lines.push(line.trim_end_matches(['\r', '\n']).to_owned());
                } else {
                    state.closed = true;
                }
                changed.notify_all();
                if !more {
                    break;
                }
            }
        });
        lines
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every line so far.
    pub fn all(&self) -> Vec<String> {
        self.state().lines.clone()
    }

    /// Lines so far that contain `needle`.
    pub fn with(&self, needle: &str) -> Vec<String> {
        self.state().lines.iter().filter(|l| l.contains(needle)).cloned().collect()
    }

    /// Whether the child has closed its output.
    pub fn closed(&self) -> bool {
        self.state().closed
    }

    /// Waits until `found` returns something for the lines so far, and returns it. Panics
    /// after [`WAIT`], or once the child has closed its output without it, naming `what`.
    pub fn wait_for<T>(&self, what: &str, found: impl FnMut(&[String]) -> Option<T>) -> T {
        self.wait_for_within(WAIT, what, found)
    }

    /// [`Self::wait_for`] with another deadline (a burst of thousands of actions).
    pub fn wait_for_within<T>(
        &self,
        limit: Duration,
        what: &str,
        mut found: impl FnMut(&[String]) -> Option<T>,
    ) -> T {
        self.wait_state(limit, what, |state| match found(&state.lines) {
            Some(value) => Some(Some(value)),
            None if state.closed => Some(None),
            None => None,
        })
        .unwrap_or_else(|| self.fail(what, "it closed its output"))
    }

    /// Waits until `count` lines contain `needle`; returns all of them.
    pub fn wait_for_count(&self, needle: &str, count: usize) -> Vec<String> {
        self.wait_for(&format!("{count} lines with {needle:?}"), |lines| {
            let with: Vec<String> = lines.iter().filter(|l| l.contains(needle)).cloned().collect();
            (with.len() >= count).then_some(with)
        })
    }

    /// Waits for a line that contains `needle`, after the first `skip` lines; returns it.
    pub fn wait_for_line(&self, needle: &str, skip: usize) -> String {
        self.wait_for(&format!("a line with {needle:?}"), |lines| {
            lines.iter().skip(skip).find(|l| l.contains(needle)).cloned()
        })
    }

    /// Waits for the simulator's `n`-th acknowledgement (counting from 1): its index among
    /// the lines, and the line.
    pub fn wait_for_ack(&self, n: usize, action: &str) -> (usize, String) {
        let (mut scanned, mut acks) = (0, 0);
        self.wait_for(&format!("the acknowledgement of {action:?}"), |lines| {
            for (i, line) in lines.iter().enumerate().skip(scanned) {
                if is_ack(line) {
                    acks += 1;
                    if acks == n {
                        return Some((i, line.clone()));
                    }
                }
            }
            scanned = lines.len();
            None
        })
    }

    /// Waits until the child has closed its output (it exited); every line it printed.
    pub fn wait_closed(&self) -> Vec<String> {
        self.wait_state(WAIT, "the end of its output", |state| {
            state.closed.then(|| state.lines.clone())
        })
    }

    fn wait_state<T>(
        &self,
        limit: Duration,
        what: &str,
        mut done: impl FnMut(&State) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        let changed = &self.shared.1;
        let mut state = self.state();
        loop {
            if let Some(value) = done(&state) {
                return value;
            }
            let now = Instant::now();
            if now >= deadline {
                drop(state);
                self.fail(what, &format!("waited {} s", limit.as_secs()));
            }
            state =
                changed.wait_timeout(state, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    fn fail(&self, what: &str, why: &str) -> ! {
        let lines = self.all();
        let tail = &lines[lines.len().saturating_sub(15)..];
        panic!(
            "{} never printed {what} ({why}); its last lines:\n  {}",
            self.who,
            tail.join("\n  ")
        )
    }
}

/// Whether `line` is the simulator's acknowledgement of an action: `latchkey-sim: ok ACTION`
/// or `latchkey-sim: failed ACTION: REASON`, printed after every line the action caused.
pub fn is_ack(line: &str) -> bool {
    line.starts_with("latchkey-sim: ok ") || line.starts_with("latchkey-sim: failed ")
}

/// A `latchkey-sim` binary, started with its standard input and output piped, its two banner
/// lines read: where it listens and its setup code.
pub struct SimProcess {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    /// The pty the lock listens on, from the first line.
    pub port: String,
    /// The setup code, from the second line.
    pub setup_code: String,
    /// Every line after those two.
    pub lines: Lines,
    /// Actions written to its standard input.
    sent: usize,
    /// Lines already returned by [`Self::act`].
    taken: usize,
}

impl SimProcess {
    /// Starts `binary` with `args` and reads its banner; `stderr` is where its errors go.
    pub fn spawn(binary: &Path, args: &[&std::ffi::OsStr], stderr: Stdio) -> SimProcess {
        let mut child = Command::new(binary)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let stdin = child.stdin.take();
        let mut reader = BufReader::new(child.stdout.take().expect("the simulator's stdout"));
        let mut banner = String::new();
        reader.read_line(&mut banner).expect("read the simulator's first line");
        let port = banner
            .trim_end()
            .strip_prefix("latchkey-sim: listening on ")
            .map(|rest| rest.split(" (link ").next().unwrap_or(rest).to_owned())
            .unwrap_or_else(|| panic!("unexpected simulator banner: {banner:?}"));
        let mut code_line = String::new();
        reader.read_line(&mut code_line).expect("read the simulator's setup code line");
        let setup_code = code_line
            .trim_end()
            .strip_prefix("latchkey-sim: setup code ")
            .unwrap_or_else(|| panic!("unexpected simulator setup code line: {code_line:?}"))
            .to_owned();
        let lines = Lines::follow_buffered("the simulator", reader);
        SimProcess { child, stdin, port, setup_code, lines, sent: 0, taken: 0 }
    }

    /// Writes `action` on the simulator's standard input and waits for its acknowledgement;
    /// returns the lines printed since the previous one, that acknowledgement last.
    pub fn act(&mut self, action: &str) -> Vec<String> {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("the simulator's stdin");
        writeln!(stdin, "{action}").expect("write to the simulator's stdin");
        stdin.flush().expect("write to the simulator's stdin");
        self.sent += 1;
        let (at, _) = self.lines.wait_for_ack(self.sent, action);
        let got = self.lines.all()[self.taken..=at].to_vec();
        self.taken = at + 1;
        got
    }

    /// Kills the simulator; what it wrote on standard error, if that was piped.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        stderr
    }
}
