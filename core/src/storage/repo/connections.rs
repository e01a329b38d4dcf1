//! Identity provider connections, identity links and upstream logins in flight.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::parse;
use crate::federation::model::{Connection, ConnectionKind, IdentityLink, UpstreamLogin};
use crate::ids::{ConnectionId, OrgId, UserId};
use crate::storage::entities::{connection, identity_link, saml_assertion, upstream_login};
use crate::storage::{Conn, StoreError, StoreResult};

impl TryFrom<connection::Model> for Connection {
    type Error = StoreError;
    fn try_from(m: connection::Model) -> Result<Self, StoreError> {
        let kind = parse(&m.kind, "connections")?;
        let corrupt = |_| StoreError::Corrupt("connections");
        let (oidc, saml) = match kind {
            ConnectionKind::Oidc => (
                Some(serde_json::from_str(&m.settings).map_err(corrupt)?),
                None,
            ),
            ConnectionKind::Saml => (
                None,
                Some(serde_json::from_str(&m.settings).map_err(corrupt)?),
            ),
        };
        Ok(Self {
            id: parse(&m.id, "connections")?,
            org_id: parse(&m.org_id, "connections")?,
            name: m.name,
            kind,
            status: parse(&m.status, "connections")?,
            domains: serde_json::from_str(&m.domains).map_err(corrupt)?,
            oidc,
            saml,
            secret_sealed: m.secret_sealed,
            jit_provisioning: m.jit_provisioning,
            require_email_verified: m.require_email_verified,
            created_at: m.created_at,
            updated_at: m.updated_at,
            links_approved_at: m.links_approved_at,
        })
    }
}

fn active_model(c: &Connection) -> StoreResult<connection::ActiveModel> {
    let settings = match (&c.oidc, &c.saml) {
        (Some(s), _) => serde_json::to_string(s),
        (None, Some(s)) => serde_json::to_string(s),
        (None, None) => Ok("{}".to_string()),
    }
    .map_err(|_| StoreError::Corrupt("connections"))?;
    Ok(connection::ActiveModel {
        id: Set(c.id.to_string()),
        org_id: Set(c.org_id.to_string()),
        name: Set(c.name.clone()),
        kind: Set(c.kind.as_str().to_string()),
        status: Set(c.status.as_str().to_string()),
        settings: Set(settings),
        domains: Set(
            serde_json::to_string(&c.domains).map_err(|_| StoreError::Corrupt("connections"))?
        ),
        secret_sealed: Set(c.secret_sealed.clone()),
        jit_provisioning: Set(c.jit_provisioning),
        require_email_verified: Set(c.require_email_verified),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
        links_approved_at: Set(c.links_approved_at),
    })
}

pub async fn insert(c: &impl Conn, conn: &Connection) -> StoreResult<()> {
    connection::Entity::insert(active_model(conn)?)
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// Rewrites every column but the identity and creation time.
pub async fn update(c: &impl Conn, conn: &Connection) -> StoreResult<()> {
    let mut row = active_model(conn)?;
    row.id = sea_orm::ActiveValue::Unchanged(conn.id.to_string());
    row.org_id = sea_orm::ActiveValue::NotSet;
    row.created_at = sea_orm::ActiveValue::NotSet;
    connection::Entity::update_many()
        .set(row)
        .filter(connection::Column::Id.eq(conn.id.to_string()))
        .filter(connection::Column::OrgId.eq(conn.org_id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn list(c: &impl Conn, org: OrgId) -> StoreResult<Vec<Connection>> {
    connection::Entity::find()
        .filter(connection::Column::OrgId.eq(org.to_string()))
        .order_by_asc(connection::Column::Name)
        .all(c)
        .await?
        .into_iter()
        .map(Connection::try_from)
        .collect()
}

pub async fn get(c: &impl Conn, org: OrgId, id: ConnectionId) -> StoreResult<Option<Connection>> {
    connection::Entity::find()
        .filter(connection::Column::Id.eq(id.to_string()))
        .filter(connection::Column::OrgId.eq(org.to_string()))
        .one(c)
        .await?
        .map(Connection::try_from)
        .transpose()
}

pub async fn find_by_name(
    c: &impl Conn,
    org: OrgId,
    name: &str,
) -> StoreResult<Option<Connection>> {
    connection::Entity::find()
        .filter(connection::Column::OrgId.eq(org.to_string()))
        .filter(connection::Column::Name.eq(name))
        .one(c)
        .await?
        .map(Connection::try_from)
        .transpose()
}

/// Deletes the connection and the identity links through it.
pub async fn delete(c: &impl Conn, org: OrgId, id: ConnectionId) -> StoreResult<bool> {
    identity_link::Entity::delete_many()
        .filter(identity_link::Column::ConnectionId.eq(id.to_string()))
        .filter(identity_link::Column::OrgId.eq(org.to_string()))
        .exec(c)
        .await?;
    let r = connection::Entity::delete_many()
        .filter(connection::Column::Id.eq(id.to_string()))
        .filter(connection::Column::OrgId.eq(org.to_string()))
        .exec(c)
        .await?;
    Ok(r.rows_affected > 0)
}

impl TryFrom<identity_link::Model> for IdentityLink {
    type Error = StoreError;
    fn try_from(m: identity_link::Model) -> Result<Self, StoreError> {
        Ok(Self {
            connection_id: parse(&m.connection_id, "identity_links")?,
            issuer: m.issuer,
            subject: m.subject,
            org_id: parse(&m.org_id, "identity_links")?,
            user_id: parse(&m.user_id, "identity_links")?,
            created_at: m.created_at,
            last_login_at: m.last_login_at,
        })
    }
}

pub async fn find_link(
    c: &impl Conn,
    org: OrgId,
    connection: ConnectionId,
    issuer: &str,
    subject: &str,
) -> StoreResult<Option<IdentityLink>> {
    identity_link::Entity::find()
        .filter(identity_link::Column::ConnectionId.eq(connection.to_string()))
        .filter(identity_link::Column::Issuer.eq(issuer))
        .filter(identity_link::Column::Subject.eq(subject))
        .filter(identity_link::Column::OrgId.eq(org.to_string()))
        .one(c)
        .await?
        .map(IdentityLink::try_from)
        .transpose()
}

pub async fn links_of_user(
    c: &impl Conn,
    org: OrgId,
    user: UserId,
) -> StoreResult<Vec<IdentityLink>> {
    identity_link::Entity::find()
        .filter(identity_link::Column::OrgId.eq(org.to_string()))
        .filter(identity_link::Column::UserId.eq(user.to_string()))
        .all(c)
        .await?
        .into_iter()
        .map(IdentityLink::try_from)
        .collect()
}

pub async fn insert_link(c: &impl Conn, l: &IdentityLink) -> StoreResult<()> {
    let row = identity_link::ActiveModel {
        connection_id: Set(l.connection_id.to_string()),
        issuer: Set(l.issuer.clone()),
        subject: Set(l.subject.clone()),
        org_id: Set(l.org_id.to_string()),
        user_id: Set(l.user_id.to_string()),
        created_at: Set(l.created_at),
        last_login_at: Set(l.last_login_at),
    };
    identity_link::Entity::insert(row)
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn touch_link(c: &impl Conn, l: &IdentityLink, at: i64) -> StoreResult<()> {
    identity_link::Entity::update_many()
        .set(identity_link::ActiveModel {
            last_login_at: Set(at),
            ..Default::default()
        })
        .filter(identity_link::Column::ConnectionId.eq(l.connection_id.to_string()))
        .filter(identity_link::Column::Issuer.eq(l.issuer.as_str()))
        .filter(identity_link::Column::Subject.eq(l.subject.as_str()))
        .filter(identity_link::Column::OrgId.eq(l.org_id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn insert_upstream_login(c: &impl Conn, l: &UpstreamLogin) -> StoreResult<()> {
    let row = upstream_login::ActiveModel {
        state_hash: Set(l.state_hash.clone()),
        org_id: Set(l.org_id.to_string()),
        connection_id: Set(l.connection_id.to_string()),
        auth_request_id: Set(l.auth_request_id.clone()),
        browser_hash: Set(l.browser_hash.clone()),
        connector_state: Set(l.connector_state.clone()),
        created_at: Set(l.created_at),
        expires_at: Set(l.expires_at),
    };
    upstream_login::Entity::insert(row)
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// Removes and returns the login with this state: each state is good for one callback.
pub async fn take_upstream_login(
    c: &impl Conn,
    state_hash: &str,
) -> StoreResult<Option<UpstreamLogin>> {
    let found = upstream_login::Entity::find_by_id(state_hash.to_string())
        .one(c)
        .await?;
    let Some(m) = found else {
        return Ok(None);
    };
    let r = upstream_login::Entity::delete_by_id(state_hash.to_string())
        .exec(c)
        .await?;
    if r.rows_affected == 0 {
        return Ok(None);
    }
    Ok(Some(UpstreamLogin {
        state_hash: m.state_hash,
        org_id: parse(&m.org_id, "upstream_logins")?,
        connection_id: parse(&m.connection_id, "upstream_logins")?,
        auth_request_id: m.auth_request_id,
        browser_hash: m.browser_hash,
        connector_state: m.connector_state,
        created_at: m.created_at,
        expires_at: m.expires_at,
    }))
}

/// A connection by its ID alone (the SAML endpoints carry it in their path).
pub async fn get_by_id(c: &impl Conn, id: ConnectionId) -> StoreResult<Option<Connection>> {
    connection::Entity::find_by_id(id.to_string())
        .one(c)
        .await?
        .map(Connection::try_from)
        .transpose()
}

/// Records a SAML assertion as used; `Ok(false)` if it was used already (a replay). Expired
/// records of the connection are dropped on the way.
pub async fn record_assertion(
    c: &impl Conn,
    connection: ConnectionId,
    assertion_id: &str,
    expires_at: i64,
    now: i64,
) -> StoreResult<bool> {
    saml_assertion::Entity::delete_many()
        .filter(saml_assertion::Column::ConnectionId.eq(connection.to_string()))
        .filter(saml_assertion::Column::ExpiresAt.lt(now))
        .exec(c)
        .await?;
    let row = saml_assertion::ActiveModel {
        connection_id: Set(connection.to_string()),
        assertion_id: Set(assertion_id.to_string()),
        expires_at: Set(expires_at),
    };
    match saml_assertion::Entity::insert(row)
        .exec_without_returning(c)
        .await
        .map_err(StoreError::from)
    {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}
