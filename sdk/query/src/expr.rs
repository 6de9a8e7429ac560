//! The expression grammar of `when:` conditions and window bounds: tokens,
//! a precedence-climbing parser and the expression tree (see SPEC.md,
//! "Expressions").

use crate::Pos;
use crate::dates::DateLit;
use serde::Serialize;

/// Longest expression accepted, in characters.
pub const MAX_EXPR_CHARS: usize = 4096;
/// Deepest nesting of parentheses and `not` accepted.
pub const MAX_EXPR_DEPTH: usize = 40;

/// An expression with the position of its first character.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub pos: Pos,
}

impl Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.kind.serialize(s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Days,
    Months,
    Years,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExprKind {
    Number(f64),
    Date(DateLit),
    Text(String),
    Bool(bool),
    Name(String),
    Not(Box<Expr>),
    /// Two or more conditions joined by `and` (a chain is one list).
    And(Vec<Expr>),
    /// Two or more conditions joined by `or`.
    Or(Vec<Expr>),
    Compare {
        op: CmpOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `date + amount unit` (amount negative for `-`).
    Shift {
        date: Box<Expr>,
        amount: i64,
        unit: Unit,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Number(f64, bool),
    Date(DateLit),
    Text(String),
    Op(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    col: u64,
}

/// An error inside an expression: the column offset and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub offset: u64,
    pub message: String,
}

fn err(offset: u64, message: impl Into<String>) -> ExprError {
    ExprError {
        offset,
        message: message.into(),
    }
}

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "is", "null", "true", "false", "day", "days", "month", "months", "year",
    "years",
];

pub fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

fn lex(text: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i as u64;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(chars[start..i].iter().collect()),
                col,
            });
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == '-')
            {
                // A '-' belongs to the token only in the date shape YYYY-MM-DD.
                if chars[i] == '-' {
                    let so_far = i - start;
                    let dashes = chars[start..i].iter().filter(|c| **c == '-').count();
                    let next_digit = chars.get(i + 1).is_some_and(|c| c.is_ascii_digit());
                    if !(next_digit
                        && ((so_far == 4 && dashes == 0) || (so_far == 7 && dashes == 1)))
                    {
                        break;
                    }
                }
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word.contains('-') {
                let d = DateLit::parse(&word)
                    .map_err(|e| err(col, format!("'{word}' is not a date: {e}")))?;
                out.push(Token {
                    tok: Tok::Date(d),
                    col,
                });
            } else {
                let n: f64 = word
                    .parse()
                    .ok()
                    .filter(|n: &f64| n.is_finite())
                    .ok_or_else(|| err(col, format!("'{word}' is not a number")))?;
                out.push(Token {
                    tok: Tok::Number(n, !word.contains('.')),
                    col,
                });
            }
            continue;
        }
        if c == '\'' {
            let start = i + 1;
            let mut j = start;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            if j >= chars.len() {
                return Err(err(col, "this quoted text has no closing '"));
            }
            out.push(Token {
                tok: Tok::Text(chars[start..j].iter().collect()),
                col,
            });
            i = j + 1;
            continue;
        }
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        let op = match two.as_str() {
            "<=" => Some("<="),
            ">=" => Some(">="),
            "!=" => Some("!="),
            "<>" => Some("!="),
            _ => None,
        };
        if let Some(op) = op {
            out.push(Token {
                tok: Tok::Op(op),
                col,
            });
            i += 2;
            continue;
        }
        let op = match c {
            '<' => "<",
            '>' => ">",
            '=' => "=",
            '(' => "(",
            ')' => ")",
            '+' => "+",
            '-' => "-",
            _ => return Err(err(col, format!("unexpected character '{c}'"))),
        };
        out.push(Token {
            tok: Tok::Op(op),
            col,
        });
        i += 1;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    end: u64,
    base: Pos,
    depth: usize,
}

/// Parses an expression written in a scalar starting at `base` (the column
/// of its first character).
pub fn parse(text: &str, base: Pos) -> Result<Expr, ExprError> {
    if text.chars().count() > MAX_EXPR_CHARS {
        return Err(err(
            0,
            format!("the expression is longer than {MAX_EXPR_CHARS} characters"),
        ));
    }
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        i: 0,
        end: text.chars().count() as u64,
        base,
        depth: 0,
    };
    if p.toks.is_empty() {
        return Err(err(0, "expected an expression, found nothing"));
    }
    let e = p.or()?;
    if e.depth() > MAX_EXPR_DEPTH {
        return Err(err(
            0,
            format!("the expression is nested more than {MAX_EXPR_DEPTH} deep"),
        ));
    }
    if let Some(t) = p.peek() {
        return Err(err(
            t.col,
            format!(
                "expected 'and', 'or', a comparison or the end of the expression, found {}",
                describe(&t.tok)
            ),
        ));
    }
    Ok(e)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Number(n, _) => format!("the number {n}"),
        Tok::Date(d) => format!("the date {d}"),
        Tok::Text(s) => format!("the text '{s}'"),
        Tok::Op(o) => format!("'{o}'"),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }
    fn col(&self) -> u64 {
        self.peek().map_or(self.end, |t| t.col)
    }
    fn pos(&self, col: u64) -> Pos {
        Pos {
            line: self.base.line,
            column: self.base.column + col,
        }
    }
    fn is_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Ident(s), .. }) if s == word)
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Op(o), .. }) if *o == op)
    }
    fn deeper(&mut self, col: u64) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return Err(err(col, "the expression is nested too deeply"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let first = self.and()?;
        if !self.is_ident("or") {
            return Ok(first);
        }
        let pos = first.pos;
        let mut items = vec![first];
        while self.is_ident("or") {
            self.i += 1;
            items.push(self.and()?);
        }
        Ok(Expr {
            kind: ExprKind::Or(items),
            pos,
        })
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let first = self.not()?;
        if !self.is_ident("and") {
            return Ok(first);
        }
        let pos = first.pos;
        let mut items = vec![first];
        while self.is_ident("and") {
            self.i += 1;
            items.push(self.not()?);
        }
        Ok(Expr {
            kind: ExprKind::And(items),
            pos,
        })
    }

    fn not(&mut self) -> Result<Expr, ExprError> {
        if self.is_ident("not") {
            let col = self.col();
            let pos = self.pos(col);
            self.i += 1;
            self.deeper(col)?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(inner)),
                pos,
            });
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Expr, ExprError> {
        let left = self.shift()?;
        let pos = left.pos;
        if self.is_ident("is") {
            self.i += 1;
            let negated = self.is_ident("not");
            if negated {
                self.i += 1;
            }
            if !self.is_ident("null") {
                return Err(err(self.col(), "expected 'null' after 'is' or 'is not'"));
            }
            self.i += 1;
            return Ok(Expr {
                kind: ExprKind::IsNull {
                    expr: Box::new(left),
                    negated,
                },
                pos,
            });
        }
        let op = match self.peek() {
            Some(Token {
                tok: Tok::Op(o), ..
            }) => match *o {
                "<" => Some(CmpOp::Lt),
                "<=" => Some(CmpOp::Le),
                ">" => Some(CmpOp::Gt),
                ">=" => Some(CmpOp::Ge),
                "=" => Some(CmpOp::Eq),
                "!=" => Some(CmpOp::Ne),
                _ => None,
            },
            _ => None,
        };
        let Some(op) = op else { return Ok(left) };
        self.i += 1;
        let right = self.shift()?;
        if let Some(t) = self.peek()
            && matches!(t.tok, Tok::Op("<" | "<=" | ">" | ">=" | "=" | "!="))
        {
            return Err(err(
                t.col,
                "comparisons do not chain; join them with 'and' or use parentheses",
            ));
        }
        Ok(Expr {
            kind: ExprKind::Compare {
                op,
                left: Box::new(left),
                right: Box::new(right),
            },
            pos,
        })
    }

    fn shift(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.atom()?;
        loop {
            let sign: i64 = if self.is_op("+") {
                1
            } else if self.is_op("-") {
                -1
            } else {
                return Ok(left);
            };
            self.i += 1;
            let amount_col = self.col();
            let amount = match self.peek() {
                Some(Token {
                    tok: Tok::Number(n, true),
                    ..
                }) if *n <= 100_000.0 => *n as i64,
                _ => {
                    return Err(err(
                        amount_col,
                        "expected a whole number of days, months or years (at most 100000) after '+' or '-'",
                    ));
                }
            };
            self.i += 1;
            let unit = match self.peek() {
                Some(Token {
                    tok: Tok::Ident(u), ..
                }) => match u.as_str() {
                    "day" | "days" => Some(Unit::Days),
                    "month" | "months" => Some(Unit::Months),
                    "year" | "years" => Some(Unit::Years),
                    _ => None,
                },
                _ => None,
            };
            let Some(unit) = unit else {
                return Err(err(
                    self.col(),
                    "expected 'days', 'months' or 'years' after the number",
                ));
            };
            self.i += 1;
            let pos = left.pos;
            left = Expr {
                kind: ExprKind::Shift {
                    date: Box::new(left),
                    amount: sign * amount,
                    unit,
                },
                pos,
            };
        }
    }

    fn atom(&mut self) -> Result<Expr, ExprError> {
        let col = self.col();
        let pos = self.pos(col);
        let Some(t) = self.peek().cloned() else {
            return Err(err(col, "expected a value, a name or '(', found the end"));
        };
        self.i += 1;
        let kind = match t.tok {
            Tok::Number(n, _) => ExprKind::Number(n),
            Tok::Date(d) => ExprKind::Date(d),
            Tok::Text(s) => ExprKind::Text(s),
            Tok::Op("-") => match self.peek() {
                Some(Token {
                    tok: Tok::Number(n, _),
                    ..
                }) => {
                    let n = -*n;
                    self.i += 1;
                    ExprKind::Number(n)
                }
                _ => return Err(err(col, "expected a number after '-'")),
            },
            Tok::Op("(") => {
                self.deeper(col)?;
                let inner = self.or()?;
                self.depth -= 1;
                if !self.is_op(")") {
                    return Err(err(self.col(), "expected ')'"));
                }
                self.i += 1;
                return Ok(inner);
            }
            Tok::Ident(s) => match s.as_str() {
                "true" => ExprKind::Bool(true),
                "false" => ExprKind::Bool(false),
                "null" => {
                    return Err(err(
                        col,
                        "'null' is not a value; write 'X is null' or 'X is not null'",
                    ));
                }
                _ if is_keyword(&s) => {
                    return Err(err(col, format!("expected a value or a name, found '{s}'")));
                }
                _ => ExprKind::Name(s),
            },
            other => {
                return Err(err(
                    col,
                    format!(
                        "expected a value, a name or '(', found {}",
                        describe(&other)
                    ),
                ));
            }
        };
        Ok(Expr { kind, pos })
    }
}

impl Expr {
    /// Nesting depth of the tree (a name or literal is 1).
    pub fn depth(&self) -> usize {
        1 + match &self.kind {
            ExprKind::Not(e)
            | ExprKind::IsNull { expr: e, .. }
            | ExprKind::Shift { date: e, .. } => e.depth(),
            ExprKind::And(items) | ExprKind::Or(items) => {
                items.iter().map(Expr::depth).max().unwrap_or(0)
            }
            ExprKind::Compare { left, right, .. } => left.depth().max(right.depth()),
            _ => 0,
        }
    }

    /// Every name the expression uses, with its position.
    pub fn names(&self, out: &mut Vec<(String, Pos)>) {
        match &self.kind {
            ExprKind::Name(n) => out.push((n.clone(), self.pos)),
            ExprKind::Not(e)
            | ExprKind::IsNull { expr: e, .. }
            | ExprKind::Shift { date: e, .. } => e.names(out),
            ExprKind::And(items) | ExprKind::Or(items) => {
                items.iter().for_each(|e| e.names(out));
            }
            ExprKind::Compare {
                left: a, right: b, ..
            } => {
                a.names(out);
                b.names(out);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Expr, ExprError> {
        parse(s, Pos { line: 1, column: 1 })
    }

    #[test]
    fn parses_the_example_conditions() {
        for ok in [
            "DMLAT_DAT is null",
            "DMRES_DAT is null or DMRES_DAT < DMLAT_DAT",
            "AGE >= 17",
            "IFCC_VAL <= 58",
            "PPED - 12 months + 1 day",
            "not (A and B) or C is not null",
            "X = 'female'",
            "D > 2024-02-29",
            "V > -1.5",
        ] {
            assert!(p(ok).is_ok(), "{ok}: {:?}", p(ok));
        }
    }

    #[test]
    fn refuses_with_offsets() {
        let cases = [
            ("AGE >=", 6),
            ("A < B < C", 6),
            ("PPED - 12 weeks", 10),
            ("X is nul", 5),
            ("(A and B", 8),
            ("A # B", 2),
            ("2023-02-29", 0),
            ("A = null", 4),
        ];
        for (text, offset) in cases {
            let e = p(text).expect_err(text);
            assert_eq!(e.offset, offset, "{text}: {}", e.message);
        }
    }

    #[test]
    fn precedence() {
        let e = p("A or B and C").expect("parses");
        assert!(matches!(e.kind, ExprKind::Or(..)));
        let e = p("not A and B").expect("parses");
        assert!(matches!(e.kind, ExprKind::And(..)));
    }
}
