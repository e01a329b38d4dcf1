//! The `hub` binary built next to the test binary (`cargo build -p hub --bins` first): one-shot
//! CLI commands with a clean `HUB_*` environment ([`hub_command`], [`TestHub::cli`]) and
//! long-running `hub serve` processes ([`HubProcess`]) listening on 127.0.0.1 on a port of their
//! own choosing, killed by PID when dropped.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::hub::TestHub;
use crate::peers::ChildGuard;

impl TestHub {
    /// Environment that points the `hub` binary at this hub's database and key.
    pub fn cli_env(&self) -> Vec<(String, String)> {
        vec![
            ("HUB_DATABASE__URL".into(), self.db.url.clone()),
            ("HUB_SECRETS__KEY".into(), self.secrets_key.clone()),
            ("HUB_LOG__LEVEL".into(), "warn".into()),
            (
                "HUB_OUTBOUND__ALLOW_LOOPBACK".into(),
                self.config.outbound.allow_loopback.to_string(),
            ),
            (
                "HUB_OUTBOUND__ALLOW".into(),
                serde_json::to_string(&self.config.outbound.allow).unwrap(),
            ),
        ]
    }

    /// Runs the `hub` binary with this hub's configuration.
    pub fn cli(&self, args: &[&str]) -> Output {
        hub_command(&self.cli_env(), args).output().unwrap()
    }
}

/// Path of the `hub` binary built next to this test binary (`cargo build --bins` first).
pub fn hub_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|p| p.parent()).unwrap();
    let bin = dir.join("hub");
    assert!(
        bin.is_file(),
        "{} not found: build it first with `cargo build --bins` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// A `hub` command with a clean HUB_* environment plus `env`.
pub fn hub_command(env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(hub_binary());
    for (k, _) in std::env::vars() {
        if k.starts_with("HUB_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v))).args(args);
    cmd
}

/// A `hub serve` process on a port it picked itself (no port races), with its log kept.
pub struct HubProcess {
    _child: ChildGuard,
    addr: std::sync::mpsc::Receiver<String>,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl HubProcess {
    /// Starts `hub serve` in `dir` with `env` (returns at once; see [`HubProcess::url`]).
    pub fn spawn(env: &[(String, String)], dir: &std::path::Path) -> Self {
        let mut env = env.to_vec();
        if !env.iter().any(|(k, _)| k == "HUB_SERVER__LISTEN") {
            env.push(("HUB_SERVER__LISTEN".into(), "127.0.0.1:0".into()));
        }
        env.push(("HUB_LOG__FORMAT".into(), "json".into()));
        env.push(("HUB_LOG__LEVEL".into(), "info".into()));
        let mut child = hub_command(&env, &["serve"])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["fields"]["message"] == "hub listening"
                    && let Some(addr) = v["fields"]["addr"].as_str()
                {
                    let _ = tx.send(addr.to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            _child: ChildGuard(child),
            addr: rx,
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self._child.0.id()
    }

    /// Waits until the process listens; its base URL (or a panic with its log).
    pub fn url(&self) -> String {
        match self.addr.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => format!("http://{addr}"),
            Err(_) => panic!(
                "hub did not start; its log:\n{}",
                self.log.lock().unwrap().join("\n")
            ),
        }
    }
}
