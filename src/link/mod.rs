//! The host side of the link: finding ports, opening them, and the request/response client.
//! Every face (CLI, TUI) talks to a lock only through this module.

mod client;
mod duration;
mod ports;
mod transport;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

pub use client::{
    Client, ClientError, DEFAULT_ATTEMPTS, DEFAULT_BAUD, DEFAULT_TIMEOUT, FrameNote, FrameTap,
    LinkOptions, LinkStats, LogPage, NOISY_ATTEMPT, attempts_for,
};
pub use duration::{
    DurationError, DurationRange, INTERVAL_RANGE, TIMEOUT_RANGE, deserialize_timeout,
    parse_duration_in, parse_interval, parse_timeout,
};
pub use ports::{
    KNOWN_ADAPTERS, KnownAdapter, PortInfo, PortPicker, PortSource, ResolveError, auto_detect,
    known_adapter, list_ports,
};
pub use transport::Transport;
