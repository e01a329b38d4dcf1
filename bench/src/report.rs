//! The Markdown report (`bench/RESULTS.md`): every scenario's figures beside its goal, met or not.

use std::fmt::Write as _;
use std::time::Duration;

use super::{BackendResult, BenchArgs, ldap, soak, token};

pub(crate) fn render_soak(soak: &Result<soak::SoakResult, String>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n## Soak: two replicas, mixed load\n");
    let r = match soak {
        Err(e) => {
            let _ = writeln!(s, "Not run: {e}");
            return s;
        }
        Ok(r) => r,
    };
    let _ = writeln!(
        s,
        "Two `hub serve` replicas on one PostgreSQL database, {} s, loopback only: concurrent clients sign people in (development sign-in, code exchange at the other replica), rotate refresh tokens, push SCIM creates, and sign other people in who then leave over SCIM and are rehired (each leaver's back-channel logout delivered from the outbox), while a real slapd directory of 500 people changes every 5 s and the replicas' schedulers sync it (incremental every 3 s, full every 20 s). Every answer is checked.\n",
        r.secs
    );
    let _ = writeln!(s, "| operation | done | per second | p50 / p99 (ms) |");
    let _ = writeln!(s, "|---|---|---|---|");
    for (op, (st, n)) in &r.ops {
        let _ = writeln!(
            s,
            "| {op} | {n} | {:.1} | {:.1} / {:.1} |",
            st.per_sec,
            st.p50_us / 1e3,
            st.p99_us / 1e3
        );
    }
    let _ = writeln!(
        s,
        "\n**Errors: {}**{}",
        r.errors.len(),
        if r.errors.is_empty() {
            String::new()
        } else {
            format!(
                " (first: {})",
                r.errors
                    .iter()
                    .filter(|e| !e.is_empty())
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    );
    let fmt = |v: &[u64]| {
        v.iter()
            .map(|k| format!("{} MiB", k / 1024))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    if let (Some(first), Some(last)) = (r.rss.first(), r.rss.last()) {
        let max: Vec<u64> = (0..first.1.len())
            .map(|i| r.rss.iter().map(|(_, v)| v[i]).max().unwrap_or(0))
            .collect();
        let _ = writeln!(
            s,
            "\nResident memory of the two replicas: {} at {} s, {} at {} s, at most {} ({} samples).",
            fmt(&first.1),
            first.0,
            fmt(&last.1),
            last.0,
            fmt(&max),
            r.rss.len()
        );
    }
    let _ = writeln!(
        s,
        "\nDirectory sync runs: {}. Deprovisioning: {}. Logout tokens received: {}. The audit log verified with {} events.",
        r.syncs
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", "),
        r.deliveries
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", "),
        r.logouts_received,
        r.audit_events
    );
    s
}

pub(crate) fn render(
    results: &[BackendResult],
    peer: &Result<token::TokenResult, String>,
    raw_sign: f64,
    args: &BenchArgs,
) -> String {
    let mut s = String::new();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(s, "# Benchmark results (`hub-bench`)\n");
    let _ = writeln!(
        s,
        "Measured {} on a {cores}-core machine; client and hub share it (in one process, \
         loopback HTTP/1.1 with kept-alive connections). {} reads and {} audit appends per \
         measurement, {} concurrent clients. Regenerate with `cargo run --release -p hub-bench`.\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        args.requests,
        args.appends,
        args.concurrency
    );
    let _ = writeln!(
        s,
        "## Admin API read latency (`GET /api/v1/orgs/{{org}}/applications/{{id}}`)\n"
    );
    let _ = writeln!(
        s,
        "Baseline: the same application row read straight from the database with one query (no HTTP, no authentication).\n"
    );
    let _ = writeln!(
        s,
        "| backend | hub sequential p50 / p99 (µs) | raw query p50 / p99 (µs) | hub ÷ raw (p50) | hub concurrent req/s | concurrent p99 (µs) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in results.iter().filter(|r| r.api_seq.count > 0) {
        let _ = writeln!(
            s,
            "| {} | {:.0} / {:.0} | {:.0} / {:.0} | {:.1}x | {:.0} | {:.0} |",
            r.name,
            r.api_seq.p50_us,
            r.api_seq.p99_us,
            r.raw_read.p50_us,
            r.raw_read.p99_us,
            r.api_seq.p50_us / r.raw_read.p50_us.max(1e-9),
            r.api_conc.per_sec,
            r.api_conc.p99_us
        );
    }
    let _ = writeln!(
        s,
        "\n## Audit append throughput (hash-chained, one transaction per event)\n"
    );
    let _ = writeln!(
        s,
        "Baseline: a raw one-row insert in its own transaction. The audit append also locks the chain head, reads it, hashes a canonical encoding, writes the event, its organization scope and the new head.\n"
    );
    let _ = writeln!(
        s,
        "| backend | audit appends/s sequential (p50 / p99 µs) | raw inserts/s (p50 / p99 µs) | audit ÷ raw throughput | audit appends/s, concurrent (p99 µs) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for r in results.iter().filter(|r| r.api_seq.count > 0) {
        let _ = writeln!(
            s,
            "| {} | {:.0} ({:.0} / {:.0}) | {:.0} ({:.0} / {:.0}) | {:.2} | {:.0} ({:.0}) |",
            r.name,
            r.audit_seq.per_sec,
            r.audit_seq.p50_us,
            r.audit_seq.p99_us,
            r.raw_insert.per_sec,
            r.raw_insert.p50_us,
            r.raw_insert.p99_us,
            r.audit_seq.per_sec / r.raw_insert.per_sec.max(1e-9),
            r.audit_conc.per_sec,
            r.audit_conc.p99_us
        );
    }
    let cores = cores.max(1) as f64;
    let _ = writeln!(s, "\n## Token endpoint: authorization code exchanges\n");
    let _ = writeln!(
        s,
        "Each exchange: client_secret_basic, code + PKCE S256, one ES256 ID token and one JWT access token (two signatures), a refresh token for the hub. The same Rust client exchanges codes minted beforehand on each target, {} sequentially and {} with {} concurrent clients. npm `oidc-provider` (one Node.js process, in-memory adapter) is the peer. Both servers run as their own processes; the load client shares the machine, so besides wall-clock throughput the table gives exchanges per CPU-second of the server process (from /proc), the figure to hold against Keycloak's sizing guide (about 120 token grants/s per vCPU). For PostgreSQL that CPU leaves out the database server's own processes, so the SQLite row (database work in the hub's process) is the one to compare with the anchor and the peer. The last column is the share of that CPU a raw ES256 signature pair would take.\n",
        (args.exchanges / 2).max(2) - 1,
        (args.exchanges / 2).max(2),
        args.concurrency
    );
    let _ = writeln!(
        s,
        "| target | sequential p50 / p99 (µs) | concurrent exchanges/s (wall) | concurrent p99 (µs) | exchanges per server CPU-second | × Keycloak anchor (per CPU-second) | raw ES256 pair's share of that CPU |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    let row = |s: &mut String, name: &str, t: &token::TokenResult| {
        let per_core = t.per_cpu_second.unwrap_or(t.conc.per_sec / cores);
        let _ = writeln!(
            s,
            "| {name} | {:.0} / {:.0} | {:.0} | {:.0} | {:.0} | {:.1}x | {:.1}% |",
            t.seq.p50_us,
            t.seq.p99_us,
            t.conc.per_sec,
            t.conc.p99_us,
            per_core,
            per_core / 120.0,
            100.0 * 2.0 * per_core / raw_sign
        );
    };
    for r in results {
        row(&mut s, &format!("hub, {}", r.name), &r.token);
    }
    match peer {
        Ok(p) => {
            row(&mut s, "npm oidc-provider", p);
            for r in results {
                let _ = writeln!(
                    s,
                    "\nhub ({}) ÷ oidc-provider: {:.1}x the concurrent throughput, {:.2}x the sequential p50 latency.",
                    r.name,
                    r.token.conc.per_sec / p.conc.per_sec.max(1e-9),
                    r.token.seq.p50_us / p.seq.p50_us.max(1e-9)
                );
            }
        }
        Err(why) => {
            let _ = writeln!(s, "| npm oidc-provider | {why} | | | | | |");
        }
    }
    let _ = writeln!(
        s,
        "\nRaw ES256 signing with ring on this machine: {raw_sign:.0} signatures/s on one core ({:.0} on {cores:.0} cores); an exchange needs two.",
        raw_sign * cores
    );
    let _ = writeln!(
        s,
        "\n## Federated login: the time the hub adds\n\nA person signs in through their company's OIDC IdP (npm `oidc-provider` with a password form, one Node.js process), {} times each way, interleaved, each login in a fresh cookie jar: **direct** is a relying party signing in at the IdP alone (authorization request, login form, password post, redirect with a code, code exchange); **through the hub** an application sends the person to the hub, the hub to the same IdP (the same steps there), back to the hub's callback (which exchanges the code at the IdP, checks the ID token, links the identity and starts the session), back to the application, which exchanges its own code at the hub. **Added** is, login by login, through-the-hub minus direct; **hub requests** is the time of the requests the hub answers (authorize, its login step, the callback, the token exchange), an upper bound of its share since the callback waits for the IdP's code exchange.\n",
        args.logins
    );
    let _ = writeln!(
        s,
        "| backend | direct p50 / p99 (ms) | through the hub p50 / p99 (ms) | added p50 / p99 (ms) | hub requests p50 / p99 (ms) | added ÷ direct (p50) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in results {
        match &r.login {
            Ok(l) => {
                let _ = writeln!(
                    s,
                    "| {} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.2} |",
                    r.name,
                    l.direct.p50_us / 1e3,
                    l.direct.p99_us / 1e3,
                    l.hub.p50_us / 1e3,
                    l.hub.p99_us / 1e3,
                    l.added.p50_us / 1e3,
                    l.added.p99_us / 1e3,
                    l.hub_requests.p50_us / 1e3,
                    l.hub_requests.p99_us / 1e3,
                    l.added.p50_us / l.direct.p50_us.max(1e-9),
                );
            }
            Err(e) => {
                let _ = writeln!(s, "| {} | {e} | | | | |", r.name);
            }
        }
    }
    let _ = writeln!(
        s,
        "\n## SCIM writes\n\nUser creates pushed over HTTP as Okta or Entra ID push them (each checked against the verified domains and uniqueness, written and audited in one transaction), half one after another and half from {} concurrent clients; then one PATCH adding every created user to one group (Entra's form: `Add` on `members` with a value list), which also rewrites each member's `groups` claim. Entra ID asks an endpoint to sustain 25 requests/s.\n",
        args.concurrency
    );
    let _ = writeln!(
        s,
        "| backend | creates/s sequential (p50 / p99 ms) | creates/s concurrent (p99 ms) | × Entra's 25/s | group PATCH adding N members |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for r in results {
        let c = &r.scim;
        let _ = writeln!(
            s,
            "| {} | {:.0} ({:.1} / {:.1}) | {:.0} ({:.1}) | {:.0}x | {} members in {:.2} s |",
            r.name,
            c.seq.per_sec,
            c.seq.p50_us / 1e3,
            c.seq.p99_us / 1e3,
            c.conc.per_sec,
            c.conc.p99_us / 1e3,
            c.conc.per_sec / 25.0,
            c.members,
            c.group_patch.as_secs_f64()
        );
    }
    let _ = writeln!(
        s,
        "\nEvery run ends with a full `verify_chain` of the log it wrote; the run fails if the chain does not verify."
    );
    let _ = writeln!(
        s,
        "Counts: {}.",
        results
            .iter()
            .filter(|r| r.api_seq.count > 0)
            .map(|r| format!(
                "{} {} reads / {} appends",
                r.name, r.api_seq.count, r.audit_seq.count
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The LDAP and time-to-deprovision sections.
pub(crate) fn render_extra(
    results: &[BackendResult],
    ldap: &Result<ldap::LdapBench, String>,
    args: &BenchArgs,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n## LDAP directory sync\n");
    match ldap {
        Err(e) => {
            let _ = writeln!(s, "Not measured: {e}\n");
        }
        Ok(l) => {
            let _ = writeln!(
                s,
                "A real slapd (syncprov) loaded offline with {} users and {} groups (each user in two), on this machine. **Raw** is `ldapsearch` reading the same users with the same attributes to /dev/null, median of 3: paged (`-E pr=500`) {:.0} ms, a syncrepl refresh (`-E !sync=ro`) {:.0} ms. The hub runs as its own `hub serve` process; each sync is one admin API call, timed to its answer (read, reconcile, audit, groups). **First** creates every user (each audited, in the same transaction as its change); **re-sync** is the steady state: a full read that finds nothing changed; **incremental** reads 100 changed users by `modifyTimestamp`; then the directory is switched to syncrepl: a full refresh, and 100 changes read from the cookie. Memory is the `hub serve` process's resident set before the first sync, after the last, and at its peak (`VmHWM`).\n",
                l.users,
                l.groups,
                ms(l.raw_paged),
                ms(l.raw_syncrepl)
            );
            let _ = writeln!(
                s,
                "| backend | first full sync | re-sync, nothing changed | re-sync ÷ raw paged | incremental, 100 changes | syncrepl full refresh | syncrepl, 100 changes | RSS before / after / peak |"
            );
            let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
            for b in &l.backends {
                let _ = writeln!(
                    s,
                    "| {} | {:.2} s ({} created, {:.1}x raw) | {:.2} s ({} unchanged) | {:.1}x | {:.0} ms ({} updated) | {:.2} s ({:.1}x raw syncrepl) | {:.0} ms ({} updated) | {} / {} / {} MiB |",
                    b.name,
                    b.first.as_secs_f64(),
                    b.first_counts["created"],
                    b.first.as_secs_f64() / l.raw_paged.as_secs_f64().max(1e-9),
                    b.resync.as_secs_f64(),
                    b.resync_counts["unchanged"],
                    b.resync.as_secs_f64() / l.raw_paged.as_secs_f64().max(1e-9),
                    ms(b.incremental),
                    b.incremental_counts["updated"],
                    b.syncrepl_full.as_secs_f64(),
                    b.syncrepl_full.as_secs_f64() / l.raw_syncrepl.as_secs_f64().max(1e-9),
                    ms(b.syncrepl_incremental),
                    b.syncrepl_incremental_counts["updated"],
                    b.rss_before_kb / 1024,
                    b.rss_after_kb / 1024,
                    b.peak_kb / 1024
                );
            }
            let _ = writeln!(
                s,
                "\nFor comparison: Keycloak's periodic LDAP sync is off by default (daily or weekly when on); Entra ID provisions in 40-minute cycles."
            );
        }
    }
    let _ = writeln!(s, "\n## Time to deprovision\n");
    if results.iter().all(|r| r.deprovision.is_none()) {
        let _ = writeln!(s, "Not measured (--leavers 0).");
        return s;
    }
    let _ = writeln!(
        s,
        "Each leaver is signed in to {} downstream applications (one hub session that reached them all), each application with its own back-channel logout receiver on loopback. The directory deactivates the leaver over SCIM as Entra ID sends it (`PATCH` `Replace` `active` `\"False\"`), timed from the moment the request is sent: **local revocation** until its answer (the status change, sessions ended, refresh tokens revoked, access tokens off at introspection, the {} deliveries queued, audited, in one committed transaction); **all delivered** until the last of the leaver's {} logout tokens reached its receiver (signed, POSTed from the durable outbox). {} leavers one after another, then {} at once from {} concurrent SCIM clients (a mass departure). Goals: local revocation p99 under 100 ms, all deliveries p99 under 1 s; Entra ID's own provisioning works in 40-minute cycles.\n",
        args.receivers,
        args.receivers,
        args.receivers,
        args.leavers,
        args.leavers,
        args.concurrency
    );
    let _ = writeln!(
        s,
        "| backend | one by one: local revocation p50 / p99 | one by one: all delivered p50 / p99 | burst: local revocation p50 / p99 | burst: all delivered p50 / p99 | burst: last delivery after |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in results {
        if let Some(d) = &r.deprovision {
            let _ = writeln!(
                s,
                "| {} | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {:.0} / {:.0} ms | {:.2} s for {} leavers × {} |",
                r.name,
                d.seq_local.p50_us / 1e3,
                d.seq_local.p99_us / 1e3,
                d.seq_all.p50_us / 1e3,
                d.seq_all.p99_us / 1e3,
                d.burst_local.p50_us / 1e3,
                d.burst_local.p99_us / 1e3,
                d.burst_all.p50_us / 1e3,
                d.burst_all.p99_us / 1e3,
                d.burst_wall.as_secs_f64(),
                d.burst,
                d.receivers
            );
            let _ = d.sequential;
        }
    }
    s
}
