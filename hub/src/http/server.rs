//! The HTTP/1.1 server loop: hyper under the router, with the limits `axum::serve` lacks, so no
//! number of idle, silent or slow clients can exhaust the process.
//!
//! - Every request head must arrive within `server.header_timeout_secs`, the wait for the next
//!   request on a kept-alive connection included (hyper's header-read timeout, on a timer).
//! - At most `server.max_connections` connections are open (never more than the open-file
//!   limit allows, which is raised to its hard maximum at start). A new connection over the cap
//!   takes the place of the oldest connection that is not in the middle of a request; only when
//!   every connection is busy is the new one closed at once. So a flood of silent connections
//!   cannot lock out a client that sends its request promptly (a health check, a sign-in).
//! - Each request carries the peer's address (`ConnectInfo`), for per-client limits.
//!
//! Shutdown stops accepting, lets requests in flight finish, and closes idle connections.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::metrics::Metrics;

/// The server's limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

struct Slot {
    id: u64,
    busy: Arc<AtomicUsize>,
    abort: tokio::task::AbortHandle,
}

/// Open connections in accept order.
#[derive(Default)]
struct Registry(Mutex<VecDeque<Slot>>);

impl Registry {
    fn remove(&self, id: u64) {
        if let Ok(mut q) = self.0.lock() {
            q.retain(|s| s.id != id);
        }
    }

    /// Closes the oldest connection not serving a request; false if all are busy.
    fn evict_idle(&self) -> bool {
        let Ok(mut q) = self.0.lock() else {
            return false;
        };
        match q.iter().position(|s| s.busy.load(Ordering::SeqCst) == 0) {
            Some(i) => {
                if let Some(slot) = q.remove(i) {
                    slot.abort.abort();
                }
                true
            }
            None => false,
        }
    }

    fn len(&self) -> usize {
        self.0.lock().map(|q| q.len()).unwrap_or(0)
    }
}

/// Raises the soft open-file limit to the hard one; returns the soft limit now in force.
pub fn raise_open_file_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok()
}

/// The connection cap in force: the configured one, kept below the open-file limit (room left
/// for the database, outbound calls and log files).
pub fn effective_cap(configured: usize, nofile: Option<u64>) -> usize {
    match nofile {
        Some(limit) => {
            let room = usize::try_from(limit.saturating_sub(256)).unwrap_or(usize::MAX);
            configured.min(room.max(16))
        }
        None => configured,
    }
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let registry = Arc::new(Registry::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut next_id: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors or the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while tasks.try_join_next().is_some() {}
        if registry.len() >= limits.max_connections {
            if registry.evict_idle() {
                metrics.connections_evicted.inc();
            } else {
                metrics.connections_refused.inc();
                drop(stream);
                continue;
            }
        }
        let _ = stream.set_nodelay(true);
        next_id += 1;
        let id = next_id;
        let busy = Arc::new(AtomicUsize::new(0));
        let service = connection_service(app.clone(), peer, busy.clone());
        let mut stop = stop_rx.clone();
        metrics.connections_open.inc();
        let guard = OpenGuard {
            metrics: metrics.clone(),
            registry: registry.clone(),
            id,
        };
        let abort = tasks.spawn(async move {
            let _guard = guard;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!(error = %e, "connection ended");
                        }
                        break;
                    }
                    _ = stop.changed() => conn.as_mut().graceful_shutdown(),
                }
            }
        });
        if let Ok(mut q) = registry.0.lock() {
            q.push_back(Slot { id, busy, abort });
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Requests in flight finish (each within the request timeout); then we are done.
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(30), drain)
        .await
        .is_err()
    {
        tasks.abort_all();
    }
    Ok(())
}

/// Forgets a connection when its task ends, however it ends (aborted included).
struct OpenGuard {
    metrics: Arc<Metrics>,
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.metrics.connections_open.dec();
        self.registry.remove(self.id);
    }
}

/// The router for one connection: requests carry the peer's address and mark the connection
/// busy while they are served.
fn connection_service(
    app: Router,
    peer: SocketAddr,
    busy: Arc<AtomicUsize>,
) -> TowerToHyperService<
    impl tower::Service<
        Request<Incoming>,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
        Future = impl Send,
    > + Clone
    + Send,
> {
    let svc = tower::service_fn(move |req: Request<Incoming>| {
        let app = app.clone();
        let busy = busy.clone();
        async move {
            busy.fetch_add(1, Ordering::SeqCst);
            let _done = BusyGuard(busy);
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            app.oneshot(req).await
        }
    });
    TowerToHyperService::new(svc)
}

struct BusyGuard(Arc<AtomicUsize>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_open_file_limit() {
        assert_eq!(effective_cap(10_000, Some(1024)), 768);
        assert_eq!(effective_cap(1000, Some(1_048_576)), 1000);
        assert_eq!(effective_cap(1000, None), 1000);
        assert_eq!(effective_cap(1000, Some(100)), 16);
    }
}
