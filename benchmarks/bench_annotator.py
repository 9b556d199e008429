"""UI-thread pauses of the napari annotator through a scripted session, per cutout size.

Run from the repository root, on a display (or under Xvfb)::

    xvfb-run -a .venv/bin/python benchmarks/bench_annotator.py [SIZE ...] [--bands N]

For each size (default 512, 2048 and 4096 pixels square, 3 bands) and with
assist on (the shipped model, loading in the background as the window opens)
and off, a real viewer (shown) runs the session an expert runs: open a
cutout, paint a stroke, complete it (assist on: wait for the preview), accept,
undo, let autosave write, go to the next cutout. A 5 ms QTimer heartbeat on
the main thread measures every pause; it prints, per size and mode:

- ``open``: the longest pause while a cutout opens (after the window's first
  paint);
- ``work``: the longest pause and the p99 of the pauses while painting,
  completing, accepting, undoing and autosaving;
- assist on: stroke release to preview, p50 and p95 over the strokes.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import tempfile
import time

import numpy as np

BEAT_MS = 5


def write_cutouts(folder: Path, size: int, bands: int, n: int = 2) -> None:
    """``n`` cutouts of ``size`` squared: the simulator's galaxy, tiled up to the size."""
    from galseg import Cutout
    from galseg.io import write_cutout
    from galseg.simulate import simulate_cutout

    for seed in range(n):
        base, _ = simulate_cutout(seed, survey="legacy", size=min(size, 512))
        reps = -(-size // base.data.shape[-1])
        data = np.tile(base.data, (1, reps, reps))[:, :size, :size]
        data = np.concatenate([data] * (-(-bands // data.shape[0])))[:bands]
        names = ("g", "r", "i", "z", "y")[:bands]
        cutout = Cutout(data.astype(np.float32), names, None, base.pixel_scale)
        write_cutout(cutout, folder / f"s{size}n{seed}.fits")


class Heartbeat:
    """Ticks of a 5 ms timer on the main thread, each tagged with the phase it ended."""

    def __init__(self) -> None:
        from qtpy.QtCore import QTimer

        self.phase = "idle"
        self.gaps: dict[str, list[float]] = {}
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.timeout.connect(self._tick)
        self._timer.start(BEAT_MS)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.setdefault(self.phase, []).append(now - self._last)
        self._last = now

    def set(self, phase: str) -> None:
        self._tick()
        self.phase = phase

    def stop(self) -> None:
        self._timer.stop()


def spin(app, seconds: float, until=None) -> bool:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        if until is not None and until():
            return True
        time.sleep(0.002)
    return until is None or until()


def run_session(size: int, bands: int, assist: bool) -> dict:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_galseg import launch

    folder = Path(tempfile.mkdtemp())
    write_cutouts(folder, size, bands)
    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    spin(app, 0.5)  # the window's own first paint does not count
    beat = Heartbeat()
    beat.set("open")
    widget = launch([folder], folder / "masks.zarr", "bench", viewer=viewer, assist=assist)
    spin(app, 0.3)
    session, layer = widget.session, widget.mask_layer
    if assist:  # strokes made while it loads are completed once it is ready
        spin(app, 120, lambda: session.model_state == "ready" and not session.busy)
    latencies = []
    for stroke in range(6 if assist else 2):
        y = size // 2 + 12 * stroke - 30
        beat.set("work")
        layer.brush_size = 5
        for x in range(size // 2 - 30, size // 2 + 30, 4):
            layer.paint((y, x), 1)
            app.processEvents()
        released = time.perf_counter()
        request = widget.stroke_finished()
        if request is not None:
            spin(app, 60, lambda: session.preview is not None and not session.assist.pending)
            latencies.append(time.perf_counter() - released)
        spin(app, 0.1)
    widget.accept()
    spin(app, 0.3)
    widget.undo()
    spin(app, 2.0)  # autosave writes
    beat.set("open")
    widget.next()
    spin(app, 0.5)
    beat.set("idle")
    beat.stop()
    widget.close_session()
    viewer.close()
    return {"gaps": beat.gaps, "latencies": latencies}


def describe(size: int, bands: int, assist: bool, result: dict) -> str:
    gaps = {k: np.asarray(v) * 1e3 for k, v in result["gaps"].items()}
    work, opening = gaps.get("work", np.zeros(1)), gaps.get("open", np.zeros(1))
    text = (
        f"{bands}x{size}x{size} assist {'on ' if assist else 'off'}: "
        f"open {opening.max():.0f} ms; work longest {work.max():.0f} ms, "
        f"p99 {np.percentile(work, 99):.0f} ms"
    )
    if result["latencies"]:
        ms = np.asarray(result["latencies"]) * 1e3
        text += (
            f"; stroke to preview p50 {np.percentile(ms, 50):.0f} ms, "
            f"p95 {np.percentile(ms, 95):.0f} ms ({ms.size} strokes)"
        )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[512, 2048, 4096])
    parser.add_argument("--bands", type=int, default=3)
    args = parser.parse_args()
    os.environ["GALSEG_CONFIG_DIR"] = tempfile.mkdtemp()
    print(f"heartbeat {BEAT_MS} ms; pauses are gaps between its ticks; {os.cpu_count()} CPUs")
    for size in args.sizes:
        for assist in (True, False):
            result = run_session(size, args.bands, assist)
            print(describe(size, args.bands, assist, result), flush=True)


if __name__ == "__main__":
    main()
