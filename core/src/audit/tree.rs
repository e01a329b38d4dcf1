//! The audit log as a transparency log (issue 18). The events, in sequence order, are the leaves
//! of a Merkle tree with RFC 9162 hashing: leaf `seq - 1` is the event's canonical encoding (the
//! RFC 8785 JSON its chain hash covers). A sequencer adds committed events to the tree (its
//! hashes stored in the layout of Go's `sumdb/tlog`, computed with the `tlog_tiles` crate, a
//! port of it) and the hub signs checkpoints as C2SP signed notes (`tlog-checkpoint` text,
//! Ed25519, `signed_note`). From them an organization proves that each of its events is in the
//! log (inclusion proofs) and that the log only grew (consistency proofs), seeing nothing of
//! another organization's events but hashes; any C2SP verifier checks them (the tests use Go's
//! own `sumdb/note` and `sumdb/tlog`).

use std::cell::RefCell;
use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use signed_note::{Note, StandardSigner};
use tlog_tiles::tlog::{self, Hash, HashReader};

use crate::audit::model::{AuditRecord, LogKey, TreeCheckpoint};
use crate::ids::OrgId;
use crate::state::AppState;
use crate::storage::audit::Scope;
use crate::storage::{self, Conn, Store, StoreError};

/// Events sequenced per transaction.
const BATCH: u64 = 1000;

/// The sealing context of the log's signer key.
const KEY_CONTEXT: &str = "audit.log_key";

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit tree: {0}")]
    Tree(String),
    #[error("audit log key: {0}")]
    Key(String),
}

impl From<tlog::Error> for TreeError {
    fn from(e: tlog::Error) -> Self {
        Self::Tree(e.to_string())
    }
}

impl From<TreeError> for crate::error::ServiceError {
    fn from(e: TreeError) -> Self {
        match e {
            TreeError::Store(s) => s.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Stored hashes known by index. A read of one not known yet records it and fails, so that the
/// caller loads what was missed from the store and runs the computation again
/// ([`Known::run`]): `tlog_tiles` reads synchronously, the store answers asynchronously.
#[derive(Default)]
pub struct Known {
    hashes: HashMap<u64, Hash>,
    missing: RefCell<Vec<u64>>,
}

impl HashReader for Known {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog::Error> {
        let mut missing = self.missing.borrow_mut();
        let out = indexes
            .iter()
            .map(|i| match self.hashes.get(i) {
                Some(h) => *h,
                None => {
                    missing.push(*i);
                    Hash::default()
                }
            })
            .collect();
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(tlog::Error::IndexesNotInTree)
        }
    }
}

impl Known {
    /// Runs `f` over the known hashes, loading from the store those it missed (at most a few
    /// rounds: each computation reads its indexes in one call).
    async fn run<T>(
        &mut self,
        c: &impl Conn,
        f: impl Fn(&Self) -> Result<T, tlog::Error>,
    ) -> Result<T, TreeError> {
        for _ in 0..4 {
            match f(self) {
                Ok(v) => return Ok(v),
                Err(tlog::Error::IndexesNotInTree) if !self.missing.borrow().is_empty() => {
                    let missing = std::mem::take(&mut *self.missing.borrow_mut());
                    self.load(c, &missing).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(TreeError::Tree("stored hashes are missing".into()))
    }

    async fn load(&mut self, c: &impl Conn, indexes: &[u64]) -> Result<(), TreeError> {
        let wanted: Vec<i64> = indexes
            .iter()
            .filter(|i| !self.hashes.contains_key(i))
            .filter_map(|i| i64::try_from(*i).ok())
            .collect();
        for (idx, h) in storage::audit_tree::hashes(c, &wanted).await? {
            let hash =
                Hash::parse_hash(&h).map_err(|_| StoreError::Corrupt("audit_tree_hashes"))?;
            self.hashes
                .insert(u64::try_from(idx).unwrap_or_default(), hash);
        }
        if indexes.iter().any(|i| !self.hashes.contains_key(i)) {
            return Err(TreeError::Tree("a stored hash is missing".into()));
        }
        Ok(())
    }
}

/// The leaf an event is: its canonical encoding (UTF-8 JSON).
pub fn leaf(record: &AuditRecord) -> Vec<u8> {
    record.canonical()
}

fn index_of(seq: i64) -> u64 {
    u64::try_from(seq - 1).unwrap_or_default()
}

/// Adds committed events to the tree, up to `BATCH` per transaction, until it holds them all.
/// One sequencer at a time (the tree row is locked). Returns the tree's size.
pub async fn sequence(store: &Store) -> Result<u64, TreeError> {
    loop {
        let tx = store.begin().await?;
        let (size, _) = storage::audit_tree::lock_tree(tx.conn()).await?;
        let records = storage::audit::list(tx.conn(), Scope::All, size, BATCH, None).await?;
        let mut n = u64::try_from(size).unwrap_or_default();
        if records.is_empty() {
            return Ok(n);
        }
        let mut known = Known::default();
        let mut rows = Vec::new();
        for r in &records {
            if index_of(r.seq) != n {
                return Err(TreeError::Tree(format!(
                    "event {} follows {n} events in the log: a gap",
                    r.seq
                )));
            }
            let data = leaf(r);
            let hashes = known
                .run(tx.conn(), |k| tlog::stored_hashes(n, &data, k))
                .await?;
            let base = tlog::stored_hash_index(0, n);
            for (idx, h) in (base..).zip(hashes) {
                known.hashes.insert(idx, h);
                rows.push((i64::try_from(idx).unwrap_or(i64::MAX), h.to_string()));
            }
            n += 1;
        }
        let root = known.run(tx.conn(), |k| tlog::tree_hash(n, k)).await?;
        storage::audit_tree::insert_hashes(tx.conn(), &rows).await?;
        let size = i64::try_from(n).unwrap_or(i64::MAX);
        storage::audit_tree::set_tree(tx.conn(), size, &root.to_string()).await?;
        tx.commit().await?;
        tracing::debug!(size = n, "audit tree sequenced");
    }
}

/// The log's name (its checkpoints' origin line and its key's name): the hub's public host
/// and path, then `/audit`.
fn origin(public_url: &str) -> String {
    let u = url::Url::parse(public_url).ok();
    let host = u
        .as_ref()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_else(|| "hub".into());
    let path = u
        .as_ref()
        .map(|u| u.path().trim_end_matches('/').to_string())
        .unwrap_or_default();
    format!("{host}{path}/audit")
}

/// A new Ed25519 signed-note key pair named `name`: the signer key
/// (`PRIVATE+KEY+name+id+base64`, secret) and the verifier key (`name+id+base64`). The seed is
/// drawn with `ring`.
pub fn new_note_key(name: &str) -> Result<(String, String), TreeError> {
    if !signed_note::is_key_name_valid(name) {
        return Err(TreeError::Key(format!(
            "{name:?} is not a key name (no spaces or +)"
        )));
    }
    let seed = crate::secrets::random_bytes::<32>().map_err(|e| TreeError::Key(e.to_string()))?;
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed)
        .map_err(|_| TreeError::Key("bad seed".into()))?;
    let public = [
        &[1u8][..],
        ring::signature::KeyPair::public_key(&pair).as_ref(),
    ]
    .concat();
    let id = signed_note::key_id(name, &public);
    let skey = format!(
        "PRIVATE+KEY+{name}+{id:08x}+{}",
        B64.encode([&[1u8][..], &seed[..]].concat())
    );
    Ok((skey, format!("{name}+{id:08x}+{}", B64.encode(&public))))
}

/// The log's signer and its key record. The key is made on the first checkpoint, named after
/// the hub's public URL then, and kept: its name is the log's origin for good (a new public URL
/// does not make a new log; a key rotation would be an explicit act).
async fn signer(state: &AppState) -> Result<(StandardSigner, LogKey), TreeError> {
    let key = match storage::audit_tree::current_key(state.store.conn()).await? {
        Some(k) => k,
        None => {
            let tx = state.store.begin().await?;
            let k = match storage::audit_tree::current_key(tx.conn()).await? {
                Some(k) => k,
                None => {
                    let name = origin(&state.config.server.public_url);
                    let (skey, vkey) = new_note_key(&name)?;
                    let id = vkey.split('+').nth(1).unwrap_or_default().to_string();
                    let k = LogKey {
                        id,
                        name,
                        public_key: vkey,
                        seed_sealed: state
                            .secrets
                            .seal(KEY_CONTEXT, skey.as_bytes())
                            .map_err(|e| TreeError::Key(e.to_string()))?,
                        created_at: state.clock.now_ms(),
                    };
                    storage::audit_tree::insert_key(tx.conn(), &k).await?;
                    tracing::info!(key = %k.public_key, "made the audit log's signing key");
                    k
                }
            };
            tx.commit().await?;
            k
        }
    };
    let skey = state
        .secrets
        .open(KEY_CONTEXT, &key.seed_sealed)
        .map_err(|e| TreeError::Key(e.to_string()))?;
    let signer = StandardSigner::new(skey.expose()).map_err(|e| TreeError::Key(e.to_string()))?;
    Ok((signer, key))
}

/// The log's key (its name is the checkpoints' origin; `public_key` the verifier key), for
/// anyone who checks its checkpoints; `None` before the first checkpoint made it.
pub async fn log_key(state: &AppState) -> Result<Option<LogKey>, TreeError> {
    Ok(storage::audit_tree::current_key(state.store.conn()).await?)
}

/// Whether every committed event is in a signed checkpoint already: three reads and no write,
/// so an idle log costs the periodic job nothing (no lease, no transaction).
pub async fn up_to_date(store: &Store) -> Result<bool, TreeError> {
    let c = store.conn();
    let (head, _) = storage::audit::head(c).await?;
    let (size, _) = storage::audit_tree::tree(c).await?;
    let signed = storage::audit_tree::checkpoint(c, None)
        .await?
        .map_or(0, |cp| cp.size);
    Ok(head == size && signed == size)
}

/// Sequences what was committed and, if the tree grew, signs a checkpoint of it.
pub async fn publish(state: &AppState) -> Result<Option<TreeCheckpoint>, TreeError> {
    sequence(&state.store).await?;
    let c = state.store.conn();
    let (size, root) = storage::audit_tree::tree(c).await?;
    let latest = storage::audit_tree::checkpoint(c, None).await?;
    if size == 0 || latest.is_some_and(|l| l.size >= size) {
        return Ok(None);
    }
    let (signer, key) = signer(state).await?;
    let text = format!("{}\n{size}\n{root}\n", key.name);
    let mut note = Note::new(text.as_bytes(), &[]).map_err(|e| TreeError::Tree(e.to_string()))?;
    note.add_sigs(&[&signer])
        .map_err(|e| TreeError::Key(e.to_string()))?;
    let cp = TreeCheckpoint {
        size,
        root,
        note: String::from_utf8_lossy(&note.to_bytes()).into_owned(),
        key_id: key.id,
        at_ms: state.clock.now_ms(),
    };
    let tx = state.store.begin().await?;
    storage::audit_tree::insert_checkpoint(tx.conn(), &cp).await?;
    tx.commit().await?;
    tracing::info!(size, "signed an audit log checkpoint");
    Ok(Some(cp))
}

fn encode(proof: &[Hash]) -> Vec<String> {
    proof.iter().map(ToString::to_string).collect()
}

/// The proof that the tree of size `new` extends the tree of size `old` (base64 hashes).
pub async fn consistency(c: &impl Conn, new: u64, old: u64) -> Result<Vec<String>, TreeError> {
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    let mut known = Known::default();
    Ok(encode(
        &known.run(c, |k| tlog::prove_tree(new, old, k)).await?,
    ))
}

/// One of an organization's events with its proof of inclusion in a checkpoint's tree.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Proven {
    /// The leaf's index in the tree (`seq - 1`).
    pub index: u64,
    pub seq: i64,
    /// The leaf: the event's canonical JSON, exactly as hashed.
    pub leaf: String,
    /// The inclusion proof, base64 hashes (RFC 9162 §2.1.3).
    pub proof: Vec<String>,
}

/// Which of an organization's events to prove: all, or one action on one target.
#[derive(Debug, Clone, Copy)]
pub enum Only<'a> {
    All,
    ActionOn { action: &'a str, target: &'a str },
}

/// `org`'s events after `after` (by sequence) in the tree of size `size`, of a page of at most
/// `limit` read, each with its inclusion proof; and the last sequence number the page read
/// (`None` when it read less than a page: the end). Another organization's events are never
/// read.
pub async fn org_events(
    c: &impl Conn,
    org: OrgId,
    size: u64,
    (after, limit): (i64, u64),
    only: Only<'_>,
) -> Result<(Vec<Proven>, Option<i64>), TreeError> {
    let action = match only {
        Only::All => None,
        Only::ActionOn { action, .. } => Some(action),
    };
    let records = storage::audit::list(c, Scope::Org(org), after, limit, action).await?;
    let last = (records.len() as u64 == limit)
        .then(|| records.last().map(|r| r.seq))
        .flatten();
    let mut known = Known::default();
    let mut out = Vec::with_capacity(records.len());
    let wanted = |r: &&AuditRecord| match only {
        Only::All => true,
        Only::ActionOn { target, .. } => r.target == target,
    };
    for r in records
        .iter()
        .filter(|r| index_of(r.seq) < size)
        .filter(wanted)
    {
        let index = index_of(r.seq);
        let proof = known.run(c, |k| tlog::prove_record(size, index, k)).await?;
        out.push(Proven {
            index,
            seq: r.seq,
            leaf: String::from_utf8_lossy(&leaf(r)).into_owned(),
            proof: encode(&proof),
        });
    }
    Ok((out, last))
}
