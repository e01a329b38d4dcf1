//! `AppState`: the handles every request shares. Concrete types; `Arc<dyn _>` only at the real
//! seams (clock, DNS).

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::dns::TxtResolver;
use crate::metrics::Metrics;
use crate::secrets::SecretBox;
use crate::signing::Signer;
use crate::storage::Store;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub secrets: Arc<SecretBox>,
    pub signer: Arc<Signer>,
    pub clock: Arc<dyn Clock>,
    pub dns: Arc<dyn TxtResolver>,
    pub metrics: Arc<Metrics>,
    pub keys: Arc<crate::keys::KeyRing>,
    /// Registered clients by `client_id`, briefly cached.
    pub clients: Arc<crate::clients::ClientCache>,
    /// Failed OAuth client authentications, per client and address (this replica's).
    pub throttle: Arc<crate::throttle::ClientAuthThrottle>,
    /// Failed SCIM bearer tokens, per address.
    pub bearer_throttle: Arc<crate::throttle::ClientAuthThrottle>,
    /// Home-realm lookups per address (sign-in pages).
    pub realm_throttle: Arc<crate::throttle::ClientAuthThrottle>,
    /// Upstream OIDC providers' discovered metadata, by issuer.
    pub upstream_meta: Arc<crate::federation::cache::MetaCache>,
    /// The outbound client for tenant-supplied URLs (address policy, timeouts).
    pub http: reqwest::Client,
    /// The address policy `http` and LDAP connections enforce; also checks URLs when saved.
    pub net: Arc<crate::outbound::AddressPolicy>,
    /// Anonymous failures tallied for this window's summary events.
    pub failures: Arc<crate::audit::failures::FailureWindow>,
    /// This replica's name in leases and outbox claims.
    pub instance: Arc<str>,
    /// Wakes this replica's delivery worker when a change queued deliveries.
    pub outbox: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// Appends the audit event recording the change made in `tx`, then commits both together.
    pub async fn commit_audited(
        &self,
        tx: crate::storage::Tx,
        event: crate::audit::model::AuditEvent,
    ) -> Result<crate::audit::model::AuditRecord, crate::storage::StoreError> {
        let record = crate::audit::log::append(&tx, self.clock.as_ref(), event).await?;
        tx.commit().await?;
        self.metrics.audit_events.inc();
        Ok(record)
    }
}
