//! The security notices on an overseer's home page: the changes to who can sign in to their
//! organization or who belongs to it (`audit::notices`) made by anyone but themselves (other
//! admins in the console, API keys, the operator), newest first, how many they have not read,
//! who did what and when (with the fresh sign-in it relied on), each linked to its audit event.

use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::html::{Href, head};
use super::{CsrfForm, Viewer, checked, csrf_field, forbidden_post, internal_error};
use crate::audit::SecurityNotice;
use crate::clock::ms_to_rfc3339;
use crate::state::AppState;
use crate::storage::{self, StoreError};

/// How many notices the home page lists.
const SHOWN: u64 = 20;

/// What a notice's action did, in words.
fn what(action: &str) -> &str {
    match action {
        "connection.created" => "connected an identity provider",
        "connection.updated" => "changed an identity provider connection",
        "connection.deleted" => "deleted an identity provider connection",
        "domain.verified" => "verified a domain",
        "domain.removed" => "removed a domain",
        "api_key.created" => "made an API key",
        "api_key.revoked" => "revoked an API key",
        "roles.updated" => "changed which directory groups make admins",
        "directory.created" => "connected a directory",
        "directory.updated" => "changed a directory",
        "scim_token.created" => "made a SCIM token",
        "scim_token.revoked" => "revoked a SCIM token",
        "directory.sync_confirmed" => "let a held mass deprovisioning through",
        other => other,
    }
}

/// Who made the change: a person by their email, else the key, operator or component.
async fn who(state: &AppState, v: &Viewer, n: &SecurityNotice) -> Result<String, StoreError> {
    let a = &n.actor;
    let text = |k: &str| a[k].as_str().unwrap_or_default().to_string();
    Ok(match a["kind"].as_str().unwrap_or_default() {
        "user" => {
            let person = match text("user_id").parse() {
                Ok(id) => storage::users::get(state.store.conn(), v.org.id, id)
                    .await?
                    .map(|u| u.email),
                Err(_) => None,
            };
            person.unwrap_or_else(|| format!("person {}", text("user_id")))
        }
        "operator" => format!("the hub's operator (key {})", text("key_name")),
        "org_key" => format!("API key {}", text("key_name")),
        "cli" => "the hub's command line".into(),
        "directory" => format!("directory {}", text("name")),
        "system" => format!("the hub ({})", text("component")),
        other => other.to_string(),
    })
}

/// The notices section of the home page (empty for people who do not oversee).
pub(super) async fn section(state: &AppState, v: &Viewer) -> Result<Markup, StoreError> {
    if !v.oversees() {
        return Ok(html! {});
    }
    let c = state.store.conn();
    let unread = storage::notices::unread(c, v.org.id, v.user.id).await?;
    let mark = storage::notices::read_mark(c, v.org.id, v.user.id).await?;
    let notices = storage::notices::list_for(c, v.org.id, v.user.id, SHOWN).await?;
    let mut rows = Vec::new();
    for n in &notices {
        rows.push((n, who(state, v, n).await?));
    }
    Ok(html! {
        h2 #notices {
            "Security notices "
            span.badge {
                @if unread == 0 { "No unread notices" } @else { (unread) " unread" }
            }
        }
        p.note {
            "Changes to who can sign in to " (v.org.name) " or who belongs to it, made by anyone \
             but you."
        }
        @if notices.is_empty() {
            p.muted { "None yet." }
        } @else {
            table {
                (head(&["When", "Who", "What", "Evidence"]))
                tbody { @for (n, who) in &rows { (row(n, who, mark)) } }
            }
            @if unread > 0 {
                form method="post" action="/console/notices/read" {
                    (csrf_field(v))
                    button type="submit" { "Mark all as read" }
                }
            }
        }
    })
}

/// One notice: when (new since the viewer's read mark), who (with the fresh sign-in it relied
/// on), what, and the link to its audit event.
fn row(n: &SecurityNotice, who: &str, mark: i64) -> Markup {
    let name = ["name", "domain"]
        .iter()
        .find_map(|k| n.details[*k].as_str());
    let event = Href::to("/console/audit")
        .query("after", n.seq - 1)
        .fragment(format!("event-{}", n.seq));
    html! {
        tr {
            td {
                (ms_to_rfc3339(n.at_ms))
                @if n.seq > mark { " " strong.new { "new" } }
            }
            td {
                (who)
                @if let Some(at) = n.actor["reauthenticated_at"].as_i64() {
                    " " span.muted { "(signed in again at " (ms_to_rfc3339(at)) ")" }
                }
            }
            td { (what(&n.action)) @if let Some(name) = name { ": " (name) } }
            td { a href=(event) { "audit event #" (n.seq) } }
        }
    }
}

/// `POST /console/notices/read`: the viewer has read every notice there is now.
pub async fn mark_read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match super::views::signed_in(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !checked(&state, &headers, &v, &f.csrf) {
        return forbidden_post(&v);
    }
    let done = async {
        let c = state.store.conn();
        let newest = storage::notices::newest(c, v.org.id).await?;
        storage::notices::mark_read(c, v.org.id, v.user.id, newest, state.clock.now_ms()).await
    };
    match done.await {
        Ok(()) => Redirect::to("/console#notices").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console: storage error");
            internal_error()
        }
    }
}
