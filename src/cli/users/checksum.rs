//! `checksum`: the lock's checksum of its users and credentials, and whether it matches a
//! provisioning file.

use std::path::Path;

use latchkey_protocol::Role;
use latchkey_protocol::checksum::pin_key;
use latchkey_protocol::crypto::lock_key;
use serde_json::json;

use super::common::{lock_zone, session};
use crate::cli::connect::{Access, Explain};
use crate::cli::{CliError, Context, ErrorKind};
use crate::display::hex;
use crate::keys;
use crate::ops::provision;

pub(in crate::cli) fn checksum(context: &Context, verify: Option<&Path>) -> Result<(), CliError> {
    let mut c = session(context, Access::Read)?;
    let (users, credentials, digest) = c.client.checksum().map_err(|e| c.explain(e))?;
    let Some(file) = verify else {
        if context.json {
            say!(
                "{}",
                json!({ "users": users, "credentials": credentials, "checksum": hex(&digest) })
            );
        } else {
            say!("{} ({users} users, {credentials} credentials)", hex(&digest));
        }
        return Ok(());
    };
    // PINs enter the checksum keyed by the PIN key, which comes from the installer key the lock
    // was claimed with: try the site key and its predecessors.
    let key = keys::resolve(context.connect.key.as_deref())?;
    let serial = c.info()?.serial.to_string();
    if key.role() != Role::Installer {
        return Err(CliError::usage("verifying PINs needs the site key, not a technician key"));
    }
    let pin_keys: Vec<_> = std::iter::once(&key.key)
        .chain(&key.previous)
        .map(|k| pin_key(&lock_key(Role::Installer, k, &serial)))
        .collect();
    let zone = lock_zone(&mut c)?;
    let wanted = provision::load(file)?;
    let matches = provision::expected_checksums(&wanted, &pin_keys, &zone)?.contains(&digest);
    if context.json {
        say!(
            "{}",
            json!({ "users": users, "credentials": credentials, "checksum": hex(&digest), "matches": matches })
        );
    } else if matches {
        say!(
            "the lock holds exactly what {} describes ({users} users, {credentials} credentials)",
            file.display()
        );
    }
    if matches {
        Ok(())
    } else {
        Err(CliError::refused(ErrorKind::ChecksumMismatch, format!("the lock does not hold what {} describes", file.display()), None)
            .with_hint("compare `latchkey user list` with the file; write the missing users and credentials again"))
    }
}
