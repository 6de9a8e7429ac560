//! A strict RFC 8259 parser that writes canonical JSON as it reads.
//!
//! It is its own parser rather than `serde_json::Value` because it must
//! refuse duplicate member names (which `Value` silently merges), parse
//! numbers with correct rounding, report positions, and bound its recursion.

use crate::emit::{self, ObjectWriter, State};
use crate::error::{Fail, FailKind, Seg};

/// Reads one JSON text from `src` and writes its canonical form to `st`.
///
/// The nesting depth continues from `st`, so embedded JSON (a serde_json
/// `RawValue`) counts towards the same limit as the value around it.
pub(crate) fn parse_into(src: &[u8], st: &mut State) -> Result<(), Fail> {
    let text = match std::str::from_utf8(src) {
        Ok(text) => text,
        Err(e) => {
            return Err(syntax_at(
                src,
                e.valid_up_to(),
                "the input is not valid UTF-8".to_owned(),
            ));
        }
    };
    let mut p = Parser { text, pos: 0, st };
    if text.starts_with('\u{feff}') {
        return Err(
            p.error("a byte order mark (U+FEFF) is not allowed before JSON text".to_owned())
        );
    }
    p.skip_ws();
    p.value()?;
    p.skip_ws();
    if p.pos < text.len() {
        return Err(p.error(format!(
            "{} after the end of the JSON value; the input must hold exactly one value",
            p.found()
        )));
    }
    Ok(())
}

/// A syntax failure at byte `offset` of `src`.
fn syntax_at(src: &[u8], offset: usize, message: String) -> Fail {
    let before = &src[..offset.min(src.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    // Count characters, not bytes: skip UTF-8 continuation bytes.
    let column = 1 + before[line_start..]
        .iter()
        .filter(|&&b| b & 0xc0 != 0x80)
        .count();
    Fail::new(FailKind::Syntax {
        line,
        column,
        offset,
        message,
    })
}

struct Parser<'a, 's> {
    text: &'a str,
    pos: usize,
    st: &'s mut State,
}

impl Parser<'_, '_> {
    fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn error(&self, message: String) -> Fail {
        syntax_at(self.bytes(), self.pos, message)
    }

    /// Describes what is at the current position, for messages.
    fn found(&self) -> String {
        match self
            .text
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
        {
            Some(c) => format!("unexpected character {c:?}"),
            None => "unexpected end of input".to_owned(),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<(), Fail> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => {
                let s = self.string()?;
                emit::write_string(&mut self.st.out, &s);
                Ok(())
            }
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error(format!("{}, expected a JSON value", self.found()))),
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<(), Fail> {
        if self.bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            self.st.out.extend_from_slice(word.as_bytes());
            Ok(())
        } else {
            Err(self.error(format!(
                "{}, expected a JSON value (did you mean `{word}`?)",
                self.found()
            )))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), Fail> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(
                        self.error("leading zeros are not allowed in JSON numbers".to_owned())
                    );
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error(format!("{}, expected a digit", self.found()))),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error(format!(
                    "{}, expected a digit after the decimal point",
                    self.found()
                )));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error(format!(
                    "{}, expected a digit in the exponent",
                    self.found()
                )));
            }
        }
        emit::write_literal(&mut self.st.out, &self.text[start..self.pos], integer)
    }

    /// Reads a string literal (the current byte is its opening quote).
    fn string(&mut self) -> Result<String, Fail> {
        self.pos += 1;
        let mut s = String::new();
        loop {
            let run = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The run stops only at ASCII bytes or the end, so both ends are
            // character boundaries.
            s.push_str(&self.text[run..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(s);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    s.push(self.escape()?);
                }
                Some(b) => {
                    return Err(self.error(format!(
                        "control character U+{b:04X} must be escaped inside a string"
                    )));
                }
                None => {
                    return Err(self.error("unexpected end of input inside a string".to_owned()));
                }
            }
        }
    }

    /// Reads an escape sequence (the backslash has been consumed).
    fn escape(&mut self) -> Result<char, Fail> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let at = self.pos - 1;
                self.pos += 1;
                let unit = self.hex4()?;
                return match unit {
                    0xd800..=0xdbff => {
                        if !self.bytes()[self.pos..].starts_with(b"\\u") {
                            return Err(syntax_at(
                                self.bytes(),
                                at,
                                format!(
                                    "\\u{unit:04x} is a lone UTF-16 high surrogate; \
                                     strings must be valid Unicode (I-JSON)"
                                ),
                            ));
                        }
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&low) {
                            return Err(syntax_at(
                                self.bytes(),
                                at,
                                format!(
                                    "\\u{unit:04x} is a UTF-16 high surrogate not followed \
                                     by a low surrogate; strings must be valid Unicode (I-JSON)"
                                ),
                            ));
                        }
                        let code = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                        Ok(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER))
                    }
                    0xdc00..=0xdfff => Err(syntax_at(
                        self.bytes(),
                        at,
                        format!(
                            "\\u{unit:04x} is a lone UTF-16 low surrogate; \
                             strings must be valid Unicode (I-JSON)"
                        ),
                    )),
                    _ => Ok(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER)),
                };
            }
            _ => {
                return Err(self.error(format!(
                    "{} after a backslash, expected one of \" \\ / b f n r t u",
                    self.found()
                )));
            }
        };
        self.pos += 1;
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u32, Fail> {
        let mut unit = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|b| char::from(b).to_digit(16))
                .ok_or_else(|| {
                    self.error(format!(
                        "{}, expected four hexadecimal digits after \\u",
                        self.found()
                    ))
                })?;
            unit = unit * 16 + digit;
            self.pos += 1;
        }
        Ok(unit)
    }

    fn array(&mut self) -> Result<(), Fail> {
        self.st.enter()?;
        self.pos += 1;
        self.st.out.push(b'[');
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            let mut index = 0;
            loop {
                if index > 0 {
                    self.st.out.push(b',');
                }
                self.skip_ws();
                self.value().map_err(|e| e.at(Seg::Index(index)))?;
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        index += 1;
                    }
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => {
                        return Err(self
                            .error(format!(
                                "{}, expected ',' or ']' after an array element",
                                self.found()
                            ))
                            .at(Seg::Index(index)));
                    }
                }
            }
        }
        self.st.out.push(b']');
        self.st.leave();
        Ok(())
    }

    fn object(&mut self) -> Result<(), Fail> {
        let mut obj = ObjectWriter::open(self.st)?;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                if self.peek() != Some(b'"') {
                    return Err(self.error(format!(
                        "{}, expected a member name in double quotes",
                        self.found()
                    )));
                }
                let key = self.string()?;
                self.skip_ws();
                if self.peek() != Some(b':') {
                    return Err(self
                        .error(format!(
                            "{}, expected ':' after the member name",
                            self.found()
                        ))
                        .at(Seg::Key(key)));
                }
                self.pos += 1;
                self.skip_ws();
                let start = obj.begin_member(self.st, &key);
                if let Err(e) = self.value() {
                    return Err(e.at(Seg::Key(key)));
                }
                obj.end_member(self.st, key, start);
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => {
                        return Err(self.error(format!(
                            "{}, expected ',' or '}}' after an object member",
                            self.found()
                        )));
                    }
                }
            }
        }
        obj.close(self.st)
    }
}
