//! The tamper-evident audit log. Every identity or access change appends one event in the same
//! transaction as the change; each event is hash-chained to the one before (SHA-256 over an RFC
//! 8785 canonical JSON encoding) and the chain head is signed in periodic checkpoints.

mod event;
pub mod failures;
mod log;
mod verify;

pub use event::{Actor, AuditAction, AuditEvent, AuditRecord, Checkpoint, GENESIS_HASH};
pub use log::{append, checkpoint, checkpoint_message};
pub use verify::{Problem, VerifyReport, verify_chain, verify_records};
