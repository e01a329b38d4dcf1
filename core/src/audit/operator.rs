//! The operator's reads of an organization's data are recorded to that organization: the
//! operator can look, but not without the organization seeing that it looked. One event per
//! request (`operator.read`), appended before the data is served; if it cannot be recorded,
//! nothing is served.

use serde_json::json;

use super::model::{AuditAction, AuditEvent};
use crate::access::Principal;
use crate::ids::OrgId;
use crate::state::AppState;
use crate::storage::StoreError;

/// Records that the operator behind `principal` read `what` (the request's method and route,
/// e.g. `GET /api/v1/orgs/{org}/users`) of each of `orgs`. Nothing for any other caller or for
/// no organization.
pub async fn record_read(
    state: &AppState,
    principal: &Principal,
    orgs: &[OrgId],
    what: &str,
) -> Result<(), StoreError> {
    if !principal.is_operator() || orgs.is_empty() {
        return Ok(());
    }
    let mut event = AuditEvent::new(
        &principal.actor(),
        AuditAction::OperatorRead,
        match orgs {
            [one] => format!("organization:{one}"),
            _ => "organizations".to_string(),
        },
    )
    .details(json!({"read": what}));
    for org in orgs {
        event = event.org(*org);
    }
    let tx = state.store.begin().await?;
    state.commit_audited(tx, event).await?;
    Ok(())
}
