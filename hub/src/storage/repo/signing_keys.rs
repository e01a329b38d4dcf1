//! The hub's own signing keys (private halves sealed by `SecretBox`).

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::signing::StoredKey;
use crate::storage::entities::signing_key::{ActiveModel, Column, Entity, Model};
use crate::storage::{Conn, StoreResult};

impl From<Model> for StoredKey {
    fn from(m: Model) -> Self {
        Self {
            kid: m.kid,
            purpose: m.purpose,
            alg: m.alg,
            public_key: m.public_key,
            private_key_sealed: m.private_key_sealed,
            created_at: m.created_at,
            retired_at: m.retired_at,
        }
    }
}

pub async fn active(c: &impl Conn, purpose: &str) -> StoreResult<Option<StoredKey>> {
    Ok(Entity::find()
        .filter(Column::Purpose.eq(purpose))
        .filter(Column::RetiredAt.is_null())
        .one(c)
        .await?
        .map(StoredKey::from))
}

pub async fn get(c: &impl Conn, kid: &str) -> StoreResult<Option<StoredKey>> {
    Ok(Entity::find_by_id(kid.to_string())
        .one(c)
        .await?
        .map(StoredKey::from))
}

/// Inserts a key; a concurrent replica inserting first makes this fail with `Conflict`.
pub async fn insert(c: &impl Conn, k: &StoredKey) -> StoreResult<()> {
    let row = ActiveModel {
        kid: Set(k.kid.clone()),
        purpose: Set(k.purpose.clone()),
        alg: Set(k.alg.clone()),
        public_key: Set(k.public_key.clone()),
        private_key_sealed: Set(k.private_key_sealed.clone()),
        created_at: Set(k.created_at),
        retired_at: Set(k.retired_at),
    };
    Entity::insert(row).exec_without_returning(c).await?;
    Ok(())
}
