//! The jobs people come for, as library functions both faces call: reading the lock's log
//! ([`log`]), users and their codes ([`users`]), and checking a lock against a provisioning
//! file ([`provision`]). Each takes the client it works through and returns typed results;
//! none prompts, prints or waits on a person.

pub mod log;
pub mod provision;
pub mod users;
