//! Prometheus metrics (OpenMetrics text at `/metrics`). The registry lives in `AppState`, not in
//! a global, so several hubs in one test process keep separate counts.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pub audit_events: Counter,
    pub audit_head_seq: Gauge,
    upstream_logins: Family<UpstreamLabels, Counter>,
    deprovision_revocation: Family<SourceLabels, Histogram>,
    deprovision_completion: Family<SourceLabels, Histogram>,
    outbox_deliveries: Family<DeliveryLabels, Counter>,
    pub outbox_pending: Gauge,
    directory_syncs: Family<DeliveryLabels, Counter>,
    anonymous_failures: Family<SurfaceLabels, Counter>,
    pub connections_open: Gauge,
    pub connections_evicted: Counter,
    pub connections_refused: Counter,
    oauth_client_auth_failures: Family<ReasonLabels, Counter>,
    oauth_auth_requests_refused: Family<ReasonLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SurfaceLabels {
    surface: String,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hub");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        let audit_events = Counter::default();
        let audit_head_seq = Gauge::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register(
            "audit_events_appended",
            "Audit events appended by this process",
            audit_events.clone(),
        );
        registry.register(
            "audit_last_checkpoint_seq",
            "Sequence number of the last signed audit checkpoint written by this process",
            audit_head_seq.clone(),
        );
        let upstream_logins = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "upstream_logins",
            "Sign-ins through an organization's own IdP, by protocol and outcome (signed_in, refused)",
            upstream_logins.clone(),
        );
        let seconds = || Histogram::new(exponential_buckets(0.001, 2.0, 18));
        let deprovision_revocation =
            Family::<SourceLabels, Histogram>::new_with_constructor(seconds);
        registry.register(
            "deprovision_revocation_seconds",
            "Time from a leaver signal to the end of their sessions and tokens, by source",
            deprovision_revocation.clone(),
        );
        let deprovision_completion =
            Family::<SourceLabels, Histogram>::new_with_constructor(seconds);
        registry.register(
            "deprovision_completion_seconds",
            "Time from a leaver signal to the last downstream delivery done, by source",
            deprovision_completion.clone(),
        );
        let outbox_deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "outbox_attempts",
            "Delivery attempts by kind and outcome (delivered, skipped, pending = will retry, dead)",
            outbox_deliveries.clone(),
        );
        let outbox_pending = Gauge::default();
        registry.register(
            "outbox_pending",
            "Deliveries waiting in the outbox (all organizations, sampled)",
            outbox_pending.clone(),
        );
        let directory_syncs = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "directory_syncs",
            "Directory sync runs by mode (full, incremental, syncrepl) and outcome",
            directory_syncs.clone(),
        );
        let anonymous_failures = Family::<SurfaceLabels, Counter>::default();
        registry.register(
            "anonymous_failures",
            "Failures anyone can cause without an identity (forged callbacks, junk SAML posts), by \
             surface; summarised in the audit log once per window",
            anonymous_failures.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "http_connections_open",
            "HTTP connections open",
            connections_open.clone(),
        );
        let connections_evicted = Counter::default();
        registry.register(
            "http_connections_evicted",
            "Idle connections closed to make room under server.max_connections",
            connections_evicted.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "http_connections_refused",
            "New connections closed at once because every open one was busy",
            connections_refused.clone(),
        );
        let oauth_client_auth_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "oauth_client_auth_failures",
            "Failed OAuth client authentications by reason (never by client or secret)",
            oauth_client_auth_failures.clone(),
        );
        let oauth_auth_requests_refused = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "oauth_authorization_requests_refused",
            "Authorization requests refused because too many were pending (per_client, per_ip)",
            oauth_auth_requests_refused.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            audit_events,
            audit_head_seq,
            upstream_logins,
            deprovision_revocation,
            deprovision_completion,
            outbox_deliveries,
            outbox_pending,
            directory_syncs,
            anonymous_failures,
            connections_open,
            connections_evicted,
            connections_refused,
            oauth_client_auth_failures,
            oauth_auth_requests_refused,
        }
    }

    /// Counts one anonymous failure at `surface` (oidc_callback, saml_acs...).
    pub fn anonymous_failure(&self, surface: &str) {
        self.anonymous_failures
            .get_or_create(&SurfaceLabels {
                surface: surface.to_string(),
            })
            .inc();
    }

    /// One failed OAuth client authentication (`reason`: a fixed word, never input).
    pub fn client_auth_failure(&self, reason: &'static str) {
        self.oauth_client_auth_failures
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// One authorization request refused for too many pending (`per_client`, `per_ip`).
    pub fn authorization_request_refused(&self, reason: &'static str) {
        self.oauth_auth_requests_refused
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Counts one upstream sign-in: `kind` oidc|saml|unknown, `outcome` signed_in|refused.
    pub fn upstream_login(&self, kind: &str, outcome: &str) {
        self.upstream_logins
            .get_or_create(&UpstreamLabels {
                kind: kind.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// A leaver's sessions and tokens ended `secs` after the signal.
    pub fn deprovision_revoked(&self, source: &str, secs: f64) {
        self.deprovision_revocation
            .get_or_create(&SourceLabels {
                source: source.to_string(),
            })
            .observe(secs);
    }

    /// A leaver's last delivery finished `secs` after the signal.
    pub fn deprovision_completed(&self, source: &str, secs: f64) {
        self.deprovision_completion
            .get_or_create(&SourceLabels {
                source: source.to_string(),
            })
            .observe(secs);
    }

    /// One delivery attempt; `retry` when it failed and will be tried again.
    pub fn outbox_delivery(&self, kind: &str, status: &str, retry: bool) {
        self.outbox_deliveries
            .get_or_create(&DeliveryLabels {
                kind: kind.to_string(),
                outcome: if retry { "retry" } else { status }.to_string(),
            })
            .inc();
    }

    /// One directory sync run finished.
    pub fn directory_sync(&self, mode: &str, outcome: &str) {
        self.directory_syncs
            .get_or_create(&DeliveryLabels {
                kind: mode.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Metrics {
    /// One answered request: its method, route template, status and time taken.
    pub fn request(&self, method: String, route: String, status: u16, secs: f64) {
        self.latency
            .get_or_create(&RouteLabels {
                method: method.clone(),
                route: route.clone(),
            })
            .observe(secs);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
