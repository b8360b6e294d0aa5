"""Does a query that names a region light that region up? (numpy only)

For each region and each of its terms, put in held-out templates, the predicted map
must correlate (Pearson) with the region's canonical sphere map by at least
``LIGHTING_THRESHOLD``, and better than with any other region's map. Measured at
build time (into ``meta.json``) and asserted by the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from apps.text2brain.corpus import region_map
from apps.text2brain.mask import BrainMask
from apps.text2brain.phrasings import HELD_OUT_TEMPLATES, phrase
from apps.text2brain.query import normalize_query
from apps.text2brain.reference import unit_rows
from apps.text2brain.regions import REGION_KEYS, REGIONS

LIGHTING_THRESHOLD = 0.5


@dataclass(frozen=True)
class LightingCase:
    """One held-out query, the region it names, and how the prediction matched."""

    query: str
    region: str
    correlation: float  # with the named region's map
    best_other: str  # the other region it correlates with most
    best_other_correlation: float

    @property
    def passed(self) -> bool:
        return (
            self.correlation >= LIGHTING_THRESHOLD
            and self.correlation > self.best_other_correlation
        )


def held_out_queries(templates: Sequence[str] = HELD_OUT_TEMPLATES) -> list[tuple[str, str]]:
    """(region key, query) for every region, every term of it, every template."""
    return [
        (r.key, phrase(template, [term]))
        for r in REGIONS
        for term in r.terms
        for template in templates
    ]


def region_lighting(
    predict: Callable[[list[str]], np.ndarray],
    mask: BrainMask,
    queries: Sequence[tuple[str, str]] | None = None,
) -> list[LightingCase]:
    """Score ``predict`` (normalized queries → maps) on held-out region queries."""
    queries = list(queries if queries is not None else held_out_queries())
    regions = unit_rows(np.stack([region_map(key, mask) for key in REGION_KEYS])).unit
    predicted = unit_rows(predict([normalize_query(query) for _, query in queries])).unit
    correlations = predicted @ regions.T
    cases = []
    for (key, query), row in zip(queries, correlations, strict=True):
        own = REGION_KEYS.index(key)
        others = row.copy()
        others[own] = -np.inf
        best = int(np.argmax(others))
        cases.append(
            LightingCase(
                query=query,
                region=key,
                correlation=float(row[own]),
                best_other=REGION_KEYS[best],
                best_other_correlation=float(row[best]),
            )
        )
    return cases


def summarize(cases: Sequence[LightingCase]) -> dict[str, float | int]:
    """The numbers recorded in a model's metadata."""
    correlations = np.array([case.correlation for case in cases])
    return {
        "queries": len(cases),
        "passed": sum(case.passed for case in cases),
        "threshold": LIGHTING_THRESHOLD,
        "min_correlation": round(float(correlations.min()), 4),
        "median_correlation": round(float(np.median(correlations)), 4),
    }
