//! A serde `Serializer` that writes canonical JSON directly.
//!
//! It follows serde_json's mapping of the serde data model (unit and `None`
//! as `null`, enums externally tagged, bytes as arrays of numbers, integer
//! map keys as strings), but sees every integer before it could become a
//! double, and refuses NaN, infinities, and integers beyond 2^53.

use serde::Serialize;
use serde::ser::{self, Impossible};

use crate::emit::{self, ObjectWriter, State};
use crate::error::{Fail, FailKind, Seg};
use crate::parse;

/// The struct name serde_json gives a `Number` when its
/// `arbitrary_precision` feature is on (feature unification may turn it on
/// from elsewhere in a build); the single field holds the literal.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";
/// The struct name serde_json gives a `RawValue`; the single field holds the
/// JSON text.
const RAW_TOKEN: &str = "$serde_json::private::RawValue";

/// Serializes `value` as canonical JSON into `st`.
pub(crate) fn serialize_into<T: Serialize + ?Sized>(value: &T, st: &mut State) -> Result<(), Fail> {
    value.serialize(ValueSer { st })
}

struct ValueSer<'s> {
    st: &'s mut State,
}

/// Opens the `{"Variant":` wrapper of an externally tagged enum variant.
fn open_variant(st: &mut State, variant: &'static str) -> Result<(), Fail> {
    st.enter()?;
    st.out.push(b'{');
    emit::write_string(&mut st.out, variant);
    st.out.push(b':');
    Ok(())
}

fn close_variant(st: &mut State) {
    st.out.push(b'}');
    st.leave();
}

/// Adds the variant's step to a failure's path, if inside a variant.
fn in_variant(e: Fail, variant: Option<&'static str>) -> Fail {
    match variant {
        Some(v) => e.at(Seg::Key(v.to_owned())),
        None => e,
    }
}

impl<'s> ser::Serializer for ValueSer<'s> {
    type Ok = ();
    type Error = Fail;
    type SerializeSeq = SeqSer<'s>;
    type SerializeTuple = SeqSer<'s>;
    type SerializeTupleStruct = SeqSer<'s>;
    type SerializeTupleVariant = SeqSer<'s>;
    type SerializeMap = MapSer<'s>;
    type SerializeStruct = StructSer<'s>;
    type SerializeStructVariant = MapSer<'s>;

    fn serialize_bool(self, v: bool) -> Result<(), Fail> {
        self.st
            .out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Fail> {
        self.serialize_i128(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Fail> {
        self.serialize_i128(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Fail> {
        self.serialize_i128(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Fail> {
        self.serialize_i128(v.into())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Fail> {
        emit::write_int(&mut self.st.out, v < 0, v.unsigned_abs())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Fail> {
        self.serialize_u128(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Fail> {
        self.serialize_u128(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Fail> {
        self.serialize_u128(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Fail> {
        self.serialize_u128(v.into())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Fail> {
        emit::write_int(&mut self.st.out, false, v)
    }

    fn serialize_f32(self, v: f32) -> Result<(), Fail> {
        // Widening is exact; the number written is that of the double, as
        // in ECMAScript (0.1f32 is 0.10000000149011612).
        emit::write_f64(&mut self.st.out, v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Fail> {
        emit::write_f64(&mut self.st.out, v)
    }

    fn serialize_char(self, v: char) -> Result<(), Fail> {
        emit::write_string(&mut self.st.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Fail> {
        emit::write_string(&mut self.st.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Fail> {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }

    fn serialize_none(self) -> Result<(), Fail> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Fail> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Fail> {
        self.st.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Fail> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Fail> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Fail> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Fail> {
        open_variant(self.st, variant)?;
        value
            .serialize(ValueSer { st: &mut *self.st })
            .map_err(|e| in_variant(e, Some(variant)))?;
        close_variant(self.st);
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<SeqSer<'s>, Fail> {
        SeqSer::open(self.st, None)
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer<'s>, Fail> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqSer<'s>, Fail> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<SeqSer<'s>, Fail> {
        open_variant(self.st, variant)?;
        SeqSer::open(self.st, Some(variant)).map_err(|e| in_variant(e, Some(variant)))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<MapSer<'s>, Fail> {
        MapSer::open(self.st, None)
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<StructSer<'s>, Fail> {
        match name {
            NUMBER_TOKEN => Ok(StructSer::Embedded {
                st: self.st,
                number: true,
            }),
            RAW_TOKEN => Ok(StructSer::Embedded {
                st: self.st,
                number: false,
            }),
            _ => Ok(StructSer::Object(MapSer::open(self.st, None)?)),
        }
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<MapSer<'s>, Fail> {
        open_variant(self.st, variant)?;
        MapSer::open(self.st, Some(variant)).map_err(|e| in_variant(e, Some(variant)))
    }
}

/// An array being written; `variant` is set inside a tuple variant's
/// `{"Variant":[...]}` wrapper.
struct SeqSer<'s> {
    st: &'s mut State,
    index: usize,
    variant: Option<&'static str>,
}

impl<'s> SeqSer<'s> {
    fn open(st: &'s mut State, variant: Option<&'static str>) -> Result<Self, Fail> {
        st.enter()?;
        st.out.push(b'[');
        Ok(SeqSer {
            st,
            index: 0,
            variant,
        })
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Fail> {
        if self.index > 0 {
            self.st.out.push(b',');
        }
        value
            .serialize(ValueSer { st: &mut *self.st })
            .map_err(|e| in_variant(e.at(Seg::Index(self.index)), self.variant))?;
        self.index += 1;
        Ok(())
    }

    fn close(self) -> Result<(), Fail> {
        self.st.out.push(b']');
        self.st.leave();
        if self.variant.is_some() {
            close_variant(self.st);
        }
        Ok(())
    }
}

impl ser::SerializeSeq for SeqSer<'_> {
    type Ok = ();
    type Error = Fail;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Fail> {
        self.element(value)
    }
    fn end(self) -> Result<(), Fail> {
        self.close()
    }
}

impl ser::SerializeTuple for SeqSer<'_> {
    type Ok = ();
    type Error = Fail;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Fail> {
        self.element(value)
    }
    fn end(self) -> Result<(), Fail> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for SeqSer<'_> {
    type Ok = ();
    type Error = Fail;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Fail> {
        self.element(value)
    }
    fn end(self) -> Result<(), Fail> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for SeqSer<'_> {
    type Ok = ();
    type Error = Fail;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Fail> {
        self.element(value)
    }
    fn end(self) -> Result<(), Fail> {
        self.close()
    }
}

/// An object being written; `variant` is set inside a struct variant's
/// `{"Variant":{...}}` wrapper.
struct MapSer<'s> {
    st: &'s mut State,
    obj: ObjectWriter,
    /// The key given to `serialize_key`, and where its member starts.
    pending: Option<(String, usize)>,
    variant: Option<&'static str>,
}

impl<'s> MapSer<'s> {
    fn open(st: &'s mut State, variant: Option<&'static str>) -> Result<Self, Fail> {
        let obj = ObjectWriter::open(st)?;
        Ok(MapSer {
            st,
            obj,
            pending: None,
            variant,
        })
    }

    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Fail> {
        let key = key
            .serialize(KeySer)
            .map_err(|e| in_variant(e, self.variant))?;
        let start = self.obj.begin_member(self.st, &key);
        self.pending = Some((key, start));
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Fail> {
        let Some((key, start)) = self.pending.take() else {
            return Err(in_variant(
                Fail::new(FailKind::Custom(
                    "the Serialize implementation gave a map value without a key".to_owned(),
                )),
                self.variant,
            ));
        };
        if let Err(e) = value.serialize(ValueSer { st: &mut *self.st }) {
            return Err(in_variant(e.at(Seg::Key(key)), self.variant));
        }
        self.obj.end_member(self.st, key, start);
        Ok(())
    }

    fn close(self) -> Result<(), Fail> {
        let variant = self.variant;
        self.obj
            .close(self.st)
            .map_err(|e| in_variant(e, variant))?;
        if variant.is_some() {
            close_variant(self.st);
        }
        Ok(())
    }
}

impl ser::SerializeMap for MapSer<'_> {
    type Ok = ();
    type Error = Fail;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Fail> {
        self.key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Fail> {
        self.value(value)
    }
    fn end(self) -> Result<(), Fail> {
        self.close()
    }
}

impl ser::SerializeStructVariant for MapSer<'_> {
    type Ok = ();
    type Error = Fail;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Fail> {
        self.key(key)?;
        self.value(value)
    }
    fn end(self) -> Result<(), Fail> {
        self.close()
    }
}

/// A struct being written: an ordinary object, or serde_json's private
/// representation of a `Number` or `RawValue`, whose one field is JSON text
/// that is read with the same rules as [`canonicalize_json`](crate::canonicalize_json).
enum StructSer<'s> {
    Object(MapSer<'s>),
    Embedded { st: &'s mut State, number: bool },
}

impl ser::SerializeStruct for StructSer<'_> {
    type Ok = ();
    type Error = Fail;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Fail> {
        match self {
            StructSer::Object(map) => {
                map.key(key)?;
                map.value(value)
            }
            StructSer::Embedded { st, number } => {
                let text = value.serialize(KeySer)?;
                if *number
                    && !text.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
                {
                    return Err(Fail::new(FailKind::Custom(format!(
                        "serde_json Number holds {text:?}, which is not a JSON number"
                    ))));
                }
                parse::parse_into(text.as_bytes(), st)
            }
        }
    }
    fn end(self) -> Result<(), Fail> {
        match self {
            StructSer::Object(map) => map.close(),
            StructSer::Embedded { .. } => Ok(()),
        }
    }
}

/// Turns a map key into the member name: strings and chars as themselves,
/// integers and bools in decimal or as `true`/`false`, unit variants by
/// name; anything else is refused.
struct KeySer;

fn not_string(kind: &'static str) -> Result<String, Fail> {
    Err(Fail::new(FailKind::KeyNotString(kind)))
}

impl ser::Serializer for KeySer {
    type Ok = String;
    type Error = Fail;
    type SerializeSeq = Impossible<String, Fail>;
    type SerializeTuple = Impossible<String, Fail>;
    type SerializeTupleStruct = Impossible<String, Fail>;
    type SerializeTupleVariant = Impossible<String, Fail>;
    type SerializeMap = Impossible<String, Fail>;
    type SerializeStruct = Impossible<String, Fail>;
    type SerializeStructVariant = Impossible<String, Fail>;

    fn serialize_bool(self, v: bool) -> Result<String, Fail> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, Fail> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, Fail> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, Fail> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, Fail> {
        Ok(v.to_string())
    }
    fn serialize_i128(self, v: i128) -> Result<String, Fail> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, Fail> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, Fail> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, Fail> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, Fail> {
        Ok(v.to_string())
    }
    fn serialize_u128(self, v: u128) -> Result<String, Fail> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, _v: f32) -> Result<String, Fail> {
        not_string("a float")
    }
    fn serialize_f64(self, _v: f64) -> Result<String, Fail> {
        not_string("a float")
    }
    fn serialize_char(self, v: char) -> Result<String, Fail> {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<String, Fail> {
        Ok(v.to_owned())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, Fail> {
        not_string("a byte array")
    }
    fn serialize_none(self) -> Result<String, Fail> {
        not_string("None")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, Fail> {
        not_string("an Option")
    }
    fn serialize_unit(self) -> Result<String, Fail> {
        not_string("a unit value")
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, Fail> {
        not_string("a unit struct")
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, Fail> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, Fail> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, Fail> {
        not_string("an enum variant with data")
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Fail> {
        Err(Fail::new(FailKind::KeyNotString("a sequence")))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Fail> {
        Err(Fail::new(FailKind::KeyNotString("a tuple")))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Fail> {
        Err(Fail::new(FailKind::KeyNotString("a tuple struct")))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Fail> {
        Err(Fail::new(FailKind::KeyNotString(
            "an enum variant with data",
        )))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Fail> {
        Err(Fail::new(FailKind::KeyNotString("a map")))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Fail> {
        Err(Fail::new(FailKind::KeyNotString("a struct")))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Fail> {
        Err(Fail::new(FailKind::KeyNotString(
            "an enum variant with data",
        )))
    }
}
