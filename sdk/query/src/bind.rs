//! Binding a query to a practice and its parameters' values: names
//! resolved, variables compiled to the slots the evaluation fills, windows
//! fixed where they name only parameters, populations ordered.

use crate::ast::*;
use crate::dates;
use crate::eval::{Val, eval};
use crate::expr::Expr;
use crate::parse::param_value_text;
use gpes_model::{Date, Table};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Why a query could not be bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    #[error("the query needs parameter '{0}', which has no default and was not given")]
    MissingParameter(String),
    #[error("the query has no parameter '{0}'")]
    UnknownParameter(String),
    #[error("parameter '{name}' is '{value}': {reason}")]
    BadParameter {
        name: String,
        value: String,
        reason: String,
    },
    #[error("{0} falls outside the years 1 to 9999")]
    DateOutOfRange(String),
    #[error("{0} is not a number")]
    BadValueBound(String),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum NameRef {
    AllPatients,
    Param(ParamValue),
    Variable(usize),
    Population(usize),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Compiled {
    Events {
        aggregate: EventAggregate,
        /// Inclusive bounds, as whole dates.
        from: Option<Date>,
        to: Option<Date>,
        ties: Ties,
        /// The pass over the data that computes this variable (0 first).
        pass: u32,
        /// For a variable bounded by other variables: its window, in
        /// `BoundQuery::dynamic`, worked out per patient.
        dynamic: Option<usize>,
        /// Only events with a value, in this range.
        value: Option<ValueFilter>,
        /// How many clusters a same-day variable reads (1 otherwise).
        clusters: u8,
    },
    Age(Date),
    Sex,
    DateOfBirth,
    DateOfDeath,
    Registered(Date),
    RegistrationType(Date),
    RegistrationStart(Date),
}

/// The range of values an event must have to count, bounds fixed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ValueFilter {
    pub from: Option<(f64, bool)>,
    pub to: Option<(f64, bool)>,
}

impl ValueFilter {
    /// Whether an event's value lets it count.
    pub fn admits(&self, value: Option<f64>) -> bool {
        let Some(x) = value else { return false };
        self.from
            .is_none_or(|(f, inc)| if inc { x >= f } else { x > f })
            && self
                .to
                .is_none_or(|(t, inc)| if inc { x <= t } else { x < t })
    }
}

fn fixed_number(
    e: &Expr,
    params: &BTreeMap<String, ParamValue>,
    what: &str,
) -> Result<f64, BindError> {
    let v = eval(e, &|n| match params.get(n) {
        Some(ParamValue::Date(d)) => Val::Date(d.0),
        Some(ParamValue::Number(x)) => Val::Num(*x),
        None => Val::Null,
    });
    match v {
        Val::Num(x) => Ok(x),
        _ => Err(BindError::BadValueBound(what.to_owned())),
    }
}

/// A query bound to one practice and its parameters' values, ready to run.
#[derive(Debug, Clone)]
pub struct BoundQuery {
    pub(crate) spec: QuerySpec,
    pub(crate) practice: String,
    pub(crate) params: BTreeMap<String, ParamValue>,
    pub(crate) vars: Vec<Compiled>,
    /// (table, code) -> the variables whose clusters hold the code, each
    /// with the index of the cluster among the variable's (0 but for the
    /// same-day kinds).
    pub(crate) by_code: HashMap<(Table, u64), Vec<(usize, u8)>>,
    /// Populations in an order where each comes after those it uses.
    pub(crate) order: Vec<usize>,
    pub(crate) age_bands: Option<(Date, Vec<u32>)>,
    pub(crate) by_sex: bool,
    /// What each name in a condition stands for.
    pub(crate) names: HashMap<String, NameRef>,
    /// Indices of the output's populations, in its order.
    pub(crate) outputs: Vec<usize>,
    pub(crate) exclusions: BTreeSet<u64>,
    /// Windows that name variables.
    pub(crate) dynamic: Vec<Window>,
    pub(crate) passes: u32,
}

fn fixed_date(
    e: &Expr,
    params: &BTreeMap<String, ParamValue>,
    what: &str,
) -> Result<Date, BindError> {
    let v = eval(e, &|n| match params.get(n) {
        Some(ParamValue::Date(d)) => Val::Date(d.0),
        Some(ParamValue::Number(x)) => Val::Num(*x),
        None => Val::Null,
    });
    match v {
        Val::Date(d) => Ok(d),
        _ => Err(BindError::DateOutOfRange(what.to_owned())),
    }
}

impl QuerySpec {
    /// Binds the query to a practice, with the parameters' values as text
    /// (dates `YYYY-MM-DD`); parameters not given take their defaults.
    pub fn bind(
        &self,
        practice: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<BoundQuery, BindError> {
        for name in parameters.keys() {
            if self.parameter(name).is_none() {
                return Err(BindError::UnknownParameter(name.clone()));
            }
        }
        let mut params = BTreeMap::new();
        for p in &self.parameters {
            let v = match parameters.get(&p.name) {
                Some(text) => {
                    param_value_text(p.ty, text).map_err(|reason| BindError::BadParameter {
                        name: p.name.clone(),
                        value: text.clone(),
                        reason,
                    })?
                }
                None => p
                    .default
                    .ok_or_else(|| BindError::MissingParameter(p.name.clone()))?,
            };
            params.insert(p.name.clone(), v);
        }
        let mut vars = Vec::new();
        let mut dynamic = Vec::new();
        let pass_of =
            crate::validate::passes_of(self).unwrap_or_else(|| vec![0; self.variables.len()]);
        let mut by_code: HashMap<(Table, u64), Vec<(usize, u8)>> = HashMap::new();
        for (i, v) in self.variables.iter().enumerate() {
            let what = |part: &str| format!("the {part} of variable '{}'", v.name);
            let c = match &v.def {
                VariableDef::Events {
                    aggregate,
                    window,
                    ties,
                    value,
                    ..
                } => {
                    let names = v.def.clusters();
                    for (bit, (name, _)) in names.iter().enumerate() {
                        if let Some(c) = self.cluster(name) {
                            let table = table_of(c.system);
                            for code in &c.codes {
                                by_code
                                    .entry((table, *code))
                                    .or_default()
                                    .push((i, bit as u8));
                            }
                        }
                    }
                    let value = match value {
                        None => None,
                        Some(r) => {
                            let bound = |b: &Option<ValueBound>, part: &str| match b {
                                None => Ok(None),
                                Some(b) => fixed_number(&b.value, &params, &what(part))
                                    .map(|x| Some((x, b.inclusive))),
                            };
                            Some(ValueFilter {
                                from: bound(&r.from, "lowest value")?,
                                to: bound(&r.to, "highest value")?,
                            })
                        }
                    };
                    let (from, to, dynamic) = if pass_of[i] > 0 {
                        dynamic.push(window.clone());
                        (None, None, Some(dynamic.len() - 1))
                    } else {
                        let from = match &window.from {
                            None => None,
                            Some(b) => {
                                let d = fixed_date(&b.date, &params, &what("start"))?;
                                Some(if b.inclusive {
                                    d
                                } else {
                                    dates::add_days(d, 1)
                                        .ok_or_else(|| BindError::DateOutOfRange(what("start")))?
                                })
                            }
                        };
                        let to = match &window.to {
                            None => None,
                            Some(b) => {
                                let d = fixed_date(&b.date, &params, &what("end"))?;
                                Some(if b.inclusive {
                                    d
                                } else {
                                    dates::add_days(d, -1)
                                        .ok_or_else(|| BindError::DateOutOfRange(what("end")))?
                                })
                            }
                        };
                        (from, to, None)
                    };
                    Compiled::Events {
                        aggregate: *aggregate,
                        from,
                        to,
                        ties: *ties,
                        pass: pass_of[i],
                        dynamic,
                        value,
                        clusters: names.len() as u8,
                    }
                }
                VariableDef::Age { on } => Compiled::Age(fixed_date(on, &params, &what("date"))?),
                VariableDef::Sex => Compiled::Sex,
                VariableDef::DateOfBirth => Compiled::DateOfBirth,
                VariableDef::DateOfDeath => Compiled::DateOfDeath,
                VariableDef::Registered { on } => {
                    Compiled::Registered(fixed_date(on, &params, &what("date"))?)
                }
                VariableDef::RegistrationType { on } => {
                    Compiled::RegistrationType(fixed_date(on, &params, &what("date"))?)
                }
                VariableDef::RegistrationStart { on } => {
                    Compiled::RegistrationStart(fixed_date(on, &params, &what("date"))?)
                }
            };
            vars.push(c);
        }
        let mut age_bands = None;
        let mut by_sex = false;
        if let Output::Aggregate { breakdown, .. } = &self.output {
            for b in breakdown {
                match b {
                    Breakdown::Sex => by_sex = true,
                    Breakdown::AgeBands { on, bounds } => {
                        let d = fixed_date(on, &params, "the date of the age bands")?;
                        age_bands = Some((d, bounds.clone()));
                    }
                }
            }
        }
        let mut names = HashMap::new();
        names.insert("all_patients".to_owned(), NameRef::AllPatients);
        for (n, v) in &params {
            names.insert(n.clone(), NameRef::Param(*v));
        }
        for (i, v) in self.variables.iter().enumerate() {
            names.insert(v.name.clone(), NameRef::Variable(i));
        }
        for (i, p) in self.populations.iter().enumerate() {
            names.insert(p.name.clone(), NameRef::Population(i));
        }
        let index = |name: &String| self.populations.iter().position(|p| &p.name == name);
        let outputs = match &self.output {
            Output::Aggregate { populations, .. } => populations.iter().filter_map(index).collect(),
            Output::RecordLevel { population, .. } => index(population).into_iter().collect(),
        };
        let passes = pass_of.iter().max().map_or(1, |p| p + 1);
        Ok(BoundQuery {
            names,
            outputs,
            dynamic,
            passes,
            order: population_order(self),
            spec: self.clone(),
            practice: practice.to_owned(),
            params,
            vars,
            by_code,
            age_bands,
            by_sex,
            exclusions: BTreeSet::new(),
        })
    }
}

pub(crate) fn table_of(system: CodeSystem) -> Table {
    match system {
        CodeSystem::Snomed => Table::Events,
        CodeSystem::Dmd => Table::Medications,
    }
}

/// A topological order of the populations (validation has refused cycles).
fn population_order(q: &QuerySpec) -> Vec<usize> {
    let index: HashMap<&str, usize> = q
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
    let mut done = vec![false; deps.len()];
    let mut order = Vec::new();
    for start in 0..deps.len() {
        let mut stack = vec![(start, 0usize)];
        while let Some((n, next)) = stack.last().copied() {
            if done[n] {
                stack.pop();
                continue;
            }
            if next < deps[n].len() {
                stack.last_mut().expect("non-empty").1 += 1;
                let d = deps[n][next];
                if !done[d] && !stack.iter().any(|(s, _)| *s == d) {
                    stack.push((d, 0));
                }
            } else {
                done[n] = true;
                order.push(n);
                stack.pop();
            }
        }
    }
    order
}

impl BoundQuery {
    /// Adds a policy exclusion: a patient with any event (any date) whose
    /// SNOMED CT code is in `codes` is removed before any rule is applied,
    /// and counted in [`Answer::excluded_by_policy`].
    pub fn with_exclusion(mut self, codes: impl IntoIterator<Item = u64>) -> BoundQuery {
        self.exclusions.extend(codes);
        self
    }

    pub fn spec(&self) -> &QuerySpec {
        &self.spec
    }

    pub fn practice(&self) -> &str {
        &self.practice
    }

    /// The parameters' values the query was bound with.
    pub fn parameters(&self) -> &BTreeMap<String, ParamValue> {
        &self.params
    }

    pub(crate) fn exclusions(&self) -> &BTreeSet<u64> {
        &self.exclusions
    }

    /// The inclusive window variable `i` was compiled to, if it reads events.
    pub(crate) fn window_of(&self, i: usize) -> Option<(Option<Date>, Option<Date>)> {
        match self.vars.get(i)? {
            Compiled::Events {
                from, to, pass: 0, ..
            } => Some((*from, *to)),
            _ => None,
        }
    }

    /// How many passes over the data the query takes: 1, or more when a
    /// variable's window names another variable. Each later pass is a new
    /// extraction with the narrower request [`Evaluation::end_pass`]
    /// returns.
    pub fn passes(&self) -> u32 {
        self.passes
    }
}
