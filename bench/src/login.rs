//! Federated login overhead: the time the hub adds to a sign-in through a company's own OIDC IdP
//! (npm `oidc-provider`, tests/peers/upstream-op.mjs, with a real password form).
//!
//! Two flows run interleaved, each in a fresh cookie jar, over loopback HTTP/1.1:
//! - **direct**: a relying party signs in at the IdP alone (authorization request, the IdP's
//!   login form, the password post, the redirect with a code, the code exchange);
//! - **through the hub**: an application sends the person to the hub, the hub to the IdP (the
//!   same steps there), back to the hub's callback (the hub exchanges the code at the IdP, checks
//!   the ID token, links the identity, starts the session), back to the application, which
//!   exchanges its own code at the hub.
//!
//! The added time of login *i* is `hub_i - direct_i`; its p50 and p99 are reported with both
//! flows' own. "Hub requests" is the time of the requests the hub answers alone (authorize, its
//! login step, the callback, the token exchange): an upper bound of the hub's share, since the
//! callback includes the IdP's code exchange.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Stats;

pub(crate) struct LoginResult {
    pub direct: Stats,
    pub hub: Stats,
    pub added: Stats,
    pub hub_requests: Stats,
}

/// Kills the node process when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const SECRET: &str = "bench-upstream-secret";

fn browser() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// One request; returns the Location it redirects to and how long it took.
async fn hop(
    c: &reqwest::Client,
    url: &str,
    form: Option<&[(&str, &str)]>,
) -> Result<(Option<String>, Duration)> {
    let t = Instant::now();
    let r = match form {
        Some(f) => c.post(url).form(f).send().await?,
        None => c.get(url).send().await?,
    };
    let status = r.status();
    let loc = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = r.bytes().await?;
    if !(status.is_success() || status.is_redirection()) {
        bail!(
            "{url} answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
    }
    Ok((loc, t.elapsed()))
}

fn absolute(base: &str, loc: &str) -> String {
    if loc.starts_with("http") {
        loc.to_string()
    } else {
        format!("{base}{loc}")
    }
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
}

fn pkce() -> Result<(String, String)> {
    use base64::Engine;
    let verifier = hub::secrets::random_token()?;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    Ok((verifier, challenge))
}

/// From the IdP's authorization URL to the redirect carrying the code: the login form, the
/// password post and the IdP's resume step.
async fn at_idp(c: &reqwest::Client, issuer: &str, auth_url: &str) -> Result<String> {
    let (loc, _) = hop(c, auth_url, None).await?;
    let interaction = absolute(issuer, &loc.context("IdP: no interaction")?);
    hop(c, &interaction, None).await?;
    let (loc, _) = hop(
        c,
        &interaction,
        Some(&[("login", "alice"), ("password", "alice-pw")]),
    )
    .await?;
    let resume = absolute(issuer, &loc.context("IdP: no resume")?);
    let (loc, _) = hop(c, &resume, None).await?;
    loc.context("IdP: no redirect with a code")
}

struct Setup {
    issuer: String,
    hub: String,
    callback: String,
    app_id: String,
    app_secret: String,
    app_redirect: String,
}

async fn direct(s: &Setup) -> Result<Duration> {
    let c = browser()?;
    let t = Instant::now();
    let (verifier, challenge) = pkce()?;
    let mut auth = url::Url::parse(&format!("{}/auth", s.issuer))?;
    auth.query_pairs_mut()
        .append_pair("client_id", "hub-bench")
        .append_pair("redirect_uri", &s.callback)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email profile")
        .append_pair("state", "direct-state")
        .append_pair("nonce", "direct-nonce")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let back = at_idp(&c, &s.issuer, auth.as_str()).await?;
    let code = param(&back, "code").context("IdP: no code")?;
    let r = c
        .post(format!("{}/token", s.issuer))
        .basic_auth("hub-bench", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", s.callback.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("IdP token endpoint answered {}", r.status());
    }
    let body: Value = r.json().await?;
    body["id_token"].as_str().context("IdP: no ID token")?;
    Ok(t.elapsed())
}

/// Returns the whole login's time and the time of the requests the hub answered.
async fn through_hub(s: &Setup) -> Result<(Duration, Duration)> {
    let c = browser()?;
    let t = Instant::now();
    let (verifier, challenge) = pkce()?;
    let mut auth = url::Url::parse(&format!("{}/oauth2/authorize", s.hub))?;
    auth.query_pairs_mut()
        .append_pair("client_id", &s.app_id)
        .append_pair("redirect_uri", &s.app_redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email")
        .append_pair("state", "app-state")
        .append_pair("nonce", "app-nonce")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let (loc, d1) = hop(&c, auth.as_str(), None).await?;
    let (loc, d2) = hop(&c, &absolute(&s.hub, &loc.context("hub: no login")?), None).await?;
    let to_idp = loc.context("hub: no redirect to the IdP")?;
    let back = at_idp(&c, &s.issuer, &to_idp).await?;
    let (loc, d3) = hop(&c, &back, None).await?;
    let to_app = loc.context("hub: no redirect to the application")?;
    let code = param(&to_app, "code").with_context(|| format!("hub refused: {to_app}"))?;
    let t4 = Instant::now();
    let r = c
        .post(format!("{}/oauth2/token", s.hub))
        .basic_auth(&s.app_id, Some(&s.app_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", s.app_redirect.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("hub token endpoint answered {}", r.status());
    }
    let body: Value = r.json().await?;
    body["id_token"].as_str().context("hub: no ID token")?;
    let d4 = t4.elapsed();
    Ok((t.elapsed(), d1 + d2 + d3 + d4))
}

/// Starts the IdP, connects the `bench` organization to it and measures `n` logins each way.
/// The organization must have the verified domain bench.test and the user alice@bench.test.
pub(crate) async fn federated(
    dir: &Path,
    base_url: &str,
    operator_key: &str,
    n: usize,
) -> Result<LoginResult> {
    let callback = format!("{base_url}{}", hub::login::upstream::CALLBACK_PATH);
    let mut child = Command::new("node")
        .arg("upstream-op.mjs")
        .current_dir(dir)
        .env("CLIENT_ID", "hub-bench")
        .env("CLIENT_SECRET", SECRET)
        .env("REDIRECT_URI", &callback)
        .env(
            "ACCOUNTS",
            json!({"alice": {"password": "alice-pw", "claims": {
                "email": "alice@bench.test", "email_verified": true, "name": "Alice"}}})
            .to_string(),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting node upstream-op.mjs")?;
    let stdout = child.stdout.take().context("stdout")?;
    let _child = Child(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map(|_| line)
    })
    .await??;
    let ready: Value = serde_json::from_str(&line).context("upstream-op.mjs ready line")?;
    let issuer = ready["issuer"].as_str().context("issuer")?.to_string();

    let admin = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        admin
            .post(format!("{base_url}{path}"))
            .bearer_auth(operator_key)
            .json(&body)
            .send()
    };
    let conn: Value = post(
        "/api/v1/orgs/bench/connections",
        json!({"name": "Bench IdP", "kind": "oidc", "client_secret": SECRET,
               "oidc": {"issuer": issuer, "client_id": "hub-bench"}}),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    // The organization's own admin approves the operator's connection (it links existing
    // people by email only then).
    let org_admin: Value = post(
        "/api/v1/orgs/bench/api-keys",
        json!({"name": "bench-admin", "role": "admin"}),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    admin
        .post(format!(
            "{base_url}/api/v1/orgs/bench/connections/{}/approve",
            conn["id"].as_str().unwrap_or_default()
        ))
        .bearer_auth(org_admin["secret"].as_str().unwrap_or_default())
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()?;
    let app_redirect = "https://app.bench.test/login-cb".to_string();
    let app: Value = post(
        "/api/v1/orgs/bench/applications",
        json!({"name": "Login bench", "client_type": "confidential",
               "redirect_uris": [app_redirect]}),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    let setup = Setup {
        issuer,
        hub: base_url.to_string(),
        callback,
        app_id: app["application"]["client_id"]
            .as_str()
            .context("client id")?
            .to_string(),
        app_secret: app["client_secret"].as_str().context("secret")?.to_string(),
        app_redirect,
    };
    for _ in 0..10 {
        direct(&setup).await?;
        through_hub(&setup).await?;
    }
    let (mut d, mut h, mut added, mut hub_only) = (vec![], vec![], vec![], vec![]);
    let wall = Instant::now();
    for i in 0..n {
        // Alternate which goes first, so neither always runs on a warmer machine.
        let (dt, (ht, hr)) = if i % 2 == 0 {
            let dt = direct(&setup).await?;
            (dt, through_hub(&setup).await?)
        } else {
            let h = through_hub(&setup).await?;
            (direct(&setup).await?, h)
        };
        d.push(dt);
        h.push(ht);
        added.push(ht.as_secs_f64() * 1e6 - dt.as_secs_f64() * 1e6);
        hub_only.push(hr);
    }
    let wall = wall.elapsed();
    added.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        let i = ((added.len() as f64 - 1.0) * q).round() as usize;
        added.get(i).copied().unwrap_or(0.0)
    };
    Ok(LoginResult {
        added: Stats {
            count: added.len(),
            per_sec: 0.0,
            p50_us: pick(0.5),
            p99_us: pick(0.99),
        },
        direct: Stats::from(d, wall),
        hub: Stats::from(h, wall),
        hub_requests: Stats::from(hub_only, wall),
    })
}
