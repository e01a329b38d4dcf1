//! `/console/recertification`: the recertification campaign, for the organization's admins and
//! compliance officers. Every grant in force the organization is a side of (its own spaces'
//! partners, its people in other organizations' spaces), the soonest to expire first: whom it
//! admits, what it releases, when it ends, whether it is in its review window, and every
//! decision with its reviewer. Admins keep or end a grant in its window from here.

use std::collections::BTreeMap;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::html::{Href, button, head};
use super::views::{overseer, release_text, stored, time};
use super::{CsrfForm, Viewer, checked, csrf_field, forbidden_post, internal_error, message, page};
use crate::error::ServiceError;
use crate::orgs::roles::HubRole;
use crate::spaces::{self, Grant, Recertify, Side};
use crate::state::AppState;
use crate::storage;

pub async fn campaign(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let v = match overseer(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match body(&state, &v).await {
        Ok(b) => page(StatusCode::OK, Some(&v), "Recertification", b),
        Err(ServiceError::Store(e)) => stored(e),
        Err(e) => {
            tracing::error!(error = %e, "console: recertification");
            internal_error()
        }
    }
}

async fn body(state: &AppState, v: &Viewer) -> Result<Markup, ServiceError> {
    let c = state.store.conn();
    let grants = spaces::campaign(state, &v.ctx()).await?;
    let now = state.clock.now_ms();
    let admin = v.is(HubRole::OrgAdmin);
    let csrf = csrf_field(v);
    let mut names: BTreeMap<crate::ids::OrgId, String> = BTreeMap::new();
    let mut spaces_of: BTreeMap<crate::ids::SpaceId, String> = BTreeMap::new();
    for g in &grants {
        for o in [g.org_id, g.partner_org_id] {
            if let std::collections::btree_map::Entry::Vacant(e) = names.entry(o) {
                let n = storage::organizations::get(c, o)
                    .await?
                    .map(|o| o.name)
                    .unwrap_or_default();
                e.insert(n);
            }
        }
        if let Some(s) = storage::spaces::by_ids(c, g.org_id, &[g.space_id])
            .await?
            .into_iter()
            .next()
        {
            spaces_of.insert(g.space_id, s.name);
        }
    }
    let name = |o: &crate::ids::OrgId| names.get(o).cloned().unwrap_or_default();
    let review = |g: &Grant| -> Markup {
        let own = g.org_id == v.org.id;
        let to = |d: &'static str| {
            Href::to("/console/recertification")
                .seg(g.id)
                .lit(if own { "owner" } else { "partner" })
                .lit(d)
        };
        html! {
            @if admin && g.in_review(now) {
                (button(&to("keep"), &csrf, Some("Keep this access for another period?"), "Keep")) " "
            }
            @if admin {
                (button(&to("end"), &csrf, Some("End this access now? These people lose it at once."), "End"))
            }
        }
    };
    Ok(html! {
        h2 { "Recertification" }
        p {
            "Every access between your organization and another, the soonest to end first. In the \
             last weeks before it ends both organizations' admins are asked to keep or end it; \
             access nobody kept ends by itself, like a withdrawal."
        }
        @if grants.is_empty() {
            p.muted { "No access between organizations is in force." }
        } @else {
            table {
                (head(&["Space", "Owner", "People of", "Admits", "Releases", "Ends", "Review", "Decisions", ""]))
                tbody {
                    @for g in &grants {
                        tr {
                            td { (spaces_of.get(&g.space_id).cloned().unwrap_or_default()) }
                            td { (name(&g.org_id)) }
                            td { (name(&g.partner_org_id)) }
                            td { (g.subject.kind()) " " (g.subject.value()) }
                            td { (release_text(&g.released())) }
                            td { @if let Some(e) = g.expires_at { (time(e)) } }
                            td { @if g.in_review(now) { strong { "due now" } } @else { "not yet" } }
                            td {
                                @for r in &g.reviews {
                                    (r.side) ": " (r.decision) " (" (time(r.at)) ")" br;
                                }
                            }
                            td { (review(g)) }
                        }
                    }
                }
            }
        }
    })
}

/// An admin keeps or ends a grant from the campaign (`side` is the viewer's side of it).
pub async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((grant, side, decision)): Path<(String, String, String)>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let side = match side.as_str() {
        "owner" => Side::Owner,
        "partner" => Side::Partner,
        _ => return message(StatusCode::NOT_FOUND, None, "Not found", "No such action."),
    };
    let v = match super::setup::org_admin(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !checked(&state, &headers, &v, &f.csrf) {
        return forbidden_post(&v);
    }
    match spaces::recertify(&state, &v.ctx(), side, &grant, Recertify { decision }).await {
        Ok(_) => Redirect::to("/console/recertification").into_response(),
        Err(e) => super::setup::refused(&v, e),
    }
}
