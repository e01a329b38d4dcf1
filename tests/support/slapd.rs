//! A real OpenLDAP server ([`Slapd`], tests/peers/slapd-start.sh) in a temporary directory,
//! listening on 127.0.0.1 on a free port, seeded with the `dc=acme,dc=test` tree; stopped by the
//! PID in its pid file when dropped (or by [`Slapd::stop`]), waiting until its port closes.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::net::free_port;
use crate::peers::peers_dir;

/// A real OpenLDAP slapd (tests/peers/slapd-start.sh: syncprov, ppolicy, memberof) on a free
/// loopback port, suffix
/// `dc=acme,dc=test`, rootdn `cn=admin,dc=acme,dc=test` / `secret`; stopped by PID when dropped.
pub struct Slapd {
    pub url: String,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Slapd {
    pub const SUFFIX: &'static str = "dc=acme,dc=test";

    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let out = Command::new("bash")
            .arg(peers_dir().join("slapd-start.sh"))
            .arg(dir.path())
            .arg(port.to_string())
            .arg(Self::SUFFIX)
            .env("SLAPD_MEMBEROF", "1")
            .output()
            .expect("slapd-start.sh (run scripts/install-peers.sh)");
        assert!(
            out.status.success(),
            "slapd did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let s = Self {
            url: format!("ldap://127.0.0.1:{port}"),
            port,
            dir,
        };
        s.add(&format!(
            "dn: {suffix}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: acme\ndc: acme\n\n\
             dn: ou=people,{suffix}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: ou=former,{suffix}\nobjectClass: organizationalUnit\nou: former\n\n\
             dn: cn=hub-sync,{suffix}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: hub-sync\nuserPassword: syncpw\n",
            suffix = Self::SUFFIX
        ));
        s
    }

    fn tool(&self, tool: &str, ldif: &str) {
        use std::io::Write;
        let mut child = Command::new(tool)
            .args(["-x", "-H", &self.url, "-D"])
            .arg(format!("cn=admin,{}", Self::SUFFIX))
            .args(["-w", "secret"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ldif.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{tool} failed: {}\n{ldif}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `ldapadd` of an LDIF.
    pub fn add(&self, ldif: &str) {
        self.tool("ldapadd", ldif)
    }

    /// `ldapmodify` with an LDIF of changes (modify, modrdn, delete).
    pub fn modify(&self, ldif: &str) {
        self.tool("ldapmodify", ldif)
    }

    /// The server's PID.
    pub fn pid(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("slapd.pid"))
            .ok()
            .map(|p| p.trim().to_string())
    }

    /// Stops the server (by PID).
    pub fn stop(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("slapd.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
