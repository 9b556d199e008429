"""Tests of galseg.assist: strokes in, previews out, stale answers dropped (no Qt)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from galseg.assist import (
    AssistSession,
    ModelRunner,
    brush_footprint,
    merge_preview,
)
from galseg.simulate import simulate_cutout


def test_brush_footprint_matches_naparis_brush():
    pytest.importorskip("napari")
    from napari.layers import Labels

    layer = Labels(np.zeros((40, 50), dtype=np.uint8))
    layer.brush_size = 7
    points = [(10.0, 5.0), (12.4, 20.2), (30.0, 41.0)]
    for start, end in zip(points[:-1], points[1:], strict=True):
        for t in np.linspace(0, 1, 200):
            layer.paint(np.add(start, t * np.subtract(end, start)), 1)
    ours = brush_footprint(points, 7, (40, 50))
    assert (ours == (layer.data == 1)).mean() > 0.99
    length = sum(np.hypot(*np.subtract(b, a)) for a, b in zip(points[:-1], points[1:], strict=True))
    assert ours.sum() > 6 * length  # a continuous band 7 pixels wide, not dots


def test_brush_footprint_clips_at_the_border_and_handles_one_point():
    one = brush_footprint([(0, 0)], 5, (10, 10))
    assert one[0, 0] and one[2, 0] and not one[3, 0] and one.sum() == 3 + 3 + 2
    assert not brush_footprint([], 5, (10, 10)).any()


def test_merge_keeps_other_classes_unless_told():
    mask = np.array([0, 2, 1, 0], dtype=np.uint8)
    preview = np.array([True, True, True, False])
    assert merge_preview(mask, preview, 1).tolist() == [1, 2, 1, 0]
    assert merge_preview(mask, preview, 1, overwrite=True).tolist() == [1, 1, 1, 0]
    assert merge_preview(mask, preview, 1).dtype == np.uint8 and mask.tolist() == [0, 2, 1, 0]


def _stroke(shape, rows, cols):
    stroke = np.zeros(shape, dtype=bool)
    stroke[rows, cols] = True
    return stroke


def test_a_later_stroke_supersedes_an_answer_still_in_flight():
    session = AssistSession((8, 8))
    none = np.zeros((8, 8), dtype=bool)
    first = session.stroke(_stroke((8, 8), 2, slice(1, 4)), none, label=1)
    second = session.stroke(_stroke((8, 8), 5, slice(1, 4)), none, label=1)
    assert second.generation > first.generation and second.positive.sum() == 6
    assert session.pending
    assert not session.receive(first, np.ones((8, 8)))  # stale: dropped
    assert session.preview is None and session.pending
    assert session.receive(second, np.full((8, 8), 0.7))
    assert not session.pending and session.preview.mask(0.5).all()
    assert not session.preview.mask(0.8).any()  # the threshold alone moves the preview


def test_refinement_feeds_the_preview_back_and_erasing_is_negative():
    session = AssistSession((8, 8))
    none = np.zeros((8, 8), dtype=bool)
    first = session.stroke(_stroke((8, 8), 2, slice(1, 4)), none, label=3)
    assert first.previous is None
    session.receive(first, np.full((8, 8), 0.6, np.float32))
    erased = _stroke((8, 8), slice(6, 8), slice(6, 8))
    second = session.stroke(none, erased, label=1)  # an eraser stroke: the feature stays 3
    assert second.label == 3 and second.negative.sum() == 4
    np.testing.assert_array_equal(second.previous, np.full((8, 8), 0.6, np.float32))


def test_a_stroke_of_another_class_starts_a_new_feature():
    session = AssistSession((8, 8))
    none = np.zeros((8, 8), dtype=bool)
    session.receive(session.stroke(_stroke((8, 8), 2, 2), none, label=1), np.ones((8, 8)))
    request = session.stroke(_stroke((8, 8), 5, 5), none, label=4)
    assert request.label == 4 and request.positive.sum() == 1 and request.previous is None
    assert session.preview is None
    assert session.stroke(none, none, label=4) is None


def test_accept_merges_and_starts_afresh():
    session = AssistSession((4, 4))
    none = np.zeros((4, 4), dtype=bool)
    request = session.stroke(_stroke((4, 4), 0, 0), none, label=2)
    probability = np.zeros((4, 4), np.float32)
    probability[:2] = 0.9
    session.receive(request, probability)
    mask = np.zeros((4, 4), np.uint8)
    mask[0, 1] = 5
    merged = session.accept(mask, 0.5)
    assert (merged == 2).sum() == 7 and merged[0, 1] == 5
    assert session.preview is None and session.label is None
    with pytest.raises(ValueError, match="no completion"):
        session.accept(merged, 0.5)


class _SlowModel:
    """Counts the completions it computes; each takes 50 ms."""

    def __init__(self):
        self.images, self.completed = [], 0

    def set_image(self, cutout):
        self.images.append(cutout.content_hash)

    def complete(self, positive, negative, label, previous=None):
        time.sleep(0.05)
        self.completed += 1
        return type("C", (), {"probability": positive.astype(np.float32)})()


def test_the_runner_never_computes_a_superseded_request():
    cutout, _ = simulate_cutout(3, size=32)
    session, model = AssistSession((32, 32)), _SlowModel()
    runner = ModelRunner(model)
    none = np.zeros((32, 32), dtype=bool)
    requests = [session.stroke(_stroke((32, 32), i, 4), none, label=1) for i in range(4)]
    results = []

    def run(request):
        results.append(
            runner.complete(cutout, request, lambda r: r.generation == session.generation)
        )

    threads = [threading.Thread(target=run, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answered = [r for r in results if r is not None]
    assert model.completed == len(answered) >= 1  # stale requests were never computed
    assert all(r[0] is requests[-1] for r in answered)
    assert set(model.images) == {cutout.content_hash}
    runner.encode(cutout)
    assert len(model.images) == model.completed + 1


def test_repainting_an_erased_pixel_makes_it_positive_again():
    session = AssistSession((4, 4))
    none = np.zeros((4, 4), dtype=bool)
    pixel = _stroke((4, 4), 1, 1)
    session.stroke(_stroke((4, 4), 0, slice(0, 4)), none, label=1)
    session.stroke(none, pixel, label=1)
    request = session.stroke(pixel, none, label=1)
    assert request.positive[1, 1] and not request.negative[1, 1]


def test_accept_leaves_out_pixels_erased_after_the_preview():
    session = AssistSession((4, 4))
    none = np.zeros((4, 4), dtype=bool)
    session.receive(session.stroke(_stroke((4, 4), 0, 0), none, label=1), np.ones((4, 4)))
    session.stroke(none, _stroke((4, 4), 3, slice(0, 4)), label=1)  # answer still pending
    assert not session.preview_mask(0.5)[3].any()
    merged = session.accept(np.zeros((4, 4), np.uint8), 0.5)
    assert (merged == 1).sum() == 12 and not merged[3].any()
