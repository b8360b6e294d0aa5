"""The predicted map as a NIfTI file: 40×48×40 float32 at 4 mm in MNI152 space."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np

from apps.text2brain.mask import BrainMask

NIFTI_CONTENT_TYPE = "application/gzip"
# NIfTI's code for "aligned to the MNI152 template".
_MNI152 = 4


def map_to_nifti(vector: np.ndarray, mask: BrainMask) -> bytes:
    """A gzipped NIfTI-1 image of a masked map (zero outside the brain)."""
    image = nib.Nifti1Image(mask.to_volume(np.asarray(vector, dtype=np.float32)), mask.affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(mask.affine, code=_MNI152)
    image.set_sform(mask.affine, code=_MNI152)
    # mtime=0: the same map always gives the same bytes.
    return gzip.compress(image.to_bytes(), compresslevel=6, mtime=0)


def nifti_to_volume(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The volume and affine of a (gzipped) NIfTI image: the inverse of :func:`map_to_nifti`."""
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    image = nib.Nifti1Image.from_bytes(raw)
    return np.asarray(image.dataobj, dtype=np.float32), np.asarray(image.affine)
