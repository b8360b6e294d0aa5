"""The 4 mm brain grid every map lives on, and the mask of its brain voxels.

Maps are 40×48×40 volumes at 4 mm in MNI152 space (the original service's grid);
only voxels inside the brain mask are compared. The mask ships with the app
(``assets/brain_mask_4mm.nii.gz``); :func:`derive_mask` rebuilds it from nilearn's
MNI152 brain mask (``python -m apps.text2brain.mask``), which is a build-time step:
serving only reads the committed file with nibabel.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import nibabel as nib
import numpy as np

GRID_SHAPE: tuple[int, int, int] = (40, 48, 40)
VOXEL_MM = 4.0
# Voxel (0, 0, 0) sits at MNI (-78, -112, -70): the grid spans x -78..78, y -112..76,
# z -70..86 mm, which holds the whole MNI152 brain.
AFFINE = np.array(
    [
        [VOXEL_MM, 0.0, 0.0, -78.0],
        [0.0, VOXEL_MM, 0.0, -112.0],
        [0.0, 0.0, VOXEL_MM, -70.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)
MASK_FILE = Path(__file__).resolve().parent / "assets" / "brain_mask_4mm.nii.gz"
# A 4 mm voxel is brain when at least half of its 1 mm sub-voxels are.
_BRAIN_FRACTION = 0.5


@dataclass(frozen=True)
class BrainMask:
    """The brain voxels of the 4 mm grid, in C order, with their MNI coordinates."""

    volume: np.ndarray  # bool, GRID_SHAPE
    affine: np.ndarray

    @property
    def indices(self) -> np.ndarray:
        """Flat (C-order) grid indices of the brain voxels."""
        return np.flatnonzero(self.volume)

    @property
    def n_voxels(self) -> int:
        return int(self.volume.sum())

    @property
    def coordinates(self) -> np.ndarray:
        """MNI coordinates (mm) of the brain voxels, shape (n_voxels, 3), float32."""
        ijk = np.argwhere(self.volume).astype(np.float64)
        return (ijk @ self.affine[:3, :3].T + self.affine[:3, 3]).astype(np.float32)

    def to_volume(self, vector: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Put a masked vector back on the grid (float32); voxels outside the brain get ``fill``."""
        if vector.shape != (self.n_voxels,):
            raise ValueError(f"expected a vector of {self.n_voxels} voxels, got {vector.shape}")
        grid = np.full(self.volume.shape, fill, dtype=np.float32)
        grid[self.volume] = vector
        return grid

    def from_volume(self, volume: np.ndarray) -> np.ndarray:
        """The brain voxels of a grid-shaped volume, as a float32 vector."""
        if volume.shape != self.volume.shape:
            raise ValueError(f"expected a {self.volume.shape} volume, got {volume.shape}")
        return np.asarray(volume, dtype=np.float32)[self.volume]


@cache
def load_mask(path: Path = MASK_FILE) -> BrainMask:
    """The shipped brain mask (read once per process)."""
    image = nib.Nifti1Image.from_filename(str(path))
    volume = np.asarray(image.dataobj) > 0
    if volume.shape != GRID_SHAPE:
        raise ValueError(f"{path} holds a {volume.shape} mask; expected {GRID_SHAPE}")
    return BrainMask(volume=volume, affine=np.asarray(image.affine, dtype=np.float64))


def derive_mask() -> np.ndarray:
    """The 4 mm brain mask from nilearn's 1 mm MNI152 mask, by sub-voxel majority.

    Each 4 mm voxel is sampled at its 4×4×4 sub-voxel centres (nearest 1 mm voxel);
    it is brain when at least half of them are. Needs nilearn (build time only).
    """
    from nilearn.datasets import load_mni152_brain_mask

    fine_image = load_mni152_brain_mask(resolution=1)
    fine = np.asarray(fine_image.get_fdata()) > 0.5
    ijk = np.argwhere(np.ones(GRID_SHAPE, dtype=bool)).astype(np.float64)
    centres = ijk @ AFFINE[:3, :3].T + AFFINE[:3, 3]
    offsets = np.arange(4) - 1.5  # sub-voxel centres in mm around a 4 mm voxel's centre
    sub = np.stack(np.meshgrid(offsets, offsets, offsets, indexing="ij"), -1).reshape(-1, 3)
    to_fine = np.linalg.inv(fine_image.affine)
    inside = np.zeros(len(centres))
    for offset in sub:
        points = centres + offset
        voxels = np.rint(points @ to_fine[:3, :3].T + to_fine[:3, 3]).astype(np.int64)
        valid = np.all((voxels >= 0) & (voxels < np.array(fine.shape)), axis=1)
        hit = np.zeros(len(points), dtype=bool)
        hit[valid] = fine[tuple(voxels[valid].T)]
        inside += hit
    return (inside / len(sub) >= _BRAIN_FRACTION).reshape(GRID_SHAPE)


def write_mask(volume: np.ndarray, path: Path = MASK_FILE) -> None:
    """Save a mask as a compressed uint8 NIfTI on the 4 mm grid."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = nib.Nifti1Image(volume.astype(np.uint8), AFFINE)
    image.header.set_xyzt_units("mm")
    nib.save(image, str(path))


if __name__ == "__main__":
    derived = derive_mask()
    write_mask(derived)
    print(f"wrote {MASK_FILE} with {int(derived.sum())} brain voxels")
