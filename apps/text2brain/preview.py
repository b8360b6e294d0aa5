"""A preview picture of a map: axial, coronal and sagittal slices over the brain outline.

Drawn with numpy and pillow only (no matplotlib on the serving path). Slices go
through the map's peak; values above a fraction of the peak are shown with a "hot"
colour scale over the brain silhouette. Left is on the left (neurological view),
anterior is up in the axial view and to the right in the sagittal one.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from apps.text2brain.mask import BrainMask

PNG_CONTENT_TYPE = "image/png"
SCALE = 4  # screen pixels per voxel
SHOWN_FRACTION = 0.3  # values below this fraction of the peak are not coloured
_GAP = 8
_BACKGROUND = np.array([0, 0, 0], dtype=np.float64)
_BRAIN = np.array([48, 48, 52], dtype=np.float64)
_OUTLINE = np.array([170, 170, 175], dtype=np.float64)


def render_preview(vector: np.ndarray, mask: BrainMask) -> bytes:
    """A PNG of three orthogonal slices through the peak of a masked map."""
    volume = mask.to_volume(np.asarray(vector, dtype=np.float32))
    brain = mask.volume.astype(np.float32)
    peak_at = np.unravel_index(int(np.argmax(np.where(mask.volume, volume, -np.inf))), volume.shape)
    x, y, z = (int(i) for i in peak_at)
    peak = float(volume[x, y, z])
    # Arrays are indexed (x, y, z); a picture is (row, column): rows run top to bottom.
    views = [
        (volume[:, :, z].T[::-1], brain[:, :, z].T[::-1], f"z={_mm(mask, 2, z)}"),  # axial
        (volume[:, y, :].T[::-1], brain[:, y, :].T[::-1], f"y={_mm(mask, 1, y)}"),  # coronal
        (volume[x, :, :].T[::-1], brain[x, :, :].T[::-1], f"x={_mm(mask, 0, x)}"),  # sagittal
    ]
    panels = [_panel(values, silhouette, peak) for values, silhouette, _ in views]
    width = sum(panel.width for panel in panels) + _GAP * (len(panels) + 1)
    height = max(panel.height for panel in panels) + 2 * _GAP
    canvas = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    left = _GAP
    for panel, (_, _, label) in zip(panels, views, strict=True):
        canvas.paste(panel, (left, _GAP))
        draw.text((left + 2, _GAP + 2), label, fill=(200, 200, 200))
        left += panel.width + _GAP
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


def _panel(values: np.ndarray, silhouette: np.ndarray, peak: float) -> Image.Image:
    """One slice: silhouette, outline, and the coloured map, upscaled SCALE times."""
    size = (values.shape[1] * SCALE, values.shape[0] * SCALE)
    smooth_values = _upscale(values, size)
    inside = _upscale(silhouette, size) >= 0.5
    outline = inside & ~_eroded(inside)
    rgb = np.where(inside[..., None], _BRAIN, _BACKGROUND)
    rgb[outline] = _OUTLINE
    if peak > 0:
        level = (smooth_values / peak - SHOWN_FRACTION) / (1.0 - SHOWN_FRACTION)
        shown = inside & (level > 0)
        rgb[shown] = _hot(0.35 + 0.65 * np.clip(level[shown], 0.0, 1.0))
    return Image.fromarray(rgb.astype(np.uint8), mode="RGB")


def _upscale(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(
        Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), mode="F").resize(
            size, Image.Resampling.BILINEAR
        )
    )


def _eroded(region: np.ndarray) -> np.ndarray:
    """A pixel stays if it and its four neighbours are inside."""
    padded = np.pad(region, 1)
    return (
        padded[1:-1, 1:-1]
        & padded[:-2, 1:-1]
        & padded[2:, 1:-1]
        & padded[1:-1, :-2]
        & padded[1:-1, 2:]
    )


def _hot(level: np.ndarray) -> np.ndarray:
    """The "hot" colour scale: black → red → yellow → white, for levels in [0, 1]."""
    red = np.clip(3.0 * level, 0.0, 1.0)
    green = np.clip(3.0 * level - 1.0, 0.0, 1.0)
    blue = np.clip(3.0 * level - 2.0, 0.0, 1.0)
    return np.stack([red, green, blue], axis=-1) * 255.0


def _mm(mask: BrainMask, axis: int, index: int) -> int:
    """The MNI coordinate (mm) of a slice."""
    return round(float(mask.affine[axis, axis] * index + mask.affine[axis, 3]))
