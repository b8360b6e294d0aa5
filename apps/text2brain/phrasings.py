"""How queries about regions are phrased: training templates and held-out ones.

Training pairs say what an article is about in many ways: one of each region's terms
(its name, or a function it is known for) put into one of ``TRAINING_TEMPLATES``.
``HELD_OUT_TEMPLATES`` never appear in training; they test that the model understood
the words rather than memorized the sentences.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from apps.text2brain.regions import Region

TRAINING_TEMPLATES: tuple[str, ...] = (
    "{terms}",
    "{terms} fmri",
    "neural correlates of {terms}",
    "brain activation during {terms}",
    "role of {terms}",
    "{terms} in healthy adults",
    "functional imaging of {terms}",
    "{terms} activation",
)
HELD_OUT_TEMPLATES: tuple[str, ...] = (
    "which brain areas support {terms}?",
    "meta-analysis of {terms}",
    "a study about {terms}",
    "brain regions for {terms}",
)


def join_terms(terms: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(terms) == 1:
        return terms[0]
    return ", ".join(terms[:-1]) + " and " + terms[-1]


def phrase(template: str, terms: Sequence[str]) -> str:
    """A template filled with terms."""
    return template.format(terms=join_terms(terms))


def describe(regions: Sequence[Region], rng: np.random.Generator, templates: Sequence[str]) -> str:
    """A random phrasing of a query about ``regions`` (in random order)."""
    order = rng.permutation(len(regions))
    terms = [str(rng.choice(regions[int(i)].terms)) for i in order]
    return phrase(str(rng.choice(templates)), terms)
