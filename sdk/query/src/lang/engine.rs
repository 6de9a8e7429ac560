//! Binding a query to a practice and its parameters, and the streaming
//! evaluation: records in any order update a small state per patient (one
//! slot per variable); when the stream ends the ordered rules run per
//! patient. Memory grows with patients × variables, never with events.

use super::ast::*;
use super::dates::{self, key};
use super::expr::{CmpOp, Expr, ExprKind, Unit};
use super::needs::Needs;
use super::parse::param_value_text;
use gpes_model::{Date, Record, RegistrationType, Sex, Table};
use serde::Serialize;
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
}

#[derive(Debug, Clone, Copy)]
enum NameRef {
    AllPatients,
    Param(ParamValue),
    Variable(usize),
    Population(usize),
}

#[derive(Debug, Clone, Copy)]
enum Compiled {
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
    },
    Age(Date),
    Sex,
    DateOfBirth,
    DateOfDeath,
    Registered(Date),
    RegistrationType(Date),
    RegistrationStart(Date),
}

/// A query bound to one practice and its parameters' values, ready to run.
#[derive(Debug, Clone)]
pub struct BoundQuery {
    spec: QuerySpec,
    practice: String,
    params: BTreeMap<String, ParamValue>,
    vars: Vec<Compiled>,
    /// (table, code) -> the variables whose cluster holds the code.
    by_code: HashMap<(Table, u64), Vec<usize>>,
    /// Populations in an order where each comes after those it uses.
    order: Vec<usize>,
    age_bands: Option<(Date, Vec<u32>)>,
    by_sex: bool,
    /// What each name in a condition stands for.
    names: HashMap<String, NameRef>,
    /// Indices of the output's populations, in its order.
    outputs: Vec<usize>,
    exclusions: BTreeSet<u64>,
    /// Windows that name variables.
    dynamic: Vec<Window>,
    passes: u32,
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
            super::validate::passes_of(self).unwrap_or_else(|| vec![0; self.variables.len()]);
        let mut by_code: HashMap<(Table, u64), Vec<usize>> = HashMap::new();
        for (i, v) in self.variables.iter().enumerate() {
            let what = |part: &str| format!("the {part} of variable '{}'", v.name);
            let c = match &v.def {
                VariableDef::Events {
                    aggregate,
                    cluster,
                    window,
                    ties,
                    ..
                } if pass_of[i] > 0 => {
                    if let Some(c) = self.cluster(cluster) {
                        let table = table_of(c.system);
                        for code in &c.codes {
                            by_code.entry((table, *code)).or_default().push(i);
                        }
                    }
                    dynamic.push(window.clone());
                    Compiled::Events {
                        aggregate: *aggregate,
                        from: None,
                        to: None,
                        ties: *ties,
                        pass: pass_of[i],
                        dynamic: Some(dynamic.len() - 1),
                    }
                }
                VariableDef::Events {
                    aggregate,
                    cluster,
                    window,
                    ties,
                    ..
                } => {
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
                    if let Some(c) = self.cluster(cluster) {
                        let table = table_of(c.system);
                        for code in &c.codes {
                            by_code.entry((table, *code)).or_default().push(i);
                        }
                    }
                    Compiled::Events {
                        aggregate: *aggregate,
                        from,
                        to,
                        ties: *ties,
                        pass: 0,
                        dynamic: None,
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
    /// extraction with the narrower request [`LangEvaluation::end_pass`]
    /// returns.
    pub fn passes(&self) -> u32 {
        self.passes
    }

    /// The inclusive window of a variable bounded by other variables, for
    /// one patient: `None` when a bound is null (nothing matches).
    fn dynamic_window<'a>(
        &'a self,
        d: usize,
        st: &'a PatientState,
    ) -> Option<(Option<Date>, Option<Date>)> {
        let w: &'a Window = &self.dynamic[d];
        let lookup = |n: &str| -> Val<'a> {
            match self.names.get(n) {
                Some(NameRef::Param(ParamValue::Date(d))) => Val::Date(d.0),
                Some(NameRef::Param(ParamValue::Number(x))) => Val::Num(*x),
                Some(NameRef::Variable(i)) => value_of(&self.vars[*i], &st.slots[*i], st),
                _ => Val::Null,
            }
        };
        let bound = |b: Option<&'a Bound>, step: i64| -> Option<Option<Date>> {
            match b {
                None => Some(None),
                Some(b) => match eval(&b.date, &lookup) {
                    Val::Date(d) if b.inclusive => Some(Some(d)),
                    Val::Date(d) => dates::add_days(d, step).map(Some),
                    _ => None,
                },
            }
        };
        Some((bound(w.from.as_ref(), 1)?, bound(w.to.as_ref(), -1)?))
    }

    /// A fresh streaming evaluation.
    pub fn evaluation(&self) -> LangEvaluation {
        LangEvaluation {
            query: self.clone(),
            patients: HashMap::new(),
            pass: 0,
        }
    }

    /// Evaluates over records already in memory (tests, small inputs).
    pub fn evaluate<'a>(&self, records: impl IntoIterator<Item = &'a Record>) -> Answer {
        let records: Vec<&Record> = records.into_iter().collect();
        let mut e = self.evaluation();
        loop {
            for r in &records {
                crate::Evaluation::push(&mut e, r);
            }
            if e.end_pass().is_none() {
                break;
            }
        }
        crate::Evaluation::finish(e)
    }
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Date(Option<Date>),
    Value(Option<(Date, f64)>),
    Count(u64),
    Exists(bool),
    Reg {
        regular: bool,
        temporary: bool,
        start: Option<Date>,
    },
    Patient,
}

#[derive(Debug)]
struct PatientState {
    has_record: bool,
    dob: Option<Date>,
    sex: Option<Sex>,
    death: Option<Date>,
    /// Dead on an unknown date: dead on every date (SPEC.md 4).
    death_unknown: bool,
    nhs_number: Option<String>,
    excluded: bool,
    slots: Box<[Slot]>,
}

/// Streaming evaluation of a [`BoundQuery`].
#[derive(Debug)]
pub struct LangEvaluation {
    query: BoundQuery,
    patients: HashMap<String, PatientState>,
    /// The pass under way (0 first).
    pass: u32,
}

impl LangEvaluation {
    /// Ends the pass under way. When the query takes another pass
    /// ([`BoundQuery::passes`]), returns what that pass needs from the data
    /// (only the codes of the variables it computes, with the widest window
    /// any patient's values give; no whole tables): the host extracts again
    /// with it and pushes the new records into this same evaluation. `None`
    /// when every pass is done and [`crate::Evaluation::finish`] may be
    /// called.
    pub fn end_pass(&mut self) -> Option<Needs> {
        if self.pass + 1 >= self.query.passes {
            return None;
        }
        self.pass += 1;
        let q = &self.query;
        let mut items = Vec::new();
        for (i, v) in q.vars.iter().enumerate() {
            let Compiled::Events {
                pass,
                dynamic: Some(d),
                ..
            } = *v
            else {
                continue;
            };
            if pass != self.pass {
                continue;
            }
            let Some(VariableDef::Events { cluster, .. }) = q.spec.variables.get(i).map(|v| &v.def)
            else {
                continue;
            };
            let Some(c) = q.spec.cluster(cluster) else {
                continue;
            };
            // The widest window over the patients still in the running.
            let mut wide: Option<(Option<Date>, Option<Date>)> = None;
            for st in self
                .patients
                .values()
                .filter(|s| s.has_record && !s.excluded)
            {
                if let Some((f, t)) = q.dynamic_window(d, st) {
                    if f.zip(t).is_some_and(|(f, t)| key(&f) > key(&t)) {
                        continue;
                    }
                    wide = Some(match wide {
                        None => (f, t),
                        Some((wf, wt)) => (
                            wf.zip(f)
                                .map(|(a, b)| if key(&a) <= key(&b) { a } else { b }),
                            wt.zip(t)
                                .map(|(a, b)| if key(&a) >= key(&b) { a } else { b }),
                        ),
                    });
                }
            }
            if let Some((f, t)) = wide {
                items.push((table_of(c.system), c.codes.clone(), f, t));
            }
        }
        Some(Needs {
            tables: Vec::new(),
            code_sets: super::needs::merge(items),
        })
    }

    /// The pass under way (0 first).
    pub fn pass(&self) -> u32 {
        self.pass
    }

    fn state(&mut self, id: &str) -> &mut PatientState {
        if !self.patients.contains_key(id) {
            let slots = self
                .query
                .vars
                .iter()
                .map(|v| match v {
                    Compiled::Events { aggregate, .. } => match aggregate {
                        EventAggregate::Earliest | EventAggregate::Latest => Slot::Date(None),
                        EventAggregate::EarliestValue | EventAggregate::LatestValue => {
                            Slot::Value(None)
                        }
                        EventAggregate::Count => Slot::Count(0),
                        EventAggregate::Exists => Slot::Exists(false),
                    },
                    Compiled::Registered(_)
                    | Compiled::RegistrationType(_)
                    | Compiled::RegistrationStart(_) => Slot::Reg {
                        regular: false,
                        temporary: false,
                        start: None,
                    },
                    _ => Slot::Patient,
                })
                .collect();
            self.patients.insert(
                id.to_owned(),
                PatientState {
                    has_record: false,
                    dob: None,
                    sex: None,
                    death: None,
                    death_unknown: false,
                    nhs_number: None,
                    excluded: false,
                    slots,
                },
            );
        }
        self.patients.get_mut(id).expect("inserted above")
    }

    fn coded(&mut self, table: Table, patient: &str, code: u64, date: Date, value: Option<f64>) {
        let excluded = table == Table::Events && self.query.exclusions.contains(&code);
        let matching = self.query.by_code.contains_key(&(table, code));
        if !matching && !excluded {
            return;
        }
        self.state(patient);
        let LangEvaluation {
            query,
            patients,
            pass: current,
        } = self;
        let Some(st) = patients.get_mut(patient) else {
            return;
        };
        st.excluded |= excluded;
        let Some(idx) = query.by_code.get(&(table, code)) else {
            return;
        };
        let k = key(&date);
        for &i in idx {
            let Compiled::Events {
                aggregate,
                mut from,
                mut to,
                ties,
                pass,
                dynamic,
            } = query.vars[i]
            else {
                continue;
            };
            if pass != *current {
                continue;
            }
            if let Some(d) = dynamic {
                match query.dynamic_window(d, st) {
                    Some((f, t)) => (from, to) = (f, t),
                    None => continue,
                }
            }
            if from.is_some_and(|f| k < key(&f)) || to.is_some_and(|t| k > key(&t)) {
                continue;
            }
            update(&mut st.slots[i], aggregate, ties, date, value);
        }
    }
}

/// Folds one matching event (its date already known to be in the window)
/// into a variable's slot.
fn update(slot: &mut Slot, aggregate: EventAggregate, ties: Ties, date: Date, value: Option<f64>) {
    let k = key(&date);
    match (aggregate, slot) {
        (EventAggregate::Earliest, Slot::Date(d)) if d.is_none_or(|d| k < key(&d)) => {
            *d = Some(dates::whole(date));
        }
        (EventAggregate::Latest, Slot::Date(d)) if d.is_none_or(|d| k > key(&d)) => {
            *d = Some(dates::whole(date));
        }
        (EventAggregate::EarliestValue | EventAggregate::LatestValue, Slot::Value(cur)) => {
            let Some(x) = value else { return };
            let better = match cur {
                None => true,
                Some((d, old)) => {
                    let kd = key(d);
                    if k == kd {
                        match ties {
                            Ties::Lowest => x < *old,
                            Ties::Highest => x > *old,
                        }
                    } else {
                        (k > kd) == (aggregate == EventAggregate::LatestValue)
                    }
                }
            };
            if better {
                *cur = Some((dates::whole(date), x));
            }
        }
        (EventAggregate::Count, Slot::Count(n)) => *n += 1,
        (EventAggregate::Exists, Slot::Exists(b)) => *b = true,
        _ => {}
    }
}

impl crate::Evaluation for LangEvaluation {
    type Output = Answer;

    fn push(&mut self, record: &Record) {
        match record {
            Record::Patient(p) => {
                let keep_nhs = self.query.wants_nhs_number();
                let st = self.state(&p.id);
                st.has_record = true;
                st.dob = p.date_of_birth;
                st.sex = Some(p.sex);
                st.death = p.date_of_death;
                st.death_unknown = p.death_date_unknown;
                if keep_nhs {
                    st.nhs_number.clone_from(&p.nhs_number);
                }
            }
            Record::Registration(r) => {
                if r.practice != self.query.practice {
                    return;
                }
                let covering: Vec<(usize, bool)> = self
                    .query
                    .vars
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| match v {
                        Compiled::Registered(d)
                        | Compiled::RegistrationType(d)
                        | Compiled::RegistrationStart(d) => {
                            let covers = key(&r.start) <= key(d)
                                && r.end.is_none_or(|end| key(d) < key(&end));
                            covers.then_some((i, r.kind == RegistrationType::Regular))
                        }
                        _ => None,
                    })
                    .collect();
                if covering.is_empty() {
                    return;
                }
                let st = self.state(&r.patient_id);
                for (i, regular_kind) in covering {
                    if let Slot::Reg {
                        regular,
                        temporary,
                        start,
                    } = &mut st.slots[i]
                    {
                        if regular_kind {
                            *regular = true;
                            if start.is_none_or(|s| key(&r.start) > key(&s)) {
                                *start = Some(r.start);
                            }
                        } else {
                            *temporary = true;
                        }
                    }
                }
            }
            Record::Event(e) => self.coded(Table::Events, &e.patient_id, e.code, e.date, e.value),
            Record::Medication(m) => self.coded(
                Table::Medications,
                &m.patient_id,
                m.code,
                m.date,
                m.quantity,
            ),
        }
    }

    fn finish(self) -> Answer {
        let q = &self.query;
        let mut ids: Vec<&String> = self.patients.keys().collect();
        ids.sort();
        let mut answer = Answer {
            output: match &q.spec.output {
                Output::Aggregate { .. } => ResultOutput::Aggregate(AggregateResult::default()),
                Output::RecordLevel { columns, .. } => {
                    ResultOutput::RecordLevel(RecordLevelResult {
                        columns: columns.iter().map(|c| (c.name.clone(), c.class)).collect(),
                        rows: Vec::new(),
                    })
                }
            },
            patients_evaluated: 0,
            passes: self.pass + 1,
            excluded_by_policy: 0,
            records_without_patient: 0,
        };
        // (population, sex, band) -> count
        let mut cells: BTreeMap<(usize, Option<&'static str>, Option<String>), u64> =
            BTreeMap::new();
        let mut totals = vec![0u64; q.spec.populations.len()];
        for id in ids {
            let st = &self.patients[id];
            if !st.has_record {
                answer.records_without_patient += 1;
                continue;
            }
            if st.excluded {
                answer.excluded_by_policy += 1;
                continue;
            }
            answer.patients_evaluated += 1;
            let values: Vec<Val<'_>> = q
                .vars
                .iter()
                .zip(st.slots.iter())
                .map(|(v, s)| value_of(v, s, st))
                .collect();
            let member = q.memberships(&values);
            match &q.spec.output {
                Output::Aggregate { .. } => {
                    let sex = q.by_sex.then(|| sex_name(st.sex));
                    let band = q.age_bands.as_ref().map(|(on, bounds)| {
                        band_name(st.dob.and_then(|dob| dates::age_on(&dob, on)), bounds)
                    });
                    for &pi in &q.outputs {
                        if member[pi] {
                            totals[pi] += 1;
                            if sex.is_some() || band.is_some() {
                                *cells.entry((pi, sex, band.clone())).or_default() += 1;
                            }
                        }
                    }
                }
                Output::RecordLevel {
                    population,
                    columns,
                    ..
                } => {
                    let Some(pi) = q
                        .spec
                        .populations
                        .iter()
                        .position(|p| &p.name == population)
                    else {
                        continue;
                    };
                    if !member[pi] {
                        continue;
                    }
                    let row = columns
                        .iter()
                        .map(|c| match &c.value {
                            ColumnValue::NhsNumber => {
                                st.nhs_number.clone().map_or(OutValue::Null, OutValue::Text)
                            }
                            ColumnValue::PatientId => OutValue::Text(id.clone()),
                            ColumnValue::Variable(v) => match q.names.get(v) {
                                Some(NameRef::Variable(i)) => values[*i].out(),
                                _ => OutValue::Null,
                            },
                        })
                        .collect();
                    if let ResultOutput::RecordLevel(r) = &mut answer.output {
                        r.rows.push(row);
                    }
                }
            }
        }
        if let (ResultOutput::Aggregate(a), Output::Aggregate { populations, .. }) =
            (&mut answer.output, &q.spec.output)
        {
            for name in populations {
                let Some(pi) = q.spec.populations.iter().position(|p| &p.name == name) else {
                    continue;
                };
                a.populations.push(PopulationCount {
                    population: name.clone(),
                    count: totals[pi],
                    cells: cells
                        .iter()
                        .filter(|((p, _, _), _)| *p == pi)
                        .map(|((_, sex, band), n)| Cell {
                            sex: sex.map(str::to_owned),
                            age_band: band.clone(),
                            count: *n,
                        })
                        .collect(),
                });
            }
        }
        answer
    }
}

impl BoundQuery {
    fn wants_nhs_number(&self) -> bool {
        matches!(&self.spec.output, Output::RecordLevel { columns, .. }
            if columns.iter().any(|c| c.value == ColumnValue::NhsNumber))
    }

    /// Membership of every population for one patient's values.
    fn memberships(&self, values: &[Val<'_>]) -> Vec<bool> {
        let pops = &self.spec.populations;
        let mut member = vec![false; pops.len()];
        let lookup = |member: &[bool], n: &str| -> Val<'_> {
            match self.names.get(n) {
                Some(NameRef::AllPatients) => Val::Bool(true),
                Some(NameRef::Param(ParamValue::Date(d))) => Val::Date(d.0),
                Some(NameRef::Param(ParamValue::Number(x))) => Val::Num(*x),
                Some(NameRef::Variable(i)) => values[*i],
                Some(NameRef::Population(i)) => Val::Bool(member[*i]),
                None => Val::Null,
            }
        };
        for &pi in &self.order {
            let p = &pops[pi];
            let mut inside = matches!(lookup(&member, &p.from), Val::Bool(true));
            if inside {
                for r in &p.rules {
                    let cond = eval(&r.when, &|n| lookup(&member, n));
                    let action = if matches!(cond, Val::Bool(true)) {
                        r.then
                    } else {
                        r.otherwise
                    };
                    match action {
                        Action::Select => break,
                        Action::Reject => {
                            inside = false;
                            break;
                        }
                        Action::Next => {}
                    }
                }
            }
            member[pi] = inside;
        }
        member
    }
}

fn sex_name(s: Option<Sex>) -> &'static str {
    match s {
        Some(Sex::Male) => "male",
        Some(Sex::Female) => "female",
        Some(Sex::Other) => "other",
        Some(Sex::Unknown) | None => "unknown",
    }
}

fn band_name(age: Option<i64>, bounds: &[u32]) -> String {
    let Some(age) = age else {
        return "unknown".into();
    };
    for w in bounds.windows(2) {
        if age >= i64::from(w[0]) && age < i64::from(w[1]) {
            return format!("{}-{}", w[0], w[1] - 1);
        }
    }
    format!("{}+", bounds.last().copied().unwrap_or(0))
}

fn value_of<'a>(v: &Compiled, s: &Slot, st: &'a PatientState) -> Val<'a> {
    let dead_by = |d: &Date| st.death_unknown || st.death.is_some_and(|x| key(&x) <= key(d));
    match (v, s) {
        (_, Slot::Date(d)) => d.map_or(Val::Null, Val::Date),
        (_, Slot::Value(x)) => x.map_or(Val::Null, |(_, x)| Val::Num(x)),
        (_, Slot::Count(n)) => Val::Num(*n as f64),
        (_, Slot::Exists(b)) => Val::Bool(*b),
        (Compiled::Registered(d), Slot::Reg { regular, .. }) => {
            Val::Bool(*regular && st.has_record && !dead_by(d))
        }
        (
            Compiled::RegistrationType(_),
            Slot::Reg {
                regular, temporary, ..
            },
        ) => {
            if *regular {
                Val::Text("regular")
            } else if *temporary {
                Val::Text("temporary")
            } else {
                Val::Null
            }
        }
        (Compiled::RegistrationStart(_), Slot::Reg { start, .. }) => {
            start.map_or(Val::Null, Val::Date)
        }
        (Compiled::Age(on), _) => st
            .dob
            .and_then(|dob| dates::age_on(&dob, on))
            .map_or(Val::Null, |a| Val::Num(a as f64)),
        (Compiled::Sex, _) => st.sex.map_or(Val::Null, |s| Val::Text(sex_name(Some(s)))),
        (Compiled::DateOfBirth, _) => st.dob.map_or(Val::Null, |d| Val::Date(dates::whole(d))),
        (Compiled::DateOfDeath, _) => st.death.map_or(Val::Null, |d| Val::Date(dates::whole(d))),
        _ => Val::Null,
    }
}

/// A value during evaluation; `Null` is the unknown of three-valued logic.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Val<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Date(Date),
    Text(&'a str),
}

impl Val<'_> {
    fn out(&self) -> OutValue {
        match self {
            Val::Null => OutValue::Null,
            Val::Bool(b) => OutValue::Bool(*b),
            Val::Num(x) => OutValue::Number(*x),
            Val::Date(d) => OutValue::Text(d.to_string()),
            Val::Text(t) => OutValue::Text((*t).to_owned()),
        }
    }
}

fn eval<'a>(e: &'a Expr, lookup: &dyn Fn(&str) -> Val<'a>) -> Val<'a> {
    match &e.kind {
        ExprKind::Number(x) => Val::Num(*x),
        ExprKind::Date(d) => Val::Date(d.0),
        ExprKind::Text(t) => Val::Text(t),
        ExprKind::Bool(b) => Val::Bool(*b),
        ExprKind::Name(n) => lookup(n),
        ExprKind::Not(inner) => match eval(inner, lookup) {
            Val::Bool(b) => Val::Bool(!b),
            _ => Val::Null,
        },
        // Kleene: a false (for and; true for or) decides; else any null
        // makes null.
        ExprKind::And(items) | ExprKind::Or(items) => {
            let decisive = matches!(e.kind, ExprKind::Or(_));
            let mut unknown = false;
            for item in items {
                match eval(item, lookup) {
                    Val::Bool(b) if b == decisive => return Val::Bool(decisive),
                    Val::Bool(_) => {}
                    _ => unknown = true,
                }
            }
            if unknown {
                Val::Null
            } else {
                Val::Bool(!decisive)
            }
        }
        ExprKind::IsNull { expr, negated } => {
            Val::Bool((eval(expr, lookup) == Val::Null) != *negated)
        }
        ExprKind::Shift { date, amount, unit } => match eval(date, lookup) {
            Val::Date(d) => match unit {
                Unit::Days => dates::add_days(d, *amount),
                Unit::Months => dates::add_months(d, *amount),
                Unit::Years => dates::add_years(d, *amount),
            }
            .map_or(Val::Null, Val::Date),
            _ => Val::Null,
        },
        ExprKind::Compare { op, left, right } => {
            use std::cmp::Ordering;
            let ord: Option<Ordering> = match (eval(left, lookup), eval(right, lookup)) {
                (Val::Num(a), Val::Num(b)) => a.partial_cmp(&b),
                (Val::Date(a), Val::Date(b)) => Some(key(&a).cmp(&key(&b))),
                (Val::Text(a), Val::Text(b)) => Some(a.cmp(b)),
                (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(&b)),
                _ => None,
            };
            match ord {
                None => Val::Null,
                Some(o) => Val::Bool(match op {
                    CmpOp::Lt => o.is_lt(),
                    CmpOp::Le => o.is_le(),
                    CmpOp::Gt => o.is_gt(),
                    CmpOp::Ge => o.is_ge(),
                    CmpOp::Eq => o.is_eq(),
                    CmpOp::Ne => o.is_ne(),
                }),
            }
        }
    }
}

/// One value of a record-level row.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OutValue {
    Null,
    Bool(bool),
    Number(f64),
    /// Text, and dates as `YYYY-MM-DD`.
    Text(String),
}

/// A count of one population's patients in one cell of the breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub sex: Option<String>,
    pub age_band: Option<String>,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PopulationCount {
    pub population: String,
    pub count: u64,
    /// Non-empty cells of the breakdown, sorted; empty without one.
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AggregateResult {
    /// In the order the output names them.
    pub populations: Vec<PopulationCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordLevelResult {
    pub columns: Vec<(String, DataClass)>,
    /// One row per selected patient, sorted by patient id.
    pub rows: Vec<Vec<OutValue>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultOutput {
    Aggregate(AggregateResult),
    RecordLevel(RecordLevelResult),
}

/// The answer of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub output: ResultOutput,
    /// Patients with a record in the patients table, less those excluded.
    pub patients_evaluated: u64,
    /// Passes over the data the answer took; less than
    /// [`BoundQuery::passes`] only if `finish` came early, when the
    /// variables of the missing passes are left null, 0 or false.
    pub passes: u32,
    /// Patients removed by a policy exclusion before any rule.
    pub excluded_by_policy: u64,
    /// Patient ids seen in records the query reads but with no patient
    /// record (not evaluated).
    pub records_without_patient: u64,
}

impl Answer {
    /// The count of a population in an aggregate answer.
    pub fn count(&self, population: &str) -> Option<u64> {
        match &self.output {
            ResultOutput::Aggregate(a) => a
                .populations
                .iter()
                .find(|p| p.population == population)
                .map(|p| p.count),
            ResultOutput::RecordLevel(_) => None,
        }
    }
}
