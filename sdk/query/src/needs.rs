//! What a bound query needs from the data: whole tables, and per coded
//! table the codes of every cluster a variable reads with the widest date
//! window any of those variables needs. It becomes the plugin's `Request`.

use crate::ast::VariableDef;
use crate::bind::{BoundQuery, table_of};
use gpes_model::{CodeSet, Date, Request, Table};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a query needs: whole tables, and code sets (sorted by table, the
/// policy's after the query's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Needs {
    pub tables: Vec<Table>,
    pub code_sets: Vec<CodeSet>,
}

impl Needs {
    /// The plugin request for one practice.
    pub fn request(&self, practice: &str) -> Request {
        Request {
            practice: practice.to_owned(),
            tables: self.tables.clone(),
            code_sets: self.code_sets.clone(),
        }
    }
}

/// Codes one variable needs from a table, with its inclusive window.
pub(crate) type NeedItem = (Table, Vec<u64>, Option<Date>, Option<Date>);

/// One code set per table from (table, codes, earliest, latest) items:
/// codes merged and deduplicated, the widest window kept (`None`, open,
/// wins).
pub(crate) fn merge(items: Vec<NeedItem>) -> Vec<CodeSet> {
    let mut acc: BTreeMap<Table, Acc> = BTreeMap::new();
    for (table, codes, from, to) in items {
        let a = acc.entry(table).or_insert(Acc {
            codes: BTreeSet::new(),
            earliest: None,
            latest: None,
        });
        a.codes.extend(codes);
        a.earliest = Some(match (a.earliest, from) {
            (None, f) => f,
            (Some(Some(x)), Some(f)) => Some(x.min(f)),
            _ => None,
        });
        a.latest = Some(match (a.latest, to) {
            (None, t) => t,
            (Some(Some(x)), Some(t)) => Some(x.max(t)),
            _ => None,
        });
    }
    acc.into_iter()
        .filter(|(_, a)| !a.codes.is_empty())
        .map(|(table, a)| CodeSet {
            table,
            codes: a.codes.into_iter().collect(),
            earliest: a.earliest.flatten(),
            latest: a.latest.flatten(),
            policy: false,
        })
        .collect()
}

struct Acc {
    codes: BTreeSet<u64>,
    /// `None` inside: unbounded.
    earliest: Option<Option<Date>>,
    latest: Option<Option<Date>>,
}

impl BoundQuery {
    /// What this query needs from the data.
    pub fn needs(&self) -> Needs {
        let spec = self.spec();
        // The patients table always: only patients with a record there are
        // evaluated.
        let mut tables = BTreeSet::from([Table::Patients]);
        let mut items = Vec::new();
        for (i, v) in spec.variables.iter().enumerate() {
            match &v.def {
                VariableDef::Registered { .. }
                | VariableDef::RegistrationType { .. }
                | VariableDef::RegistrationStart { .. } => {
                    tables.insert(Table::Registrations);
                }
                VariableDef::Events { .. } => {
                    // Variables of later passes are asked for then.
                    let Some((from, to)) = self.window_of(i) else {
                        continue;
                    };
                    for (name, _) in v.def.clusters() {
                        if let Some(c) = spec.cluster(name) {
                            items.push((table_of(c.system), c.codes.clone(), from, to));
                        }
                    }
                }
                _ => {}
            }
        }
        let mut code_sets = merge(items);
        if !self.exclusions().is_empty() {
            code_sets.push(CodeSet {
                table: Table::Events,
                codes: self.exclusions().iter().copied().collect(),
                earliest: None,
                latest: None,
                policy: true,
            });
        }
        Needs {
            tables: tables.into_iter().collect(),
            code_sets,
        }
    }
}
