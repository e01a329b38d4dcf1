//! One delivery attempt, by kind: an OIDC back-channel logout token (Back-Channel Logout 1.0
//! §2.5, its `jti` the delivery's id so the application can drop duplicates), outbound SCIM
//! (RFC 7644: the user is found by the id the application gave it, remembered per application,
//! first learned by `externalId`, which carries the person's `sub` at that application; then
//! `PATCH active` or `DELETE`; a person added to a space's group whom the application does not
//! know yet is made there with what was released to it),
//! or a webhook
//! signed as Standard Webhooks specifies (`webhook-id`, `webhook-timestamp`, and an HMAC-SHA256
//! `webhook-signature` over `id.timestamp.body`). Every call goes through the outbound client
//! (address policy, no redirects) with the configured timeout; answers are read up to a limit.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::model::{Delivery, LogoutPayload, Payload, ScimAction, ScimChange, WebhookEvent};
use crate::orgs::applications::{SCIM_TOKEN_CONTEXT, WEBHOOK_SECRET_CONTEXT};
use crate::orgs::model::Application;
use crate::state::AppState;
use crate::storage;

/// The most of an answer the hub reads.
const MAX_ANSWER: usize = 1 << 20;
const SCIM_JSON: &str = "application/scim+json";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// How an attempt ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The application took it; what it answered, in brief.
    Delivered(String),
    /// Nothing to tell any more (the application lost its endpoint, or never had the user).
    Skipped(String),
}

/// Attempts `d` once. `Err` is the reason it failed, in plain words (retried).
pub async fn send(state: &AppState, d: &Delivery) -> Result<Sent, String> {
    // The application may belong to another organization (the person reached it through a
    // space); the delivery, written by the hub, names it.
    let app = match storage::applications::by_ids_any(state.store.conn(), &[d.app_id]).await {
        Ok(mut apps) if !apps.is_empty() => apps.swap_remove(0),
        Ok(_) => return Ok(Sent::Skipped("the application was deleted".into())),
        Err(e) => return Err(format!("the hub could not read the application: {e}")),
    };
    let timeout = Duration::from_secs(state.config.outbox.timeout_secs);
    match &d.payload {
        Payload::BackchannelLogout(p) => backchannel(state, &app, d, p, timeout).await,
        Payload::Scim(p) => scim(state, &app, d, p, timeout).await,
        Payload::Webhook(p) => webhook(state, &app, d, p, timeout).await,
    }
}

fn callable(state: &AppState, url: &str) -> Result<(), String> {
    crate::outbound::check(&state.net, url).map_err(|e| e.to_string())
}

fn transport(e: reqwest::Error) -> String {
    crate::outbound::describe_http_error(&e)
}

/// The answer's status and (at most `MAX_ANSWER` bytes of) its body.
async fn answer(mut r: reqwest::Response) -> Result<(reqwest::StatusCode, Vec<u8>), String> {
    let status = r.status();
    let mut body = Vec::new();
    while let Some(chunk) = r.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(format!(
                "the answer ({status}) is larger than {MAX_ANSWER} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

fn refused(status: reqwest::StatusCode, body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
    format!("the application answered {status}: {text}")
}

async fn backchannel(
    state: &AppState,
    app: &Application,
    d: &Delivery,
    p: &LogoutPayload,
    timeout: Duration,
) -> Result<Sent, String> {
    let Some(uri) = app.backchannel_logout_uri.as_deref() else {
        return Ok(Sent::Skipped(
            "the application no longer has a back-channel logout URI".into(),
        ));
    };
    callable(state, uri)?;
    let token =
        crate::sessions::logout_token(state, app, &d.id.to_string(), &p.sub, p.sid.as_deref())
            .await
            .map_err(|e| format!("the hub could not sign the logout token: {e}"))?;
    let r = state
        .http
        .post(uri)
        .form(&[("logout_token", token)])
        .timeout(timeout)
        .send()
        .await
        .map_err(transport)?;
    let (status, body) = answer(r).await?;
    if status.is_success() {
        Ok(Sent::Delivered(format!("logout token accepted ({status})")))
    } else {
        Err(refused(status, &body))
    }
}

async fn scim(
    state: &AppState,
    app: &Application,
    d: &Delivery,
    change: &ScimChange,
    timeout: Duration,
) -> Result<Sent, String> {
    let Some(target) = &app.scim_target else {
        return Ok(Sent::Skipped(
            "the application no longer has a SCIM target".into(),
        ));
    };
    let base = target.url.trim_end_matches('/');
    callable(state, base)?;
    let token = state
        .secrets
        .open(
            &format!("{SCIM_TOKEN_CONTEXT}:{}", app.id),
            &target.token_sealed,
        )
        .map_err(|e| format!("the hub could not open the SCIM token: {e}"))?;
    let scim = Scim {
        state,
        base,
        token: token.expose(),
        timeout,
    };
    let sub = external_id(d, &change.user);
    let id = match scim.remote_id(app, d, &sub).await? {
        Some(id) => id,
        None if change.action == ScimAction::GroupAdd => {
            scim.create(app, d, &sub, &change.user).await?
        }
        None => {
            return Ok(Sent::Skipped(format!(
                "the application has no user whose externalId is {sub}"
            )));
        }
    };
    let id = id.as_str();
    let url = format!("{base}/Users/{}", urlencode(id));
    let active = |value: bool| {
        state
            .http
            .patch(&url)
            .header("content-type", SCIM_JSON)
            .body(
                json!({"schemas": [PATCH_OP],
                    "Operations": [{"op": "replace", "path": "active", "value": value}]})
                .to_string(),
            )
    };
    let (req, action) = match (change.action, change.group.as_deref()) {
        (ScimAction::GroupAdd, Some(group)) => return scim.membership(group, id, true).await,
        (ScimAction::GroupRemove, Some(group)) => return scim.membership(group, id, false).await,
        (ScimAction::GroupAdd | ScimAction::GroupRemove, None) => {
            return Err("a group change without its group".into());
        }
        (ScimAction::Delete, _) => (state.http.delete(&url), "delete"),
        (ScimAction::Deactivate, _) => (active(false), "deactivate"),
        (ScimAction::Reactivate, _) => (active(true), "reactivate"),
    };
    let delete = change.action == ScimAction::Delete;
    let r = req
        .bearer_auth(token.expose())
        .header("accept", SCIM_JSON)
        .timeout(timeout)
        .send()
        .await
        .map_err(transport)?;
    let (status, body) = answer(r).await?;
    if status.is_success() || (delete && status == reqwest::StatusCode::NOT_FOUND) {
        if delete {
            // The id is gone there; a rehire is looked up afresh.
            let _ = storage::scim_links::forget(state.store.conn(), app.id, d.user_id).await;
        }
        Ok(Sent::Delivered(format!("SCIM {action} of {id} ({status})")))
    } else {
        Err(refused(status, &body))
    }
}

/// The `externalId` the application knows the person by: their `sub` there (the hub's id in
/// deliveries queued before subjects were per application).
fn external_id(d: &Delivery, p: &super::model::Person) -> String {
    if p.sub.is_empty() {
        d.user_id.to_string()
    } else {
        p.sub.clone()
    }
}

/// An application's SCIM service, for group membership (a space's members).
struct Scim<'a> {
    state: &'a AppState,
    base: &'a str,
    token: &'a str,
    timeout: Duration,
}

impl Scim<'_> {
    /// The application's id for the delivery's person: remembered from an earlier delivery, or
    /// found by `externalId`, which holds the person's `sub` at the application (what its
    /// tokens carry), never by `userName`, which a partner's directory controls.
    async fn remote_id(
        &self,
        app: &Application,
        d: &Delivery,
        external_id: &str,
    ) -> Result<Option<String>, String> {
        let db = self.state.store.conn();
        match storage::scim_links::get(db, app.id, d.user_id).await {
            Ok(Some(id)) => return Ok(Some(id)),
            Ok(None) => {}
            Err(e) => return Err(format!("the hub could not read its SCIM links: {e}")),
        }
        // RFC 7644 §3.4.2.2: a filter's string is a JSON string.
        let filter = format!(
            "externalId eq {}",
            serde_json::to_string(external_id).unwrap_or_default()
        );
        let (_, found) = self
            .send(
                self.state
                    .http
                    .get(format!("{}/Users", self.base))
                    .query(&[("filter", filter.as_str()), ("count", "2")]),
            )
            .await?;
        // Only an exact match counts, whatever the service's filter did.
        let ids: Vec<&str> = found["Resources"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter(|u| u["externalId"].as_str() == Some(external_id))
                    .filter_map(|u| u["id"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        match ids.as_slice() {
            [] => Ok(None),
            [id] => {
                storage::scim_links::put(db, app.id, d.user_id, id, self.state.clock.now_ms())
                    .await
                    .map_err(|e| format!("the hub could not record the SCIM link: {e}"))?;
                Ok(Some((*id).to_string()))
            }
            _ => Err(format!(
                "the application has several users whose externalId is {external_id}"
            )),
        }
    }

    /// Makes the person at the application with what was released to it and nothing else:
    /// `externalId` their `sub` there, `userName` their released username or email, else the
    /// `sub`.
    async fn create(
        &self,
        app: &Application,
        d: &Delivery,
        sub: &str,
        p: &super::model::Person,
    ) -> Result<String, String> {
        let mut user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "externalId": sub,
            "userName": p.user_name.as_deref().or(p.email.as_deref()).unwrap_or(sub),
            "active": true,
        });
        if let Some(e) = &p.email {
            user["emails"] = json!([{"value": e, "primary": true}]);
        }
        if let Some(n) = &p.name {
            user["displayName"] = json!(n);
        }
        let (_, made) = self
            .send(
                self.state
                    .http
                    .post(format!("{}/Users", self.base))
                    .header("content-type", SCIM_JSON)
                    .body(user.to_string()),
            )
            .await?;
        let id = made["id"]
            .as_str()
            .filter(|id| !id.is_empty() && id.len() <= 256)
            .ok_or("the application made the user but gave no id")?;
        storage::scim_links::put(
            self.state.store.conn(),
            app.id,
            d.user_id,
            id,
            self.state.clock.now_ms(),
        )
        .await
        .map_err(|e| format!("the hub could not record the SCIM link: {e}"))?;
        Ok(id.to_string())
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Value), String> {
        let r = req
            .bearer_auth(self.token)
            .header("accept", SCIM_JSON)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(transport)?;
        let (status, body) = answer(r).await?;
        if !status.is_success() {
            return Err(refused(status, &body));
        }
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }

    /// Adds the user `id` to (or removes them from) the group named `group`; the group is made
    /// when a first member is added.
    async fn membership(&self, group: &str, id: &str, add: bool) -> Result<Sent, String> {
        let filter = format!(
            "displayName eq {}",
            serde_json::to_string(group).unwrap_or_default()
        );
        let (_, found) = self
            .send(
                self.state
                    .http
                    .get(format!("{}/Groups", self.base))
                    .query(&[("filter", filter.as_str()), ("count", "2")]),
            )
            .await?;
        let existing = found["Resources"]
            .as_array()
            .and_then(|r| r.iter().find_map(|g| g["id"].as_str().map(str::to_string)));
        let member = json!([{"value": id}]);
        let Some(gid) = existing else {
            if !add {
                return Ok(Sent::Skipped(format!(
                    "the application has no group {group:?}"
                )));
            }
            let (status, _) = self
                .send(
                    self.state
                        .http
                        .post(format!("{}/Groups", self.base))
                        .header("content-type", SCIM_JSON)
                        .body(
                            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                "displayName": group, "members": member})
                            .to_string(),
                        ),
                )
                .await?;
            return Ok(Sent::Delivered(format!(
                "SCIM group {group:?} made with {id} ({status})"
            )));
        };
        let op = if add {
            json!({"op": "add", "path": "members", "value": member})
        } else {
            json!({"op": "remove", "path": format!("members[value eq {}]",
                serde_json::to_string(id).unwrap_or_default())})
        };
        let (status, _) = self
            .send(
                self.state
                    .http
                    .patch(format!("{}/Groups/{}", self.base, urlencode(&gid)))
                    .header("content-type", SCIM_JSON)
                    .body(json!({"schemas": [PATCH_OP], "Operations": [op]}).to_string()),
            )
            .await?;
        let verb = if add { "added to" } else { "removed from" };
        Ok(Sent::Delivered(format!(
            "SCIM: {id} {verb} group {group:?} ({status})"
        )))
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The Standard Webhooks signature: `v1,` + base64(HMAC-SHA256(key, "{id}.{ts}.{body}")).
pub fn webhook_signature(key: &[u8], id: &str, ts: i64, body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&key, format!("{id}.{ts}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

/// The key bytes of a `whsec_<base64>` secret.
pub fn webhook_key(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix("whsec_")?).ok()
}

async fn webhook(
    state: &AppState,
    app: &Application,
    d: &Delivery,
    event: &WebhookEvent,
    timeout: Duration,
) -> Result<Sent, String> {
    let Some(hook) = &app.webhook else {
        return Ok(Sent::Skipped(
            "the application no longer has a webhook".into(),
        ));
    };
    callable(state, &hook.url)?;
    let secret = state
        .secrets
        .open(
            &format!("{WEBHOOK_SECRET_CONTEXT}:{}", app.id),
            &hook.secret_sealed,
        )
        .map_err(|e| format!("the hub could not open the webhook secret: {e}"))?;
    let key = webhook_key(secret.expose()).ok_or("the webhook secret is malformed")?;
    let now = state.clock.now_ms();
    // The Standard Webhooks envelope: the event's `type` and `data`, and when it was sent.
    let mut body = serde_json::to_value(event).map_err(|e| e.to_string())?;
    body["timestamp"] = json!(crate::clock::ms_to_rfc3339(now));
    let body = body.to_string();
    let id = d.id.to_string();
    let ts = now / 1000;
    let r = state
        .http
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", webhook_signature(&key, &id, ts, &body))
        .body(body)
        .timeout(timeout)
        .send()
        .await
        .map_err(transport)?;
    let (status, body) = answer(r).await?;
    if status.is_success() {
        Ok(Sent::Delivered(format!("webhook accepted ({status})")))
    } else {
        Err(refused(status, &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let key = webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_or_default();
        let sig = webhook_signature(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(webhook_key("nope"), None);
    }

    #[test]
    fn ids_are_escaped_into_paths() {
        assert_eq!(urlencode("a b/c?d"), "a%20b%2Fc%3Fd");
    }
}
