"""Named brain regions with published MNI coordinates, and the words people use for them.

Coordinates are typical peak locations from the neuroimaging literature (MNI152 space,
millimetres); a bilateral region lists both hemispheres. Each region has a few terms
(its names and the functions it is best known for), all lower-case as a normalized
query would be. Peaks of different regions are at least 18 mm apart, so that their
maps stay distinguishable at 4 mm.
"""

from __future__ import annotations

from dataclasses import dataclass

Coordinate = tuple[float, float, float]


@dataclass(frozen=True)
class Region:
    """One region: a key, a display name, its peak coordinates and the words for it."""

    key: str
    name: str
    coordinates: tuple[Coordinate, ...]
    aliases: tuple[str, ...]  # what the region itself is called
    functions: tuple[str, ...]  # what it is best known for

    @property
    def terms(self) -> tuple[str, ...]:
        """Every word for the region: its aliases, then its functions."""
        return self.aliases + self.functions


def _both(x: float, y: float, z: float) -> tuple[Coordinate, ...]:
    """A bilateral region: the left and the right peak."""
    return ((-x, y, z), (x, y, z))


REGIONS: tuple[Region, ...] = (
    Region(
        "amygdala",
        "amygdala",
        _both(24, -4, -18),
        ("amygdala",),
        ("fear", "threat detection"),
    ),
    Region(
        "hippocampus",
        "hippocampus",
        _both(28, -22, -14),
        ("hippocampus",),
        ("episodic memory", "memory encoding"),
    ),
    Region(
        "m1",
        "primary motor cortex",
        _both(36, -24, 58),
        ("primary motor cortex",),
        ("finger tapping", "hand movements"),
    ),
    Region(
        "s1",
        "primary somatosensory cortex",
        _both(54, -20, 40),
        ("somatosensory cortex",),
        ("touch", "tactile stimulation"),
    ),
    Region(
        "v1",
        "primary visual cortex",
        _both(10, -90, 2),
        ("primary visual cortex", "v1"),
        ("flickering checkerboard", "visual contrast"),
    ),
    Region(
        "mt",
        "visual area mt",
        _both(46, -70, 2),
        ("area mt",),
        ("visual motion", "motion perception"),
    ),
    Region(
        "ffa",
        "fusiform face area",
        _both(40, -52, -18),
        ("fusiform face area",),
        ("faces", "face recognition"),
    ),
    Region(
        "ppa",
        "parahippocampal place area",
        _both(26, -42, -8),
        ("parahippocampal place area",),
        ("scenes", "place perception"),
    ),
    Region(
        "broca",
        "broca's area",
        ((-48, 16, 16),),
        ("broca's area",),
        ("language production", "speech production"),
    ),
    Region(
        "wernicke",
        "wernicke's area",
        ((-56, -40, 10),),
        ("wernicke's area",),
        ("language comprehension", "speech comprehension"),
    ),
    Region(
        "a1",
        "primary auditory cortex",
        _both(46, -22, 8),
        ("auditory cortex", "heschl's gyrus"),
        ("pure tones", "auditory perception"),
    ),
    Region(
        "insula",
        "anterior insula",
        _both(36, 18, 2),
        ("insula",),
        ("interoception", "disgust"),
    ),
    Region(
        "dlpfc",
        "dorsolateral prefrontal cortex",
        _both(44, 36, 24),
        ("dorsolateral prefrontal cortex",),
        ("working memory", "n-back task"),
    ),
    Region(
        "acc",
        "dorsal anterior cingulate cortex",
        _both(4, 24, 34),
        ("anterior cingulate cortex",),
        ("conflict monitoring", "error detection"),
    ),
    Region(
        "pcc",
        "posterior cingulate cortex",
        _both(4, -52, 26),
        ("posterior cingulate cortex", "default mode network"),
        ("mind wandering", "autobiographical recall"),
    ),
    Region(
        "precuneus",
        "precuneus",
        _both(8, -66, 48),
        ("precuneus",),
        ("mental imagery", "visuospatial imagery"),
    ),
    Region(
        "thalamus",
        "thalamus",
        _both(10, -18, 6),
        ("thalamus",),
        ("thalamic relay", "alertness"),
    ),
    Region(
        "caudate",
        "caudate nucleus",
        _both(14, 12, 12),
        ("caudate nucleus", "caudate"),
        ("goal-directed learning", "feedback learning"),
    ),
    Region(
        "putamen",
        "putamen",
        _both(26, 2, 0),
        ("putamen",),
        ("motor learning", "habit formation"),
    ),
    Region(
        "nacc",
        "nucleus accumbens",
        _both(10, 12, -10),
        ("nucleus accumbens", "ventral striatum"),
        ("reward anticipation", "monetary reward"),
    ),
    Region(
        "cerebellum",
        "cerebellum",
        _both(24, -60, -26),
        ("cerebellum",),
        ("motor coordination", "balance control"),
    ),
    Region(
        "tpj",
        "temporoparietal junction",
        _both(52, -56, 28),
        ("temporoparietal junction",),
        ("theory of mind", "mentalizing"),
    ),
    Region(
        "vmpfc",
        "ventromedial prefrontal cortex",
        _both(4, 46, -10),
        ("ventromedial prefrontal cortex",),
        ("subjective value", "value-based decision making"),
    ),
    Region(
        "ofc",
        "orbitofrontal cortex",
        _both(28, 36, -16),
        ("orbitofrontal cortex",),
        ("odor perception", "smell"),
    ),
    Region(
        "sma",
        "supplementary motor area",
        _both(6, -4, 62),
        ("supplementary motor area",),
        ("motor planning", "movement preparation"),
    ),
    Region(
        "fef",
        "frontal eye fields",
        _both(28, -2, 50),
        ("frontal eye fields",),
        ("saccades", "eye movements"),
    ),
    Region(
        "ips",
        "intraparietal sulcus",
        _both(32, -56, 46),
        ("intraparietal sulcus",),
        ("numerical cognition", "mental arithmetic"),
    ),
    Region(
        "hypothalamus",
        "hypothalamus",
        _both(4, -6, -12),
        ("hypothalamus",),
        ("hunger", "thermoregulation"),
    ),
    Region(
        "pag",
        "periaqueductal gray",
        _both(4, -30, -12),
        ("periaqueductal gray",),
        ("pain modulation", "analgesia"),
    ),
    Region(
        "temporal_pole",
        "temporal pole",
        _both(40, 14, -32),
        ("temporal pole",),
        ("semantic knowledge", "person knowledge"),
    ),
    Region(
        "frontopolar",
        "frontopolar cortex",
        _both(28, 58, 4),
        ("frontopolar cortex",),
        ("relational reasoning", "exploratory choice"),
    ),
)

REGION_KEYS: tuple[str, ...] = tuple(region.key for region in REGIONS)


def region(key: str) -> Region:
    """The region called ``key`` (KeyError if there is none)."""
    for candidate in REGIONS:
        if candidate.key == key:
            return candidate
    raise KeyError(key)
