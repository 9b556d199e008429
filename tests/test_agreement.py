"""Tests of galseg.agreement: three simulated annotators with known habits, on real stores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from galseg import Cutout, MaskStore
from galseg.agreement import measure_agreement, staple
from galseg.cli import main
from galseg.simulate import SimulatedAnnotator, simulate_galaxy

HABITS = (
    SimulatedAnnotator("careful"),
    SimulatedAnnotator("wide", widen=4),
    SimulatedAnnotator("half", keep=0.5),
)
KINDS = (("tidal_stream",), ("shell",), ("tidal_tail", "bar"), ("tidal_stream", "bar"))


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """Eight simulated cutouts, each painted by the three annotators; the truth apart."""
    folder = tmp_path_factory.mktemp("agreement")
    masks, truth = MaskStore.open(folder / "masks.zarr"), MaskStore.open(folder / "truth.zarr")
    for seed in range(8):
        sim = simulate_galaxy(
            seed, size=96, features=KINDS[seed % len(KINDS)], feature_sb=25.0, contaminants=False
        )
        cutout_id = masks.add_cutout(sim.cutout)
        truth.add_cutout(sim.cutout, copy_pixels=False)
        truth.save_mask(cutout_id, sim.truth, "truth", provenance="simulated")
        for annotator in HABITS:
            masks.save_mask(cutout_id, annotator.paint(sim.truth), annotator.name)
    return masks, truth


def test_staple_tells_the_three_habits_apart_without_the_truth(campaign):
    masks, truth = campaign
    blind = measure_agreement(masks)
    skill = {name: a["iou_vs_consensus"] for name, a in blind.annotators.items()}
    known = measure_agreement(masks, truth=truth)
    real = {name: a["iou_vs_truth"] for name, a in known.annotators.items()}
    assert sorted(skill, key=skill.get) == sorted(real, key=real.get)  # the same order
    assert max(skill, key=skill.get) == "careful" and real["careful"] == 1.0
    for name in known.classes:
        sensitivity = {a: v["per_class"][name]["sensitivity"] for a, v in blind.annotators.items()}
        specificity = {a: v["per_class"][name]["specificity"] for a, v in blind.annotators.items()}
        assert sensitivity["careful"] > 0.95 and sensitivity["wide"] > 0.95, name
        assert 0.3 < sensitivity["half"] < 0.7, (name, sensitivity)
        assert min(specificity, key=specificity.get) == "wide", (name, specificity)


def test_the_consensus_is_as_close_to_the_truth_as_the_median_annotator(campaign):
    masks, truth = campaign
    report = measure_agreement(masks, truth=truth)
    median = np.median([a["iou_vs_truth"] for a in report.annotators.values()])
    assert report.consensus["iou_vs_truth"] >= median
    for name in report.classes:
        per_annotator = [a["per_class"][name]["iou_vs_truth"] for a in report.annotators.values()]
        assert report.consensus["per_class"][name]["iou_vs_truth"] >= np.median(per_annotator)


def test_pairwise_iou_is_symmetric_and_counts_shared_cutouts(campaign):
    masks, _ = campaign
    report = measure_agreement(masks)
    for name, entry in report.pairwise.items():
        scores = np.array(entry["iou"], dtype=float)
        assert entry["annotators"] == ["careful", "half", "wide"]
        np.testing.assert_allclose(scores, scores.T)
        assert np.allclose(np.diag(scores), 1.0) and (scores <= 1.0).all(), name
        assert entry["n_cutouts"][0][1] == 8
    # careful and half overlap on half the feature: IoU 1/2, whatever the class
    assert report.pairwise["shell"]["iou"][0][1] == pytest.approx(0.5, abs=0.05)


def test_agreement_cli_writes_the_json_and_plots(campaign, tmp_path, capsys):
    masks, truth = campaign
    out, plots = tmp_path / "report.json", tmp_path / "plots"
    command = ["agreement", str(masks.path), "--truth", str(truth.path)]
    assert main([*command, "--json", str(out), "--plots", str(plots)]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[1].startswith("careful") and "consensus" in printed
    data = json.loads(out.read_text())
    careful = data["annotators"]["careful"]
    assert careful["iou_vs_truth"] == 1.0 and careful["iou_vs_consensus"] == 1.0
    assert set(careful["per_class"]) == set(data["classes"]) and "shell" in data["classes"]
    assert len(careful["history"]) == 8 and data["consensus"]["iou_vs_truth"] == 1.0
    written = sorted(p.name for p in plots.iterdir())
    assert written == sorted(
        [*(f"agreement_{c}.png" for c in data["classes"]), "skill_over_time.png"]
    )
    assert all((plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in written)


def test_consensus_cli_saves_masks_and_the_agreement_fraction(campaign, tmp_path):
    masks, truth = campaign
    out = tmp_path / "consensus.zarr"
    assert main(["consensus", str(masks.path), "--out", str(out)]) == 0
    saved = MaskStore.open(out, mode="r")
    assert sorted(saved.ids()) == sorted(masks.ids())
    for cutout_id in saved.ids():
        revision = saved.latest(cutout_id, "consensus")
        assert revision.provenance == "consensus"
        assert revision.metadata["annotators"] == ["careful", "half", "wide"]
        labels = saved.load_mask(cutout_id, "consensus")
        np.testing.assert_array_equal(labels, truth.load_mask(cutout_id))
        fraction = saved.load_agreement(cutout_id, revision.revision)
        wide_only = (masks.load_mask(cutout_id, "wide") > 0) & (labels == 0)
        assert wide_only.any() and np.allclose(fraction[wide_only], 2 / 3)
        assert np.allclose(fraction[(labels == 0) & ~wide_only], 1.0)


def test_a_store_without_masks_is_a_one_line_error(tmp_path, capsys):
    empty = MaskStore.open(tmp_path / "empty.zarr")
    empty.add_cutout(Cutout.from_array(np.ones((1, 8, 8)), bands=["r"]))
    assert main(["agreement", str(empty.path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"galseg: error: {empty.path}: no annotator's mask to compare"
    assert main(["consensus", str(tmp_path / "missing.zarr"), "--out", str(tmp_path / "c")]) == 1
    assert "missing.zarr" in capsys.readouterr().err


def test_staple_weighs_a_careful_annotator_above_two_sloppy_ones():
    """Two annotators who each miss a different end still lose to the one who paints it all."""
    truth = np.zeros(40, bool)
    truth[10:30] = True
    left, right = truth.copy(), truth.copy()
    left[25:30], right[10:15] = False, False
    cutouts = [{"careful": truth, "left": left, "right": right}] * 3
    result = staple(cutouts)
    assert result.sensitivity["careful"] > result.sensitivity["left"]
    np.testing.assert_array_equal(result.probability[0] > 0.5, truth)
