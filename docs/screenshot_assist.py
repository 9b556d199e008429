"""Make docs/assist.png: a stroke on a sample stream and its completion preview.

The sample is ``bar_stream_legacy`` (a barred spiral with a faint stream); the
stroke runs along 40% of the stream, and the view is zoomed on it.

Run from the repository root, on a display (or under Xvfb)::

    xvfb-run -a .venv/bin/python docs/screenshot_assist.py
"""

from __future__ import annotations

import os
from pathlib import Path
import tempfile
import time

import numpy as np


def main() -> None:
    os.environ["GALSEG_CONFIG_DIR"] = tempfile.mkdtemp()
    import napari
    from qtpy.QtWidgets import QApplication

    from galseg import MaskStore
    from galseg.model import scribble
    from galseg.samples import sample_dir
    from napari_galseg import launch

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 950)
    store = Path(tempfile.mkdtemp()) / "masks.zarr"
    widget = launch([sample_dir()], store, "ada", viewer=viewer)
    app = QApplication.instance()

    def wait(condition) -> None:
        end = time.monotonic() + 120
        while not condition() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    wait(lambda: widget.assist.enabled and not widget.assist.busy)
    widget.go(next(i for i, it in enumerate(widget.queue.items) if it.name == "bar_stream_legacy"))
    wait(lambda: not widget.assist.busy)
    truth = MaskStore.open(sample_dir() / "truth.zarr", mode="r").load_mask(widget.current_id)
    stroke = scribble(truth == 1, np.random.default_rng(0), length=(0.4, 0.4))
    layer = widget.mask_layer
    layer.selected_label, layer.brush_size = 1, 3
    for y, x in np.argwhere(stroke)[::2]:
        layer.paint((y, x), 1)
    widget.stroke_finished()
    wait(lambda: widget.assist.preview is not None)
    viewer.camera.center = tuple(np.argwhere(widget.assist.preview | stroke).mean(axis=0))
    viewer.camera.zoom *= 1.8
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    out = Path(__file__).parent / "assist.png"
    viewer.screenshot(str(out), canvas_only=False)
    print(f"wrote {out}")
    widget.close_session()
    viewer.close()


if __name__ == "__main__":
    main()
