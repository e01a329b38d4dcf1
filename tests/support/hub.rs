//! The hub running in-process ([`TestHub`]): a fresh [`TestDb`], a random secrets key, an operator
//! key, and `hub::serve` on a listener bound to 127.0.0.1:0, configured through [`Options`].
//! [`TestHub::stop`] shuts the server down (a final checkpoint) and drops a PostgreSQL database;
//! dropping a `TestHub` without `stop` leaves its serving task to end with the test's runtime.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use connectors::SecretString;
use hub::{AppState, Config};
use reqwest::{Method, StatusCode};
use sea_orm::{FromQueryResult, JsonValue, Statement};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::db::TestDb;
use crate::net::http_client;

/// A random base64 AEAD key.
pub fn random_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2))
}

/// Options for [`TestHub::start_with`].
#[derive(Default)]
pub struct Options {
    /// Nameserver for domain verification lookups (a dnsmasq port).
    pub dns_port: Option<u16>,
    /// A small body limit, to test oversized bodies cheaply.
    pub max_body_bytes: Option<usize>,
    /// Enable the development-only sign-in form.
    pub dev_login: bool,
    /// Let the hub call loopback receivers (back-channel logout to a local test app).
    pub allow_loopback: bool,
    /// `outbound.allow`: internal addresses the hub may call although `allow_loopback` is off.
    pub outbound_allow: Vec<String>,
    /// A clock the test controls.
    pub clock: Option<std::sync::Arc<hub::clock::FixedClock>>,
    /// Run the directory sync scheduler every second (off: it never ticks after the start,
    /// so tests that sync by hand see only their own runs).
    pub scheduler: bool,
    /// Outbox retries: (base backoff ms, max attempts); default (2000, 12) as configured.
    pub outbox_retries: Option<(u64, u32)>,
    /// Lease length in seconds (default 30).
    pub lease_secs: Option<u64>,
    /// Any other configuration change, applied last (before validation).
    pub config: Option<fn(&mut Config)>,
}

/// The hub running in-process, with an operator key.
pub struct TestHub {
    pub url: String,
    pub operator_key: String,
    pub secrets_key: String,
    pub db: TestDb,
    pub state: AppState,
    pub config: Config,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// The first admin key made for each organization: once an organization has one, its
    /// further keys are its own admin's to make (the operator's would wait for approval).
    org_admins: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// A response: status and parsed JSON body (`Null` if none).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub json: Value,
    pub content_type: String,
}

impl TestHub {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        let db = TestDb::new().await;
        let secrets_key = random_key();
        let mut config = Config::load(None).unwrap();
        config.database.url = SecretString::new(db.url.clone());
        config.secrets.key = Some(SecretString::new(secrets_key.clone()));
        config.secrets.key_file = None;
        config.secrets.create_key_file = false;
        config.log.level = "warn".into();
        if let Some(port) = options.dns_port {
            config.dns.nameservers = vec![SocketAddr::from(([127, 0, 0, 1], port))];
            config.dns.timeout_secs = 2;
        }
        if let Some(max) = options.max_body_bytes {
            config.server.max_body_bytes = max;
        }
        config.oidc.dev_login = options.dev_login;
        config.outbound.allow_loopback = options.allow_loopback;
        config.outbound.allow = options.outbound_allow.clone();
        config.audit.failure_window_secs = 1;
        config.jobs.scheduler_tick_secs = if options.scheduler { 1 } else { 86_400 };
        config.outbox.poll_ms = 200;
        // Tests sign in many times from one address; the enumeration test sets its own limit.
        config.server.realm_lookups_per_ip = 1_000_000;
        if let Some((base, attempts)) = options.outbox_retries {
            config.outbox.backoff_base_ms = base;
            config.outbox.max_attempts = attempts;
            config.outbox.backoff_max_secs = 2;
            config.outbox.timeout_secs = 2;
            config.outbox.claim_secs = 5;
        }
        if let Some(l) = options.lease_secs {
            config.jobs.lease_secs = l;
        }
        if let Some(change) = options.config {
            change(&mut config);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        config.server.public_url = format!("http://{addr}");
        config.validate().unwrap();
        let clock: std::sync::Arc<dyn hub::clock::Clock> = match &options.clock {
            Some(c) => c.clone(),
            None => std::sync::Arc::new(hub::clock::SystemClock),
        };
        let state = hub::build_state_with_clock(config.clone(), clock)
            .await
            .unwrap();
        let actor = hub::audit::Actor::Cli {
            command: "test".into(),
        };
        let (_, operator_key) = hub::orgs::api_keys::create_operator_key(
            &state.store,
            state.clock.as_ref(),
            &actor,
            &hub::orgs::model::NewOperatorKey {
                name: "test-operator".into(),
                person: Some("operator@hub.test".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let (tx, rx) = oneshot::channel();
        let serving = state.clone();
        let task = tokio::spawn(async move {
            let _ = hub::serve(serving, listener, async {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            url: format!("http://{addr}"),
            operator_key,
            secrets_key,
            db,
            state,
            config,
            client: http_client(),
            shutdown: Some(tx),
            task: Some(task),
            org_admins: Default::default(),
        }
    }

    /// Stops the server (signing a final checkpoint) and drops a PostgreSQL database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        self.state.store.clone().close().await.ok();
        self.db.drop_db().await;
    }

    /// Sends a request with `key` as bearer (if any) and `body` as JSON (if any).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        Self::read(req.send().await.unwrap()).await
    }

    pub async fn read(resp: reqwest::Response) -> Resp {
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(if text.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        });
        Resp {
            status,
            json,
            content_type,
        }
    }

    pub async fn get(&self, key: &str, path: &str) -> Resp {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(key), Some(&body)).await
    }

    /// Creates an organization as operator and returns `(id, slug)`.
    pub async fn create_org(&self, slug: &str) -> (String, String) {
        let r = self
            .post(
                &self.operator_key,
                "/api/v1/orgs",
                serde_json::json!({"slug": slug, "name": format!("{slug} Inc.")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        (r.json["id"].as_str().unwrap().to_string(), slug.to_string())
    }

    /// Creates an organization key (`admin` or `read`) and returns `(key id, secret)`.
    pub async fn create_org_key(&self, org: &str, role: &str) -> (String, String) {
        // The operator sets up an organization without an admin; after that, its admin does.
        let maker = self.maker(org);
        let path = format!("/api/v1/orgs/{org}/api-keys");
        let body = || {
            serde_json::json!({"name": format!("{org}-{role}-{}", uuid::Uuid::new_v4().simple()),
                "role": role})
        };
        let mut r = self.post(&maker, &path, body()).await;
        if r.status == StatusCode::FORBIDDEN && maker != self.operator_key {
            // The organization is suspended: its own keys are stopped, the operator's are not.
            r = self.post(&self.operator_key, &path, body()).await;
        }
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let (id, secret) = (
            r.json["key"]["id"].as_str().unwrap().to_string(),
            r.json["secret"].as_str().unwrap().to_string(),
        );
        if role == "admin" {
            self.org_admins
                .lock()
                .unwrap()
                .entry(org.to_string())
                .or_insert_with(|| secret.clone());
        }
        (id, secret)
    }

    /// The operator's change to `org`, approved by the organization's own admin when it waits
    /// for approval (as it does once the organization has an admin of its own).
    pub async fn operator_change(&self, org: &str, path: &str, body: serde_json::Value) -> Resp {
        let r = self.post(&self.operator_key, path, body).await;
        if r.status != StatusCode::ACCEPTED {
            return r;
        }
        let admin = self.org_admin_key(org).await;
        let pending = self
            .get(&admin, &format!("/api/v1/orgs/{org}/operator-requests"))
            .await;
        let id = pending.json[0]["id"].as_str().unwrap().to_string();
        let done = self
            .post(
                &admin,
                &format!("/api/v1/orgs/{org}/operator-requests/{id}/approve"),
                serde_json::json!(null),
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{done:?}");
        done
    }

    /// Who sets `org` up in a test: its own admin once it has one (the operator's changes then
    /// wait for that admin's approval), the operator before.
    pub fn maker(&self, org: &str) -> String {
        self.org_admins
            .lock()
            .unwrap()
            .get(org)
            .cloned()
            .unwrap_or_else(|| self.operator_key.clone())
    }

    /// An admin key of the organization's own (made if it has none yet).
    pub async fn org_admin_key(&self, org: &str) -> String {
        let known = self.org_admins.lock().unwrap().get(org).cloned();
        match known {
            Some(k) => k,
            None => self.create_org_key(org, "admin").await.1,
        }
    }

    /// The organization's own admin approves a connection the operator made, so that it links
    /// existing people by email (an org admin key is made for it).
    pub async fn approve_connection(&self, org: &str, connection_id: &str) {
        let (_, admin) = self.create_org_key(org, "admin").await;
        let r = self
            .post(
                &admin,
                &format!("/api/v1/orgs/{org}/connections/{connection_id}/approve"),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert!(r.json["links_approved_at"].is_string(), "{r:?}");
    }

    /// Every row of every table, plus the chain head: equal snapshots mean nothing changed.
    pub async fn snapshot(&self) -> Value {
        let db = self.db.connect().await;
        let backend = db.get_database_backend();
        let mut out = serde_json::Map::new();
        for table in [
            "organizations",
            "org_domains",
            "applications",
            "api_keys",
            "audit_events",
            "audit_event_orgs",
            "audit_head",
            "signing_keys",
            "users",
            "connections",
            "directories",
            "scim_tokens",
            "groups",
            "group_members",
            "leavers",
            "outbox",
            "spaces",
            "space_apps",
            "space_grants",
            "org_role_groups",
            "security_notices",
        ] {
            let rows = JsonValue::find_by_statement(Statement::from_string(
                backend,
                format!("SELECT * FROM {table} ORDER BY 1"),
            ))
            .all(&db)
            .await
            .unwrap();
            out.insert(table.into(), Value::Array(rows));
        }
        db.close().await.ok();
        Value::Object(out)
    }
}
