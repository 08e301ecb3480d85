//! Carrying out a plan in one session, pipelined, and the PIN file generated PINs go to.
//!
//! Order: removals, then users' rules, then credentials onto users the lock took. What a
//! user ends as when the lock refuses something (docs/provisioning.md, "When the lock
//! refuses"): a refused user gets none of its credentials sent; a refused credential is
//! absent, and a refused PIN leaves the user with no PIN (an older one is removed), so no
//! code the file no longer gives keeps opening the door. Each refusal is reported on the
//! user's row. Resuming is planning again: what the lock holds is not done twice.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use latchkey_protocol::{Capabilities, Pin, Refusal, Request, Response, Status, UserWrite};

use super::file::PinEntry;
use super::plan::{Change, Plan, Step};
use crate::link::{Client, ClientError, Transport};
use crate::ops::users::{PinError, generate_pin};

/// Why an apply stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The link failed part-way; what the lock acknowledged is done. Running the same
    /// command again finishes the job.
    #[error("{source} (after {done} of {total} requests)")]
    Link {
        /// Why.
        source: ClientError,
        /// Requests acknowledged before.
        done: usize,
        /// Requests planned.
        total: usize,
    },
    /// The PIN file could not be read or written; nothing more was sent.
    #[error("PIN file {}: {source}", path.display())]
    PinFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No PIN could be generated.
    #[error(transparent)]
    Generate(#[from] PinError),
}

/// How one user went.
#[derive(Debug, Clone)]
pub struct UserResult {
    /// User number.
    pub user: u16,
    /// Name.
    pub name: String,
    /// Line in the file.
    pub line: Option<usize>,
    /// What the plan was.
    pub change: Change,
    /// Requests the lock acknowledged.
    pub done: usize,
    /// What the lock refused: the step's words and the refusal.
    pub refused: Vec<(String, Refusal)>,
    /// Whether a PIN was generated for the user (its digits are in the PIN file only).
    pub generated_pin: bool,
}

impl UserResult {
    /// `done`, `unchanged`, `partial` (some refused) or `refused` (the user itself).
    pub fn outcome(&self) -> &'static str {
        if self.refused.is_empty() {
            if self.change == Change::Unchanged || self.change == Change::Unmanaged {
                "unchanged"
            } else {
                "done"
            }
        } else if self.done == 0 {
            "refused"
        } else {
            "partial"
        }
    }
}

/// Where generated PINs go: a file created with mode 0600, one `user,pin` line per PIN,
/// appended and flushed to disk *before* the PIN is sent, so a PIN the lock took is never
/// lost. On a resumed run the last PIN written for a user is used again, never drawn anew.
#[derive(Debug)]
pub struct PinFile {
    path: PathBuf,
    known: HashMap<u16, Pin>,
}

impl PinFile {
    /// Opens (reads) the file if it exists; it is created at the first PIN. An existing file
    /// that others may read is refused.
    pub fn open(path: &Path) -> Result<Self, ApplyError> {
        let err = |source| ApplyError::PinFile { path: path.to_path_buf(), source };
        let mut known = HashMap::new();
        match std::fs::File::open(path) {
            Ok(file) => {
                use std::os::unix::fs::MetadataExt;
                let mode = file.metadata().map_err(err)?.mode();
                if mode & 0o077 != 0 {
                    return Err(err(std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        format!("others may read it (mode {:o}); chmod 600 it", mode & 0o777),
                    )));
                }
                for line in std::io::BufReader::new(file).lines() {
                    let line = line.map_err(err)?;
                    let mut cells = line.split(',').map(str::trim);
                    if let (Some(user), Some(pin)) = (cells.next(), cells.next())
                        && let (Ok(user), Ok(pin)) = (user.parse(), Pin::try_from(pin))
                    {
                        known.insert(user, pin);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        Ok(Self { path: path.to_path_buf(), known })
    }

    /// The PINs written so far, by user.
    pub fn known(&self) -> &HashMap<u16, Pin> {
        &self.known
    }

    fn record(&mut self, user: u16, pin: &Pin) -> Result<(), ApplyError> {
        use std::os::unix::fs::OpenOptionsExt;
        let err = |source| ApplyError::PinFile { path: self.path.clone(), source };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(err)?;
        if file.metadata().map_err(err)?.len() == 0 {
            writeln!(file, "user,pin").map_err(err)?;
        }
        writeln!(file, "{user},{pin}").map_err(err)?;
        file.sync_all().map_err(err)?;
        self.known.insert(user, pin.clone());
        Ok(())
    }
}

/// A request of the plan, and whose it is.
struct Job {
    /// Index into the results.
    who: usize,
    step: Step,
    /// For a PIN: the digits sent.
    pin: Option<Pin>,
}

/// Progress for a face: requests acknowledged of those planned.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize);

/// Carries out `plan` on the lock behind `client` (an installer session): pipelined up to
/// the client's window, phase by phase. Generated PINs are drawn (or taken again from
/// `pins`) and written to `pins` before they are sent.
pub fn apply<T: Transport>(
    client: &mut Client<T>,
    plan: &Plan,
    capabilities: &Capabilities,
    mut pins: Option<&mut PinFile>,
    progress: Progress<'_>,
) -> Result<Vec<UserResult>, ApplyError> {
    let mut results: Vec<UserResult> = plan
        .users
        .iter()
        .map(|u| UserResult {
            user: u.user,
            name: u.name.clone(),
            line: u.line,
            change: u.change,
            done: 0,
            refused: Vec::new(),
            generated_pin: false,
        })
        .collect();
    let total: usize = plan.users.iter().map(|u| u.steps.len()).sum();
    let mut done_total = 0;
    // Users whose rules the lock refused: nothing more is sent for them.
    let mut refused_user = vec![false; plan.users.len()];
    // Users that held a PIN before, so a refused new one must not leave the old one.
    for phase in 0..=2u8 {
        let mut jobs = Vec::new();
        for (who, user) in plan.users.iter().enumerate() {
            if refused_user[who] {
                continue;
            }
            for step in user.steps.iter().filter(|s| s.phase() == phase) {
                let pin = match step {
                    Step::SetPin(PinEntry::Given(pin)) => Some(pin.clone()),
                    Step::SetPin(PinEntry::Generate { length }) => {
                        let Some(file) = pins.as_deref_mut() else {
                            // The face checks for a PIN file first; without one, nothing to send.
                            continue;
                        };
                        let pin = match file.known().get(&user.user) {
                            Some(pin) => pin.clone(),
                            None => {
                                let pin = generate_pin(*length, capabilities)?;
                                file.record(user.user, &pin)?;
                                pin
                            }
                        };
                        results[who].generated_pin = true;
                        Some(pin)
                    }
                    _ => None,
                };
                jobs.push(Job { who, step: step.clone(), pin });
            }
        }
        let mut redraws = 0;
        while !jobs.is_empty() {
            let requests: Vec<Request> =
                jobs.iter().map(|j| request(plan.users[j.who].user, j)).collect();
            let answers = client.pipeline(&requests).map_err(|source| ApplyError::Link {
                source,
                done: done_total,
                total,
            })?;
            let mut again = Vec::new();
            for (job, answer) in jobs.into_iter().zip(answers) {
                let result = &mut results[job.who];
                match answer {
                    Ok(Response::Status(Status::Success) | Response::User(_)) => {
                        result.done += 1;
                        done_total += 1;
                    }
                    Ok(other) => {
                        return Err(ApplyError::Link {
                            source: ClientError::Unexpected(format!("{other:?}")),
                            done: done_total,
                            total,
                        });
                    }
                    // A drawn PIN another user has, or weak by a newer rule: draw again.
                    Err(ClientError::Refused(r))
                        if matches!(job.step, Step::SetPin(PinEntry::Generate { .. }))
                            && matches!(r.status, Status::Duplicate | Status::Weak)
                            && redraws < 10 =>
                    {
                        let Step::SetPin(PinEntry::Generate { length }) = job.step else {
                            continue;
                        };
                        let user = plan.users[job.who].user;
                        let pin = generate_pin(length, capabilities)?;
                        if let Some(file) = pins.as_deref_mut() {
                            file.record(user, &pin)?;
                        }
                        again.push(Job { pin: Some(pin), ..job });
                    }
                    // Removing what is already gone: the end state holds.
                    Err(ClientError::Refused(r))
                        if job.step == Step::RemovePin && r.status == Status::NotFound => {}
                    Err(ClientError::Refused(r)) => {
                        if matches!(job.step, Step::PutUser { .. }) {
                            refused_user[job.who] = true;
                        }
                        // The defined end state: a refused PIN leaves no PIN.
                        if matches!(job.step, Step::SetPin(_))
                            && plan.users[job.who].change != Change::Add
                        {
                            again.push(Job { who: job.who, step: Step::RemovePin, pin: None });
                        }
                        result.refused.push((job.step.describe(), r));
                    }
                    Err(source) => {
                        return Err(ApplyError::Link { source, done: done_total, total });
                    }
                }
                progress(done_total, total);
            }
            redraws += 1;
            jobs = again;
        }
    }
    Ok(results)
}

fn request(user: u16, job: &Job) -> Request {
    match &job.step {
        Step::RemoveUser => Request::RemoveUser { id: user },
        Step::PutUser { add, spec } => Request::PutUser {
            id: user,
            write: if *add { UserWrite::Add } else { UserWrite::Modify },
            spec: spec.clone(),
        },
        Step::SetPin(_) => match &job.pin {
            Some(pin) => Request::SetPin { user, pin: pin.clone() },
            // Not built without its PIN; asking for the user is harmless.
            None => Request::GetUser { id: user },
        },
        Step::RemovePin => Request::RemovePin { user },
        Step::AddCard(uid) => Request::AddCard { user, uid: uid.clone() },
        Step::RemoveCard(uid) => Request::RemoveCard { user, uid: uid.clone() },
        Step::AddPhone(public_key) => Request::AddPhone { user, public_key: *public_key },
        Step::RemovePhone(public_key) => Request::RemovePhone { user, public_key: *public_key },
    }
}
