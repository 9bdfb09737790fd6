//! Loading a backbone: resolve its weights (local file, Hub, pinned URL), map them and build the
//! port of the chosen flavor.

use candle_core::Device;

use crate::backbone::{Backbone, BackboneKind, Flavor};
use crate::error::Result;
use crate::models;
use crate::precision::Precision;
use crate::weights::{self, Provenance, WeightsSource};

/// Loads `kind` in `flavor` with weights from `source` onto `device`.
pub fn load(
    kind: BackboneKind,
    source: &WeightsSource,
    flavor: Flavor,
    device: &Device,
) -> Result<Box<dyn Backbone>> {
    load_with_provenance(kind, source, flavor, device).map(|(bb, _)| bb)
}

/// As [`load`], also returning where the weights came from (path and sha256).
pub fn load_with_provenance(
    kind: BackboneKind,
    source: &WeightsSource,
    flavor: Flavor,
    device: &Device,
) -> Result<(Box<dyn Backbone>, Provenance)> {
    let provenance = source.resolve(kind)?;
    let vb = weights::var_builder(&provenance.path, device)?;
    let bb = models::build(kind, flavor, vb)?;
    Ok((bb, provenance))
}

/// As [`load`], with the dense convolutions at `precision` ([`Precision::F32`] is [`load`]).
pub fn load_at(
    kind: BackboneKind,
    source: &WeightsSource,
    flavor: Flavor,
    precision: Precision,
    device: &Device,
) -> Result<Box<dyn Backbone>> {
    load_with_provenance_at(kind, source, flavor, precision, device).map(|(bb, _)| bb)
}

/// As [`load_with_provenance`], with the dense convolutions at `precision`.
pub fn load_with_provenance_at(
    kind: BackboneKind,
    source: &WeightsSource,
    flavor: Flavor,
    precision: Precision,
    device: &Device,
) -> Result<(Box<dyn Backbone>, Provenance)> {
    let provenance = source.resolve(kind)?;
    let vb = weights::var_builder(&provenance.path, device)?;
    let bb = models::build_at(kind, flavor, precision, vb)?;
    Ok((bb, provenance))
}
