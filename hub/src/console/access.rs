//! Who can sign in and who belongs, on the setup page: the organization's IdP connections
//! (connect, test, switch off or on, replace the client secret, delete), its directories
//! (connect, switch off or on, SCIM tokens, the LDAP bind password, "sync now", confirming a
//! held mass deprovisioning) and which directory groups make its admins. Every change here
//! needs a recent sign-in at the admin's own IdP (`reauth::sensitive`) and its audit event
//! records that sign-in; testing a connection and starting a sync change nothing and do not.

use axum::extract::{Form, OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::json;

use super::html::{Href, button, head};
use super::reauth::sensitive;
use super::setup::{Fields, acting, field, input, list, refused, shown_once, to_setup};
use super::{Viewer, csrf_field, page};
use crate::clock::ms_to_rfc3339;
use crate::directories::{Directory, DirectoryKind};
use crate::federation::model::{Connection, ConnectionKind, ConnectionStatus};
use crate::state::AppState;
use crate::storage::{self, StoreError};

/// Steps 1 and 2 of the setup page, and the role mapping, with a word first when the admin's
/// sign-in is too old to change them.
pub(super) async fn section(state: &AppState, v: &Viewer) -> Result<Markup, StoreError> {
    let c = state.store.conn();
    let org = v.org.id;
    let csrf = csrf_field(v);
    let base = state.config.server.public_url.trim_end_matches('/');
    let conns = storage::connections::list(c, org).await?;
    let mut dirs = Vec::new();
    for d in storage::directories::list(c, org).await? {
        let tokens = match d.kind {
            DirectoryKind::Scim => storage::directories::tokens(c, org, d.id).await?,
            DirectoryKind::Ldap => Vec::new(),
        };
        let held: Vec<_> = storage::directories::syncs(c, org, d.id, 5)
            .await?
            .into_iter()
            .filter(|r| r.status == "held")
            .collect();
        dirs.push((d, tokens, held));
    }
    let roles = roles_section(state, v).await?;
    Ok(html! {
        @if v.recent_sign_in(state.clock.now_ms()).is_none() {
            p.problem #reauth-needed {
                "Changes to sign-in, directories and roles need a sign-in at your company's IdP \
                 from the last " (crate::reauth::WINDOW_MS / 60_000) " minutes: "
                (super::reauth::last_sign_in(v)) ". "
                a href=(Href::to("/console/reauth")) { "Sign in again" }
                " first, or you will be asked when you make the change (what you entered waits \
                 for you)."
            }
        }
        // Step 1: the IdP.
        h2 { "1. Sign-in: your identity provider" }
        @if conns.is_empty() {
            p.muted { "No connection yet: your people cannot sign in." }
        } @else {
            table {
                (head(&["Name", "Kind", "Issuer or IdP", "Domains", "Status", ""]))
                tbody { @for cn in &conns { (connection_row(base, cn, &csrf)) } }
            }
        }
        details {
            summary { "Connect an OpenID Connect IdP" }
            form method="post" action="/console/setup/connections" {
                (csrf)
                label for="c-name" { "Name" }
                input #c-name name="name" type="text" required;
                label for="c-issuer" { "Issuer URL" }
                input #c-issuer name="issuer" type="text" required;
                label for="c-client" { "Client ID the IdP gave the hub" }
                input #c-client name="client_id" type="text" required;
                label for="c-secret" { "Client secret" }
                input #c-secret name="client_secret" type="password" required;
                label for="c-domains" { "Email domains it serves (empty: all verified)" }
                input #c-domains name="domains" type="text";
                label {
                    input name="jit" type="checkbox" value="true";
                    " Create people at first sign-in (only without a directory)"
                }
                p.note {
                    "Register " code { (base) "/login/oidc/callback" }
                    " as the redirect URI at the IdP."
                }
                button type="submit" { "Connect the OIDC IdP" }
            }
        }
        details {
            summary { "Connect a SAML 2.0 IdP" }
            form method="post" action="/console/setup/connections" {
                (csrf)
                input type="hidden" name="kind" value="saml";
                label for="sm-name" { "Name" }
                input #sm-name name="name" type="text" required;
                label for="sm-meta" { "IdP metadata URL" }
                input #sm-meta name="metadata_url" type="text" required;
                label for="sm-domains" { "Email domains it serves (empty: all verified)" }
                input #sm-domains name="domains" type="text";
                label {
                    input name="jit" type="checkbox" value="true";
                    " Create people at first sign-in (only without a directory)"
                }
                p.note {
                    "Then give the IdP the hub's metadata for this connection (its link appears \
                     in the table above). Responses must be signed."
                }
                button type="submit" { "Connect the SAML IdP" }
            }
        }
        // Step 2: the directory.
        h2 { "2. Who belongs: your directory" }
        @for (d, tokens, held) in &dirs {
            (directory_section(base, v, d, tokens, held, &csrf))
        }
        details {
            summary { "Connect a directory" }
            form method="post" action="/console/setup/directories" {
                (csrf)
                label for="d-name" { "Name" }
                input #d-name name="name" type="text" required;
                label for="d-kind" { "Kind" }
                select #d-kind name="kind" {
                    option value="scim" { "SCIM 2.0 (pushed by Entra ID, Okta)" }
                    option value="ldap" { "LDAP or Active Directory (read by the hub)" }
                }
                fieldset {
                    legend { "LDAP only" }
                    label for="d-url" { "URL" }
                    input #d-url name="url" type="text" placeholder="ldaps://ldap.example.com";
                    label for="d-bind" { "Bind DN" }
                    input #d-bind name="bind_dn" type="text";
                    label for="d-pw" { "Bind password" }
                    input #d-pw name="bind_password" type="password";
                    label for="d-base" { "Base DN" }
                    input #d-base name="base_dn" type="text";
                    label {
                        input name="active_directory" type="checkbox" value="true";
                        " Active Directory"
                    }
                    label { input name="start_tls" type="checkbox" value="true"; " StartTLS" }
                }
                button type="submit" { "Connect the directory" }
            }
        }
        (roles)
    })
}

/// A connection's row: what it is, and its buttons (test, switch off or on, delete, and for
/// OIDC a new client secret).
fn connection_row(base: &str, cn: &Connection, csrf: &Markup) -> Markup {
    let (status, label) = match cn.status {
        ConnectionStatus::Active => ("disabled", "Switch off"),
        ConnectionStatus::Disabled => ("active", "Switch on"),
    };
    let to = Href::to("/console/setup/connections").seg(cn.id);
    let name = &cn.name;
    let domains = if cn.domains.is_empty() {
        "all verified".to_string()
    } else {
        cn.domains.join(", ")
    };
    html! {
        tr {
            td { (name) }
            td { (cn.kind.as_str()) }
            td {
                @match &cn.oidc {
                    Some(o) => (o.issuer),
                    None => {
                        "SAML; the hub's metadata: "
                        code { (base) "/saml/" (cn.id) "/metadata" }
                    }
                }
            }
            td { (domains) }
            td {
                (cn.status.as_str())
                @if cn.links_approved_at.is_none() {
                    br;
                    strong { "Waiting for your approval" }
                    " (made or changed by the hub operator: it links none of your existing \
                     people until an admin of yours approves it)"
                }
            }
            td {
                @if cn.links_approved_at.is_none() {
                    (button(&to.clone().lit("approve"), csrf,
                        Some(&format!("Approve {name}? It will sign in your existing people by \
                                       their email.")),
                        html! { "Approve " (name) }))
                    " "
                }
                (button(&to.clone().lit("test"), csrf, None, "Test connection"))
                " "
                form method="post" action=(to) class="inline"
                    data-confirm={ (label) " sign-in through " (name) "?" } {
                    (csrf)
                    input type="hidden" name="status" value=(status);
                    button type="submit" { (label) " " (name) }
                }
                " "
                (button(&to.clone().lit("delete"), csrf,
                    Some(&format!("Delete {name}? Its people can no longer sign in through it.")),
                    html! { "Delete " (name) }))
                @if cn.kind == ConnectionKind::Oidc {
                    details {
                        summary { "New client secret for " (name) }
                        form method="post" action=(to) {
                            (csrf)
                            label for={ "cs-" (cn.id) } { "Client secret" }
                            input id={ "cs-" (cn.id) } name="client_secret" type="password" required;
                            button type="submit" { "Replace the secret" }
                        }
                    }
                }
            }
        }
    }
}

/// A directory: its heading and buttons (switch off or on, and for LDAP a new bind password
/// and "sync now"), a SCIM one's base URL and tokens, and the syncs held for confirmation.
fn directory_section(
    base: &str,
    v: &Viewer,
    d: &Directory,
    tokens: &[crate::directories::ScimToken],
    held: &[storage::directories::SyncRow],
    csrf: &Markup,
) -> Markup {
    let (status, label) = match d.status {
        crate::directories::DirectoryStatus::Active => ("disabled", "Switch off"),
        crate::directories::DirectoryStatus::Disabled => ("active", "Switch on"),
    };
    let to = Href::to("/console/setup/directories").seg(d.id);
    let name = &d.name;
    html! {
        h3 { (name) " " span.muted { "(" (d.kind.as_str()) ", " (d.status.as_str()) ")" } }
        form method="post" action=(to) class="inline" data-confirm={ (label) " " (name) "?" } {
            (csrf)
            input type="hidden" name="status" value=(status);
            button type="submit" { (label) " " (name) }
        }
        @if d.kind == DirectoryKind::Ldap {
            details {
                summary { "New bind password for " (name) }
                form method="post" action=(to) {
                    (csrf)
                    label for={ "bp-" (d.id) } { "Bind password" }
                    input id={ "bp-" (d.id) } name="bind_password" type="password" required;
                    button type="submit" { "Replace the password" }
                }
            }
        }
        @if d.kind == DirectoryKind::Scim {
            p { "SCIM base URL for Entra ID or Okta: " code { (base) "/scim/v2/" (v.org.slug) } }
            ul {
                @for t in tokens.iter().filter(|t| t.revoked_at.is_none()) {
                    li {
                        "token " (t.name) " (made " (ms_to_rfc3339(t.created_at))
                        @if let Some(used) = t.last_used_at { ", last used " (ms_to_rfc3339(used)) }
                        ") "
                        (button(&to.clone().lit("tokens").seg(t.id).lit("revoke"), csrf,
                            Some("Revoke this token? Pushes with it stop at once."), "Revoke"))
                    }
                }
            }
            form method="post" action=(to.clone().lit("tokens")) {
                (csrf)
                label for={ "t-" (d.id) } { "New token for" }
                input id={ "t-" (d.id) } name="name" type="text" required
                    placeholder="Entra ID provisioning";
                button type="submit" { "Make a token" }
            }
        } @else {
            (button(&to.clone().lit("sync"), csrf, None, "Sync now"))
        }
        @for r in held {
            p.problem {
                "The sync of " (ms_to_rfc3339(r.started_at)) " holds " (r.held.len())
                " people it would deprovision (more than the mass-deprovision threshold). "
                (button(&to.clone().lit("syncs").seg(&r.id).lit("confirm"), csrf,
                    Some("Deprovision these people?"), "Confirm the deprovisioning"))
            }
        }
    }
}

/// Which directory groups make the organization's admins and compliance officers.
async fn roles_section(state: &AppState, v: &Viewer) -> Result<Markup, StoreError> {
    let groups = storage::roles::get(state.store.conn(), v.org.id).await?;
    Ok(html! {
        h3 { "Roles from your directory's groups" }
        p {
            "Members of these groups (as your directory or IdP names them) are the hub's admins \
             and compliance officers for your organization."
        }
        form method="post" action="/console/setup/roles" {
            (csrf_field(v))
            label for="r-admin" { "Admin groups (one per line or comma-separated)" }
            textarea #r-admin name="org_admin" rows="2" { (groups.org_admin.join("\n")) }
            label for="r-compliance" { "Compliance officer groups" }
            textarea #r-compliance name="compliance_officer" rows="2" {
                (groups.compliance_officer.join("\n"))
            }
            button type="submit" { "Save the roles" }
        }
    })
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
    to_setup(&v, made.await)
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
        Ok(report) => page(
            StatusCode::OK,
            Some(&v),
            "Test connection",
            html! {
                @let class = if report.ok { "ok" } else { "bad" };
                p class=(class) #result {
                    @if report.ok {
                        "Every check passed: the IdP is reachable and its keys are usable."
                    } @else {
                        "Some checks failed: see below."
                    }
                }
                table {
                    (head(&["Check", "Result", "Detail"]))
                    tbody {
                        @for c in &report.checks {
                            tr {
                                td { (c.check) }
                                td class=(if c.ok { "ok" } else { "bad" }) {
                                    (if c.ok { "passed" } else { "failed" })
                                }
                                td { (c.detail) }
                            }
                        }
                    }
                }
                p { a href=(Href::to("/console/setup")) { "Back to setup" } }
            },
        ),
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
        crate::directories::create(&state, &ctx, i, None).await
    };
    to_setup(&v, made.await)
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
        crate::directories::create_token(&state, &ctx, &dir, i, None).await
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
    to_setup(
        &v,
        crate::directories::revoke_token(&state, &ctx, &dir, &token).await,
    )
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
    to_setup(&v, done.await)
}

/// An org admin approves a connection the hub operator made or changed (after signing in afresh,
/// like every change to sign-in).
pub async fn approve_connection(
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
    to_setup(
        &v,
        crate::federation::connections::approve(&state, &ctx, &id).await,
    )
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
    to_setup(
        &v,
        crate::federation::connections::delete(&state, &ctx, &id).await,
    )
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
        crate::directories::update(&state, &ctx, &id, i, None).await
    };
    to_setup(&v, done.await)
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
        crate::orgs::roles::set(&state, &ctx, i, None).await
    };
    to_setup(&v, done.await)
}
