//! SCIM writes: user creates over HTTP as Okta or Entra ID would push them (each one audited in
//! its transaction), sequentially and concurrently, and one PATCH adding every created user to a
//! group (Entra's form), timed end to end.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Stats, timed_conc, timed_seq};

pub(crate) struct ScimResult {
    pub seq: Stats,
    pub conc: Stats,
    pub members: usize,
    pub group_patch: Duration,
}

async fn create(client: &reqwest::Client, base: &str, token: &str, i: usize) -> Result<String> {
    let r = client
        .post(format!("{base}/Users"))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("scim{i:06}@bench.test"), "active": true,
                "name": {"givenName": "Scim", "familyName": format!("User {i}")},
                "emails": [{"primary": true, "type": "work", "value": format!("scim{i:06}@bench.test")}]})
            .to_string(),
        )
        .send()
        .await?;
    if r.status() != reqwest::StatusCode::CREATED {
        bail!(
            "SCIM create answered {}: {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
    }
    let v: Value = r.json().await?;
    Ok(v["id"].as_str().context("id")?.to_string())
}

/// Needs the `bench` organization with the verified domain bench.test. The SCIM requests go to
/// `replicas` (round robin) if any are given, else to `base_url`.
pub(crate) async fn run(
    base_url: &str,
    operator_key: &str,
    n_seq: usize,
    n_conc: usize,
    workers: usize,
    replicas: &[String],
) -> Result<ScimResult> {
    let admin = reqwest::Client::new();
    let dir: Value = admin
        .post(format!("{base_url}/api/v1/orgs/bench/directories"))
        .bearer_auth(operator_key)
        .json(&json!({"name": "Bench SCIM", "kind": "scim"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = dir["id"].as_str().context("directory id")?;
    let base = dir["scim_base_url"].as_str().context("base")?.to_string();
    let bases: Arc<Vec<String>> = Arc::new(if replicas.is_empty() {
        vec![base.clone()]
    } else {
        replicas
            .iter()
            .map(|r| format!("{r}/scim/v2/bench"))
            .collect()
    });
    let tok: Value = admin
        .post(format!(
            "{base_url}/api/v1/orgs/bench/directories/{id}/scim-tokens"
        ))
        .bearer_auth(operator_key)
        .json(&json!({"name": "bench"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = tok["secret"].as_str().context("token")?.to_string();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seq = timed_seq(n_seq, {
        let mut i = 0;
        let (client, bases, token, ids) =
            (client.clone(), bases.clone(), token.clone(), ids.clone());
        move || {
            i += 1;
            let base = bases[i % bases.len()].clone();
            let (client, token, ids, n) = (client.clone(), token.clone(), ids.clone(), i);
            async move {
                let id = create(&client, &base, &token, n).await?;
                ids.lock().map_err(|_| anyhow::anyhow!("lock"))?.push(id);
                Ok(())
            }
        }
    })
    .await?;
    let conc = {
        let (client, bases, token, ids) =
            (client.clone(), bases.clone(), token.clone(), ids.clone());
        timed_conc(n_conc, workers, move |i| {
            let base = bases[i % bases.len()].clone();
            let (client, token, ids) = (client.clone(), token.clone(), ids.clone());
            async move {
                let id = create(&client, &base, &token, n_seq + 1 + i).await?;
                ids.lock().map_err(|_| anyhow::anyhow!("lock"))?.push(id);
                Ok(())
            }
        })
        .await?
    };
    let members: Vec<Value> = ids
        .lock()
        .map_err(|_| anyhow::anyhow!("lock"))?
        .iter()
        .map(|id| json!({"value": id}))
        .collect();
    let g: Value = client
        .post(format!("{}/Groups", bases[0]))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Everyone", "members": []})
            .to_string(),
        )
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let gid = g["id"].as_str().context("group id")?;
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "members", "value": members}]})
    .to_string();
    let t = Instant::now();
    let r = client
        .patch(format!("{}/Groups/{gid}", bases[0]))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(body)
        .send()
        .await?;
    let group_patch = t.elapsed();
    if !r.status().is_success() {
        bail!(
            "group PATCH answered {}: {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
    }
    Ok(ScimResult {
        seq,
        conc,
        members: members.len(),
        group_patch,
    })
}
