"""Benchmark stroke completion: galseg against the strokes alone and a random walker.

Run from the repository root (the same code as ``galseg bench completion``)::

    .venv/bin/python benchmarks/completion.py                  # the shipped checkpoint
    .venv/bin/python benchmarks/completion.py --checkpoint galseg-assist.safetensors \
        --n 12 --families own --styles line --no-sam

On ``--n`` cutouts per class (tidal stream, shell, tidal tail, bar) of two
families never trained on (held-out cutouts of galseg's simulator, and the
independent generator ``benchmarks/independent_cases.py``), a simulated
expert paints in three styles (a line along the feature, short dabs, single
clicks), each next stroke in the largest error of galseg's completion. It
prints, on the same strokes, the mean IoU after 1, 2, 3 and 5 strokes and
NoC@80 of galseg, the strokes alone and scikit-image's ``random_walker``
against the visible truth (the deep truth beside it); automatic mode's IoU
and false positives on featureless cutouts; the locality of completions of
strokes on sky, bright sources and diffuse light of real images; the p50/p95
latency of ``set_image`` and ``complete`` next to Segment Anything ViT-B's
(random weights, same process; ``--no-sam`` skips them); and every target
with whether it holds. The protocol is documented in
``galseg/model/_bench/__init__.py``.
"""

from __future__ import annotations

import sys

from galseg.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "completion", *sys.argv[1:]]))
