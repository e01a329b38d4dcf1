//! The org admin's setup page, step by step: the company's IdP, OIDC or SAML (with "test
//! connection"), its
//! directory (SCIM tokens shown once, LDAP syncs started, held mass deprovisions confirmed),
//! applications (the client secret shown once) and spaces with their invitations. Every form
//! goes through the same services, validation and audit as the admin API, acting as the
//! signed-in person.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use super::{Viewer, checked, csrf_field, forbidden_post, internal_error, message, page};
use crate::clock::ms_to_rfc3339;
use crate::directories::DirectoryKind;
use crate::error::ServiceError;
use crate::oidc::pages::escape;
use crate::orgs::roles::HubRole;
use crate::state::AppState;
use crate::storage;

type Fields = Vec<(String, String)>;

fn field<'a>(f: &'a Fields, name: &str) -> Option<&'a str> {
    f.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn all(f: &Fields, name: &str) -> Vec<String> {
    f.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

fn list(v: Option<&str>) -> Vec<String> {
    v.unwrap_or_default()
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The signed-in org admin; otherwise the page that says what they may not do.
pub(super) async fn org_admin(state: &AppState, headers: &HeaderMap) -> Result<Viewer, Response> {
    let v = super::views::signed_in(state, headers).await?;
    if v.is(HubRole::OrgAdmin) {
        Ok(v)
    } else {
        Err(message(
            StatusCode::FORBIDDEN,
            Some(&v),
            "Not available",
            "Setting up sign-in, directories, applications and spaces is for your \
             organization's administrators.",
        ))
    }
}

/// The org admin of a POST that carries its CSRF token.
async fn acting(state: &AppState, headers: &HeaderMap, f: &Fields) -> Result<Viewer, Response> {
    let v = org_admin(state, headers).await?;
    if checked(state, headers, &v, field(f, "csrf").unwrap_or_default()) {
        Ok(v)
    } else {
        Err(forbidden_post(&v))
    }
}

/// What a refused change looks like: the fields and what is wrong with them.
pub(super) fn refused(v: &Viewer, e: ServiceError) -> Response {
    match e {
        ServiceError::Invalid(fields) => {
            let items: String = fields
                .iter()
                .map(|f| {
                    format!(
                        "<li><strong>{}</strong>: {}</li>",
                        escape(&f.field),
                        escape(&f.message)
                    )
                })
                .collect();
            page(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(v),
                "Not saved",
                &format!(
                    "<p class=\"problem\" role=\"alert\">Nothing was changed:</p><ul>{items}</ul>\
                     <p><a href=\"/console/setup\">Back to setup</a></p>"
                ),
            )
        }
        ServiceError::NotFound(what) => message(
            StatusCode::NOT_FOUND,
            Some(v),
            "Not found",
            &format!("Your organization has no such {what}."),
        ),
        ServiceError::Conflict(m) => message(StatusCode::CONFLICT, Some(v), "Not saved", &m),
        ServiceError::Forbidden(m) => message(StatusCode::FORBIDDEN, Some(v), "Not allowed", m),
        ServiceError::Unprocessable(m) => {
            message(StatusCode::UNPROCESSABLE_ENTITY, Some(v), "Not done", &m)
        }
        other => {
            tracing::error!(error = %other, "console setup");
            internal_error()
        }
    }
}

/// Builds a service's input from form fields, through its own (strict) deserializer.
fn input<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, ServiceError> {
    serde_json::from_value(v).map_err(|e| ServiceError::invalid("form", e.to_string()))
}

fn shown_once(v: &Viewer, title: &str, what: &str, secret: &str, more: &str) -> Response {
    page(
        StatusCode::OK,
        Some(v),
        title,
        &format!(
            "<p class=\"ok\">{}</p><p>Copy it now: the hub keeps only its hash (or a sealed \
             copy) and will not show it again.</p><p><code id=\"secret\">{}</code></p>{more}\
             <p><a href=\"/console/setup\">Back to setup</a></p>",
            escape(what),
            escape(secret)
        ),
    )
}

// ---- the page

pub async fn setup(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let v = match org_admin(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match body(&state, &v).await {
        Ok(b) => page(StatusCode::OK, Some(&v), "Setup", &b),
        Err(e) => {
            tracing::error!(error = %e, "console setup: storage error");
            internal_error()
        }
    }
}

async fn body(state: &AppState, v: &Viewer) -> Result<String, crate::storage::StoreError> {
    let c = state.store.conn();
    let org = v.org.id;
    let csrf = csrf_field(v);
    let mut b = String::from(
        "<p>Four steps: connect your company's sign-in, connect its directory, register the \
         applications, and share spaces with partner organizations.</p>",
    );
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
                 {csrf}<button type=\"submit\">Test connection</button></form></td></tr>",
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
            "<h3>{} <span class=\"muted\">({}, {})</span></h3>",
            escape(&d.name),
            d.kind.as_str(),
            d.status.as_str()
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
    // Step 3: applications.
    b.push_str("<h2>3. Applications</h2>");
    let apps = storage::applications::list(c, org).await?;
    if !apps.is_empty() {
        b.push_str(
            "<table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Client ID</th>\
             <th scope=\"col\">Redirect URIs</th><th scope=\"col\"></th></tr></thead><tbody>",
        );
        for a in &apps {
            let rotate = if a.secret_hash.is_some() {
                format!(
                    "<form method=\"post\" class=\"inline\" action=\"/console/setup/applications/{}/secret\" \
                     data-confirm=\"Issue a new secret? The current one stops working at once.\">{csrf}\
                     <button type=\"submit\">New secret for {}</button></form> ",
                    a.id,
                    escape(&a.name)
                )
            } else {
                String::new()
            };
            b.push_str(&format!(
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{rotate}\
                 <form method=\"post\" class=\"inline\" action=\"/console/setup/applications/{}/delete\" \
                 data-confirm=\"Delete this application? Its tokens stop working.\">{csrf}\
                 <button type=\"submit\">Delete {}</button></form></td></tr>",
                escape(&a.name),
                escape(&a.client_id),
                escape(&a.redirect_uris.join(" ")),
                a.id,
                escape(&a.name)
            ));
        }
        b.push_str("</tbody></table>");
    }
    b.push_str(&format!(
        "<details><summary>Register an application</summary>\
         <form method=\"post\" action=\"/console/setup/applications\">{csrf}\
         <label for=\"a-name\">Name</label><input id=\"a-name\" name=\"name\" type=\"text\" required>\
         <label for=\"a-uri\">Redirect URI (exact)</label><input id=\"a-uri\" name=\"redirect_uri\" type=\"text\" required>\
         <label for=\"a-bcl\">Back-channel logout URI (optional)</label><input id=\"a-bcl\" name=\"backchannel_logout_uri\" type=\"text\">\
         <label><input name=\"public\" type=\"checkbox\" value=\"true\"> Public client (a browser or mobile app: PKCE, no secret)</label>\
         <button type=\"submit\">Register</button></form></details>"
    ));
    // Step 4: spaces.
    b.push_str("<h2>4. Spaces shared with partner organizations</h2>");
    let spaces = storage::spaces::list(c, org).await?;
    let app_boxes: String = apps
        .iter()
        .map(|a| {
            format!(
                "<label><input name=\"applications\" type=\"checkbox\" value=\"{}\"> {}</label>",
                a.id,
                escape(&a.name)
            )
        })
        .collect();
    if !spaces.is_empty() {
        b.push_str("<ul>");
        for sp in &spaces {
            b.push_str(&format!(
                "<li>{} <span class=\"muted\">({}, {} applications)</span> \
                 <form method=\"post\" class=\"inline\" action=\"/console/setup/spaces/{}/delete\" \
                 data-confirm=\"Delete this space? Every grant ends and its partners lose access.\">{csrf}\
                 <button type=\"submit\">Delete space {}</button></form></li>",
                escape(&sp.name),
                escape(&sp.slug),
                sp.apps.len(),
                escape(&sp.slug),
                escape(&sp.name)
            ));
        }
        b.push_str("</ul>");
    }
    b.push_str(&format!(
        "<details><summary>Create a space</summary>\
         <form method=\"post\" action=\"/console/setup/spaces\">{csrf}\
         <label for=\"s-name\">Name</label><input id=\"s-name\" name=\"name\" type=\"text\" required>\
         <label for=\"s-desc\">Description</label><input id=\"s-desc\" name=\"description\" type=\"text\">\
         <fieldset><legend>Applications that serve it</legend>{app_boxes}</fieldset>\
         <button type=\"submit\">Create</button></form></details>"
    ));
    if !spaces.is_empty() {
        let options: String = spaces
            .iter()
            .map(|s| {
                format!(
                    "<option value=\"{}\">{}</option>",
                    escape(&s.slug),
                    escape(&s.name)
                )
            })
            .collect();
        b.push_str(&format!(
            "<details><summary>Invite a partner organization</summary>\
             <form method=\"post\" action=\"/console/setup/grants\">{csrf}\
             <label for=\"g-space\">Space</label><select id=\"g-space\" name=\"space\">{options}</select>\
             <label for=\"g-org\">Partner organization (its slug on the hub)</label><input id=\"g-org\" name=\"organization\" type=\"text\" required>\
             <label for=\"g-group\">One of its groups (optional)</label><input id=\"g-group\" name=\"group\" type=\"text\">\
             <label for=\"g-user\">Or one person, by email (optional)</label><input id=\"g-user\" name=\"user\" type=\"email\">\
             <p class=\"note\">Nobody gets in until that organization's administrators accept.</p>\
             <button type=\"submit\">Invite</button></form></details>"
        ));
    }
    b.push_str("<p>Invitations and grants: see <a href=\"/console/spaces\">Spaces</a>.</p>");
    Ok(b)
}

// ---- the forms

pub async fn create_connection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let v = match acting(&state, &headers, &f).await {
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
            return crate::federation::connections::create(&state, &v.ctx(), i).await;
        }
        let i = input(json!({
            "name": field(&f, "name").unwrap_or_default(), "kind": "oidc",
            "client_secret": field(&f, "client_secret"),
            "domains": list(field(&f, "domains")),
            "jit_provisioning": field(&f, "jit") == Some("true"),
            "oidc": {"issuer": field(&f, "issuer").unwrap_or_default(),
                     "client_id": field(&f, "client_id").unwrap_or_default(),
                     "scopes": ["email", "profile", "groups"]}}))?;
        crate::federation::connections::create(&state, &v.ctx(), i).await
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
    Form(f): Form<Fields>,
) -> Response {
    let v = match acting(&state, &headers, &f).await {
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
        crate::directories::create(&state, &v.ctx(), i).await
    };
    match made.await {
        Ok(_) => Redirect::to("/console/setup").into_response(),
        Err(e) => refused(&v, e),
    }
}

pub async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(dir): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let v = match acting(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let made = async {
        let i = input(json!({"name": field(&f, "name").unwrap_or_default()}))?;
        crate::directories::create_token(&state, &v.ctx(), &dir, i).await
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
    Path((dir, token)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> Response {
    let v = match acting(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match crate::directories::revoke_token(&state, &v.ctx(), &dir, &token).await {
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
    Path((dir, sync)): Path<(String, String)>,
    Form(f): Form<Fields>,
) -> Response {
    let v = match acting(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let ctx = v.ctx();
    let done = async {
        let d = crate::directories::get(&state, &ctx, &dir).await?;
        crate::directories::sync::confirm(&state, &ctx.org, &d, &sync, &ctx.actor()).await
    };
    match done.await {
        Ok(_) => Redirect::to("/console/organization").into_response(),
        Err(e) => refused(&v, e),
    }
}

pub async fn create_application(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let v = match acting(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let public = field(&f, "public") == Some("true");
    let made = async {
        let i = input(json!({"name": field(&f, "name").unwrap_or_default(),
            "client_type": if public { "public" } else { "confidential" },
            "redirect_uris": [field(&f, "redirect_uri").unwrap_or_default()],
            "backchannel_logout_uri": field(&f, "backchannel_logout_uri")}))?;
        crate::orgs::applications::create(&state, &v.ctx(), i).await
    };
    match made.await {
        Ok(c) => match c.client_secret {
            Some(secret) => shown_once(
                &v,
                "Application registered",
                &format!(
                    "{} is registered with client ID {}. This is its client secret.",
                    c.app.name, c.app.client_id
                ),
                &secret,
                "",
            ),
            None => Redirect::to("/console/setup").into_response(),
        },
        Err(e) => refused(&v, e),
    }
}

pub async fn create_space(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let v = match acting(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let made = async {
        let i = input(json!({"name": field(&f, "name").unwrap_or_default(),
            "description": field(&f, "description"),
            "applications": all(&f, "applications")}))?;
        crate::spaces::create(&state, &v.ctx(), i).await
    };
    match made.await {
        Ok(_) => Redirect::to("/console/setup").into_response(),
        Err(e) => refused(&v, e),
    }
}

pub async fn propose_grant(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let v = match acting(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let space = field(&f, "space").unwrap_or_default().to_string();
    let made = async {
        let i = input(
            json!({"organization": field(&f, "organization").unwrap_or_default(),
            "group": field(&f, "group"), "user": field(&f, "user")}),
        )?;
        crate::spaces::propose(&state, &v.ctx(), &space, i).await
    };
    match made.await {
        Ok(_) => Redirect::to("/console/spaces").into_response(),
        Err(e) => refused(&v, e),
    }
}

pub async fn rotate_secret(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let v = match acting(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match crate::orgs::applications::rotate_secret(&state, &v.ctx(), &id).await {
        Ok((app, secret)) => shown_once(
            &v,
            "New client secret",
            &format!(
                "{}'s new client secret; the old one no longer works.",
                app.name
            ),
            &secret,
            "",
        ),
        Err(e) => refused(&v, e),
    }
}

pub async fn delete_application(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let v = match acting(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match crate::orgs::applications::delete(&state, &v.ctx(), &id).await {
        Ok(()) => Redirect::to("/console/setup").into_response(),
        Err(e) => refused(&v, e),
    }
}

pub async fn delete_space(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(space): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let v = match acting(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match crate::spaces::delete(&state, &v.ctx(), &space).await {
        Ok(_) => Redirect::to("/console/setup").into_response(),
        Err(e) => refused(&v, e),
    }
}
