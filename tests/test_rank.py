"""Tests of galseg.rank and ``galseg rank``: ordering cutouts for annotation."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy.stats import spearmanr

from galseg.cli import annotation_paths, main
from galseg.model import load_assistant
from galseg.queue import find_cutouts
from galseg.rank import read_queue
from galseg.simulate import simulate_galaxy, write_simulated_set


def test_uncertainty_follows_automatic_modes_actual_error():
    """The share of pixels in doubt ranks cutouts as the share automatic mode gets wrong."""
    assistant = load_assistant(device="cpu")
    uncertainty, error = [], []
    for seed in range(8_100_000, 8_100_024):  # never trained on
        sim = simulate_galaxy(seed, "legacy", 128)
        result = assistant.segment_many([sim.cutout])[0]
        uncertainty.append(result.uncertainty)
        error.append(np.mean(result.labels != sim.truth))
    rho = spearmanr(uncertainty, error)[0]
    assert rho >= 0.3, rho


@pytest.fixture(scope="module")
def cutouts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rank") / "cutouts"
    write_simulated_set(folder, 5, size=64, seed=8_200_000)
    return folder


def test_rank_writes_a_queue_that_annotate_follows(cutouts, tmp_path, capsys):
    queue, store = tmp_path / "queue.csv", tmp_path / "predicted.zarr"
    command = ["rank", str(cutouts), "--out", str(queue), "--store", str(store), "--workers", "1"]
    assert main(command) == 0
    rows = list(csv.DictReader(queue.open()))
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 4, 5]
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    assert f"first: {rows[0]['source']}" in capsys.readouterr().out
    # the annotator's queue is the ranking's order, then the other paths given
    extra = sorted(cutouts.glob("*.fits"))[0]
    items = find_cutouts(annotation_paths([extra], queue))
    assert [str(item.sources[0]) for item in items] == [r["source"] for r in rows]

    similar = tmp_path / "similar.csv"
    query = rows[-1]["source"]
    command = ["rank", str(cutouts), "--out", str(similar), "--store", str(store)]
    assert main([*command, "--by", f"similar:{query}", "--workers", "1"]) == 0
    alike = list(csv.DictReader(similar.open()))
    assert len(alike) == 4 and query not in {r["source"] for r in alike}  # not like itself
    assert [float(r["score"]) for r in alike] == sorted(
        (float(r["score"]) for r in alike), reverse=True
    )

    spread = tmp_path / "diverse.csv"
    command = ["rank", str(cutouts), "--out", str(spread), "--store", str(store), "--workers", "1"]
    assert main([*command, "--by", "diversity"]) == 0
    assert sorted(r["source"] for r in csv.DictReader(spread.open())) == sorted(
        r["source"] for r in rows
    )


def test_bad_rankings_and_queues_are_one_line_errors(cutouts, tmp_path, capsys):
    assert main(["rank", str(cutouts), "--out", str(tmp_path / "q.csv"), "--by", "size"]) == 1
    assert "unknown ranking 'size'" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("name,score\na,1\n")
    with pytest.raises(Exception, match="bad.csv: a queue needs the columns rank and source"):
        read_queue(bad)
