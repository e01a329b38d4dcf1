//! Each organization's mapping of its directory groups to hub roles.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::ids::OrgId;
use crate::orgs::model::{HubRole, RoleGroups};
use crate::storage::entities::org_role_group::{ActiveModel, Column, Entity};
use crate::storage::{Conn, StoreResult};

pub async fn get(c: &impl Conn, org: OrgId) -> StoreResult<RoleGroups> {
    let mut out = RoleGroups::default();
    for m in Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .order_by_asc(Column::GroupName)
        .all(c)
        .await?
    {
        match m.role.parse::<HubRole>() {
            Ok(HubRole::OrgAdmin) => out.org_admin.push(m.group_name),
            Ok(HubRole::ComplianceOfficer) => out.compliance_officer.push(m.group_name),
            // A role this version does not know grants nothing.
            Err(()) => {}
        }
    }
    Ok(out)
}

/// Replaces the organization's mapping.
pub async fn set(c: &impl Conn, org: OrgId, groups: &RoleGroups) -> StoreResult<()> {
    Entity::delete_many()
        .filter(Column::OrgId.eq(org.to_string()))
        .exec(c)
        .await?;
    let rows: Vec<ActiveModel> = [
        (HubRole::OrgAdmin, &groups.org_admin),
        (HubRole::ComplianceOfficer, &groups.compliance_officer),
    ]
    .into_iter()
    .flat_map(|(role, names)| {
        names.iter().map(move |n| ActiveModel {
            org_id: Set(org.to_string()),
            role: Set(role.as_str().to_string()),
            group_name: Set(n.clone()),
        })
    })
    .collect();
    if !rows.is_empty() {
        Entity::insert_many(rows).exec_without_returning(c).await?;
    }
    Ok(())
}
