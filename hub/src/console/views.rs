//! The console's pages. Each reads the viewer's own organization only; the overseeing pages
//! need a role (org admin or compliance officer), the actions need org admin and a CSRF token.

use std::collections::BTreeMap;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::{
    CsrfForm, Viewer, checked, csrf_field, forbidden_post, internal_error, message, page, viewer,
};
use crate::clock::ms_to_rfc3339;
use crate::deprovision::DeliveryStatus;
use crate::error::ServiceError;
use crate::login::pages::escape;
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
    escape(&ms_to_rfc3339(ms))
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
fn bar_chart(id: &str, title: &str, bars: &[(String, i64, bool)]) -> String {
    if bars.is_empty() {
        return format!("<p class=\"muted\">{}: nothing yet.</p>", escape(title));
    }
    let (w, h, pad) = (640.0_f64, 160.0_f64, 24.0_f64);
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let slot = ((w - 2.0 * pad) / bars.len() as f64).min(48.0);
    let mut out = format!(
        "<figure><svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-labelledby=\"{id}-t\" id=\"{id}\"><title id=\"{id}-t\">{t}</title>",
        t = escape(title)
    );
    for (i, (label, ms, failed)) in bars.iter().enumerate() {
        let bh = ((*ms).max(0) as f64 / max) * (h - 2.0 * pad);
        let x = pad + i as f64 * slot + slot * 0.1;
        let y = h - pad - bh;
        out.push_str(&format!(
            "<rect class=\"bar{f}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\">\
             <title>{l}: {d}</title></rect>",
            f = if *failed { " failed" } else { "" },
            bw = slot * 0.8,
            l = escape(label),
            d = duration(*ms),
        ));
    }
    out.push_str(&format!(
        "<text x=\"{pad}\" y=\"14\">max {}</text><text x=\"{pad}\" y=\"{}\">0</text></svg>\
         <figcaption>{}</figcaption></figure>",
        duration(max as i64),
        h - 6.0,
        escape(title)
    ));
    out
}

// ---- my account

pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let v = match signed_in(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match home_body(&state, &v).await {
        Ok(body) => page(StatusCode::OK, Some(&v), "My account", &body),
        Err(e) => stored(e),
    }
}

async fn home_body(state: &AppState, v: &Viewer) -> Result<String, StoreError> {
    let c = state.store.conn();
    let now = state.clock.now_ms();
    let u = &v.user;
    let mut body = super::notices::section(state, v).await?;
    body.push_str(&format!(
        "<h2>Profile</h2><table><tbody>\
         <tr><th scope=\"row\">Name</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Email</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Organization</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Groups</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Roles in the hub</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Managed by</th><td>{}</td></tr></tbody></table>",
        escape(&u.name),
        escape(&u.email),
        escape(&v.org.name),
        escape(&u.groups.join(", ")),
        escape(
            &v.roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        if u.directory_id.is_some() {
            "your organization's directory"
        } else {
            "your organization's administrators"
        },
    ));
    body.push_str(
        "<h2>Sessions</h2><table><thead><tr><th scope=\"col\">Signed in</th>\
         <th scope=\"col\">Expires</th><th scope=\"col\">Applications</th><th scope=\"col\"></th>\
         </tr></thead><tbody>",
    );
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
        let this = if s.id == v.session.id {
            " <span class=\"muted\">(this browser)</span>"
        } else {
            ""
        };
        body.push_str(&format!(
            "<tr><td>{}{this}</td><td>{}</td><td>{}</td><td>\
             <form method=\"post\" action=\"/console/sessions/{}/end\" class=\"inline\" \
             data-confirm=\"End this session?\">{}<button type=\"submit\">End</button></form></td></tr>",
            time(s.auth_time),
            time(s.expires_at),
            escape(&names.join(", ")),
            escape(&s.id),
            csrf_field(v),
        ));
    }
    body.push_str("</tbody></table>");
    all_apps.extend(storage::oidc::live_token_apps(c, v.org.id, u.id, now).await?);
    all_apps.sort();
    all_apps.dedup();
    body.push_str("<h2>Applications</h2>");
    let apps = storage::applications::by_ids_any(c, &all_apps).await?;
    if apps.is_empty() {
        body.push_str("<p class=\"muted\">You have not signed in to an application yet.</p>");
    } else {
        body.push_str("<ul>");
        for a in apps {
            let owner = if a.org_id == v.org.id {
                String::new()
            } else {
                storage::organizations::get(c, a.org_id)
                    .await?
                    .map(|o| format!(" <span class=\"muted\">(of {})</span>", escape(&o.name)))
                    .unwrap_or_default()
            };
            body.push_str(&format!("<li>{}{owner}</li>", escape(&a.name)));
        }
        body.push_str("</ul>");
    }
    Ok(body)
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
        Ok(body) => page(StatusCode::OK, Some(&v), "Organization", &body),
        Err(e) => stored(e),
    }
}

async fn organization_body(state: &AppState, v: &Viewer) -> Result<String, StoreError> {
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
    let mut body = format!(
        "<div class=\"cards\">\
         <div class=\"card\"><strong>{active}</strong>active people</div>\
         <div class=\"card\"><strong>{}</strong>people in all</div>\
         <div class=\"card\"><strong>{}</strong>leavers (30 days)</div>\
         <div class=\"card\"><strong>{}</strong>revocation p99</div>\
         <div class=\"card\"><strong>{}</strong>all deliveries p99</div>\
         <div class=\"card\"><strong>{}</strong>outstanding deliveries</div>\
         <div class=\"card\"><strong>{}</strong>failed deliveries</div></div>",
        users.len(),
        summary.leavers,
        summary
            .revocation
            .p99_ms
            .map(duration)
            .unwrap_or("-".into()),
        summary
            .completion
            .p99_ms
            .map(duration)
            .unwrap_or("-".into()),
        summary.outstanding_deliveries,
        summary.dead_deliveries,
    );
    body.push_str(
        "<h2>People by state and source</h2><table><thead><tr><th scope=\"col\">State</th>\
         <th scope=\"col\">Source</th><th scope=\"col\">People</th></tr></thead><tbody>",
    );
    for ((status, source), n) in &by_state {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{n}</td></tr>",
            escape(status),
            escape(source)
        ));
    }
    body.push_str("</tbody></table>");
    if !directories.is_empty() {
        let outside: Vec<&crate::users::User> = users
            .iter()
            .filter(|u| u.status == UserStatus::Active && u.directory_id.is_none())
            .collect();
        body.push_str(&format!(
            "<h2>People with access who are not in the directory</h2><p>{} of them{}</p>",
            outside.len(),
            if outside.is_empty() {
                "."
            } else {
                ": created by an administrator or at sign-in, not by a directory."
            }
        ));
        if !outside.is_empty() {
            body.push_str("<ul>");
            for u in outside.iter().take(100) {
                body.push_str(&format!("<li>{}</li>", escape(&u.email)));
            }
            body.push_str("</ul>");
        }
    }
    body.push_str("<h2>Directories and their syncs</h2>");
    if directories.is_empty() {
        body.push_str("<p class=\"muted\">No directory is connected.</p>");
    }
    for d in &directories {
        let runs = storage::directories::syncs(c, org, d.id, 20).await?;
        let running = runs.iter().any(|r| r.status == "running");
        body.push_str(&format!(
            "<h3{}>{} <span class=\"muted\">({}, {})</span></h3>",
            if running { " data-running" } else { "" },
            escape(&d.name),
            d.kind.as_str(),
            d.status.as_str(),
        ));
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
        body.push_str(&bar_chart(
            &format!("sync-{}", d.id),
            &format!("Duration of the last syncs of {}", d.name),
            &bars,
        ));
        body.push_str(
            "<table><thead><tr><th scope=\"col\">Started</th><th scope=\"col\">Mode</th>\
             <th scope=\"col\">Status</th><th scope=\"col\">Read</th><th scope=\"col\">Changes</th>\
             <th scope=\"col\">Error</th></tr></thead><tbody>",
        );
        for r in runs.iter().take(10) {
            let n = |k: &str| r.counts[k].as_i64().unwrap_or(0);
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>+{} ~{} -{}</td><td>{}</td></tr>",
                time(r.started_at),
                escape(&r.mode),
                escape(&r.status),
                if r.status == "running" {
                    r.progress
                } else {
                    n("read")
                },
                n("created"),
                n("updated"),
                n("suspended") + n("deprovisioned"),
                escape(r.error.as_deref().unwrap_or("")),
            ));
        }
        body.push_str("</tbody></table>");
    }
    let leavers = storage::leavers::list(c, org, None, 30).await?;
    body.push_str("<h2>Leavers and their time to deprovision</h2>");
    let bars: Vec<(String, i64, bool)> = leavers
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
    body.push_str(&bar_chart(
        "leavers",
        "Time from the leaver signal to the last delivery (unfinished in red)",
        &bars,
    ));
    body.push_str(
        "<table><thead><tr><th scope=\"col\">Signal</th><th scope=\"col\">Person</th>\
         <th scope=\"col\">Source</th><th scope=\"col\">Reason</th><th scope=\"col\">Revoked in</th>\
         <th scope=\"col\">Deliveries done in</th></tr></thead><tbody>",
    );
    let people: BTreeMap<_, _> = users.iter().map(|u| (u.id, u.email.clone())).collect();
    for l in &leavers {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            time(l.signal_at),
            escape(people.get(&l.user_id).map(String::as_str).unwrap_or("?")),
            l.source.as_str(),
            escape(&l.reason),
            duration(l.revoked_at - l.signal_at),
            l.completed_at
                .map(|c| duration(c - l.signal_at))
                .unwrap_or_else(|| "<span class=\"bad\">outstanding</span>".into()),
        ));
    }
    body.push_str("</tbody></table><h2>Outstanding and failed deliveries</h2>");
    let mut rows = storage::outbox::list(c, org, Some(DeliveryStatus::Dead), None, 50).await?;
    rows.extend(storage::outbox::list(c, org, Some(DeliveryStatus::Pending), None, 50).await?);
    if rows.is_empty() {
        body.push_str("<p class=\"ok\">None: every notification was delivered.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th scope=\"col\">Queued</th><th scope=\"col\">Kind</th>\
             <th scope=\"col\">Status</th><th scope=\"col\">Attempts</th>\
             <th scope=\"col\">Last error</th></tr></thead><tbody>",
        );
        for d in rows {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                time(d.created_at),
                d.kind().as_str(),
                d.status.as_str(),
                d.attempts,
                escape(d.last_error.as_deref().unwrap_or("")),
            ));
        }
        body.push_str("</tbody></table>");
    }
    Ok(body)
}

// ---- spaces

pub async fn spaces(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let v = match overseer(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match spaces_body(&state, &v).await {
        Ok(body) => page(StatusCode::OK, Some(&v), "Spaces", &body),
        Err(ServiceError::Store(e)) => stored(e),
        Err(e) => {
            tracing::error!(error = %e, "console: spaces");
            internal_error()
        }
    }
}

fn subject_text(g: &crate::spaces::Grant) -> String {
    match g.subject.kind() {
        "organization" => "everyone".into(),
        kind => format!("{kind} {}", g.subject.value()),
    }
}

async fn spaces_body(state: &AppState, v: &Viewer) -> Result<String, ServiceError> {
    let c = state.store.conn();
    let admin = v.is(HubRole::OrgAdmin);
    let mut body = String::from("<h2>Invitations to other organizations' spaces</h2>");
    let invitations = spaces::invitations(state, v.org.id).await?;
    if invitations.is_empty() {
        body.push_str("<p class=\"muted\">None.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th scope=\"col\">Space</th><th scope=\"col\">Owner</th>\
             <th scope=\"col\">Admits</th><th scope=\"col\">Status</th><th scope=\"col\"></th>\
             </tr></thead><tbody>",
        );
        for (g, space, owner) in &invitations {
            let actions = if !admin {
                String::new()
            } else {
                let button = |d: &str, label: &str, confirm: &str| {
                    format!(
                        "<form method=\"post\" action=\"/console/invitations/{}/{d}\" class=\"inline\" \
                         data-confirm=\"{confirm}\">{}<button type=\"submit\">{label}</button></form> ",
                        g.id,
                        csrf_field(v)
                    )
                };
                match g.status {
                    GrantStatus::Pending => format!(
                        "{}{}",
                        button("accept", "Accept", "Let these people into the space?"),
                        button("decline", "Decline", "Decline the invitation?")
                    ),
                    GrantStatus::Accepted => button(
                        "withdraw",
                        "Withdraw",
                        "Withdraw: these people lose access at once. Continue?",
                    ),
                    _ => String::new(),
                }
            };
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{actions}</td></tr>",
                escape(
                    space
                        .as_ref()
                        .map(|s| s.name.as_str())
                        .unwrap_or("(deleted)")
                ),
                escape(owner.as_ref().map(|o| o.name.as_str()).unwrap_or("?")),
                escape(&subject_text(g)),
                g.status.as_str(),
            ));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("<h2>Your organization's spaces</h2>");
    let own = storage::spaces::list(c, v.org.id).await?;
    if own.is_empty() {
        body.push_str("<p class=\"muted\">None.</p>");
    }
    for s in &own {
        body.push_str(&format!(
            "<h3>{} <span class=\"muted\">({})</span></h3><p>{}</p>",
            escape(&s.name),
            escape(&s.slug),
            escape(&s.description)
        ));
        let grants = storage::spaces::grants_of_space(c, v.org.id, s.id).await?;
        let mut names: BTreeMap<crate::ids::OrgId, String> = BTreeMap::new();
        for g in &grants {
            if let std::collections::btree_map::Entry::Vacant(e) = names.entry(g.partner_org_id) {
                let n = storage::organizations::get(c, g.partner_org_id)
                    .await?
                    .map(|o| o.name)
                    .unwrap_or_default();
                e.insert(n);
            }
        }
        body.push_str(
            "<table><thead><tr><th scope=\"col\">Organization</th><th scope=\"col\">Admits</th>\
             <th scope=\"col\">Status</th><th scope=\"col\">Proposed</th><th scope=\"col\"></th>\
             </tr></thead><tbody>",
        );
        for g in &grants {
            let withdraw = if admin && g.status.is_open() {
                format!(
                    "<form method=\"post\" action=\"/console/grants/{}/withdraw\" class=\"inline\" \
                     data-confirm=\"Withdraw this grant?\">{}<button type=\"submit\">Withdraw</button></form>",
                    g.id,
                    csrf_field(v)
                )
            } else {
                String::new()
            };
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{withdraw}</td></tr>",
                escape(
                    names
                        .get(&g.partner_org_id)
                        .map(String::as_str)
                        .unwrap_or("?")
                ),
                escape(&subject_text(g)),
                g.status.as_str(),
                time(g.proposed_at),
            ));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str(
        "<h2>Access review</h2><p>Who can reach which space: everyone admitted to your spaces, \
         and your people admitted to other organizations' spaces.</p>\
         <table><thead><tr><th scope=\"col\">Space</th><th scope=\"col\">Owner</th>\
         <th scope=\"col\">Person</th><th scope=\"col\">Their organization</th></tr></thead><tbody>",
    );
    for a in spaces::access_review(state, v.org.id).await? {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&a.space_slug),
            escape(&a.owner),
            escape(&a.email),
            escape(&a.organization)
        ));
    }
    body.push_str("</tbody></table>");
    Ok(body)
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
