"""Child process for the SIGKILL test: an annotator painting one dot every 0.1 s.

Usage: python _painting_viewer.py CUTOUT_FOLDER STORE

Prints "ready" once the window is up, then "STROKE k TIME" after painting dot
k (at ``dot_position(k)``) until it is killed.
"""

import sys
import time

import napari
from qtpy.QtCore import QTimer

from napari_galseg import launch


def dot_position(k: int) -> tuple[int, int]:
    """Where dot k is painted: a grid, one pixel apart from its neighbours."""
    return 4 + 3 * (k // 40), 4 + 3 * (k % 40)


if __name__ == "__main__":
    folder, store = sys.argv[1], sys.argv[2]
    widget = launch([folder], store, "ada", viewer=napari.Viewer(show=True), assist=False)
    layer = widget.mask_layer
    layer.brush_size = 1
    count = 0

    def paint() -> None:
        global count
        layer.paint(dot_position(count), 1)
        print(f"STROKE {count} {time.time():.3f}", flush=True)
        count += 1

    timer = QTimer()
    timer.timeout.connect(paint)
    timer.start(100)
    print("ready", flush=True)
    napari.run()
