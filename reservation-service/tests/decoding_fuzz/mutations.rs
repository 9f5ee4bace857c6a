//! Ways to break a valid event's bytes: the byte-level mutations of a fuzzer, and the
//! structural ones a careless or hostile producer makes (wrong types, huge numbers, deep
//! nesting, duplicate and missing fields, another spec version, NUL and invalid UTF-8).

use proptest::prelude::*;
use serde_json::Value;

/// The envelope's fields, then the data's.
const FIELDS: [&str; 10] = [
    "specversion",
    "id",
    "source",
    "time",
    "subject",
    "datacontenttype",
    "type",
    "data",
    "data.member_id",
    "data.member_version",
];

/// JSON text a field may be given, as it would appear on the wire: numbers past every integer
/// type, other types, NUL, a right-to-left override, a long string.
const VALUES: [&str; 16] = [
    "null",
    "true",
    "0",
    "-1",
    "1.5",
    "18446744073709551616",
    "1e400",
    "-9223372036854775809",
    "\"\"",
    "\"\\u0000\"",
    "\"\\u202e1.0\"",
    "\"\\ud800\"",
    "[]",
    "{}",
    "[1,{\"a\":[null]}]",
    "\"1.0\"",
];

#[derive(Clone, Debug)]
pub enum Mutation {
    FlipBit {
        index: usize,
        bit: u8,
    },
    Insert {
        index: usize,
        byte: u8,
    },
    Delete {
        index: usize,
        length: usize,
    },
    Truncate(usize),
    /// Bytes that are not UTF-8, inside the text.
    InvalidUtf8 {
        index: usize,
    },
    Replace {
        field: &'static str,
        value: &'static str,
    },
    Remove {
        field: &'static str,
    },
    /// The field a second time, after the first.
    Duplicate {
        field: &'static str,
        value: &'static str,
    },
    Extra {
        value: &'static str,
    },
    LongString {
        field: &'static str,
        length: usize,
    },
    DeepNesting(usize),
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    let field = prop::sample::select(FIELDS.as_slice());
    let value = prop::sample::select(VALUES.as_slice());
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(index, bit)| Mutation::FlipBit { index, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(index, byte)| Mutation::Insert { index, byte }),
        (any::<usize>(), 1usize..16).prop_map(|(index, length)| Mutation::Delete { index, length }),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(|index| Mutation::InvalidUtf8 { index }),
        (field.clone(), value.clone())
            .prop_map(|(field, value)| Mutation::Replace { field, value }),
        field.clone().prop_map(|field| Mutation::Remove { field }),
        (field.clone(), value.clone())
            .prop_map(|(field, value)| Mutation::Duplicate { field, value }),
        value.prop_map(|value| Mutation::Extra { value }),
        (field, 1usize..200_000).prop_map(|(field, length)| Mutation::LongString { field, length }),
        (1usize..5_000).prop_map(Mutation::DeepNesting),
    ]
}

impl Mutation {
    pub fn apply(&self, mut bytes: Vec<u8>) -> Vec<u8> {
        let at = |index: usize, bytes: &[u8]| index % (bytes.len() + 1);
        match *self {
            Self::FlipBit { index, bit } => {
                if !bytes.is_empty() {
                    let index = index % bytes.len();
                    bytes[index] ^= 1 << bit;
                }
            }
            Self::Insert { index, byte } => bytes.insert(at(index, &bytes), byte),
            Self::Delete { index, length } => {
                let start = at(index, &bytes);
                bytes.drain(start..(start + length).min(bytes.len()));
            }
            Self::Truncate(length) => bytes.truncate(length % (bytes.len() + 1)),
            Self::InvalidUtf8 { index } => {
                let index = at(index, &bytes);
                bytes.splice(index..index, [0xff, 0xc0, 0x80, 0xed, 0xa0, 0x80]);
            }
            Self::Replace { field, value } => return edit_text(bytes, field, Some(value)),
            Self::Remove { field } => return edit_text(bytes, field, None),
            Self::Duplicate { field, value } => {
                // serde_json refuses a duplicate field; a second one written by hand.
                let name = field.rsplit('.').next().unwrap_or(field);
                if let Some(end) = bytes.iter().rposition(|byte| *byte == b'}') {
                    let extra = format!(",\"{name}\":{value}");
                    bytes.splice(end..end, extra.into_bytes());
                }
            }
            Self::Extra { value } => return edit_text(bytes, "admin", Some(value)),
            Self::LongString { field, length } => {
                let long = Value::String("9".repeat(length)).to_string();
                return edit_text(bytes, field, Some(&long));
            }
            Self::DeepNesting(depth) => {
                let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
                return edit_text(bytes, "data", Some(&nested));
            }
        }
        bytes
    }
}

/// Sets `field` (dotted for the data's) to the JSON text `value`, or removes it. Bytes an
/// earlier mutation made into no JSON object are returned as they are.
fn edit_text(bytes: Vec<u8>, field: &str, value: Option<&str>) -> Vec<u8> {
    let Ok(Value::Object(mut envelope)) = serde_json::from_slice::<Value>(&bytes) else {
        return bytes;
    };
    // A marker stands in for the value, replaced in the text: 1e400 and 2^64 are not values
    // serde_json builds.
    const MARKER: &str = "\"__fuzz_value__\"";
    let marker = Value::String("__fuzz_value__".to_owned());
    let (object, name) = match field.split_once('.') {
        Some((parent, name)) => match envelope.get_mut(parent) {
            Some(Value::Object(data)) => (data, name),
            _ => return bytes,
        },
        None => (&mut envelope, field),
    };
    match value {
        Some(_) => object.insert(name.to_owned(), marker),
        None => object.remove(name),
    };
    let text = Value::Object(envelope).to_string();
    text.replacen(MARKER, value.unwrap_or("null"), 1)
        .into_bytes()
}
