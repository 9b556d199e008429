"""Fixtures shared by several test files."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def random_sam_checkpoint(tmp_path_factory) -> Path:
    """A Segment Anything ViT-B with random weights, saved as Meta's checkpoints are.

    Its masks mean nothing; it exercises loading, type detection and shapes.
    """
    torch = pytest.importorskip("torch")
    registry = pytest.importorskip("segment_anything").sam_model_registry
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("sam") / "sam_vit_b_random.pth"
    torch.save(registry["vit_b"](checkpoint=None).state_dict(), path)
    return path
