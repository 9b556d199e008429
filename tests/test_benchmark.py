"""Tests of the completion benchmark (``galseg bench completion``).

A tiny checkpoint (a few training steps at 64x64) and one 64x64 cutout per
class keep the file to well under a minute on two CPU cores; Segment
Anything is not timed here.
"""

from __future__ import annotations

from pathlib import Path
import shutil
import subprocess
import sys

import numpy as np
import pytest

from galseg import GalsegError
from galseg.cli import main
from galseg.model import (
    HELD_OUT_SEEDS,
    CompletionBenchmark,
    benchmark_completion,
    card_path,
    iou,
    load_assistant,
    read_checkpoint,
    train_encoder,
    train_head,
)
from galseg.model._benchmark import (
    AFTER,
    METHODS,
    benchmark_cases,
    random_walker_completer,
    walker_image,
)
from galseg.model._evaluate import galseg_completer, run_episode, strokes_alone
from galseg.simulate import FEATURE_KINDS

TINY = {"n": 6, "size": 64, "batch": 2, "device": "cpu"}
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bench")
    train_encoder(folder / "encoder.safetensors", steps=2, **TINY)
    train_head(folder / "assist.safetensors", folder / "encoder.safetensors", steps=2, **TINY)
    return folder / "assist.safetensors"


@pytest.fixture(scope="module")
def result(checkpoint_path) -> CompletionBenchmark:
    return benchmark_completion(
        checkpoint_path, n=1, size=64, max_strokes=5, sam=False, device="cpu"
    )


def test_the_table_has_every_class_method_and_column(result):
    table = result.table()
    assert list(table) == [*FEATURE_KINDS, "all"]
    columns = [f"IoU@{k}" for k in AFTER] + ["NoC@80", "failed"]
    for rows in table.values():
        assert list(rows) == [*METHODS, "automatic", "detectable truth", "faint fringe"]
        for method in METHODS:
            assert list(rows[method]) == columns
            assert all(0.0 <= rows[method][f"IoU@{k}"] <= 1.0 for k in AFTER)
            assert 1.0 <= rows[method]["NoC@80"] <= 5.0
            assert rows[method]["failed"] in range(len(result.episodes) + 1)
        assert 0.0 <= rows["automatic"]["IoU"] <= 1.0
        assert 0.0 <= rows["detectable truth"]["IoU"] <= 1.0
        assert list(rows["faint fringe"]) == ["share", "recall", "recall of the rest"]
        assert 0.0 <= rows["faint fringe"]["share"] <= 1.0


def test_every_cutout_is_held_out_and_has_its_class(result):
    assert [e.kind for e in result.episodes] == list(FEATURE_KINDS)
    assert all(e.seed >= HELD_OUT_SEEDS for e in result.episodes)
    for e in result.episodes:  # max_strokes 5: every method runs on every stroke
        assert all(len(ious) == len(e.signs) for ious in e.ious.values())


def test_the_report_prints_scores_latency_and_targets(result):
    report = result.report()
    for text in (
        "strokes alone",
        "random_walker",
        "NoC@80",
        "automatic mode",
        "detectable truth",
        "faint fringe (truth light < 1.5x the truth limit)",
        "galseg complete (64x64)",
        "SAM ViT-B not timed",
        "targets (issue 5)",
    ):
        assert text in report
    holds = [target.holds for target in result.targets()]
    assert len(holds) == 5 and holds[3:] == [None, None]
    assert result.complete.p50 > 0 and result.set_image.p50 > 0


@pytest.fixture(scope="module")
def episode(checkpoint_path):
    """One episode of a shell with every method's inputs recorded."""
    case = benchmark_cases(1, size=64)[1]
    assistant = load_assistant(checkpoint_path, device="cpu")
    assistant.set_image(case.cutout)
    methods = {
        "galseg": galseg_completer(assistant, case.kind),
        "strokes alone": strokes_alone,
        "random_walker": random_walker_completer(walker_image(case.cutout, "lsb")),
    }
    seen: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in methods}

    def recorded(name):
        def complete(positive, negative):
            seen[name].append((positive.copy(), negative.copy()))
            return methods[name](positive, negative)

        return complete

    completers = {name: recorded(name) for name in methods}
    ious, signs = run_episode(case.target, completers, np.random.default_rng(3), max_strokes=6)
    return case.target, ious, signs, seen


def test_every_method_gets_the_same_strokes(episode):
    target, ious, signs, seen = episode
    assert len(seen["galseg"]) == len(signs)  # the driver runs on every stroke
    for name in METHODS:
        assert len(ious[name]) == len(seen[name]) >= min(len(signs), max(AFTER))
        driver = seen["galseg"][: len(seen[name])]  # a method that got to 0.8 stops early
        for (positive, negative), (shown_p, shown_n) in zip(seen[name], driver, strict=True):
            assert np.array_equal(positive, shown_p) and np.array_equal(negative, shown_n)
    for positive, negative in seen["galseg"]:
        assert not (positive & ~target).any() and not (negative & target).any()


def test_strokes_alone_scores_the_stroke_pixels(episode):
    target, ious, _, seen = episode
    expected = [iou(positive & ~negative, target) for positive, negative in seen["strokes alone"]]
    assert ious["strokes alone"] == pytest.approx(expected)


def test_the_detectable_share_of_the_truth_grows_with_the_feature_brightness():
    cases = benchmark_cases(4)
    assert all(case.detectable == 1.0 for case in cases if case.kind == "bar")
    for kind in ("tidal_stream", "shell", "tidal_tail"):
        ranked = sorted((c for c in cases if c.kind == kind), key=lambda c: c.feature_sb)
        assert ranked[0].detectable > ranked[-1].detectable, kind
        assert all(0.0 <= c.detectable <= 1.0 for c in ranked)


def test_the_faint_fringe_is_the_truth_just_above_the_truth_limit():
    cases = benchmark_cases(4)
    for case in cases:
        assert not (case.faint & ~case.target).any()
    for kind in ("tidal_stream", "shell", "tidal_tail"):
        ranked = sorted((c for c in cases if c.kind == kind), key=lambda c: c.feature_sb)
        share = [np.count_nonzero(c.faint) / np.count_nonzero(c.target) for c in ranked]
        assert share[0] < share[-1], kind  # the brightest feature has the least fringe
        assert 0.0 < share[0] < 1.0, kind  # and still some: its edges fade through the limit


def test_the_fringe_counts_are_galseg_s_mask_after_3_strokes(result):
    for e in result.episodes:
        assert 0 <= e.faint[1] <= e.faint[0] and 0 <= e.brighter[1] <= e.brighter[0]
    fringe = result.faint_fringe()
    faint, found = (sum(e.faint[i] for e in result.episodes) for i in (0, 1))
    assert fringe["recall"] == pytest.approx(found / faint)


def test_cases_refuse_training_seeds():
    with pytest.raises(GalsegError, match="held out"):
        benchmark_cases(1, seed=0, size=64)


def test_sam_missing_fails_before_the_run(monkeypatch, checkpoint_path):
    monkeypatch.setitem(sys.modules, "segment_anything", None)
    with pytest.raises(GalsegError, match="pip install segment-anything"):
        benchmark_completion(checkpoint_path, n=1, size=64, sam=True, device="cpu")


def test_cli_reports_a_missing_checkpoint_in_one_line(tmp_path, capsys):
    missing = tmp_path / "missing.safetensors"
    assert main(["bench", "completion", "--checkpoint", str(missing), "--no-sam"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("galseg: error:") and "\n" not in err


def test_cli_records_each_driver_in_the_model_card(tmp_path, checkpoint_path, capsys):
    path = tmp_path / checkpoint_path.name
    shutil.copy(checkpoint_path, path)
    shutil.copy(card_path(checkpoint_path), card_path(path))
    common = ["bench", "completion", "--checkpoint", str(path), "--n", "1", "--size", "64"]
    for driver in ("galseg", "random_walker"):
        args = [*common, "--no-sam", "--driver", driver, "--record"]
        assert main(args) == 0
        assert f"benchmark.{driver}" in capsys.readouterr().out
    checkpoint = read_checkpoint(path)
    assert checkpoint.identity == read_checkpoint(checkpoint_path).identity
    recorded = checkpoint.card["benchmark"]
    assert set(recorded) == {"galseg", "random_walker"}
    assert recorded["random_walker"]["settings"]["driver"] == "random_walker"
    assert recorded["galseg"]["command"].endswith("--driver galseg --record")
    all_rows = recorded["galseg"]["table"]["all"]
    assert 0.0 <= all_rows["galseg"]["IoU@3"] <= 1.0
    assert [t["holds"] for t in recorded["galseg"]["targets"]][-1] is None  # SAM not timed


def test_the_script_is_the_cli_command():
    script = REPO / "benchmarks" / "completion.py"
    result = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert "--checkpoint" in result.stdout and "--no-sam" in result.stdout
