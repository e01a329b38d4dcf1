//! Node and Python peers from `tests/peers`: one-shot scripts ([`run_node`], killed by the
//! runtime if still running after 60 s) and long-running peers ([`NodePeer`]) that listen on
//! 127.0.0.1 on a free port, announce themselves with a `{"ready": true, ...}` line, report on
//! stdout, and are killed by PID when dropped.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::peers::{ChildGuard, peers_dir};

/// Runs a node script from `tests/peers`; returns its JSON lines (stdout) and success.
pub async fn run_node(script: &str, env: &[(&str, String)]) -> (bool, Vec<Value>, String) {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(script).current_dir(peers_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("node script timed out")
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let lines = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (
        out.status.success(),
        lines,
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

/// A long-running node peer whose JSON stdout lines arrive on a channel.
pub struct NodePeer {
    _child: ChildGuard,
    pub lines: std::sync::mpsc::Receiver<Value>,
    /// The peer's first line, `{"ready": true, ...}`.
    pub ready: Value,
}

impl NodePeer {
    pub fn start(script: &str, env: &[(&str, String)]) -> Self {
        Self::spawn(Command::new("node"), script, env)
    }

    /// A Python peer, run by the virtualenv `scripts/install-peers.sh` makes in tests/peers.
    pub fn python(script: &str, env: &[(&str, String)]) -> Self {
        let python = peers_dir().join(".venv/bin/python");
        assert!(
            python.is_file(),
            "run scripts/install-peers.sh first (tests/peers/.venv is missing)"
        );
        Self::spawn(Command::new(python), script, env)
    }

    fn spawn(mut cmd: Command, script: &str, env: &[(&str, String)]) -> Self {
        cmd.arg(script)
            .current_dir(peers_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("node must be installed");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(v) = serde_json::from_str(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let ready: Value = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("peer did not start");
        assert_eq!(ready["ready"], true);
        Self {
            _child: ChildGuard(child),
            lines: rx,
            ready,
        }
    }

    /// The next `n` lines, waiting up to `secs` in all.
    pub fn take(&self, n: usize, secs: u64) -> Vec<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => out.push(v),
                Err(_) => break,
            }
        }
        out
    }
}
