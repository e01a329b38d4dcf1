//! The hub's own signing keys (private halves sealed by `SecretBox`), by purpose and generation.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::signing::model::StoredKey;
use crate::storage::entities::signing_key::{ActiveModel, Column, Entity, Model};
use crate::storage::{Conn, StoreResult};

impl From<Model> for StoredKey {
    fn from(m: Model) -> Self {
        Self {
            kid: m.kid,
            purpose: m.purpose,
            alg: m.alg,
            generation: m.generation,
            public_key: m.public_key,
            private_key_sealed: m.private_key_sealed,
            created_at: m.created_at,
            not_before: m.not_before,
            retired_at: m.retired_at,
        }
    }
}

/// The key that signs for `purpose` at `now`: the newest generation already usable.
pub async fn current(c: &impl Conn, purpose: &str, now: i64) -> StoreResult<Option<StoredKey>> {
    Ok(Entity::find()
        .filter(Column::Purpose.eq(purpose))
        .filter(Column::NotBefore.lte(now))
        .order_by_desc(Column::Generation)
        .one(c)
        .await?
        .map(StoredKey::from))
}

/// Keys of `purpose` still to publish at `now`: every key not retired before `now - retention`.
pub async fn published(
    c: &impl Conn,
    purpose: &str,
    now: i64,
    retention_ms: i64,
) -> StoreResult<Vec<StoredKey>> {
    Ok(Entity::find()
        .filter(Column::Purpose.eq(purpose))
        .filter(
            Condition::any()
                .add(Column::RetiredAt.is_null())
                .add(Column::RetiredAt.gt(now - retention_ms)),
        )
        .order_by_desc(Column::Generation)
        .all(c)
        .await?
        .into_iter()
        .map(StoredKey::from)
        .collect())
}

pub async fn by_generation(
    c: &impl Conn,
    purpose: &str,
    generation: i64,
) -> StoreResult<Option<StoredKey>> {
    Ok(Entity::find()
        .filter(Column::Purpose.eq(purpose))
        .filter(Column::Generation.eq(generation))
        .one(c)
        .await?
        .map(StoredKey::from))
}

pub async fn latest_generation(c: &impl Conn, purpose: &str) -> StoreResult<i64> {
    Ok(Entity::find()
        .filter(Column::Purpose.eq(purpose))
        .order_by_desc(Column::Generation)
        .limit(1)
        .one(c)
        .await?
        .map_or(0, |m| m.generation))
}

/// Marks every older generation of `purpose` as retired from `at` (when the new one takes over).
pub async fn retire_before(
    c: &impl Conn,
    purpose: &str,
    generation: i64,
    at: i64,
) -> StoreResult<()> {
    Entity::update_many()
        .set(ActiveModel {
            retired_at: Set(Some(at)),
            ..Default::default()
        })
        .filter(Column::Purpose.eq(purpose))
        .filter(Column::Generation.lt(generation))
        .filter(Column::RetiredAt.is_null())
        .exec(c)
        .await?;
    Ok(())
}

pub async fn get(c: &impl Conn, kid: &str) -> StoreResult<Option<StoredKey>> {
    Ok(Entity::find_by_id(kid.to_string())
        .one(c)
        .await?
        .map(StoredKey::from))
}

/// Inserts a key; an existing (purpose, generation) makes this fail with `Conflict`.
pub async fn insert(c: &impl Conn, k: &StoredKey) -> StoreResult<()> {
    let row = ActiveModel {
        kid: Set(k.kid.clone()),
        purpose: Set(k.purpose.clone()),
        alg: Set(k.alg.clone()),
        generation: Set(k.generation),
        public_key: Set(k.public_key.clone()),
        private_key_sealed: Set(k.private_key_sealed.clone()),
        created_at: Set(k.created_at),
        not_before: Set(k.not_before),
        retired_at: Set(k.retired_at),
    };
    Entity::insert(row).exec_without_returning(c).await?;
    Ok(())
}
