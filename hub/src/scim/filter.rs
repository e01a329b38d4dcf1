//! SCIM filters (RFC 7644 §3.4.2.2) parsed into a small AST, with limits on size and depth so
//! no input can exhaust the stack. `scim::query` turns the AST into the domain's query (never a
//! string-built one reaches storage); `matches` evaluates it against a JSON element (PATCH value filters).

use serde_json::Value;

/// Longest filter accepted, in bytes.
pub const MAX_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not` and value filters.
pub const MAX_DEPTH: usize = 12;
/// Most comparisons in one filter.
pub const MAX_TERMS: usize = 64;

/// An attribute path: `[urn:...:]name[.sub]`, names lower-cased (SCIM names are
/// case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub schema: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `urn:...:User:name.sub`, `name.sub` or `name`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let valid = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        let (schema, rest) = if s.to_ascii_lowercase().starts_with("urn:") {
            let (schema, rest) = s
                .rsplit_once(':')
                .ok_or_else(|| format!("bad attribute path {s:?}"))?;
            (Some(schema.to_ascii_lowercase()), rest)
        } else {
            (None, s)
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        if !valid(name) || sub.is_some_and(|s| !valid(s)) {
            return Err(format!("bad attribute path {s:?}"));
        }
        Ok(Self {
            schema,
            name: name.to_ascii_lowercase(),
            sub: sub.map(str::to_ascii_lowercase),
        })
    }

    /// `name` or `name.sub`, lower case, without the schema.
    pub fn dotted(&self) -> String {
        match &self.sub {
            Some(s) => format!("{}.{s}", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Present(AttrPath),
    Compare(AttrPath, Op, Value),
    /// `attr[filter]`, optionally followed by `.sub` in PATCH paths (not in filters).
    ValuePath(AttrPath, Box<Filter>),
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(s) = &self.schema {
            write!(f, "{s}:")?;
        }
        f.write_str(&self.dotted())
    }
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }
}

impl Filter {
    /// Binding strength: `or` < `and` < everything else.
    fn precedence(&self) -> u8 {
        match self {
            Self::Or(..) => 1,
            Self::And(..) => 2,
            _ => 3,
        }
    }
}

/// The filter as RFC 7644 text that parses back to the same tree (for logs and the
/// round-trip property tests): parentheses only where precedence or left-association needs
/// them.
impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = |f: &mut std::fmt::Formatter<'_>, x: &Filter, wrap: bool| {
            if wrap {
                write!(f, "({x})")
            } else {
                write!(f, "{x}")
            }
        };
        match self {
            Self::And(a, b) | Self::Or(a, b) => {
                let p = self.precedence();
                let word = if p == 1 { "or" } else { "and" };
                side(f, a, a.precedence() < p)?;
                write!(f, " {word} ")?;
                side(f, b, b.precedence() <= p)
            }
            Self::Not(a) => write!(f, "not ({a})"),
            Self::Present(p) => write!(f, "{p} pr"),
            Self::Compare(p, op, v) => write!(f, "{p} {} {v}", op.as_str()),
            Self::ValuePath(p, inner) => write!(f, "{p}[{inner}]"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    LBracket,
    RBracket,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '[' => {
                chars.next();
                out.push(Tok::LBracket);
            }
            ']' => {
                chars.next();
                out.push(Tok::RBracket);
            }
            '"' => {
                // A JSON string: find its end, honouring escapes, and let serde decode it.
                chars.next();
                let mut end = None;
                let mut escaped = false;
                for (j, d) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == '"' {
                        end = Some(j);
                        break;
                    }
                }
                let end = end.ok_or("unterminated string")?;
                let v: String = serde_json::from_str(&s[i..=end])
                    .map_err(|_| "bad string escape".to_string())?;
                out.push(Tok::Str(v));
            }
            _ => {
                let start = i;
                let mut end = s.len();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_whitespace() || "()[]\"".contains(d) {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                out.push(Tok::Word(s[start..end].to_string()));
            }
        }
        if out.len() > MAX_TERMS * 6 {
            return Err("the filter is too long".into());
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    terms: usize,
}

fn keyword(t: Option<&Tok>, k: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self, depth: usize) -> Result<Filter, String> {
        let mut left = self.and(depth)?;
        while keyword(self.peek(), "or") {
            self.next();
            let right = self.and(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Filter, String> {
        let mut left = self.unary(depth)?;
        while keyword(self.peek(), "and") {
            self.next();
            let right = self.unary(depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, String> {
        if depth > MAX_DEPTH {
            return Err(format!("the filter nests deeper than {MAX_DEPTH} levels"));
        }
        if keyword(self.peek(), "not") {
            self.next();
            if self.next() != Some(Tok::Open) {
                return Err("expected ( after not".into());
            }
            let inner = self.or(depth + 1)?;
            if self.next() != Some(Tok::Close) {
                return Err("expected )".into());
            }
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.next();
            let inner = self.or(depth + 1)?;
            if self.next() != Some(Tok::Close) {
                return Err("expected )".into());
            }
            return Ok(inner);
        }
        self.attr_exp(depth)
    }

    fn attr_exp(&mut self, depth: usize) -> Result<Filter, String> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(format!("the filter has more than {MAX_TERMS} comparisons"));
        }
        let Some(Tok::Word(path)) = self.next() else {
            return Err("expected an attribute name".into());
        };
        let path = AttrPath::parse(&path)?;
        if self.peek() == Some(&Tok::LBracket) {
            self.next();
            let inner = self.or(depth + 1)?;
            if self.next() != Some(Tok::RBracket) {
                return Err("expected ]".into());
            }
            // Entra ID sends `emails[type eq "work"].value eq "x"` (not RFC 7644): read it as
            // `emails[type eq "work" and value eq "x"]`.
            if let Some(Tok::Word(w)) = self.peek()
                && let Some(sub) = w.strip_prefix('.')
            {
                let sub = AttrPath::parse(sub)?;
                self.next();
                let tail = self.comparison(sub)?;
                return Ok(Filter::ValuePath(
                    path,
                    Box::new(Filter::And(Box::new(inner), Box::new(tail))),
                ));
            }
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        self.comparison(path)
    }

    /// `op value` (or `pr`) after an attribute path.
    fn comparison(&mut self, path: AttrPath) -> Result<Filter, String> {
        let Some(Tok::Word(op)) = self.next() else {
            return Err(format!("expected an operator after {}", path.dotted()));
        };
        let op = match op.to_ascii_lowercase().as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => return Err(format!("unknown operator {other:?}")),
        };
        let value = match self.next() {
            Some(Tok::Str(s)) => Value::String(s),
            Some(Tok::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => {
                    let n: serde_json::Number = w
                        .parse()
                        .map_err(|_| format!("bad comparison value {w:?}"))?;
                    Value::Number(n)
                }
            },
            _ => return Err("expected a comparison value".into()),
        };
        Ok(Filter::Compare(path, op, value))
    }
}

/// Parses a filter, refusing anything too long, too deep or too wide.
pub fn parse(s: &str) -> Result<Filter, String> {
    if s.len() > MAX_LEN {
        return Err(format!("the filter is longer than {MAX_LEN} bytes"));
    }
    let mut p = Parser {
        toks: lex(s)?,
        pos: 0,
        terms: 0,
    };
    let f = p.or(0)?;
    if p.pos != p.toks.len() {
        return Err("unexpected text after the filter".into());
    }
    Ok(f)
}

/// The value of `name` in a JSON object, matching the key case-insensitively.
pub fn get_ci<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    obj.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn compare(have: &Value, op: Op, want: &Value) -> bool {
    use std::cmp::Ordering;
    let ord = match (have, want) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            match op {
                Op::Co => return a.contains(&b),
                Op::Sw => return a.starts_with(&b),
                Op::Ew => return a.ends_with(&b),
                _ => a.cmp(&b),
            }
        }
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            _ => return false,
        },
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => return op == Op::Ne,
    };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Co | Op::Sw | Op::Ew => false,
    }
}

fn lookup<'a>(v: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let v = get_ci(v, &path.name)?;
    match &path.sub {
        Some(s) => get_ci(v, s),
        None => Some(v),
    }
}

/// Evaluates a filter against a JSON element (a member of a multi-valued attribute).
pub fn matches(f: &Filter, v: &Value) -> bool {
    match f {
        Filter::And(a, b) => matches(a, v) && matches(b, v),
        Filter::Or(a, b) => matches(a, v) || matches(b, v),
        Filter::Not(a) => !matches(a, v),
        Filter::Present(p) => lookup(v, p).is_some_and(|x| !x.is_null()),
        Filter::Compare(p, op, want) => lookup(v, p).is_some_and(|have| compare(have, *op, want)),
        Filter::ValuePath(p, inner) => match get_ci(v, &p.name) {
            Some(Value::Array(items)) => items.iter().any(|i| matches(inner, i)),
            Some(x) => matches(inner, x),
            None => false,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    fn cmp(path: &str, op: Op, v: Value) -> Filter {
        Filter::Compare(AttrPath::parse(path).unwrap(), op, v)
    }

    #[test]
    fn parses_what_okta_and_entra_send() {
        assert_eq!(
            parse(r#"userName eq "alice@acme.test""#),
            Ok(cmp("userName", Op::Eq, json!("alice@acme.test")))
        );
        assert_eq!(
            parse(r#"externalId EQ "0a1b""#),
            Ok(cmp("externalid", Op::Eq, json!("0a1b")))
        );
        assert_eq!(
            parse(r#"displayName eq "Sales \"EU\"""#),
            Ok(cmp("displayName", Op::Eq, json!("Sales \"EU\"")))
        );
        let f = parse(r#"emails[type eq "work"].value eq "a@acme.test""#).unwrap();
        assert!(
            matches!(f, Filter::ValuePath(ref p, ref inner)
            if p.name == "emails" && matches!(**inner, Filter::And(..))),
            "{f:?}"
        );
        let f = parse(r#"emails[type eq "work" and value co "@acme.test"]"#);
        assert!(
            matches!(f, Ok(Filter::ValuePath(ref p, _)) if p.name == "emails"),
            "{f:?}"
        );
        let f = parse(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7""#,
        );
        assert!(
            matches!(f, Ok(Filter::Compare(ref p, Op::Eq, _))
                if p.name == "employeenumber"
                && p.schema.as_deref() == Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user")),
            "{f:?}"
        );
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let f = parse(r#"a eq 1 or b eq 2 and not (c pr)"#);
        let want = Filter::Or(
            Box::new(cmp("a", Op::Eq, json!(1))),
            Box::new(Filter::And(
                Box::new(cmp("b", Op::Eq, json!(2))),
                Box::new(Filter::Not(Box::new(Filter::Present(AttrPath {
                    schema: None,
                    name: "c".into(),
                    sub: None,
                })))),
            )),
        );
        assert_eq!(f, Ok(want));
    }

    #[test]
    fn bad_and_hostile_filters_are_errors_not_crashes() {
        for bad in [
            "",
            "userName",
            "userName eq",
            "userName zz \"x\"",
            "userName eq \"x",
            "(userName eq \"x\"",
            "userName eq \"x\" extra",
            "emails[type eq \"work\"",
            "1abc eq \"x\"",
            "userName eq bogus",
            "not userName eq \"x\"",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        let deep = format!("{}a eq 1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).is_err());
        let deep = format!("{}a eq 1{}", "not (".repeat(50), ")".repeat(50));
        assert!(parse(&deep).unwrap_err().contains("deeper"));
        let wide = vec!["a eq 1"; 70].join(" or ");
        assert!(parse(&wide).unwrap_err().contains("comparisons"));
        let wider = vec!["a eq 1"; 1000].join(" or ");
        assert!(parse(&wider).is_err());
        let nested = format!("{}a eq 1{}", "x[".repeat(40), "]".repeat(40));
        assert!(parse(&nested).is_err());
    }

    #[test]
    fn value_filters_match_json_elements() {
        let f = parse(r#"type eq "work" and primary eq true"#).unwrap();
        assert!(matches(
            &f,
            &json!({"Type": "Work", "primary": true, "value": "x"})
        ));
        assert!(!matches(&f, &json!({"type": "home", "primary": true})));
        let f = parse(r#"value sw "ALI""#).unwrap();
        assert!(matches(&f, &json!({"value": "alice@acme.test"})));
    }

    /// Property tests: no input panics or runs long; filters built near the grammar print and
    /// parse back to the same tree.
    pub(crate) mod props {
        use super::super::*;
        use proptest::prelude::*;
        use serde_json::json;

        fn name() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("username".to_string()),
                Just("emails".to_string()),
                Just("value".to_string()),
                Just("type".to_string()),
                // `not` is a keyword where an attribute may start: not a name.
                "[a-z][a-z0-9_-]{0,8}".prop_filter("not a keyword", |n| n != "not"),
            ]
        }

        fn path() -> impl Strategy<Value = AttrPath> {
            (
                prop_oneof![
                    3 => Just(None),
                    1 => Just(Some(
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user".to_string()
                    )),
                ],
                name(),
                proptest::option::of(name()),
            )
                .prop_map(|(schema, name, sub)| AttrPath { schema, name, sub })
        }

        fn value() -> impl Strategy<Value = Value> {
            prop_oneof![
                any::<String>().prop_map(Value::String),
                "[ -~]{0,12}".prop_map(Value::String),
                any::<i32>().prop_map(|n| json!(n)),
                any::<bool>().prop_map(Value::Bool),
                Just(Value::Null),
            ]
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                Just(Op::Eq),
                Just(Op::Ne),
                Just(Op::Co),
                Just(Op::Sw),
                Just(Op::Ew),
                Just(Op::Gt),
                Just(Op::Ge),
                Just(Op::Lt),
                Just(Op::Le),
            ]
        }

        /// Filters within the limits (depth 4, a few dozen comparisons).
        pub(crate) fn filter() -> impl Strategy<Value = Filter> {
            let leaf = prop_oneof![
                path().prop_map(Filter::Present),
                (path(), op(), value()).prop_map(|(p, o, v)| Filter::Compare(p, o, v)),
            ];
            leaf.prop_recursive(4, 24, 2, |inner| {
                prop_oneof![
                    (inner.clone(), inner.clone())
                        .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                    (inner.clone(), inner.clone())
                        .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                    inner.clone().prop_map(|a| Filter::Not(Box::new(a))),
                    (path(), inner).prop_map(|(p, a)| Filter::ValuePath(
                        AttrPath { sub: None, ..p },
                        Box::new(a)
                    )),
                ]
            })
        }

        /// Text made of the grammar's own pieces, in any order.
        fn near_grammar() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("("),
                Just(")"),
                Just("["),
                Just("]"),
                Just(" "),
                Just("not"),
                Just("and"),
                Just("or"),
                Just("eq"),
                Just("pr"),
                Just("co"),
                Just("\"x\""),
                Just("\""),
                Just("\\"),
                Just("userName"),
                Just("emails"),
                Just(".value"),
                Just("urn:ietf:params:scim:schemas:core:2.0:User:"),
                Just("1"),
                Just("-1e999"),
                Just("true"),
                Just("null"),
                Just("\u{0}"),
                Just("é"),
            ];
            proptest::collection::vec(piece, 0..300).prop_map(|v| v.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_text_is_a_filter_or_an_error(s in "\\PC{0,600}") {
                let _ = parse(&s);
            }

            #[test]
            fn text_near_the_grammar_is_a_filter_or_an_error(s in near_grammar()) {
                if let Ok(f) = parse(&s) {
                    // Whatever parses also prints and parses back to itself.
                    prop_assert_eq!(parse(&f.to_string()), Ok(f));
                }
            }

            #[test]
            fn filters_print_and_parse_back(f in filter()) {
                let text = f.to_string();
                prop_assert_eq!(parse(&text), Ok(f), "{}", text);
            }

            #[test]
            fn matching_never_panics(f in filter(), v in value()) {
                let el = json!({"value": v, "type": "work", "primary": true,
                    "emails": [{"value": "a@x.test"}], "username": v});
                let _ = matches(&f, &el);
            }
        }

        /// The worst inputs within the length limit finish at once (a generous bound, so a
        /// loaded machine does not make it flaky): parsing is linear and bounded before work.
        #[test]
        fn worst_inputs_finish_quickly() {
            let started = std::time::Instant::now();
            for unit in ["(", "not (", "a eq 1 or ", "x[", "\"", "\\", "a[b[c[", " "] {
                let s = unit.repeat(MAX_LEN / unit.len());
                assert!(parse(&s).is_err(), "{unit:?}");
                let s = unit.repeat(MAX_LEN);
                assert!(parse(&s).is_err(), "{unit:?}");
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(2));
        }
    }
}
