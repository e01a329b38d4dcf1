//! The audit log page of the console: the organization's events (an action filter, pages of
//! a hundred, each row anchored by its sequence number for the security notices' links), the
//! chain's verification, and the CSV and JSON exports.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::html::{Href, head};
use super::views::{overseer, stored, time};
use super::{AuditQuery, Viewer, page};
use crate::clock::ms_to_rfc3339;
use crate::state::AppState;
use crate::storage::{self, StoreError};

const AUDIT_PAGE: u64 = 100;
const EXPORT_MAX: usize = 100_000;

fn actor_text(a: &serde_json::Value) -> String {
    match a["kind"].as_str().unwrap_or_default() {
        "operator" => format!("operator ({})", a["key_name"].as_str().unwrap_or_default()),
        "org_key" => format!("API key {}", a["key_name"].as_str().unwrap_or_default()),
        "user" => match a["reauthenticated_at"].as_i64() {
            Some(at) => format!(
                "person {} (signed in again at {})",
                a["user_id"].as_str().unwrap_or_default(),
                ms_to_rfc3339(at)
            ),
            None => format!("person {}", a["user_id"].as_str().unwrap_or_default()),
        },
        "directory" => format!("directory {}", a["name"].as_str().unwrap_or_default()),
        "system" => format!("hub ({})", a["component"].as_str().unwrap_or_default()),
        "cli" => "command line".into(),
        other => other.to_string(),
    }
}

fn action_filter(q: &AuditQuery) -> Option<String> {
    q.action
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty() && a.len() <= 100)
        .map(str::to_string)
}

pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    let v = match overseer(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match audit_body(&state, &v, &q).await {
        Ok(body) => page(StatusCode::OK, Some(&v), "Audit log", body),
        Err(e) => stored(e),
    }
}

/// An event's details as the table shows them: its JSON, cut after 300 bytes.
fn shown_details(details: &serde_json::Value) -> String {
    let mut text = details.to_string();
    if text.len() > 300 {
        let cut = (0..=300)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    text
}

async fn audit_body(state: &AppState, v: &Viewer, q: &AuditQuery) -> Result<Markup, StoreError> {
    let action = action_filter(q);
    let after = q.after.unwrap_or(0).max(0);
    let events = storage::audit::list(
        state.store.conn(),
        storage::audit::Scope::Org(v.org.id),
        after,
        AUDIT_PAGE,
        action.as_deref(),
    )
    .await?;
    let report = crate::audit::verify_chain(
        &state.store,
        Some(&state.secrets),
        &crate::audit::Expectations {
            coverage: Some((
                state.clock.now_ms(),
                crate::audit::max_checkpoint_gap_ms(&state.config.audit),
            )),
            ..Default::default()
        },
    )
    .await?;
    let a = action.as_deref().unwrap_or("");
    let export = |format: &str| {
        Href::to("/console/audit/export")
            .query("format", format)
            .query("action", a)
    };
    let next = events
        .last()
        .filter(|_| events.len() as u64 == AUDIT_PAGE)
        .map(|last| {
            Href::to("/console/audit")
                .query("after", last.seq)
                .query("action", a)
        });
    Ok(html! {
        @if report.ok() {
            p.ok #verification {
                "The audit log verifies: " (report.events) " events chained, "
                (report.checkpoints) " signed checkpoints, none altered."
            }
        } @else {
            p.bad #verification {
                "The audit log does NOT verify: " (format!("{:?}", report.problem))
                ". Tell the hub's operator."
            }
        }
        form method="get" action="/console/audit" {
            label for="action" { "Action" }
            input #action name="action" type="text" value=(a) placeholder="e.g. user.deprovisioned";
            button type="submit" { "Filter" }
        }
        p {
            "Export: " a href=(export("csv")) { "CSV" } " · " a href=(export("json")) { "JSON" }
        }
        table {
            (head(&["#", "Time", "Actor", "Action", "Target", "Details"]))
            tbody {
                @for r in &events {
                    tr id={ "event-" (r.seq) } {
                        td { (r.seq) }
                        td { (time(r.at_ms)) }
                        td { (actor_text(&r.actor)) }
                        td { (r.action) }
                        td { (r.target) }
                        td { code { (shown_details(&r.details)) } }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p { a href=(next) { "Next page" } }
        }
    })
}

fn csv_field(s: &str) -> String {
    // Cells that a spreadsheet would run as a formula are quoted with a leading apostrophe.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub async fn audit_export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    let v = match overseer(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let action = action_filter(&q);
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = match storage::audit::list(
            state.store.conn(),
            storage::audit::Scope::Org(v.org.id),
            after,
            1000,
            action.as_deref(),
        )
        .await
        {
            Ok(p) => p,
            Err(e) => return stored(e),
        };
        let Some(last) = page.last() else { break };
        after = last.seq;
        all.extend(page);
        if all.len() >= EXPORT_MAX {
            break;
        }
    }
    let (kind, name, body) = if q.format.as_deref() == Some("csv") {
        let mut out = String::from("seq,time,actor,action,target,details,hash\n");
        for r in &all {
            out.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                r.seq,
                csv_field(&ms_to_rfc3339(r.at_ms)),
                csv_field(&actor_text(&r.actor)),
                csv_field(&r.action),
                csv_field(&r.target),
                csv_field(&r.details.to_string()),
                csv_field(&r.hash),
            ));
        }
        ("text/csv; charset=utf-8", "audit.csv", out)
    } else {
        let out = serde_json::to_string_pretty(&all).unwrap_or_else(|_| "[]".into());
        ("application/json", "audit.json", out)
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}-{name}\"", v.org.slug))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
