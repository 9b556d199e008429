"""A checkpoint's identity, classes and card, read without torch (galseg.checkpoint_info)."""

from __future__ import annotations

import struct
import subprocess
import sys

import pytest

from galseg import GalsegError
from galseg.checkpoint_info import SHIPPED_CHECKPOINT, inspect_checkpoint


def test_the_shipped_checkpoint_is_inspected_without_importing_torch():
    code = (
        "import sys; from galseg.checkpoint_info import SHIPPED_CHECKPOINT, inspect_checkpoint; "
        "info = inspect_checkpoint(SHIPPED_CHECKPOINT); "
        "print(info.identity, len(info.taxonomy.feature_classes), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    identity, classes, torch_imported = out.stdout.split()
    assert torch_imported == "False" and int(classes) > 1
    assert identity == inspect_checkpoint(SHIPPED_CHECKPOINT).card["sha256"]


def test_inspecting_agrees_with_reading_the_whole_checkpoint():
    pytest.importorskip("torch")
    from galseg import model

    whole = model.read_checkpoint(model.SHIPPED_CHECKPOINT)
    info = inspect_checkpoint(SHIPPED_CHECKPOINT)
    assert SHIPPED_CHECKPOINT == model.SHIPPED_CHECKPOINT
    assert info.identity == whole.identity and info.card == whole.card
    assert info.taxonomy == whole.config.taxonomy
    assert model.ModelConfig.from_dict(info.config) == whole.config


def test_a_damaged_header_is_a_clear_error_naming_the_file(tmp_path):
    good = SHIPPED_CHECKPOINT.read_bytes()
    (length,) = struct.unpack("<Q", good[:8])
    cases = {
        "empty.safetensors": b"",
        "short.safetensors": good[:5],
        "claims_more.safetensors": struct.pack("<Q", 10**12) + good[8:200],
        "cut_in_header.safetensors": good[: 8 + length // 2],
        "not_json.safetensors": good[:8] + b"\xff" * length + good[8 + length :],
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(GalsegError) as info:
            inspect_checkpoint(tmp_path / name)
        message = str(info.value)
        assert message.startswith(f"{tmp_path / name}: not a readable safetensors file")
        assert "\n" not in message


def test_tensors_cut_short_pass_inspection_but_not_reading(tmp_path):
    """Inspection reads the header only; reading the weights finds them missing."""
    pytest.importorskip("torch")
    from galseg.model import read_checkpoint

    good = SHIPPED_CHECKPOINT.read_bytes()
    (length,) = struct.unpack("<Q", good[:8])
    path = tmp_path / "cut.safetensors"
    path.write_bytes(good[: 8 + length + 100])
    info = inspect_checkpoint(path)
    assert info.card == {}  # no card beside it
    with pytest.raises(GalsegError, match=r"cut\.safetensors: not a readable safetensors file"):
        read_checkpoint(path)
