//! The tamper-evident audit log. Every identity or access change appends one event in the same
//! transaction as the change; each event is hash-chained to the one before (SHA-256 over an RFC
//! 8785 canonical JSON encoding) and the chain head is signed in periodic checkpoints.

pub mod failures;
pub mod log;
pub mod model;
pub mod notices;
pub mod operator;
pub mod tree;
mod verify;
pub mod witness;

pub use log::{append, checkpoint, checkpoint_message};
pub use model::{
    Actor, AuditAction, AuditEvent, AuditRecord, Checkpoint, GENESIS_HASH, SecurityNotice,
};
/// How long an event may go without a signed checkpoint covering it: two intervals (the hub
/// signs one every interval while events arrive) and a minute of slack.
pub fn max_checkpoint_gap_ms(config: &crate::config::AuditConfig) -> i64 {
    let secs = config
        .checkpoint_interval_secs
        .saturating_mul(2)
        .saturating_add(60);
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

pub use verify::{Expectations, Problem, VerifyReport, verify_chain, verify_records};
