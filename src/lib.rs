//! latchkey: commission and diagnose offline smart locks over a cable.
//!
//! The library holds, in layers, each importing only those below:
//! 1. [`link`]: port discovery and the request/response client ([`keys`]: the keystore);
//! 2. [`session`]: connecting and authorizing, with typed outcomes;
//! 3. the operations a person comes for, face-neutral;
//! 4. two faces over them: [`cli`] and [`tui`], neither importing the other.
//!
//! [`display`] holds the human words both faces use; [`config`] the host's settings file.

pub mod cli;
pub mod config;
pub mod display;
pub mod keys;
pub mod link;
pub mod session;
pub mod tui;
