"""The downloadable map (NIfTI) and the preview picture (PNG)."""

from __future__ import annotations

import io

import nibabel as nib
import numpy as np
from PIL import Image

from apps.text2brain.corpus import region_map
from apps.text2brain.mask import AFFINE, GRID_SHAPE, BrainMask
from apps.text2brain.preview import SCALE, render_preview
from apps.text2brain.volume import map_to_nifti, nifti_to_volume


def test_the_nifti_map_round_trips_with_the_4mm_mni_affine(mask: BrainMask) -> None:
    vector = region_map("hippocampus", mask) - 0.25

    data = map_to_nifti(vector, mask)
    volume, affine = nifti_to_volume(data)

    assert data[:2] == b"\x1f\x8b"  # gzip, as a .nii.gz download
    assert volume.shape == GRID_SHAPE
    assert np.array_equal(affine, AFFINE)
    assert volume.dtype == np.float32
    assert np.array_equal(volume[mask.volume], vector)
    assert not volume[~mask.volume].any()
    assert map_to_nifti(vector, mask) == data  # the same map, the same bytes


def test_the_nifti_file_is_readable_by_nibabel_as_mni_space(mask: BrainMask, tmp_path) -> None:
    path = tmp_path / "map.nii.gz"
    path.write_bytes(map_to_nifti(region_map("v1", mask), mask))

    image = nib.Nifti1Image.from_filename(str(path))

    assert image.shape == GRID_SHAPE
    assert image.header.get_xyzt_units()[0] == "mm"
    assert int(image.header["sform_code"]) == 4  # MNI152
    peak = np.unravel_index(np.argmax(np.asarray(image.dataobj)), GRID_SHAPE)
    x, y, z = (image.affine @ np.array([*peak, 1]))[:3]
    assert abs(abs(x) - 10) <= 4 and abs(y + 90) <= 4 and abs(z - 2) <= 4


def test_the_preview_is_a_png_of_three_slices_with_the_peak_coloured(mask: BrainMask) -> None:
    data = render_preview(region_map("amygdala", mask), mask)

    Image.open(io.BytesIO(data)).verify()
    image = Image.open(io.BytesIO(data)).convert("RGB")
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    x, y, _ = GRID_SHAPE
    assert image.size[0] > (x + y + x) * SCALE and image.size[1] > y * SCALE
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    hot = (pixels[:, 0] > 200) & (pixels[:, 2] < 100)  # red-to-yellow map colours
    grey = (pixels[:, 0] == pixels[:, 1]) & (pixels[:, 0] > 100)  # the brain outline
    assert hot.sum() > 100 and grey.sum() > 500


def test_a_map_without_positive_values_still_gets_a_preview(mask: BrainMask) -> None:
    data = render_preview(-region_map("insula", mask), mask)
    assert Image.open(io.BytesIO(data)).size[0] > 0
