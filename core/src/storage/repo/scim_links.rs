//! The id an application's SCIM service gave each person the hub addressed there. Keyed by the
//! application and the hub's own user id (both issued by the hub); the application may belong
//! to another organization than the person, so the key, not an organization, scopes a row.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::ids::{AppId, UserId};
use crate::storage::entities::outbound_scim_link::{ActiveModel, Column, Entity};
use crate::storage::{Conn, StoreResult};

/// The application's id for `user`, if the hub has learned it.
pub async fn get(c: &impl Conn, app: AppId, user: UserId) -> StoreResult<Option<String>> {
    Ok(Entity::find_by_id((app.to_string(), user.to_string()))
        .one(c)
        .await?
        .map(|m| m.remote_id))
}

/// Remembers the application's id for `user` (replacing an older one).
pub async fn put(
    c: &impl Conn,
    app: AppId,
    user: UserId,
    remote_id: &str,
    now: i64,
) -> StoreResult<()> {
    Entity::insert(ActiveModel {
        app_id: Set(app.to_string()),
        user_id: Set(user.to_string()),
        remote_id: Set(remote_id.to_string()),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([Column::AppId, Column::UserId])
            .update_columns([Column::RemoteId, Column::CreatedAt])
            .to_owned(),
    )
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// Forgets the application's id for `user` (the application deleted the user).
pub async fn forget(c: &impl Conn, app: AppId, user: UserId) -> StoreResult<()> {
    Entity::delete_many()
        .filter(Column::AppId.eq(app.to_string()))
        .filter(Column::UserId.eq(user.to_string()))
        .exec(c)
        .await?;
    Ok(())
}
