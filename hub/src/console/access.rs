//! Who can sign in and who belongs, on the setup page: the organization's IdP connections
//! (connect, test, switch off or on, replace the client secret, delete), its directories
//! (connect, switch off or on, SCIM tokens, the LDAP bind password, "sync now", confirming a
//! held mass deprovisioning) and which directory groups make its admins. Every change here
//! needs a recent sign-in at the admin's own IdP (`reauth::sensitive`) and its audit event
//! records that sign-in; testing a connection and starting a sync change nothing and do not.

use axum::extract::{Form, OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::reauth::sensitive;
use super::setup::{Fields, acting, field, input, list, refused, shown_once};
use super::{Viewer, csrf_field, page};
use crate::clock::ms_to_rfc3339;
use crate::directories::{Directory, DirectoryKind};
use crate::federation::model::{Connection, ConnectionKind, ConnectionStatus};
use crate::login::pages::escape;
use crate::state::AppState;
use crate::storage::{self, StoreError};

/// Steps 1 and 2 of the setup page, and the role mapping, with a word first when the admin's
/// sign-in is too old to change them.
pub(super) async fn section(
    state: &AppState,
    v: &Viewer,
    b: &mut String,
) -> Result<(), StoreError> {
    let c = state.store.conn();
    let org = v.org.id;
    let csrf = csrf_field(v);
    if v.recent_sign_in(state.clock.now_ms()).is_none() {
        b.push_str(&format!(
            "<p class=\"problem\" id=\"reauth-needed\">Changes to sign-in, directories and roles \
             need a sign-in at your company's IdP from the last {} minutes: {}. \
             <a href=\"/console/reauth\">Sign in again</a> first, or you will be asked when you \
             make the change (what you entered waits for you).</p>",
            crate::reauth::WINDOW_MS / 60_000,
            escape(&super::reauth::last_sign_in(v)),
        ));
    }
    // Step 1: the IdP.
    b.push_str("<h2>1. Sign-in: your identity provider</h2>");
    let conns = storage::connections::list(c, org).await?;
    if conns.is_empty() {
        b.push_str("<p class=\"muted\">No connection yet: your people cannot sign in.</p>");
    } else {
        b.push_str(
            "<table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Kind</th>\
             <th scope=\"col\">Issuer or IdP</th><th scope=\"col\">Domains</th>\
             <th scope=\"col\">Status</th><th scope=\"col\"></th></tr></thead><tbody>",
        );
        for cn in &conns {
            let issuer = match &cn.oidc {
                Some(o) => escape(&o.issuer),
                None => format!(
                    "SAML; the hub's metadata: <code>{}/saml/{}/metadata</code>",
                    escape(state.config.server.public_url.trim_end_matches('/')),
                    cn.id
                ),
            };
            b.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>\
                 <form method=\"post\" action=\"/console/setup/connections/{}/test\" class=\"inline\">\
                 {csrf}<button type=\"submit\">Test connection</button></form> {}</td></tr>",
                escape(&cn.name),
                cn.kind.as_str(),
                issuer,
                escape(&if cn.domains.is_empty() {
                    "all verified".to_string()
                } else {
                    cn.domains.join(", ")
                }),
                cn.status.as_str(),
                cn.id,
                connection_controls(cn, &csrf),
            ));
        }
        b.push_str("</tbody></table>");
    }
    b.push_str(&format!(
        "<details><summary>Connect an OpenID Connect IdP</summary>\
         <form method=\"post\" action=\"/console/setup/connections\">{csrf}\
         <label for=\"c-name\">Name</label><input id=\"c-name\" name=\"name\" type=\"text\" required>\
         <label for=\"c-issuer\">Issuer URL</label><input id=\"c-issuer\" name=\"issuer\" type=\"text\" required>\
         <label for=\"c-client\">Client ID the IdP gave the hub</label><input id=\"c-client\" name=\"client_id\" type=\"text\" required>\
         <label for=\"c-secret\">Client secret</label><input id=\"c-secret\" name=\"client_secret\" type=\"password\" required>\
         <label for=\"c-domains\">Email domains it serves (empty: all verified)</label><input id=\"c-domains\" name=\"domains\" type=\"text\">\
         <label><input name=\"jit\" type=\"checkbox\" value=\"true\"> Create people at first sign-in (only without a directory)</label>\
         <p class=\"note\">Register <code>{}/login/oidc/callback</code> as the redirect URI at the IdP.</p>\
         <button type=\"submit\">Connect the OIDC IdP</button></form></details>\
         <details><summary>Connect a SAML 2.0 IdP</summary>\
         <form method=\"post\" action=\"/console/setup/connections\">{csrf}\
         <input type=\"hidden\" name=\"kind\" value=\"saml\">\
         <label for=\"sm-name\">Name</label><input id=\"sm-name\" name=\"name\" type=\"text\" required>\
         <label for=\"sm-meta\">IdP metadata URL</label><input id=\"sm-meta\" name=\"metadata_url\" type=\"text\" required>\
         <label for=\"sm-domains\">Email domains it serves (empty: all verified)</label><input id=\"sm-domains\" name=\"domains\" type=\"text\">\
         <label><input name=\"jit\" type=\"checkbox\" value=\"true\"> Create people at first sign-in (only without a directory)</label>\
         <p class=\"note\">Then give the IdP the hub's metadata for this connection (its link appears in the table above). Responses must be signed.</p>\
         <button type=\"submit\">Connect the SAML IdP</button></form></details>",
        escape(state.config.server.public_url.trim_end_matches('/'))
    ));
    // Step 2: the directory.
    b.push_str("<h2>2. Who belongs: your directory</h2>");
    let dirs = storage::directories::list(c, org).await?;
    for d in &dirs {
        b.push_str(&format!(
            "<h3>{} <span class=\"muted\">({}, {})</span></h3>{}",
            escape(&d.name),
            d.kind.as_str(),
            d.status.as_str(),
            directory_controls(d, &csrf),
        ));
        if d.kind == DirectoryKind::Scim {
            b.push_str(&format!(
                "<p>SCIM base URL for Entra ID or Okta: <code>{}/scim/v2/{}</code></p>",
                escape(state.config.server.public_url.trim_end_matches('/')),
                escape(&v.org.slug)
            ));
            let tokens = storage::directories::tokens(c, org, d.id).await?;
            b.push_str("<ul>");
            for t in tokens.iter().filter(|t| t.revoked_at.is_none()) {
                b.push_str(&format!(
                    "<li>token {} (made {}{}) <form method=\"post\" class=\"inline\" \
                     action=\"/console/setup/directories/{}/tokens/{}/revoke\" \
                     data-confirm=\"Revoke this token? Pushes with it stop at once.\">{csrf}\
                     <button type=\"submit\">Revoke</button></form></li>",
                    escape(&t.name),
                    escape(&ms_to_rfc3339(t.created_at)),
                    t.last_used_at
                        .map(|u| format!(", last used {}", ms_to_rfc3339(u)))
                        .unwrap_or_default(),
                    d.id,
                    t.id
                ));
            }
            b.push_str(&format!(
                "</ul><form method=\"post\" action=\"/console/setup/directories/{}/tokens\">{csrf}\
                 <label for=\"t-{0}\">New token for</label><input id=\"t-{0}\" name=\"name\" type=\"text\" \
                 required placeholder=\"Entra ID provisioning\"><button type=\"submit\">Make a token</button></form>",
                d.id
            ));
        } else {
            b.push_str(&format!(
                "<form method=\"post\" action=\"/console/setup/directories/{}/sync\" class=\"inline\">{csrf}\
                 <button type=\"submit\">Sync now</button></form>",
                d.id
            ));
        }
        for r in storage::directories::syncs(c, org, d.id, 5).await? {
            if r.status == "held" {
                b.push_str(&format!(
                    "<p class=\"problem\">The sync of {} holds {} people it would deprovision \
                     (more than the mass-deprovision threshold). \
                     <form method=\"post\" class=\"inline\" \
                     action=\"/console/setup/directories/{}/syncs/{}/confirm\" \
                     data-confirm=\"Deprovision these people?\">{csrf}\
                     <button type=\"submit\">Confirm the deprovisioning</button></form></p>",
                    escape(&ms_to_rfc3339(r.started_at)),
                    r.held.len(),
                    d.id,
                    escape(&r.id)
                ));
            }
        }
    }
    b.push_str(&format!(
        "<details><summary>Connect a directory</summary>\
         <form method=\"post\" action=\"/console/setup/directories\">{csrf}\
         <label for=\"d-name\">Name</label><input id=\"d-name\" name=\"name\" type=\"text\" required>\
         <label for=\"d-kind\">Kind</label><select id=\"d-kind\" name=\"kind\">\
         <option value=\"scim\">SCIM 2.0 (pushed by Entra ID, Okta)</option>\
         <option value=\"ldap\">LDAP or Active Directory (read by the hub)</option></select>\
         <fieldset><legend>LDAP only</legend>\
         <label for=\"d-url\">URL</label><input id=\"d-url\" name=\"url\" type=\"text\" placeholder=\"ldaps://ldap.example.com\">\
         <label for=\"d-bind\">Bind DN</label><input id=\"d-bind\" name=\"bind_dn\" type=\"text\">\
         <label for=\"d-pw\">Bind password</label><input id=\"d-pw\" name=\"bind_password\" type=\"password\">\
         <label for=\"d-base\">Base DN</label><input id=\"d-base\" name=\"base_dn\" type=\"text\">\
         <label><input name=\"active_directory\" type=\"checkbox\" value=\"true\"> Active Directory</label>\
         <label><input name=\"start_tls\" type=\"checkbox\" value=\"true\"> StartTLS</label></fieldset>\
         <button type=\"submit\">Connect the directory</button></form></details>"
    ));
    roles_section(state, v, b).await
}

/// A connection's buttons: switch off or on, delete, and for OIDC a new client secret.
fn connection_controls(cn: &Connection, csrf: &str) -> String {
    let (status, label) = match cn.status {
        ConnectionStatus::Active => ("disabled", "Switch off"),
        ConnectionStatus::Disabled => ("active", "Switch on"),
    };
    let name = escape(&cn.name);
    let mut out = format!(
        "<form method=\"post\" action=\"/console/setup/connections/{id}\" class=\"inline\" \
         data-confirm=\"{label} sign-in through {name}?\">{csrf}\
         <input type=\"hidden\" name=\"status\" value=\"{status}\">\
         <button type=\"submit\">{label} {name}</button></form> \
         <form method=\"post\" action=\"/console/setup/connections/{id}/delete\" class=\"inline\" \
         data-confirm=\"Delete {name}? Its people can no longer sign in through it.\">{csrf}\
         <button type=\"submit\">Delete {name}</button></form>",
        id = cn.id,
    );
    if cn.kind == ConnectionKind::Oidc {
        out.push_str(&format!(
            "<details><summary>New client secret for {name}</summary>\
             <form method=\"post\" action=\"/console/setup/connections/{id}\">{csrf}\
             <label for=\"cs-{id}\">Client secret</label>\
             <input id=\"cs-{id}\" name=\"client_secret\" type=\"password\" required>\
             <button type=\"submit\">Replace the secret</button></form></details>",
            id = cn.id,
        ));
    }
    out
}

/// A directory's buttons: switch off or on, and for LDAP a new bind password.
fn directory_controls(d: &Directory, csrf: &str) -> String {
    let (status, label) = match d.status {
        crate::directories::DirectoryStatus::Active => ("disabled", "Switch off"),
        crate::directories::DirectoryStatus::Disabled => ("active", "Switch on"),
    };
    let name = escape(&d.name);
    let mut out = format!(
        "<form method=\"post\" action=\"/console/setup/directories/{id}\" class=\"inline\" \
         data-confirm=\"{label} {name}?\">{csrf}\
         <input type=\"hidden\" name=\"status\" value=\"{status}\">\
         <button type=\"submit\">{label} {name}</button></form>",
        id = d.id,
    );
    if d.kind == DirectoryKind::Ldap {
        out.push_str(&format!(
            "<details><summary>New bind password for {name}</summary>\
             <form method=\"post\" action=\"/console/setup/directories/{id}\">{csrf}\
             <label for=\"bp-{id}\">Bind password</label>\
             <input id=\"bp-{id}\" name=\"bind_password\" type=\"password\" required>\
             <button type=\"submit\">Replace the password</button></form></details>",
            id = d.id,
        ));
    }
    out
}

/// Which directory groups make the organization's admins and compliance officers.
async fn roles_section(state: &AppState, v: &Viewer, b: &mut String) -> Result<(), StoreError> {
    let groups = storage::roles::get(state.store.conn(), v.org.id).await?;
    b.push_str(&format!(
        "<h3>Roles from your directory's groups</h3>\
         <p>Members of these groups (as your directory or IdP names them) are the hub's admins \
         and compliance officers for your organization.</p>\
         <form method=\"post\" action=\"/console/setup/roles\">{csrf}\
         <label for=\"r-admin\">Admin groups (one per line or comma-separated)</label>\
         <textarea id=\"r-admin\" name=\"org_admin\" rows=\"2\">{}</textarea>\
         <label for=\"r-compliance\">Compliance officer groups</label>\
         <textarea id=\"r-compliance\" name=\"compliance_officer\" rows=\"2\">{}</textarea>\
         <button type=\"submit\">Save the roles</button></form>",
        escape(&groups.org_admin.join("\n")),
        escape(&groups.compliance_officer.join("\n")),
        csrf = csrf_field(v),
    ));
    Ok(())
}

// ---- the forms

pub async fn create_connection(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Form(f): Form<Fields>,
) -> Response {
    let (v, ctx) = match sensitive(&state, &headers, &f, uri.path()).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let saml = field(&f, "kind") == Some("saml");
    let made = async {
        if saml {
            let i = input(json!({
                "name": field(&f, "name").unwrap_or_default(), "kind": "saml",
                "domains": list(field(&f, "domains")),
                "jit_provisioning": field(&f, "jit") == Some("true"),
                "saml": {"metadata_url": field(&f, "metadata_url").unwrap_or_default()}}))?;
            return crate::federation::connections::create(&state, &ctx, i).await;
        }
        let i = input(json!({
            "name": field(&f, "name").unwrap_or_default(), "kind": "oidc",
            "client_secret": field(&f, "client_secret"),
            "domains": list(field(&f, "domains")),
            "jit_provisioning": field(&f, "jit") == Some("true"),
            "oidc": {"issuer": field(&f, "issuer").unwrap_or_default(),
                     "client_id": field(&f, "client_id").unwrap_or_default(),
                     "scopes": ["email", "profile", "groups"]}}))?;
        crate::federation::connections::create(&state, &ctx, i).await
    };
    match made.await {
        Ok(_) => Redirect::to("/console/setup").into_response(),
        Err(e) => refused(&v, e),
    }
}

pub async fn test_connection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let v = match acting(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match crate::federation::connections::test(&state, &v.ctx(), &id).await {
        Ok(report) => {
            let rows: String = report
                .checks
                .iter()
                .map(|c| {
                    format!(
                        "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                        escape(c.check),
                        if c.ok { "ok" } else { "bad" },
                        if c.ok { "passed" } else { "failed" },
                        escape(&c.detail)
                    )
                })
                .collect();
            page(
                StatusCode::OK,
                Some(&v),
                "Test connection",
                &format!(
                    "<p class=\"{}\" id=\"result\">{}</p><table><thead><tr><th scope=\"col\">Check</th>\
                     <th scope=\"col\">Result</th><th scope=\"col\">Detail</th></tr></thead>\
                     <tbody>{rows}</tbody></table><p><a href=\"/console/setup\">Back to setup</a></p>",
                    if report.ok { "ok" } else { "bad" },
                    if report.ok {
                        "Every check passed: the IdP is reachable and its keys are usable."
                    } else {
                        "Some checks failed: see below."
                    }
                ),
            )
        }
        Err(e) => refused(&v, e),
    }
}

pub async fn create_directory(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Form(f): Form<Fields>,
) -> Response {
    let (v, ctx) = match sensitive(&state, &headers, &f, uri.path()).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let kind = field(&f, "kind").unwrap_or("scim");
    let mut body = json!({"name": field(&f, "name").unwrap_or_default(), "kind": kind});
    if kind == "ldap" {
        body["bind_password"] = json!(field(&f, "bind_password"));
        body["ldap"] = json!({"url": field(&f, "url").unwrap_or_default(),
            "bind_dn": field(&f, "bind_dn").unwrap_or_default(),
            "base_dn": field(&f, "base_dn").unwrap_or_default(),
            "active_directory": field(&f, "active_directory") == Some("true"),
            "start_tls": field(&f, "start_tls") == Some("true")});
    }
    let made = async {
        let i = input(body)?;
        crate::directories::create(&state, &ctx, i).await
    };
    match made.await {
        Ok(_) => Redirect::to("/console/setup").into_response(),
        Err(e) => refused(&v, e),
    }
}

pub async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(dir): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let (v, ctx) = match sensitive(&state, &headers, &f, uri.path()).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let made = async {
        let i = input(json!({"name": field(&f, "name").unwrap_or_default()}))?;
        crate::directories::create_token(&state, &ctx, &dir, i).await
    };
    match made.await {
        Ok((t, secret)) => shown_once(
            &v,
            "SCIM token",
            &format!(
                "The token {:?} is ready. Give it to your provisioning service.",
                t.name
            ),
            &secret,
            "",
        ),
        Err(e) => refused(&v, e),
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path((dir, token)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> Response {
    let (v, ctx) = match sensitive(&state, &headers, &f, uri.path()).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match crate::directories::revoke_token(&state, &ctx, &dir, &token).await {
        Ok(_) => Redirect::to("/console/setup").into_response(),
        Err(e) => refused(&v, e),
    }
}

pub async fn sync_now(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(dir): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    use crate::directories::sync::{Mode, Trigger};
    let v = match acting(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let ctx = v.ctx();
    let d = match crate::directories::get(&state, &ctx, &dir).await {
        Ok(d) => d,
        Err(e) => return refused(&v, e),
    };
    // The sync runs on its own; the organization page follows its progress.
    let (st, org) = (state.clone(), v.org.clone());
    tokio::spawn(async move {
        if let Err(e) =
            crate::directories::sync::run(&st, &org, &d, Mode::Full, Trigger::Admin, |_| {}).await
        {
            tracing::warn!(error = %e, "console: sync failed");
        }
    });
    Redirect::to("/console/organization").into_response()
}

pub async fn confirm_sync(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path((dir, sync)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> Response {
    let (v, ctx) = match sensitive(&state, &headers, &f, uri.path()).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = async {
        let d = crate::directories::get(&state, &ctx, &dir).await?;
        crate::directories::sync::confirm(&state, &ctx.org, &d, &sync, &ctx.actor()).await
    };
    match done.await {
        Ok(_) => Redirect::to("/console/organization").into_response(),
        Err(e) => refused(&v, e),
    }
}

/// The fields of an update form that are set, as the service's input expects them.
fn update_fields(f: &Fields, secret: &str) -> serde_json::Value {
    let mut body = json!({});
    if let Some(s) = field(f, "status") {
        body["status"] = json!(s);
    }
    if let Some(s) = field(f, secret) {
        body[secret] = json!(s);
    }
    body
}

pub async fn update_connection(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let (v, ctx) = match sensitive(&state, &headers, &f, uri.path()).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = async {
        let i = input(update_fields(&f, "client_secret"))?;
        crate::federation::connections::update(&state, &ctx, &id, i).await
    };
    match done.await {
        Ok(_) => Redirect::to("/console/setup").into_response(),
        Err(e) => refused(&v, e),
    }
}

pub async fn delete_connection(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let (v, ctx) = match sensitive(&state, &headers, &f, uri.path()).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match crate::federation::connections::delete(&state, &ctx, &id).await {
        Ok(()) => Redirect::to("/console/setup").into_response(),
        Err(e) => refused(&v, e),
    }
}

pub async fn update_directory(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let (v, ctx) = match sensitive(&state, &headers, &f, uri.path()).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = async {
        let i = input(update_fields(&f, "bind_password"))?;
        crate::directories::update(&state, &ctx, &id, i).await
    };
    match done.await {
        Ok(_) => Redirect::to("/console/setup").into_response(),
        Err(e) => refused(&v, e),
    }
}

/// Group names, one per line or comma-separated (a name may hold spaces).
fn group_names(v: Option<&str>) -> Vec<String> {
    v.unwrap_or_default()
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub async fn set_roles(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Form(f): Form<Fields>,
) -> Response {
    let (v, ctx) = match sensitive(&state, &headers, &f, uri.path()).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = async {
        let i = input(json!({"org_admin": group_names(field(&f, "org_admin")),
            "compliance_officer": group_names(field(&f, "compliance_officer"))}))?;
        crate::orgs::roles::set(&state, &ctx, i).await
    };
    match done.await {
        Ok(_) => Redirect::to("/console/setup").into_response(),
        Err(e) => refused(&v, e),
    }
}
