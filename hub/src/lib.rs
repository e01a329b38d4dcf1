//! The federation hub as a library: `build_state` opens storage, secrets and keys; `serve` runs
//! the HTTP server and background work until shutdown; `app` is the router (for in-process tests).
//!
//! This crate holds the surfaces (admin API, SCIM, console, OpenID provider, browser sign-in)
//! and the app around them; everything below (leaves, storage, shared state, the domain and
//! the request extractors) is the `hub-core` crate, re-exported here under the same paths, so
//! `crate::users` means the same module in both crates and a change to a surface never
//! recompiles the domain.

pub use hub_core::{
    access, audit, clients, clock, config, deprovision, directories, dns, error, federation, ids,
    jobs, jose, keys, metrics, orgs, outbound, reauth, secrets, sessions, signing, spaces, state,
    storage, throttle, users,
};

pub mod admin;
pub mod console;
pub mod http;
pub mod login;
pub mod oidc;
pub mod scim;
pub mod witness;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::Config;
pub use http::app;
pub use state::AppState;

use clock::{Clock, SystemClock};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] storage::StoreError),
    #[error(transparent)]
    Secrets(#[from] secrets::SecretsError),
    #[error(transparent)]
    Signing(#[from] signing::SigningError),
    #[error(transparent)]
    Dns(#[from] dns::DnsError),
    #[error("cannot build the outbound HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Starts `tracing` to stderr as `log` says (`RUST_LOG` wins when set); idempotent.
pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        config::LogFormat::Json => builder.json().try_init(),
        config::LogFormat::Text => builder.try_init(),
    };
}

/// Installs ring as the process-wide TLS provider (no aws-lc, no OpenSSL); idempotent. Must run
/// before any HTTP client is built.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Opens everything the hub needs: database (migrated), secrets key, signing key, resolver.
pub async fn build_state(config: Config) -> Result<AppState, StartError> {
    build_state_with_clock(config, Arc::new(SystemClock)).await
}

pub async fn build_state_with_clock(
    config: Config,
    clock: Arc<dyn Clock>,
) -> Result<AppState, StartError> {
    let secrets = secrets::SecretBox::load(&config.secrets)?;
    let store = storage::Store::connect(&config.database).await?;
    let applied = store.migrate().await?;
    if applied > 0 {
        tracing::info!(applied, "applied database migrations");
    }
    let signer = signing::Signer::load_or_create(
        &store,
        &secrets,
        clock.as_ref(),
        signing::AUDIT_PURPOSE,
        jose::Alg::ES256,
    )
    .await?;
    let dns = Arc::new(dns::HickoryTxt::new(&config.dns)?);
    install_crypto_provider();
    let mut policy = outbound::policy(&config);
    if !config.dns.nameservers.is_empty() {
        // The operator named the resolvers: outbound names are looked up there too.
        policy = policy.with_lookup(dns.clone());
    }
    let net = Arc::new(policy);
    let http = outbound::client(net.clone())?;
    let secrets = Arc::new(secrets);
    let o = &config.oidc;
    let retention = o.id_token_ttl_secs.max(o.access_token_ttl_secs) + o.key_publish_secs;
    let keys = keys::KeyRing::new(
        store.clone(),
        secrets.clone(),
        clock.clone(),
        Duration::from_secs(o.key_cache_secs),
        Duration::from_secs(retention),
    )
    .with_publish_delay(Duration::from_secs(o.key_publish_secs));
    let throttle = Arc::new(throttle::ClientAuthThrottle::new(o));
    let bearer_throttle = Arc::new(throttle::ClientAuthThrottle::bearer(&config.server));
    let realm_throttle = Arc::new(throttle::ClientAuthThrottle::realm(&config.server));
    let clients = clients::ClientCache::new(Duration::from_secs(o.client_cache_secs));
    Ok(AppState {
        config: Arc::new(config),
        store,
        secrets,
        signer: Arc::new(signer),
        clock,
        dns,
        metrics: Arc::new(metrics::Metrics::new()),
        keys: Arc::new(keys),
        clients: Arc::new(clients),
        throttle,
        bearer_throttle,
        realm_throttle,
        upstream_meta: Arc::default(),
        http,
        net,
        failures: Arc::default(),
        instance: jobs::instance_id(),
        outbox: Arc::default(),
    })
}

/// Serves on `listener` until `shutdown` resolves, then drains requests and signs a final
/// audit checkpoint.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let checkpoints = tokio::spawn(checkpoint_loop(state.clone(), stop_rx.clone()));
    let log_checkpoints = tokio::spawn(log_loop(state.clone(), stop_rx.clone()));
    let summaries = tokio::spawn(failure_summary_loop(state.clone(), stop_rx.clone()));
    let mut background = Vec::new();
    if state.config.jobs.enabled {
        background.push(tokio::spawn(deprovision::outbox::run(
            state.clone(),
            stop_rx.clone(),
        )));
        background.push(tokio::spawn(directories::sync::schedule::run(
            state.clone(),
            stop_rx.clone(),
        )));
        background.push(tokio::spawn(spaces::review::run(
            state.clone(),
            stop_rx.clone(),
        )));
    }
    tracing::info!(
        addr = %listener.local_addr()?,
        database = ?state.store.kind(),
        "hub listening"
    );
    let nofile = http::server::raise_open_file_limit();
    let limits = http::server::Limits {
        max_connections: http::server::effective_cap(state.config.server.max_connections, nofile),
        header_timeout: Duration::from_secs(state.config.server.header_timeout_secs),
    };
    tracing::debug!(?limits, open_file_limit = ?nofile, "connection limits");
    let result = http::server::run(
        listener,
        app(state.clone()),
        limits,
        state.metrics.clone(),
        shutdown,
    )
    .await;
    let _ = stop_tx.send(true);
    for task in background {
        let _ = task.await;
    }
    let _ = summaries.await;
    let _ = checkpoints.await;
    let _ = log_checkpoints.await;
    result.map_err(StartError::Io)
}

/// Runs the hub until Ctrl-C or SIGTERM.
pub async fn run(config: Config, listener: TcpListener) -> Result<(), StartError> {
    let state = build_state(config).await?;
    serve(state, listener, shutdown_signal()).await
}

async fn checkpoint_loop(state: AppState, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(state.config.audit.checkpoint_interval_secs);
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => {
                sign_checkpoint(&state).await;
                return;
            }
        }
        sign_checkpoint(&state).await;
    }
}

/// Adds committed events to the audit log's Merkle tree and signs a checkpoint of it, every
/// `audit.log_checkpoint_secs` and at shutdown; one replica at a time (a lease).
async fn log_loop(state: AppState, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(state.config.audit.log_checkpoint_secs);
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        let stopping = tokio::select! {
            _ = ticker.tick() => false,
            _ = stop.changed() => true,
        };
        if !stopping && audit::tree::up_to_date(&state.store).await.unwrap_or(false) {
            continue;
        }
        match jobs::try_acquire(&state, "audit-log").await {
            Ok(Some(lease)) => {
                if let Err(e) = audit::tree::publish(&state).await {
                    tracing::warn!(error = %e, "could not checkpoint the audit log's tree; will retry");
                }
                lease.release().await;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not take the audit log lease; will retry"),
        }
        if stopping {
            return;
        }
    }
}

/// Writes the window's summaries of anonymous failures, every `audit.failure_window_secs` and
/// at shutdown.
async fn failure_summary_loop(state: AppState, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(state.config.audit.failure_window_secs);
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        let stopping = tokio::select! {
            _ = ticker.tick() => false,
            _ = stop.changed() => true,
        };
        for event in state.failures.drain() {
            let written = async {
                let tx = state.store.begin().await?;
                state.commit_audited(tx, event).await
            };
            if let Err(e) = written.await {
                tracing::warn!(error = %e, "could not write a summary of anonymous failures");
            }
        }
        if stopping {
            return;
        }
    }
}

async fn sign_checkpoint(state: &AppState) {
    // One replica at a time signs (the others find the head already checkpointed, or wait for
    // their next turn).
    let lease = match jobs::try_acquire(state, "audit-checkpoint").await {
        Ok(Some(lease)) => lease,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "could not take the checkpoint lease; will retry");
            return;
        }
    };
    let signed = audit::checkpoint(&state.store, &state.signer, state.clock.as_ref()).await;
    lease.release().await;
    match signed {
        Ok(Some(cp)) => {
            state.metrics.audit_head_seq.set(cp.seq);
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not sign an audit checkpoint; will retry"),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
