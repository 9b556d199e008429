"""Child process: a fresh Python whose first model import happens inside napari.

Usage: python _assist_in_fresh_viewer.py STORE

As ``galseg demo`` does for a user, the viewer is shown (an OpenGL context,
on Xvfb Mesa's llvmpipe) before assist mode imports torch in its worker.
Prints "READY <model>" once the shipped model is loaded and the first cutout
encoded, or "NOT LOADED <label>"; a crash ends the process with a signal.
"""

import sys
import time

import napari
from qtpy.QtWidgets import QApplication

from galseg.samples import sample_dir
from napari_galseg import launch

if __name__ == "__main__":
    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    for _ in range(20):  # let the canvas draw: the OpenGL driver is loaded now
        app.processEvents()
        time.sleep(0.01)
    assert "torch" not in sys.modules, "this test needs torch imported after the viewer"
    widget = launch([sample_dir()], sys.argv[1], "smoke", viewer=viewer)
    end = time.monotonic() + 150
    while not (widget.assist.enabled and not widget.assist.busy) and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    state = "READY" if widget.assist.enabled else "NOT LOADED"
    print(state, widget.assist.model_label.text(), flush=True)
    widget.close_session()
    viewer.close()
