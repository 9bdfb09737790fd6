//! Serde for enums that live in crates without serde (`BackboneKind`, `Flavor`): each value is
//! written as its name (`Display`) and read back through `FromStr`, so files say `"vgg16"` and
//! an unknown name is an error that quotes it. mias-backbones stays free of serde this way.
//!
//! Use with `#[serde(with = "crate::by_name")]` on one value, or
//! `serialize_with = "crate::by_name::serialize_list"` on a list.

use std::fmt::Display;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes `value` as its name.
pub(crate) fn serialize<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// Reads a name back into its value; the error quotes the name.
pub(crate) fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
where
    T: FromStr,
    T::Err: Display,
    D: Deserializer<'de>,
{
    let name = String::deserialize(d)?;
    name.parse().map_err(serde::de::Error::custom)
}

/// Writes a list of values as a list of names.
pub(crate) fn serialize_list<T: Display, S: Serializer>(
    values: &[T],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(values.iter().map(ToString::to_string))
}
