//! The org admin's setup page, step by step: the company's IdP and its directory (their
//! section and forms are `access`'s), applications (the client secret shown once) and spaces
//! with their invitations. Every form goes through the same services, validation and audit as
//! the admin API, acting as the signed-in person.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use super::{Viewer, checked, csrf_field, forbidden_post, internal_error, message, page};
use crate::error::ServiceError;
use crate::login::pages::escape;
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
pub(super) fn input<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, ServiceError> {
    serde_json::from_value(v).map_err(|e| ServiceError::invalid("form", e.to_string()))
}

pub(super) fn shown_once(
    v: &Viewer,
    title: &str,
    what: &str,
    secret: &str,
    more: &str,
) -> Response {
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
    super::access::section(state, v, &mut b).await?;
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
