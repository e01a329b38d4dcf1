//! The audit log tables: events, their organization scopes, the chain head and checkpoints.
//! Hashing and verification live in `crate::audit`; this file only moves rows.

use sea_orm::sea_query::Query;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::audit::model::{AuditRecord, Checkpoint};
use crate::ids::OrgId;
use crate::storage::entities::{audit_checkpoint, audit_event, audit_event_org, audit_head};
use crate::storage::{Conn, StoreError, StoreResult};

/// What a listing may see: everything (operator) or the events that concern one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    Org(OrgId),
}

/// Reads the chain head, locking it until the transaction ends (FOR UPDATE on PostgreSQL;
/// SQLite writers are already serialized by `Store::begin`).
pub async fn lock_head(c: &impl Conn) -> StoreResult<(i64, String)> {
    let head = audit_head::Entity::find_by_id(1)
        .lock_exclusive()
        .one(c)
        .await?
        .ok_or(StoreError::Corrupt("audit_head"))?;
    Ok((head.seq, head.hash))
}

pub async fn head(c: &impl Conn) -> StoreResult<(i64, String)> {
    let head = audit_head::Entity::find_by_id(1)
        .one(c)
        .await?
        .ok_or(StoreError::Corrupt("audit_head"))?;
    Ok((head.seq, head.hash))
}

pub async fn set_head(c: &impl Conn, seq: i64, hash: &str) -> StoreResult<()> {
    audit_head::Entity::update_many()
        .set(audit_head::ActiveModel {
            seq: Set(seq),
            hash: Set(hash.to_string()),
            ..Default::default()
        })
        .filter(audit_head::Column::Id.eq(1))
        .exec(c)
        .await?;
    Ok(())
}

/// Rows per multi-row insert: well under SQLite's and PostgreSQL's bound-parameter limits.
const INSERT_CHUNK: usize = 500;

/// Writes chained records and their organization scopes, in multi-row inserts.
pub async fn insert_many(c: &impl Conn, records: &[AuditRecord]) -> StoreResult<()> {
    for chunk in records.chunks(INSERT_CHUNK) {
        let rows = chunk.iter().map(|r| audit_event::ActiveModel {
            seq: Set(r.seq),
            id: Set(r.id.to_string()),
            at_ms: Set(r.at_ms),
            actor: Set(r.actor.to_string()),
            orgs: Set(r.orgs_raw.clone()),
            action: Set(r.action.clone()),
            target: Set(r.target.clone()),
            details: Set(r.details.to_string()),
            prev_hash: Set(r.prev_hash.clone()),
            hash: Set(r.hash.clone()),
        });
        audit_event::Entity::insert_many(rows)
            .exec_without_returning(c)
            .await?;
    }
    let scopes: Vec<audit_event_org::ActiveModel> = records
        .iter()
        .flat_map(|r| {
            r.orgs.iter().map(|o| audit_event_org::ActiveModel {
                seq: Set(r.seq),
                org_id: Set(o.to_string()),
            })
        })
        .collect();
    for chunk in scopes.chunks(INSERT_CHUNK) {
        audit_event_org::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(c)
            .await?;
    }
    Ok(())
}

/// A stored JSON column; text that is no longer JSON is kept as a string, so verification
/// reports the row as edited instead of failing to read it.
fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}

impl From<audit_event::Model> for AuditRecord {
    fn from(m: audit_event::Model) -> Self {
        let orgs = serde_json::from_str::<Vec<String>>(&m.orgs)
            .unwrap_or_default()
            .iter()
            .filter_map(|o| o.parse().ok())
            .collect();
        Self {
            seq: m.seq,
            id: m.id,
            at_ms: m.at_ms,
            actor: json(&m.actor),
            orgs,
            orgs_raw: m.orgs,
            action: m.action,
            target: m.target,
            details: json(&m.details),
            prev_hash: m.prev_hash,
            hash: m.hash,
            redacted: false,
        }
    }
}

/// Events after `after_seq` in sequence order, at most `limit`, within `scope`.
pub async fn list(
    c: &impl Conn,
    scope: Scope,
    after_seq: i64,
    limit: u64,
    action: Option<&str>,
) -> StoreResult<Vec<AuditRecord>> {
    let mut q = audit_event::Entity::find()
        .filter(audit_event::Column::Seq.gt(after_seq))
        .order_by_asc(audit_event::Column::Seq)
        .limit(limit);
    if let Scope::Org(org) = scope {
        q = q.filter(
            audit_event::Column::Seq.in_subquery(
                Query::select()
                    .column(audit_event_org::Column::Seq)
                    .from(audit_event_org::Entity)
                    .and_where(audit_event_org::Column::OrgId.eq(org.to_string()))
                    .to_owned(),
            ),
        );
    }
    if let Some(action) = action {
        q = q.filter(audit_event::Column::Action.eq(action));
    }
    Ok(q.all(c).await?.into_iter().map(AuditRecord::from).collect())
}

/// The organization scopes recorded for events in `(after_seq, upto_seq]`, for verification.
pub async fn scopes(
    c: &impl Conn,
    after_seq: i64,
    upto_seq: i64,
) -> StoreResult<Vec<(i64, String)>> {
    Ok(audit_event_org::Entity::find()
        .filter(audit_event_org::Column::Seq.gt(after_seq))
        .filter(audit_event_org::Column::Seq.lte(upto_seq))
        .order_by_asc(audit_event_org::Column::Seq)
        .order_by_asc(audit_event_org::Column::OrgId)
        .all(c)
        .await?
        .into_iter()
        .map(|m| (m.seq, m.org_id))
        .collect())
}

pub async fn count(c: &impl Conn) -> StoreResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(audit_event::Entity::find().count(c).await?)
}

pub async fn insert_checkpoint(c: &impl Conn, cp: &Checkpoint) -> StoreResult<()> {
    let row = audit_checkpoint::ActiveModel {
        seq: Set(cp.seq),
        hash: Set(cp.hash.clone()),
        at_ms: Set(cp.at_ms),
        key_id: Set(cp.key_id.clone()),
        signature: Set(cp.signature.clone()),
    };
    audit_checkpoint::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(audit_checkpoint::Column::Seq)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn checkpoints(c: &impl Conn) -> StoreResult<Vec<Checkpoint>> {
    Ok(audit_checkpoint::Entity::find()
        .order_by_asc(audit_checkpoint::Column::Seq)
        .all(c)
        .await?
        .into_iter()
        .map(|m| Checkpoint {
            seq: m.seq,
            hash: m.hash,
            at_ms: m.at_ms,
            key_id: m.key_id,
            signature: m.signature,
        })
        .collect())
}

pub async fn latest_checkpoint_seq(c: &impl Conn) -> StoreResult<i64> {
    Ok(audit_checkpoint::Entity::find()
        .order_by_desc(audit_checkpoint::Column::Seq)
        .one(c)
        .await?
        .map_or(0, |m| m.seq))
}
