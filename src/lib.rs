//! latchkey: commission and diagnose offline smart locks over a cable.
//!
//! The library holds the link (port discovery and the request/response client), the host
//! config file, and the two faces over the same client: the CLI and the TUI.

pub mod cli;
pub mod config;
pub mod display;
pub mod keys;
pub mod link;
pub mod tui;
