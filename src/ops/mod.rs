//! The jobs people come for, as library functions both faces call: reading the lock's log
//! ([`log`]), users and their codes ([`users`]), and bulk provisioning: site files checked
//! row by row, planned against a lock, applied pipelined and verified by checksum
//! ([`provision`]). Each takes the client it works through and returns typed results; none
//! prompts, prints or waits on a person (the PIN file `apply` writes is its one file).

pub mod alarms;
pub mod commission;
pub mod log;
pub mod provision;
pub mod records;
pub mod users;
