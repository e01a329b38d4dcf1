//! `/api/v1/orgs/{org}/spaces`, `/invitations`, `/access-review`: spaces with access across
//! organizations by mutual consent. The owner creates a space, names the applications that
//! serve it and proposes grants; the partner's admin sees them as invitations and accepts or
//! declines; either side withdraws. Each step is one audit event both organizations see.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::ms_to_rfc3339;
use crate::error::{ApiError, Problem};
use crate::http::extract::{AppJson, OrgCtx};
use crate::orgs::model::Organization;
use crate::orgs::model::Release;
use crate::spaces::{
    self, Admitted, CreateSpace, Decision, Grant, GrantStatus, ProposeGrant, Recertify, Settled,
    Side, Space, UpdateGrant, UpdateSpace, Widening,
};
use crate::state::AppState;
use crate::storage;

#[derive(Serialize, ToSchema)]
pub struct SpaceView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// Ids of the applications that serve the space.
    pub applications: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Space> for SpaceView {
    fn from(s: Space) -> Self {
        Self {
            id: s.id.to_string(),
            slug: s.slug,
            name: s.name,
            description: s.description,
            applications: s.apps.iter().map(ToString::to_string).collect(),
            created_at: ms_to_rfc3339(s.created_at),
            updated_at: ms_to_rfc3339(s.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SubjectView {
    /// organization (everyone), group or user.
    pub kind: &'static str,
    /// The group's display name or the person's email; empty for the whole organization.
    pub value: String,
}

#[derive(Serialize, ToSchema)]
pub struct GrantView {
    pub id: String,
    pub space_id: String,
    /// The space's owner, by id.
    pub owner_id: String,
    /// Whose people it admits, by id.
    pub organization_id: String,
    pub subject: SubjectView,
    pub status: GrantStatus,
    pub proposed_at: String,
    pub decided_at: Option<String>,
    pub withdrawn_at: Option<String>,
    /// The organization that withdrew it, by id.
    pub withdrawn_by: Option<String>,
    /// What the owner asks to learn about the people admitted.
    pub requested: Release,
    /// What the partner's admin consented to (applications learn what is both asked and
    /// consented).
    pub consented: Release,
    /// The applications of the space the partner consented for, by id.
    pub applications: Vec<String>,
    /// What the owner asks beyond the partner's consent: waiting for the partner's admin to
    /// accept again (until then, nothing of it applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awaiting_consent: Option<Widening>,
    pub valid_days: Option<i64>,
    pub expires_at: Option<String>,
    /// Within the review window: both sides are asked to recertify.
    pub in_review: bool,
    pub reviews: Vec<spaces::model::Review>,
    /// In answers that withdrew access in force: people who lost it at the applications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people_lost_access: Option<usize>,
}

impl GrantView {
    /// The grant, with what it waits for given its space.
    fn of(g: Grant, space: Option<&Space>, now: i64) -> Self {
        let awaiting_consent = space.and_then(|s| g.widened(s));
        let in_review = g.in_review(now);
        let mut v = Self::from(g);
        v.awaiting_consent = awaiting_consent;
        v.in_review = in_review;
        v
    }
}

impl From<Grant> for GrantView {
    fn from(g: Grant) -> Self {
        Self {
            requested: g.requested,
            consented: g.consent.release,
            applications: g.consent.apps.iter().map(ToString::to_string).collect(),
            awaiting_consent: None,
            valid_days: g.valid_days,
            expires_at: g.expires_at.map(ms_to_rfc3339),
            in_review: false,
            reviews: g.reviews,
            id: g.id.to_string(),
            space_id: g.space_id.to_string(),
            owner_id: g.org_id.to_string(),
            organization_id: g.partner_org_id.to_string(),
            subject: SubjectView {
                kind: g.subject.kind(),
                value: g.subject.value().to_string(),
            },
            status: g.status,
            proposed_at: ms_to_rfc3339(g.proposed_at),
            decided_at: g.decided_at.map(ms_to_rfc3339),
            withdrawn_at: g.withdrawn_at.map(ms_to_rfc3339),
            withdrawn_by: g.withdrawn_by.map(|o| o.to_string()),
            people_lost_access: None,
        }
    }
}

fn settled_view(g: Grant, s: Settled) -> GrantView {
    let mut v = GrantView::from(g);
    v.people_lost_access = Some(s.people);
    v
}

/// An invitation as the partner sees it: the grant, the space, and who owns it.
#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    #[serde(flatten)]
    pub grant: GrantView,
    pub space_slug: Option<String>,
    pub space_name: Option<String>,
    pub space_description: Option<String>,
    pub owner_slug: Option<String>,
    pub owner_name: Option<String>,
}

impl InvitationView {
    fn new(g: Grant, space: Option<Space>, owner: Option<Organization>, now: i64) -> Self {
        Self {
            grant: GrantView::of(g, space.as_ref(), now),
            space_slug: space.as_ref().map(|s| s.slug.clone()),
            space_name: space.as_ref().map(|s| s.name.clone()),
            space_description: space.map(|s| s.description),
            owner_slug: owner.as_ref().map(|o| o.slug.clone()),
            owner_name: owner.map(|o| o.name),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/spaces", tag = "spaces",
    params(("org" = String, Path)), responses((status = 200, body = [SpaceView]), (status = 404, body = Problem)))]
pub async fn list_spaces(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<Vec<SpaceView>>, ApiError> {
    let list = spaces::list(&state, &ctx).await?;
    Ok(Json(list.into_iter().map(SpaceView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/spaces", tag = "spaces",
    request_body = CreateSpace, params(("org" = String, Path)),
    responses((status = 201, body = SpaceView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_space(
    State(state): State<AppState>,
    ctx: OrgCtx,
    AppJson(input): AppJson<CreateSpace>,
) -> Result<(StatusCode, Json<SpaceView>), ApiError> {
    let space = spaces::create(&state, &ctx, input).await?;
    Ok((StatusCode::CREATED, Json(space.into())))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/spaces/{space}", tag = "spaces",
    params(("org" = String, Path), ("space" = String, Path, description = "id or slug")),
    responses((status = 200, body = SpaceView), (status = 404, body = Problem)))]
pub async fn get_space(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<SpaceView>, ApiError> {
    Ok(Json(spaces::get(&state, &ctx, &name).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/orgs/{org}/spaces/{space}", tag = "spaces",
    request_body = UpdateSpace, params(("org" = String, Path), ("space" = String, Path)),
    responses((status = 200, body = SpaceView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_space(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, name)): Path<(String, String)>,
    AppJson(input): AppJson<UpdateSpace>,
) -> Result<Json<SpaceView>, ApiError> {
    let (space, _) = spaces::update(&state, &ctx, &name, input).await?;
    Ok(Json(space.into()))
}

/// Deletes the space; every grant ends and its applications stop admitting its partners.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/spaces/{space}", tag = "spaces",
    params(("org" = String, Path), ("space" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_space(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    spaces::delete(&state, &ctx, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/spaces/{space}/grants", tag = "spaces",
    params(("org" = String, Path), ("space" = String, Path)),
    responses((status = 200, body = [GrantView]), (status = 404, body = Problem)))]
pub async fn list_grants(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<Vec<GrantView>>, ApiError> {
    let space = spaces::get(&state, &ctx, &name).await?;
    let list = spaces::grants(&state, &ctx, &name).await?;
    let now = state.clock.now_ms();
    Ok(Json(
        list.into_iter()
            .map(|g| GrantView::of(g, Some(&space), now))
            .collect(),
    ))
}

/// Proposes admitting people of another organization: pending until its admin accepts.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/spaces/{space}/grants", tag = "spaces",
    request_body = ProposeGrant, params(("org" = String, Path), ("space" = String, Path)),
    responses((status = 201, body = GrantView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn propose_grant(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, name)): Path<(String, String)>,
    AppJson(input): AppJson<ProposeGrant>,
) -> Result<(StatusCode, Json<GrantView>), ApiError> {
    let grant = spaces::propose(&state, &ctx, &name, input).await?;
    Ok((StatusCode::CREATED, Json(grant.into())))
}

/// The owner changes what a grant asks: narrower at once, wider once the partner's admin
/// accepts again.
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/spaces/{space}/grants/{grant_id}", tag = "spaces",
    request_body = UpdateGrant, params(("org" = String, Path), ("space" = String, Path), ("grant_id" = String, Path)),
    responses((status = 200, body = GrantView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_grant(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, name, id)): Path<(String, String, String)>,
    AppJson(input): AppJson<UpdateGrant>,
) -> Result<Json<GrantView>, ApiError> {
    let g = spaces::update_grant(&state, &ctx, &name, &id, input).await?;
    let space = spaces::get(&state, &ctx, &name).await?;
    Ok(Json(GrantView::of(g, Some(&space), state.clock.now_ms())))
}

/// The owner recertifies a grant in its review window (`keep` or `end`).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/spaces/{space}/grants/{grant_id}/review", tag = "spaces",
    request_body = Recertify, params(("org" = String, Path), ("space" = String, Path), ("grant_id" = String, Path)),
    responses((status = 200, body = GrantView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn review_grant(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, name, id)): Path<(String, String, String)>,
    AppJson(input): AppJson<Recertify>,
) -> Result<Json<GrantView>, ApiError> {
    let space = spaces::get(&state, &ctx, &name).await?;
    let (g, s) = spaces::recertify(&state, &ctx, Side::Owner, &id, input).await?;
    if g.space_id != space.id {
        return Err(ApiError::not_found("grant"));
    }
    Ok(Json(settled_view(g, s)))
}

/// The partner's admin recertifies its people's access (`keep` or `end`).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/invitations/{grant_id}/review", tag = "spaces",
    request_body = Recertify, params(("org" = String, Path), ("grant_id" = String, Path)),
    responses((status = 200, body = GrantView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn review_invitation(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    AppJson(input): AppJson<Recertify>,
) -> Result<Json<GrantView>, ApiError> {
    let (g, s) = spaces::recertify(&state, &ctx, Side::Partner, &id, input).await?;
    Ok(Json(settled_view(g, s)))
}

/// The recertification campaign: every grant in force the organization is a side of, the
/// soonest to expire first, with its reviews.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/recertification", tag = "spaces",
    params(("org" = String, Path)),
    responses((status = 200, body = [GrantView]), (status = 404, body = Problem)))]
pub async fn recertification(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<Vec<GrantView>>, ApiError> {
    let now = state.clock.now_ms();
    Ok(Json(
        spaces::campaign(&state, &ctx)
            .await?
            .into_iter()
            .map(|g| GrantView::of(g, None, now))
            .collect(),
    ))
}

/// The owner withdraws a grant (pending or accepted).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/spaces/{space}/grants/{grant_id}/withdraw", tag = "spaces",
    params(("org" = String, Path), ("space" = String, Path), ("grant_id" = String, Path)),
    responses((status = 200, body = GrantView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn withdraw_grant(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, name, id)): Path<(String, String, String)>,
) -> Result<Json<GrantView>, ApiError> {
    let space = spaces::get(&state, &ctx, &name).await?;
    let grant = storage::spaces::owner_grant(
        state.store.conn(),
        ctx.org.id,
        id.parse().map_err(|_| ApiError::not_found("grant"))?,
    )
    .await?
    .filter(|g| g.space_id == space.id)
    .ok_or_else(|| ApiError::not_found("grant"))?;
    let (g, s) = spaces::decide(
        &state,
        &ctx,
        Side::Owner,
        &grant.id.to_string(),
        Decision::Withdraw,
    )
    .await?;
    Ok(Json(settled_view(g, s)))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/invitations", tag = "spaces",
    params(("org" = String, Path)),
    responses((status = 200, body = [InvitationView]), (status = 404, body = Problem)))]
pub async fn list_invitations(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<Vec<InvitationView>>, ApiError> {
    let list = spaces::invitations(&state, ctx.org.id).await?;
    let now = state.clock.now_ms();
    Ok(Json(
        list.into_iter()
            .map(|(g, s, o)| InvitationView::new(g, s, o, now))
            .collect(),
    ))
}

async fn partner_decides(
    state: &AppState,
    ctx: &OrgCtx,
    id: &str,
    decision: Decision,
) -> Result<Json<GrantView>, ApiError> {
    let (g, s) = spaces::decide(state, ctx, Side::Partner, id, decision).await?;
    Ok(Json(settled_view(g, s)))
}

/// The partner's admin accepts: the people named can use the space's applications.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/invitations/{grant_id}/accept", tag = "spaces",
    params(("org" = String, Path), ("grant_id" = String, Path)),
    responses((status = 200, body = GrantView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<GrantView>, ApiError> {
    partner_decides(&state, &ctx, &id, Decision::Accept).await
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/invitations/{grant_id}/decline", tag = "spaces",
    params(("org" = String, Path), ("grant_id" = String, Path)),
    responses((status = 200, body = GrantView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn decline_invitation(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<GrantView>, ApiError> {
    partner_decides(&state, &ctx, &id, Decision::Decline).await
}

/// The partner withdraws its consent: its people lose access at once.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/invitations/{grant_id}/withdraw", tag = "spaces",
    params(("org" = String, Path), ("grant_id" = String, Path)),
    responses((status = 200, body = GrantView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn withdraw_invitation(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<GrantView>, ApiError> {
    partner_decides(&state, &ctx, &id, Decision::Withdraw).await
}

/// Who can reach which space: everyone admitted to the organization's own spaces, and its own
/// people admitted to other organizations' spaces.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/access-review", tag = "spaces",
    params(("org" = String, Path)),
    responses((status = 200, body = [Admitted]), (status = 404, body = Problem)))]
pub async fn access_review(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<Vec<Admitted>>, ApiError> {
    Ok(Json(spaces::access_review(&state, ctx.org.id).await?))
}
