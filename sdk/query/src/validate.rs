//! Checks over the whole query: names, references, types of expressions,
//! cycles and unreachable rules (SPEC.md, "Validation").

use crate::Pos;
use crate::ast::*;
use crate::expr::{CmpOp, Expr, ExprKind};
use crate::parse::Cx;
use std::collections::{BTreeMap, BTreeSet};

/// The type of an expression or a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Number,
    Date,
    Text,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Bool => "a condition (true/false)",
            Ty::Number => "a number",
            Ty::Date => "a date",
            Ty::Text => "text",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Parameter(Ty),
    Cluster,
    Variable(Ty),
    Population,
    Builtin,
}

pub fn variable_type(def: &VariableDef) -> Ty {
    match def {
        VariableDef::Events { aggregate, .. } => match aggregate {
            EventAggregate::Earliest
            | EventAggregate::Latest
            | EventAggregate::LatestSameDay
            | EventAggregate::EarliestSameDay => Ty::Date,
            EventAggregate::EarliestValue
            | EventAggregate::LatestValue
            | EventAggregate::Count
            | EventAggregate::MinimumValue
            | EventAggregate::MaximumValue
            | EventAggregate::MeanValue
            | EventAggregate::CountDates => Ty::Number,
            EventAggregate::Exists => Ty::Bool,
        },
        VariableDef::Age { .. } => Ty::Number,
        VariableDef::Sex | VariableDef::RegistrationType { .. } => Ty::Text,
        VariableDef::DateOfBirth
        | VariableDef::DateOfDeath
        | VariableDef::RegistrationStart { .. } => Ty::Date,
        VariableDef::Registered { .. } => Ty::Bool,
    }
}

const SEXES: &[&str] = &["male", "female", "other", "unknown"];
const REGISTRATION_TYPES: &[&str] = &["regular", "temporary"];

struct Names {
    kinds: BTreeMap<String, (Kind, Pos)>,
    text_values: BTreeMap<String, &'static [&'static str]>,
}

/// Where in a definition an expression sits, which decides what it may name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// `on:` dates and age bands: parameters and literals only (they are
    /// fixed when the query is bound).
    Fixed,
    /// Window bounds: parameters, literals and other variables (a bound
    /// that names a variable takes another pass over the data).
    Window,
    /// Conditions of rules: anything but clusters.
    Rule,
}

pub(crate) fn check(cx: &mut Cx, q: &QuerySpec) {
    let mut names = Names {
        kinds: BTreeMap::new(),
        text_values: BTreeMap::new(),
    };
    for b in ["nhs_number", "patient_id", "all_patients"] {
        names
            .kinds
            .insert(b.to_owned(), (Kind::Builtin, Pos { line: 0, column: 0 }));
    }
    let mut declare = |cx: &mut Cx, name: &str, pos: Pos, kind: Kind| {
        if let Some((old, old_pos)) = names.kinds.get(name) {
            if *old == Kind::Builtin {
                cx.err(
                    pos,
                    format!("'{name}' is a built-in name and cannot be defined"),
                );
            } else {
                cx.err(
                    pos,
                    format!(
                        "'{name}' is already defined at line {}, column {}",
                        old_pos.line, old_pos.column
                    ),
                );
            }
        } else {
            names.kinds.insert(name.to_owned(), (kind, pos));
        }
    };
    for p in &q.parameters {
        let ty = match p.ty {
            ParamType::Date => Ty::Date,
            ParamType::Number => Ty::Number,
        };
        declare(cx, &p.name, p.pos, Kind::Parameter(ty));
    }
    for c in &q.clusters {
        declare(cx, &c.name, c.pos, Kind::Cluster);
    }
    for v in &q.variables {
        declare(cx, &v.name, v.pos, Kind::Variable(variable_type(&v.def)));
    }
    for p in &q.populations {
        declare(cx, &p.name, p.pos, Kind::Population);
    }
    for v in &q.variables {
        match &v.def {
            VariableDef::Sex => {
                names.text_values.insert(v.name.clone(), SEXES);
            }
            VariableDef::RegistrationType { .. } => {
                names.text_values.insert(v.name.clone(), REGISTRATION_TYPES);
            }
            _ => {}
        }
    }

    // Variables.
    for v in &q.variables {
        match &v.def {
            VariableDef::Events { window, value, .. } => {
                for (cluster, cluster_pos) in v.def.clusters() {
                    match names.kinds.get(cluster) {
                        Some((Kind::Cluster, _)) => {}
                        Some(_) => cx.err(
                            cluster_pos,
                            format!(
                                "variable '{}' uses '{cluster}', which is not a cluster",
                                v.name
                            ),
                        ),
                        None => cx.err(
                            cluster_pos,
                            format!(
                                "variable '{}' uses cluster '{cluster}', which is not defined",
                                v.name
                            ),
                        ),
                    }
                }
                for b in window.from.iter().chain(window.to.iter()) {
                    expect(cx, &names, &b.date, Place::Window, Ty::Date);
                }
                if let Some(r) = value {
                    for b in r.from.iter().chain(r.to.iter()) {
                        expect(cx, &names, &b.value, Place::Fixed, Ty::Number);
                    }
                }
            }
            VariableDef::Age { on }
            | VariableDef::Registered { on }
            | VariableDef::RegistrationType { on }
            | VariableDef::RegistrationStart { on } => {
                expect(cx, &names, on, Place::Fixed, Ty::Date)
            }
            VariableDef::Sex | VariableDef::DateOfBirth | VariableDef::DateOfDeath => {}
        }
    }

    // Populations: the base, the rules, reachability.
    for p in &q.populations {
        match names.kinds.get(&p.from) {
            Some((Kind::Population, _)) | Some((Kind::Variable(Ty::Bool), _)) => {}
            Some((Kind::Builtin, _)) if p.from == "all_patients" => {}
            Some(_) => cx.err(
                p.from_pos,
                format!("population '{}' starts from '{}', which is neither a population nor a true/false variable", p.name, p.from),
            ),
            None => cx.err(p.from_pos, format!("population '{}' starts from '{}', which is not defined", p.name, p.from)),
        }
        let mut final_at: Option<usize> = None;
        for (i, r) in p.rules.iter().enumerate() {
            expect(cx, &names, &r.when, Place::Rule, Ty::Bool);
            if let Some(j) = final_at {
                cx.err(
                    r.pos,
                    format!("this rule can never be reached: rule {} of population '{}' ends with select or reject on both branches", j + 1, p.name),
                );
                break;
            }
            if r.then != Action::Next && r.otherwise != Action::Next {
                final_at = Some(i);
            }
        }
        if let Some(last) = p.rules.last()
            && final_at.is_none()
        {
            cx.err(
                last.pos,
                format!("the last rule of population '{}' must end in select or reject on both branches (it says 'next')", p.name),
            );
        }
    }
    population_cycles(cx, q);
    variable_passes(cx, q);

    // Output.
    match &q.output {
        Output::Aggregate {
            populations,
            breakdown,
            positions,
        } => {
            let mut seen = BTreeSet::new();
            for (p, pos) in populations.iter().zip(positions) {
                if !matches!(names.kinds.get(p), Some((Kind::Population, _))) {
                    cx.err(
                        *pos,
                        format!("the output names population '{p}', which is not defined"),
                    );
                }
                if !seen.insert(p) {
                    cx.err(*pos, format!("the output names population '{p}' twice"));
                }
            }
            for b in breakdown {
                if let Breakdown::AgeBands { on, .. } = b {
                    expect(cx, &names, on, Place::Fixed, Ty::Date);
                }
            }
        }
        Output::RecordLevel {
            population,
            columns,
            position,
        } => {
            if !matches!(names.kinds.get(population), Some((Kind::Population, _))) {
                cx.err(
                    *position,
                    format!("the output names population '{population}', which is not defined"),
                );
            }
            let mut seen = BTreeSet::new();
            for c in columns {
                if !seen.insert(&c.name) {
                    cx.err(c.pos, format!("there are two columns named '{}'", c.name));
                }
                match &c.value {
                    ColumnValue::NhsNumber | ColumnValue::PatientId => {
                        if c.class == DataClass::NonIdentifying {
                            cx.err(c.pos, format!("column '{}' holds an identifier and cannot be classed non_identifying", c.name));
                        }
                    }
                    ColumnValue::Variable(v) => {
                        if !matches!(names.kinds.get(v), Some((Kind::Variable(_), _))) {
                            cx.err(c.pos, format!("column '{}' takes '{v}', which is not a variable (nor nhs_number or patient_id)", c.name));
                        }
                    }
                }
            }
        }
    }
}

/// Most passes over the data a query may take (a chain of variables each
/// bounded by the one before is one pass per link).
pub const MAX_PASSES: u32 = 4;

/// The variables a variable's window names.
pub fn variable_deps(q: &QuerySpec, v: &Variable) -> Vec<usize> {
    let mut names = Vec::new();
    if let VariableDef::Events { window, .. } = &v.def {
        for b in window.from.iter().chain(window.to.iter()) {
            b.date.names(&mut names);
        }
    }
    names
        .iter()
        .filter_map(|(n, _)| q.variables.iter().position(|x| &x.name == n))
        .collect()
}

/// The pass (0-based) each variable is computed in: 0 without dependencies,
/// else one more than the latest pass of those it names. `None` on a cycle.
pub fn passes_of(q: &QuerySpec) -> Option<Vec<u32>> {
    passes_and_unresolved(q).0
}

/// Kahn's algorithm over the window dependencies: the passes, or the
/// variables left on (or behind) a cycle.
fn passes_and_unresolved(q: &QuerySpec) -> (Option<Vec<u32>>, Vec<usize>) {
    let deps: Vec<Vec<usize>> = q.variables.iter().map(|v| variable_deps(q, v)).collect();
    let n = deps.len();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            users[d].push(i);
        }
    }
    let mut pass = vec![0u32; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut done = 0;
    while let Some(i) = ready.pop() {
        done += 1;
        for &u in &users[i] {
            pass[u] = pass[u].max(pass[i].saturating_add(1));
            waiting[u] -= 1;
            if waiting[u] == 0 {
                ready.push(u);
            }
        }
    }
    if done == n {
        (Some(pass), Vec::new())
    } else {
        (None, (0..n).filter(|&i| waiting[i] > 0).collect())
    }
}

fn variable_passes(cx: &mut Cx, q: &QuerySpec) {
    let deps: Vec<Vec<usize>> = q.variables.iter().map(|v| variable_deps(q, v)).collect();
    for (i, v) in q.variables.iter().enumerate() {
        if deps[i].contains(&i) {
            cx.err(v.pos, format!("variable '{}' is bounded by itself", v.name));
            return;
        }
    }
    match passes_and_unresolved(q) {
        (None, unresolved) => {
            let names: Vec<&str> = unresolved
                .iter()
                .map(|&i| q.variables[i].name.as_str())
                .collect();
            let pos = unresolved
                .first()
                .map_or(Pos { line: 1, column: 1 }, |&i| q.variables[i].pos);
            cx.err(
                pos,
                format!(
                    "variables depend on each other in a cycle through their windows: {}",
                    names.join(", ")
                ),
            );
        }
        (Some(passes), _) => {
            for (v, p) in q.variables.iter().zip(&passes) {
                if *p >= MAX_PASSES {
                    cx.err(
                        v.pos,
                        format!("variable '{}' would take {} passes over the data; at most {MAX_PASSES} are allowed", v.name, p + 1),
                    );
                }
            }
        }
    }
}

fn population_cycles(cx: &mut Cx, q: &QuerySpec) {
    let index: BTreeMap<&str, usize> = q
        .populations
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let deps: Vec<Vec<usize>> = q
        .populations
        .iter()
        .map(|p| {
            let mut names = vec![(p.from.clone(), p.from_pos)];
            for r in &p.rules {
                r.when.names(&mut names);
            }
            names
                .iter()
                .filter_map(|(n, _)| index.get(n.as_str()).copied())
                .collect()
        })
        .collect();
    // 0 = unvisited, 1 = on the stack, 2 = done. Iterative, so a long chain
    // cannot overflow the stack.
    let mut state = vec![0u8; deps.len()];
    let mut reported = false;
    for start in 0..deps.len() {
        if state[start] != 0 || reported {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some((node, next)) = stack.last().copied() {
            if next < deps[node].len() {
                stack.last_mut().expect("non-empty").1 += 1;
                let d = deps[node][next];
                if state[d] == 1 {
                    let from = stack.iter().position(|(n, _)| *n == d).unwrap_or(0);
                    let mut path: Vec<&str> = stack[from..]
                        .iter()
                        .map(|(n, _)| q.populations[*n].name.as_str())
                        .collect();
                    path.push(&q.populations[d].name);
                    cx.err(
                        q.populations[d].pos,
                        format!(
                            "populations depend on each other in a cycle: {}",
                            path.join(" -> ")
                        ),
                    );
                    reported = true;
                    break;
                } else if state[d] == 0 {
                    state[d] = 1;
                    stack.push((d, 0));
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
}

fn expect(cx: &mut Cx, names: &Names, e: &Expr, place: Place, want: Ty) {
    if let Some(t) = type_of(cx, names, e, place)
        && t != want
    {
        cx.err(
            e.pos,
            format!("expected {} here, found {}", want.name(), t.name()),
        );
    }
}

fn type_of(cx: &mut Cx, names: &Names, e: &Expr, place: Place) -> Option<Ty> {
    match &e.kind {
        ExprKind::Number(_) => Some(Ty::Number),
        ExprKind::Date(_) => Some(Ty::Date),
        ExprKind::Text(_) => Some(Ty::Text),
        ExprKind::Bool(_) => Some(Ty::Bool),
        ExprKind::Name(n) => {
            match (names.kinds.get(n), place) {
                (Some((Kind::Parameter(t), _)), _) => Some(*t),
                (Some((Kind::Variable(t), _)), Place::Rule | Place::Window) => Some(*t),
                (Some((Kind::Population, _)), Place::Rule) => Some(Ty::Bool),
                (Some((Kind::Population, _)), Place::Window) => {
                    cx.err(
                        e.pos,
                        format!("'{n}' is a population; window bounds may use parameters, dates and variables"),
                    );
                    None
                }
                (Some((Kind::Variable(_) | Kind::Population, _)), Place::Fixed) => {
                    cx.err(
                        e.pos,
                        format!("'{n}' is a variable or population; 'on' dates, value bounds and age bands may use only parameters and dates or numbers"),
                    );
                    None
                }
                (Some((Kind::Cluster, _)), _) => {
                    cx.err(e.pos, format!("'{n}' is a cluster; use it in a variable"));
                    None
                }
                (Some((Kind::Builtin, _)), _) => {
                    cx.err(e.pos, format!("'{n}' is built in and can be used only as an output column or in 'from'"));
                    None
                }
                (None, _) => {
                    cx.err(
                        e.pos,
                        format!(
                            "'{n}' is not defined: expected a parameter, variable or population"
                        ),
                    );
                    None
                }
            }
        }
        ExprKind::Not(inner) => {
            expect(cx, names, inner, place, Ty::Bool);
            Some(Ty::Bool)
        }
        ExprKind::And(items) | ExprKind::Or(items) => {
            for item in items {
                expect(cx, names, item, place, Ty::Bool);
            }
            Some(Ty::Bool)
        }
        ExprKind::IsNull { expr, .. } => {
            type_of(cx, names, expr, place);
            Some(Ty::Bool)
        }
        ExprKind::Shift { date, .. } => {
            expect(cx, names, date, place, Ty::Date);
            Some(Ty::Date)
        }
        ExprKind::Compare { op, left, right } => {
            let (l, r) = (
                type_of(cx, names, left, place),
                type_of(cx, names, right, place),
            );
            if let (Some(l), Some(r)) = (l, r) {
                if l != r {
                    cx.err(
                        right.pos,
                        format!("cannot compare {} with {}", l.name(), r.name()),
                    );
                } else if matches!(l, Ty::Bool | Ty::Text) && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    cx.err(
                        right.pos,
                        format!(
                            "{} can be compared only with '=' or '!=', not '{}'",
                            l.name(),
                            op.symbol()
                        ),
                    );
                } else if l == Ty::Text {
                    check_text(cx, names, left, right);
                    check_text(cx, names, right, left);
                }
            }
            Some(Ty::Bool)
        }
    }
}

/// `SEX = 'femal'` would never be true: refuse values the variable never has.
fn check_text(cx: &mut Cx, names: &Names, var: &Expr, lit: &Expr) {
    if let (ExprKind::Name(n), ExprKind::Text(t)) = (&var.kind, &lit.kind)
        && let Some(values) = names.text_values.get(n)
        && !values.contains(&t.as_str())
    {
        cx.err(
            lit.pos,
            format!(
                "'{n}' is never '{t}': expected one of {}",
                values
                    .iter()
                    .map(|v| format!("'{v}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}
