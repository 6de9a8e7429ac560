//! A query's rules in plain English (`QuerySpec::explain`), for people who
//! read business rules rather than YAML: a practice manager, a clinical
//! lead, a reviewer of a collection. The text is deterministic: the same
//! query always gives the same words.

use crate::ast::{
    Action, Bound, Breakdown, CodeSystem, ColumnValue, DataClass, EventAggregate, Output,
    ParamType, ParamValue, QuerySpec, Ties, ValueBound, ValueRange, VariableDef, Window,
};
use crate::dates::DateLit;
use crate::expr::{CmpOp, Expr, ExprKind, Unit};
use crate::validate::{Ty, variable_type};
use std::fmt::Write;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The footnote on conditions that cannot be decided.
pub const NULL_NOTE: &str = "A rule whose condition cannot be decided because something it uses is not recorded follows its \"otherwise\" branch.";

impl QuerySpec {
    /// The query's rules in plain English: what it looks up for each
    /// patient, how each group of patients is formed, and what it returns.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} — {}", self.id.to_uppercase(), self.title);
        let _ = writeln!(out, "Transcribes: {}", self.source);

        if !self.parameters.is_empty() {
            let all_dates = self.parameters.iter().all(|p| p.ty == ParamType::Date);
            out.push('\n');
            out.push_str(if all_dates { "Dates\n" } else { "Parameters\n" });
            for p in &self.parameters {
                let label = match &p.description {
                    Some(d) if !d.is_empty() => format!("{} ({d})", p.name),
                    _ => p.name.clone(),
                };
                let value = match &p.default {
                    Some(ParamValue::Date(d)) => {
                        format!("{} unless the collection says otherwise", date_words(d))
                    }
                    Some(ParamValue::Number(n)) => {
                        format!("{} unless the collection says otherwise", number_words(*n))
                    }
                    None => match p.ty {
                        ParamType::Date => "a date the collection must give".to_owned(),
                        ParamType::Number => "a number the collection must give".to_owned(),
                    },
                };
                let _ = writeln!(out, "  {label}: {value}.");
            }
        }

        if !self.clusters.is_empty() {
            out.push_str("\nCode lists\n");
            for c in &self.clusters {
                let label = match &c.description {
                    Some(d) if !d.is_empty() => format!("{} ({d})", c.name),
                    _ => c.name.clone(),
                };
                let n = c.codes.len();
                let what = match (c.system, n) {
                    (_, 0) => "no codes (it matches nothing)".to_owned(),
                    (CodeSystem::Snomed, 1) => "1 SNOMED CT code".to_owned(),
                    (CodeSystem::Snomed, n) => format!("{n} SNOMED CT codes"),
                    (CodeSystem::Dmd, 1) => "1 dm+d medication code".to_owned(),
                    (CodeSystem::Dmd, n) => format!("{n} dm+d medication codes"),
                };
                let from = match &c.codelist {
                    Some(r) => format!(
                        ", the code list of reference set {} (version {})",
                        r.refset, r.version
                    ),
                    None => String::new(),
                };
                let _ = writeln!(out, "  {label}: {what}{from}.");
            }
        }

        if !self.variables.is_empty() {
            out.push_str("\nWhat is looked up for each patient\n");
            for v in &self.variables {
                let _ = writeln!(out, "  {}: {}.", v.name, self.variable_words(&v.def));
            }
        }

        out.push_str("\nGroups of patients\n");
        for p in &self.populations {
            for line in self.population_lines(p) {
                let _ = writeln!(out, "  {line}");
            }
        }
        let _ = writeln!(out, "  {NULL_NOTE}");

        out.push_str("\nResult\n");
        match &self.output {
            Output::Aggregate {
                populations,
                breakdown,
                ..
            } => {
                let mut line = format!("  A count of patients in {}", list_words(populations));
                let parts: Vec<String> =
                    breakdown.iter().map(|b| self.breakdown_words(b)).collect();
                if !parts.is_empty() {
                    let _ = write!(line, ", by {}", list_words(&parts));
                }
                let _ = writeln!(out, "{line}.");
            }
            Output::RecordLevel {
                population,
                columns,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "  One row for each patient in {population}, with these columns:"
                );
                for c in columns {
                    let value = match &c.value {
                        ColumnValue::NhsNumber => "the patient's NHS number".to_owned(),
                        ColumnValue::PatientId => {
                            "the patient's identifier in the clinical system".to_owned()
                        }
                        ColumnValue::Variable(v) => v.clone(),
                    };
                    let class = match c.class {
                        DataClass::Identifier => "identifier",
                        DataClass::Pseudonym => "pseudonym",
                        DataClass::NonIdentifying => "non-identifying",
                    };
                    let _ = writeln!(out, "    {}: {value} ({class}).", c.name);
                }
            }
        }
        out
    }

    /// One group of patients in plain English: where it starts and each
    /// of its rules (for a practice reading the count it was given).
    pub fn explain_population(&self, name: &str) -> Option<String> {
        let p = self.population(name)?;
        let mut out = String::new();
        for line in self.population_lines(p) {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out, "{NULL_NOTE}");
        Some(out)
    }

    /// A population's lines: its start, then its rules indented.
    fn population_lines(&self, p: &crate::ast::Population) -> Vec<String> {
        let start = match p.from.as_str() {
            "all_patients" => format!("{} starts from all patients", p.name),
            from if self.population(from).is_some() => {
                format!("{} starts from the patients in {from}", p.name)
            }
            from => format!("{} starts from patients for whom {from} is true", p.name),
        };
        if p.rules.is_empty() {
            return vec![format!("{start}, and includes all of them.")];
        }
        let mut lines = vec![format!("{start}.")];
        for (i, r) in p.rules.iter().enumerate() {
            lines.push(format!(
                "  {}. If {}: {}; otherwise {}.",
                i + 1,
                self.condition(&r.when),
                action_words(r.then),
                action_words(r.otherwise)
            ));
        }
        lines
    }

    fn variable_words(&self, def: &VariableDef) -> String {
        match def {
            VariableDef::Events {
                aggregate,
                cluster,
                window,
                ties,
                value: range,
                ..
            } => {
                let dmd = self
                    .cluster(cluster)
                    .is_some_and(|c| c.system == CodeSystem::Dmd);
                let item = if dmd {
                    format!("{cluster} medication")
                } else {
                    format!("{cluster} code")
                };
                let value = if dmd { "quantity" } else { "value" };
                let tie = match ties {
                    Ties::Lowest => "lowest",
                    Ties::Highest => "highest",
                };
                let w = self.window_words(window);
                let item = match range {
                    None => item,
                    Some(r) => format!("{item} {}", self.range_words(r, value)),
                };
                let names: Vec<String> = def
                    .clusters()
                    .iter()
                    .map(|(n, _)| (*n).to_owned())
                    .collect();
                let with = match range {
                    None => String::new(),
                    Some(r) => format!(" {}", self.range_words(r, value)),
                };
                match aggregate {
                    EventAggregate::MinimumValue => {
                        format!("the lowest {value} of the {item}s{w}")
                    }
                    EventAggregate::MaximumValue => {
                        format!("the highest {value} of the {item}s{w}")
                    }
                    EventAggregate::MeanValue => {
                        format!("the mean of the {value}s of the {item}s{w}")
                    }
                    EventAggregate::CountDates => {
                        format!("the number of distinct dates with a {item}{w}")
                    }
                    EventAggregate::LatestSameDay => format!(
                        "the latest date{w} on which {} codes{with} were all recorded",
                        list_words(&names)
                    ),
                    EventAggregate::EarliestSameDay => format!(
                        "the earliest date{w} on which {} codes{with} were all recorded",
                        list_words(&names)
                    ),
                    EventAggregate::Latest => format!("the date of the latest {item}{w}"),
                    EventAggregate::Earliest => format!("the date of the earliest {item}{w}"),
                    EventAggregate::LatestValue => format!(
                        "the {value} of the latest {item} with a {value}{w} (the {tie} if several are on that day)"
                    ),
                    EventAggregate::EarliestValue => format!(
                        "the {value} of the earliest {item} with a {value}{w} (the {tie} if several are on that day)"
                    ),
                    EventAggregate::Count => format!("the number of {item}s{w}"),
                    EventAggregate::Exists => format!("whether there is any {item}{w}"),
                }
            }
            VariableDef::Age { on } => format!(
                "the patient's age in whole years on {}",
                self.value_words(on)
            ),
            VariableDef::Sex => "the patient's sex (male, female, other or unknown)".to_owned(),
            VariableDef::DateOfBirth => "the patient's date of birth".to_owned(),
            VariableDef::DateOfDeath => "the patient's date of death".to_owned(),
            VariableDef::Registered { on } => format!(
                "whether the patient is registered (regular registration) on {}",
                self.value_words(on)
            ),
            VariableDef::RegistrationType { on } => format!(
                "the patient's type of registration (regular or temporary) on {}",
                self.value_words(on)
            ),
            VariableDef::RegistrationStart { on } => format!(
                "the start date of the patient's regular registration covering {}",
                self.value_words(on)
            ),
        }
    }

    /// `with a value`, `with a value of at least 140`, `with a value above 0
    /// and at most 58`.
    fn range_words(&self, r: &ValueRange, value: &str) -> String {
        let b = |b: &ValueBound, inc: &str, exc: &str| {
            format!(
                "{} {}",
                if b.inclusive { inc } else { exc },
                self.value_words(&b.value)
            )
        };
        let parts: Vec<String> = r
            .from
            .iter()
            .map(|f| b(f, "at least", "above"))
            .chain(r.to.iter().map(|t| b(t, "at most", "below")))
            .collect();
        if parts.is_empty() {
            format!("with a {value}")
        } else {
            format!("with a {value} {}", parts.join(" and "))
        }
    }

    fn window_words(&self, w: &Window) -> String {
        let b = |b: &Bound| self.value_words(&b.date);
        match (&w.from, &w.to) {
            (None, None) => " at any date".to_owned(),
            (Some(f), Some(t)) if f.inclusive && t.inclusive && f.date == t.date => {
                format!(" on {}", b(f))
            }
            (Some(f), None) if f.inclusive => format!(" on or after {}", b(f)),
            (Some(f), None) => format!(" after {}", b(f)),
            (None, Some(t)) if t.inclusive => format!(" on or before {}", b(t)),
            (None, Some(t)) => format!(" before {}", b(t)),
            (Some(f), Some(t)) if f.inclusive && t.inclusive => {
                format!(" between {} and {}", b(f), b(t))
            }
            (Some(f), Some(t)) => {
                let lo = if f.inclusive { "on or after" } else { "after" };
                let hi = if t.inclusive {
                    "on or before"
                } else {
                    "before"
                };
                format!(" {lo} {} and {hi} {}", b(f), b(t))
            }
        }
    }

    fn breakdown_words(&self, b: &Breakdown) -> String {
        match b {
            Breakdown::Sex => "sex".to_owned(),
            Breakdown::AgeBands { on, bounds } => {
                let mut bands = Vec::new();
                for (i, lo) in bounds.iter().enumerate() {
                    match bounds.get(i + 1) {
                        Some(hi) => bands.push(format!("{lo}-{}", hi.saturating_sub(1))),
                        None => bands.push(format!("{lo}+")),
                    }
                }
                bands.push("unknown".to_owned());
                format!(
                    "age band on {} ({})",
                    self.value_words(on),
                    bands.join(", ")
                )
            }
        }
    }

    /// The type of an expression, as far as the words need it.
    fn type_of(&self, e: &Expr) -> Option<Ty> {
        match &e.kind {
            ExprKind::Number(_) => Some(Ty::Number),
            ExprKind::Date(_) | ExprKind::Shift { .. } => Some(Ty::Date),
            ExprKind::Text(_) => Some(Ty::Text),
            ExprKind::Bool(_)
            | ExprKind::Not(_)
            | ExprKind::And(_)
            | ExprKind::Or(_)
            | ExprKind::Compare { .. }
            | ExprKind::IsNull { .. } => Some(Ty::Bool),
            ExprKind::Name(n) => {
                if let Some(p) = self.parameter(n) {
                    Some(match p.ty {
                        ParamType::Date => Ty::Date,
                        ParamType::Number => Ty::Number,
                    })
                } else if let Some(v) = self.variable(n) {
                    Some(variable_type(&v.def))
                } else if self.population(n).is_some() {
                    Some(Ty::Bool)
                } else {
                    None
                }
            }
        }
    }

    /// A value (not a condition) in words: a name, a literal, a date shift.
    fn value_words(&self, e: &Expr) -> String {
        match &e.kind {
            ExprKind::Number(n) => number_words(*n),
            ExprKind::Date(d) => date_words(d),
            ExprKind::Text(t) => format!("\"{t}\""),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Name(n) => n.clone(),
            ExprKind::Shift { date, amount, unit } => match &date.kind {
                ExprKind::Shift { .. } => {
                    let sign = if *amount < 0 { "minus" } else { "plus" };
                    format!(
                        "{} ({sign} {})",
                        self.value_words(date),
                        amount_words(amount.unsigned_abs(), *unit)
                    )
                }
                _ => {
                    let dir = if *amount < 0 { "before" } else { "after" };
                    format!(
                        "{} {dir} {}",
                        amount_words(amount.unsigned_abs(), *unit),
                        self.value_words(date)
                    )
                }
            },
            _ => format!("({})", self.condition(e)),
        }
    }

    /// A condition in words.
    fn condition(&self, e: &Expr) -> String {
        match &e.kind {
            ExprKind::Name(n) if self.population(n).is_some() => {
                format!("the patient is in {n}")
            }
            ExprKind::Name(n) => format!("{n} is true"),
            ExprKind::Bool(b) => format!("{b}"),
            ExprKind::And(items) => self.joined(items, "and"),
            ExprKind::Or(items) => self.joined(items, "or"),
            ExprKind::Not(inner) => match &inner.kind {
                ExprKind::Name(n) if self.population(n).is_some() => {
                    format!("the patient is not in {n}")
                }
                ExprKind::Name(n) => format!("{n} is false"),
                _ => format!("not ({})", self.condition(inner)),
            },
            ExprKind::IsNull { expr, negated } => {
                let w = if *negated {
                    "is recorded"
                } else {
                    "is not recorded"
                };
                format!("{} {w}", self.value_words(expr))
            }
            ExprKind::Compare { op, left, right } => {
                let ty = self.type_of(left).or_else(|| self.type_of(right));
                format!(
                    "{} {} {}",
                    self.value_words(left),
                    op_words(*op, ty),
                    self.value_words(right)
                )
            }
            ExprKind::Number(_)
            | ExprKind::Date(_)
            | ExprKind::Text(_)
            | ExprKind::Shift { .. } => self.value_words(e),
        }
    }

    fn joined(&self, items: &[Expr], word: &str) -> String {
        items
            .iter()
            .map(|i| match &i.kind {
                ExprKind::And(_) | ExprKind::Or(_) => format!("({})", self.condition(i)),
                _ => self.condition(i),
            })
            .collect::<Vec<_>>()
            .join(&format!(" {word} "))
    }
}

fn op_words(op: CmpOp, ty: Option<Ty>) -> &'static str {
    match (op, ty) {
        (CmpOp::Eq, _) => "is",
        (CmpOp::Ne, _) => "is not",
        (CmpOp::Lt, Some(Ty::Date)) => "is before",
        (CmpOp::Le, Some(Ty::Date)) => "is on or before",
        (CmpOp::Gt, Some(Ty::Date)) => "is after",
        (CmpOp::Ge, Some(Ty::Date)) => "is on or after",
        (CmpOp::Lt, _) => "is under",
        (CmpOp::Le, _) => "is at most",
        (CmpOp::Gt, _) => "is over",
        (CmpOp::Ge, _) => "is at least",
    }
}

fn action_words(a: Action) -> &'static str {
    match a {
        Action::Select => "include them",
        Action::Reject => "leave them out",
        Action::Next => "go on to the next rule",
    }
}

fn amount_words(n: u64, unit: Unit) -> String {
    let (one, many) = match unit {
        Unit::Days => ("day", "days"),
        Unit::Months => ("month", "months"),
        Unit::Years => ("year", "years"),
    };
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `31 March 2025`.
fn date_words(d: &DateLit) -> String {
    let month = MONTHS
        .get(usize::from(d.0.month).wrapping_sub(1))
        .copied()
        .unwrap_or("?");
    format!("{} {month} {}", d.0.day, d.0.year)
}

fn number_words(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// `A`, `A and B`, `A, B and C`.
fn list_words(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
