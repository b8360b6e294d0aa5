"""The reference corpus: deterministic, on the shipped 4 mm brain mask, maps where they belong."""

from __future__ import annotations

import numpy as np

from apps.text2brain.corpus import CORPUS_SIZES, iter_map_chunks, make_articles, region_map
from apps.text2brain.mask import AFFINE, GRID_SHAPE, BrainMask, derive_mask, load_mask
from apps.text2brain.reference import unit_rows
from apps.text2brain.regions import REGION_KEYS, REGIONS

# The shipped mask: nilearn's MNI152 brain mask at 4 mm (the original's had 28,542).
MASK_VOXELS = 29_492


def test_the_shipped_mask_is_the_one_derived_from_nilearn() -> None:
    shipped = load_mask()
    assert shipped.volume.shape == GRID_SHAPE
    assert np.array_equal(shipped.affine, AFFINE)
    assert shipped.n_voxels == MASK_VOXELS
    assert np.array_equal(derive_mask(), shipped.volume)


def test_every_region_peak_is_inside_the_brain(mask: BrainMask) -> None:
    to_voxel = np.linalg.inv(mask.affine)
    for region in REGIONS:
        for peak in region.coordinates:
            i, j, k = np.rint(to_voxel[:3, :3] @ np.array(peak) + to_voxel[:3, 3]).astype(int)
            assert mask.volume[i, j, k], (region.key, peak)


def test_region_maps_peak_at_their_region_and_are_distinguishable(mask: BrainMask) -> None:
    maps = np.stack([region_map(key, mask) for key in REGION_KEYS])
    correlations = unit_rows(maps).unit @ unit_rows(maps).unit.T
    np.fill_diagonal(correlations, 0.0)
    assert correlations.max() < 0.1
    peak = mask.coordinates[int(np.argmax(region_map("amygdala", mask)))]
    assert min(np.abs(peak - [-24, -4, -18]).max(), np.abs(peak - [24, -4, -18]).max()) <= 2


def test_the_corpus_is_a_pure_function_of_size_and_seed(mask: BrainMask) -> None:
    first = make_articles(60, 3, mask)
    again = make_articles(60, 3, mask)
    other = make_articles(60, 4, mask)
    assert first == again
    assert first != other
    # Articles are drawn one after another: a smaller corpus is a prefix of a larger one.
    assert make_articles(25, 3, mask) == first[:25]
    chunks = list(iter_map_chunks(first, mask, rows=16))
    assert [len(c) for c in chunks] == [16, 16, 16, 12]
    assert np.array_equal(
        np.concatenate(chunks), np.concatenate(list(iter_map_chunks(again, mask)))
    )


def test_articles_look_like_publications(mask: BrainMask) -> None:
    articles = make_articles(CORPUS_SIZES["small"], 0, mask)
    pmids = [a.pmid for a in articles]
    assert len(set(pmids)) == len(pmids)
    assert all(10_000_000 <= p < 36_000_000 for p in pmids)
    assert all(a.title and a.authors and 1 <= len(a.regions) <= 3 for a in articles)
    counts = {key: sum(key in a.regions for a in articles) for key in REGION_KEYS}
    assert min(counts.values()) >= 10  # every region is well represented
    record = articles[0].record()
    assert set(record) == {"pmid", "title", "authors", "regions"}


def test_an_article_map_lights_its_regions(mask: BrainMask) -> None:
    articles = make_articles(40, 0, mask)
    maps = np.concatenate(list(iter_map_chunks(articles, mask)))
    regions = unit_rows(np.stack([region_map(key, mask) for key in REGION_KEYS])).unit
    correlations = unit_rows(maps).unit @ regions.T
    for article, row in zip(articles, correlations, strict=True):
        best = {REGION_KEYS[i] for i in np.argsort(-row)[: len(article.regions)]}
        assert best == set(article.regions), article
