//! `hub witness`: an organization's own check on the audit log, run on its own machine. Each
//! round it fetches the log's latest checkpoint, checks the log's signature with the key it was
//! given, checks that the new tree extends the last one it cosigned (a consistency proof,
//! verified here with `tlog_tiles`), cosigns the checkpoint with its own key and posts the
//! cosignature back. A log that shrank, or two checkpoints of one size with different roots, or
//! a tree that does not extend the last one is a split view: it says so loudly, cosigns
//! nothing and exits 3. What it last cosigned is kept in its state file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use signed_note::{Note, StandardSigner, StandardVerifier, Verifier, VerifierList};
use tlog_tiles::tlog::{self, Hash};

/// The exit code of a split view or an inconsistent log.
pub const SPLIT_VIEW: u8 = 3;

/// What a witness round found wrong.
#[derive(Debug)]
pub enum Alarm {
    /// The log showed a view inconsistent with what this witness cosigned before.
    SplitView(String),
    /// Anything else (network, a bad answer): retried at the next round.
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Alarm {
    fn from(e: anyhow::Error) -> Self {
        Self::Failed(e)
    }
}

/// What the witness cosigned last.
#[derive(Debug, Serialize, Deserialize)]
struct Seen {
    size: u64,
    root: String,
    checkpoint: String,
}

pub struct Witness {
    pub hub: String,
    pub api_key: String,
    /// The log's verifier key, as `GET /api/v1/audit/log/key` gave it once (kept apart).
    pub log_key: String,
    pub signer_key: String,
    pub state: PathBuf,
}

/// Makes a witness key named `name`: writes the signer key to `out` (readable by its owner
/// only) and returns the verifier key, for the organization to register.
pub fn keygen(name: &str, out: &Path) -> Result<String> {
    let (skey, vkey) = crate::audit::tree::new_note_key(name).map_err(|e| anyhow!("{e}"))?;
    if out.exists() {
        bail!("{} exists; not overwriting a key", out.display());
    }
    write_private(out, &skey)?;
    Ok(vkey)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot create {}", path.display()))
}

/// A checkpoint's size and root, after checking the log's signature on it.
fn open(note: &str, log: &StandardVerifier) -> Result<(u64, Hash, String)> {
    let n = Note::from_bytes(note.as_bytes()).map_err(|e| anyhow!("not a signed note: {e}"))?;
    let verifiers = VerifierList::new(vec![Box::new(log.clone()) as Box<dyn Verifier>]);
    n.verify(&verifiers)
        .map_err(|e| anyhow!("the checkpoint is not signed by the log's key: {e}"))?;
    let text = String::from_utf8_lossy(n.text()).into_owned();
    let mut lines = text.lines();
    if lines.next() != Some(log.name()) {
        bail!("the checkpoint is not of the log {}", log.name());
    }
    let size = lines
        .next()
        .and_then(|l| l.parse().ok())
        .context("no size line")?;
    let root = lines
        .next()
        .and_then(|l| Hash::parse_hash(l).ok())
        .context("no root line")?;
    Ok((size, root, text))
}

impl Witness {
    async fn get(&self, client: &reqwest::Client, path: &str) -> Result<reqwest::Response> {
        let r = client
            .get(format!("{}{path}", self.hub.trim_end_matches('/')))
            .bearer_auth(&self.api_key)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        if !r.status().is_success() {
            bail!("GET {path}: {}", r.status());
        }
        Ok(r)
    }

    /// One round: check the latest checkpoint and cosign it. Returns its size.
    pub async fn round(&self, client: &reqwest::Client) -> Result<u64, Alarm> {
        let log = StandardVerifier::new(&self.log_key)
            .map_err(|e| anyhow!("--log-key is not a verifier key: {e}"))?;
        let signer = StandardSigner::new(self.signer_key.trim())
            .map_err(|e| anyhow!("the witness key file does not hold a signer key: {e}"))?;
        let note = self
            .get(client, "/api/v1/audit/log/checkpoint")
            .await?
            .text()
            .await
            .context("reading the checkpoint")?;
        let (size, root, text) = open(&note, &log)?;
        let seen: Option<Seen> = std::fs::read(&self.state)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(old) = &seen {
            let old_root = Hash::parse_hash(&old.root).map_err(|e| anyhow!("state file: {e}"))?;
            if size < old.size {
                return Err(Alarm::SplitView(format!(
                    "the log shrank from {} to {size} entries",
                    old.size
                )));
            }
            if size == old.size && root != old_root {
                return Err(Alarm::SplitView(format!(
                    "two checkpoints of size {size} with different roots ({} and {root})",
                    old.root
                )));
            }
            if size > old.size {
                #[derive(Deserialize)]
                struct Proof {
                    proof: Vec<String>,
                }
                let p: Proof = self
                    .get(
                        client,
                        &format!("/api/v1/audit/log/consistency?old={}&new={size}", old.size),
                    )
                    .await?
                    .json()
                    .await
                    .context("reading the consistency proof")?;
                let proof = p
                    .proof
                    .iter()
                    .map(|h| Hash::parse_hash(h))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| anyhow!("a bad proof hash: {e}"))?;
                if tlog::check_tree(&proof, size, root, old.size, old_root).is_err() {
                    return Err(Alarm::SplitView(format!(
                        "the tree of size {size} does not extend the one of size {} this \
                         witness cosigned: history was rewritten or another view was shown",
                        old.size
                    )));
                }
            }
        }
        let mut cosigned =
            Note::new(text.as_bytes(), &[]).map_err(|e| anyhow!("checkpoint text: {e}"))?;
        cosigned
            .add_sigs(&[&signer])
            .map_err(|e| anyhow!("signing: {e}"))?;
        let body = serde_json::json!({
            "checkpoint": String::from_utf8_lossy(&cosigned.to_bytes()),
        });
        let r = client
            .post(format!(
                "{}/api/v1/audit/log/cosignatures",
                self.hub.trim_end_matches('/')
            ))
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await
            .context("posting the cosignature")?;
        if r.status() == reqwest::StatusCode::CONFLICT {
            return Err(Alarm::SplitView(format!(
                "the hub does not recognise the checkpoint of size {size} it served"
            )));
        }
        if !r.status().is_success() {
            let status = r.status();
            let detail = r.text().await.unwrap_or_default();
            return Err(Alarm::Failed(anyhow!(
                "posting the cosignature: {status} {detail}"
            )));
        }
        let state = Seen {
            size,
            root: root.to_string(),
            checkpoint: note,
        };
        std::fs::write(
            &self.state,
            serde_json::to_vec_pretty(&state).unwrap_or_default(),
        )
        .with_context(|| format!("cannot write {}", self.state.display()))?;
        Ok(size)
    }

    /// Rounds every `interval` (or one, with `once`): exit 0, or [`SPLIT_VIEW`] on an alarm.
    pub async fn run(&self, interval: Duration, once: bool) -> Result<u8> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        loop {
            match self.round(&client).await {
                Ok(size) => {
                    println!("{}", serde_json::json!({"cosigned": size}));
                }
                Err(Alarm::SplitView(why)) => {
                    eprintln!(
                        "SPLIT VIEW: {why}. Nothing was cosigned; keep the state file as evidence."
                    );
                    tracing::error!(%why, "split view of the audit log");
                    return Ok(SPLIT_VIEW);
                }
                Err(Alarm::Failed(e)) if once => return Err(e),
                Err(Alarm::Failed(e)) => {
                    tracing::warn!(error = %e, "witness round failed; will retry");
                }
            }
            if once {
                return Ok(0);
            }
            tokio::time::sleep(interval).await;
        }
    }
}
