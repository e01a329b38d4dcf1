//! Witnesses of the audit log (issue 18). An organization registers the keys it trusts; each
//! runs `hub witness run` on the organization's own machine, which checks every new checkpoint
//! against the last one it saw (a consistency proof) and posts back its cosignature: an Ed25519
//! signed-note signature over the checkpoint's text. The hub keeps a cosignature only if the
//! text is exactly the checkpoint it signed for that size and the signature is by a registered
//! key; checkpoints are served with their cosignatures appended, so a verifier can require k of
//! its n witnesses. A witness that stops or goes away holds nothing up.

use serde_json::json;
use signed_note::{Note, StandardVerifier, Verifier, VerifierList};

use crate::access::OrgCtx;
use crate::audit::model::{TreeCheckpoint, Witness};
use crate::audit::{AuditAction, AuditEvent};
use crate::error::ServiceError;
use crate::state::AppState;
use crate::storage::{self, Conn, StoreError};

/// At most this many witnesses per organization.
const MAX_PER_ORG: usize = 20;

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddWitness {
    /// The witness's C2SP verifier key (`name+id+base64`, Ed25519), as `hub witness keygen`
    /// prints it.
    pub vkey: String,
}

/// The organization's own admin registers a witness key (the operator may not: a witness is
/// the organization's own check on the operator).
pub async fn add(
    state: &AppState,
    ctx: &OrgCtx,
    input: AddWitness,
) -> Result<Witness, ServiceError> {
    ctx.require_own_admin("a witness is the organization's own check on the operator")?;
    let vkey = input.vkey.trim();
    let verifier = StandardVerifier::new(vkey).map_err(|_| {
        ServiceError::invalid(
            "vkey",
            "not a signed-note Ed25519 verifier key (name+id+key, as `hub witness keygen` prints)",
        )
    })?;
    let name = verifier.name().to_string();
    let tx = state.store.begin().await?;
    let existing = storage::audit_tree::witnesses(tx.conn(), Some(ctx.org.id)).await?;
    if existing.len() >= MAX_PER_ORG {
        return Err(ServiceError::invalid("vkey", "at most 20 witnesses"));
    }
    if existing.iter().any(|w| w.vkey == vkey || w.name == name) {
        return Err(ServiceError::Conflict(format!(
            "a witness named {name:?} is registered already"
        )));
    }
    let w = Witness {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: ctx.org.id,
        name,
        vkey: vkey.to_string(),
        created_at: state.clock.now_ms(),
    };
    storage::audit_tree::insert_witness(tx.conn(), &w).await?;
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::WitnessAdded,
        format!("witness:{}", w.id),
    )
    .org(ctx.org.id)
    .details(json!({"name": w.name, "vkey": w.vkey}));
    state.commit_audited(tx, event).await?;
    Ok(w)
}

pub async fn list(state: &AppState, ctx: &OrgCtx) -> Result<Vec<Witness>, ServiceError> {
    Ok(storage::audit_tree::witnesses(state.store.conn(), Some(ctx.org.id)).await?)
}

pub async fn remove(state: &AppState, ctx: &OrgCtx, id: &str) -> Result<(), ServiceError> {
    ctx.require_own_admin("a witness is the organization's own check on the operator")?;
    let tx = state.store.begin().await?;
    if !storage::audit_tree::delete_witness(tx.conn(), ctx.org.id, id).await? {
        return Err(ServiceError::NotFound("witness"));
    }
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::WitnessRemoved,
        format!("witness:{id}"),
    )
    .org(ctx.org.id);
    state.commit_audited(tx, event).await?;
    Ok(())
}

/// Cosignature lines served on one checkpoint at most (signed-note readers refuse a note with
/// more than 100 signatures).
const MAX_SERVED: usize = 50;

/// The checkpoint's note with the cosignatures of `org`'s witnesses (`None`: every
/// organization's, for the operator), at most [`MAX_SERVED`]: an organization neither sees
/// others' witnesses nor can crowd them out of its note.
pub async fn cosigned(
    c: &impl Conn,
    cp: &TreeCheckpoint,
    org: Option<crate::ids::OrgId>,
) -> Result<String, StoreError> {
    let mut note = cp.note.clone();
    let ids: Vec<String> = storage::audit_tree::witnesses(c, org)
        .await?
        .into_iter()
        .map(|w| w.id)
        .collect();
    let lines = storage::audit_tree::cosignatures(c, cp.size).await?;
    let mut served: Vec<&str> = Vec::new();
    for (witness, line) in &lines {
        if ids.contains(witness) && !served.contains(&line.as_str()) && served.len() < MAX_SERVED {
            served.push(line);
        }
    }
    for line in served {
        note.push_str(line);
    }
    Ok(note)
}

/// The signatures on `note` by any of `witnesses` (`None` if none, or one is wrong).
fn verified_by(note: &Note, witnesses: &[Witness]) -> Option<Vec<signed_note::Signature>> {
    // One verifier per key: organizations may trust the same witness.
    let mut keys: Vec<&str> = witnesses.iter().map(|w| w.vkey.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let verifiers: Vec<Box<dyn Verifier>> = keys
        .into_iter()
        .filter_map(|k| StandardVerifier::new(k).ok())
        .map(|v| Box::new(v) as Box<dyn Verifier>)
        .collect();
    note.verify(&VerifierList::new(verifiers))
        .ok()
        .map(|(verified, _)| verified)
}

/// Keeps the registered witnesses' signatures on `posted`, a checkpoint of the log they
/// cosigned. Refused if its text is not the hub's checkpoint of that size (the witness saw
/// another view) or if no registered witness signed it. Returns how many were kept.
pub async fn cosign(state: &AppState, posted: &str) -> Result<usize, ServiceError> {
    let bad = |m: &str| ServiceError::invalid("checkpoint", m);
    if posted.len() > 64 * 1024 {
        return Err(bad("at most 64 KiB"));
    }
    let note = Note::from_bytes(posted.as_bytes()).map_err(|_| bad("not a signed note"))?;
    let text = std::str::from_utf8(note.text()).map_err(|_| bad("not UTF-8"))?;
    let size: i64 = text
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| bad("not a checkpoint (no size line)"))?;
    let c = state.store.conn();
    let cp = storage::audit_tree::checkpoint(c, Some(size))
        .await?
        .ok_or_else(|| bad("the log signed no checkpoint of that size"))?;
    let signed = Note::from_bytes(cp.note.as_bytes())
        .map_err(|_| ServiceError::Internal(format!("checkpoint {size} is not a signed note")))?;
    if signed.text() != note.text() {
        return Err(ServiceError::Conflict(
            "this is not the log's checkpoint of that size".into(),
        ));
    }
    let witnesses = storage::audit_tree::witnesses(c, None).await?;
    let verified = verified_by(&note, &witnesses)
        .ok_or_else(|| bad("no registered witness signed it (or a signature is wrong)"))?;
    let now = state.clock.now_ms();
    let tx = state.store.begin().await?;
    let mut kept = 0;
    for sig in &verified {
        let line = String::from_utf8_lossy(&sig.to_bytes()).into_owned();
        // Kept for every organization that registered the key.
        for w in witnesses.iter().filter(|w| {
            StandardVerifier::new(&w.vkey)
                .is_ok_and(|v| v.name() == sig.name() && v.key_id() == sig.id())
        }) {
            storage::audit_tree::insert_cosignature(tx.conn(), size, &w.id, &line, now).await?;
        }
        kept += 1;
    }
    tx.commit().await?;
    Ok(kept)
}
