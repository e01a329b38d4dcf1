//! A real SCIM 2.0 service provider ([`ScimServer`]: PyPI `scim2-server`, in memory) standing for
//! a downstream application's provisioning endpoint, on 127.0.0.1 at a free port with one bearer
//! token; a child process killed by PID when dropped.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::net::{free_port, http_client};
use crate::peers::{ChildGuard, peers_dir};

/// A real SCIM 2.0 service provider (PyPI `scim2-server`, in-memory) as a downstream
/// application's provisioning endpoint, accepting one bearer token; stopped by PID when dropped.
pub struct ScimServer {
    _child: ChildGuard,
    pub url: String,
    pub token: String,
    http: reqwest::Client,
}

impl ScimServer {
    pub async fn start() -> Self {
        let bin = peers_dir().join(".venv/bin/scim2-server");
        assert!(
            bin.is_file(),
            "run scripts/install-peers.sh first (scim2-server is missing from tests/peers/.venv)"
        );
        let port = free_port();
        let token = format!("app-scim-{}", uuid::Uuid::new_v4().simple());
        let child = Command::new(bin)
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
            .args(["--bearer-token", &token])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("scim2-server");
        let s = Self {
            _child: ChildGuard(child),
            url: format!("http://127.0.0.1:{port}"),
            token,
            http: http_client(),
        };
        for _ in 0..200 {
            if let Ok(r) = s
                .http
                .get(format!("{}/ServiceProviderConfig", s.url))
                .send()
                .await
                && r.status().is_success()
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("scim2-server did not start on port {port}");
    }

    /// Creates a user as the application would (for example at its first sign-in through the
    /// hub), with the hub's id for the person as `externalId`; returns the application's id.
    pub async fn add_user(&self, user_name: &str, external_id: &str) -> String {
        let r = self
            .http
            .post(format!("{}/Users", self.url))
            .bearer_auth(&self.token)
            .header("content-type", "application/scim+json")
            .body(
                serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name, "externalId": external_id, "active": true})
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let v: Value = r.json().await.unwrap();
        v["id"].as_str().unwrap().to_string()
    }

    /// The user's resource as the application holds it (`Null` if gone).
    pub async fn user(&self, id: &str) -> Value {
        let r = self
            .http
            .get(format!("{}/Users/{id}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::NOT_FOUND {
            return Value::Null;
        }
        r.json().await.unwrap()
    }

    /// The ids of the members of the group named `name` (`None` if there is no such group).
    pub async fn group_members(&self, name: &str) -> Option<Vec<String>> {
        let r = self
            .http
            .get(format!("{}/Groups", self.url))
            .query(&[("filter", format!("displayName eq \"{name}\""))])
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        let g = v["Resources"].as_array()?.first()?.clone();
        Some(
            g["members"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .filter_map(|x| x["value"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }
}
