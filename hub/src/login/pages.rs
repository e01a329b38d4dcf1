//! The few HTML pages of the browser flows: sign-in, signed-out and error pages. Plain
//! server-rendered HTML, no scripts, built with maud's `html!`, which escapes every value it is
//! given (text and attributes alike); the technical detail goes to the log.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::storage::StoreError;

/// The pages' own style sheet (a constant: the CSP allows inline styles, never scripts).
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;\
                     padding:0 1rem;color:#1a1a1a}label,input,button{display:block;font-size:1rem;\
                     margin:.5rem 0}input{width:100%;padding:.5rem}button{padding:.5rem 1rem}\
                     .note{color:#555;font-size:.9rem}";

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        // Raw: maud's constant `<!DOCTYPE html>`.
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (STYLE) }
            }
            body { main { (body) } }
        }
    }
}

/// A page with security headers that forbid framing and scripts.
pub fn page(status: StatusCode, title: &str, body: Markup) -> Response {
    let mut r = (status, Html(layout(title, body).into_string())).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// An error a person can act on: what happened, and whom to ask.
pub fn error(status: StatusCode, what: &str, whom: &str) -> Response {
    page(
        status,
        "Sign-in problem",
        html! {
            h1 { "We could not sign you in" }
            p { (what) }
            p.note { (whom) }
        },
    )
}

/// Why a browser flow stopped early: a page for the person, the detail in the log. Handlers
/// return [`PageResult`] and use `?`; a storage error becomes the one "could not handle this
/// sign-in" page, logged once where it happened.
#[derive(Debug)]
pub enum PageError {
    /// A page that says what happened and whom to ask.
    Page(Response),
    /// A failure inside the hub, already logged: the person is asked to try again.
    Internal,
}

/// What a browser flow's step returns.
pub type PageResult<T = Response> = Result<T, PageError>;

impl PageError {
    /// The error page `error(status, what, whom)` as an early return.
    pub fn page(status: StatusCode, what: &str, whom: &str) -> Self {
        Self::Page(error(status, what, whom))
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, source = ?std::error::Error::source(&e), "browser sign-in: storage error");
        Self::Internal
    }
}

impl From<Response> for PageError {
    fn from(page: Response) -> Self {
        Self::Page(page)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::Page(page) => page,
            Self::Internal => internal_error(),
        }
    }
}

/// The page for a failure inside the hub (the detail is in the log).
pub fn internal_error() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The hub could not handle this sign-in.",
        "Please try again in a moment.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_text_and_the_style_is_unchanged() {
        let body = layout(
            "<script>alert(1)</script>",
            html! { p { "\"><img src=x onerror=alert(1)>" } },
        )
        .into_string();
        assert!(
            body.starts_with("<!DOCTYPE html><html lang=\"en\">"),
            "{body}"
        );
        assert!(body.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>"));
        assert!(body.contains("<p>&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</p>"));
        assert!(!body.contains("<img") && !body.contains("<script"));
        assert!(body.contains(&format!("<style>{STYLE}</style>")), "{body}");
    }
}
