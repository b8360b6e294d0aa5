"""The reference corpus: seeded synthetic articles and their activation maps.

Each article is about one to three named regions (:mod:`apps.text2brain.regions`) and
reports their peaks — jittered as real studies' coordinates are — plus, sometimes, a
few incidental foci elsewhere in the brain. Its map is made the way Text2Brain's
training maps were: a Gaussian sphere at every reported coordinate (FWHM 12 mm),
summed, on the 4 mm brain mask.

A corpus is a pure function of its size and seed. Articles are drawn one after the
other from one generator, so the first ``n`` articles of a larger corpus are the
corpus of size ``n``; maps are rendered chunk by chunk, never all at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from apps.text2brain.citations import draw_authors, draw_pmid, draw_title
from apps.text2brain.mask import BrainMask
from apps.text2brain.regions import REGIONS, Region, region

# "small" trains the bundled model and runs the tests; "full" is the original's size.
CORPUS_SIZES: dict[str, int] = {"small": 480, "full": 10_574}
FWHM_MM = 12.0
SIGMA_MM = FWHM_MM / (2.0 * math.sqrt(2.0 * math.log(2.0)))
_JITTER_MM = 3.0
# How many regions an article is about: 1, 2 or 3, with these probabilities.
_REGIONS_PER_ARTICLE = (0.5, 0.35, 0.15)
_BILATERAL_BOTH = 0.75  # a bilateral region is sometimes reported in one hemisphere only
_INCIDENTAL_MEAN = 0.8

Focus = tuple[float, float, float, float]  # x, y, z (mm), amplitude


@dataclass(frozen=True)
class Article:
    """One reference article: its record and the foci its map is made of."""

    pmid: int
    title: str
    authors: str
    regions: tuple[str, ...]
    foci: tuple[Focus, ...]

    def record(self) -> dict[str, Any]:
        """What the lookup returns about the article (and what is stored on disk)."""
        return {
            "pmid": self.pmid,
            "title": self.title,
            "authors": self.authors,
            "regions": list(self.regions),
        }


def corpus_size(size: str | int) -> int:
    """The number of articles of a named size ("small", "full") or an explicit count."""
    if isinstance(size, int):
        if size < 1:
            raise ValueError("a corpus needs at least one article")
        return size
    try:
        return CORPUS_SIZES[size]
    except KeyError:
        raise ValueError(
            f"unknown corpus size {size!r}: use one of {sorted(CORPUS_SIZES)}"
        ) from None


def make_articles(n: int, seed: int, mask: BrainMask) -> list[Article]:
    """``n`` articles, deterministic in ``seed``."""
    rng = np.random.default_rng([seed, 20_211_006])
    brain = mask.coordinates
    articles: list[Article] = []
    taken: set[int] = set()
    for _ in range(n):
        pmid = draw_pmid(rng, taken)
        count = int(rng.choice(len(_REGIONS_PER_ARTICLE), p=_REGIONS_PER_ARTICLE)) + 1
        chosen = [REGIONS[int(i)] for i in rng.choice(len(REGIONS), size=count, replace=False)]
        foci = [focus for r in chosen for focus in _reported_foci(rng, r)]
        for _ in range(min(3, int(rng.poisson(_INCIDENTAL_MEAN)))):
            x, y, z = brain[int(rng.integers(len(brain)))] + rng.uniform(-2.0, 2.0, size=3)
            foci.append((float(x), float(y), float(z), float(rng.uniform(0.15, 0.4))))
        articles.append(
            Article(
                pmid=pmid,
                title=draw_title(rng, chosen),
                authors=draw_authors(rng),
                regions=tuple(r.key for r in chosen),
                foci=tuple(foci),
            )
        )
    return articles


def _reported_foci(rng: np.random.Generator, where: Region) -> list[Focus]:
    """The peaks a study of ``where`` reports: jittered, with an amplitude each."""
    peaks = list(where.coordinates)
    if len(peaks) == 2 and rng.random() > _BILATERAL_BOTH:
        peaks = [peaks[int(rng.integers(2))]]
    foci = []
    for peak in peaks:
        x, y, z = np.asarray(peak) + rng.normal(0.0, _JITTER_MM, size=3)
        foci.append((float(x), float(y), float(z), float(rng.uniform(0.6, 1.0))))
    return foci


class MapRenderer:
    """Renders maps on a fixed set of voxel coordinates (the brain mask's)."""

    # The Gaussian is floored at e^-60 (~1e-26): float32 stays out of slow denormals.
    _FLOOR = np.float32(-60.0)

    def __init__(self, coordinates: np.ndarray) -> None:
        self._axes = [np.ascontiguousarray(coordinates[:, i], dtype=np.float32) for i in range(3)]
        self._scale = np.float32(-0.5 / SIGMA_MM**2)

    def __call__(self, foci: Sequence[Focus]) -> np.ndarray:
        """A map: the sum of a Gaussian sphere per focus, as a float32 vector."""
        points = np.asarray(foci, dtype=np.float32).reshape(-1, 4)
        exponent = (self._axes[0][None, :] - points[:, 0:1]) ** 2
        exponent += (self._axes[1][None, :] - points[:, 1:2]) ** 2
        exponent += (self._axes[2][None, :] - points[:, 2:3]) ** 2
        exponent *= self._scale
        np.maximum(exponent, self._FLOOR, out=exponent)
        spheres = np.exp(exponent, out=exponent)
        result: np.ndarray = (points[:, 3:4] * spheres).sum(axis=0, dtype=np.float32)
        return result


def region_map(key: str, mask: BrainMask) -> np.ndarray:
    """A region's canonical map: a unit sphere at each of its published peaks."""
    peaks = [(*peak, 1.0) for peak in region(key).coordinates]
    return MapRenderer(mask.coordinates)(peaks)


def iter_map_chunks(
    articles: Sequence[Article], mask: BrainMask, rows: int = 256
) -> Iterator[np.ndarray]:
    """The articles' maps, ``rows`` at a time, as (rows, n_voxels) float32 arrays."""
    render = MapRenderer(mask.coordinates)
    for start in range(0, len(articles), rows):
        yield np.stack([render(article.foci) for article in articles[start : start + rows]])
