"""The core library must import and work without Qt or napari."""

import subprocess
import sys

BLOCKED = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "vispy")

SCRIPT = f"""
import importlib, importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError(f"galseg core imported {{name}}")
        return None

sys.meta_path.insert(0, Block())
import galseg, galseg.io, galseg.stretch, galseg.store, galseg.export, galseg.simulate
import galseg.samples, galseg.cli, galseg.queue, galseg.autosave, galseg.settings
import galseg.annotate, galseg.discovery
import galseg.photometry, galseg.batch
cutout, truth = galseg.simulate.simulate_cutout(1, size=64)
galseg.stretch.rgb_composite(cutout)
print("ok")
"""


def test_core_imports_without_qt_or_napari():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
