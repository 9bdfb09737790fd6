//! safetensors files whose bytes depend only on their content.
//!
//! `safetensors::serialize` orders the tensors deterministically (by dtype, then name) but
//! takes the header's `__metadata__` as a `std::collections::HashMap`, whose iteration order
//! is randomised per map: the same tensors and metadata give different bytes from one save to
//! the next. Its signature fixes the map type, so no ordered map can be passed in. [`serialize`]
//! therefore lets the crate encode the tensors without metadata and splices the metadata in
//! itself, as the header's first entry, serialised from a `BTreeMap` (keys in sorted order).
//! The result is a standard safetensors file that any reader accepts.

use std::collections::BTreeMap;
use std::fmt::Display;

use safetensors::{SafeTensorError, View};

/// The largest header safetensors readers accept (the crate's `MAX_HEADER_SIZE`).
const MAX_HEADER: usize = 100_000_000;

/// Encodes `tensors` with `metadata` (none when empty) as a safetensors file: tensors ordered
/// as `safetensors::serialize` orders them, metadata keys in sorted order, so equal content
/// gives equal bytes.
pub fn serialize<S, V, I>(
    tensors: I,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, SafeTensorError>
where
    S: AsRef<str> + Ord + Display,
    V: View,
    I: IntoIterator<Item = (S, V)>,
{
    let plain = safetensors::serialize(tensors, None)?;
    if metadata.is_empty() {
        return Ok(plain);
    }
    // Layout: 8-byte little-endian header length n, n bytes of JSON padded with spaces to a
    // multiple of 8, then the tensor data (offsets in the header are relative to its start).
    let len_bytes: [u8; 8] = plain
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or(SafeTensorError::HeaderTooSmall)?;
    let n = usize::try_from(u64::from_le_bytes(len_bytes))
        .map_err(|_| SafeTensorError::InvalidHeaderLength)?;
    let header = plain
        .get(8..8 + n)
        .ok_or(SafeTensorError::InvalidHeaderLength)?;
    let header = std::str::from_utf8(header)
        .map_err(SafeTensorError::InvalidHeader)?
        .trim_end_matches(' ');
    let entries = header
        .strip_prefix('{')
        .and_then(|h| h.strip_suffix('}'))
        .ok_or(SafeTensorError::InvalidHeaderLength)?;
    let mut json = String::with_capacity(header.len() + 64);
    json.push_str("{\"__metadata__\":");
    json.push_str(&serde_json::to_string(metadata)?);
    if !entries.is_empty() {
        json.push(',');
        json.push_str(entries);
    }
    json.push('}');
    let padded = json.len().next_multiple_of(8);
    if padded > MAX_HEADER {
        return Err(SafeTensorError::HeaderTooLarge);
    }
    let data = &plain[8 + n..];
    let mut out = Vec::with_capacity(8 + padded + data.len());
    out.extend_from_slice(&(padded as u64).to_le_bytes());
    out.extend_from_slice(json.as_bytes());
    out.resize(8 + padded, b' ');
    out.extend_from_slice(data);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::{Dtype, SafeTensors, TensorView};

    fn f32_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn encode(a: &[u8], b: &[u8]) -> Vec<u8> {
        // The metadata is built afresh each time, in an unsorted order.
        let metadata: BTreeMap<String, String> = [
            ("view", "3"),
            ("image", "mdb001"),
            ("key", "vgg16-keras \"quoted\""),
            ("a_first", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let tensors = [
            (
                "z.weight",
                TensorView::new(Dtype::F32, vec![2, 2], a).unwrap(),
            ),
            ("a.bias", TensorView::new(Dtype::F32, vec![3], b).unwrap()),
        ];
        serialize(tensors, &metadata).unwrap()
    }

    #[test]
    fn equal_content_gives_equal_bytes_with_sorted_metadata() {
        let a = f32_bytes(&[1.0, -2.0, 3.5, 0.25]);
        let b = f32_bytes(&[7.0, 8.0, 9.0]);
        let first = encode(&a, &b);
        for _ in 0..20 {
            assert_eq!(encode(&a, &b), first);
        }

        let n = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
        let header = std::str::from_utf8(&first[8..8 + n]).unwrap();
        // Valid JSON whose metadata holds exactly what was given.
        let parsed: serde_json::Value = serde_json::from_str(header).unwrap();
        let meta = parsed["__metadata__"].as_object().unwrap();
        assert_eq!(meta.len(), 4);
        assert_eq!(meta["key"], "vgg16-keras \"quoted\"");
        // In the text, the metadata comes first and its keys in sorted order.
        assert!(
            header.starts_with("{\"__metadata__\":{\"a_first\":"),
            "{header}"
        );
        let at = |k: &str| header.find(&format!("\"{k}\":")).unwrap();
        let order = ["a_first", "image", "key", "view"].map(at);
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{header}");

        // And the safetensors crate reads it back whole.
        let st = SafeTensors::deserialize(&first).unwrap();
        assert_eq!(st.tensor("z.weight").unwrap().data(), &a[..]);
        assert_eq!(st.tensor("a.bias").unwrap().data(), &b[..]);
        let (_, m) = SafeTensors::read_metadata(&first).unwrap();
        assert_eq!(m.metadata().as_ref().unwrap()["image"], "mdb001");
    }

    #[test]
    fn without_metadata_it_is_the_crate_s_own_encoding() {
        let a = f32_bytes(&[1.0; 4]);
        let view = TensorView::new(Dtype::F32, vec![4], &a).unwrap();
        let ours = serialize([("x", view.clone())], &BTreeMap::new()).unwrap();
        assert_eq!(ours, safetensors::serialize([("x", view)], None).unwrap());
    }

    #[test]
    fn metadata_alone_is_a_valid_file() {
        let meta = BTreeMap::from([("format".to_string(), "empty".to_string())]);
        let bytes = serialize(Vec::<(&str, TensorView)>::new(), &meta).unwrap();
        let (_, m) = SafeTensors::read_metadata(&bytes).unwrap();
        assert_eq!(m.metadata().as_ref().unwrap()["format"], "empty");
        assert_eq!(m.tensors().len(), 0);
    }
}
