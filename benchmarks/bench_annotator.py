"""UI-thread pauses and memory of the napari annotator through a scripted session, per size.

Run from the repository root, on a display (or under Xvfb)::

    xvfb-run -a .venv/bin/python benchmarks/bench_annotator.py [SIZE ...] [--bands N]

For each size (default 512, 2048 and 4096 pixels square, 4 bands) and with
assist on (the shipped model, loading in the background as the window opens)
and off, a fresh process opens a real viewer (shown) and runs the session an
expert runs: open a cutout, paint strokes, complete them (assist on: wait for
each preview), accept, undo, let autosave write, go to the next cutout with
the Next button. A 5 ms QTimer heartbeat on the main thread measures every
pause; it prints, per size and mode:

- ``open`` and ``next``: the longest pause while the first cutout opens
  (after the window's first paint, which does not count) and while the Next
  button opens the next one;
- ``load``: the longest pause while the model loads and encodes the first
  cutout, after it opened (assist on);
- ``work``: the longest pause and the p99 of the pauses while painting,
  completing, accepting, undoing and autosaving;
- ``memory``: the process's peak resident memory above the viewer's own
  (the shown, empty viewer), in MB and as a multiple of the cutout's pixel
  bytes (the cutouts are written by another process);
- assist on: stroke release to preview, p50 and p95 over the strokes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
from pathlib import Path
import resource
import subprocess
import sys
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


def peak_rss() -> int:
    """The process's peak resident memory so far, in bytes.

    On Linux, ``VmHWM`` of ``/proc/self/status``: ``ru_maxrss`` would carry
    the peak of the process that started this one (it survives fork and
    exec), and a big parent, such as pytest with torch loaded, would hide
    this process's own peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def run_session(size: int, bands: int, assist: bool) -> dict:
    """One scripted session in this process; its pauses, latencies and memory."""
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_galseg import launch

    folder = Path(tempfile.mkdtemp())
    writer = multiprocessing.get_context("spawn").Process(
        target=write_cutouts, args=(folder, size, bands)
    )  # in a process of its own: its memory does not count in this one's peak
    writer.start()
    writer.join()
    if writer.exitcode != 0:
        raise RuntimeError(f"writing the {size} px cutouts failed")
    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    spin(app, 1.0)  # the window's own first paint does not count
    baseline = peak_rss()
    beat = Heartbeat()
    beat.set("open")
    widget = launch([folder], folder / "masks.zarr", "bench", viewer=viewer, assist=assist)
    beat.set("load")
    session, layer = widget.session, widget.mask_layer
    if assist:  # strokes made while it loads are completed once it is ready
        spin(app, 300, lambda: session.model_state == "ready" and not session.busy)
    spin(app, 0.3)
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
            spin(app, 120, lambda: session.preview is not None and not session.assist.pending)
            latencies.append(time.perf_counter() - released)
        spin(app, 0.1)
    widget.accept()
    spin(app, 0.3)
    widget.undo()
    spin(app, 2.5)  # autosave writes
    beat.set("next")
    first = widget.current_id
    widget.next_button.click()  # as an expert does: the UI does not wait for it
    spin(app, 300, lambda: widget.current_id not in (None, first) and widget.shown)
    beat.set("idle")
    spin(app, 0.5)
    beat.stop()
    peak = peak_rss()
    second = widget.current_id
    widget.close_session()
    viewer.close()
    store = widget.session.store
    return {
        "opened": [first, second],
        "provenance": [revision.provenance for revision in store.history(first)],
        "gaps": {phase: gaps for phase, gaps in beat.gaps.items()},
        "latencies": latencies,
        "memory": peak - baseline,
        "pixel_bytes": size * size * bands * 4,
    }


def describe(size: int, bands: int, assist: bool, result: dict) -> str:
    gaps = {k: np.asarray(v) * 1e3 for k, v in result["gaps"].items()}
    work, opening, going = (gaps.get(k, np.zeros(1)) for k in ("work", "open", "next"))
    memory = result["memory"]
    loading = f"load {gaps['load'].max():.0f} ms; " if assist and "load" in gaps else ""
    text = (
        f"{bands}x{size}x{size} assist {'on ' if assist else 'off'}: "
        f"open {opening.max():.0f} ms, next {going.max():.0f} ms; {loading}"
        f"work longest {work.max():.0f} ms, p99 {np.percentile(work, 99):.0f} ms; "
        f"memory +{memory / 2**20:.0f} MB "
        f"({memory / result['pixel_bytes']:.2f}x the pixel bytes)"
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
    parser.add_argument("--bands", type=int, default=4)
    parser.add_argument("--one", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # a child process: one session, its result as JSON on the last line
        os.environ["GALSEG_CONFIG_DIR"] = tempfile.mkdtemp()
        result = run_session(args.sizes[0], args.bands, args.one == "on")
        print(json.dumps(result))
        return
    print(
        f"heartbeat {BEAT_MS} ms; pauses are gaps between its ticks; {os.cpu_count()} CPUs; "
        "each session in a fresh process"
    )
    for size in args.sizes:
        for assist in (True, False):
            command = [sys.executable, __file__, str(size), "--bands", str(args.bands)]
            child = subprocess.run(
                [*command, "--one", "on" if assist else "off"],
                capture_output=True,
                text=True,
                check=False,
            )
            lines = child.stdout.strip().splitlines()
            if child.returncode != 0 or not lines:
                error = (child.stderr.strip().splitlines() or ["no output"])[-1]
                print(f"{args.bands}x{size}x{size} assist {assist}: failed: {error}", flush=True)
                continue
            print(describe(size, args.bands, assist, json.loads(lines[-1])), flush=True)


if __name__ == "__main__":
    main()
