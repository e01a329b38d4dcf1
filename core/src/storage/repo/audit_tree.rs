//! The audit log's Merkle tree: stored hashes (tlog layout), the sequenced size, signed
//! checkpoints and the log's signing keys. Hashing and proofs live in `crate::audit::tree`.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::audit::model::{LogKey, TreeCheckpoint};
use crate::storage::entities::{audit_log_key, audit_tree, audit_tree_checkpoint, audit_tree_hash};
use crate::storage::{Conn, StoreError, StoreResult};

/// The sequenced size and root, locked until the transaction ends (FOR UPDATE on PostgreSQL;
/// SQLite writers are serialized by `Store::begin`): one sequencer at a time.
pub async fn lock_tree(c: &impl Conn) -> StoreResult<(i64, String)> {
    let t = audit_tree::Entity::find_by_id(1)
        .lock_exclusive()
        .one(c)
        .await?
        .ok_or(StoreError::Corrupt("audit_tree"))?;
    Ok((t.size, t.root))
}

pub async fn tree(c: &impl Conn) -> StoreResult<(i64, String)> {
    let t = audit_tree::Entity::find_by_id(1)
        .one(c)
        .await?
        .ok_or(StoreError::Corrupt("audit_tree"))?;
    Ok((t.size, t.root))
}

pub async fn set_tree(c: &impl Conn, size: i64, root: &str) -> StoreResult<()> {
    audit_tree::Entity::update_many()
        .set(audit_tree::ActiveModel {
            size: Set(size),
            root: Set(root.to_string()),
            ..Default::default()
        })
        .filter(audit_tree::Column::Id.eq(1))
        .exec(c)
        .await?;
    Ok(())
}

/// The stored hashes at `indexes` (base64), in no particular order.
pub async fn hashes(c: &impl Conn, indexes: &[i64]) -> StoreResult<Vec<(i64, String)>> {
    let mut out = Vec::with_capacity(indexes.len());
    for chunk in indexes.chunks(500) {
        let rows = audit_tree_hash::Entity::find()
            .filter(audit_tree_hash::Column::Idx.is_in(chunk.iter().copied()))
            .all(c)
            .await?;
        out.extend(rows.into_iter().map(|r| (r.idx, r.hash)));
    }
    Ok(out)
}

pub async fn insert_hashes(c: &impl Conn, rows: &[(i64, String)]) -> StoreResult<()> {
    for chunk in rows.chunks(500) {
        let models = chunk
            .iter()
            .map(|(idx, hash)| audit_tree_hash::ActiveModel {
                idx: Set(*idx),
                hash: Set(hash.clone()),
            });
        audit_tree_hash::Entity::insert_many(models)
            .exec_without_returning(c)
            .await?;
    }
    Ok(())
}

pub async fn insert_checkpoint(c: &impl Conn, cp: &TreeCheckpoint) -> StoreResult<()> {
    audit_tree_checkpoint::Entity::insert(audit_tree_checkpoint::ActiveModel {
        size: Set(cp.size),
        root: Set(cp.root.clone()),
        note: Set(cp.note.clone()),
        key_id: Set(cp.key_id.clone()),
        at_ms: Set(cp.at_ms),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

fn checkpoint_of(m: audit_tree_checkpoint::Model) -> TreeCheckpoint {
    TreeCheckpoint {
        size: m.size,
        root: m.root,
        note: m.note,
        key_id: m.key_id,
        at_ms: m.at_ms,
    }
}

/// The checkpoint of `size`, or the latest one.
pub async fn checkpoint(c: &impl Conn, size: Option<i64>) -> StoreResult<Option<TreeCheckpoint>> {
    let q = audit_tree_checkpoint::Entity::find();
    let q = match size {
        Some(s) => q.filter(audit_tree_checkpoint::Column::Size.eq(s)),
        None => q
            .order_by_desc(audit_tree_checkpoint::Column::Size)
            .limit(1),
    };
    Ok(q.one(c).await?.map(checkpoint_of))
}

/// The log's signing key in force (the newest).
pub async fn current_key(c: &impl Conn) -> StoreResult<Option<LogKey>> {
    Ok(audit_log_key::Entity::find()
        .order_by_desc(audit_log_key::Column::CreatedAt)
        .one(c)
        .await?
        .map(|m| LogKey {
            id: m.id,
            name: m.name,
            public_key: m.public_key,
            seed_sealed: m.seed_sealed,
            created_at: m.created_at,
        }))
}

pub async fn insert_key(c: &impl Conn, k: &LogKey) -> StoreResult<()> {
    audit_log_key::Entity::insert(audit_log_key::ActiveModel {
        id: Set(k.id.clone()),
        name: Set(k.name.clone()),
        public_key: Set(k.public_key.clone()),
        seed_sealed: Set(k.seed_sealed.clone()),
        created_at: Set(k.created_at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}
