//! The streaming evaluation: records in any order update a small state per
//! patient (one slot per variable); when the stream ends the ordered rules
//! run per patient. Memory grows with patients × variables, never with
//! events.

use crate::answer::*;
use crate::ast::*;
use crate::bind::{BoundQuery, Compiled, NameRef, table_of};
use crate::dates::{self, key};
use crate::expr::{CmpOp, Expr, ExprKind, Unit};
use crate::needs::Needs;
use gpes_model::{Date, FirstDay, Record, RegistrationType, Sex, Table};
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Clone)]
enum Slot {
    Date(Option<Date>),
    Value(Option<(Date, f64)>),
    Count(u64),
    Exists(bool),
    /// The lowest or highest value so far.
    Extreme(Option<f64>),
    Mean {
        sum: f64,
        n: u64,
    },
    /// The distinct dates with a matching event (`count_dates`).
    Days(BTreeSet<FirstDay>),
    /// Per date, which of a same-day variable's clusters have a matching
    /// event that day (bit i for cluster i).
    SameDay(BTreeMap<FirstDay, (Date, u8)>),
    Reg {
        regular: bool,
        temporary: bool,
        start: Option<Date>,
    },
    Patient,
}

#[derive(Debug)]
pub(crate) struct PatientState {
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
pub struct Evaluation {
    query: BoundQuery,
    patients: HashMap<String, PatientState>,
    /// The pass under way (0 first).
    pass: u32,
}

impl Evaluation {
    /// Ends the pass under way. When the query takes another pass
    /// ([`BoundQuery::passes`]), returns what that pass needs from the data
    /// (only the codes of the variables it computes, with the widest window
    /// any patient's values give; no whole tables): the host extracts again
    /// with it and pushes the new records into this same evaluation. `None`
    /// when every pass is done and [`Evaluation::finish`] may be
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
            let Some(def) = q.spec.variables.get(i).map(|v| &v.def) else {
                continue;
            };
            let clusters: Vec<&Cluster> = def
                .clusters()
                .iter()
                .filter_map(|(name, _)| q.spec.cluster(name))
                .collect();
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
                for c in clusters {
                    items.push((table_of(c.system), c.codes.clone(), f, t));
                }
            }
        }
        Some(Needs {
            tables: Vec::new(),
            code_sets: crate::needs::merge(items),
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
                        EventAggregate::MinimumValue | EventAggregate::MaximumValue => {
                            Slot::Extreme(None)
                        }
                        EventAggregate::MeanValue => Slot::Mean { sum: 0.0, n: 0 },
                        EventAggregate::CountDates => Slot::Days(BTreeSet::new()),
                        EventAggregate::LatestSameDay | EventAggregate::EarliestSameDay => {
                            Slot::SameDay(BTreeMap::new())
                        }
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
        let Evaluation {
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
        for &(i, bit) in idx {
            let Compiled::Events {
                aggregate,
                mut from,
                mut to,
                ties,
                pass,
                dynamic,
                value: filter,
                ..
            } = query.vars[i]
            else {
                continue;
            };
            if filter.is_some_and(|f| !f.admits(value)) {
                continue;
            }
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
            update(&mut st.slots[i], aggregate, ties, date, value, bit);
        }
    }
}

/// Folds one matching event (its date already known to be in the window)
/// into a variable's slot.
fn update(
    slot: &mut Slot,
    aggregate: EventAggregate,
    ties: Ties,
    date: Date,
    value: Option<f64>,
    bit: u8,
) {
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
        (EventAggregate::MinimumValue, Slot::Extreme(cur)) => {
            if let Some(x) = value
                && cur.is_none_or(|c| x < c)
            {
                *cur = Some(x);
            }
        }
        (EventAggregate::MaximumValue, Slot::Extreme(cur)) => {
            if let Some(x) = value
                && cur.is_none_or(|c| x > c)
            {
                *cur = Some(x);
            }
        }
        (EventAggregate::MeanValue, Slot::Mean { sum, n }) => {
            if let Some(x) = value {
                *sum += x;
                *n += 1;
            }
        }
        (EventAggregate::CountDates, Slot::Days(days)) => {
            days.insert(k);
        }
        (EventAggregate::LatestSameDay | EventAggregate::EarliestSameDay, Slot::SameDay(days)) => {
            days.entry(k).or_insert((dates::whole(date), 0)).1 |= 1 << bit;
        }
        _ => {}
    }
}

impl Evaluation {
    /// Takes one record; records may come in any order, within and across
    /// tables, and a record the query does not read is ignored.
    pub fn push(&mut self, record: &Record) {
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

    /// The answer, once every pass's records have been pushed.
    pub fn finish(self) -> Answer {
        let q = &self.query;
        let mut ids: Vec<&String> = self.patients.keys().collect();
        ids.sort();
        let mut answer = Answer {
            output: match &q.spec.output {
                Output::Aggregate { .. } => ResultOutput::Aggregate(AggregateResult::default()),
                Output::RecordLevel { columns, .. } => {
                    ResultOutput::RecordLevel(RecordLevelResult {
                        columns: columns
                            .iter()
                            .map(|c| ColumnHead {
                                name: c.name.clone(),
                                class: c.class,
                            })
                            .collect(),
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
                    count: Some(totals[pi]),
                    suppressed: false,
                    cells: cells
                        .iter()
                        .filter(|((p, _, _), _)| *p == pi)
                        .map(|((_, sex, band), n)| Cell {
                            sex: sex.map(str::to_owned),
                            age_band: band.clone(),
                            count: Some(*n),
                            suppressed: false,
                        })
                        .collect(),
                });
            }
        }
        answer
    }
}

impl BoundQuery {
    /// A fresh streaming evaluation.
    pub fn evaluation(&self) -> Evaluation {
        Evaluation {
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
                e.push(r);
            }
            if e.end_pass().is_none() {
                break;
            }
        }
        e.finish()
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
        (_, Slot::Extreme(x)) => x.map_or(Val::Null, Val::Num),
        (_, Slot::Mean { sum, n }) if *n > 0 => Val::Num(sum / *n as f64),
        (_, Slot::Mean { .. }) => Val::Null,
        (_, Slot::Days(days)) => Val::Num(days.len() as f64),
        (
            Compiled::Events {
                aggregate,
                clusters,
                ..
            },
            Slot::SameDay(days),
        ) => {
            let full = (1u16 << clusters) - 1;
            let mut all = days.values().filter(|(_, m)| u16::from(*m) == full);
            let found = if *aggregate == EventAggregate::LatestSameDay {
                all.next_back()
            } else {
                all.next()
            };
            found.map_or(Val::Null, |(d, _)| Val::Date(*d))
        }
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
pub(crate) enum Val<'a> {
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

pub(crate) fn eval<'a>(e: &'a Expr, lookup: &dyn Fn(&str) -> Val<'a>) -> Val<'a> {
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
