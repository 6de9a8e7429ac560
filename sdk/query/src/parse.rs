//! From the YAML tree to the query's definitions: shapes, keys and scalar
//! types. Names, types of expressions and cycles are `validate`'s.

use crate::ast::*;
use crate::dates::DateLit;
use crate::expr::{self, Expr};
use crate::yaml::{Node, Value};
use crate::{Diagnostic, Pos};

pub(crate) struct Cx {
    pub file: String,
    pub errors: Vec<Diagnostic>,
    /// The text of each code-list file the query names (or why it could
    /// not be read).
    pub code_lists: std::collections::BTreeMap<String, Result<String, String>>,
    /// Problems with the code-list files (missing, unreadable, malformed,
    /// a bad code). Kept apart so that the rest of the query is still
    /// validated (the cluster stays defined, with no codes), and every
    /// problem is reported at once.
    pub list_errors: Vec<Diagnostic>,
}

impl Cx {
    pub fn err(&mut self, pos: Pos, msg: impl Into<String>) {
        // Enough to fix a file; more would only repeat.
        if self.errors.len() < 100 {
            self.errors
                .push(Diagnostic::new(&self.file, pos, msg.into()));
        }
    }

    /// The entries of a mapping, refusing keys that are not in `allowed`
    /// and reporting missing `required` ones.
    fn fields<'a>(
        &mut self,
        node: &'a Node,
        what: &str,
        allowed: &[&str],
        required: &[&str],
    ) -> Option<Fields<'a>> {
        let Value::Map(pairs) = &node.value else {
            self.err(
                node.pos,
                format!("expected {what} (a mapping), found {}", node.kind()),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (k, v) in pairs {
            let Value::Str(key) = &k.value else {
                self.err(
                    k.pos,
                    format!(
                        "expected a key naming a field of {what}, found {}",
                        k.kind()
                    ),
                );
                ok = false;
                continue;
            };
            if !allowed.contains(&key.as_str()) {
                self.err(
                    k.pos,
                    format!(
                        "unknown key '{key}' in {what}; expected one of: {}",
                        allowed.join(", ")
                    ),
                );
                ok = false;
                continue;
            }
            out.push((key.as_str(), k.pos, v));
        }
        for r in required {
            if !out.iter().any(|(k, _, _)| k == r) {
                self.err(node.pos, format!("{what} has no '{r}', which is required"));
                ok = false;
            }
        }
        ok.then_some(Fields { entries: out })
    }

    /// A mapping from names to definitions.
    fn named<'a>(&mut self, node: &'a Node, what: &str) -> Vec<(String, Pos, &'a Node)> {
        let Value::Map(pairs) = &node.value else {
            if node.value != Value::Null {
                self.err(
                    node.pos,
                    format!(
                        "expected {what} as a mapping from names to definitions, found {}",
                        node.kind()
                    ),
                );
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in pairs {
            if let Some(name) = self.name(k) {
                out.push((name, k.pos, v));
            }
        }
        out
    }

    /// A name: a letter or `_`, then letters, digits and `_`, not a keyword.
    pub fn name(&mut self, node: &Node) -> Option<String> {
        let Value::Str(s) = &node.value else {
            self.err(node.pos, format!("expected a name, found {}", node.kind()));
            return None;
        };
        let valid = s.len() <= 64
            && s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.err(
                node.pos,
                format!("'{s}' is not a name: expected a letter or '_' followed by letters, digits or '_' (at most 64)"),
            );
            return None;
        }
        if expr::is_keyword(s) {
            self.err(
                node.pos,
                format!("'{s}' is a keyword of the expression language and cannot be a name"),
            );
            return None;
        }
        Some(s.clone())
    }

    pub fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) if !s.trim().is_empty() => Some(s.clone()),
            _ => {
                self.err(
                    node.pos,
                    format!("expected {what} (non-empty text), found {}", node.kind()),
                );
                None
            }
        }
    }

    fn word(&mut self, node: &Node, what: &str, words: &[&str]) -> Option<usize> {
        if let Value::Str(s) = &node.value
            && let Some(i) = words.iter().position(|w| w == s)
        {
            return Some(i);
        }
        let found = match &node.value {
            Value::Str(s) => format!("'{s}'"),
            _ => node.kind().to_owned(),
        };
        self.err(
            node.pos,
            format!(
                "expected {what}: one of {}; found {found}",
                words.join(", ")
            ),
        );
        None
    }

    pub fn expr(&mut self, node: &Node) -> Option<Expr> {
        let Some(text) = node.scalar_text() else {
            self.err(
                node.pos,
                format!("expected an expression, found {}", node.kind()),
            );
            return None;
        };
        let base = Pos {
            line: node.pos.line,
            column: node.pos.column + node.text_shift,
        };
        match expr::parse(&text, base) {
            Ok(e) => Some(e),
            Err(e) => {
                self.err(
                    Pos {
                        line: base.line,
                        column: base.column + e.offset,
                    },
                    e.message,
                );
                None
            }
        }
    }

    fn list<'a>(&mut self, node: &'a Node, what: &str) -> Option<&'a [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.err(
                    node.pos,
                    format!("expected {what} (a list), found {}", node.kind()),
                );
                None
            }
        }
    }
}

struct Fields<'a> {
    entries: Vec<(&'a str, Pos, &'a Node)>,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, v)| *v)
    }
    fn key_pos(&self, key: &str) -> Option<Pos> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, p, _)| *p)
    }
}

/// A SNOMED CT identifier: 6 to 18 digits, no leading zero, a valid
/// Verhoeff check digit.
pub fn check_sctid(code: &str) -> Result<u64, String> {
    if !(6..=18).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "'{code}' is not a SNOMED CT identifier: expected 6 to 18 digits"
        ));
    }
    if code.starts_with('0') {
        return Err(format!(
            "'{code}' is not a SNOMED CT identifier: it starts with 0"
        ));
    }
    if !gpes_model::verhoeff_valid(code) {
        return Err(format!(
            "'{code}' fails the SNOMED CT (Verhoeff) check digit"
        ));
    }
    code.parse()
        .map_err(|_| format!("'{code}' is not a number"))
}

const TOP: &[&str] = &[
    "id",
    "title",
    "source",
    "parameters",
    "clusters",
    "variables",
    "populations",
    "output",
];

pub(crate) fn query(cx: &mut Cx, root: &Node) -> Option<QuerySpec> {
    let f = cx.fields(
        root,
        "the query",
        TOP,
        &["id", "title", "source", "populations", "output"],
    )?;
    let id = f.get("id").and_then(|n| cx.text(n, "the query's id"));
    if let (Some(id), Some(n)) = (&id, f.get("id"))
        && !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        cx.err(n.pos, "expected an id of letters, digits, '_', '-' and '.'");
    }
    let title = f.get("title").and_then(|n| cx.text(n, "a title"));
    let source = f.get("source").and_then(|n| {
        cx.text(
            n,
            "the published rules this transcribes, with their version",
        )
    });
    let parameters = f
        .get("parameters")
        .map_or_else(Vec::new, |n| parameters(cx, n));
    let clusters = f.get("clusters").map_or_else(Vec::new, |n| clusters(cx, n));
    let variables = f
        .get("variables")
        .map_or_else(Vec::new, |n| variables(cx, n));
    let populations = f
        .get("populations")
        .map_or_else(Vec::new, |n| populations(cx, n));
    let output = f.get("output").and_then(|n| output(cx, n));
    Some(QuerySpec {
        id: id?,
        title: title?,
        source: source?,
        parameters,
        clusters,
        variables,
        populations,
        output: output?,
    })
}

fn parameters(cx: &mut Cx, node: &Node) -> Vec<Parameter> {
    let mut out = Vec::new();
    for (name, pos, def) in cx.named(node, "parameters") {
        let what = format!("parameter '{name}'");
        let Some(f) = cx.fields(def, &what, &["type", "default", "description"], &["type"]) else {
            continue;
        };
        let Some(ty) = f
            .get("type")
            .and_then(|n| cx.word(n, "a parameter type", &["date", "number"]))
        else {
            continue;
        };
        let ty = [ParamType::Date, ParamType::Number][ty];
        let default = match f.get("default") {
            None => None,
            Some(n) => match param_value(ty, n) {
                Ok(v) => Some(v),
                Err(e) => {
                    cx.err(n.pos, e);
                    continue;
                }
            },
        };
        let description = f
            .get("description")
            .and_then(|n| cx.text(n, "a description"));
        out.push(Parameter {
            name,
            pos,
            ty,
            default,
            description,
        });
    }
    out
}

/// A parameter's value from YAML (a default).
fn param_value(ty: ParamType, n: &Node) -> Result<ParamValue, String> {
    match (ty, &n.value) {
        (ParamType::Date, Value::Str(s)) => DateLit::parse(s)
            .map(ParamValue::Date)
            .map_err(|e| format!("expected a date YYYY-MM-DD: {e}")),
        (ParamType::Number, Value::Int(i)) => Ok(ParamValue::Number(*i as f64)),
        (ParamType::Number, Value::Float(x)) if x.is_finite() => Ok(ParamValue::Number(*x)),
        (ParamType::Date, _) => Err(format!("expected a date YYYY-MM-DD, found {}", n.kind())),
        (ParamType::Number, _) => Err(format!("expected a number, found {}", n.kind())),
    }
}

/// A parameter's value as a collection gives it (text).
pub fn param_value_text(ty: ParamType, s: &str) -> Result<ParamValue, String> {
    match ty {
        ParamType::Date => DateLit::parse(s).map(ParamValue::Date),
        ParamType::Number => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(ParamValue::Number)
            .ok_or_else(|| "expected a number".into()),
    }
}

fn clusters(cx: &mut Cx, node: &Node) -> Vec<Cluster> {
    let mut out = Vec::new();
    for (name, pos, def) in cx.named(node, "clusters") {
        let what = format!("cluster '{name}'");
        let Some(f) = cx.fields(
            def,
            &what,
            &["system", "codes", "codelist", "description"],
            &["system"],
        ) else {
            continue;
        };
        let system = f
            .get("system")
            .and_then(|n| cx.word(n, "a code system", &["snomed", "dmd"]))
            .map(|i| [CodeSystem::Snomed, CodeSystem::Dmd][i]);
        let mut codes = Vec::new();
        let mut ok = true;
        let codelist = match f.get("codelist") {
            None => None,
            Some(n) => match codelist_ref(cx, n) {
                Some(mut r) => {
                    r.key_pos = f.key_pos("codelist").unwrap_or(n.pos);
                    r.read_from_file = f.get("codes").is_none();
                    Some(r)
                }
                None => {
                    ok = false;
                    None
                }
            },
        };
        match (f.get("codes"), &codelist) {
            (Some(n), _) => {
                if let Some(items) = cx.list(n, "a list of codes") {
                    for item in items {
                        let text = match &item.value {
                            Value::Str(s) => s.clone(),
                            Value::Int(i) => i.to_string(),
                            _ => {
                                cx.err(
                                    item.pos,
                                    format!(
                                        "expected a code (digits, quoted), found {}",
                                        item.kind()
                                    ),
                                );
                                ok = false;
                                continue;
                            }
                        };
                        match check_sctid(&text) {
                            Ok(c) => codes.push(c),
                            Err(e) => {
                                cx.err(item.pos, e);
                                ok = false;
                            }
                        }
                    }
                }
            }
            (None, Some(r)) => {
                let file_pos = f
                    .get("codelist")
                    .map_or(def.pos, |n| field_pos(n, "file").unwrap_or(n.pos));
                match cx.code_lists.get(&r.file).cloned() {
                    Some(Ok(text)) => match crate::codelist::codes(&r.file, &text) {
                        Ok(c) => codes = c,
                        Err(errors) => {
                            for e in errors {
                                if cx.list_errors.len() < 100 {
                                    cx.list_errors.push(e);
                                }
                            }
                        }
                    },
                    Some(Err(e)) => cx.list_errors.push(Diagnostic::new(
                        &cx.file,
                        file_pos,
                        format!("cannot read code list '{}' of {what}: {e}", r.file),
                    )),
                    None => cx.list_errors.push(Diagnostic::new(
                        &cx.file,
                        file_pos,
                        format!("code list '{}' of {what} was not read", r.file),
                    )),
                }
            }
            (None, None) if ok => {
                cx.err(
                    def.pos,
                    format!("{what} has neither 'codes' nor 'codelist'; one is required"),
                );
                ok = false;
            }
            (None, None) => {}
        }
        codes.sort_unstable();
        codes.dedup();
        let description = f
            .get("description")
            .and_then(|n| cx.text(n, "a description"));
        if let (Some(system), true) = (system, ok) {
            out.push(Cluster {
                name,
                pos,
                system,
                codes,
                description,
                codelist,
            });
        }
    }
    out
}

/// Where a mapping's value for `key` starts.
fn field_pos(node: &Node, key: &str) -> Option<Pos> {
    let Value::Map(pairs) = &node.value else {
        return None;
    };
    pairs
        .iter()
        .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
        .map(|(_, v)| v.pos)
}

/// `codelist: { file: PATH, refset: SCTID, version: TEXT }`.
fn codelist_ref(cx: &mut Cx, node: &Node) -> Option<CodeListRef> {
    let f = cx.fields(
        node,
        "a code list",
        &["file", "refset", "version"],
        &["file", "refset", "version"],
    )?;
    let file_node = f.get("file")?;
    let file = cx.text(file_node, "the code list's file")?;
    if !crate::codelist::path_ok(&file) {
        cx.err(
            file_node.pos,
            format!("'{file}' is not a relative path under the query's folder (no '..', '.', '\\' or leading '/')"),
        );
        return None;
    }
    let refset_node = f.get("refset")?;
    let refset = refset_node.scalar_text().unwrap_or_default();
    if let Err(e) = check_sctid(&refset) {
        cx.err(refset_node.pos, format!("the reference set id {e}"));
        return None;
    }
    let version = f
        .get("version")
        .and_then(|n| n.scalar_text().filter(|v| !v.trim().is_empty()))
        .or_else(|| {
            cx.err(
                f.get("version").map_or(node.pos, |n| n.pos),
                "expected the code list's version (non-empty text, such as 20200812)",
            );
            None
        })?;
    Some(CodeListRef {
        file,
        key_pos: node.pos,
        read_from_file: true,
        refset,
        version,
    })
}

const EVENT_KINDS: &[(&str, EventAggregate)] = &[
    ("earliest", EventAggregate::Earliest),
    ("latest", EventAggregate::Latest),
    ("earliest_value", EventAggregate::EarliestValue),
    ("latest_value", EventAggregate::LatestValue),
    ("count", EventAggregate::Count),
    ("exists", EventAggregate::Exists),
    ("minimum_value", EventAggregate::MinimumValue),
    ("maximum_value", EventAggregate::MaximumValue),
    ("mean_value", EventAggregate::MeanValue),
    ("count_dates", EventAggregate::CountDates),
    ("latest_same_day", EventAggregate::LatestSameDay),
    ("earliest_same_day", EventAggregate::EarliestSameDay),
];

/// Most clusters a same-day variable may read.
pub const MAX_SAME_DAY_CLUSTERS: usize = 8;
const DATED_KINDS: &[&str] = &[
    "age",
    "registered",
    "registration_type",
    "registration_start",
];
const PLAIN_KINDS: &[&str] = &["sex", "date_of_birth", "date_of_death"];

fn variables(cx: &mut Cx, node: &Node) -> Vec<Variable> {
    let mut out = Vec::new();
    let all: Vec<&str> = EVENT_KINDS
        .iter()
        .map(|(k, _)| *k)
        .chain(DATED_KINDS.iter().copied())
        .chain(PLAIN_KINDS.iter().copied())
        .collect();
    for (name, pos, def) in cx.named(node, "variables") {
        let what = format!("variable '{name}'");
        let Some(f) = cx.fields(def, &what, &all, &[]) else {
            continue;
        };
        if f.entries.len() != 1 {
            cx.err(
                def.pos,
                format!(
                    "{what} must have exactly one kind: one of {}",
                    all.join(", ")
                ),
            );
            continue;
        }
        let (kind, _, body) = f.entries[0];
        let what = format!("the '{kind}' of {what}");
        let def = if let Some((_, agg)) = EVENT_KINDS.iter().find(|(k, _)| *k == kind) {
            event_variable(cx, body, &what, *agg)
        } else if DATED_KINDS.contains(&kind) {
            cx.fields(body, &what, &["on"], &["on"])
                .and_then(|g| g.get("on"))
                .and_then(|n| cx.expr(n))
                .map(|on| match kind {
                    "age" => VariableDef::Age { on },
                    "registered" => VariableDef::Registered { on },
                    "registration_type" => VariableDef::RegistrationType { on },
                    _ => VariableDef::RegistrationStart { on },
                })
        } else {
            if body.value != Value::Null && cx.fields(body, &what, &[], &[]).is_none() {
                continue;
            }
            Some(match kind {
                "sex" => VariableDef::Sex,
                "date_of_birth" => VariableDef::DateOfBirth,
                _ => VariableDef::DateOfDeath,
            })
        };
        if let Some(def) = def {
            out.push(Variable { name, pos, def });
        }
    }
    out
}

fn event_variable(
    cx: &mut Cx,
    body: &Node,
    what: &str,
    aggregate: EventAggregate,
) -> Option<VariableDef> {
    let same_day = aggregate.is_same_day();
    let mut allowed = vec![
        if same_day { "clusters" } else { "cluster" },
        "between",
        "on",
        "on_or_after",
        "after",
        "on_or_before",
        "before",
        "value",
    ];
    if matches!(
        aggregate,
        EventAggregate::EarliestValue | EventAggregate::LatestValue
    ) {
        allowed.push("ties");
    }
    let f = cx.fields(body, what, &allowed, &[allowed[0]])?;
    let mut ok = true;
    let (cluster, cluster_pos, with_clusters, with_positions) = if same_day {
        let list_node = f.get("clusters")?;
        let items = cx.list(list_node, "a list of clusters")?;
        if !(2..=MAX_SAME_DAY_CLUSTERS).contains(&items.len()) {
            cx.err(
                list_node.pos,
                format!(
                    "expected 2 to {MAX_SAME_DAY_CLUSTERS} clusters recorded on the same day, found {}",
                    items.len()
                ),
            );
            return None;
        }
        let mut names = Vec::new();
        for item in items {
            match cx.name(item) {
                Some(n) if names.iter().any(|(m, _)| *m == n) => {
                    cx.err(item.pos, format!("cluster '{n}' is listed twice"));
                    ok = false;
                }
                Some(n) => names.push((n, item.pos)),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let (first, first_pos) = names.remove(0);
        let (rest, rest_pos) = names.into_iter().unzip();
        (first, first_pos, rest, rest_pos)
    } else {
        let pos = f.get("cluster").map_or(body.pos, |n| n.pos);
        let name = f.get("cluster").and_then(|n| cx.name(n))?;
        (name, pos, Vec::new(), Vec::new())
    };
    let mut window = Window::default();
    // `between: [a, b]` and `on: d` (as `between: [d, d]`) set both bounds.
    let both = |cx: &mut Cx, a: &Node, b: &Node, window: &mut Window| match (cx.expr(a), cx.expr(b))
    {
        (Some(a), Some(b)) => {
            window.from = Some(Bound {
                date: a,
                inclusive: true,
            });
            window.to = Some(Bound {
                date: b,
                inclusive: true,
            });
            true
        }
        _ => false,
    };
    if let Some(n) = f.get("between") {
        match cx.list(n, "'between' as [from, to]") {
            Some([a, b]) => ok &= both(cx, a, b, &mut window),
            Some(_) => {
                cx.err(
                    n.pos,
                    "expected 'between' as a list of two dates, [from, to]",
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    if let Some(n) = f.get("on") {
        if f.get("between").is_some() {
            cx.err(
                f.key_pos("on").unwrap_or(n.pos),
                format!("'on' sets both bounds, which 'between' of {what} sets already"),
            );
            ok = false;
        } else {
            ok &= both(cx, n, n, &mut window);
        }
    }
    let mut bound = |cx: &mut Cx, key: &str, slot: &mut Option<Bound>, inclusive: bool| {
        if let Some(n) = f.get(key) {
            if slot.is_some() {
                cx.err(
                    f.key_pos(key).unwrap_or(n.pos),
                    format!(
                        "'{key}' sets a bound {what} already has ('between' and 'on' set both)"
                    ),
                );
                ok = false;
            }
            match cx.expr(n) {
                Some(date) => *slot = Some(Bound { date, inclusive }),
                None => ok = false,
            }
        }
    };
    bound(cx, "on_or_after", &mut window.from, true);
    bound(cx, "after", &mut window.from, false);
    bound(cx, "on_or_before", &mut window.to, true);
    bound(cx, "before", &mut window.to, false);
    let ties = match f.get("ties") {
        None => Ties::Lowest,
        Some(n) => [Ties::Lowest, Ties::Highest]
            [cx.word(n, "how ties are broken", &["lowest", "highest"])?],
    };
    let value = match f.get("value") {
        None => None,
        Some(n) => Some(Box::new(value_range(cx, n, what)?)),
    };
    ok.then_some(VariableDef::Events {
        aggregate,
        cluster,
        cluster_pos,
        window,
        ties,
        with_clusters,
        with_positions,
        value,
    })
}

/// `value: present`, or a mapping of `at_least`/`more_than` (the lower
/// bound) and `at_most`/`less_than` (the upper), at most one of each.
fn value_range(cx: &mut Cx, n: &Node, what: &str) -> Option<ValueRange> {
    if let Value::Str(s) = &n.value {
        if s == "present" {
            return Some(ValueRange::default());
        }
        cx.err(
            n.pos,
            format!(
                "expected the 'value' of {what} as 'present' or {{ at_least: N, at_most: N }} (also more_than, less_than); found '{s}'"
            ),
        );
        return None;
    }
    let f = cx.fields(
        n,
        &format!("the 'value' of {what}"),
        &["at_least", "more_than", "at_most", "less_than"],
        &[],
    )?;
    if f.entries.is_empty() {
        cx.err(
            n.pos,
            "expected at least one bound in 'value' (or write 'value: present')",
        );
        return None;
    }
    let mut range = ValueRange::default();
    let mut ok = true;
    for (key, kpos, node) in &f.entries {
        let lower = matches!(*key, "at_least" | "more_than");
        let inclusive = matches!(*key, "at_least" | "at_most");
        let slot = if lower {
            &mut range.from
        } else {
            &mut range.to
        };
        if slot.is_some() {
            cx.err(
                *kpos,
                format!(
                    "'{key}' sets the {} bound of the value a second time",
                    if lower { "lower" } else { "upper" }
                ),
            );
            ok = false;
            continue;
        }
        match cx.expr(node) {
            Some(value) => *slot = Some(ValueBound { value, inclusive }),
            None => ok = false,
        }
    }
    ok.then_some(range)
}

fn populations(cx: &mut Cx, node: &Node) -> Vec<Population> {
    let mut out = Vec::new();
    if matches!(&node.value, Value::Map(m) if m.is_empty()) {
        cx.err(node.pos, "expected at least one population");
    }
    for (name, pos, def) in cx.named(node, "populations") {
        let what = format!("population '{name}'");
        let Some(f) = cx.fields(def, &what, &["from", "rules"], &["from"]) else {
            continue;
        };
        let from_node = f.get("from");
        let from = from_node.and_then(|n| cx.name(n));
        let mut rules = Vec::new();
        let mut ok = true;
        if let Some(list) = f.get("rules").and_then(|n| cx.list(n, "a list of rules")) {
            for r in list {
                match rule(cx, r) {
                    Some(r) => rules.push(r),
                    None => ok = false,
                }
            }
        }
        if let (Some(from), Some(from_node), true) = (from, from_node, ok) {
            out.push(Population {
                name,
                pos,
                from,
                from_pos: from_node.pos,
                rules,
            });
        }
    }
    out
}

fn rule(cx: &mut Cx, node: &Node) -> Option<Rule> {
    let f = cx.fields(
        node,
        "a rule",
        &["when", "then", "else"],
        &["when", "then", "else"],
    )?;
    let actions = &["select", "reject", "next"];
    let act = [Action::Select, Action::Reject, Action::Next];
    let when = f.get("when").and_then(|n| cx.expr(n));
    let then = f.get("then").and_then(|n| cx.word(n, "an action", actions));
    let otherwise = f.get("else").and_then(|n| cx.word(n, "an action", actions));
    Some(Rule {
        pos: node.pos,
        when: when?,
        then: act[then?],
        otherwise: act[otherwise?],
    })
}

fn output(cx: &mut Cx, node: &Node) -> Option<Output> {
    let f = cx.fields(node, "the output", &["aggregate", "record_level"], &[])?;
    match (f.get("aggregate"), f.get("record_level")) {
        (Some(a), None) => {
            let g = cx.fields(
                a,
                "the aggregate output",
                &["populations", "breakdown"],
                &["populations"],
            )?;
            let mut populations = Vec::new();
            let mut positions = Vec::new();
            for p in cx.list(g.get("populations")?, "a list of populations")? {
                populations.push(cx.name(p)?);
                positions.push(p.pos);
            }
            if populations.is_empty() {
                cx.err(a.pos, "the aggregate output names no population");
            }
            let mut breakdown = Vec::new();
            if let Some(b) = g.get("breakdown") {
                for item in cx.list(b, "a list of breakdowns")? {
                    breakdown.push(breakdown_item(cx, item)?);
                }
            }
            Some(Output::Aggregate {
                populations,
                breakdown,
                positions,
            })
        }
        (None, Some(r)) => {
            let g = cx.fields(
                r,
                "the record-level output",
                &["population", "columns"],
                &["population", "columns"],
            )?;
            let population_node = g.get("population")?;
            let population = cx.name(population_node)?;
            let mut columns = Vec::new();
            for c in cx.list(g.get("columns")?, "a list of columns")? {
                let h = cx.fields(
                    c,
                    "a column",
                    &["name", "value", "class"],
                    &["name", "value", "class"],
                )?;
                let name = cx.name(h.get("name")?)?;
                let v = h.get("value")?;
                let value = match cx.name(v)?.as_str() {
                    "nhs_number" => ColumnValue::NhsNumber,
                    "patient_id" => ColumnValue::PatientId,
                    other => ColumnValue::Variable(other.to_owned()),
                };
                let class = [
                    DataClass::Identifier,
                    DataClass::Pseudonym,
                    DataClass::NonIdentifying,
                ][cx.word(
                    h.get("class")?,
                    "a data class",
                    &["identifier", "pseudonym", "non_identifying"],
                )?];
                columns.push(Column {
                    name,
                    value,
                    class,
                    pos: c.pos,
                });
            }
            if columns.is_empty() {
                cx.err(r.pos, "the record-level output has no columns");
            }
            Some(Output::RecordLevel {
                population,
                columns,
                position: population_node.pos,
            })
        }
        _ => {
            cx.err(
                node.pos,
                "expected exactly one of 'aggregate' or 'record_level' in the output",
            );
            None
        }
    }
}

fn breakdown_item(cx: &mut Cx, item: &Node) -> Option<Breakdown> {
    if let Value::Str(s) = &item.value {
        if s == "sex" {
            return Some(Breakdown::Sex);
        }
        cx.err(
            item.pos,
            format!("expected 'sex' or {{ age_bands: [...], on: DATE }}, found '{s}'"),
        );
        return None;
    }
    let f = cx.fields(
        item,
        "an age-band breakdown",
        &["age_bands", "on"],
        &["age_bands", "on"],
    )?;
    let on = cx.expr(f.get("on")?)?;
    let list = f.get("age_bands")?;
    let mut bounds = Vec::new();
    for b in cx.list(list, "a list of ages")? {
        match &b.value {
            Value::Int(i) if (0..=150).contains(i) => bounds.push(*i as u32),
            _ => {
                cx.err(
                    b.pos,
                    format!(
                        "expected an age in whole years (0 to 150), found {}",
                        b.kind()
                    ),
                );
                return None;
            }
        }
    }
    if bounds.first() != Some(&0) || bounds.windows(2).any(|w| w[0] >= w[1]) {
        cx.err(
            list.pos,
            "expected age bands starting at 0 and strictly increasing, such as [0, 17, 45, 65, 80]",
        );
        return None;
    }
    Some(Breakdown::AgeBands { on, bounds })
}
