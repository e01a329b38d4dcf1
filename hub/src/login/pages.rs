//! The few HTML pages of the browser flows: sign-in, signed-out and error pages. Plain
//! server-rendered HTML, no scripts, every value escaped; the technical detail goes to the log.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1a1a1a}}\
         label,input,button{{display:block;font-size:1rem;margin:.5rem 0}}input{{width:100%;padding:.5rem}}\
         button{{padding:.5rem 1rem}}.note{{color:#555;font-size:.9rem}}</style></head>\
         <body><main>{body}</main></body></html>",
        t = escape(title)
    )
}

/// A page with security headers that forbid framing and scripts.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let mut r = (status, Html(layout(title, body))).into_response();
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
        &format!(
            "<h1>We could not sign you in</h1><p>{}</p><p class=\"note\">{}</p>",
            escape(what),
            escape(whom)
        ),
    )
}
