//! LDAP sync benchmark: a real slapd loaded offline (`slapadd`) with N users and N/500 groups
//! (each user in two), read in the same run by a raw `ldapsearch` (paged, and a syncrepl
//! refresh) and by `hub serve` as its own process: the first full sync (every user created and
//! audited), a full re-sync with nothing changed (the steady state), 100 changes read
//! incrementally by `modifyTimestamp`, then the same directory in syncrepl mode (a full
//! refresh, then 100 changes from the cookie). The hub's memory is read from /proc.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const SUFFIX: &str = "dc=bench,dc=test";

pub(crate) struct LdapBench {
    pub users: usize,
    pub groups: usize,
    pub raw_paged: Duration,
    pub raw_syncrepl: Duration,
    pub backends: Vec<LdapBackend>,
}

pub(crate) struct LdapBackend {
    pub name: &'static str,
    pub first: Duration,
    pub first_counts: Value,
    pub resync: Duration,
    pub resync_counts: Value,
    pub incremental: Duration,
    pub incremental_counts: Value,
    pub syncrepl_full: Duration,
    pub syncrepl_incremental: Duration,
    pub syncrepl_incremental_counts: Value,
    pub rss_before_kb: u64,
    pub rss_after_kb: u64,
    pub peak_kb: u64,
}

/// `tests/peers` (for slapd-start.sh), if present.
pub(crate) fn peers_scripts() -> Option<PathBuf> {
    [
        std::env::var("HUB_BENCH_PEERS").ok().map(PathBuf::from),
        Some(PathBuf::from("tests/peers")),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/peers")),
    ]
    .into_iter()
    .flatten()
    .find(|d| d.join("slapd-start.sh").is_file())
}

fn ldif(n: usize, groups: usize) -> String {
    let mut s = format!(
        "dn: {SUFFIX}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: bench\ndc: bench\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: cn=hub-sync,{SUFFIX}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: hub-sync\nuserPassword: syncpw\n\n"
    );
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups.max(1)];
    for i in 0..n {
        s.push_str(&format!(
            "dn: uid=u{i:06},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: u{i:06}\ncn: User {i}\n\
             givenName: User\nsn: Number {i}\nmail: u{i:06}@ldap-bench.test\n\n"
        ));
        if groups > 0 {
            members[i % groups].push(i);
            members[(i * 7 + 3) % groups].push(i);
        }
    }
    for (g, m) in members.iter().enumerate().take(groups) {
        s.push_str(&format!(
            "dn: cn=group{g:04},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: group{g:04}\n"
        ));
        for i in m {
            s.push_str(&format!("member: uid=u{i:06},ou=people,{SUFFIX}\n"));
        }
        if m.is_empty() {
            s.push_str(&format!("member: cn=hub-sync,{SUFFIX}\n"));
        }
        s.push('\n');
    }
    s
}

/// A slapd loaded offline, stopped by PID when dropped.
pub(crate) struct Slapd {
    dir: tempfile::TempDir,
    pub url: String,
}

impl Slapd {
    pub fn start(scripts: &Path, n: usize, groups: usize) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let script = scripts.join("slapd-start.sh");
        let ok = Command::new("bash")
            .arg(&script)
            .arg(dir.path())
            .arg(port.to_string())
            .arg(SUFFIX)
            .env("SLAPD_CONFIG_ONLY", "1")
            .status()?;
        if !ok.success() {
            bail!("slapd-start.sh failed (is Debian slapd installed? scripts/install-peers.sh)");
        }
        let file = dir.path().join("bench.ldif");
        std::fs::write(&file, ldif(n, groups))?;
        let out = Command::new("slapadd")
            .arg("-q")
            .arg("-f")
            .arg(dir.path().join("slapd.conf"))
            .arg("-l")
            .arg(&file)
            .output()?;
        if !out.status.success() {
            bail!("slapadd: {}", String::from_utf8_lossy(&out.stderr));
        }
        let out = Command::new("bash")
            .arg(&script)
            .arg(dir.path())
            .arg(port.to_string())
            .arg(SUFFIX)
            .output()?;
        if !out.status.success() {
            bail!("slapd: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(Self {
            dir,
            url: format!("ldap://127.0.0.1:{port}"),
        })
    }

    fn ldapsearch(&self, extension: &str, filter: &str) -> Result<Duration> {
        let t = Instant::now();
        let out = Command::new("ldapsearch")
            .args(["-x", "-LLL", "-H", &self.url, "-D"])
            .arg(format!("cn=hub-sync,{SUFFIX}"))
            .args(["-w", "syncpw", "-b", SUFFIX, "-E", extension, filter])
            .args(["entryUUID", "uid", "mail", "cn", "givenName", "sn"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        let took = t.elapsed();
        if !out.status.success() {
            bail!("ldapsearch: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(took)
    }

    pub fn modify(&self, ldif: &str) -> Result<()> {
        let mut child = Command::new("ldapmodify")
            .args(["-x", "-H", &self.url, "-D"])
            .arg(format!("cn=admin,{SUFFIX}"))
            .args(["-w", "secret"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        child
            .stdin
            .take()
            .context("stdin")?
            .write_all(ldif.as_bytes())?;
        if !child.wait()?.success() {
            bail!("ldapmodify failed");
        }
        Ok(())
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("slapd.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
pub(crate) fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn changes(round: usize, n: usize) -> String {
    (0..100)
        .map(|k| {
            let i = (k * (n / 100).max(1) + round) % n.max(1);
            format!(
                "dn: uid=u{i:06},ou=people,{SUFFIX}\nchangetype: modify\nreplace: cn\ncn: Changed {round} {i}\n\n"
            )
        })
        .collect()
}

pub(crate) async fn run(n: usize, backends: &[(&'static str, String)]) -> Result<LdapBench> {
    let scripts = peers_scripts().context("tests/peers/slapd-start.sh not found")?;
    let groups = (n / 500).max(1);
    eprintln!("== LDAP: loading {n} users and {groups} groups into slapd");
    let slapd = Slapd::start(&scripts, n, groups)?;
    let filter = "(objectClass=inetOrgPerson)";
    let mut paged = Vec::new();
    let mut sync = Vec::new();
    for _ in 0..3 {
        paged.push(slapd.ldapsearch("pr=500/noprompt", filter)?);
        sync.push(slapd.ldapsearch("!sync=ro", filter)?);
    }
    let mut out = LdapBench {
        users: n,
        groups,
        raw_paged: median(paged),
        raw_syncrepl: median(sync),
        backends: Vec::new(),
    };
    for (i, (name, url)) in backends.iter().enumerate() {
        eprintln!("   {name}: hub serve, syncs of {n} users");
        out.backends
            .push(backend(name, url, &slapd, n, 2 * i + 1, &mut memory).await?);
    }
    Ok(out)
}

async fn backend(
    name: &'static str,
    db_url: &str,
    slapd: &Slapd,
    n: usize,
    round: usize,
    mem: &mut impl FnMut(u32) -> (u64, u64),
) -> Result<LdapBackend> {
    let key = super::base64_key()?;
    let (server, url) = super::spawn_serve(
        db_url,
        &key,
        &[
            ("HUB_OUTBOUND__ALLOW_LOOPBACK", "true"),
            ("HUB_JOBS__SCHEDULER_TICK_SECS", "86400"),
            ("HUB_SERVER__REQUEST_TIMEOUT_SECS", "3600"),
        ],
    )?;
    let operator = super::operator_key(db_url).await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3600))
        .build()?;
    let call = |method: reqwest::Method, path: String, body: Value| {
        http.request(method, format!("{url}{path}"))
            .bearer_auth(&operator)
            .json(&body)
            .send()
    };
    let post = |path: &str, body: Value| call(reqwest::Method::POST, path.to_string(), body);
    post(
        "/api/v1/orgs",
        json!({"slug": "ldap", "name": "LDAP bench"}),
    )
    .await?
    .error_for_status()?;
    post(
        "/api/v1/orgs/ldap/domains",
        json!({"domain": "ldap-bench.test"}),
    )
    .await?
    .error_for_status()?;
    post(
        "/api/v1/orgs/ldap/domains/ldap-bench.test/attest",
        json!({"reason": "benchmark"}),
    )
    .await?
    .error_for_status()?;
    let settings = |mode: &str| {
        json!({"url": slapd.url, "bind_dn": format!("cn=hub-sync,{SUFFIX}"), "base_dn": SUFFIX,
            "mode": mode, "schedule": {"enabled": false}, "deprovision_threshold_percent": 10})
    };
    let dir: Value = post(
        "/api/v1/orgs/ldap/directories",
        json!({"name": "Bench LDAP", "kind": "ldap", "bind_password": "syncpw",
            "ldap": settings("incremental")}),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    let id = dir["id"].as_str().context("directory id")?.to_string();
    let sync = |mode: &'static str| {
        let path = format!("/api/v1/orgs/ldap/directories/{id}/sync?mode={mode}");
        let call = &call;
        async move {
            let t = Instant::now();
            let r: Value = call(reqwest::Method::POST, path, Value::Null)
                .await?
                .error_for_status()?
                .json()
                .await?;
            let took = t.elapsed();
            if r["status"] != "succeeded" {
                bail!("sync {mode}: {r}");
            }
            Ok::<_, anyhow::Error>((took, r["counts"].clone()))
        }
    };
    let pid = server.id();
    let (rss_before_kb, _) = mem(pid);
    let (first, first_counts) = sync("full").await?;
    let (resync, resync_counts) = sync("full").await?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    slapd.modify(&changes(round, n))?;
    let (incremental, incremental_counts) = sync("incremental").await?;
    call(
        reqwest::Method::PATCH,
        format!("/api/v1/orgs/ldap/directories/{id}"),
        json!({"ldap": settings("syncrepl")}),
    )
    .await?
    .error_for_status()?;
    let (syncrepl_full, _) = sync("full").await?;
    slapd.modify(&changes(round + 1, n))?;
    let (syncrepl_incremental, syncrepl_incremental_counts) = sync("incremental").await?;
    let (rss_after_kb, peak_kb) = mem(pid);
    drop(server);
    Ok(LdapBackend {
        name,
        first,
        first_counts,
        resync,
        resync_counts,
        incremental,
        incremental_counts,
        syncrepl_full,
        syncrepl_incremental,
        syncrepl_incremental_counts,
        rss_before_kb,
        rss_after_kb,
        peak_kb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ldif_puts_each_user_in_two_groups() {
        let l = ldif(10, 2);
        assert_eq!(l.matches("objectClass: inetOrgPerson").count(), 10);
        assert_eq!(l.matches("member: uid=").count(), 20);
    }
}
