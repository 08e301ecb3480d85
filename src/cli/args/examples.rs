//! An example for every command, shown at the end of its `--help` (and in the man page).
//! Kept in one table so a test can check that every command has one and that each parses.

use clap::Command;

/// A command's path (`"user add"`) and its example lines, each a command and an optional
/// `# comment`.
const EXAMPLES: &[(&str, &[&str])] = &[
    ("ports", &["latchkey ports", "latchkey ports --json"]),
    ("info", &["latchkey info", "latchkey --port /dev/ttyUSB0 info --json"]),
    ("ping", &["latchkey ping", "latchkey ping --count 100 --interval 50ms   # a noisy cable?"]),
    ("time get", &["latchkey time get   # the lock's clock, this computer's and the drift"]),
    ("time sync", &["latchkey time sync"]),
    (
        "time set",
        &[
            "latchkey time set 2026-12-07T06:59   # the lock's local time",
            "latchkey time set +8h",
            "latchkey time set 2026-12-07T05:59:00Z",
            "latchkey time sync                   # back to this computer's time",
        ],
    ),
    (
        "battery",
        &[
            "latchkey battery",
            "latchkey battery --check --json   # for monitoring: exit 7 when low or critical",
        ],
    ),
    ("config get", &["latchkey config get", "latchkey config get time-zone --json"]),
    (
        "config set",
        &[
            "latchkey config set label \"Front door\"",
            "latchkey config set time-zone Europe/Berlin",
            "latchkey config set auto-relock 30",
        ],
    ),
    ("tui", &["latchkey tui", "latchkey --sim tui   # the built-in simulated lock"]),
    (
        "claim",
        &[
            "latchkey claim                           # asks for the code at a terminal",
            "latchkey claim --setup-code 7K3M-Q9XR-2HDW",
        ],
    ),
    ("key create", &["latchkey key create acme-hq"]),
    ("key list", &["latchkey key list"]),
    (
        "key export",
        &[
            "latchkey key export acme-hq --out acme-hq.key",
            "latchkey key export acme-hq --technician --out tech.key   # read-only",
        ],
    ),
    ("key import", &["latchkey key import tech.key", "latchkey key import site.key --name acme"]),
    ("key rotate", &["latchkey key rotate", "latchkey key rotate acme-hq"]),
    ("key prune", &["latchkey key prune acme-hq   # once every lock is on the current key"]),
    (
        "user add",
        &[
            "latchkey user add \"Ann Smith\"",
            "latchkey user add Cleaner --kind scheduled --window \"mon-fri 08:00-18:00\"",
            "latchkey user add Plumber --kind guest --from 2026-12-07 --until 2026-12-08",
        ],
    ),
    ("user list", &["latchkey user list", "latchkey user list --json"]),
    ("user show", &["latchkey user show \"Ann Smith\"", "latchkey user show 3"]),
    (
        "user edit",
        &[
            "latchkey user edit \"Ann Smith\" --name \"Ann Jones\"",
            "latchkey user edit 3 --until +30d --uses 10",
        ],
    ),
    ("user enable", &["latchkey user enable Cleaner"]),
    ("user disable", &["latchkey user disable Cleaner   # her credentials are kept"]),
    ("user remove", &["latchkey user remove Plumber", "latchkey user remove 3 --yes"]),
    (
        "pin set",
        &[
            "latchkey pin set \"Ann Smith\"                # typed twice, hidden",
            "latchkey pin set 3 --generate --length 8   # shown once",
            "echo 058213 | latchkey pin set 3 --stdin",
        ],
    ),
    ("pin remove", &["latchkey pin remove \"Ann Smith\""]),
    (
        "card add",
        &[
            "latchkey card add \"Ann Smith\"            # then tap the card on the lock",
            "latchkey card add \"Ann Smith\" 04a1b2c3",
        ],
    ),
    ("card remove", &["latchkey card remove \"Ann Smith\" 04a1b2c3"]),
    ("finger enroll", &["latchkey finger enroll \"Ann Smith\"   # then follow the captures"]),
    ("finger remove", &["latchkey finger remove \"Ann Smith\" 0   # slot 0 (see user show)"]),
    (
        "phone add",
        &[
            "latchkey phone add \"Ann Smith\" 3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        ],
    ),
    (
        "phone remove",
        &[
            "latchkey phone remove \"Ann Smith\" 3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        ],
    ),
    (
        "schedule set",
        &[
            "latchkey schedule set Cleaner --window \"mon-fri 08:00-18:00\"",
            "latchkey schedule set Cleaner --window \"mon,wed 07:00-09:00\" --window \"sat 10:00-12:00\"",
        ],
    ),
    ("schedule clear", &["latchkey schedule clear Cleaner"]),
    (
        "guest add",
        &[
            "latchkey guest add Plumber --until +1d --generate",
            "latchkey guest add \"Holiday let\" --from 2026-12-20 --until 2026-12-27 --generate",
        ],
    ),
    (
        "checksum",
        &["latchkey checksum", "latchkey checksum --verify site.json   # exit 1 when it differs"],
    ),
    ("access", &["latchkey access   # who tried last, by which path, and why the lock said no"]),
    (
        "alarms",
        &[
            "latchkey alarms",
            "latchkey alarms --check   # exit 7 when an alarm is raised",
            "latchkey alarms clear --yes",
        ],
    ),
    ("alarms list", &["latchkey alarms list --json"]),
    ("alarms clear", &["latchkey alarms clear", "latchkey alarms clear --yes"]),
    (
        "clear",
        &[
            "latchkey clear pins          # cards, fingers and phones keep working",
            "latchkey clear users --yes   # for scripts: no prompt",
        ],
    ),
    (
        "completions",
        &[
            "source <(latchkey completions bash)",
            "latchkey completions zsh > ~/.zfunc/_latchkey",
            "latchkey completions fish > ~/.config/fish/completions/latchkey.fish",
        ],
    ),
    ("man", &["latchkey man | man -l -", "latchkey man > /usr/local/share/man/man1/latchkey.1"]),
    (
        "log read",
        &[
            "latchkey log read --last 20",
            "latchkey log read --kind access --user \"Ann Smith\" --last 3",
            "latchkey log read --csv > log.csv",
        ],
    ),
    (
        "provision plan",
        &[
            "latchkey provision plan site.toml            # what apply would change",
            "latchkey provision plan site.csv --prune --json",
        ],
    ),
    (
        "provision apply",
        &[
            "latchkey provision apply site.toml --pins-out pins.csv   # generated PINs, mode 0600",
            "latchkey provision apply --bench bench.toml              # many locks at once",
            "latchkey --port /dev/ttyUSB0 --port /dev/ttyUSB1 provision apply site.toml",
        ],
    ),
    (
        "provision verify",
        &[
            "latchkey provision verify site.toml --pins pins.csv   # exit 1 when it differs",
            "latchkey provision verify --bench bench.toml --json",
        ],
    ),
    (
        "provision export",
        &["latchkey provision export --out site.toml   # no secrets: PINs are `keep`"],
    ),
    ("log verify", &["latchkey log verify   # exit 1 naming where the chain breaks"]),
    (
        "commission",
        &[
            "latchkey commission                                # the checklist at the door, then the report",
            "latchkey commission --skip tamper --reason \"housing fitted next week\"",
            "latchkey commission --only keypad --only door --report front-door",
            "latchkey commission --json   # JSON Lines: plan, waiting, result, report",
        ],
    ),
    (
        "report verify",
        &[
            "latchkey report verify commission-LK1-000042-2026-12-01T154745Z.html",
            "latchkey --port /dev/ttyUSB0 report verify handover.json   # ask the lock too",
        ],
    ),
    ("log follow", &["latchkey log follow", "latchkey log follow --json | tee door.jsonl"]),
    ("log clear", &["latchkey log clear --yes"]),
    ("diag", &["latchkey diag", "latchkey diag --json > diag.json"]),
    ("factory-reset", &["latchkey factory-reset --setup-code 7K3M-Q9XR-2HDW"]),
];

/// `command` with each command's examples after its help.
pub fn with_examples(command: Command) -> Command {
    add(command, "")
}

fn add(mut command: Command, path: &str) -> Command {
    if let Some(text) = examples_text(path) {
        command = command.after_help(text);
    }
    let names: Vec<String> = command.get_subcommands().map(|c| c.get_name().to_string()).collect();
    for name in names {
        let child = if path.is_empty() { name.clone() } else { format!("{path} {name}") };
        command = command.mut_subcommand(&name, |sub| add(sub, &child));
    }
    command
}

/// "Examples:" and the lines, their comments aligned.
fn examples_text(path: &str) -> Option<String> {
    let (_, lines) = EXAMPLES.iter().find(|(p, _)| *p == path)?;
    let mut text = String::from("Examples:");
    for line in *lines {
        text.push_str("\n  ");
        text.push_str(line);
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn leaves(command: &Command, path: &str, out: &mut Vec<String>) {
        let mut any = false;
        for sub in command.get_subcommands() {
            any = true;
            let name = sub.get_name();
            let child = if path.is_empty() { name.to_string() } else { format!("{path} {name}") };
            leaves(sub, &child, out);
        }
        if !any {
            out.push(path.to_string());
        }
    }

    #[test]
    fn every_command_has_an_example() {
        let command = super::super::command();
        let mut all = Vec::new();
        leaves(&command, "", &mut all);
        let missing: Vec<&String> =
            all.iter().filter(|p| !EXAMPLES.iter().any(|(e, _)| e == p)).collect();
        assert!(missing.is_empty(), "no example for {missing:?}");
        for (path, _) in EXAMPLES {
            let mut c = &command;
            for word in path.split(' ') {
                c = c.find_subcommand(word).unwrap_or_else(|| panic!("no command {path:?}"));
            }
            let help = c.get_after_help().map(ToString::to_string).unwrap_or_default();
            assert!(help.starts_with("Examples:\n  "), "{path}: {help:?}");
        }
    }

    #[test]
    fn every_example_parses() {
        for (path, lines) in EXAMPLES {
            for line in *lines {
                // The latchkey command alone: without a comment, a pipe before or after it,
                // a redirection or a process substitution.
                let start = line.find("latchkey ").unwrap_or_else(|| panic!("{line}"));
                let rest = &line[start..];
                let end = rest.find(['#', '|', '>', ')']).unwrap_or(rest.len());
                let words = shlex::split(rest[..end].trim())
                    .unwrap_or_else(|| panic!("{path}: unbalanced quotes in {line}"));
                assert!(
                    words.join(" ").contains(path.split(' ').next().unwrap_or_default()),
                    "{path}: {line}"
                );
                if let Err(e) = super::super::Cli::try_parse_from(&words) {
                    panic!("{path}: {line}: {e}");
                }
            }
        }
    }
}
