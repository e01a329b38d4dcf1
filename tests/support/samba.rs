//! A real Samba AD domain controller ([`SambaAd`], tests/peers/samba-ad-start.sh) provisioned in a
//! temporary directory. Unlike the other peers it listens on the fixed AD ports of 127.0.0.1, so
//! one runs per machine at a time; stopped by PID when dropped, waiting until its processes are
//! gone and port 389 is free again.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::peers::peers_dir;

/// A real Samba AD domain controller (tests/peers/samba-ad-start.sh), realm HUB.TEST, base
/// `DC=hub,DC=test`, `Administrator@hub.test` / `Passw0rd!Admin`. Samba listens on the fixed
/// AD ports (389, 636...) of 127.0.0.1, so one runs per machine at a time. Stopped by PID.
pub struct SambaAd {
    pid: String,
    dir: tempfile::TempDir,
}

impl SambaAd {
    pub const BASE: &'static str = "DC=hub,DC=test";
    pub const ADMIN: &'static str = "Administrator@hub.test";
    pub const PASSWORD: &'static str = "Passw0rd!Admin";

    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("bash")
            .arg(peers_dir().join("samba-ad-start.sh"))
            .arg(dir.path())
            .output()
            .expect("samba-ad-start.sh (run scripts/install-peers.sh)");
        assert!(
            out.status.success(),
            "samba did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            pid: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            dir,
        }
    }

    /// `samba-tool user ...` (or any samba-tool command) on the DC's database.
    pub fn tool(&self, args: &[&str]) {
        let db = self.dir.path().join("private/sam.ldb");
        let out = Command::new("samba-tool")
            .args(args)
            .arg("-H")
            .arg(&db)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "samba-tool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for SambaAd {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
        // Samba's fixed ports are free only once every one of its processes is gone: wait for
        // the master (which reaps its children) and then for the LDAP port, so that the next
        // test run's DC does not find them taken by a DC still shutting down.
        let gone = || {
            !Command::new("kill")
                .args(["-0", &self.pid])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        for _ in 0..1200 {
            if gone() && std::net::TcpStream::connect(("127.0.0.1", 389)).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}
