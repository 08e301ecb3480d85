//! The host's site-file readers on arbitrary text: the TOML, CSV and JSON site files of
//! `provision apply` (`ops::provision::file::load`, which checks every row) and the JSON
//! list of `checksum --verify` (`ops::provision::load`). A file is read from disk, so each
//! input is written to a per-process temporary file first. A good file's rows are checked
//! against a lock's capabilities and turned into user specs; every error is printed, as
//! the CLI prints it.
//!
//! The input's first byte picks the reader (toml, csv, json, the JSON list); the rest is
//! the file.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use latchkey::ops::provision;
use latchkey_protocol::TimeZoneRule;
use libfuzzer_sys::fuzz_target;

/// This process's scratch directory (left behind: it holds 4 small files). In RAM where
/// there is a /dev/shm: a disk file system's write-back costs more than the parsing.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        let base = if shm.is_dir() { shm } else { std::env::temp_dir() };
        let dir = base.join(format!("latchkey-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, text)) = data.split_first() else { return };
    let name = ["site.toml", "site.csv", "site.json", "provision.json"][usize::from(which & 3)];
    let path = scratch().join(name);
    std::fs::write(&path, text).expect("the scratch file is written");
    let zones = [TimeZoneRule::utc(), TimeZoneRule::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()];
    if which & 3 == 3 {
        match provision::load(&path) {
            Ok(users) => {
                for user in &users {
                    for zone in &zones {
                        let _ = user.spec(zone).map_err(|e| e.to_string());
                    }
                }
            }
            Err(e) => drop(e.to_string()),
        }
        return;
    }
    match provision::file::load(&path) {
        Ok(site) => {
            let _ = site
                .check_against(&latchkey_firmware::lock::capabilities(8))
                .map_err(|e| e.to_string());
            for row in &site.rows {
                for zone in &zones {
                    row.spec(zone);
                }
            }
        }
        Err(e) => drop(e.to_string()),
    }
});
