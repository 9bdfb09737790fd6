"""Fixtures (and `dicom_loader` fuzz seeds) for the codecs added after make_dicom_reference.py:
a deflated data set and a near-lossless JPEG-LS frame, each a few hundred bytes (a 12 x 10
ramp with seeded noise, 12 bits stored). Run by hand from this directory:

    pip install pydicom==3.0.2 numpy pyjpegls
    python3 make_codec_fixtures.py

Writes dicom/deflated.dcm, dicom/jpegls_near.dcm and codec_fixtures.json: the stored values
pydicom decodes from each file (its own inflate; CharLS through pyjpegls), row-major.
"""
import json
from pathlib import Path

import jpeg_ls
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import DeflatedExplicitVRLittleEndian, JPEGLSNearLossless, generate_uid

HERE = Path(__file__).resolve().parent / "dicom"


def base(syntax, bits):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"  # digital mammography
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(syntax), str(bits)])
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = 12, 10
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits, bits - 1, 0
    ds.ImageLaterality, ds.ViewPosition = "L", "CC"
    return ds


def main():
    HERE.mkdir(exist_ok=True)
    rng = np.random.default_rng(7)
    values = (np.arange(120).reshape(12, 10) * 30 + rng.integers(0, 40, (12, 10))).astype(np.uint16)

    ds = base(DeflatedExplicitVRLittleEndian, 12)
    ds.PixelData = values.tobytes()
    ds.save_as(HERE / "deflated.dcm", enforce_file_format=True)

    ds = base(JPEGLSNearLossless, 12)
    frame = jpeg_ls.encode(values, lossy_error=2)
    ds.PixelData = encapsulate([bytes(frame)])
    ds["PixelData"].VR = "OB"
    ds.save_as(HERE / "jpegls_near.dcm", enforce_file_format=True)

    out = {}
    for name in ("deflated.dcm", "jpegls_near.dcm"):
        back = pydicom.dcmread(HERE / name)
        out[f"dicom/{name}"] = back.pixel_array.astype(int).ravel().tolist()
    # The near-lossless frame is within NEAR = 2 of the values encoded, and not all equal.
    near = np.array(out["dicom/jpegls_near.dcm"]).reshape(12, 10)
    assert np.abs(near - values.astype(int)).max() <= 2 and (near != values).any()
    (HERE.parent / "codec_fixtures.json").write_text(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
