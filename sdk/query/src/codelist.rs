//! Code lists from files: a cluster may take its codes from a CSV in the
//! OpenCodelists layout (`code,term`), named in the query with its
//! reference set's id and version. The crate does no I/O: whoever parses
//! the query hands over the files' text through [`CodeLists`].

use crate::parse::check_sctid;
use crate::yaml::{Node, Value};
use crate::{Diagnostic, Pos};
use std::collections::BTreeMap;

/// Largest code-list file accepted, in bytes.
pub const MAX_CODE_LIST_BYTES: usize = 4 * 1024 * 1024;

/// Where the text of a query's code-list files comes from: a path as the
/// query writes it (relative, `/`-separated, no `..`) to the file's text,
/// or why it could not be read.
pub trait CodeLists {
    fn read(&self, file: &str) -> Result<String, String>;
}

impl<F: Fn(&str) -> Result<String, String>> CodeLists for F {
    fn read(&self, file: &str) -> Result<String, String> {
        self(file)
    }
}

/// No code-list files: a query that names one is refused.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoFiles;

impl CodeLists for NoFiles {
    fn read(&self, file: &str) -> Result<String, String> {
        Err(format!(
            "the query was parsed without its code lists, so '{file}' cannot be read \
             (gpes-plugin and gpesctl read code lists beside the query file, and gpesctl \
             writes their codes into the query it sends)"
        ))
    }
}

/// Whether a path as a query writes it is acceptable: relative, with
/// non-empty parts, no `.` or `..`, no backslashes.
pub(crate) fn path_ok(file: &str) -> bool {
    !file.is_empty()
        && !file.starts_with('/')
        && !file.contains('\\')
        && !file.contains(':')
        && file
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// The code-list files a query's clusters name (`clusters.*.codelist.file`),
/// read through `lists`.
pub(crate) fn read_all(
    root: &Node,
    lists: &dyn CodeLists,
) -> BTreeMap<String, Result<String, String>> {
    let mut out = BTreeMap::new();
    let field = |node: &Node, key: &str| -> Option<Node> {
        let Value::Map(pairs) = &node.value else {
            return None;
        };
        pairs
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
            .map(|(_, v)| v.clone())
    };
    let Some(clusters) = field(root, "clusters") else {
        return out;
    };
    let Value::Map(pairs) = &clusters.value else {
        return out;
    };
    for (_, def) in pairs {
        // A cluster with both is folded: its codes are written out.
        if field(def, "codes").is_some() {
            continue;
        }
        if let Some(list) = field(def, "codelist")
            && let Some(file) = field(&list, "file")
            && let Value::Str(f) = &file.value
            && path_ok(f)
            && !out.contains_key(f)
        {
            let text = lists.read(f).and_then(|t| {
                if t.len() > MAX_CODE_LIST_BYTES {
                    Err(format!(
                        "it is {} bytes, over the limit of {MAX_CODE_LIST_BYTES}",
                        t.len()
                    ))
                } else {
                    Ok(t)
                }
            });
            out.insert(f.clone(), text);
        }
    }
    out
}

/// The codes of a code-list file in the OpenCodelists layout: a header
/// `code,term` (more columns allowed after them), then one code a line;
/// blank lines are skipped. Every problem is reported at its line and
/// column in the file.
pub(crate) fn codes(file: &str, text: &str) -> Result<Vec<u64>, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let at = |line: usize, column: usize| Pos {
        line: line as u64,
        column: column as u64,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l.trim_end_matches('\r'));
    let mut columns = header.unwrap_or("").split(',').map(str::trim);
    if !(columns.next() == Some("code") && columns.next() == Some("term")) {
        errors.push(Diagnostic::new(
            file,
            at(1, 1),
            format!(
                "expected the header 'code,term' (the OpenCodelists layout), found '{}'",
                header.unwrap_or("")
            ),
        ));
        return Err(errors);
    }
    let mut out = Vec::new();
    for (i, line) in lines {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let Some((field, _term)) = line.split_once(',') else {
            errors.push(Diagnostic::new(
                file,
                at(n, 1),
                format!("expected 'code,term', found '{line}'"),
            ));
            continue;
        };
        let (code, column) = match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
            Some(inner) => (inner, 2),
            None => (field, 1),
        };
        match check_sctid(code) {
            Ok(c) => out.push(c),
            Err(e) => errors.push(Diagnostic::new(file, at(n, column), e)),
        }
        if errors.len() >= 100 {
            break;
        }
    }
    if out.is_empty() && errors.is_empty() {
        errors.push(Diagnostic::new(
            file,
            at(1, 1),
            "the code list has no codes".into(),
        ));
    }
    if errors.is_empty() {
        out.sort_unstable();
        out.dedup();
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The query's text with the codes of every code list read from a file
/// written out beside its `codelist:` (`codes: [...]`), so that the text
/// alone is the whole query: what is sent to the coordinator. The folded
/// text parses without files to a query with the same content hash.
pub fn fold(file: &str, text: &str, lists: &dyn CodeLists) -> Result<String, crate::Errors> {
    let spec = crate::parse_with(file, text, lists)?;
    let mut inserts: Vec<(Pos, String)> = Vec::new();
    for c in &spec.clusters {
        let Some(r) = c.codelist.as_ref().filter(|r| r.read_from_file) else {
            continue;
        };
        let codes: Vec<String> = c.codes.iter().map(|x| format!("\"{x}\"")).collect();
        inserts.push((r.key_pos, format!("codes: [{}]", codes.join(", "))));
    }
    // From the end, so earlier positions stay put.
    inserts.sort_by_key(|(p, _)| std::cmp::Reverse(*p));
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    for (pos, codes) in inserts {
        let Some(line) = lines.get_mut(pos.line.saturating_sub(1) as usize) else {
            continue;
        };
        let at = line
            .char_indices()
            .nth(pos.column.saturating_sub(1) as usize)
            .map_or(line.len(), |(i, _)| i);
        let starts_line = line[..at].trim().is_empty();
        let insert = if starts_line {
            // A key that starts its line: the codes go on a line of their
            // own above it, indented the same.
            format!("{codes}\n{}", &line[..at])
        } else {
            format!("{codes}, ")
        };
        line.insert_str(at, &insert);
    }
    let folded = lines.join("\n");
    let again = crate::parse(file, &folded)?;
    let same = |q: &crate::QuerySpec| q.content_hash().ok();
    if same(&again) != same(&spec) {
        return Err(crate::Errors(vec![Diagnostic::new(
            file,
            Pos { line: 1, column: 1 },
            "the code lists could not be written into the query text (the folded query differs); write the codes out by hand".into(),
        )]));
    }
    Ok(folded)
}
