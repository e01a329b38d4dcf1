//! The audit log's Merkle tree: stored hashes (tlog layout), the sequenced size, signed
//! checkpoints and the log's signing keys. Hashing and proofs live in `crate::audit::tree`.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::parse;
use crate::audit::model::{LogKey, TreeCheckpoint, Witness};
use crate::ids::OrgId;
use crate::storage::entities::{
    audit_log_key, audit_tree, audit_tree_checkpoint, audit_tree_cosignature, audit_tree_hash,
    audit_witness,
};
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

fn witness_of(m: audit_witness::Model) -> StoreResult<Witness> {
    Ok(Witness {
        id: m.id,
        org_id: parse(&m.org_id, "audit_witnesses")?,
        name: m.name,
        vkey: m.vkey,
        created_at: m.created_at,
    })
}

pub async fn insert_witness(c: &impl Conn, w: &Witness) -> StoreResult<()> {
    audit_witness::Entity::insert(audit_witness::ActiveModel {
        id: Set(w.id.clone()),
        org_id: Set(w.org_id.to_string()),
        name: Set(w.name.clone()),
        vkey: Set(w.vkey.clone()),
        created_at: Set(w.created_at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// One organization's witnesses, or every organization's (`None`).
pub async fn witnesses(c: &impl Conn, org: Option<OrgId>) -> StoreResult<Vec<Witness>> {
    let mut q = audit_witness::Entity::find().order_by_asc(audit_witness::Column::CreatedAt);
    if let Some(o) = org {
        q = q.filter(audit_witness::Column::OrgId.eq(o.to_string()));
    }
    q.all(c).await?.into_iter().map(witness_of).collect()
}

pub async fn delete_witness(c: &impl Conn, org: OrgId, id: &str) -> StoreResult<bool> {
    let res = audit_witness::Entity::delete_many()
        .filter(audit_witness::Column::OrgId.eq(org.to_string()))
        .filter(audit_witness::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Keeps a witness's signature line on the checkpoint of `size` (the first one it posted).
pub async fn insert_cosignature(
    c: &impl Conn,
    size: i64,
    witness: &str,
    line: &str,
    at_ms: i64,
) -> StoreResult<()> {
    let exists = audit_tree_cosignature::Entity::find_by_id((size, witness.to_string()))
        .one(c)
        .await?
        .is_some();
    if exists {
        return Ok(());
    }
    let inserted = audit_tree_cosignature::Entity::insert(audit_tree_cosignature::ActiveModel {
        size: Set(size),
        witness_id: Set(witness.to_string()),
        line: Set(line.to_string()),
        at_ms: Set(at_ms),
    })
    .exec_without_returning(c)
    .await;
    match inserted.map_err(StoreError::from) {
        // Posted meanwhile by another request: the first stays.
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The cosignatures of the checkpoint of `size`: (witness id, line), in the order they came.
pub async fn cosignatures(c: &impl Conn, size: i64) -> StoreResult<Vec<(String, String)>> {
    Ok(audit_tree_cosignature::Entity::find()
        .filter(audit_tree_cosignature::Column::Size.eq(size))
        .order_by_asc(audit_tree_cosignature::Column::AtMs)
        .all(c)
        .await?
        .into_iter()
        .map(|m| (m.witness_id, m.line))
        .collect())
}
