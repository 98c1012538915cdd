//! What each table and key accepts, for messages about unknown keys and wrong types.
//!
//! The key lists are read from the raw structs' serde derive itself (see
//! [`fields_of`]), so the "allowed keys" a user is shown can never disagree
//! with what the parser accepts. Value descriptions live with each section's
//! validation, next to the ranges they quote.

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::error::{ConfigError, ConfigErrorKind};
use super::raw::{
    RawConfig, RawCpuFreq, RawFan, RawHardware, RawLog, RawServer, RawStatus, RawThermal,
};
use super::{cpufreq, fan, hardware, logging, server, status, thermal};

/// The keys a table accepts: `""` is the top level (section names), else a section name.
pub(super) fn allowed_keys(table: &str) -> Option<&'static [&'static str]> {
    match table {
        "" => Some(fields_of::<RawConfig>()),
        "server" => Some(fields_of::<RawServer>()),
        "thermal" => Some(fields_of::<RawThermal>()),
        "fan" => Some(fields_of::<RawFan>()),
        "cpufreq" => Some(fields_of::<RawCpuFreq>()),
        "hardware" => Some(fields_of::<RawHardware>()),
        "status" => Some(fields_of::<RawStatus>()),
        "log" => Some(fields_of::<RawLog>()),
        _ => None,
    }
}

/// What the value at `key` may be (`"an integer 1 to 65535"`); array indices are ignored.
pub(super) fn expected_value(key: &str) -> Option<String> {
    let key = key.split('[').next().unwrap_or(key);
    let Some((section, field)) = key.split_once('.') else {
        return allowed_keys("")
            .filter(|sections| sections.contains(&key))
            .map(|_| format!("a table [{key}]"));
    };
    match section {
        "server" => server::describe(field),
        "thermal" => thermal::describe(field),
        "fan" => fan::describe(field),
        "cpufreq" => cpufreq::describe(field),
        "hardware" => hardware::describe(field),
        "status" => status::describe(field),
        "log" => logging::describe(field),
        _ => None,
    }
}

/// The TOML type a key takes; for an array, the type of its innermost items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ValueKind {
    /// `true` or `false`.
    Boolean,
    /// A whole number.
    Integer,
    /// A number, whole or not.
    Float,
    /// A quoted string.
    Text,
    /// A table.
    Table,
}

/// The type the value at `key` takes (`server.backlog` → integer), read from the raw
/// structs' serde derive like [`allowed_keys`]; array indices are ignored, and a key
/// warden does not know gives `None`.
pub(super) fn value_kind(key: &str) -> Option<ValueKind> {
    let key = key.split('[').next().unwrap_or(key);
    let path: Vec<&str> = key.split('.').collect();
    let mut kind = None;
    // The probe always ends in an error by design; only the recorded kind matters.
    let _ = RawConfig::deserialize(KindProbe {
        path: &path,
        kind: &mut kind,
    });
    kind
}

/// The error for key `name` found in `table`, listing the keys that table accepts.
pub(super) fn unknown_key_error(table: &str, name: &str, allowed: &[&str]) -> ConfigError {
    let (key, what, place) = if table.is_empty() {
        (name.to_string(), "section", "allowed sections".to_string())
    } else {
        (
            format!("{table}.{name}"),
            "key",
            format!("allowed keys in [{table}]"),
        )
    };
    let home = tables_holding(name);
    let suggestion = if home.is_empty() {
        closest(name, allowed)
            .map(|close| format!(" (did you mean `{close}`?)"))
            .unwrap_or_default()
    } else {
        format!(" (`{name}` belongs in {})", home.join(" or "))
    };
    ConfigError::at_key(
        ConfigErrorKind::UnknownKey,
        key,
        format!("unknown {what} `{name}`{suggestion}"),
    )
    .allowing(format!("{place}: {}", allowed.join(", ")))
}

/// The sections (`[log]`) that accept a key called `name`, for a key written in the
/// wrong table.
fn tables_holding(name: &str) -> Vec<String> {
    allowed_keys("")
        .unwrap_or_default()
        .iter()
        .filter(|section| allowed_keys(section).is_some_and(|keys| keys.contains(&name)))
        .map(|section| format!("[{section}]"))
        .collect()
}

/// The first allowed name nearest to a misspelt `name`, if it is a plausible typo:
/// at most two edits, and fewer edits than half the name's length; else the longest
/// allowed name of three letters or more that `name` starts with (`logging` → `log`).
fn closest<'a>(name: &str, allowed: &[&'a str]) -> Option<&'a str> {
    nearest_by_edits(name, allowed).or_else(|| {
        allowed
            .iter()
            .copied()
            .filter(|candidate| candidate.len() >= 3 && name.starts_with(candidate))
            .max_by_key(|candidate| candidate.len())
    })
}

/// [`closest`] by edit distance alone.
fn nearest_by_edits<'a>(name: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for &candidate in allowed {
        let distance = edit_distance(name, candidate);
        let plausible = distance <= 2 && distance * 2 < name.chars().count();
        let nearer = match best {
            Some((best_distance, _)) => distance < best_distance,
            None => true,
        };
        if plausible && nearer {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// The field names serde derive generated for `T`.
///
/// `T::deserialize` is handed a deserializer that records the field list it is
/// given in `deserialize_struct` and then fails, so nothing is parsed.
fn fields_of<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // The capture always ends in an error by design; only the recorded list matters.
    let _ = T::deserialize(FieldCapture {
        fields: &mut fields,
    });
    fields
}

/// A deserializer that only records the field names of the struct asked of it.
struct FieldCapture<'a> {
    fields: &'a mut &'static [&'static str],
}

impl<'de> Deserializer<'de> for FieldCapture<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("field capture only understands structs"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.fields = fields;
        Err(de::Error::custom("fields captured"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// A deserializer that walks `path` through the structs asked of it and records the
/// type the derive then asks for at its end; it never produces a value.
struct KindProbe<'a> {
    path: &'a [&'a str],
    kind: &'a mut Option<ValueKind>,
}

impl KindProbe<'_> {
    fn record<T>(self, kind: ValueKind) -> Result<T, de::value::Error> {
        if self.path.is_empty() {
            *self.kind = Some(kind);
        }
        Err(de::Error::custom("kind recorded"))
    }
}

macro_rules! probe_records {
    ($kind:ident: $($method:ident)+) => {
        $(fn $method<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
            self.record(ValueKind::$kind)
        })+
    };
}

impl<'de> Deserializer<'de> for KindProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom(
            "the kind probe only understands typed requests",
        ))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_seq(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.path.first() {
            None => self.record(ValueKind::Table),
            Some(field) if fields.contains(field) => visitor.visit_map(self),
            Some(_) => Err(de::Error::custom("no such field")),
        }
    }

    probe_records!(Boolean: deserialize_bool);
    probe_records!(Integer: deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64);
    probe_records!(Float: deserialize_f32 deserialize_f64);
    probe_records!(Text: deserialize_char deserialize_str deserialize_string);
    probe_records!(Table: deserialize_map);

    serde::forward_to_deserialize_any! {
        i128 u128 bytes byte_buf unit unit_struct newtype_struct tuple tuple_struct enum
        identifier ignored_any
    }
}

/// The items of an array: the first one is probed (at the same path).
impl<'de> de::SeqAccess<'de> for KindProbe<'_> {
    type Error = de::value::Error;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        seed.deserialize(KindProbe {
            path: self.path,
            kind: &mut *self.kind,
        })
        .map(Some)
    }
}

/// A struct's fields: only the next name on the path, whose value is probed further.
impl<'de> de::MapAccess<'de> for KindProbe<'_> {
    type Error = de::value::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let field: &str = self.path[0];
        seed.deserialize(de::IntoDeserializer::<de::value::Error>::into_deserializer(
            field,
        ))
        .map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        seed.deserialize(KindProbe {
            path: &self.path[1..],
            kind: &mut *self.kind,
        })
    }
}
