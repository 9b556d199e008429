"""A 4096 x 4096 cutout of 4 bands in the real annotator: memory stays within 3x its pixels.

The benchmark's scripted session (open, paint, accept, undo, autosave, next)
runs in a fresh process under Xvfb; its peak resident memory above the
shown, empty viewer's is compared with the cutout's pixel bytes.
"""

import json
from pathlib import Path
import subprocess
import sys

import pytest

pytest.importorskip("napari")

pytestmark = [pytest.mark.gui, pytest.mark.slow]

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench_annotator.py"


def test_a_4096_cutout_of_4_bands_opens_paints_saves_and_navigates_in_3x_its_bytes(tmp_path):
    child = subprocess.run(
        [sys.executable, str(BENCH), "4096", "--bands", "4", "--one", "off"],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    first, second = result["opened"]
    assert first and second and first != second
    assert result["provenance"] and set(result["provenance"]) == {"painted"}
    assert result["pixel_bytes"] == 4096 * 4096 * 4 * 4
    assert 0 < result["memory"] <= 3 * result["pixel_bytes"], result["memory"] / 2**20
