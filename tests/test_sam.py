"""Segment Anything as a second assistant: loading, type detection, prompts and shapes.

A randomly initialised ViT-B stands in for Meta's checkpoints (plumbing only:
its masks mean nothing). Its image encoder takes ~20 s on two CPU cores.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from galseg import GalsegError
from galseg.model import load_sam
from galseg.model._sam import sam_model_type, stroke_points
from galseg.simulate import simulate_cutout


@pytest.fixture(scope="module")
def sam(random_sam_checkpoint):
    return load_sam(random_sam_checkpoint, device="cpu")


def test_the_model_type_is_read_from_the_weights(sam, random_sam_checkpoint):
    assert sam.model_type == "vit_b" and "vit_b" in repr(sam)
    with pytest.raises(GalsegError, match="not vit_h"):
        load_sam(random_sam_checkpoint, model_type="vit_h", device="cpu")
    with pytest.raises(GalsegError, match="known type"):
        sam_model_type({"image_encoder.patch_embed.proj.weight": torch.zeros(5, 3, 16, 16)})


def test_bad_files_give_one_clear_error(tmp_path):
    with pytest.raises(GalsegError, match="no such SAM checkpoint"):
        load_sam(tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(GalsegError, match="junk.pth: not a readable SAM checkpoint"):
        load_sam(junk)
    other = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(2)}, other)
    with pytest.raises(GalsegError, match="other.pth: not a Segment Anything"):
        load_sam(other)


def test_strokes_become_points_and_the_mask_has_the_cutouts_shape(sam):
    cutout, truth = simulate_cutout(21, size=96)
    sam.set_image(cutout)
    positive = np.zeros((96, 96), bool)
    positive[40:43, 20:70] = True
    negative = np.zeros((96, 96), bool)
    negative[5, 5:15] = True
    completion = sam.complete(positive, negative, label="shell")
    assert completion.mask.shape == (96, 96) and completion.mask.dtype == bool
    assert completion.probability.dtype == np.float32
    assert 0.0 <= completion.probability.min() <= completion.probability.max() <= 1.0
    boxed = sam.complete(np.zeros_like(positive), negative, box=(10, 10, 60, 60))
    assert boxed.mask.shape == (96, 96)
    with pytest.raises(GalsegError, match="positive stroke or a box"):
        sam.complete(np.zeros_like(positive), negative)
    with pytest.raises(GalsegError, match="shape"):
        sam.complete(positive[:10], negative)


def test_returning_to_a_cutout_reuses_its_embedding(sam):
    first, _ = simulate_cutout(22, size=64)
    second, _ = simulate_cutout(23, size=64)
    sam.set_image(first)
    features = sam._predictor.features
    sam.set_image(second)
    sam.set_image(first)
    assert sam._predictor.features is features


def test_stroke_points_spread_over_the_stroke():
    stroke = np.zeros((50, 50), bool)
    stroke[25, 5:45] = True
    points = stroke_points(stroke, 4)
    assert len(points) == 4 and set(points[:, 1]) == {25.0}
    assert points[:, 0].min() == 5 and points[:, 0].max() == 44
    assert len(stroke_points(np.zeros((5, 5), bool), 3)) == 0
