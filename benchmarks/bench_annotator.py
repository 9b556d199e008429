"""Measure the napari annotator: start-up, opening a cutout, UI pauses while autosaving.

Run from the repository root, on a display (or under Xvfb)::

    xvfb-run -a .venv/bin/python benchmarks/bench_annotator.py

Prints:

- the time from starting ``galseg annotate`` (a fresh Python process) to the
  first turn of the Qt event loop with the cutout shown and the widget docked;
- the time ``widget.go(i)`` takes to show a 3 x 512 x 512 cutout (read the
  FITS file, add it to the store, stretch it, update the layers);
- the longest gap between ticks of a 5 ms QTimer heartbeat on the main thread
  while strokes are painted every 50 ms for 6 s, so the autosaver writes to
  the store many times; and the same without autosave, as the baseline.
"""

from __future__ import annotations

import os
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

STARTUP_SCRIPT = """
import sys, time
import napari
from qtpy.QtCore import QTimer
from galseg.cli import main

def ready():
    print(f"READY {time.time() - float(sys.argv[1]):.3f}", flush=True)
    napari.current_viewer().close()

run = napari.run
def run_and_time(*args, **kwargs):  # the first event-loop turn after the window is built
    QTimer.singleShot(0, ready)
    run(*args, **kwargs)
napari.run = run_and_time
sys.exit(main(["annotate", sys.argv[2], "--store", sys.argv[3], "--annotator", "bench"]))
"""


def startup_seconds(cutouts: Path, runs: int = 3) -> list[float]:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            start = time.time()
            result = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    STARTUP_SCRIPT,
                    str(start),
                    str(cutouts),
                    f"{folder}/m.zarr",
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "GALSEG_CONFIG_DIR": folder},
            )
            if result.returncode != 0:
                raise SystemExit(f"galseg annotate failed:\n{result.stderr[-2000:]}")
            line = next(s for s in result.stdout.splitlines() if s.startswith("READY"))
            times.append(float(line.split()[1]))
    return times


def main() -> None:
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from galseg.io import write_cutout
    from galseg.simulate import simulate_cutout

    os.environ["GALSEG_CONFIG_DIR"] = tempfile.mkdtemp()
    import napari

    from napari_galseg import launch

    folder = Path(tempfile.mkdtemp())
    for seed in range(6):
        cutout, _ = simulate_cutout(seed, survey="legacy", size=512)
        write_cutout(cutout, folder / f"c{seed}.fits")

    startup = startup_seconds(folder)
    print(
        f"galseg annotate -> usable window: median {statistics.median(startup):.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in startup)})"
    )

    viewer = napari.Viewer(show=True)
    widget = launch([folder], folder / "masks.zarr", "bench", viewer=viewer, assist=False)
    app = QApplication.instance()
    opens = []
    for index in (1, 2, 3, 4, 5, 0):
        start = time.perf_counter()
        widget.go(index)
        app.processEvents()
        opens.append(time.perf_counter() - start)
    print(
        f"open a 3x512x512 cutout: median {1e3 * statistics.median(opens):.0f} ms, "
        f"max {1e3 * max(opens):.0f} ms"
    )

    def heartbeat_gaps(autosave: bool) -> tuple[float, int]:
        ticks: list[float] = []
        beat = QTimer()
        beat.timeout.connect(lambda: ticks.append(time.perf_counter()))
        beat.start(5)
        rng = np.random.default_rng(int(autosave))  # new places: every stroke changes the mask
        layer = widget.mask_layer
        layer.brush_size = 6
        saves_before = len(widget.queue.store.history(widget.current_id))
        end = time.perf_counter() + 6.0
        while time.perf_counter() < end:
            y, x = rng.integers(20, 490, size=2)
            if autosave:
                layer.paint((y, x), 1)
            else:
                with layer.events.paint.blocker():
                    layer.paint((y, x), 1)
                widget._handed_in = np.asarray(layer.data).copy()  # nothing new to save
            deadline = time.perf_counter() + 0.05
            while time.perf_counter() < deadline:
                app.processEvents()
        beat.stop()
        widget.flush()
        saves = len(widget.queue.store.history(widget.current_id)) - saves_before
        return float(np.max(np.diff(ticks))), saves

    baseline, _ = heartbeat_gaps(autosave=False)
    longest, saves = heartbeat_gaps(autosave=True)
    print(f"longest main-thread pause while painting, no autosave: {1e3 * baseline:.0f} ms")
    print(
        f"longest main-thread pause while painting with autosave: {1e3 * longest:.0f} ms "
        f"({saves} saves of a 512x512 mask in 6 s)"
    )
    widget.close_session()
    viewer.close()


if __name__ == "__main__":
    main()
