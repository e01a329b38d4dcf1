//! Security notices: every audit event that changes who can sign in to an organization or who
//! belongs to it is copied, in the transaction that appends it, to each organization it
//! concerns, for that organization's admins to see in the console (`storage::notices` keeps
//! each person's read mark). A notice carries its event's `seq`: the log stays the evidence.
//! Whatever made the change (a person in the console, an API key, the operator, the CLI) is
//! copied alike.

use crate::audit::model::{AuditAction, AuditRecord, SecurityNotice};
use crate::storage::{self, StoreError, Tx};

/// Whether an event of this kind is a security notice for its organizations' admins.
pub fn notifies(action: AuditAction) -> bool {
    use AuditAction as A;
    match action {
        // Who can sign in: the IdP connections, the domains they may vouch for, the keys that
        // administer the organization and the groups that make its admins.
        A::ConnectionCreated
        | A::ConnectionUpdated
        | A::ConnectionDeleted
        | A::ConnectionApproved
        | A::DomainVerified
        | A::DomainRemoved
        | A::ApiKeyCreated
        | A::ApiKeyRevoked
        | A::RolesUpdated
        // Who belongs: the directories, the tokens that push to them, a held mass
        // deprovisioning let through.
        | A::DirectoryCreated
        | A::DirectoryUpdated
        | A::ScimTokenCreated
        | A::ScimTokenRevoked
        | A::DirectorySyncConfirmed
        // What leaves for another organization: a space's owner asking for more, access
        // that ended because nobody recertified it.
        | A::SpaceGrantChanged
        | A::SpaceGrantExpired
        // The operator asking to change the organization, or acting without asking.
        | A::OperatorRequested
        | A::BreakGlassOpened => true,
        A::OrganizationCreated
        | A::OrganizationUpdated
        | A::DomainAdded
        | A::ApplicationCreated
        | A::ApplicationUpdated
        | A::ApplicationSecretRotated
        | A::ApplicationDeleted
        | A::SigningKeyCreated
        | A::UserCreated
        | A::UserUpdated
        | A::UserSuspended
        | A::UserReactivated
        | A::SessionStarted
        | A::SessionEnded
        | A::SessionReauthenticated
        | A::TokensRevoked
        | A::CodeReplayed
        | A::RefreshTokenReused
        | A::ConsentGranted
        | A::OperatorRead
        | A::IdentityLinked
        | A::LoginRefused
        | A::LoginFailuresSummarized
        | A::UserDeprovisioned
        | A::GroupCreated
        | A::GroupUpdated
        | A::GroupDeleted
        | A::DirectorySynced
        | A::DirectorySyncHeld
        | A::DeliveryDelivered
        | A::DeliveryDead
        | A::DeliveryRetried
        | A::DeprovisioningCompleted
        | A::SpaceCreated
        | A::SpaceUpdated
        | A::SpaceDeleted
        | A::SpaceGrantProposed
        | A::SpaceGrantAccepted
        | A::SpaceGrantDeclined
        | A::SpaceGrantWithdrawn
        | A::SpaceGrantReviewed
        | A::OperatorRequestApproved
        | A::OperatorRequestRejected
        | A::BreakGlassReviewed
        | A::WitnessAdded
        | A::WitnessRemoved
        | A::EvidenceRecorded
        | A::AccessGranted => false,
    }
}

/// Copies `record` (of `action`) to a notice of each of its organizations, inside `tx`.
pub(super) async fn record(
    tx: &Tx,
    action: AuditAction,
    record: &AuditRecord,
) -> Result<(), StoreError> {
    if !notifies(action) {
        return Ok(());
    }
    for org in &record.orgs {
        let notice = SecurityNotice {
            org_id: *org,
            seq: record.seq,
            at_ms: record.at_ms,
            actor: record.actor.clone(),
            action: record.action.clone(),
            target: record.target.clone(),
            details: record.details.clone(),
        };
        storage::notices::insert(tx.conn(), &notice).await?;
    }
    Ok(())
}
