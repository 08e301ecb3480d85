//! The role table: what a request may ask, given how it reached the lock.
//!
//! A leaf: it knows the protocol's requests and roles and nothing of the lock or the link, so
//! both consult the same table (the link before a handshake, the lock before carrying out a
//! request) and it is tested as a truth table.

use latchkey_protocol::{Request, Role, Status};

/// How a request reached the lock, which decides what it may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// In a plaintext request frame: anyone holding the cable.
    Plaintext,
    /// Sealed in a session opened with `role`'s lock key.
    Session(Role),
}

/// Whether `request` is one of the handshakes that open a session or claim the lock. The link
/// answers these itself (its session layer); they never reach the lock's request handler.
pub fn is_handshake(request: &Request) -> bool {
    matches!(
        request,
        Request::ClaimStart { .. }
            | Request::ClaimFinish { .. }
            | Request::SessionStart { .. }
            | Request::SessionConfirm { .. }
    )
}

/// The access table: whether `request`, arriving `via` a plaintext frame or a session at a
/// lock that is `claimed` or not, may be carried out. `Err` holds the status to answer
/// instead.
///
/// New requests are refused to plaintext links and technicians until listed here: the table
/// fails closed.
pub fn authorize(via: Via, claimed: bool, request: &Request) -> Result<(), Status> {
    use Request as R;
    let allowed = match via {
        // Identification, the claim exchange (protected by the setup code, not by a session)
        // and the handshake; everything else needs a session, even while one is open: no
        // plaintext fallback. Nothing to open a session with until the lock holds keys.
        Via::Plaintext => match request {
            R::SessionStart { .. } | R::SessionConfirm { .. } => claimed,
            request => request.travels_in_clear(),
        },
        // A handshake inside a session is a confused host, not an authorization question.
        Via::Session(_) if is_handshake(request) => return Err(Status::InvalidField),
        // Sessions exist only on a claimed lock; a factory reset ends them.
        Via::Session(_) if !claimed => false,
        Via::Session(Role::Installer) => true,
        Via::Session(Role::Technician) => matches!(
            request,
            R::Hello
                | R::Ping { .. }
                | R::GetTime
                | R::GetBattery
                | R::GetSettings
                | R::GetDiagnostics
                | R::EndSession
                | R::GetUser { .. }
                | R::ListUsers { .. }
                | R::GetChecksum
                | R::GetLastAccess
                | R::GetAlarms
                | R::GetEnrollment
                | R::ReadLog { .. }
                | R::VerifyLog
                | R::GetDeviceKey
                | R::GetLogHead { .. }
        ),
    };
    if allowed { Ok(()) } else { Err(Status::NotAuthorized) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTALLER: Via = Via::Session(Role::Installer);
    const TECHNICIAN: Via = Via::Session(Role::Technician);

    #[test]
    fn plaintext_may_only_identify_and_claim() {
        for claimed in [false, true] {
            assert_eq!(authorize(Via::Plaintext, claimed, &Request::Hello), Ok(()));
            assert_eq!(authorize(Via::Plaintext, claimed, &Request::Ping { nonce: 1 }), Ok(()));
            assert_eq!(
                authorize(Via::Plaintext, claimed, &Request::GetTime),
                Err(Status::NotAuthorized)
            );
            assert_eq!(
                authorize(Via::Plaintext, claimed, &Request::ClearLog),
                Err(Status::NotAuthorized)
            );
        }
    }

    #[test]
    fn roles_in_a_session() {
        assert_eq!(authorize(INSTALLER, true, &Request::ClearLog), Ok(()));
        assert_eq!(authorize(TECHNICIAN, true, &Request::ReadLog { from_seq: 0 }), Ok(()));
        assert_eq!(authorize(TECHNICIAN, true, &Request::ClearLog), Err(Status::NotAuthorized));
        assert_eq!(authorize(TECHNICIAN, true, &Request::ClearAlarms), Err(Status::NotAuthorized));
        // No session on an unclaimed lock counts.
        assert_eq!(authorize(INSTALLER, false, &Request::GetTime), Err(Status::NotAuthorized));
    }

    #[test]
    fn handshakes_belong_outside_a_session() {
        let finish = Request::ClaimFinish { ciphertext: heapless::Vec::new(), tag: [0; 16] };
        assert!(is_handshake(&finish));
        assert_eq!(authorize(INSTALLER, true, &finish), Err(Status::InvalidField));
        assert_eq!(authorize(Via::Plaintext, false, &finish), Ok(()));
        assert!(!is_handshake(&Request::Hello));
    }
}
