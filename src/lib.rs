//! latchkey: commission and diagnose offline smart locks over a cable.
//!
//! The library holds, in layers, each importing only those below:
//! 1. [`link`]: port discovery and the request/response client ([`keys`]: the keystore);
//! 2. [`session`]: connecting and authorizing, with typed outcomes;
//! 3. [`ops`]: the jobs a person comes for, face-neutral;
//! 4. two faces over them: [`cli`] and [`tui`], neither importing the other.
//!
//! Beside them, used by any layer above the link: [`display`] holds the human words both
//! faces use, [`time`] this computer's clock and dates as people type them, [`input`] values
//! as people type them, and [`config`] the host's settings file.

pub mod cli;
pub mod config;
pub mod display;
pub mod input;
pub mod keys;
pub mod link;
pub mod ops;
pub mod session;
pub mod time;
pub mod tui;
