"""Measure assist mode in the real annotator: stroke release to preview, and UI pauses.

Run from the repository root, on a display (or under Xvfb)::

    xvfb-run -a .venv/bin/python benchmarks/bench_assist.py [--checkpoint CKPT] [--strokes 24]

For 256 x 256 and 512 x 512 simulated legacy cutouts with a tidal stream
(held-out seeds), a scripted expert paints strokes along the stream with the
mask layer's brush, a few brush dabs per 10 ms of event loop as a mouse drag
would, and finishes each with ``stroke_finished()`` (what mouse release
calls), then goes straight on painting the next stroke while the completion
runs in its worker. Prints, per size:

- stroke release -> preview shown (the completion drawn in the preview
  layer): p50 and p95 over the strokes whose answer reached the screen;
- the longest main-thread pause (the largest gap between ticks of a 5 ms
  QTimer heartbeat) while painting with assist on, next to the same painting
  with assist off (the baseline: the painting's own cost).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import tempfile
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="galseg checkpoint (default: shipped)")
    parser.add_argument("--strokes", type=int, default=24, help="strokes per size (default 24)")
    args = parser.parse_args()

    os.environ["GALSEG_CONFIG_DIR"] = tempfile.mkdtemp()
    import napari
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from galseg.io import write_cutout
    from galseg.model import HELD_OUT_SEEDS, scribble
    from galseg.simulate import simulate_galaxy
    from napari_galseg import launch

    app = QApplication.instance() or QApplication([])

    def spin(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()

    def wait(condition, timeout: float = 120.0) -> None:
        end = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > end:
                raise SystemExit("timed out waiting for the model")
            spin(0.005)

    for size in (256, 512):
        folder = Path(tempfile.mkdtemp())
        truths = []
        for i in range(3):
            sim = simulate_galaxy(
                HELD_OUT_SEEDS + 500 + i,
                "legacy",
                size,
                features=("tidal_stream",),
                feature_sb=25.5,
            )
            write_cutout(sim.cutout, folder / f"stream{i}.fits")
            truths.append(sim.truth == 1)
        results = {}
        for assist in (False, True):
            viewer = napari.Viewer(show=True)
            widget = launch(
                [folder],
                folder / f"masks-{assist}.zarr",
                "bench",
                viewer=viewer,
                assist=assist,
                checkpoint=args.checkpoint,
            )
            if assist:
                wait(lambda: widget.assist.enabled and not widget.assist.busy)
            ticks: list[float] = []
            beat = QTimer()
            beat.timeout.connect(lambda: ticks.append(time.perf_counter()))
            rng = np.random.default_rng(size)
            layer = widget.mask_layer
            gaps = []
            for stroke_index in range(args.strokes):
                cutout_index = stroke_index * len(truths) // args.strokes
                if widget.queue.index != cutout_index:
                    widget.go(cutout_index)
                    if assist:
                        wait(lambda: not widget.assist.busy)  # the encoder ran as it opened
                    layer = widget.mask_layer
                if assist and stroke_index % 4 == 0:
                    widget.reject()  # a new feature every few strokes
                stroke = scribble(truths[cutout_index], rng, length=(0.1, 0.2))
                layer.selected_label, layer.brush_size = 1, 5
                ticks.clear()
                beat.start(5)
                for k, (y, x) in enumerate(np.argwhere(stroke)[::3]):
                    layer.paint((y, x), 1)
                    if k % 3 == 2:
                        spin(0.010)
                widget.stroke_finished()
                spin(0.3)  # the next stroke would start here; the completion runs meanwhile
                beat.stop()
                gaps.append(float(np.max(np.diff(ticks))))
            results[assist] = (gaps, list(widget.assist.latencies))
            widget.close_session()
            viewer.close()
        base_gaps, _ = results[False]
        gaps, latencies = results[True]
        ms = 1e3 * np.asarray(latencies)
        print(
            f"{size}x{size}: stroke release -> preview shown p50 {np.percentile(ms, 50):.0f} ms, "
            f"p95 {np.percentile(ms, 95):.0f} ms ({len(ms)} of {args.strokes} strokes shown)"
        )
        print(
            f"{size}x{size}: longest main-thread pause while painting: {1e3 * max(gaps):.0f} ms "
            f"with assist, {1e3 * max(base_gaps):.0f} ms without (median stroke "
            f"{1e3 * np.median(gaps):.0f} vs {1e3 * np.median(base_gaps):.0f} ms)"
        )


if __name__ == "__main__":
    main()
