//! Writing canonical JSON: strings, numbers, and the reordering of object
//! members. Shared by the parser and the serializer.

use std::cmp::Ordering;

use crate::MAX_DEPTH;
use crate::error::{Fail, FailKind};

/// 2^53: the largest magnitude up to which every integer is an IEEE-754
/// double.
pub(crate) const EXACT_LIMIT: u64 = 1 << 53;

/// The output being built, and how deep the writer is in arrays and objects.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) out: Vec<u8>,
    depth: usize,
}

impl State {
    /// Enters an array or object, failing if that is one level too many.
    pub(crate) fn enter(&mut self) -> Result<(), Fail> {
        if self.depth >= MAX_DEPTH {
            return Err(Fail::new(FailKind::TooDeep));
        }
        self.depth += 1;
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }
}

/// Writes `s` as a JSON string literal, escaped as ECMAScript
/// `JSON.stringify` escapes it: `"` and `\` with a backslash, the control
/// characters below U+0020 as `\b \t \n \f \r` or `\u00xx` (lowercase hex),
/// and every other character as itself, in UTF-8.
pub(crate) fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            b'\t' => b't',
            b'\n' => b'n',
            0x0c => b'f',
            b'\r' => b'r',
            0x00..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        run = i + 1;
        if short == 0 {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.push(b'\\');
            out.push(short);
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// The ECMAScript `Number.prototype.toString` form of a finite double, with
/// `-0` written as `0`.
pub(crate) fn number_text(d: f64) -> String {
    if d == 0.0 {
        "0".to_owned()
    } else {
        ryu_js::Buffer::new().format_finite(d).to_owned()
    }
}

/// Writes a float, refusing NaN and the infinities.
pub(crate) fn write_f64(out: &mut Vec<u8>, d: f64) -> Result<(), Fail> {
    if !d.is_finite() {
        return Err(Fail::new(FailKind::NonFinite(d)));
    }
    if d == 0.0 {
        out.push(b'0');
    } else {
        out.extend_from_slice(ryu_js::Buffer::new().format_finite(d).as_bytes());
    }
    Ok(())
}

/// Writes an integer from Rust, refusing any beyond 2^53 in magnitude.
///
/// Up to 2^53 the double holds the integer exactly and ECMAScript writes it
/// as plain decimal digits, so the digits are written directly.
pub(crate) fn write_int(out: &mut Vec<u8>, negative: bool, magnitude: u128) -> Result<(), Fail> {
    let text = if negative {
        format!("-{magnitude}")
    } else {
        magnitude.to_string()
    };
    if magnitude > u128::from(EXACT_LIMIT) {
        // `as` rounds to the nearest double here, which is the point: the
        // message shows what the value would have become.
        let nearest = magnitude as f64;
        let nearest = if negative { -nearest } else { nearest };
        return Err(Fail::new(FailKind::UnsafeInteger {
            value: text,
            nearest: number_text(nearest),
        }));
    }
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// Writes a number literal read from JSON text; `text` already matches the
/// JSON number grammar, and `integer` says it has neither a fraction nor an
/// exponent.
///
/// A literal with a fraction or an exponent becomes the nearest double, as
/// RFC 8785 prescribes. An integer literal beyond 2^53 in magnitude is
/// refused unless it is exactly a double, or is already the canonical form
/// of its nearest double (as canonical output is: 1e20 is written
/// `100000000000000000000`), so that digits are never silently changed.
pub(crate) fn write_literal(out: &mut Vec<u8>, text: &str, integer: bool) -> Result<(), Fail> {
    let Ok(d) = text.parse::<f64>() else {
        return Err(Fail::new(FailKind::OutOfRange(text.to_owned())));
    };
    if !d.is_finite() {
        return Err(Fail::new(FailKind::OutOfRange(text.to_owned())));
    }
    if integer {
        let digits = text.strip_prefix('-').unwrap_or(text);
        const LIMIT: &str = "9007199254740992";
        let beyond = digits.len() > LIMIT.len() || (digits.len() == LIMIT.len() && digits > LIMIT);
        if beyond {
            let canonical = number_text(d.abs());
            // `{:.0}` prints the exact decimal value of the double.
            let exact = format!("{:.0}", d.abs());
            if digits != canonical && digits != exact {
                return Err(Fail::new(FailKind::UnsafeInteger {
                    value: text.to_owned(),
                    nearest: number_text(d),
                }));
            }
        }
    }
    write_f64(out, d)
}

/// Compares two member names as sequences of UTF-16 code units, the order
/// RFC 8785 sorts object members in. (UTF-8 byte order differs for
/// characters beyond U+FFFF against those in U+E000..U+FFFF.)
pub(crate) fn cmp_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// One member of an object being written: its name, and where `"name":value`
/// lies in the output.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) key: String,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// An object being written: members go to the output in the order they
/// arrive, separated by commas, and are reordered when the object closes.
#[derive(Debug)]
pub(crate) struct ObjectWriter {
    /// Position of the `{`.
    open: usize,
    members: Vec<Member>,
}

impl ObjectWriter {
    /// Enters a new object and writes its `{`.
    pub(crate) fn open(st: &mut State) -> Result<Self, Fail> {
        st.enter()?;
        let open = st.out.len();
        st.out.push(b'{');
        Ok(ObjectWriter {
            open,
            members: Vec::new(),
        })
    }

    /// Writes the separator and `"key":`, and returns where the member starts.
    pub(crate) fn begin_member(&mut self, st: &mut State, key: &str) -> usize {
        if !self.members.is_empty() {
            st.out.push(b',');
        }
        let start = st.out.len();
        write_string(&mut st.out, key);
        st.out.push(b':');
        start
    }

    /// Records a member whose value has been written.
    pub(crate) fn end_member(&mut self, st: &State, key: String, start: usize) {
        self.members.push(Member {
            key,
            start,
            end: st.out.len(),
        });
    }

    /// Sorts the members, refuses duplicate names, writes the `}` and leaves
    /// the object.
    pub(crate) fn close(self, st: &mut State) -> Result<(), Fail> {
        let members = self.members;
        let sorted = members
            .windows(2)
            .all(|w| cmp_utf16(&w[0].key, &w[1].key) == Ordering::Less);
        if !sorted {
            let mut order: Vec<&Member> = members.iter().collect();
            order.sort_by(|a, b| cmp_utf16(&a.key, &b.key));
            if let Some(w) = order.windows(2).find(|w| w[0].key == w[1].key) {
                return Err(Fail::new(FailKind::DuplicateKey(w[0].key.clone())));
            }
            let body = self.open + 1;
            let mut reordered = Vec::with_capacity(st.out.len() - body);
            for (i, m) in order.iter().enumerate() {
                if i > 0 {
                    reordered.push(b',');
                }
                reordered.extend_from_slice(&st.out[m.start..m.end]);
            }
            st.out.truncate(body);
            st.out.extend_from_slice(&reordered);
        }
        st.out.push(b'}');
        st.leave();
        Ok(())
    }
}
