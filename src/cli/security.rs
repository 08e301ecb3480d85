//! `claim`, `key ...` and `factory-reset`: the commands that establish who may manage a lock.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use latchkey_protocol::Role;
use latchkey_protocol::crypto::SetupCode;
use serde_json::json;

use super::connect::{Access, Explain, connect, open};
use super::prompt::{confirm, prompt_failed};
use super::{CliError, Context, ErrorKind, KeyCommand};
use crate::keys::{self, DEFAULT_KEY_NAME, KeyFile, KeyKind, Keystore};

/// The setup code from the flag, a prompt, or one line of standard input.
fn setup_code(context: &Context, flag: Option<String>) -> Result<SetupCode, CliError> {
    let text = match flag {
        Some(text) => {
            // Not refused (scripts on a bench use it), but said: it is a door's master secret.
            eprintln!(
                "note: a setup code on the command line stays in the shell's history and shows \
                 in the process list; leave --setup-code out to be asked for it, or pipe it on \
                 standard input"
            );
            text
        }
        None if context.interactive => dialoguer::Input::<String>::new()
            .with_prompt("Setup code (on the label inside the lock)")
            .interact_text()
            .map_err(prompt_failed)?,
        None if !std::io::stdin().is_terminal() => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| {
                CliError::host(format!("cannot read the setup code from standard input: {e}"))
            })?;
            line
        }
        None => {
            return Err(CliError::usage("no setup code given")
                .with_hint("pass --setup-code XXXX-XXXX-XXXX, or pipe it on standard input"));
        }
    };
    SetupCode::parse(text.trim()).map_err(|e| {
        CliError::usage(format!("that is not a setup code: {e}"))
            .with_hint("it is printed on the label inside the lock, like 7K2M-9QXD-4HRT")
    })
}

/// The key `claim` uses: `--key`, `LATCHKEY_KEY`, the keystore's only key, or a new one.
fn key_for_claim(context: &Context) -> Result<KeyFile, CliError> {
    match keys::resolve(context.connect.key.as_deref()) {
        Ok(key) => Ok(key),
        Err(keys::KeyError::Empty { .. }) if context.connect.key.is_none() => {
            let key = KeyFile::generate(DEFAULT_KEY_NAME)?;
            let path = Keystore::locate()?.add(&key)?;
            eprintln!(
                "created site key {:?} at {}; back it up: `latchkey key export {} --out FILE`",
                key.name,
                path.display(),
                key.name
            );
            Ok(key)
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) fn claim(context: &Context, code: Option<String>) -> Result<(), CliError> {
    let code = setup_code(context, code)?;
    let key = key_for_claim(context)?;
    let mut connection = connect(context)?;
    let info = connection.info()?.clone();
    if info.claimed {
        return Err(CliError::refused(ErrorKind::AlreadyClaimed, format!("lock {} is already claimed", info.serial), Some(latchkey_protocol::Status::Occupied))
            .with_hint("to take it over, factory-reset it first (`latchkey factory-reset`, needs the setup code)"));
    }
    let serial = info.serial.as_str();
    let (installer, technician) = key.lock_pair(serial).ok_or_else(|| {
        CliError::usage(format!("{:?} is a technician key, which cannot claim a lock", key.name))
            .with_hint("use the site key (`latchkey key list`)")
    })?;
    connection
        .client
        .claim(&code, &info, &installer, &technician)
        .map_err(|e| connection.explain(e))?;
    // Remembered so a later "not claimed" from this lock is not taken on its word.
    if let Err(e) = Keystore::locate().and_then(|store| store.record_claim(serial, &key.name)) {
        eprintln!("note: could not note the claim in the keystore: {e}");
    }
    // The device key its log heads are signed with, pinned while the claim vouches for the
    // lock (`log verify` would pin it at its first run otherwise).
    if info.capabilities.signs_log_head {
        let pinned = connection
            .client
            .open_session(Role::Installer, serial, std::slice::from_ref(&installer))
            .and_then(|_| connection.client.device_key())
            .map_err(|e| e.to_string())
            .and_then(|device_key| {
                Keystore::locate()
                    .and_then(|store| store.pin_device_key(serial, &device_key))
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = pinned {
            eprintln!(
                "note: could not pin the lock's device key: {e}; `log verify` pins it at its first run"
            );
        }
    }
    if context.json {
        say!(
            "{}",
            json!({ "claimed": true, "serial": serial, "key": key.name, "fingerprint": keys::fingerprint(&key.key) })
        );
    } else {
        say!("claimed lock {serial} with site key {:?}", key.name);
    }
    Ok(())
}

pub(super) fn factory_reset(
    context: &Context,
    code: Option<String>,
    yes: bool,
) -> Result<(), CliError> {
    let mut connection = connect(context)?;
    let info = connection.info()?.clone();
    let serial = info.serial.to_string();
    confirm(
        context,
        yes,
        &format!("Erase the keys, users and credentials of lock {serial}? It will be unclaimed"),
    )?;
    let code = setup_code(context, code)?;
    connection.client.factory_reset(&code, &info).map_err(|e| connection.explain(e))?;
    if let Err(e) = Keystore::locate().and_then(|store| store.forget_claim(&serial)) {
        eprintln!("note: could not note the reset in the keystore: {e}");
    }
    if context.json {
        say!("{}", json!({ "reset": true, "serial": serial }));
    } else {
        say!(
            "lock {serial} is factory-new: keys, users and credentials erased; claim it again to use it"
        );
    }
    Ok(())
}

pub(super) fn key(context: &Context, command: KeyCommand) -> Result<(), CliError> {
    let store = Keystore::locate()?;
    match command {
        KeyCommand::Create { name } => {
            let key = KeyFile::generate(&name)?;
            let path = store.add(&key)?;
            if context.json {
                say!(
                    "{}",
                    json!({ "name": key.name, "kind": "site", "fingerprint": keys::fingerprint(&key.key), "path": path })
                );
            } else {
                say!(
                    "created site key {:?} ({}) at {}",
                    key.name,
                    keys::fingerprint(&key.key),
                    path.display()
                );
                say!(
                    "back it up: `latchkey key export {} --out FILE`; without it the locks it claimed can only be factory-reset",
                    key.name
                );
            }
        }
        KeyCommand::List => {
            let list = store.list()?;
            if context.json {
                let docs: Vec<_> = list
                    .iter()
                    .map(|k| json!({ "name": k.name, "kind": k.kind, "fingerprint": keys::fingerprint(&k.key), "previous": k.previous.len(), "created": k.created }))
                    .collect();
                say!("{}", json!(docs));
            } else if list.is_empty() {
                say!("no keys in {}", store.dir().display());
            } else {
                for k in &list {
                    let kind = match k.kind {
                        KeyKind::Site => "site (installer)",
                        KeyKind::Technician => "technician (read-only)",
                    };
                    say!(
                        "{:<20} {:<24} {}  created {}",
                        k.name,
                        kind,
                        keys::fingerprint(&k.key),
                        k.created
                    );
                }
            }
        }
        KeyCommand::Export { name, out, technician } => {
            let key = store.get(&name)?;
            let key = if technician { key.technician() } else { key };
            if out == Path::new("-") {
                if std::io::stdout().is_terminal() {
                    return Err(CliError::usage("refusing to print a key on the terminal")
                        .with_hint(
                            "write it to a file with --out FILE, or redirect standard output",
                        ));
                }
                std::io::stdout()
                    .write_all(key.to_toml().as_bytes())
                    .map_err(|e| CliError::host(format!("cannot write the key: {e}")))?;
            } else {
                key.save(&out, false)?;
                if !context.json {
                    eprintln!(
                        "wrote {} key {:?} to {} (mode 0600)",
                        if technician { "technician" } else { "site" },
                        key.name,
                        out.display()
                    );
                }
            }
        }
        KeyCommand::Import { file, name } => {
            let mut key = KeyFile::load(&file)?;
            if let Some(name) = name {
                key.name = name;
            }
            let path = store.add(&key)?;
            if context.json {
                say!(
                    "{}",
                    json!({ "name": key.name, "kind": key.kind, "fingerprint": keys::fingerprint(&key.key), "path": path })
                );
            } else {
                say!(
                    "imported {:?} ({}) to {}",
                    key.name,
                    keys::fingerprint(&key.key),
                    path.display()
                );
            }
        }
        KeyCommand::Rotate { name } => rotate(context, &store, name)?,
        KeyCommand::Prune { name, yes } => {
            let key = match name.as_deref().or(context.connect.key.as_deref()) {
                Some(name) if !name.contains('/') => store.get(name)?,
                other => keys::resolve(other)?,
            };
            let count = key.previous.len();
            if count > 0 {
                confirm(
                    context,
                    yes,
                    &format!(
                        "Forget the {count} previous key(s) of {:?}? A lock still on one can then \
                         only be factory-reset",
                        key.name
                    ),
                )?;
                key.without_previous().store()?;
            }
            if context.json {
                say!("{}", json!({ "key": key.name, "pruned": count }));
            } else if count == 0 {
                say!("{:?} keeps no previous key; nothing to prune", key.name);
            } else {
                say!("forgot the {count} previous key(s) of {:?}", key.name);
            }
        }
    }
    Ok(())
}

/// New site key, installed on the connected lock in two phases: the key file gets the new key
/// as *pending* before anything is sent, and the pending key becomes current once the lock has
/// confirmed it. A cable pulled in between leaves both keys in the file, and the next session
/// (of any command) finds which one the lock holds and finishes the job.
fn rotate(context: &Context, store: &Keystore, name: Option<String>) -> Result<(), CliError> {
    let current = match name.as_deref().or(context.connect.key.as_deref()) {
        Some(name) if !name.contains('/') => store.get(name)?,
        other => keys::resolve(other)?,
    };
    if current.kind != KeyKind::Site {
        return Err(CliError::usage("only a site key can be rotated")
            .with_hint("technician keys follow their site key: export a new one after rotating"));
    }
    let staged = current.with_pending()?;
    let path = staged.store()?;
    let Some(next) = staged.promoted() else {
        return Err(CliError::usage("not a site key"));
    };
    let mut key_context = context.clone();
    key_context.connect.key = Some(path.display().to_string());
    let mut connection = open(&key_context, Access::Rekey)?;
    let serial = connection.info()?.serial.to_string();
    // Opening the session may have found the lock on the pending key already (an earlier
    // rotation whose answer was lost) and promoted it: then there is nothing left to send.
    let on_file = KeyFile::load(&path)?;
    if on_file.pending.is_none() && on_file.key == next.key {
        if context.json {
            say!(
                "{}",
                json!({ "rotated": true, "serial": serial, "key": next.name, "fingerprint": keys::fingerprint(&next.key), "finished_earlier": true })
            );
        } else {
            say!(
                "lock {serial} already held the new key from an interrupted rotation; saved to {}",
                path.display()
            );
        }
        return Ok(());
    }
    let (installer, technician) =
        next.lock_pair(&serial).ok_or_else(|| CliError::usage("not a site key"))?;
    connection.client.rotate_keys(&installer, &technician).map_err(|e| {
        connection.explain(e).with_hint(format!(
            "the new key is kept as pending in {}; run `latchkey key rotate` again (or any \
             command): whichever key the lock holds opens it, and the rotation is finished",
            path.display()
        ))
    })?;
    let path = next.store()?;
    if context.json {
        say!(
            "{}",
            json!({ "rotated": true, "serial": serial, "key": next.name, "fingerprint": keys::fingerprint(&next.key) })
        );
    } else {
        say!(
            "lock {serial} now uses the new site key {:?} ({}); saved to {}",
            next.name,
            keys::fingerprint(&next.key),
            path.display()
        );
        say!(
            "other locks of the site move to it on their next installer session; export new technician keys"
        );
    }
    Ok(())
}
