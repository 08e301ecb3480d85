//! Pipelining: many requests in flight at once, up to the lock's `max_in_flight`, so a batch
//! runs at the line's speed instead of one round trip per request.
//!
//! Each request is sealed once, in send order, so the lock sees counters in order. The lock
//! answers in order, so an answer to a later request means every earlier one still waiting
//! got no answer that will come: its frame or its answer was lost on the line. An
//! idempotent one is sent again freshly sealed (a new counter: the lock drops an old one
//! once a later frame was accepted); any other is reported not confirmed. When nothing
//! answers in time, the requests in flight are resent as their identical frames: the lock
//! takes a lost frame whose successors it never saw, and answers the last frame it accepted
//! from its cache. A lock that lost the session (restarted) gets a new one and the requests
//! not carried out again.

use std::collections::VecDeque;
use std::time::Instant;

use latchkey_protocol::{MAX_ENCODED_LEN, Request, Response};
use tracing::debug;

use super::{Client, ClientError, Resend, deadline_after, request_name, resend_rule};
use crate::link::transport::Transport;

/// A request on the line, waiting for its answer.
struct InFlight {
    /// Its place in the batch.
    index: usize,
    seq: u16,
    /// The frame as sent, for an identical resend.
    frame: Vec<u8>,
    /// When the current attempt gives up.
    attempt_deadline: Instant,
    /// When the request gives up altogether.
    deadline: Instant,
}

/// Sessions a batch may reopen (a lock restarting twice in one batch is a link problem).
const REOPENS: u32 = 2;

impl<T: Transport> Client<T> {
    /// How many requests [`Client::pipeline`] keeps in flight: the lock's
    /// `capabilities.max_in_flight` (at least 1).
    pub fn set_window(&mut self, max_in_flight: u8) {
        self.window = usize::from(max_in_flight.max(1));
    }

    /// The window [`Client::set_window`] set (1 until then).
    pub fn window(&self) -> usize {
        self.window
    }

    /// Sends `requests` with up to [`Client::window`] in flight and returns each one's
    /// answer, in the order given: a response, or the lock's refusal as
    /// [`ClientError::Refused`]. Requests in one batch must not depend on each other's
    /// order: one lost on the line is carried out after later ones. Without a session, or
    /// with a window of 1, they go one at a time.
    ///
    /// `Err` when the link fails (no answer within the timeout for a request sent as often as
    /// allowed, the port gone, the session lost and not reopened): which requests were
    /// carried out is then unknown, as for a single request.
    pub fn pipeline(
        &mut self,
        requests: &[Request],
    ) -> Result<Vec<Result<Response, ClientError>>, ClientError> {
        if self.session.is_none() || self.window <= 1 || requests.len() <= 1 {
            return Ok(requests.iter().map(|r| refused(self.request(r))).collect());
        }
        let mut answers: Vec<Option<Result<Response, ClientError>>> =
            requests.iter().map(|_| None).collect();
        let mut to_send: VecDeque<usize> = (0..requests.len()).collect();
        let mut sends = vec![0u32; requests.len()];
        let mut flight: VecDeque<InFlight> = VecDeque::new();
        let mut reopens = 0;
        let attempts = self.options.attempts.max(1);
        let per_attempt = self.options.timeout / attempts;
        let started = Instant::now();
        loop {
            while flight.len() < self.window
                && let Some(index) = to_send.pop_front()
            {
                let request = &requests[index];
                if sends[index] >= attempts {
                    debug!(request = request_name(request), "no answer after every attempt");
                    return Err(self.timeout(attempts));
                }
                if sends[index] > 0 {
                    self.stats.resent += 1;
                }
                let mut wire = [0u8; MAX_ENCODED_LEN + 1];
                let seq = self.take_seq();
                let len = self.encode(request, seq, &mut wire)?;
                let deadline = deadline_after(self.options.timeout);
                self.send(&wire[..len], deadline, sends[index] + 1)?;
                sends[index] += 1;
                flight.push_back(InFlight {
                    index,
                    seq,
                    frame: wire[..len].to_vec(),
                    attempt_deadline: deadline_after(per_attempt).min(deadline),
                    deadline,
                });
            }
            let Some(wait_until) = flight.iter().map(|f| f.attempt_deadline).min() else {
                break;
            };
            let seqs: Vec<u16> = flight.iter().map(|f| f.seq).collect();
            let found = self.wait_any(&seqs, wait_until)?;
            if found.is_empty() {
                // Nothing in time: resend in order, byte for byte, what has waited long enough.
                // A transport returns nothing only once the deadline passed.
                let now = Instant::now().max(wait_until);
                for f in flight.iter_mut().filter(|f| f.attempt_deadline <= now) {
                    if now >= f.deadline || sends[f.index] >= attempts {
                        debug!(
                            request = request_name(&requests[f.index]),
                            "timed out in a pipeline"
                        );
                        return Err(self.timeout(sends[f.index]));
                    }
                    self.stats.resent += 1;
                    sends[f.index] += 1;
                    let frame = std::mem::take(&mut f.frame);
                    self.send(&frame, f.deadline, sends[f.index])?;
                    f.frame = frame;
                    f.attempt_deadline = deadline_after(per_attempt).min(f.deadline);
                }
                continue;
            }
            let mut session_lost = false;
            for (seq, answer) in found {
                let Some(at) = flight.iter().position(|f| f.seq == seq) else { continue };
                if matches!(answer, Err(ClientError::SessionExpired)) {
                    session_lost = true;
                    break;
                }
                // Answers come in order: whatever was sent before this and is still waiting
                // was lost, the request or its answer.
                let passed: Vec<InFlight> = flight.drain(..at).collect();
                if let Some(done) = flight.pop_front() {
                    answers[done.index] = Some(answer);
                }
                for lost in passed.into_iter().rev() {
                    if resend_rule(&requests[lost.index]) == Resend::SameBytes {
                        to_send.push_front(lost.index);
                    } else {
                        answers[lost.index] = Some(Err(ClientError::Unconfirmed {
                            request: request_name(&requests[lost.index]),
                        }));
                    }
                }
            }
            if session_lost {
                reopens += 1;
                debug!(reopens, "the lock has no session for us; reopening it");
                // Neither the refused request nor any after it was carried out.
                for lost in flight.drain(..).rev() {
                    if resend_rule(&requests[lost.index]) == Resend::SameBytes {
                        sends[lost.index] = sends[lost.index].saturating_sub(1);
                        to_send.push_front(lost.index);
                    } else {
                        answers[lost.index] = Some(Err(ClientError::NotCarriedOut {
                            request: request_name(&requests[lost.index]),
                        }));
                    }
                }
                if reopens > REOPENS {
                    return Err(ClientError::SessionExpired);
                }
                self.reopen_session()?;
            }
        }
        debug!(
            requests = requests.len(),
            window = self.window,
            elapsed_ms = super::millis(started.elapsed()),
            "pipeline done"
        );
        Ok(answers
            .into_iter()
            .map(|a| {
                refused(a.unwrap_or_else(|| Err(ClientError::Unexpected("no answer kept".into()))))
            })
            .collect())
    }

    fn timeout(&self, attempts: u32) -> ClientError {
        ClientError::Timeout { path: self.path.clone(), timeout: self.options.timeout, attempts }
    }
}

/// The lock's refusal as [`ClientError::Refused`], as a single request reports it.
fn refused(answer: Result<Response, ClientError>) -> Result<Response, ClientError> {
    match answer {
        Ok(response) => match response.refusal() {
            Some(refusal) => Err(ClientError::Refused(refusal)),
            None => Ok(response),
        },
        other => other,
    }
}
