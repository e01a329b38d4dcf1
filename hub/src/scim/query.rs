//! SCIM filters (RFC 7644 §3.4.2.2) turned into the domain's queries: each SCIM attribute path
//! names a domain attribute (case-insensitively, as SCIM names are), each comparison is checked
//! against the attribute's type here, so storage sees only `directories::model::Query`.

use serde_json::Value;

use super::filter::{AttrPath, Filter, Op};
use crate::directories::model::{Cmp, GroupAttr, Query, UserAttr};

const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:user";
const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:group";

/// What a SCIM user attribute is in the domain.
enum UserTarget {
    Attr(UserAttr),
    Active,
    /// `emails.type`, `emails.primary`: not kept apart; always true (the value comparison
    /// beside them decides).
    Always,
}

fn cmp(op: Op) -> Cmp {
    match op {
        Op::Eq => Cmp::Eq,
        Op::Ne => Cmp::Ne,
        Op::Co => Cmp::Contains,
        Op::Sw => Cmp::StartsWith,
        Op::Ew => Cmp::EndsWith,
        Op::Gt => Cmp::Gt,
        Op::Ge => Cmp::Ge,
        Op::Lt => Cmp::Lt,
        Op::Le => Cmp::Le,
    }
}

fn user_target(p: &AttrPath, in_emails: bool) -> Result<UserTarget, String> {
    if p.schema.as_deref().is_some_and(|s| s != CORE_USER) {
        return Err(format!("filtering on {} is not supported", p.dotted()));
    }
    let name = if in_emails {
        format!("emails.{}", p.dotted())
    } else {
        p.dotted()
    };
    Ok(match name.as_str() {
        "id" => UserTarget::Attr(UserAttr::Id),
        "username" => UserTarget::Attr(UserAttr::UserName),
        "externalid" => UserTarget::Attr(UserAttr::ExternalId),
        "displayname" => UserTarget::Attr(UserAttr::DisplayName),
        "name.formatted" => UserTarget::Attr(UserAttr::NameFormatted),
        "name.givenname" => UserTarget::Attr(UserAttr::GivenName),
        "name.familyname" => UserTarget::Attr(UserAttr::FamilyName),
        "emails" | "emails.value" => UserTarget::Attr(UserAttr::Email),
        "emails.type" | "emails.primary" => UserTarget::Always,
        "active" => UserTarget::Active,
        "meta.created" => UserTarget::Attr(UserAttr::Created),
        "meta.lastmodified" => UserTarget::Attr(UserAttr::Modified),
        other => return Err(format!("filtering on {other} is not supported")),
    })
}

fn is_time(a: UserAttr) -> bool {
    matches!(a, UserAttr::Created | UserAttr::Modified)
}

fn user_compare(
    p: &AttrPath,
    op: Op,
    v: &Value,
    in_emails: bool,
) -> Result<Query<UserAttr>, String> {
    let bad = || format!("cannot compare {} with {v}", p.dotted());
    match user_target(p, in_emails)? {
        UserTarget::Always => Ok(Query::Const(true)),
        UserTarget::Active => {
            let want = v.as_bool().ok_or_else(bad)?;
            match op {
                Op::Eq => Ok(Query::Active(want)),
                Op::Ne => Ok(Query::Active(!want)),
                _ => Err(bad()),
            }
        }
        UserTarget::Attr(a) if is_time(a) => {
            let s = v.as_str().ok_or_else(bad)?;
            let ms = chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|_| format!("{s:?} is not an RFC 3339 time"))?
                .timestamp_millis();
            match op {
                Op::Co | Op::Sw | Op::Ew => Err(bad()),
                _ => Ok(Query::Time(a, cmp(op), ms)),
            }
        }
        UserTarget::Attr(a) => Ok(Query::Text(a, cmp(op), v.as_str().ok_or_else(bad)?.into())),
    }
}

fn user_query(f: &Filter, in_emails: bool) -> Result<Query<UserAttr>, String> {
    Ok(match f {
        Filter::And(a, b) => Query::And(
            Box::new(user_query(a, in_emails)?),
            Box::new(user_query(b, in_emails)?),
        ),
        Filter::Or(a, b) => Query::Or(
            Box::new(user_query(a, in_emails)?),
            Box::new(user_query(b, in_emails)?),
        ),
        Filter::Not(a) => Query::Not(Box::new(user_query(a, in_emails)?)),
        Filter::Present(p) => match user_target(p, in_emails)? {
            UserTarget::Always => Query::Const(true),
            UserTarget::Active => Query::Const(true),
            UserTarget::Attr(a) => Query::Present(a),
        },
        Filter::Compare(p, op, v) => user_compare(p, *op, v, in_emails)?,
        Filter::ValuePath(p, inner) if p.name == "emails" && !in_emails => user_query(inner, true)?,
        Filter::ValuePath(p, _) => {
            return Err(format!("filtering on {}[...] is not supported", p.name));
        }
    })
}

/// The query a SCIM filter on Users asks; `Err` is the `invalidFilter` detail.
pub fn users(f: &Filter) -> Result<Query<UserAttr>, String> {
    user_query(f, false)
}

/// The query a SCIM filter on Groups asks (`eq`, `ne` and `sw` on `id`, `displayName` and
/// `externalId`); `Err` is the `invalidFilter` detail.
pub fn groups(f: &Filter) -> Result<Query<GroupAttr>, String> {
    Ok(match f {
        Filter::And(a, b) => Query::And(Box::new(groups(a)?), Box::new(groups(b)?)),
        Filter::Or(a, b) => Query::Or(Box::new(groups(a)?), Box::new(groups(b)?)),
        Filter::Not(a) => Query::Not(Box::new(groups(a)?)),
        Filter::Compare(p, op, v) if p.schema.as_deref().is_none_or(|s| s == CORE_GROUP) => {
            let s = v
                .as_str()
                .ok_or_else(|| format!("cannot compare {} with {v}", p.dotted()))?;
            let attr = match p.dotted().as_str() {
                "displayname" => GroupAttr::DisplayName,
                "externalid" => GroupAttr::ExternalId,
                "id" => GroupAttr::Id,
                other => return Err(format!("filtering groups on {other} is not supported")),
            };
            match op {
                Op::Eq | Op::Ne | Op::Sw => Query::Text(attr, cmp(*op), s.to_string()),
                _ => return Err("groups support eq, ne and sw".into()),
            }
        }
        _ => return Err("unsupported group filter".into()),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn users_of(s: &str) -> Result<Query<UserAttr>, String> {
        users(&crate::scim::filter::parse(s).unwrap())
    }

    #[test]
    fn scim_names_become_domain_attributes() {
        assert_eq!(
            users_of(r#"userName eq "Alice""#),
            Ok(Query::Text(UserAttr::UserName, Cmp::Eq, "Alice".into()))
        );
        assert_eq!(users_of("active ne true"), Ok(Query::Active(false)));
        assert_eq!(
            users_of(r#"emails[type eq "work" and value eq "a@acme.test"]"#),
            Ok(Query::And(
                Box::new(Query::Const(true)),
                Box::new(Query::Text(UserAttr::Email, Cmp::Eq, "a@acme.test".into()))
            ))
        );
        assert!(matches!(
            users_of(r#"meta.created gt "2026-01-01T00:00:00Z""#),
            Ok(Query::Time(UserAttr::Created, Cmp::Gt, _))
        ));
        assert!(users_of(r#"title eq "x""#).is_err());
        assert!(users_of(r#"meta.created co "2026""#).is_err());
        assert!(users_of("active gt true").is_err());
        assert!(groups(&crate::scim::filter::parse(r#"displayName co "x""#).unwrap()).is_err());
    }
}
