//! Loopback networking for tests: free ports on 127.0.0.1 (bound then released), an HTTP client,
//! [`Trap`] (a listener that records who connected; its task is aborted when dropped), and
//! polling helpers ([`wait_ready`], [`eventually`]) that give up after a deadline.

use std::net::{SocketAddr, TcpListener as StdTcpListener, UdpSocket};
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::task::JoinHandle;

/// An HTTP client for tests (installs the TLS provider the hub uses first).
pub fn http_client() -> reqwest::Client {
    hub::install_crypto_provider();
    reqwest::Client::new()
}

/// A free loopback port (bound then released; the race is acceptable for tests).
pub fn free_port() -> u16 {
    StdTcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP listener on loopback that counts the connections it accepts and records what they
/// send (writing `banner` first, if any; each connection is closed after a short silence):
/// where a test asserts the hub never connected, or never sent a secret.
pub struct Trap {
    pub addr: SocketAddr,
    pub accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    task: JoinHandle<()>,
}

impl Trap {
    pub async fn start(ip: &str, banner: &'static [u8]) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (count, seen) = (accepted.clone(), received.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let seen = seen.clone();
                tokio::spawn(async move {
                    if !banner.is_empty() {
                        let _ = s.write_all(banner).await;
                    }
                    let mut buf = [0u8; 4096];
                    while let Ok(Ok(n)) =
                        tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await
                    {
                        if n == 0 {
                            break;
                        }
                        seen.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                });
            }
        });
        Self {
            addr,
            accepted,
            received,
            task,
        }
    }

    pub fn count(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether `needle` was among the bytes received.
    pub fn saw(&self, needle: &str) -> bool {
        let got = self.received.lock().unwrap();
        got.windows(needle.len()).any(|w| w == needle.as_bytes())
    }
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A free loopback port for a UDP+TCP server such as dnsmasq.
pub fn free_udp_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if StdTcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Waits until `url` answers 200, or fails after `secs`.
pub async fn wait_ready(url: &str, secs: u64) -> Result<()> {
    let client = http_client();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{url} not ready after {secs}s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `check` every 100 ms for up to `secs`; the first `Some` it returns.
pub async fn eventually<T, F, Fut>(secs: u64, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
