//! Values entered by hand, checked against the query's output: a whole
//! count (never suppressed) for exactly the populations the query gives;
//! a population never larger than the one it is drawn from; breakdown
//! cells, where given, of the query's breakdown and summing to their
//! population's count. The checked values become an extract like an
//! agent's, whose plugin is `manual-entry`, so everything that reads
//! results reads them.

use super::Refusal;
use gpes_protocol::{AggregateResult, Answer, Extract, PopulationCount, ResultOutput};
use gpes_query::{Output, QuerySpec};
use std::collections::BTreeMap;

/// Checks the values and returns them in the query's order.
pub fn check(spec: &QuerySpec, given: &[PopulationCount]) -> Result<Vec<PopulationCount>, Refusal> {
    let bad = |what: String| Err(Refusal::Invalid(format!("the values entered: {what}")));
    let Output::Aggregate {
        populations,
        breakdown,
        ..
    } = &spec.output
    else {
        return bad("this query gives one row per patient: only counts are entered by hand".into());
    };
    let mut by_name: BTreeMap<&str, &PopulationCount> = BTreeMap::new();
    for p in given {
        if !populations.contains(&p.population) {
            return bad(format!(
                "'{}' is not a population of the query ({})",
                p.population,
                populations.join(", ")
            ));
        }
        if by_name.insert(p.population.as_str(), p).is_some() {
            return bad(format!("'{}' is given twice", p.population));
        }
    }
    let mut out = Vec::with_capacity(populations.len());
    for name in populations {
        let Some(p) = by_name.get(name.as_str()) else {
            return bad(format!("'{name}' has no count: give every population"));
        };
        let Some(count) = p.count.filter(|_| !p.suppressed) else {
            return bad(format!(
                "'{name}' must be a whole count: values entered by hand are never suppressed"
            ));
        };
        if !p.cells.is_empty() {
            if breakdown.is_empty() {
                return bad(format!(
                    "'{name}' has cells, but the query has no breakdown"
                ));
            }
            let mut sum = 0u64;
            for c in &p.cells {
                if c.suppressed || c.count.is_none() {
                    return bad(format!("a cell of '{name}' has no count"));
                }
                sum = sum.saturating_add(c.count.unwrap_or(0));
            }
            if sum != count {
                return bad(format!(
                    "the cells of '{name}' add up to {sum}, not its count {count}"
                ));
            }
        }
        out.push(PopulationCount {
            population: name.clone(),
            count: Some(count),
            suppressed: false,
            cells: p.cells.clone(),
        });
    }
    // A population is drawn from another: never larger than it.
    let counts: BTreeMap<&str, u64> = out
        .iter()
        .map(|p| (p.population.as_str(), p.count.unwrap_or(0)))
        .collect();
    for population in &spec.populations {
        let name = &population.name;
        let (Some(count), Some(parent)) = (
            counts.get(name.as_str()),
            counts.get(population.from.as_str()),
        ) else {
            continue;
        };
        if count > parent {
            return bad(format!(
                "'{name}' ({count}) is drawn from '{}' ({parent}) and cannot be larger",
                population.from
            ));
        }
    }
    Ok(out)
}

/// The extract the values make, sealed as an agent's would be: its
/// plugin is `manual-entry` at the entry's version, and it reads no input.
pub fn extract(
    practice: &str,
    query_hash: gpes_canon::ContentHash,
    parameters: BTreeMap<String, String>,
    version: u32,
    populations: Vec<PopulationCount>,
) -> Extract {
    Extract {
        practice: practice.to_owned(),
        query_hash,
        parameters,
        plugin_name: "manual-entry".into(),
        plugin_version: version.to_string(),
        engine_version: "manual".into(),
        inputs: Vec::new(),
        result: Answer {
            output: ResultOutput::Aggregate(AggregateResult { populations }),
            patients_evaluated: 0,
            passes: 0,
            excluded_by_policy: 0,
            records_without_patient: 0,
        },
        data_quality_warnings: Vec::new(),
    }
}
