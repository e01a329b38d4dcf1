//! Appending to the chain (inside the caller's transaction, with the security notices an
//! event makes) and signing checkpoints.

use crate::audit::model::{AuditEvent, AuditRecord, Checkpoint};
use crate::clock::Clock;
use crate::signing::{Signer, SigningError};
use crate::storage::{self, Store, StoreError, Tx};

/// Appends `event` to the chain inside `tx`, so it commits or rolls back with the change it
/// records. Locks the chain head for the rest of the transaction; the row is written at commit.
pub async fn append(
    tx: &Tx,
    clock: &dyn Clock,
    event: AuditEvent,
) -> Result<AuditRecord, StoreError> {
    let (seq, prev_hash) = tx.audit_head().await?;
    let action = event.action;
    let mut orgs = event.orgs;
    orgs.sort();
    orgs.dedup();
    let orgs_raw =
        serde_json::Value::from(orgs.iter().map(|o| o.to_string()).collect::<Vec<_>>()).to_string();
    let mut record = AuditRecord {
        seq: seq + 1,
        id: uuid::Uuid::now_v7().to_string(),
        at_ms: clock.now_ms(),
        actor: serde_json::to_value(&event.actor).unwrap_or_default(),
        orgs,
        orgs_raw,
        action: event.action.as_str().to_string(),
        target: event.target,
        details: event.details,
        prev_hash,
        hash: String::new(),
        redacted: false,
    };
    record.hash = record.compute_hash();
    super::notices::record(tx, action, &record).await?;
    tx.push_audit(record.clone());
    tracing::debug!(seq = record.seq, action = %record.action, target = %record.target, "audit");
    Ok(record)
}

/// The bytes a checkpoint signature covers.
pub fn checkpoint_message(seq: i64, hash: &str, at_ms: i64) -> Vec<u8> {
    format!("hub-audit-checkpoint/v1\n{seq}\n{hash}\n{at_ms}").into_bytes()
}

/// Signs the current head if it moved since the last checkpoint. Returns the new checkpoint.
pub async fn checkpoint(
    store: &Store,
    signer: &Signer,
    clock: &dyn Clock,
) -> Result<Option<Checkpoint>, SigningError> {
    // Written through a transaction like every other write, so SQLite writers stay serialized.
    let tx = store.begin().await?;
    let (seq, hash) = storage::audit::head(tx.conn()).await?;
    if seq == 0 || storage::audit::latest_checkpoint_seq(tx.conn()).await? >= seq {
        return Ok(None);
    }
    let at_ms = clock.now_ms();
    let cp = Checkpoint {
        seq,
        signature: signer.sign(&checkpoint_message(seq, &hash, at_ms))?,
        hash,
        at_ms,
        key_id: signer.kid().to_string(),
    };
    storage::audit::insert_checkpoint(tx.conn(), &cp).await?;
    tx.commit().await?;
    tracing::info!(seq, key_id = %cp.key_id, "signed audit checkpoint");
    Ok(Some(cp))
}
