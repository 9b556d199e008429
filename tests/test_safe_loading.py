"""Checkpoints and stores are data: loading one never runs code hidden in a pickle.

Each test hides, in a pickle, an object that creates a file when unpickled, and
checks that the loader refuses the file with a clear error and that the file
is never created.
"""

from __future__ import annotations

import json
from pathlib import Path
import pickle

import pytest

torch = pytest.importorskip("torch")

from galseg import GalsegError  # noqa: E402
from galseg.checkpoint_info import inspect_checkpoint  # noqa: E402
from galseg.model import load_assistant, read_checkpoint, read_timm_folder  # noqa: E402
from galseg.model._loop import _restore  # noqa: E402
from galseg.model._sam import load_sam  # noqa: E402


class Payload:
    """Unpickling this creates the file ``marker``: code run by the loader."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "the payload ran"


def torch_pickle(path: Path, marker: Path) -> Path:
    """What ``torch.save`` writes: a zip archive around a pickle, with the payload inside."""
    torch.save({"encoder.w": torch.zeros(2), "extra": Payload(marker)}, path)
    return path


def test_the_payload_runs_when_unpickled(tmp_path, marker):
    """The payload is real: plain unpickling creates the marker (what loaders must not do)."""
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


@pytest.mark.parametrize("name", ["assist.pt", "assist.safetensors"])
@pytest.mark.parametrize("kind", ["torch.save", "pickle"])
def test_a_pickled_checkpoint_is_refused_unread(tmp_path, marker, name, kind):
    path = tmp_path / name
    if kind == "torch.save":
        torch_pickle(path, marker)
    else:
        path.write_bytes(pickle.dumps(Payload(marker), protocol=4))
    for load in (inspect_checkpoint, read_checkpoint, load_assistant):
        with pytest.raises(GalsegError) as info:
            load(path)
        message = str(info.value)
        assert message.startswith(f"{path}: a pickle file") and "never unpickles" in message
    assert not marker.exists()


def test_an_encoder_folder_with_pickled_weights_only_is_refused(tmp_path, marker):
    folder = tmp_path / "zoobot-like"
    folder.mkdir()
    cfg = {"input_size": [1, 64, 64], "mean": [0.3], "std": [0.2]}
    config = {"architecture": "resnet10t", "pretrained_cfg": cfg}
    (folder / "config.json").write_text(json.dumps(config))
    torch_pickle(folder / "pytorch_model.bin", marker)
    with pytest.raises(GalsegError, match=r"pytorch_model\.bin, a pickle.*safetensors only"):
        read_timm_folder(folder)
    assert not marker.exists()


def test_pickles_that_exist_only_as_pickles_are_read_as_data_only(tmp_path, marker):
    """A SAM checkpoint and a training resume file are pickles by nature: torch's
    restricted unpickler (weights_only=True) refuses the payload, which never runs."""
    pytest.importorskip("segment_anything")
    sam = torch_pickle(tmp_path / "sam_vit_b.pth", marker)
    with pytest.raises(GalsegError, match=f"{sam}: not a readable SAM checkpoint"):
        load_sam(sam, device="cpu")
    resume = torch_pickle(tmp_path / "head.resume.pt", marker)
    model = torch.nn.Linear(2, 2)
    with pytest.raises(GalsegError, match=f"{resume}: unreadable resume file"):
        _restore(resume, "settings", model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert not marker.exists()
