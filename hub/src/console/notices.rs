//! The security notices on an overseer's home page: the changes to who can sign in to their
//! organization or who belongs to it (`audit::notices`) made by anyone but themselves (other
//! admins in the console, API keys, the operator), newest first, how many they have not read,
//! who did what and when (with the fresh sign-in it relied on), each linked to its audit event.

use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::{CsrfForm, Viewer, checked, csrf_field, forbidden_post, internal_error};
use crate::audit::SecurityNotice;
use crate::clock::ms_to_rfc3339;
use crate::login::pages::escape;
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
pub(super) async fn section(state: &AppState, v: &Viewer) -> Result<String, StoreError> {
    if !v.oversees() {
        return Ok(String::new());
    }
    let c = state.store.conn();
    let unread = storage::notices::unread(c, v.org.id, v.user.id).await?;
    let mark = storage::notices::read_mark(c, v.org.id, v.user.id).await?;
    let notices = storage::notices::list_for(c, v.org.id, v.user.id, SHOWN).await?;
    let mut out = format!(
        "<h2 id=\"notices\">Security notices <span class=\"badge\">{}</span></h2>\
         <p class=\"note\">Changes to who can sign in to {} or who belongs to it, made by \
         anyone but you.</p>",
        if unread == 0 {
            "No unread notices".to_string()
        } else {
            format!("{unread} unread")
        },
        escape(&v.org.name),
    );
    if notices.is_empty() {
        out.push_str("<p class=\"muted\">None yet.</p>");
        return Ok(out);
    }
    out.push_str(
        "<table><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Who</th>\
         <th scope=\"col\">What</th><th scope=\"col\">Evidence</th></tr></thead><tbody>",
    );
    for n in &notices {
        let name = ["name", "domain"]
            .iter()
            .find_map(|k| n.details[*k].as_str())
            .map(|s| format!(": {}", escape(s)))
            .unwrap_or_default();
        let fresh = n.actor["reauthenticated_at"]
            .as_i64()
            .map(|at| {
                format!(
                    " <span class=\"muted\">(signed in again at {})</span>",
                    escape(&ms_to_rfc3339(at))
                )
            })
            .unwrap_or_default();
        let new = if n.seq > mark {
            " <strong class=\"new\">new</strong>"
        } else {
            ""
        };
        out.push_str(&format!(
            "<tr><td>{}{new}</td><td>{}{fresh}</td><td>{}{name}</td>\
             <td><a href=\"/console/audit?after={}#event-{}\">audit event #{}</a></td></tr>",
            escape(&ms_to_rfc3339(n.at_ms)),
            escape(&who(state, v, n).await?),
            escape(what(&n.action)),
            n.seq - 1,
            n.seq,
            n.seq,
        ));
    }
    out.push_str("</tbody></table>");
    if unread > 0 {
        out.push_str(&format!(
            "<form method=\"post\" action=\"/console/notices/read\">{}\
             <button type=\"submit\">Mark all as read</button></form>",
            csrf_field(v)
        ));
    }
    Ok(out)
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
