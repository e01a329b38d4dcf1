//! Verification of the chain: every hash recomputed, every link and sequence number checked,
//! every checkpoint signature checked against the key that made it. Stops at the first problem,
//! which names the first bad sequence number.

use std::collections::BTreeMap;
use std::fmt;

use crate::audit::{AuditAction, AuditRecord, Checkpoint, GENESIS_HASH, checkpoint_message};
use crate::secrets::SecretBox;
use crate::signing::{self, Signer};
use crate::storage::{self, Store, StoreError};

/// The first thing wrong with a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No event with this sequence number, though later ones (or the head) exist.
    Missing { seq: i64 },
    /// The stored contents do not hash to the stored hash.
    Edited { seq: i64 },
    /// The event does not point at the hash of the event before it.
    BrokenLink { seq: i64 },
    /// The organizations recorded for access control differ from the hashed list.
    ScopeMismatch { seq: i64 },
    /// The head row disagrees with the last event.
    HeadMismatch { seq: i64 },
    /// A checkpoint whose signature, key or hash does not hold.
    BadCheckpoint { seq: i64, reason: String },
    /// An event older than the checkpoint interval allows that no signed checkpoint covers.
    Uncovered { seq: i64 },
}

impl Problem {
    pub fn seq(&self) -> i64 {
        match self {
            Self::Missing { seq }
            | Self::Edited { seq }
            | Self::BrokenLink { seq }
            | Self::ScopeMismatch { seq }
            | Self::HeadMismatch { seq }
            | Self::BadCheckpoint { seq, .. }
            | Self::Uncovered { seq } => *seq,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { seq } => write!(f, "sequence {seq}: event missing (deleted)"),
            Self::Edited { seq } => write!(
                f,
                "sequence {seq}: contents do not match the stored hash (edited or moved)"
            ),
            Self::BrokenLink { seq } => write!(
                f,
                "sequence {seq}: previous-hash link broken (events reordered, removed or rewritten before it)"
            ),
            Self::ScopeMismatch { seq } => write!(
                f,
                "sequence {seq}: organization scopes differ from the hashed event (visibility tampered)"
            ),
            Self::HeadMismatch { seq } => {
                write!(
                    f,
                    "sequence {seq}: chain head does not match the last event"
                )
            }
            Self::BadCheckpoint { seq, reason } => {
                write!(f, "sequence {seq}: checkpoint invalid: {reason}")
            }
            Self::Uncovered { seq } => write!(
                f,
                "sequence {seq}: no signed checkpoint covers this event although it is older \
                 than the checkpoint interval allows (checkpoints deleted, or the hub stopped \
                 without signing one: run `hub audit checkpoint` only once you know which)"
            ),
        }
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    /// Of which redacted stubs (an organization's export).
    pub redacted: u64,
    pub last_seq: i64,
    pub checkpoints: u64,
    pub problem: Option<Problem>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// What a verification of the stored chain expects beyond the chain itself.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// Checkpoints kept elsewhere (downloaded earlier from `/api/v1/audit/checkpoints`), checked
    /// as the stored ones are: deleting stored checkpoints then hides nothing they covered.
    pub checkpoints: Vec<Checkpoint>,
    /// `(now, max gap)` in ms: every event older than `now - max gap` must be covered by a
    /// signed checkpoint (the hub signs one every interval while events arrive, and at
    /// shutdown), so a chain rewritten after its checkpoints were deleted fails.
    pub coverage: Option<(i64, i64)>,
}

/// Walks records in sequence order.
struct Walker {
    expected: i64,
    prev_hash: String,
    hashes_at: BTreeMap<i64, Option<String>>,
    /// Keys introduced in the chain by `signing_key.created`: kid -> (public key, seq).
    keys: BTreeMap<String, (String, i64)>,
}

impl Walker {
    fn new(checkpoint_seqs: impl IntoIterator<Item = i64>) -> Self {
        Self {
            expected: 1,
            prev_hash: GENESIS_HASH.to_string(),
            hashes_at: checkpoint_seqs.into_iter().map(|s| (s, None)).collect(),
            keys: BTreeMap::new(),
        }
    }

    fn step(&mut self, r: &AuditRecord) -> Result<(), Problem> {
        if r.seq != self.expected {
            return Err(Problem::Missing { seq: self.expected });
        }
        // A redacted stub's contents are not ours to see: its hash is taken as given, and the
        // next event's link (and any checkpoint after it) still proves it was not changed.
        if !r.redacted && r.compute_hash() != r.hash {
            return Err(Problem::Edited { seq: r.seq });
        }
        if r.prev_hash != self.prev_hash {
            return Err(Problem::BrokenLink { seq: r.seq });
        }
        if let Some(slot) = self.hashes_at.get_mut(&r.seq) {
            *slot = Some(r.hash.clone());
        }
        if r.action == AuditAction::SigningKeyCreated.as_str()
            && let (Some(kid), Some(public)) =
                (r.details["kid"].as_str(), r.details["public_key"].as_str())
        {
            self.keys
                .insert(kid.to_string(), (public.to_string(), r.seq));
        }
        self.prev_hash = r.hash.clone();
        self.expected += 1;
        Ok(())
    }
}

impl Walker {
    /// A checkpoint holds if a key introduced in the chain before it signed it, over the hash
    /// the chain has at that sequence number.
    fn check(&self, cp: &Checkpoint) -> Result<(), String> {
        let Some((public, introduced_at)) = self.keys.get(&cp.key_id) else {
            return Err(format!(
                "signed by key {} that the chain never introduced",
                cp.key_id
            ));
        };
        if *introduced_at >= cp.seq {
            return Err(format!("signed by key {} introduced after it", cp.key_id));
        }
        let message = checkpoint_message(cp.seq, &cp.hash, cp.at_ms);
        if !signing::verify(public, &message, &cp.signature) {
            return Err("signature does not verify".into());
        }
        match self.hashes_at.get(&cp.seq) {
            Some(Some(hash)) if *hash == cp.hash => Ok(()),
            Some(Some(_)) => Err(
                "the chain's hash at this sequence differs from the signed one (rewritten)".into(),
            ),
            _ => Err("the signed event is no longer in the chain (truncated)".into()),
        }
    }
}

/// Verifies a complete export (sequence 1 onwards) and its checkpoints without a database.
pub fn verify_records<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    checkpoints: &[Checkpoint],
) -> VerifyReport {
    let mut walker = Walker::new(checkpoints.iter().map(|c| c.seq));
    let mut report = VerifyReport {
        checkpoints: checkpoints.len() as u64,
        ..Default::default()
    };
    for r in records {
        if let Err(p) = walker.step(r) {
            report.problem = Some(p);
            return report;
        }
        report.events += 1;
        report.redacted += u64::from(r.redacted);
        report.last_seq = r.seq;
    }
    for cp in checkpoints {
        if let Err(reason) = walker.check(cp) {
            report.problem = Some(Problem::BadCheckpoint {
                seq: cp.seq,
                reason,
            });
            return report;
        }
    }
    report
}

/// Verifies the stored chain, its access scopes, its head and every signed checkpoint. With
/// `secrets`, also proves that each checkpoint key's stored public half matches its private half,
/// so a substituted public key cannot vouch for forged checkpoints.
pub async fn verify_chain(
    store: &Store,
    secrets: Option<&SecretBox>,
    expect: &Expectations,
) -> Result<VerifyReport, StoreError> {
    const PAGE: u64 = 1000;
    let c = store.conn();
    // Checkpoints, then the head, then events up to the head: appends made while verifying a
    // live database come after all three and are left for the next run.
    let mut checkpoints = storage::audit::checkpoints(c).await?;
    for cp in &expect.checkpoints {
        if !checkpoints
            .iter()
            .any(|s| s.seq == cp.seq && s.key_id == cp.key_id && s.signature == cp.signature)
        {
            checkpoints.push(cp.clone());
        }
    }
    let covered = checkpoints.iter().map(|cp| cp.seq).max().unwrap_or(0);
    let mut uncovered: Option<i64> = None;
    let (head_seq, head_hash) = storage::audit::head(c).await?;
    let mut walker = Walker::new(checkpoints.iter().map(|cp| cp.seq));
    let mut report = VerifyReport {
        checkpoints: checkpoints.len() as u64,
        ..Default::default()
    };
    let mut after = 0;
    while after < head_seq {
        let mut page =
            storage::audit::list(c, storage::audit::Scope::All, after, PAGE, None).await?;
        page.retain(|r| r.seq <= head_seq);
        let Some(last) = page.last() else { break };
        let upto = last.seq;
        let mut scopes: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (seq, org) in storage::audit::scopes(c, after, upto).await? {
            scopes.entry(seq).or_default().push(org);
        }
        for r in &page {
            let fail = walker.step(r).err().or_else(|| {
                let mut hashed: Vec<String> = r.orgs.iter().map(|o| o.to_string()).collect();
                hashed.sort();
                let stored = scopes.remove(&r.seq).unwrap_or_default();
                (hashed != stored).then_some(Problem::ScopeMismatch { seq: r.seq })
            });
            if let Some(problem) = fail {
                report.problem = Some(problem);
                return Ok(report);
            }
            if let Some((now, gap)) = expect.coverage
                && uncovered.is_none()
                && r.seq > covered
                && r.at_ms < now - gap
            {
                uncovered = Some(r.seq);
            }
            report.events += 1;
            report.last_seq = r.seq;
        }
        if let Some((&seq, _)) = scopes.iter().next() {
            report.problem = Some(Problem::ScopeMismatch { seq });
            return Ok(report);
        }
        after = upto;
    }
    if head_seq > report.last_seq {
        report.problem = Some(Problem::Missing {
            seq: report.last_seq + 1,
        });
        return Ok(report);
    }
    if head_seq != report.last_seq || (head_seq > 0 && head_hash != walker.prev_hash) {
        report.problem = Some(Problem::HeadMismatch {
            seq: report.last_seq,
        });
        return Ok(report);
    }
    for cp in &checkpoints {
        let stored = check_stored_key(store, secrets, cp, &walker).await?;
        if let Err(reason) = stored.and_then(|()| walker.check(cp)) {
            report.problem = Some(Problem::BadCheckpoint {
                seq: cp.seq,
                reason,
            });
            return Ok(report);
        }
    }
    if let Some(seq) = uncovered {
        report.problem = Some(Problem::Uncovered { seq });
    }
    Ok(report)
}

/// The stored key must be the one the chain introduced and, with the secrets key at hand, its
/// stored private half must match it.
async fn check_stored_key(
    store: &Store,
    secrets: Option<&SecretBox>,
    cp: &Checkpoint,
    walker: &Walker,
) -> Result<Result<(), String>, StoreError> {
    let Some(key) = storage::signing_keys::get(store.conn(), &cp.key_id).await? else {
        return Ok(Err(format!("signed by unknown key {}", cp.key_id)));
    };
    if walker.keys.get(&cp.key_id).map(|(p, _)| p) != Some(&key.public_key) {
        return Ok(Err(format!(
            "stored public key {} differs from the one the chain introduced",
            cp.key_id
        )));
    }
    if let Some(secrets) = secrets
        && Signer::open(&key, secrets).is_err()
    {
        return Ok(Err(format!(
            "stored public key {} does not match its private key",
            cp.key_id
        )));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let mut r = AuditRecord {
                    seq,
                    id: format!("e{seq}"),
                    at_ms: 1000 + seq,
                    actor: json!({"kind": "system", "component": "test"}),
                    orgs: vec![],
                    orgs_raw: "[]".into(),
                    action: "organization.created".into(),
                    target: format!("organization:{seq}"),
                    details: json!({"n": seq}),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                    redacted: false,
                };
                r.hash = r.compute_hash();
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    #[test]
    fn intact_chain_verifies() {
        let report = verify_records(&chain(5), &[]);
        assert!(report.ok(), "{report:?}");
        assert_eq!(report.events, 5);
    }

    #[test]
    fn edit_delete_reorder_and_rehash_are_each_named() {
        let mut edited = chain(5);
        edited[2].details = json!({"n": 99});
        assert_eq!(
            verify_records(&edited, &[]).problem,
            Some(Problem::Edited { seq: 3 })
        );

        let mut deleted = chain(5);
        deleted.remove(1);
        assert_eq!(
            verify_records(&deleted, &[]).problem,
            Some(Problem::Missing { seq: 2 })
        );

        let mut reordered = chain(5);
        reordered.swap(1, 2);
        assert_eq!(
            verify_records(&reordered, &[]).problem,
            Some(Problem::Missing { seq: 2 })
        );

        // Swapping contents but keeping sequence numbers: the hash covers seq.
        let mut moved = chain(5);
        let (a, b) = (moved[1].clone(), moved[2].clone());
        moved[1] = AuditRecord { seq: 2, ..b };
        moved[2] = AuditRecord { seq: 3, ..a };
        assert_eq!(
            verify_records(&moved, &[]).problem,
            Some(Problem::Edited { seq: 2 })
        );

        // An edit with a recomputed hash breaks the next link.
        let mut rehashed = chain(5);
        rehashed[2].details = json!({"n": 99});
        rehashed[2].hash = rehashed[2].compute_hash();
        assert_eq!(
            verify_records(&rehashed, &[]).problem,
            Some(Problem::BrokenLink { seq: 4 })
        );
    }
}
