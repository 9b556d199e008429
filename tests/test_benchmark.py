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
    STROKE_STYLES,
    CompletionBenchmark,
    benchmark_completion,
    card_path,
    iou,
    load_assistant,
    read_checkpoint,
    stroke,
    train_encoder,
    train_head,
)
from galseg.model._bench import (
    AFTER,
    METHODS,
    PLACES,
    family_cases,
    featureless_cutouts,
    random_walker_completer,
    report,
    walker_image,
)
from galseg.model._evaluate import galseg_completer, run_episode, strokes_alone
from galseg.simulate import FEATURE_KINDS, simulate_galaxy

TINY = {"n": 6, "size": 64, "batch": 2, "device": "cpu"}
REPO = Path(__file__).resolve().parents[1]
STYLES = ("line", "clicks")


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bench")
    train_encoder(folder / "encoder.safetensors", steps=2, **TINY)
    train_head(folder / "assist.safetensors", folder / "encoder.safetensors", steps=2, **TINY)
    return folder / "assist.safetensors"


@pytest.fixture(scope="module")
def result(checkpoint_path) -> CompletionBenchmark:
    return benchmark_completion(
        checkpoint_path,
        n=1,
        size=64,
        max_strokes=5,
        families=("own",),
        styles=STYLES,
        featureless=2,
        sam=False,
        device="cpu",
    )


def test_the_table_has_every_style_class_method_and_column(result):
    table = result.table()
    assert list(table) == ["own"] and list(table["own"]) == list(STYLES)
    columns = [f"IoU@{k}" for k in AFTER] + ["NoC@80", "failed"]
    for rows in table["own"].values():
        assert list(rows) == [*FEATURE_KINDS, "all"]
        for row in rows.values():
            assert list(row) == [*METHODS, "deep truth", "observed truth"]
            for method in METHODS:
                assert list(row[method]) == columns
                assert all(0.0 <= row[method][f"IoU@{k}"] <= 1.0 for k in AFTER)
                assert 1.0 <= row[method]["NoC@80"] <= 5.0
            assert 0.0 <= row["deep truth"]["IoU@3"] <= 1.0
            assert 0.0 <= row["observed truth"]["IoU"] <= 1.0


def test_every_class_is_played_in_every_style_on_the_same_cases(result):
    assert [(e.style, e.kind) for e in result.episodes] == [
        (style, kind) for kind in FEATURE_KINDS for style in STYLES
    ]
    for e in result.episodes:  # max_strokes 5: every method runs on every stroke
        assert all(len(ious) == len(e.signs) for ious in e.ious.values())
        assert 0.0 <= e.locality <= 1.0


def test_automatic_mode_is_scored_on_cases_and_featureless_cutouts(result):
    row = result.automatic_table()["own"]
    assert set(row) == {*FEATURE_KINDS, "all", "false positives"}
    assert row["false positives"] in (0.0, 0.5, 1.0)
    assert sum(a.kind is None for a in result.automatic) == 2


def test_locality_is_measured_on_every_place_of_the_real_images(result):
    table = result.locality_table()
    assert set(table) == {"episodes", *PLACES}
    for place in PLACES:
        assert table[place]["strokes"] >= 4 * 4  # 4 strokes, 4 classes, per image
        assert 0.0 <= table[place]["network"] <= table[place]["shown"] <= 1.0
    # the completion shown keeps only what grows from the stroke, at its threshold
    assert all(p.shown_locality == 1.0 for p in result.probes)


def test_the_report_prints_scores_locality_latency_and_targets(result):
    text = report(result)
    for expected in (
        "own family",
        "strokes: clicks",
        "random_walker",
        "NoC@80",
        "deep truth (reported, not a target)",
        "observed truth (the truth rule on the light as observed",
        "automatic mode",
        "featureless cutouts with tidal/bar pixels",
        "real images, strokes on sky",
        "galseg complete (64x64)",
        "SAM ViT-B not timed",
        "[FAIL]",
    ):
        assert expected in text, expected
    names = [t.name for t in result.targets()]
    assert "own, lines: mean IoU after 3 strokes >= 0.85" in names
    assert "a stroke on sky: median completion <= 2x the stroke" in names
    assert [t.holds for t in result.targets()][-2:] == [None, None]  # SAM not timed
    assert result.complete.p50 > 0 and result.set_image.p50 > 0


@pytest.fixture(scope="module")
def episode(checkpoint_path):
    """One episode of a shell with every method's inputs recorded."""
    case = family_cases("own", 1, seed=HELD_OUT_SEEDS, size=64)[1]
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


@pytest.mark.parametrize("style", STROKE_STYLES)
def test_each_style_paints_on_the_target_and_every_stroke_adds(style):
    target = np.zeros((64, 64), bool)
    target[20:44, 4:60] = True
    rng = np.random.default_rng(0)
    ious, signs = run_episode(
        target, {"strokes": strokes_alone}, rng, driver="strokes", max_strokes=5, style=style
    )
    assert all(signs) and len(ious["strokes"]) == 5
    assert all(0.0 < value < 1.0 for value in ious["strokes"])
    assert np.all(np.diff(ious["strokes"]) > 0)


def test_clicks_paint_less_than_dabs_and_dabs_less_than_lines():
    target = np.zeros((64, 64), bool)
    target[20:44, 4:60] = True
    painted = {
        style: np.mean([stroke(target, np.random.default_rng(k), style).sum() for k in range(20)])
        for style in STROKE_STYLES
    }
    assert painted["clicks"] < painted["dabs"] < painted["line"]


def test_own_cases_score_the_visible_truth_inside_the_deep_truth():
    for case in family_cases("own", 2, seed=HELD_OUT_SEEDS, size=128):
        assert case.family == "own" and case.target.sum() >= 50
        assert not (case.target & ~case.deep).any()


def test_own_featureless_cutouts_have_no_feature_and_a_sky_with_residuals():
    from galseg.model._bench._cases import FEATURELESS_OFFSET

    cutouts = featureless_cutouts("own", 2, seed=HELD_OUT_SEEDS, size=64)
    assert len(cutouts) == 2
    for k, cutout in enumerate(cutouts):
        seed = HELD_OUT_SEEDS + FEATURELESS_OFFSET + k
        sim = simulate_galaxy(seed, "legacy", 64, features=(), sky_residuals=True)
        np.testing.assert_array_equal(cutout.data, sim.cutout.data)
        assert not np.isin(sim.truth, [1, 2, 3, 4]).any()  # contaminants only
        plain = simulate_galaxy(seed, "legacy", 64, features=())
        assert not np.array_equal(cutout.data, plain.cutout.data)


def test_cases_refuse_training_seeds_and_unknown_families():
    with pytest.raises(GalsegError, match="held out"):
        family_cases("own", 1, seed=0, size=64)
    with pytest.raises(GalsegError, match="unknown case family"):
        family_cases("mine", 1, seed=HELD_OUT_SEEDS, size=64)


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
    common += ["--families", "own", "--styles", "line", "--no-locality", "--no-sam"]
    for driver in ("galseg", "random_walker"):
        args = [*common, "--driver", driver, "--record"]
        assert main(args) == 0
        assert f"benchmark.{driver}" in capsys.readouterr().out
    checkpoint = read_checkpoint(path)
    assert checkpoint.identity == read_checkpoint(checkpoint_path).identity
    recorded = checkpoint.card["benchmark"]
    assert set(recorded) == {"galseg", "random_walker"}
    assert recorded["random_walker"]["settings"]["driver"] == "random_walker"
    assert recorded["galseg"]["command"].endswith("--driver galseg --record")
    all_rows = recorded["galseg"]["table"]["own"]["line"]["all"]
    assert 0.0 <= all_rows["galseg"]["IoU@3"] <= 1.0
    assert [t["holds"] for t in recorded["galseg"]["targets"]][-1] is None  # SAM not timed


def test_the_script_is_the_cli_command():
    script = REPO / "benchmarks" / "completion.py"
    result = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    for option in ("--checkpoint", "--no-sam", "--families", "--styles"):
        assert option in result.stdout


def test_cli_refuses_an_unknown_style_in_one_line(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "completion", "--styles", "line,swirl"])
    assert "choose among line, dabs, clicks" in capsys.readouterr().err
