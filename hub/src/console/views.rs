//! The console's pages. Each reads the viewer's own organization only; the overseeing pages
//! need a role (org admin or compliance officer), the actions need org admin and a CSRF token.

use std::collections::BTreeMap;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::html::{Href, button, head};
use super::{
    CsrfForm, Viewer, checked, csrf_field, forbidden_post, internal_error, message, page, viewer,
};
use crate::clock::ms_to_rfc3339;
use crate::deprovision::DeliveryStatus;
use crate::error::ServiceError;
use crate::orgs::roles::HubRole;
use crate::spaces::{self, Decision, GrantStatus, Side};
use crate::state::AppState;
use crate::storage::{self, StoreError};
use crate::users::UserStatus;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The viewer, or the answer for a visitor who is not signed in (or a storage failure).
pub(super) async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Viewer, Response> {
    match viewer(state, headers).await {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(Redirect::to("/console/login").into_response()),
        Err(e) => {
            tracing::error!(error = %e, "console: storage error");
            Err(internal_error())
        }
    }
}

/// The viewer if they oversee their organization; otherwise the page that says so.
pub(super) async fn overseer(state: &AppState, headers: &HeaderMap) -> Result<Viewer, Response> {
    let v = signed_in(state, headers).await?;
    if v.oversees() {
        Ok(v)
    } else {
        Err(message(
            StatusCode::FORBIDDEN,
            Some(&v),
            "Not available",
            "This page is for your organization's administrators and compliance officers. \
             Your organization grants these roles through its directory groups.",
        ))
    }
}

pub(super) fn stored(e: StoreError) -> Response {
    tracing::error!(error = %e, "console: storage error");
    internal_error()
}

pub(super) fn time(ms: i64) -> String {
    ms_to_rfc3339(ms)
}

fn duration(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{:.1} min", ms as f64 / 60_000.0)
    }
}

/// A bar chart (inline SVG, accessible): one bar per `(label, milliseconds, failed)`.
fn bar_chart(id: &str, title: &str, bars: &[(String, i64, bool)]) -> Markup {
    if bars.is_empty() {
        return html! { p.muted { (title) ": nothing yet." } };
    }
    let (w, h, pad) = (640.0_f64, 160.0_f64, 24.0_f64);
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let slot = ((w - 2.0 * pad) / bars.len() as f64).min(48.0);
    let label_id = format!("{id}-t");
    html! {
        figure {
            svg class="chart" viewBox={ "0 0 " (w) " " (h) } role="img"
                aria-labelledby=(label_id) id=(id) {
                title id=(label_id) { (title) }
                @for (i, (label, ms, failed)) in bars.iter().enumerate() {
                    @let bh = ((*ms).max(0) as f64 / max) * (h - 2.0 * pad);
                    @let x = pad + i as f64 * slot + slot * 0.1;
                    rect class=(if *failed { "bar failed" } else { "bar" })
                        x=(format!("{x:.1}")) y=(format!("{:.1}", h - pad - bh))
                        width=(format!("{:.1}", slot * 0.8)) height=(format!("{bh:.1}")) {
                        title { (label) ": " (duration(*ms)) }
                    }
                }
                text x=(pad) y="14" { "max " (duration(max as i64)) }
                text x=(pad) y=(h - 6.0) { "0" }
            }
            figcaption { (title) }
        }
    }
}

// ---- my account

pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let v = match signed_in(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match home_body(&state, &v).await {
        Ok(body) => page(StatusCode::OK, Some(&v), "My account", body),
        Err(e) => stored(e),
    }
}

async fn home_body(state: &AppState, v: &Viewer) -> Result<Markup, StoreError> {
    let c = state.store.conn();
    let now = state.clock.now_ms();
    let u = &v.user;
    let notices = super::notices::section(state, v).await?;
    let mut sessions = Vec::new();
    let mut all_apps = Vec::new();
    for sid in storage::oidc::live_sessions_of(c, v.org.id, u.id, now).await? {
        let Some(s) = storage::oidc::get_session(c, v.org.id, &sid).await? else {
            continue;
        };
        let ids = storage::oidc::session_apps(c, v.org.id, &sid).await?;
        all_apps.extend(ids.iter().copied());
        let names: Vec<String> = storage::applications::by_ids_any(c, &ids)
            .await?
            .into_iter()
            .map(|a| a.name)
            .collect();
        sessions.push((s, names.join(", ")));
    }
    all_apps.extend(storage::oidc::live_token_apps(c, v.org.id, u.id, now).await?);
    all_apps.sort();
    all_apps.dedup();
    let mut apps = Vec::new();
    for a in storage::applications::by_ids_any(c, &all_apps).await? {
        let owner = if a.org_id == v.org.id {
            None
        } else {
            storage::organizations::get(c, a.org_id)
                .await?
                .map(|o| o.name)
        };
        apps.push((a.name, owner));
    }
    let roles: Vec<&str> = v.roles.iter().map(|r| r.as_str()).collect();
    let csrf = csrf_field(v);
    Ok(html! {
        (notices)
        h2 { "Profile" }
        table { tbody {
            tr { th scope="row" { "Name" } td { (u.name) } }
            tr { th scope="row" { "Email" } td { (u.email) } }
            tr { th scope="row" { "Organization" } td { (v.org.name) } }
            tr { th scope="row" { "Groups" } td { (u.groups.join(", ")) } }
            tr { th scope="row" { "Roles in the hub" } td { (roles.join(", ")) } }
            tr {
                th scope="row" { "Managed by" }
                td {
                    @if u.directory_id.is_some() { "your organization's directory" }
                    @else { "your organization's administrators" }
                }
            }
        } }
        h2 { "Sessions" }
        table {
            (head(&["Signed in", "Expires", "Applications", ""]))
            tbody {
                @for (s, names) in &sessions {
                    tr {
                        td {
                            (time(s.auth_time))
                            @if s.id == v.session.id { " " span.muted { "(this browser)" } }
                        }
                        td { (time(s.expires_at)) }
                        td { (names) }
                        td {
                            (button(&Href::to("/console/sessions").seg(&s.id).lit("end"), &csrf,
                                Some("End this session?"), "End"))
                        }
                    }
                }
            }
        }
        h2 { "Applications" }
        @if apps.is_empty() {
            p.muted { "You have not signed in to an application yet." }
        } @else {
            ul {
                @for (name, owner) in &apps {
                    li {
                        (name)
                        @if let Some(owner) = owner { " " span.muted { "(of " (owner) ")" } }
                    }
                }
            }
        }
    })
}

pub async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sid): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match signed_in(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !checked(&state, &headers, &v, &f.csrf) {
        return forbidden_post(&v);
    }
    // Only the viewer's own sessions.
    let mine = storage::oidc::get_session(state.store.conn(), v.org.id, &sid)
        .await
        .ok()
        .flatten()
        .filter(|s| s.user_id == v.user.id);
    if mine.is_none() {
        return message(
            StatusCode::NOT_FOUND,
            Some(&v),
            "Not found",
            "You have no such session.",
        );
    }
    match super::end(&state, &v, &sid, "ended in the console").await {
        Ok(_) if sid == v.session.id => Redirect::to("/console/login").into_response(),
        Ok(_) => Redirect::to("/console").into_response(),
        Err(e) => stored(e),
    }
}

// ---- the organization's provisioning state

pub async fn organization(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let v = match overseer(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match organization_body(&state, &v).await {
        Ok(body) => page(StatusCode::OK, Some(&v), "Organization", body),
        Err(e) => stored(e),
    }
}

async fn organization_body(state: &AppState, v: &Viewer) -> Result<Markup, StoreError> {
    let c = state.store.conn();
    let org = v.org.id;
    let now = state.clock.now_ms();
    let users = storage::users::list(c, org).await?;
    let directories = storage::directories::list(c, org).await?;
    let dir_names: BTreeMap<_, _> = directories.iter().map(|d| (d.id, d.name.clone())).collect();
    let mut by_state: BTreeMap<(String, String), usize> = BTreeMap::new();
    for u in &users {
        let source = u
            .directory_id
            .and_then(|d| dir_names.get(&d).cloned())
            .unwrap_or_else(|| "administrators or sign-in".into());
        *by_state
            .entry((u.status.as_str().to_string(), source))
            .or_default() += 1;
    }
    let active = users
        .iter()
        .filter(|u| u.status == UserStatus::Active)
        .count();
    let summary = crate::deprovision::report::summary(state, org, now - 30 * DAY_MS).await?;
    let p99 = |ms: Option<i64>| ms.map(duration).unwrap_or("-".into());
    let outside: Vec<&crate::users::User> = users
        .iter()
        .filter(|u| u.status == UserStatus::Active && u.directory_id.is_none())
        .collect();
    let mut runs_of = Vec::new();
    for d in &directories {
        runs_of.push((d, storage::directories::syncs(c, org, d.id, 20).await?));
    }
    let leavers = storage::leavers::list(c, org, None, 30).await?;
    let leaver_bars: Vec<(String, i64, bool)> = leavers
        .iter()
        .rev()
        .map(|l| {
            (
                ms_to_rfc3339(l.signal_at),
                l.completed_at.unwrap_or(now) - l.signal_at,
                l.completed_at.is_none(),
            )
        })
        .collect();
    let people: BTreeMap<_, _> = users.iter().map(|u| (u.id, u.email.clone())).collect();
    let mut deliveries =
        storage::outbox::list(c, org, Some(DeliveryStatus::Dead), None, 50).await?;
    deliveries
        .extend(storage::outbox::list(c, org, Some(DeliveryStatus::Pending), None, 50).await?);
    Ok(html! {
        div.cards {
            div.card { strong { (active) } "active people" }
            div.card { strong { (users.len()) } "people in all" }
            div.card { strong { (summary.leavers) } "leavers (30 days)" }
            div.card { strong { (p99(summary.revocation.p99_ms)) } "revocation p99" }
            div.card { strong { (p99(summary.completion.p99_ms)) } "all deliveries p99" }
            div.card { strong { (summary.outstanding_deliveries) } "outstanding deliveries" }
            div.card { strong { (summary.dead_deliveries) } "failed deliveries" }
        }
        h2 { "People by state and source" }
        table {
            (head(&["State", "Source", "People"]))
            tbody {
                @for ((status, source), n) in &by_state {
                    tr { td { (status) } td { (source) } td { (n) } }
                }
            }
        }
        @if !directories.is_empty() {
            h2 { "People with access who are not in the directory" }
            p {
                (outside.len()) " of them"
                @if outside.is_empty() { "." }
                @else { ": created by an administrator or at sign-in, not by a directory." }
            }
            @if !outside.is_empty() {
                ul { @for u in outside.iter().take(100) { li { (u.email) } } }
            }
        }
        h2 { "Directories and their syncs" }
        @if directories.is_empty() {
            p.muted { "No directory is connected." }
        }
        @for (d, runs) in &runs_of {
            (directory_syncs(d, runs))
        }
        h2 { "Leavers and their time to deprovision" }
        (bar_chart(
            "leavers",
            "Time from the leaver signal to the last delivery (unfinished in red)",
            &leaver_bars,
        ))
        table {
            (head(&["Signal", "Person", "Source", "Reason", "Revoked in", "Deliveries done in"]))
            tbody {
                @for l in &leavers {
                    tr {
                        td { (time(l.signal_at)) }
                        td { (people.get(&l.user_id).map(String::as_str).unwrap_or("?")) }
                        td { (l.source.as_str()) }
                        td { (l.reason) }
                        td { (duration(l.revoked_at - l.signal_at)) }
                        td {
                            @match l.completed_at {
                                Some(done) => (duration(done - l.signal_at)),
                                None => span.bad { "outstanding" },
                            }
                        }
                    }
                }
            }
        }
        h2 { "Outstanding and failed deliveries" }
        @if deliveries.is_empty() {
            p.ok { "None: every notification was delivered." }
        } @else {
            table {
                (head(&["Queued", "Kind", "Status", "Attempts", "Last error"]))
                tbody {
                    @for d in &deliveries {
                        tr {
                            td { (time(d.created_at)) }
                            td { (d.kind().as_str()) }
                            td { (d.status.as_str()) }
                            td { (d.attempts) }
                            td { (d.last_error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    })
}

/// A directory's heading (refreshing the page while a sync runs), its sync chart and table.
fn directory_syncs(
    d: &crate::directories::Directory,
    runs: &[storage::directories::SyncRow],
) -> Markup {
    let running = runs.iter().any(|r| r.status == "running");
    let bars: Vec<(String, i64, bool)> = runs
        .iter()
        .rev()
        .filter_map(|r| {
            r.finished_at.map(|f| {
                (
                    format!("{} {}", ms_to_rfc3339(r.started_at), r.mode),
                    f - r.started_at,
                    r.status != "succeeded",
                )
            })
        })
        .collect();
    html! {
        h3 data-running[running] {
            (d.name) " " span.muted { "(" (d.kind.as_str()) ", " (d.status.as_str()) ")" }
        }
        (bar_chart(
            &format!("sync-{}", d.id),
            &format!("Duration of the last syncs of {}", d.name),
            &bars,
        ))
        table {
            (head(&["Started", "Mode", "Status", "Read", "Changes", "Error"]))
            tbody {
                @for r in runs.iter().take(10) {
                    @let n = |k: &str| r.counts[k].as_i64().unwrap_or(0);
                    tr {
                        td { (time(r.started_at)) }
                        td { (r.mode) }
                        td { (r.status) }
                        td { (if r.status == "running" { r.progress } else { n("read") }) }
                        td {
                            "+" (n("created")) " ~" (n("updated")) " -"
                            (n("suspended") + n("deprovisioned"))
                        }
                        td { (r.error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}

// ---- spaces

pub async fn spaces(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let v = match overseer(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match spaces_body(&state, &v).await {
        Ok(body) => page(StatusCode::OK, Some(&v), "Spaces", body),
        Err(ServiceError::Store(e)) => stored(e),
        Err(e) => {
            tracing::error!(error = %e, "console: spaces");
            internal_error()
        }
    }
}

/// What a grant asks (or releases) about the people it admits, in words.
pub(super) fn release_text(r: &crate::orgs::model::Release) -> String {
    if r.claims.is_empty() {
        return "only an identifier of their own per person".into();
    }
    let mut out = r.claims.join(", ");
    if !r.groups.is_empty() {
        out.push_str(&format!(" (groups: {})", r.groups.join(", ")));
    }
    out
}

fn subject_text(g: &crate::spaces::Grant) -> String {
    match g.subject.kind() {
        "organization" => "everyone".into(),
        kind => format!("{kind} {}", g.subject.value()),
    }
}

async fn spaces_body(state: &AppState, v: &Viewer) -> Result<Markup, ServiceError> {
    let c = state.store.conn();
    let admin = v.is(HubRole::OrgAdmin);
    let csrf = csrf_field(v);
    let invitations = spaces::invitations(state, v.org.id).await?;
    let own = storage::spaces::list(c, v.org.id).await?;
    let mut names: BTreeMap<crate::ids::OrgId, String> = BTreeMap::new();
    let mut grants_of = Vec::new();
    for s in &own {
        let grants = storage::spaces::grants_of_space(c, v.org.id, s.id).await?;
        for g in &grants {
            if let std::collections::btree_map::Entry::Vacant(e) = names.entry(g.partner_org_id) {
                let n = storage::organizations::get(c, g.partner_org_id)
                    .await?
                    .map(|o| o.name)
                    .unwrap_or_default();
                e.insert(n);
            }
        }
        grants_of.push((s, grants));
    }
    let review = spaces::access_review(state, v.org.id).await?;
    // An invitation's answers, for the partner's admins.
    let answer = |g: &crate::spaces::Grant, widened: bool| -> Markup {
        let to = |d: &'static str| Href::to("/console/invitations").seg(g.id).lit(d);
        let b = |d, label, confirm| html! { (button(&to(d), &csrf, Some(confirm), label)) " " };
        match g.status {
            _ if !admin => html! {},
            GrantStatus::Pending => html! {
                (b("accept", "Accept", "Let these people into the space, and release exactly what is asked?"))
                (b("decline", "Decline", "Decline the invitation?"))
            },
            GrantStatus::Accepted => html! {
                @if widened {
                    (b("accept", "Accept the change", "Release what the owner now asks?"))
                }
                (b("withdraw", "Withdraw", "Withdraw: these people lose access at once. Continue?"))
            },
            _ => html! {},
        }
    };
    Ok(html! {
        h2 { "Invitations to other organizations' spaces" }
        @if invitations.is_empty() {
            p.muted { "None." }
        } @else {
            table {
                (head(&["Space", "Owner", "Admits", "Asks to learn", "Status", "Expires", ""]))
                tbody {
                    @for (g, space, owner) in &invitations {
                        @let change = space.as_ref().and_then(|s| g.widened(s));
                        tr {
                            td { (space.as_ref().map(|s| s.name.as_str()).unwrap_or("(deleted)")) }
                            td { (owner.as_ref().map(|o| o.name.as_str()).unwrap_or("?")) }
                            td { (subject_text(g)) }
                            td {
                                (release_text(&g.requested))
                                @if let Some(w) = &change {
                                    br;
                                    strong { "Waiting for your approval: " }
                                    @if !w.claims.is_empty() || !w.groups.is_empty() {
                                        "more of your people's data (" (w.claims.join(", ")) " " (w.groups.join(", ")) ") "
                                    }
                                    @if !w.applications.is_empty() {
                                        (w.applications.len()) " more application(s)"
                                    }
                                }
                            }
                            td { (g.status.as_str()) }
                            td { @if let Some(e) = g.expires_at { (time(e)) } }
                            td { (answer(g, change.is_some())) }
                        }
                    }
                }
            }
        }
        h2 { "Your organization's spaces" }
        @if own.is_empty() {
            p.muted { "None." }
        }
        @for (s, grants) in &grants_of {
            h3 { (s.name) " " span.muted { "(" (s.slug) ")" } }
            p { (s.description) }
            table {
                (head(&["Organization", "Admits", "Status", "Proposed", ""]))
                tbody {
                    @for g in grants {
                        tr {
                            td { (names.get(&g.partner_org_id).map(String::as_str).unwrap_or("?")) }
                            td { (subject_text(g)) }
                            td { (g.status.as_str()) }
                            td { (time(g.proposed_at)) }
                            td {
                                @if admin && g.status.is_open() {
                                    (button(&Href::to("/console/grants").seg(g.id).lit("withdraw"),
                                        &csrf, Some("Withdraw this grant?"), "Withdraw"))
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Access review" }
        p {
            "Who can reach which space: everyone admitted to your spaces, and your people \
             admitted to other organizations' spaces."
        }
        table {
            (head(&["Space", "Owner", "Person", "Their organization"]))
            tbody {
                @for a in &review {
                    tr {
                        td { (a.space_slug) } td { (a.owner) }
                        td { (a.email.as_deref().or(a.subject.as_deref()).unwrap_or("")) }
                        td { (a.organization) }
                    }
                }
            }
        }
    })
}

async fn decided(
    state: &AppState,
    headers: &HeaderMap,
    side: Side,
    grant: &str,
    decision: Decision,
    csrf: &str,
) -> Response {
    let v = match super::setup::org_admin(state, headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !checked(state, headers, &v, csrf) {
        return forbidden_post(&v);
    }
    match spaces::decide(state, &v.ctx(), side, grant, decision).await {
        Ok(_) => Redirect::to("/console/spaces").into_response(),
        Err(e) => super::setup::refused(&v, e),
    }
}

pub async fn decide_invitation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((grant, decision)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let decision = match decision.as_str() {
        "accept" => Decision::Accept,
        "decline" => Decision::Decline,
        "withdraw" => Decision::Withdraw,
        _ => return message(StatusCode::NOT_FOUND, None, "Not found", "No such action."),
    };
    decided(&state, &headers, Side::Partner, &grant, decision, &f.csrf).await
}

pub async fn withdraw_grant(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(grant): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    decided(
        &state,
        &headers,
        Side::Owner,
        &grant,
        Decision::Withdraw,
        &f.csrf,
    )
    .await
}
