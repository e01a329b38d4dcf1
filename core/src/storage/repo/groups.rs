//! Directory groups and their members. A directory-managed user's `groups` (the token claim)
//! is kept equal to the names of the groups they belong to.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, JoinType, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, RelationDef,
};

use super::parse;
use crate::directories::model::Group;
use crate::directories::model::{GroupAttr, Query};
use crate::ids::{GroupId, OrgId, UserId};
use crate::storage::entities::{group, group_member, user};
use crate::storage::{Conn, StoreError, StoreResult};

impl TryFrom<group::Model> for Group {
    type Error = StoreError;
    fn try_from(m: group::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse(&m.id, "groups")?,
            org_id: parse(&m.org_id, "groups")?,
            directory_id: m
                .directory_id
                .as_deref()
                .map(|d| parse(d, "groups"))
                .transpose()?,
            display_name: m.display_name,
            external_id: m.external_id,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

fn active(g: &Group) -> group::ActiveModel {
    group::ActiveModel {
        id: Set(g.id.to_string()),
        org_id: Set(g.org_id.to_string()),
        directory_id: Set(g.directory_id.map(|d| d.to_string())),
        display_name: Set(g.display_name.clone()),
        external_id: Set(g.external_id.clone()),
        version: Set(g.version),
        created_at: Set(g.created_at),
        updated_at: Set(g.updated_at),
        source_hash: sea_orm::ActiveValue::NotSet,
    }
}

/// The hash of what the directory last said of each of `dir`'s groups, by external id.
pub async fn source_hashes(
    c: &impl Conn,
    org: OrgId,
    dir: crate::ids::DirectoryId,
) -> StoreResult<BTreeMap<String, Option<String>>> {
    let rows: Vec<(Option<String>, Option<String>)> = group::Entity::find()
        .select_only()
        .column(group::Column::ExternalId)
        .column(group::Column::SourceHash)
        .filter(group::Column::OrgId.eq(org.to_string()))
        .filter(group::Column::DirectoryId.eq(dir.to_string()))
        .into_tuple()
        .all(c)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(x, h)| x.map(|x| (x, h)))
        .collect())
}

/// Records what the directory said of a group.
pub async fn set_source_hash(
    c: &impl Conn,
    org: OrgId,
    id: GroupId,
    hash: &str,
) -> StoreResult<()> {
    group::Entity::update_many()
        .col_expr(group::Column::SourceHash, Expr::value(hash))
        .filter(group::Column::OrgId.eq(org.to_string()))
        .filter(group::Column::Id.eq(id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn insert(c: &impl Conn, g: &Group) -> StoreResult<()> {
    group::Entity::insert(active(g))
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn update(c: &impl Conn, g: &Group) -> StoreResult<()> {
    let mut row = active(g);
    row.id = sea_orm::ActiveValue::NotSet;
    row.org_id = sea_orm::ActiveValue::NotSet;
    row.created_at = sea_orm::ActiveValue::NotSet;
    group::Entity::update_many()
        .set(row)
        .filter(group::Column::OrgId.eq(g.org_id.to_string()))
        .filter(group::Column::Id.eq(g.id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn get(c: &impl Conn, org: OrgId, id: GroupId) -> StoreResult<Option<Group>> {
    group::Entity::find()
        .filter(group::Column::OrgId.eq(org.to_string()))
        .filter(group::Column::Id.eq(id.to_string()))
        .one(c)
        .await?
        .map(Group::try_from)
        .transpose()
}

pub async fn get_for_update(c: &impl Conn, org: OrgId, id: GroupId) -> StoreResult<Option<Group>> {
    group::Entity::find()
        .filter(group::Column::OrgId.eq(org.to_string()))
        .filter(group::Column::Id.eq(id.to_string()))
        .lock_exclusive()
        .one(c)
        .await?
        .map(Group::try_from)
        .transpose()
}

pub async fn delete(c: &impl Conn, org: OrgId, id: GroupId) -> StoreResult<()> {
    group_member::Entity::delete_many()
        .filter(group_member::Column::OrgId.eq(org.to_string()))
        .filter(group_member::Column::GroupId.eq(id.to_string()))
        .exec(c)
        .await?;
    group::Entity::delete_many()
        .filter(group::Column::OrgId.eq(org.to_string()))
        .filter(group::Column::Id.eq(id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

fn member_join() -> RelationDef {
    group_member::Entity::belongs_to(user::Entity)
        .from(group_member::Column::UserId)
        .to(user::Column::Id)
        .into()
}

/// The group's members with their userNames, in a stable order.
pub async fn members(c: &impl Conn, org: OrgId, id: GroupId) -> StoreResult<Vec<(UserId, String)>> {
    let rows: Vec<(String, String)> = group_member::Entity::find()
        .select_only()
        .column(group_member::Column::UserId)
        .column(user::Column::Username)
        .join(JoinType::InnerJoin, member_join())
        .filter(group_member::Column::OrgId.eq(org.to_string()))
        .filter(group_member::Column::GroupId.eq(id.to_string()))
        .order_by_asc(group_member::Column::UserId)
        .into_tuple()
        .all(c)
        .await?;
    rows.into_iter()
        .map(|(u, n)| Ok((parse(&u, "group_members")?, n)))
        .collect()
}

pub async fn add_members(
    c: &impl Conn,
    org: OrgId,
    id: GroupId,
    users: &[UserId],
) -> StoreResult<()> {
    for chunk in users.chunks(500) {
        let rows = chunk.iter().map(|u| group_member::ActiveModel {
            org_id: Set(org.to_string()),
            group_id: Set(id.to_string()),
            user_id: Set(u.to_string()),
        });
        group_member::Entity::insert_many(rows)
            .exec_without_returning(c)
            .await?;
    }
    Ok(())
}

pub async fn remove_members(
    c: &impl Conn,
    org: OrgId,
    id: GroupId,
    users: &[UserId],
) -> StoreResult<()> {
    for chunk in users.chunks(500) {
        group_member::Entity::delete_many()
            .filter(group_member::Column::OrgId.eq(org.to_string()))
            .filter(group_member::Column::GroupId.eq(id.to_string()))
            .filter(group_member::Column::UserId.is_in(chunk.iter().map(|u| u.to_string())))
            .exec(c)
            .await?;
    }
    Ok(())
}

/// Which of `ids` are users of the organization that are not deprovisioned.
pub async fn existing_users(c: &impl Conn, org: OrgId, ids: &[UserId]) -> StoreResult<Vec<UserId>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<String> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::OrgId.eq(org.to_string()))
            .filter(user::Column::Status.ne("deprovisioned"))
            .filter(user::Column::Id.is_in(chunk.iter().map(|u| u.to_string())))
            .into_tuple()
            .all(c)
            .await?;
        for r in rows {
            out.push(parse(&r, "users")?);
        }
    }
    Ok(out)
}

/// Sets each user's `groups` to the names of the directory groups they belong to, writing only
/// the users whose list changed, 500 per statement.
pub async fn refresh_user_groups(c: &impl Conn, org: OrgId, users: &[UserId]) -> StoreResult<()> {
    use sea_orm::sea_query::CaseStatement;
    for chunk in users.chunks(500) {
        let ids: Vec<String> = chunk.iter().map(|u| u.to_string()).collect();
        let rows: Vec<(String, String)> = group_member::Entity::find()
            .select_only()
            .column(group_member::Column::UserId)
            .column_as(group::Column::DisplayName, "display_name")
            .join(
                JoinType::InnerJoin,
                group_member::Entity::belongs_to(group::Entity)
                    .from(group_member::Column::GroupId)
                    .to(group::Column::Id)
                    .into(),
            )
            .filter(group_member::Column::OrgId.eq(org.to_string()))
            .filter(group_member::Column::UserId.is_in(ids.iter().cloned()))
            .order_by_asc(group::Column::DisplayName)
            .into_tuple()
            .all(c)
            .await?;
        let mut names: BTreeMap<String, Vec<String>> =
            ids.iter().map(|u| (u.clone(), Vec::new())).collect();
        for (u, n) in rows {
            names.entry(u).or_default().push(n);
        }
        let current: BTreeMap<String, String> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::Groups)
            .filter(user::Column::OrgId.eq(org.to_string()))
            .filter(user::Column::Id.is_in(ids.iter().cloned()))
            .into_tuple::<(String, String)>()
            .all(c)
            .await?
            .into_iter()
            .collect();
        let mut case = CaseStatement::new();
        let mut changed = Vec::new();
        for (u, n) in names {
            let json = serde_json::to_string(&n).map_err(|_| StoreError::Corrupt("users"))?;
            if current.get(&u).is_some_and(|c| *c != json) {
                case = case.case(Expr::col(user::Column::Id).eq(u.clone()), Expr::value(json));
                changed.push(u);
            }
        }
        if changed.is_empty() {
            continue;
        }
        user::Entity::update_many()
            .col_expr(
                user::Column::Groups,
                case.finally(Expr::col(user::Column::Groups)).into(),
            )
            .filter(user::Column::OrgId.eq(org.to_string()))
            .filter(user::Column::Id.is_in(changed))
            .exec(c)
            .await?;
    }
    Ok(())
}

/// The groups a user belongs to.
pub async fn groups_of_user(c: &impl Conn, org: OrgId, user: UserId) -> StoreResult<Vec<GroupId>> {
    let rows: Vec<String> = group_member::Entity::find()
        .select_only()
        .column(group_member::Column::GroupId)
        .filter(group_member::Column::OrgId.eq(org.to_string()))
        .filter(group_member::Column::UserId.eq(user.to_string()))
        .into_tuple()
        .all(c)
        .await?;
    rows.iter().map(|g| parse(g, "group_members")).collect()
}

fn condition(q: &Query<GroupAttr>) -> Condition {
    let col = |a: GroupAttr| match a {
        GroupAttr::Id => group::Column::Id,
        GroupAttr::DisplayName => group::Column::DisplayName,
        GroupAttr::ExternalId => group::Column::ExternalId,
    };
    match q {
        Query::And(a, b) => Condition::all().add(condition(a)).add(condition(b)),
        Query::Or(a, b) => Condition::any().add(condition(a)).add(condition(b)),
        Query::Not(a) => condition(a).not(),
        Query::Present(a) => Condition::all().add(Expr::col(col(*a)).is_not_null()),
        Query::Text(GroupAttr::DisplayName, op, s) => Condition::all().add(super::scim::text_cmp(
            Func::lower(Expr::col(group::Column::DisplayName)).into(),
            *op,
            s.to_lowercase(),
        )),
        Query::Text(a, op, s) => {
            Condition::all().add(super::scim::text_cmp(Expr::col(col(*a)), *op, s.clone()))
        }
        // Groups have no times or status to ask about.
        Query::Time(..) | Query::Active(_) => Condition::all().add(Expr::val(1).eq(0)),
        Query::Const(b) => Condition::all().add(Expr::val(1).eq(if *b { 1 } else { 0 })),
    }
}

/// One page of the organization's groups matching `filter`; and how many match in all.
pub async fn page(
    c: &impl Conn,
    org: OrgId,
    query: Option<&Query<GroupAttr>>,
    offset: u64,
    limit: u64,
) -> StoreResult<(u64, Vec<Group>)> {
    let mut cond = Condition::all().add(group::Column::OrgId.eq(org.to_string()));
    if let Some(q) = query {
        cond = cond.add(condition(q));
    }
    let total = group::Entity::find().filter(cond.clone()).count(c).await?;
    let rows = group::Entity::find()
        .filter(cond)
        .order_by_asc(group::Column::CreatedAt)
        .order_by_asc(group::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(c)
        .await?;
    Ok((
        total,
        rows.into_iter()
            .map(Group::try_from)
            .collect::<StoreResult<Vec<_>>>()?,
    ))
}

/// The groups a directory manages.
pub async fn of_directory(
    c: &impl Conn,
    org: OrgId,
    dir: crate::ids::DirectoryId,
) -> StoreResult<Vec<Group>> {
    group::Entity::find()
        .filter(group::Column::OrgId.eq(org.to_string()))
        .filter(group::Column::DirectoryId.eq(dir.to_string()))
        .all(c)
        .await?
        .into_iter()
        .map(Group::try_from)
        .collect()
}
