//! Applications' own evidence (issue 18): an application of a space appends what people did in
//! it ("document v3 uploaded", "message deleted") to the audit log, as an event of every party
//! of the space at that moment (the owner and each organization whose grant is in force), so
//! each can later prove what happened and when with the log's inclusion proofs; an
//! organization outside the space sees nothing of it.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::model::{Actor, AuditRecord};
use crate::audit::{AuditAction, AuditEvent};
use crate::error::{FieldError, ServiceError};
use crate::ids::OrgId;
use crate::orgs::model::Application;
use crate::spaces::model::GrantStatus;
use crate::state::AppState;
use crate::storage;

/// The largest `data` an application may attach (its JSON encoding).
pub const MAX_DATA_BYTES: usize = 4096;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordEvidence {
    /// The space (slug or id) the application serves.
    pub space: String,
    /// What happened, dotted lowercase words, e.g. `document.uploaded`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who did it: the `sub` the application was given for the person (optional).
    pub subject: Option<String>,
    /// The application's own details, a JSON object of at most 4 KiB.
    #[schema(value_type = Object)]
    pub data: Value,
}

fn kind_ok(k: &str) -> bool {
    (1..=64).contains(&k.len())
        && k.split('.').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        })
}

/// The target of a space's evidence events.
pub fn target(space: crate::ids::SpaceId) -> String {
    format!("space:{space}")
}

/// Appends `input` for `app`, authenticated as itself. The space must be one `app` serves.
pub async fn record(
    state: &AppState,
    app: &Application,
    input: RecordEvidence,
) -> Result<AuditRecord, ServiceError> {
    let mut errors = Vec::new();
    if !kind_ok(&input.kind) {
        errors.push(FieldError::new(
            "type",
            "dotted lowercase words (a-z, 0-9, _ and -), at most 64 characters",
        ));
    }
    let size = serde_json::to_vec(&input.data).map_or(usize::MAX, |v| v.len());
    if !input.data.is_object() || size > MAX_DATA_BYTES {
        errors.push(FieldError::new(
            "data",
            "a JSON object of at most 4096 bytes",
        ));
    }
    if input
        .subject
        .as_ref()
        .is_some_and(|s| s.is_empty() || s.len() > 255)
    {
        errors.push(FieldError::new("subject", "1 to 255 characters"));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let c = state.store.conn();
    let space = storage::spaces::get(c, app.org_id, &input.space)
        .await?
        .filter(|s| s.apps.contains(&app.id))
        .ok_or(ServiceError::NotFound("space"))?;
    if let Some(sub) = &input.subject
        && crate::spaces::release::resolve(c, app, sub)
            .await?
            .is_none()
    {
        return Err(ServiceError::invalid(
            "subject",
            "not a subject this application was given",
        ));
    }
    let now = state.clock.now_ms();
    let mut parties: Vec<OrgId> = vec![space.org_id];
    for g in storage::spaces::grants_of_space(c, space.org_id, space.id).await? {
        if g.status == GrantStatus::Accepted
            && g.expires_at.is_none_or(|e| e > now)
            && !parties.contains(&g.partner_org_id)
        {
            parties.push(g.partner_org_id);
        }
    }
    let actor = Actor::Application {
        org_id: app.org_id,
        app_id: app.id,
        client_id: app.client_id.clone(),
    };
    let mut event = AuditEvent::new(&actor, AuditAction::EvidenceRecorded, target(space.id))
        .details(
            json!({"space": space.slug, "type": input.kind, "subject": input.subject,
            "data": input.data}),
        );
    for p in parties {
        event = event.org(p);
    }
    let tx = state.store.begin().await?;
    Ok(state.commit_audited(tx, event).await?)
}

/// The space `org` is or was a party of (its owner, or the partner of one of its grants), by
/// id; not found for anyone else.
pub async fn party_space(
    c: &impl crate::storage::Conn,
    org: OrgId,
    space: &str,
) -> Result<crate::ids::SpaceId, ServiceError> {
    let id: crate::ids::SpaceId = space.parse().map_err(|_| ServiceError::NotFound("space"))?;
    if storage::spaces::get(c, org, space).await?.is_some() {
        return Ok(id);
    }
    if storage::spaces::invitations(c, org)
        .await?
        .iter()
        .any(|g| g.space_id == id)
    {
        return Ok(id);
    }
    Err(ServiceError::NotFound("space"))
}
