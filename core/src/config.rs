//! Layered configuration: the embedded `config/default.toml`, then the `--config` file, then
//! `HUB_*` environment variables (`__` separates section and key). `validate()` runs last and its
//! messages tell the operator what to change.

use connectors::SecretString;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Top-level sections; environment variables outside them (HUB_CONFIG, HUB_TEST_*) are ignored.
const SECTIONS: &[&str] = &[
    "server", "database", "secrets", "log", "audit", "dns", "outbound", "oidc", "jobs", "outbox",
];

/// The hub's whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub secrets: SecretsConfig,
    pub log: LogConfig,
    pub audit: AuditConfig,
    pub dns: DnsConfig,
    pub outbound: OutboundConfig,
    pub oidc: OidcConfig,
    pub jobs: JobsConfig,
    pub outbox: OutboxConfig,
}

/// Background work (scheduled directory syncs, syncrepl watches, outbox delivery), shared by
/// every replica through database leases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    /// Run the scheduler and the delivery worker in `hub serve` (false: this replica only
    /// answers requests; another must run them).
    pub enabled: bool,
    /// How long a replica's claim on a job lasts unless renewed (a third of it, each time): a
    /// replica that dies has its jobs taken over after at most this long.
    pub lease_secs: u64,
    /// How often each replica looks for directory syncs that are due.
    pub scheduler_tick_secs: u64,
}

/// The durable outbox of downstream notifications (back-channel logout, outbound SCIM, signed
/// webhooks): delivered at least once, retried with capped exponential backoff and jitter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// How often an idle worker looks for due deliveries written by another replica (a change
    /// made on this replica wakes it at once).
    pub poll_ms: u64,
    /// Attempts before a delivery is dead-lettered (visible in the API, retried by an admin).
    pub max_attempts: u32,
    /// The first retry waits about this long; each next one twice as long, up to the cap.
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
    /// How long a claimed delivery stays reserved for the replica attempting it.
    pub claim_secs: u64,
    /// Timeout of one delivery attempt (connect, send, answer).
    pub timeout_secs: u64,
    /// Deliveries in flight per replica, and per application (so a slow one cannot take every
    /// slot).
    pub concurrency: usize,
    pub per_app_concurrency: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    pub access_token_ttl_secs: u64,
    pub id_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub code_ttl_secs: u64,
    pub session_ttl_secs: u64,
    pub key_publish_secs: u64,
    /// Rotate the token signing keys when the newest is this many days old (0: only by hand,
    /// `hub keys rotate`). One replica does it, under a lease.
    pub key_rotation_days: u64,
    pub key_cache_secs: u64,
    /// How long a replica may use a registered client it read (0: read it every time).
    pub client_cache_secs: u64,
    /// Development-only passwordless login; off unless explicitly enabled.
    pub dev_login: bool,
    /// Failed client authentications of one client id from one address within
    /// `client_auth_window_secs` before that pair is refused until the window ends.
    pub client_auth_max_failures: u32,
    /// Failed client authentications from one address (any client ids) before it is refused.
    pub client_auth_max_failures_per_ip: u32,
    pub client_auth_window_secs: u64,
    /// Pending authorization requests (a sign-in started and not finished) kept per client.
    pub max_pending_auth_requests_per_client: u64,
    /// Pending authorization requests kept per source address.
    pub max_pending_auth_requests_per_ip: u64,
    /// How long a pending authorization request waits for the person to sign in.
    pub auth_request_ttl_secs: u64,
    /// Reverse proxies in front of the hub that append to `X-Forwarded-For` (0: use the peer
    /// address). The client's address is taken that many entries from the right.
    pub trusted_proxy_hops: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    /// Allow tenant-supplied destinations at every internal address (loopback, private,
    /// link-local...), over plain http too: for development only.
    pub allow_loopback: bool,
    /// Internal networks or addresses the hub may call although they are internal, each
    /// optionally with a port: `10.20.0.0/16`, `10.1.2.3:636`, `[fd00::/64]:443`. Plain http is
    /// allowed only to these.
    #[serde(default)]
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_url: String,
    pub max_body_bytes: usize,
    pub request_timeout_secs: u64,
    /// Each request head (the wait for the next one on a kept-alive connection included) must
    /// arrive within this many seconds.
    pub header_timeout_secs: u64,
    /// Open connections at most (kept below the open-file limit); over it, the oldest idle
    /// connection makes room.
    pub max_connections: usize,
    /// Failed bearer-token authentications (SCIM tokens) counted per client address; an
    /// address that reached the limit gets 429 with `Retry-After` until its window ends, before
    /// any token it sends is looked at.
    pub bearer_auth_max_failures_per_ip: u32,
    pub bearer_auth_window_secs: u64,
    /// Home-realm lookups (a work email typed at a sign-in page) counted per client address; an
    /// address over the limit gets 429 with `Retry-After` until its window ends, so the list of
    /// companies on the hub cannot be drawn from it in bulk.
    pub realm_lookups_per_ip: u32,
    pub realm_lookup_window_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// May carry a password, hence secret.
    pub url: SecretString,
    pub max_connections: u32,
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    #[serde(default)]
    pub key: Option<SecretString>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    pub create_key_file: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    pub checkpoint_interval_secs: u64,
    /// Seconds between checkpoints of the audit log's Merkle tree (signed notes), each after
    /// the sequencer added what was committed (only written when the tree grew).
    pub log_checkpoint_secs: u64,
    /// Anonymous failures (forged callbacks, junk SAML posts) are counted and summarised in one
    /// audit event per organization and connection every this many seconds.
    pub failure_window_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    pub nameservers: Vec<SocketAddr>,
    pub timeout_secs: u64,
}

/// Which database the URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration: {0}")]
    Load(#[source] Box<figment::Error>),
    #[error(
        "configuration file {0} does not exist; pass an existing file to --config or HUB_CONFIG"
    )]
    MissingFile(PathBuf),
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

impl Config {
    /// Loads defaults, then `file` (if any), then the process environment, and validates.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(file)?)
    }

    /// The layered sources, before extraction (exposed for `check-config` and tests).
    pub fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path.to_path_buf()));
            }
            figment = figment.merge(Toml::file(path));
        }
        let env = Env::prefixed("HUB_").filter_map(|key| {
            let key = key.as_str().to_ascii_lowercase();
            if key == "database_url" {
                return Some("database.url".to_string().into());
            }
            let section = key.split("__").next().unwrap_or_default();
            SECTIONS
                .contains(&section)
                .then(|| key.replace("__", ".").into())
        });
        Ok(figment.merge(env))
    }

    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: URL shapes, ranges, filter syntax. Collects every problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        match url::Url::parse(&self.server.public_url) {
            Ok(u) if !matches!(u.scheme(), "http" | "https") => problems.push(format!(
                "server.public_url must be an http or https URL, not {:?}",
                u.scheme()
            )),
            Ok(u) if u.query().is_some() || u.fragment().is_some() => {
                problems.push("server.public_url must not carry a query or fragment".to_string())
            }
            Ok(_) if self.server.public_url.ends_with('/') => problems.push(
                "server.public_url must not end with '/': write https://hub.example.com".into(),
            ),
            Ok(_) => {}
            Err(e) => problems.push(format!(
                "server.public_url is not a URL ({e}); write it like https://hub.example.com"
            )),
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.server.max_body_bytes) {
            problems.push("server.max_body_bytes must be between 1024 and 67108864".into());
        }
        if self.server.header_timeout_secs == 0 || self.server.header_timeout_secs > 300 {
            problems.push("server.header_timeout_secs must be between 1 and 300".into());
        }
        if self.server.max_connections < 16 {
            problems.push("server.max_connections must be at least 16".into());
        }
        if self.server.bearer_auth_max_failures_per_ip == 0
            || self.server.bearer_auth_window_secs == 0
        {
            problems.push(
                "server.bearer_auth_max_failures_per_ip and bearer_auth_window_secs must be at \
                 least 1"
                    .into(),
            );
        }
        if self.server.realm_lookups_per_ip == 0 || self.server.realm_lookup_window_secs == 0 {
            problems.push(
                "server.realm_lookups_per_ip and realm_lookup_window_secs must be at least 1"
                    .into(),
            );
        }
        let o = &self.oidc;
        if o.client_auth_max_failures == 0
            || o.client_auth_max_failures_per_ip == 0
            || o.client_auth_window_secs == 0
        {
            problems.push(
                "oidc.client_auth_max_failures, client_auth_max_failures_per_ip and \
                 client_auth_window_secs must be at least 1"
                    .into(),
            );
        }
        if o.max_pending_auth_requests_per_client == 0
            || o.max_pending_auth_requests_per_ip == 0
            || !(60..=86_400).contains(&o.auth_request_ttl_secs)
        {
            problems.push(
                "oidc.max_pending_auth_requests_per_client and _per_ip must be at least 1, and \
                 oidc.auth_request_ttl_secs between 60 and 86400"
                    .into(),
            );
        }
        if self.server.request_timeout_secs == 0 {
            problems.push("server.request_timeout_secs must be at least 1".into());
        }
        if self.database_kind().is_none() {
            problems.push(
                "database.url must start with sqlite:// (embedded) or postgres:// (shared); \
                 for example sqlite://data/hub.db"
                    .into(),
            );
        }
        for a in &self.outbound.allow {
            if let Err(e) = a.parse::<connectors::net::Allowed>() {
                problems.push(format!("outbound.allow: {e}"));
            }
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections must be at least 1".into());
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            problems.push(format!(
                "log.level {:?} is not a valid filter ({e}); try \"info\" or \"hub=debug,info\"",
                self.log.level
            ));
        }
        match (&self.secrets.key, &self.secrets.key_file) {
            (Some(key), _) => {
                if let Err(e) = crate::secrets::decode_key(key.expose()) {
                    problems.push(format!("secrets.key: {e}"));
                }
            }
            (None, None) => problems.push(
                "no secrets key: set secrets.key_file (created on first start when \
                 secrets.create_key_file = true) or HUB_SECRETS__KEY (base64 of 32 bytes)"
                    .into(),
            ),
            (None, Some(_)) => {}
        }
        if self.audit.failure_window_secs == 0 {
            problems.push("audit.failure_window_secs must be at least 1".into());
        }
        if self.audit.checkpoint_interval_secs == 0 {
            problems.push("audit.checkpoint_interval_secs must be at least 1".into());
        }
        if self.audit.log_checkpoint_secs == 0 {
            problems.push("audit.log_checkpoint_secs must be at least 1".into());
        }
        let o = &self.oidc;
        if [
            o.access_token_ttl_secs,
            o.id_token_ttl_secs,
            o.refresh_token_ttl_secs,
            o.code_ttl_secs,
            o.session_ttl_secs,
        ]
        .contains(&0)
        {
            problems.push("oidc.*_ttl_secs must all be at least 1".into());
        }
        if o.code_ttl_secs > 600 {
            problems.push(
                "oidc.code_ttl_secs must be at most 600 (RFC 6749 §4.1.2 recommends 60)".into(),
            );
        }
        if self.dns.timeout_secs == 0 {
            problems.push("dns.timeout_secs must be at least 1".into());
        }
        let j = &self.jobs;
        if j.lease_secs < 2 {
            problems.push("jobs.lease_secs must be at least 2".into());
        }
        if j.scheduler_tick_secs == 0 {
            problems.push("jobs.scheduler_tick_secs must be at least 1".into());
        }
        let b = &self.outbox;
        if b.poll_ms == 0 || b.max_attempts == 0 || b.backoff_base_ms == 0 || b.timeout_secs == 0 {
            problems.push(
                "outbox.poll_ms, max_attempts, backoff_base_ms and timeout_secs must be at least 1"
                    .into(),
            );
        }
        if b.claim_secs <= b.timeout_secs {
            problems.push(
                "outbox.claim_secs must be longer than outbox.timeout_secs, or a slow attempt \
                 would be claimed again by another replica"
                    .into(),
            );
        }
        if b.concurrency == 0 || b.per_app_concurrency == 0 {
            problems.push("outbox.concurrency and per_app_concurrency must be at least 1".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    pub fn database_kind(&self) -> Option<DatabaseKind> {
        let url = self.database.url.expose();
        if url.starts_with("sqlite:") {
            Some(DatabaseKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(DatabaseKind::Postgres)
        } else {
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_are_valid_and_zero_setup() {
        Jail::expect_with(|_jail| {
            let c = Config::load(None).unwrap();
            assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
            assert_eq!(c.database_kind(), Some(DatabaseKind::Sqlite));
            assert!(c.secrets.create_key_file);
            Ok(())
        });
    }

    #[test]
    fn file_then_env_override_in_order() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "hub.toml",
                "[server]\nlisten = \"127.0.0.1:9999\"\n[log]\nformat = \"json\"\n",
            )?;
            jail.set_env("HUB_LOG__LEVEL", "debug");
            jail.set_env("HUB_DATABASE_URL", "postgres://db.example/hub");
            jail.set_env("HUB_TEST_SOMETHING", "ignored");
            jail.set_env("HUB_CONFIG", "ignored");
            let c = Config::load(Some(Path::new("hub.toml"))).unwrap();
            assert_eq!(c.server.listen.port(), 9999);
            assert_eq!(c.log.format, LogFormat::Json);
            assert_eq!(c.log.level, "debug");
            assert_eq!(c.database_kind(), Some(DatabaseKind::Postgres));
            jail.set_env("HUB_SERVER__LISTEN", "127.0.0.1:7777");
            let c = Config::load(Some(Path::new("hub.toml"))).unwrap();
            assert_eq!(c.server.listen.port(), 7777);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_say_what_to_fix() {
        Jail::expect_with(|jail| {
            jail.create_file("typo.toml", "[server]\nlisen = \"127.0.0.1:1\"\n")?;
            let err = Config::load(Some(Path::new("typo.toml"))).unwrap_err();
            assert!(err.to_string().contains("lisen"), "{err}");

            jail.create_file(
                "bad.toml",
                "[server]\npublic_url = \"ftp://x\"\n[database]\nurl = \"mysql://x\"\n",
            )?;
            let err = Config::load(Some(Path::new("bad.toml")))
                .unwrap_err()
                .to_string();
            assert!(err.contains("server.public_url must be an http"), "{err}");
            assert!(
                err.contains("database.url must start with sqlite://"),
                "{err}"
            );

            let err = Config::load(Some(Path::new("missing.toml"))).unwrap_err();
            assert!(matches!(err, ConfigError::MissingFile(_)));
            Ok(())
        });
    }

    #[test]
    fn database_url_is_redacted_in_debug() {
        Jail::expect_with(|jail| {
            jail.set_env("HUB_DATABASE__URL", "postgres://u:topsecret@h/db");
            let c = Config::load(None).unwrap();
            assert!(!format!("{c:?}").contains("topsecret"));
            Ok(())
        });
    }
}
