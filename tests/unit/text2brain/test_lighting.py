"""A query that names a region lights that region up — on phrasings never seen in training."""

from __future__ import annotations

from apps.text2brain.app import Text2BrainApp
from apps.text2brain.lighting import LIGHTING_THRESHOLD, held_out_queries, region_lighting
from apps.text2brain.phrasings import HELD_OUT_TEMPLATES, TRAINING_TEMPLATES
from apps.text2brain.regions import REGIONS
from tributary import models
from tributary.config import Settings


def test_held_out_templates_were_not_used_in_training() -> None:
    assert not set(HELD_OUT_TEMPLATES) & set(TRAINING_TEMPLATES)


def test_every_region_term_lights_its_region_in_held_out_phrasings(
    t2b_app: Text2BrainApp, trained_settings: Settings
) -> None:
    model = t2b_app._model(t2b_app.model_info().version)
    queries = held_out_queries()
    assert len(queries) == sum(len(r.terms) for r in REGIONS) * len(HELD_OUT_TEMPLATES)

    cases = region_lighting(model.predict_texts, model.mask, queries)

    failures = [case for case in cases if not case.passed]
    assert not failures, [
        (
            c.query,
            c.region,
            round(c.correlation, 3),
            c.best_other,
            round(c.best_other_correlation, 3),
        )
        for c in failures
    ]
    assert min(c.correlation for c in cases) >= LIGHTING_THRESHOLD == 0.5
    meta = models.read_meta(trained_settings, "text2brain", model.version)
    recorded = meta["metrics"]["held_out_region_lighting"]
    assert recorded["passed"] == recorded["queries"] == len(cases)
