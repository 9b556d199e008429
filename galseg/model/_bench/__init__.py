"""The completion benchmark: galseg against the strokes alone and a random walker.

Protocol
--------
*Cases* (:mod:`~galseg.model._bench._cases`). Two families, ``n`` cutouts per
feature class (tidal stream, shell, tidal tail, bar) each, none ever trained
on: held-out cutouts of galseg's simulator with their visible truth (the
deep truth, and the truth rule applied to the observed light, reported beside
it), and an independent family from
``benchmarks/independent_cases.py``, written apart from the simulator.

*Strokes.* A simulated expert paints in each of the three
:data:`~galseg.model.STROKE_STYLES` (a line along the feature, short dabs,
single clicks): stroke 1 on the feature, then each next stroke into the
largest error of the *driver*'s completion
(:func:`~galseg.model.next_stroke`: paint where it misses, erase where it
spills). Every method sees the same strokes, so the comparison is paired; by
default the driver is galseg (the expert corrects the tool they use).

*Methods* (:mod:`~galseg.model._bench._baselines`), all given the same
positive and negative strokes: ``galseg`` (:meth:`Assistant.complete`, its
last probability fed back as ``previous``), ``strokes alone`` (painted minus
erased pixels) and ``random_walker``
(:func:`skimage.segmentation.random_walker` on the image the model sees).

*Scores* (:mod:`~galseg.model._bench._results`). Mean IoU after 1, 2, 3 and
5 strokes, and NoC@80: the number of strokes to reach IoU 0.80, at most
``max_strokes``; a method that never gets there counts ``max_strokes`` and
is counted as failed. Every method runs on strokes 1 to 5; after that only
until it reaches 0.80 (the driver runs on every stroke). Automatic mode
(:meth:`Assistant.segment`) is scored by the IoU of each case's class, and by
the share of featureless cutouts on which it finds any tidal or bar pixel
(the own family's have sky residuals, as real skies do).

*Locality* (:mod:`~galseg.model._bench._locality`): strokes on sky, on a
bright source and on diffuse light of real images; the share of each
completion in pieces that touch the stroke, and its size against the
stroke's.

*Latency* (:mod:`~galseg.model._bench._timing`): ``set_image`` and
``complete``, beside Segment Anything ViT-B's image encoder and mask decoder.

:func:`report` prints it all with the targets and whether each holds.
"""

from ._baselines import WALKER_BETA, random_walker_completer, walker_image
from ._cases import FAMILIES, BenchCase, family_cases, featureless_cutouts, independent_generator
from ._locality import PLACES, LocalityProbe, probe_locality, real_images
from ._report import report
from ._results import AFTER, METHODS, AutomaticScore, CompletionBenchmark, Episode, Target
from ._run import benchmark_completion
from ._timing import Timing, time_sam

__all__ = [
    "AFTER",
    "FAMILIES",
    "METHODS",
    "PLACES",
    "WALKER_BETA",
    "AutomaticScore",
    "BenchCase",
    "CompletionBenchmark",
    "Episode",
    "LocalityProbe",
    "Target",
    "Timing",
    "benchmark_completion",
    "family_cases",
    "featureless_cutouts",
    "independent_generator",
    "probe_locality",
    "random_walker_completer",
    "real_images",
    "report",
    "time_sam",
    "walker_image",
]
