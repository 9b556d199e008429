"""Benchmark stroke completion: galseg against the strokes alone and a random walker.

Run from the repository root (the same code as ``galseg bench completion``)::

    .venv/bin/python benchmarks/completion.py                  # the shipped checkpoint
    .venv/bin/python benchmarks/completion.py --checkpoint galseg-assist.safetensors \
        --n 12 --seed 1000000 --no-sam

On ``--n`` held-out simulated cutouts per class (tidal stream, shell, tidal
tail, bar; legacy preset, 256 x 256), a simulated expert draws a stroke along
the feature, then each next stroke in the largest error of galseg's
completion. It prints, on the same strokes, the mean IoU after 1, 2, 3 and 5
strokes and NoC@80 of galseg, the strokes alone and scikit-image's
``random_walker``, per class and overall; the IoU of automatic mode
(``Assistant.segment``); the p50/p95 latency of ``set_image`` and ``complete``
next to Segment Anything ViT-B's image encoder and mask decoder (random
weights, same process; ``--no-sam`` skips them, ``pip install
segment-anything`` enables them); and the targets of issue 5 with whether each
holds. The protocol is documented in ``galseg/model/_benchmark.py``. The
default (12 cutouts per class) takes a few minutes on two CPU cores.
"""

from __future__ import annotations

import sys

from galseg.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "completion", *sys.argv[1:]]))
