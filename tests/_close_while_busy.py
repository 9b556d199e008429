"""Child process: open the annotator with assist on and close its window after DELAY s.

Usage: python _close_while_busy.py STORE DELAY

Prints "CLOSED <model state>" once the event loop has ended; the exit code
tells whether the model's and the saver's threads ended cleanly.
"""

import sys

import napari
import numpy as np
from qtpy.QtCore import QTimer

from galseg.samples import sample_dir
from napari_galseg import launch

if __name__ == "__main__":
    viewer = napari.Viewer(show=True)
    widget = launch([sample_dir()], sys.argv[1], "smoke", viewer=viewer)
    stroke = np.zeros(widget.session.mask.shape, bool)
    stroke[60, 40:80] = True
    widget.session.paint(stroke, label=1)  # a completion queued behind the loading model
    widget.stroke_finished()
    QTimer.singleShot(int(1000 * float(sys.argv[2])), viewer.close)
    napari.run()
    print("CLOSED", widget.session.model_state, flush=True)
