//! The org admin's setup page, step by step: the company's IdP and its directory (their
//! section and forms are `access`'s), applications (the client secret shown once) and spaces
//! with their invitations. Every form goes through the same services, validation and audit as
//! the admin API, acting as the signed-in person.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::{Value, json};

use super::html::{Href, button, head};
use super::{Viewer, checked, csrf_field, forbidden_post, internal_error, message, page};
use crate::error::ServiceError;
use crate::orgs::roles::HubRole;
use crate::state::AppState;
use crate::storage;

pub(super) type Fields = crate::reauth::Fields;

pub(super) fn field<'a>(f: &'a Fields, name: &str) -> Option<&'a str> {
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

pub(super) fn list(v: Option<&str>) -> Vec<String> {
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
pub(super) async fn acting(
    state: &AppState,
    headers: &HeaderMap,
    f: &Fields,
) -> Result<Viewer, Response> {
    let v = org_admin(state, headers).await?;
    if checked(state, headers, &v, field(f, "csrf").unwrap_or_default()) {
        Ok(v)
    } else {
        Err(forbidden_post(&v))
    }
}

/// What a refused change looks like: the fields and what is wrong with them.
/// Back to the setup page once a change is made, or the page saying why it was not.
pub(super) fn to_setup<T>(v: &Viewer, done: Result<T, ServiceError>) -> Response {
    match done {
        Ok(_) => Redirect::to("/console/setup").into_response(),
        Err(e) => refused(v, e),
    }
}

pub(super) fn refused(v: &Viewer, e: ServiceError) -> Response {
    match e {
        ServiceError::Invalid(fields) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(v),
            "Not saved",
            html! {
                p.problem role="alert" { "Nothing was changed:" }
                ul { @for f in &fields { li { strong { (f.field) } ": " (f.message) } } }
                p { a href=(Href::to("/console/setup")) { "Back to setup" } }
            },
        ),
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
pub(super) fn input<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, ServiceError> {
    serde_json::from_value(v).map_err(|e| ServiceError::invalid("form", e.to_string()))
}

/// A secret the hub keeps only hashed or sealed, shown this once.
pub(super) fn shown_once(v: &Viewer, title: &str, what: &str, secret: &str) -> Response {
    page(
        StatusCode::OK,
        Some(v),
        title,
        html! {
            p.ok { (what) }
            p {
                "Copy it now: the hub keeps only its hash (or a sealed copy) and will not show it \
                 again."
            }
            p { code #secret { (secret) } }
            p { a href=(Href::to("/console/setup")) { "Back to setup" } }
        },
    )
}

// ---- the page

pub async fn setup(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let v = match org_admin(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match body(&state, &v).await {
        Ok(b) => page(StatusCode::OK, Some(&v), "Setup", b),
        Err(e) => {
            tracing::error!(error = %e, "console setup: storage error");
            internal_error()
        }
    }
}

async fn body(state: &AppState, v: &Viewer) -> Result<Markup, crate::storage::StoreError> {
    let c = state.store.conn();
    let org = v.org.id;
    let csrf = csrf_field(v);
    let access = super::access::section(state, v).await?;
    let apps = storage::applications::list(c, org).await?;
    let spaces = storage::spaces::list(c, org).await?;
    Ok(html! {
        p {
            "Four steps: connect your company's sign-in, connect its directory, register the \
             applications, and share spaces with partner organizations."
        }
        (access)
        // Step 3: applications.
        h2 { "3. Applications" }
        @if !apps.is_empty() {
            table {
                (head(&["Name", "Client ID", "Redirect URIs", ""]))
                tbody {
                    @for a in &apps {
                        @let to = Href::to("/console/setup/applications").seg(a.id);
                        tr {
                            td { (a.name) }
                            td { code { (a.client_id) } }
                            td { (a.redirect_uris.join(" ")) }
                            td {
                                @if a.secret_hash.is_some() {
                                    (button(&to.clone().lit("secret"), &csrf,
                                        Some("Issue a new secret? The current one stops working at once."),
                                        html! { "New secret for " (a.name) }))
                                    " "
                                }
                                (button(&to.clone().lit("delete"), &csrf,
                                    Some("Delete this application? Its tokens stop working."),
                                    html! { "Delete " (a.name) }))
                            }
                        }
                    }
                }
            }
        }
        details {
            summary { "Register an application" }
            form method="post" action="/console/setup/applications" {
                (csrf)
                label for="a-name" { "Name" }
                input #a-name name="name" type="text" required;
                label for="a-uri" { "Redirect URI (exact)" }
                input #a-uri name="redirect_uri" type="text" required;
                label for="a-bcl" { "Back-channel logout URI (optional)" }
                input #a-bcl name="backchannel_logout_uri" type="text";
                label {
                    input name="public" type="checkbox" value="true";
                    " Public client (a browser or mobile app: PKCE, no secret)"
                }
                button type="submit" { "Register" }
            }
        }
        // Step 4: spaces.
        h2 { "4. Spaces shared with partner organizations" }
        @if !spaces.is_empty() {
            ul {
                @for sp in &spaces {
                    li {
                        (sp.name) " " span.muted { "(" (sp.slug) ", " (sp.apps.len()) " applications)" }
                        " "
                        (button(&Href::to("/console/setup/spaces").seg(&sp.slug).lit("delete"), &csrf,
                            Some("Delete this space? Every grant ends and its partners lose access."),
                            html! { "Delete space " (sp.name) }))
                    }
                }
            }
        }
        details {
            summary { "Create a space" }
            form method="post" action="/console/setup/spaces" {
                (csrf)
                label for="s-name" { "Name" }
                input #s-name name="name" type="text" required;
                label for="s-desc" { "Description" }
                input #s-desc name="description" type="text";
                fieldset {
                    legend { "Applications that serve it" }
                    @for a in &apps {
                        label { input name="applications" type="checkbox" value=(a.id); " " (a.name) }
                    }
                }
                button type="submit" { "Create" }
            }
        }
        @if !spaces.is_empty() {
            details {
                summary { "Invite a partner organization" }
                form method="post" action="/console/setup/grants" {
                    (csrf)
                    label for="g-space" { "Space" }
                    select #g-space name="space" {
                        @for s in &spaces { option value=(s.slug) { (s.name) } }
                    }
                    label for="g-org" { "Partner organization (its slug on the hub)" }
                    input #g-org name="organization" type="text" required;
                    label for="g-group" { "One of its groups (optional)" }
                    input #g-group name="group" type="text";
                    label for="g-user" { "Or one person, by email (optional)" }
                    input #g-user name="user" type="email";
                    p.note { "Nobody gets in until that organization's administrators accept." }
                    button type="submit" { "Invite" }
                }
            }
        }
        p { "Invitations and grants: see " a href=(Href::to("/console/spaces")) { "Spaces" } "." }
    })
}

// ---- the forms

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
    to_setup(&v, made.await)
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
    to_setup(
        &v,
        crate::orgs::applications::delete(&state, &v.ctx(), &id).await,
    )
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
    to_setup(&v, crate::spaces::delete(&state, &v.ctx(), &space).await)
}
