//! A collection that is not Mini-MIAS (a `manifest.csv`, CBIS-DDSM or VinDr-Mammo as
//! downloaded) as the
//! records and working images the pipeline reads from a [`crate::Dataset`].
//!
//! - Images are numbered by position ([`ImageId::from_index`], the manifest's order); women by
//!   the order of their first image; the other breast is the one image of the same woman and
//!   view on the other side ([`Manifest::contralateral`]'s rule, found through a map).
//! - The working image is Mini-MIAS's frame: the file windowed as the header says (a
//!   percentile window when it gives none), downsampled with Pillow's antialiased bilinear
//!   filter so that its longer side has [`WORKING_SIDE`] pixels (never enlarged), then padded
//!   with black to a square, the film centred. Lesion centres and radii of the manifest (pixels
//!   of the file) are carried into that frame by the same scale and offset, so the lesion
//!   method's cells see them where the pixels are.
//! - Feature-cache entries are named by the image's position (its augmented views are drawn
//!   from it) and a hash of its path and byte length, so images keep their entries when rows
//!   are appended, a changed file or a reordered manifest gets new ones, and shards made on
//!   other machines with the same files merge by copying.

// Without the `collections` feature no reader builds a collection; `working_image` stays.
#![cfg_attr(not(feature = "collections"), allow(dead_code))]

use std::collections::HashMap;
use std::path::Path;

use image::GrayImage;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::image_file::{LoadOptions, dimensions, load_mammogram};
use crate::info::{AbnormalityClass, ImageId, ImageRecord, Lesion, PatientId, Pixel};
use crate::manifest::{Manifest, ManifestImage, opposite};
use crate::preprocess::Interpolation;
use crate::window::WindowRule;

/// The longer side, in pixels, of a collection's working images (Mini-MIAS's side).
pub const WORKING_SIDE: u32 = 1024;

/// What a collection's working images depend on besides the file: part of every feature-cache
/// key made from them.
pub const WORKING_FRAME: &str = "collection-v1: header window (else percentile), bilinear (antialiased) to a long side of 1024, black padding to a centred square";

/// Where a collection came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CollectionKind {
    /// A `manifest.csv`.
    Manifest,
    /// CBIS-DDSM's case-description files and DICOM tree.
    CbisDdsm,
    /// VinDr-Mammo's annotation tables and DICOM tree.
    VinDr,
}

impl CollectionKind {
    /// `manifest` or `cbis-ddsm`.
    pub fn name(self) -> &'static str {
        match self {
            CollectionKind::Manifest => "manifest",
            CollectionKind::CbisDdsm => "cbis-ddsm",
            CollectionKind::VinDr => "vindr-mammo",
        }
    }
}

/// A collection opened for the pipeline.
#[derive(Clone, Debug)]
pub(crate) struct Collection {
    pub(crate) kind: CollectionKind,
    pub(crate) manifest: Manifest,
    pub(crate) records: Vec<ImageRecord>,
    pub(crate) patients: Vec<String>,
    cache_names: Vec<String>,
}

impl Collection {
    /// Builds the records of `manifest`. Reads the size of every file (from its header) that
    /// has a lesion centre, to carry the centre into the working frame.
    pub(crate) fn new(kind: CollectionKind, manifest: Manifest) -> Result<Self> {
        let images = manifest.images();
        let mut patients: Vec<String> = Vec::new();
        let mut patient_index: HashMap<&str, u32> = HashMap::new();
        let mut ids = Vec::with_capacity(images.len());
        for (i, m) in images.iter().enumerate() {
            ids.push(ImageId::from_index(i)?);
            if !patient_index.contains_key(m.patient.as_str()) {
                let next = u32::try_from(patients.len() + 1).map_err(|_| Error::Manifest {
                    path: manifest.source().to_path_buf(),
                    line: m.line,
                    column: Some("patient".into()),
                    reason: format!("more than {} patients", u32::MAX - 1),
                })?;
                patient_index.insert(&m.patient, next);
                patients.push(m.patient.clone());
            }
        }
        // (woman, view, side) -> (first image, how many): the other breast is the one image
        // of the same woman and view on the other side. No list per key: a million films
        // would otherwise cost a million small allocations.
        let mut sides: HashMap<(&str, crate::View, crate::Side), (usize, u32)> =
            HashMap::with_capacity(images.len());
        for (i, m) in images.iter().enumerate() {
            let e = sides
                .entry((m.patient.as_str(), m.view, m.laterality))
                .or_insert((i, 0));
            e.1 += 1;
        }
        let mut records = Vec::with_capacity(images.len());
        let mut cache_names = Vec::with_capacity(images.len());
        for (i, m) in images.iter().enumerate() {
            let path = manifest.path(m);
            let pair = match sides.get(&(m.patient.as_str(), m.view, opposite(m.laterality))) {
                Some(&(j, 1)) => Some(ids[j]),
                _ => None,
            };
            let frame = if m.lesions.iter().any(|l| l.centre.is_some()) {
                Some(Frame::of(dimensions(&path)?))
            } else {
                None
            };
            let lesions = m
                .lesions
                .iter()
                .map(|l| Lesion {
                    class: AbnormalityClass::Unspecified,
                    severity: l.severity,
                    centre: l.centre.zip(frame).map(|(c, f)| f.pixel(c)),
                    radius: l.radius.zip(frame).map(|(r, f)| f.length(r)),
                    note: None,
                    line: l.line,
                })
                .collect();
            records.push(ImageRecord {
                id: ids[i],
                tissue: None,
                lesions,
                patient: PatientId(patient_index[m.patient.as_str()]),
                pair,
                subset: m.subset,
            });
            let len = std::fs::metadata(&path)
                .map_err(|e| Error::io(&path, e))?
                .len();
            cache_names.push(cache_name(ids[i], &m.image, len));
        }
        Ok(Collection {
            kind,
            manifest,
            records,
            patients,
            cache_names,
        })
    }

    fn index(&self, id: ImageId) -> Result<usize> {
        let i = id.index();
        if i < self.records.len() {
            Ok(i)
        } else {
            Err(Error::UnknownImage {
                id: format!("#{}", id.ordinal()),
                reason: format!(
                    "{} lists {} images",
                    self.manifest.source().display(),
                    self.records.len()
                ),
            })
        }
    }

    pub(crate) fn image_file(&self, id: ImageId) -> Result<&ManifestImage> {
        Ok(&self.manifest.images()[self.index(id)?])
    }

    /// The image's path as the manifest writes it.
    pub(crate) fn name(&self, id: ImageId) -> Result<String> {
        Ok(self.image_file(id)?.image.display().to_string())
    }

    pub(crate) fn cache_name(&self, id: ImageId) -> Result<&str> {
        Ok(&self.cache_names[self.index(id)?])
    }

    pub(crate) fn patient_name(&self, patient: PatientId) -> Option<&str> {
        self.patients
            .get((patient.0 as usize).checked_sub(1)?)
            .map(String::as_str)
    }

    /// The working image (see the module's documentation).
    pub(crate) fn image(&self, id: ImageId) -> Result<GrayImage> {
        let m = self.image_file(id)?;
        working_image(&self.manifest.path(m), Some(m.laterality))
    }

    pub(crate) fn find(&self, name: &str) -> Option<ImageId> {
        self.manifest
            .images()
            .iter()
            .position(|m| m.image == Path::new(name))
            .and_then(|i| ImageId::from_index(i).ok())
    }
}

/// Any image file in the working frame of a collection's films: windowed (header, else
/// percentile), its longer side brought to [`WORKING_SIDE`] with the antialiased bilinear filter
/// (never enlarged), centred on a black square. A Mini-MIAS film (1024 x 1024) comes back as it
/// is. `laterality`, when given, must agree with a DICOM header that states one.
pub fn working_image(path: &Path, laterality: Option<crate::Side>) -> Result<GrayImage> {
    let options = LoadOptions {
        window: WindowRule::Header,
        canonical_side: None,
        long_side: Some(WORKING_SIDE),
        filter: Interpolation::Bilinear,
    };
    Ok(pad_square(
        &load_mammogram(path, &options, laterality)?.image,
    ))
}

/// The entry name of an image in the feature cache: its position (augmented views are drawn
/// from it, [`crate::augment::view_rng`]) and 16 hex digits of SHA-256 of its manifest path
/// and byte length: `img00001-...`.
fn cache_name(id: ImageId, path: &Path, len: u64) -> String {
    let mut h = Sha256::new();
    h.update(path.to_string_lossy().as_bytes());
    h.update([0]);
    h.update(len.to_le_bytes());
    format!("img{:05}-{}", id.ordinal(), hex::encode(&h.finalize()[..8]))
}

/// `image` centred on a black square whose side is its longer side.
pub(crate) fn pad_square(image: &GrayImage) -> GrayImage {
    let (w, h) = image.dimensions();
    let side = w.max(h);
    if w == h {
        return image.clone();
    }
    let mut out = GrayImage::new(side, side);
    image::imageops::replace(
        &mut out,
        image,
        i64::from((side - w) / 2),
        i64::from((side - h) / 2),
    );
    out
}

/// How a file's pixels land in the working image.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Frame {
    sx: f64,
    sy: f64,
    dx: f64,
    dy: f64,
}

impl Frame {
    /// The frame of a file of `(width, height)` pixels: the scale of
    /// [`crate::image_file::load_mammogram`]'s resize, then the padding of [`pad_square`].
    fn of((w, h): (u32, u32)) -> Frame {
        let long = w.max(h);
        let (nw, nh) = if long > WORKING_SIDE {
            let scale = f64::from(WORKING_SIDE) / f64::from(long);
            let side = |s: u32| ((f64::from(s) * scale + 0.5).floor() as u32).max(1);
            (side(w), side(h))
        } else {
            (w, h)
        };
        let side = nw.max(nh);
        Frame {
            sx: f64::from(nw) / f64::from(w),
            sy: f64::from(nh) / f64::from(h),
            dx: f64::from((side - nw) / 2),
            dy: f64::from((side - nh) / 2),
        }
    }

    /// A pixel's centre mapped as the resize maps it (`(x + 0.5) * s - 0.5`), then offset.
    fn pixel(self, p: Pixel) -> Pixel {
        let map = |v: u32, s: f64, d: f64| ((f64::from(v) + 0.5) * s - 0.5 + d).round().max(0.0);
        Pixel {
            row: map(p.row, self.sy, self.dy) as u32,
            col: map(p.col, self.sx, self.dx) as u32,
        }
    }

    /// A length (a radius) scaled by the mean of the two scales, at least one pixel.
    fn length(self, r: u32) -> u32 {
        ((f64::from(r) * (self.sx + self.sy) / 2.0).round() as u32).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_portrait_film_is_scaled_to_1024_and_centred() {
        // 4000 x 2000 (h x w): scale 0.256, width 512, padded by 256 on each side.
        let f = Frame::of((2000, 4000));
        assert_eq!(f.sx, 512.0 / 2000.0);
        assert_eq!(f.sy, 1024.0 / 4000.0);
        assert_eq!((f.dx, f.dy), (256.0, 0.0));
        // Column 1000 (centre of the film): (1000.5 * 0.256 - 0.5) + 256 = 511.628 -> 512.
        let p = f.pixel(Pixel { row: 0, col: 1000 });
        assert_eq!((p.row, p.col), (0, 512));
        // Row 3999 (last): 3999.5 * 0.256 - 0.5 = 1023.372 -> 1023.
        assert_eq!(f.pixel(Pixel { row: 3999, col: 0 }).row, 1023);
        assert_eq!(f.length(100), 26);
    }

    #[test]
    fn small_films_are_not_enlarged_and_square_ones_not_padded() {
        let f = Frame::of((128, 128));
        assert_eq!((f.sx, f.sy, f.dx, f.dy), (1.0, 1.0, 0.0, 0.0));
        let p = Pixel { row: 17, col: 90 };
        assert_eq!(f.pixel(p), p);
        let wide = GrayImage::from_pixel(4, 2, image::Luma([200]));
        let sq = pad_square(&wide);
        assert_eq!(sq.dimensions(), (4, 4));
        assert_eq!(sq.get_pixel(0, 0).0, [0]);
        assert_eq!(sq.get_pixel(0, 1).0, [200]);
        assert_eq!(sq.get_pixel(3, 2).0, [200]);
        assert_eq!(sq.get_pixel(3, 3).0, [0]);
    }
}
