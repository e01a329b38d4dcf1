//! A real dnsmasq ([`Dnsmasq`]) answering TXT and address records on 127.0.0.1 at a port the test
//! picks with `free_udp_port` (UDP and TCP); a child process killed by PID when dropped.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::peers::ChildGuard;

/// A real dnsmasq serving TXT (and A/AAAA) records on 127.0.0.1:`port` (UDP and TCP), nothing
/// else.
pub struct Dnsmasq {
    _child: ChildGuard,
}

impl Dnsmasq {
    pub async fn start(port: u16, txt: &[(&str, &str)]) -> Result<Self> {
        Self::start_with_hosts(port, txt, &[]).await
    }

    /// With address records too: `(name, ip)` pairs.
    pub async fn start_with_hosts(
        port: u16,
        txt: &[(&str, &str)],
        hosts: &[(&str, &str)],
    ) -> Result<Self> {
        let binary = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file())
            .context("dnsmasq not installed: scripts/test.sh installs Debian's dnsmasq-base")?;
        let mut cmd = Command::new(binary);
        cmd.args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--user=root",
            "--pid-file=",
        ])
        .arg(format!("--port={port}"));
        for (name, value) in txt {
            cmd.arg(format!("--txt-record={name},{value}"));
        }
        for (name, ip) in hosts {
            cmd.arg(format!("--host-record={name},{ip}"));
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start dnsmasq")?;
        let guard = ChildGuard(child);
        // Ready when its TCP port accepts.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(Self { _child: guard });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!("dnsmasq did not start on port {port}")
    }
}
