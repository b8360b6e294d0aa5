"""Synthetic bibliographic records: PubMed-like ids, titles and author lists.

Everything is drawn from a caller's random generator, so a seeded corpus always has
the same records. Titles name the article's regions or their functions, the way real
neuroimaging titles do.
"""

from __future__ import annotations

import numpy as np

from apps.text2brain.regions import Region

# PubMed ids of the original corpus's era are 8-digit numbers.
PMID_RANGE = (10_000_000, 36_000_000)

_SURNAMES = (
    "Abe", "Alvarez", "Andersen", "Bauer", "Becker", "Bianchi", "Brown", "Carter", "Chen",
    "Costa", "Dubois", "Eriksson", "Fischer", "Garcia", "Gupta", "Hansen", "Hoffmann",
    "Ito", "Jensen", "Johnson", "Kim", "Kowalski", "Kumar", "Larsen", "Laurent", "Lee",
    "Li", "Lopez", "Martin", "Meyer", "Moreau", "Müller", "Nakamura", "Nguyen", "Novak",
    "Okafor", "Olsen", "Park", "Patel", "Peters", "Rossi", "Sato", "Schmidt", "Schneider",
    "Silva", "Smith", "Suzuki", "Tanaka", "Taylor", "Thompson", "Van Dijk", "Wagner",
    "Walker", "Wang", "Weber", "Williams", "Wilson", "Wu", "Yamamoto", "Zhang",
)  # fmt: skip
_INITIALS = "ABCDEFGHJKLMNPRSTW"

_METHODS = (
    "an fMRI study",
    "an event-related fMRI study",
    "evidence from functional MRI",
    "a PET study",
    "a 7 T fMRI study",
    "a coordinate-based meta-analysis",
    "evidence from lesion and imaging data",
)
_POPULATIONS = (
    "healthy adults",
    "older adults",
    "adolescents",
    "children",
    "patients with major depression",
    "patients with schizophrenia",
    "musicians",
    "bilingual speakers",
)
_TITLE_TEMPLATES = (
    "{Topic} engages the {region}: {method}",
    "The role of the {region} in {topic}",
    "Neural correlates of {topic} in {population}",
    "{Topic} and the {region}: {method}",
    "Dissociable contributions of the {region} to {topic}",
    "Altered {region} activity during {topic} in {population}",
    "Functional specialization of the {region} for {topic}",
)


def draw_pmid(rng: np.random.Generator, taken: set[int]) -> int:
    """A PubMed-like id not in ``taken`` (which it joins)."""
    while True:
        pmid = int(rng.integers(*PMID_RANGE))
        if pmid not in taken:
            taken.add(pmid)
            return pmid


def draw_authors(rng: np.random.Generator) -> str:
    """An author list in PubMed style: ``Surname AB, Surname C, …``."""
    count = int(rng.integers(2, 9))
    names = []
    for surname in rng.choice(_SURNAMES, size=count, replace=False):
        initials = "".join(rng.choice(list(_INITIALS), size=int(rng.integers(1, 3))))
        names.append(f"{surname} {initials}")
    return ", ".join(names)


def draw_title(rng: np.random.Generator, regions: list[Region]) -> str:
    """A title about the first of ``regions`` (and about the second's function, if any)."""
    main = regions[0]
    topic = str(rng.choice(main.functions))
    if len(regions) > 1:
        topic = f"{topic} and {rng.choice(regions[1].functions)}"
    template = str(rng.choice(_TITLE_TEMPLATES))
    return template.format(
        Topic=topic[0].upper() + topic[1:],
        topic=topic,
        region=main.name,
        method=str(rng.choice(_METHODS)),
        population=str(rng.choice(_POPULATIONS)),
    )
