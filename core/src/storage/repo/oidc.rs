//! The OIDC provider's tables. Lookups by a token's hash are global by nature (the token names
//! itself); the caller then checks that the token's application and organization are the ones
//! that authenticated. Everything that acts on an organization's rows filters on `org_id`.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::parse;
use crate::ids::{AppId, OrgId, UserId};
use crate::sessions::model::{
    AuthParams, AuthRequest, AuthTarget, Code, RefreshToken, RevocationKind, Session, join_scope,
    split_scope,
};
use crate::storage::entities::{
    oidc_auth_request as ar, oidc_client_assertion as ca, oidc_code as code,
    oidc_refresh_token as rt, oidc_revocation as rv, oidc_session as sess, oidc_session_app as sa,
};
use crate::storage::{Conn, StoreError, StoreResult};

// ---- sessions

impl TryFrom<sess::Model> for Session {
    type Error = StoreError;
    fn try_from(m: sess::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: m.id,
            org_id: parse(&m.org_id, "oidc_sessions")?,
            user_id: parse(&m.user_id, "oidc_sessions")?,
            auth_time: m.auth_time,
            created_at: m.created_at,
            expires_at: m.expires_at,
            ended_at: m.ended_at,
        })
    }
}

pub async fn insert_session(c: &impl Conn, s: &Session, token_hash: &str) -> StoreResult<()> {
    let row = sess::ActiveModel {
        id: Set(s.id.clone()),
        org_id: Set(s.org_id.to_string()),
        user_id: Set(s.user_id.to_string()),
        token_hash: Set(token_hash.to_string()),
        auth_time: Set(s.auth_time),
        created_at: Set(s.created_at),
        expires_at: Set(s.expires_at),
        ended_at: Set(None),
        end_reason: Set(None),
    };
    sess::Entity::insert(row).exec_without_returning(c).await?;
    Ok(())
}

pub async fn session_by_token(c: &impl Conn, token_hash: &str) -> StoreResult<Option<Session>> {
    sess::Entity::find()
        .filter(sess::Column::TokenHash.eq(token_hash))
        .one(c)
        .await?
        .map(Session::try_from)
        .transpose()
}

pub async fn get_session(c: &impl Conn, org: OrgId, id: &str) -> StoreResult<Option<Session>> {
    sess::Entity::find()
        .filter(sess::Column::OrgId.eq(org.to_string()))
        .filter(sess::Column::Id.eq(id))
        .one(c)
        .await?
        .map(Session::try_from)
        .transpose()
}

/// A live session's person signed in again: a new token (the old cookie stops working) and the
/// new authentication time. Returns whether the session was live.
pub async fn reauthenticate_session(
    c: &impl Conn,
    org: OrgId,
    id: &str,
    token_hash: &str,
    auth_time: i64,
) -> StoreResult<bool> {
    let res = sess::Entity::update_many()
        .set(sess::ActiveModel {
            token_hash: Set(token_hash.to_string()),
            auth_time: Set(auth_time),
            ..Default::default()
        })
        .filter(sess::Column::OrgId.eq(org.to_string()))
        .filter(sess::Column::Id.eq(id))
        .filter(sess::Column::EndedAt.is_null())
        .filter(sess::Column::ExpiresAt.gt(auth_time))
        .exec(c)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Ends one live session; returns whether it was live.
pub async fn end_session(
    c: &impl Conn,
    org: OrgId,
    id: &str,
    at: i64,
    reason: &str,
) -> StoreResult<bool> {
    let res = sess::Entity::update_many()
        .set(sess::ActiveModel {
            ended_at: Set(Some(at)),
            end_reason: Set(Some(reason.to_string())),
            ..Default::default()
        })
        .filter(sess::Column::OrgId.eq(org.to_string()))
        .filter(sess::Column::Id.eq(id))
        .filter(sess::Column::EndedAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected > 0)
}

/// The ids of a user's live sessions.
pub async fn live_sessions_of(
    c: &impl Conn,
    org: OrgId,
    user: UserId,
    now: i64,
) -> StoreResult<Vec<String>> {
    Ok(sess::Entity::find()
        .filter(sess::Column::OrgId.eq(org.to_string()))
        .filter(sess::Column::UserId.eq(user.to_string()))
        .filter(sess::Column::EndedAt.is_null())
        .filter(sess::Column::ExpiresAt.gt(now))
        .all(c)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect())
}

/// Records that `app` received tokens in `session` (for back-channel logout).
pub async fn add_session_app(
    c: &impl Conn,
    org: OrgId,
    session: &str,
    app: AppId,
    at: i64,
) -> StoreResult<()> {
    let row = sa::ActiveModel {
        session_id: Set(session.to_string()),
        app_id: Set(app.to_string()),
        org_id: Set(org.to_string()),
        first_at: Set(at),
    };
    sa::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([sa::Column::SessionId, sa::Column::AppId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn session_apps(c: &impl Conn, org: OrgId, session: &str) -> StoreResult<Vec<AppId>> {
    sa::Entity::find()
        .filter(sa::Column::OrgId.eq(org.to_string()))
        .filter(sa::Column::SessionId.eq(session))
        .all(c)
        .await?
        .into_iter()
        .map(|m| parse(&m.app_id, "oidc_session_apps"))
        .collect()
}

// ---- authorization requests

pub async fn insert_auth_request(c: &impl Conn, r: &AuthRequest) -> StoreResult<()> {
    let row = ar::ActiveModel {
        id: Set(r.id.clone()),
        org_id: Set(r.org_id.to_string()),
        app_id: Set(r.target.as_stored()),
        browser_hash: Set(r.browser_hash.clone()),
        params: Set(serde_json::to_string(&r.params)
            .map_err(|_| StoreError::Corrupt("oidc_auth_requests"))?),
        created_at: Set(r.created_at),
        expires_at: Set(r.expires_at),
        source_hash: Set(r.source.clone()),
    };
    ar::Entity::insert(row).exec_without_returning(c).await?;
    Ok(())
}

/// Deletes the authorization requests that expired by `now`; returns how many.
pub async fn purge_auth_requests(c: &impl Conn, now: i64) -> StoreResult<u64> {
    let res = ar::Entity::delete_many()
        .filter(ar::Column::ExpiresAt.lte(now))
        .exec(c)
        .await?;
    Ok(res.rows_affected)
}

/// Pending (unexpired) authorization requests of `org`'s application `app`, and (across
/// organizations: an address is nobody's) from `source` if given.
pub async fn pending_auth_requests(
    c: &impl Conn,
    org: OrgId,
    app: AppId,
    source: Option<&str>,
    now: i64,
) -> StoreResult<(u64, u64)> {
    use sea_orm::PaginatorTrait;
    let of_app = ar::Entity::find()
        .filter(ar::Column::OrgId.eq(org.to_string()))
        .filter(ar::Column::AppId.eq(app.to_string()))
        .filter(ar::Column::ExpiresAt.gt(now))
        .count(c)
        .await?;
    let of_source = match source {
        Some(s) => {
            ar::Entity::find()
                .filter(ar::Column::SourceHash.eq(s))
                .filter(ar::Column::ExpiresAt.gt(now))
                .count(c)
                .await?
        }
        None => 0,
    };
    Ok((of_app, of_source))
}

pub async fn get_auth_request(c: &impl Conn, id: &str) -> StoreResult<Option<AuthRequest>> {
    let Some(m) = ar::Entity::find_by_id(id.to_string()).one(c).await? else {
        return Ok(None);
    };
    let params: AuthParams =
        serde_json::from_str(&m.params).map_err(|_| StoreError::Corrupt("oidc_auth_requests"))?;
    Ok(Some(AuthRequest {
        id: m.id,
        org_id: parse(&m.org_id, "oidc_auth_requests")?,
        target: AuthTarget::from_stored(&m.app_id)
            .ok_or(StoreError::Corrupt("oidc_auth_requests"))?,
        browser_hash: m.browser_hash,
        params,
        created_at: m.created_at,
        expires_at: m.expires_at,
        source: m.source_hash,
    }))
}

/// Deletes a request once used; returns whether it was still there (single use).
pub async fn delete_auth_request(c: &impl Conn, id: &str) -> StoreResult<bool> {
    let res = ar::Entity::delete_by_id(id.to_string()).exec(c).await?;
    Ok(res.rows_affected > 0)
}

// ---- codes

pub async fn insert_code(c: &impl Conn, k: &Code) -> StoreResult<()> {
    let row = code::ActiveModel {
        code_hash: Set(k.code_hash.clone()),
        org_id: Set(k.org_id.to_string()),
        app_id: Set(k.app_id.to_string()),
        grant_id: Set(k.grant_id.clone()),
        user_id: Set(k.user_id.to_string()),
        session_id: Set(k.session_id.clone()),
        redirect_uri: Set(k.redirect_uri.clone()),
        scope: Set(join_scope(&k.scope)),
        nonce: Set(k.nonce.clone()),
        code_challenge: Set(k.code_challenge.clone()),
        auth_time: Set(k.auth_time),
        created_at: Set(k.created_at),
        expires_at: Set(k.expires_at),
        used_at: Set(None),
    };
    code::Entity::insert(row).exec_without_returning(c).await?;
    Ok(())
}

// ---- refresh tokens

pub async fn insert_refresh(c: &impl Conn, t: &RefreshToken) -> StoreResult<()> {
    let row = rt::ActiveModel {
        token_hash: Set(t.token_hash.clone()),
        org_id: Set(t.org_id.to_string()),
        app_id: Set(t.app_id.to_string()),
        grant_id: Set(t.grant_id.clone()),
        user_id: Set(t.user_id.to_string()),
        session_id: Set(t.session_id.clone()),
        scope: Set(join_scope(&t.scope)),
        auth_time: Set(t.auth_time),
        created_at: Set(t.created_at),
        expires_at: Set(t.expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
    };
    rt::Entity::insert(row).exec_without_returning(c).await?;
    Ok(())
}

fn refresh_from(m: rt::Model) -> StoreResult<RefreshToken> {
    Ok(RefreshToken {
        token_hash: m.token_hash,
        org_id: parse(&m.org_id, "oidc_refresh_tokens")?,
        app_id: parse(&m.app_id, "oidc_refresh_tokens")?,
        grant_id: m.grant_id,
        user_id: parse(&m.user_id, "oidc_refresh_tokens")?,
        session_id: m.session_id,
        scope: split_scope(&m.scope),
        auth_time: m.auth_time,
        created_at: m.created_at,
        expires_at: m.expires_at,
        used_at: m.used_at,
        revoked_at: m.revoked_at,
    })
}

pub async fn get_refresh(c: &impl Conn, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
    rt::Entity::find_by_id(token_hash.to_string())
        .one(c)
        .await?
        .map(refresh_from)
        .transpose()
}

pub async fn lock_refresh(c: &impl Conn, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
    rt::Entity::find_by_id(token_hash.to_string())
        .lock_exclusive()
        .one(c)
        .await?
        .map(refresh_from)
        .transpose()
}

pub async fn mark_refresh_used(c: &impl Conn, token_hash: &str, at: i64) -> StoreResult<()> {
    rt::Entity::update_many()
        .set(rt::ActiveModel {
            used_at: Set(Some(at)),
            ..Default::default()
        })
        .filter(rt::Column::TokenHash.eq(token_hash))
        .exec(c)
        .await?;
    Ok(())
}

/// Lists `id` as revoked (a token, a grant, or a user's tokens issued up to `at`) until
/// `expires_at`, when nothing it covers can still be valid. A later revocation of the same id
/// moves `revoked_at` forward.
pub async fn add_revocation(
    c: &impl Conn,
    org: OrgId,
    kind: RevocationKind,
    id: &str,
    at_ms: i64,
    expires_at: i64,
) -> StoreResult<()> {
    let row = rv::ActiveModel {
        id: Set(id.to_string()),
        org_id: Set(org.to_string()),
        kind: Set(kind.as_str().to_string()),
        revoked_at: Set(at_ms),
        expires_at: Set(expires_at),
    };
    rv::Entity::insert(row)
        .on_conflict(
            OnConflict::column(rv::Column::Id)
                .update_columns([rv::Column::RevokedAt, rv::Column::ExpiresAt])
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// The revocations among `ids` (one query for an introspection): `(id, revoked_at)`.
pub async fn revocations(
    c: &impl Conn,
    org: OrgId,
    ids: &[&str],
) -> StoreResult<Vec<(String, i64)>> {
    Ok(rv::Entity::find()
        .filter(rv::Column::OrgId.eq(org.to_string()))
        .filter(rv::Column::Id.is_in(ids.iter().copied()))
        .all(c)
        .await?
        .into_iter()
        .map(|m| (m.id, m.revoked_at))
        .collect())
}

/// Revokes the live refresh tokens of `org` whose `column` equals `value`.
async fn revoke_refresh_where(
    c: &impl Conn,
    org: OrgId,
    column: rt::Column,
    value: impl Into<sea_orm::Value>,
    at_ms: i64,
) -> StoreResult<u64> {
    let res = rt::Entity::update_many()
        .set(rt::ActiveModel {
            revoked_at: Set(Some(at_ms)),
            ..Default::default()
        })
        .filter(rt::Column::OrgId.eq(org.to_string()))
        .filter(column.eq(value))
        .filter(rt::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected)
}

/// Revokes a grant: its refresh tokens, and (through the list) its access tokens. Returns how
/// many refresh tokens were live.
pub async fn revoke_grant(
    c: &impl Conn,
    org: OrgId,
    grant: &str,
    at_ms: i64,
    until: i64,
) -> StoreResult<u64> {
    let r = revoke_refresh_where(c, org, rt::Column::GrantId, grant, at_ms).await?;
    add_revocation(c, org, RevocationKind::Grant, grant, at_ms, until).await?;
    Ok(r)
}

/// Revokes every token of a user (suspension, deprovisioning): refresh tokens now, access
/// tokens issued up to now through the list. Returns how many refresh tokens were live.
pub async fn revoke_user_tokens(
    c: &impl Conn,
    org: OrgId,
    user: UserId,
    at_ms: i64,
    until: i64,
) -> StoreResult<u64> {
    let r = revoke_refresh_where(c, org, rt::Column::UserId, user.to_string(), at_ms).await?;
    add_revocation(
        c,
        org,
        RevocationKind::User,
        &user.to_string(),
        at_ms,
        until,
    )
    .await?;
    Ok(r)
}

/// The applications where `user` holds live refresh tokens (offline access included): they
/// are told when the person leaves, session or not.
pub async fn live_token_apps(
    c: &impl Conn,
    org: OrgId,
    user: UserId,
    now: i64,
) -> StoreResult<Vec<AppId>> {
    let mut apps: Vec<AppId> = rt::Entity::find()
        .select_only()
        .column(rt::Column::AppId)
        .distinct()
        .filter(rt::Column::OrgId.eq(org.to_string()))
        .filter(rt::Column::UserId.eq(user.to_string()))
        .filter(rt::Column::RevokedAt.is_null())
        .filter(rt::Column::ExpiresAt.gt(now))
        .into_tuple::<String>()
        .all(c)
        .await?
        .iter()
        .map(|a| parse(a, "oidc_refresh_tokens"))
        .collect::<StoreResult<_>>()?;
    apps.sort();
    apps.dedup();
    Ok(apps)
}

/// Revokes the refresh tokens bound to one session (logout; its access tokens die with the
/// session). Offline tokens survive.
pub async fn revoke_session_tokens(
    c: &impl Conn,
    org: OrgId,
    session: &str,
    at_ms: i64,
) -> StoreResult<u64> {
    let r = revoke_refresh_where(c, org, rt::Column::SessionId, session, at_ms).await?;
    Ok(r)
}

// ---- client assertions (private_key_jwt replay protection)

/// Records a client assertion's `jti`; `Conflict` means it was seen before (a replay).
pub async fn record_assertion(
    c: &impl Conn,
    jti: &str,
    client_id: &str,
    expires_at: i64,
) -> StoreResult<()> {
    let row = ca::ActiveModel {
        jti: Set(jti.to_string()),
        client_id: Set(client_id.to_string()),
        expires_at: Set(expires_at),
    };
    ca::Entity::insert(row).exec_without_returning(c).await?;
    Ok(())
}

// ---- the token endpoint's hot path: few round trips

/// Whether a code was redeemed now, had been redeemed before, or never existed.
pub enum Redeemed {
    Now(Code),
    Before(Code),
    OtherClient,
    Unknown,
}

fn code_from(m: code::Model) -> StoreResult<Code> {
    Ok(Code {
        code_hash: m.code_hash,
        org_id: parse(&m.org_id, "oidc_codes")?,
        app_id: parse(&m.app_id, "oidc_codes")?,
        grant_id: m.grant_id,
        user_id: parse(&m.user_id, "oidc_codes")?,
        session_id: m.session_id,
        redirect_uri: m.redirect_uri,
        scope: split_scope(&m.scope),
        nonce: m.nonce,
        code_challenge: m.code_challenge,
        auth_time: m.auth_time,
        created_at: m.created_at,
        expires_at: m.expires_at,
        used_at: m.used_at,
    })
}

/// Marks the code used in one statement (UPDATE ... RETURNING) if it was not and belongs to
/// `app`: a code is consumed by its client's first presentation, whatever the outcome of the
/// checks that follow. Another client's presentation leaves it untouched.
pub async fn redeem_code(
    c: &impl Conn,
    code_hash: &str,
    app: AppId,
    at_ms: i64,
) -> StoreResult<Redeemed> {
    let fresh = code::Entity::update_many()
        .set(code::ActiveModel {
            used_at: Set(Some(at_ms)),
            ..Default::default()
        })
        .filter(code::Column::CodeHash.eq(code_hash))
        .filter(code::Column::AppId.eq(app.to_string()))
        .filter(code::Column::UsedAt.is_null())
        .exec_with_returning(c)
        .await?;
    if let Some(m) = fresh.into_iter().next() {
        return Ok(Redeemed::Now(code_from(m)?));
    }
    Ok(
        match code::Entity::find_by_id(code_hash.to_string())
            .one(c)
            .await?
        {
            Some(m) if m.app_id != app.to_string() => Redeemed::OtherClient,
            Some(m) => Redeemed::Before(code_from(m)?),
            None => Redeemed::Unknown,
        },
    )
}

/// A person with their organization and, if asked, the state of one of their sessions.
pub struct SubjectContext {
    pub user: crate::users::model::User,
    pub org: crate::orgs::model::Organization,
    /// `(ended_at, expires_at)` of the session, if one was asked for and exists.
    pub session: Option<(Option<i64>, i64)>,
}

/// Loads user, organization and (optionally) session in one query.
pub async fn subject_context(
    c: &impl Conn,
    org: OrgId,
    user: UserId,
    session: Option<&str>,
) -> StoreResult<Option<SubjectContext>> {
    use sea_orm::{FromQueryResult, Statement};
    let backend = c.get_database_backend();
    let ph = |i: usize| match backend {
        sea_orm::DatabaseBackend::Postgres => format!("${i}"),
        _ => "?".to_string(),
    };
    let sql = format!(
        "SELECT u.*, o.slug AS o_slug, o.name AS o_name, o.status AS o_status, \
         o.created_at AS o_created_at, o.updated_at AS o_updated_at, \
         s.ended_at AS s_ended_at, s.expires_at AS s_expires_at \
         FROM users u JOIN organizations o ON o.id = u.org_id \
         LEFT JOIN oidc_sessions s ON s.id = {} AND s.org_id = u.org_id AND s.user_id = u.id \
         WHERE u.org_id = {} AND u.id = {}",
        ph(1),
        ph(2),
        ph(3)
    );
    let stmt = Statement::from_sql_and_values(
        backend,
        sql,
        [
            session.unwrap_or("").into(),
            org.to_string().into(),
            user.to_string().into(),
        ],
    );
    let Some(row) = c.query_one_raw(stmt).await? else {
        return Ok(None);
    };
    let user = crate::users::model::User::try_from(
        crate::storage::entities::user::Model::from_query_result(&row, "")?,
    )?;
    let org = crate::orgs::model::Organization {
        id: org,
        slug: row.try_get("", "o_slug")?,
        name: row.try_get("", "o_name")?,
        status: parse(&row.try_get::<String>("", "o_status")?, "organizations")?,
        created_at: row.try_get("", "o_created_at")?,
        updated_at: row.try_get("", "o_updated_at")?,
    };
    let expires: Option<i64> = row.try_get("", "s_expires_at")?;
    let ended: Option<i64> = row.try_get("", "s_ended_at")?;
    Ok(Some(SubjectContext {
        user,
        org,
        session: expires.map(|e| (ended, e)),
    }))
}

/// The people of `org` who reached any of `apps` (an application of another organization,
/// through a space): a live session that received its tokens, or a refresh token not revoked.
pub async fn users_at_apps(
    c: &impl Conn,
    org: OrgId,
    apps: &[AppId],
    now: i64,
) -> StoreResult<Vec<UserId>> {
    if apps.is_empty() {
        return Ok(Vec::new());
    }
    let app_ids: Vec<String> = apps.iter().map(|a| a.to_string()).collect();
    let mut users: Vec<String> = rt::Entity::find()
        .select_only()
        .column(rt::Column::UserId)
        .distinct()
        .filter(rt::Column::OrgId.eq(org.to_string()))
        .filter(rt::Column::AppId.is_in(app_ids.clone()))
        .filter(rt::Column::RevokedAt.is_null())
        .filter(rt::Column::ExpiresAt.gt(now))
        .into_tuple::<String>()
        .all(c)
        .await?;
    let sessions: Vec<String> = sa::Entity::find()
        .select_only()
        .column(sa::Column::SessionId)
        .distinct()
        .filter(sa::Column::OrgId.eq(org.to_string()))
        .filter(sa::Column::AppId.is_in(app_ids))
        .into_tuple::<String>()
        .all(c)
        .await?;
    for chunk in sessions.chunks(500) {
        users.extend(
            sess::Entity::find()
                .select_only()
                .column(sess::Column::UserId)
                .filter(sess::Column::OrgId.eq(org.to_string()))
                .filter(sess::Column::Id.is_in(chunk.iter().cloned()))
                .filter(sess::Column::EndedAt.is_null())
                .filter(sess::Column::ExpiresAt.gt(now))
                .into_tuple::<String>()
                .all(c)
                .await?,
        );
    }
    users.sort();
    users.dedup();
    users
        .iter()
        .map(|u| parse(u, "oidc_refresh_tokens"))
        .collect()
}

/// Revokes what `user` holds at one application: every grant issued there recently enough to
/// have live access tokens, or still holding refresh tokens (offline ones too). The hub
/// session stays (it is the person's own) but no longer counts as having reached the
/// application, which was told already. Returns whether anything was live.
pub async fn revoke_user_at_app(
    c: &impl Conn,
    org: OrgId,
    user: UserId,
    app: AppId,
    at_ms: i64,
    access_ttl_ms: i64,
) -> StoreResult<bool> {
    let mut grants: Vec<String> = rt::Entity::find()
        .select_only()
        .column(rt::Column::GrantId)
        .distinct()
        .filter(rt::Column::OrgId.eq(org.to_string()))
        .filter(rt::Column::UserId.eq(user.to_string()))
        .filter(rt::Column::AppId.eq(app.to_string()))
        .filter(rt::Column::RevokedAt.is_null())
        .into_tuple::<String>()
        .all(c)
        .await?;
    // A code's access tokens live at most the access token lifetime after its redemption,
    // which comes before the code expires.
    grants.extend(
        code::Entity::find()
            .select_only()
            .column(code::Column::GrantId)
            .filter(code::Column::OrgId.eq(org.to_string()))
            .filter(code::Column::UserId.eq(user.to_string()))
            .filter(code::Column::AppId.eq(app.to_string()))
            .filter(code::Column::ExpiresAt.gt(at_ms - access_ttl_ms))
            .into_tuple::<String>()
            .all(c)
            .await?,
    );
    grants.sort();
    grants.dedup();
    let until = at_ms + access_ttl_ms;
    for g in &grants {
        revoke_grant(c, org, g, at_ms, until).await?;
    }
    let sessions: Vec<String> = sess::Entity::find()
        .select_only()
        .column(sess::Column::Id)
        .filter(sess::Column::OrgId.eq(org.to_string()))
        .filter(sess::Column::UserId.eq(user.to_string()))
        .into_tuple::<String>()
        .all(c)
        .await?;
    for chunk in sessions.chunks(500) {
        sa::Entity::delete_many()
            .filter(sa::Column::OrgId.eq(org.to_string()))
            .filter(sa::Column::AppId.eq(app.to_string()))
            .filter(sa::Column::SessionId.is_in(chunk.iter().cloned()))
            .exec(c)
            .await?;
    }
    Ok(!grants.is_empty())
}
