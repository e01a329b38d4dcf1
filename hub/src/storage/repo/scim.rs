//! SCIM filters translated to SQL conditions on users (never string-built SQL): each attribute
//! maps to a column, case-insensitively where SCIM says `caseExact: false`; an attribute the hub
//! does not index is an error the caller reports as `invalidFilter`.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

use crate::ids::OrgId;
use crate::scim::filter::{AttrPath, Filter, Op};
use crate::storage::entities::user::{Column, Entity};
use crate::storage::{Conn, StoreResult};
use crate::users::model::{User, UserStatus};
use crate::users::names::username_key;

#[derive(Clone, Copy)]
enum Kind {
    /// Compared lower-cased.
    Text,
    /// Compared as stored.
    Exact,
    /// `active`: the status column.
    Active,
    /// Milliseconds, compared with an RFC 3339 value.
    Time,
    /// Always true (`emails.type eq "work"`, `emails.primary eq true`: type and primary are
    /// not indexed; the value comparison beside them decides).
    Const(bool),
    /// `userName`: `eq` compares the look-alike-folded key (the uniqueness rule), the other
    /// operators the lower-cased name.
    UserName,
    /// `emails.value`: `eq` matches the sign-in email or any listed email; the other operators
    /// the sign-in email.
    Email,
}

fn column(p: &AttrPath, in_emails: bool) -> Result<(Option<Column>, Kind), String> {
    let core = p
        .schema
        .as_deref()
        .is_none_or(|s| s == "urn:ietf:params:scim:schemas:core:2.0:user");
    if !core {
        return Err(format!("filtering on {} is not supported", p.dotted()));
    }
    let name = if in_emails {
        format!("emails.{}", p.dotted())
    } else {
        p.dotted()
    };
    Ok(match name.as_str() {
        "id" => (Some(Column::Id), Kind::Exact),
        "username" => (Some(Column::Username), Kind::UserName),
        "externalid" => (Some(Column::ExternalId), Kind::Exact),
        "displayname" => (Some(Column::Name), Kind::Text),
        "name.formatted" => (Some(Column::NameFormatted), Kind::Text),
        "name.givenname" => (Some(Column::GivenName), Kind::Text),
        "name.familyname" => (Some(Column::FamilyName), Kind::Text),
        "emails" | "emails.value" => (Some(Column::Email), Kind::Email),
        "emails.type" => (None, Kind::Const(true)),
        "emails.primary" => (None, Kind::Const(true)),
        "active" => (Some(Column::Status), Kind::Active),
        "meta.created" => (Some(Column::CreatedAt), Kind::Time),
        "meta.lastmodified" => (Some(Column::UpdatedAt), Kind::Time),
        other => return Err(format!("filtering on {other} is not supported")),
    })
}

pub(crate) fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn truth(b: bool) -> SimpleExpr {
    Expr::val(1).eq(if b { 1 } else { 0 })
}

fn compare(p: &AttrPath, op: Op, v: &Value, in_emails: bool) -> Result<SimpleExpr, String> {
    let (col, kind) = column(p, in_emails)?;
    let bad = || format!("cannot compare {} with {v}", p.dotted());
    match kind {
        Kind::Const(b) => Ok(truth(b)),
        Kind::Active => {
            let want = v.as_bool().ok_or_else(bad)?;
            let active = Expr::col(Column::Status).eq(UserStatus::Active.as_str());
            match op {
                Op::Eq if want => Ok(active),
                Op::Ne if !want => Ok(active),
                Op::Eq | Op::Ne => Ok(Expr::col(Column::Status).ne(UserStatus::Active.as_str())),
                _ => Err(bad()),
            }
        }
        Kind::Time => {
            let s = v.as_str().ok_or_else(bad)?;
            let ms = chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|_| format!("{s:?} is not an RFC 3339 time"))?
                .timestamp_millis();
            let c = Expr::col(col.ok_or_else(bad)?);
            Ok(match op {
                Op::Eq => c.eq(ms),
                Op::Ne => c.ne(ms),
                Op::Gt => c.gt(ms),
                Op::Ge => c.gte(ms),
                Op::Lt => c.lt(ms),
                Op::Le => c.lte(ms),
                _ => return Err(bad()),
            })
        }
        Kind::UserName if op == Op::Eq || op == Op::Ne => {
            let s = v.as_str().ok_or_else(bad)?;
            let key = Expr::col(Column::UsernameKey);
            Ok(if op == Op::Eq {
                key.eq(username_key(s))
            } else {
                key.ne(username_key(s))
            })
        }
        Kind::Email if op == Op::Eq => {
            let s = v.as_str().ok_or_else(bad)?.to_lowercase();
            // The stored list is JSON with `value` first in each element (users::Email).
            let quoted = serde_json::to_string(&s).map_err(|_| bad())?;
            let listed = Func::lower(Expr::col(Column::Emails)).like(
                LikeExpr::new(format!("%{{\"value\":{}%", escape_like(&quoted))).escape('\\'),
            );
            Ok(Func::lower(Expr::col(Column::Email)).eq(s).or(listed))
        }
        Kind::Text | Kind::Exact | Kind::UserName | Kind::Email => {
            let s = v.as_str().ok_or_else(bad)?;
            let col = col.ok_or_else(bad)?;
            let (lhs, s): (SimpleExpr, String) = match kind {
                Kind::Text | Kind::UserName | Kind::Email => {
                    (Func::lower(Expr::col(col)).into(), s.to_lowercase())
                }
                _ => (Expr::col(col), s.to_string()),
            };
            let like = |pat: String| lhs.clone().like(LikeExpr::new(pat).escape('\\'));
            Ok(match op {
                Op::Eq => lhs.eq(s),
                Op::Ne => lhs.ne(s),
                Op::Co => like(format!("%{}%", escape_like(&s))),
                Op::Sw => like(format!("{}%", escape_like(&s))),
                Op::Ew => like(format!("%{}", escape_like(&s))),
                Op::Gt => lhs.gt(s),
                Op::Ge => lhs.gte(s),
                Op::Lt => lhs.lt(s),
                Op::Le => lhs.lte(s),
            })
        }
    }
}

fn condition(f: &Filter, in_emails: bool) -> Result<Condition, String> {
    Ok(match f {
        Filter::And(a, b) => Condition::all()
            .add(condition(a, in_emails)?)
            .add(condition(b, in_emails)?),
        Filter::Or(a, b) => Condition::any()
            .add(condition(a, in_emails)?)
            .add(condition(b, in_emails)?),
        Filter::Not(a) => condition(a, in_emails)?.not(),
        Filter::Present(p) => {
            let (col, kind) = column(p, in_emails)?;
            match (col, kind) {
                (_, Kind::Const(b)) => Condition::all().add(truth(b)),
                (Some(c), Kind::Text | Kind::Exact | Kind::UserName | Kind::Email) => {
                    Condition::all()
                        .add(Expr::col(c).is_not_null())
                        .add(Expr::col(c).ne(""))
                }
                (Some(c), _) => Condition::all().add(Expr::col(c).is_not_null()),
                (None, _) => Condition::all().add(truth(false)),
            }
        }
        Filter::Compare(p, op, v) => Condition::all().add(compare(p, *op, v, in_emails)?),
        Filter::ValuePath(p, inner) if p.name == "emails" && !in_emails => condition(inner, true)?,
        Filter::ValuePath(p, _) => {
            return Err(format!("filtering on {}[...] is not supported", p.name));
        }
    })
}

/// One page of the organization's users matching `filter` (deprovisioned users are gone from
/// SCIM's view), ordered by creation; and how many match in all.
pub async fn users_page(
    c: &impl Conn,
    org: OrgId,
    filter: Option<&Filter>,
    offset: u64,
    limit: u64,
) -> StoreResult<Result<(u64, Vec<User>), String>> {
    let mut cond = Condition::all()
        .add(Column::OrgId.eq(org.to_string()))
        .add(Column::Status.ne(UserStatus::Deprovisioned.as_str()));
    if let Some(f) = filter {
        match condition(f, false) {
            Ok(fc) => cond = cond.add(fc),
            Err(e) => return Ok(Err(e)),
        }
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
    Ok(Ok((total, users)))
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
