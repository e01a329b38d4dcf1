//! The domain's queries over people translated to SQL conditions (never string-built SQL): each
//! attribute maps to a column, compared case-insensitively except identifiers.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::directories::model::{Cmp, Query, UserAttr};
use crate::ids::OrgId;
use crate::storage::entities::user::{Column, Entity};
use crate::storage::{Conn, StoreResult};
use crate::users::model::{User, UserStatus};
use crate::users::names::username_key;

fn column(a: UserAttr) -> Column {
    match a {
        UserAttr::Id => Column::Id,
        UserAttr::UserName => Column::Username,
        UserAttr::ExternalId => Column::ExternalId,
        UserAttr::DisplayName => Column::Name,
        UserAttr::NameFormatted => Column::NameFormatted,
        UserAttr::GivenName => Column::GivenName,
        UserAttr::FamilyName => Column::FamilyName,
        UserAttr::Email => Column::Email,
        UserAttr::Created => Column::CreatedAt,
        UserAttr::Modified => Column::UpdatedAt,
    }
}

pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn truth(b: bool) -> SimpleExpr {
    Expr::val(1).eq(if b { 1 } else { 0 })
}

/// `lhs op value` for text, `LIKE` patterns escaped.
pub fn text_cmp(lhs: SimpleExpr, op: Cmp, s: String) -> SimpleExpr {
    let like = |pat: String| lhs.clone().like(LikeExpr::new(pat).escape('\\'));
    match op {
        Cmp::Eq => lhs.eq(s),
        Cmp::Ne => lhs.ne(s),
        Cmp::Contains => like(format!("%{}%", escape_like(&s))),
        Cmp::StartsWith => like(format!("{}%", escape_like(&s))),
        Cmp::EndsWith => like(format!("%{}", escape_like(&s))),
        Cmp::Gt => lhs.gt(s),
        Cmp::Ge => lhs.gte(s),
        Cmp::Lt => lhs.lt(s),
        Cmp::Le => lhs.lte(s),
    }
}

fn text(a: UserAttr, op: Cmp, s: &str) -> SimpleExpr {
    match (a, op) {
        (UserAttr::UserName, Cmp::Eq) => Expr::col(Column::UsernameKey).eq(username_key(s)),
        (UserAttr::UserName, Cmp::Ne) => Expr::col(Column::UsernameKey).ne(username_key(s)),
        (UserAttr::Email, Cmp::Eq) => {
            let s = s.to_lowercase();
            // The stored list is JSON with `value` first in each element (users::Email).
            let quoted = serde_json::to_string(&s).unwrap_or_default();
            let listed = Func::lower(Expr::col(Column::Emails)).like(
                LikeExpr::new(format!("%{{\"value\":{}%", escape_like(&quoted))).escape('\\'),
            );
            Func::lower(Expr::col(Column::Email)).eq(s).or(listed)
        }
        (UserAttr::Id | UserAttr::ExternalId, _) => text_cmp(Expr::col(column(a)), op, s.into()),
        _ => text_cmp(
            Func::lower(Expr::col(column(a))).into(),
            op,
            s.to_lowercase(),
        ),
    }
}

fn time(a: UserAttr, op: Cmp, ms: i64) -> SimpleExpr {
    let c = Expr::col(column(a));
    match op {
        Cmp::Eq => c.eq(ms),
        Cmp::Ne => c.ne(ms),
        Cmp::Gt => c.gt(ms),
        Cmp::Ge => c.gte(ms),
        Cmp::Lt => c.lt(ms),
        Cmp::Le => c.lte(ms),
        // Not asked for times (the surface refuses them).
        Cmp::Contains | Cmp::StartsWith | Cmp::EndsWith => truth(false),
    }
}

fn condition(q: &Query<UserAttr>) -> Condition {
    match q {
        Query::And(a, b) => Condition::all().add(condition(a)).add(condition(b)),
        Query::Or(a, b) => Condition::any().add(condition(a)).add(condition(b)),
        Query::Not(a) => condition(a).not(),
        Query::Present(a @ (UserAttr::Created | UserAttr::Modified)) => {
            Condition::all().add(Expr::col(column(*a)).is_not_null())
        }
        Query::Present(a) => Condition::all()
            .add(Expr::col(column(*a)).is_not_null())
            .add(Expr::col(column(*a)).ne("")),
        Query::Text(a, op, s) => Condition::all().add(text(*a, *op, s)),
        Query::Time(a, op, ms) => Condition::all().add(time(*a, *op, *ms)),
        Query::Active(true) => {
            Condition::all().add(Expr::col(Column::Status).eq(UserStatus::Active.as_str()))
        }
        Query::Active(false) => {
            Condition::all().add(Expr::col(Column::Status).ne(UserStatus::Active.as_str()))
        }
        Query::Const(b) => Condition::all().add(truth(*b)),
    }
}

/// One page of the organization's users matching `filter` (deprovisioned users are gone from
/// SCIM's view), ordered by creation; and how many match in all.
pub async fn users_page(
    c: &impl Conn,
    org: OrgId,
    query: Option<&Query<UserAttr>>,
    offset: u64,
    limit: u64,
) -> StoreResult<(u64, Vec<User>)> {
    let mut cond = Condition::all()
        .add(Column::OrgId.eq(org.to_string()))
        .add(Column::Status.ne(UserStatus::Deprovisioned.as_str()));
    if let Some(q) = query {
        cond = cond.add(condition(q));
    }
    let total = Entity::find().filter(cond.clone()).count(c).await?;
    let rows = Entity::find()
        .filter(cond)
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .offset(offset)
        .limit(limit)
        .all(c)
        .await?;
    let users = rows
        .into_iter()
        .map(User::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok((total, users))
}

/// The organization's user whose userName has the same comparison key as `username` (case,
/// width, invisible characters and look-alikes folded; any status).
pub async fn user_by_username(
    c: &impl Conn,
    org: OrgId,
    username: &str,
) -> StoreResult<Option<User>> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::UsernameKey.eq(username_key(username)))
        .one(c)
        .await?
        .map(User::try_from)
        .transpose()
}
