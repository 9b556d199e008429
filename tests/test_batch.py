"""Tests of galseg.batch and ``galseg predict``: catalogue runs on a Dask LocalCluster.

The runs use the shipped model on the bundled sample cutouts and on a few
hundred small simulated cutouts, with a real two-worker ``LocalCluster``
(worker processes, as on a cluster).
"""

from __future__ import annotations

import doctest
import importlib
import json
import logging
import os
from pathlib import Path
import signal
import threading
import time

from astropy.table import Table
import numpy as np
import pytest

pytest.importorskip("torch")
distributed = pytest.importorskip("distributed")

from galseg import GalsegError, MaskStore  # noqa: E402
from galseg.batch import (  # noqa: E402
    PREDICTOR,
    Job,
    default_report_path,
    find_inputs,
    predict,
    predict_batch,
)
from galseg.cli import main  # noqa: E402
from galseg.io import read_cutout  # noqa: E402
from galseg.model import SHIPPED_CHECKPOINT, load_assistant  # noqa: E402
from galseg.queue import find_cutouts  # noqa: E402
from galseg.simulate import write_simulated_set  # noqa: E402

SAMPLES = Path(__file__).parents[1] / "sample_data"
N_SIMULATED = 300


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as dask_client,
    ):
        yield dask_client


@pytest.fixture(scope="module")
def assistant():
    return load_assistant(device="cpu")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    """Three hundred 64x64 simulated cutouts and one corrupt file among them."""
    folder = tmp_path_factory.mktemp("simulated")
    write_simulated_set(folder, N_SIMULATED, size=64, seed=3000)
    good = sorted(folder.glob("sim_*.fits"))[0]
    (folder / "sim_corrupt.fits").write_bytes(good.read_bytes()[:4000])  # cut short
    return folder


def predicted_revisions(store: MaskStore, cutout_id: str) -> list:
    return [rev for rev in store.history(cutout_id) if rev.annotator == PREDICTOR]


@pytest.mark.parametrize("module", ["_inputs", "_predict", "_worker"])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(f"galseg.batch.{module}"), verbose=False)
    assert result.failed == 0


# --------------------------------------------------------------------- inputs
def test_inputs_from_folders_globs_and_catalogues(tmp_path):
    folder_items = find_inputs([SAMPLES]).items
    assert [item.name for item in folder_items] == [i.name for i in find_cutouts([SAMPLES])]
    assert [item.name for item in find_inputs([str(SAMPLES / "*.fits.fz")]).items] == [
        "shells_stream_hsc",
        "tail_legacy",
    ]
    (tmp_path / "cat.csv").write_text(
        f"name,path\nstream,{SAMPLES / 'stream_legacy.fits'}\nno file,\nrelative,local.fits\n"
    )
    Table(
        {
            "objid": ["mixed", "half"],
            "path_z": [str(SAMPLES / "mixed_legacy_z.fits.gz"), ""],
            "path_g": [str(SAMPLES / "mixed_legacy_g.fits.gz"), "x_g.fits"],
            "path_r": [str(SAMPLES / "mixed_legacy_r.fits.gz"), "x_r.fits"],
        }
    ).write(tmp_path / "cat.fits")
    found = find_inputs(
        [tmp_path / "cat.csv", tmp_path / "cat.fits", SAMPLES / "stream_legacy.fits"]
    )
    assert [item.name for item in found.items] == ["stream", "relative", "mixed"]
    assert found.items[1].sources == (tmp_path / "local.fits",)
    assert [p.name for p in found.items[2].sources] == [
        "mixed_legacy_g.fits.gz",
        "mixed_legacy_r.fits.gz",
        "mixed_legacy_z.fits.gz",
    ]  # blue to red, whatever the column order; the stream file named twice counts once
    assert [(p.input, p.reason) for p in found.problems] == [
        (f"{tmp_path / 'cat.csv'} row 2 (no file)", "no path given"),
        (f"{tmp_path / 'cat.fits'} row 2 (half)", "no path given"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,ra\nngc474,20.0\n", "no column of cutout files"),
        ("name,path\nngc474,a.fits,extra,cells\n", "not a readable catalogue"),
    ],
)
def test_bad_catalogues_are_clear_errors(tmp_path, content, message):
    (tmp_path / "cat.csv").write_text(content)
    with pytest.raises(GalsegError, match=f"cat.csv: {message}"):
        find_inputs([tmp_path / "cat.csv"])


def test_missing_inputs_are_clear_errors(tmp_path):
    with pytest.raises(GalsegError, match="no file matches"):
        find_inputs([str(tmp_path / "*.fits")])
    with pytest.raises(GalsegError, match="no such file or folder"):
        find_inputs([tmp_path / "absent.fits"])


# --------------------------------------------------------------------- worker
def test_a_batch_writes_predictions_once_and_reports_unreadable_inputs(tmp_path, assistant):
    store = MaskStore.open(tmp_path / "out.zarr", taxonomy=assistant.taxonomy)
    (tmp_path / "empty.fits").write_bytes(b"")
    items = find_cutouts([SAMPLES / "stream_legacy.fits", tmp_path / "empty.fits"])
    job = Job(str(store.path), str(SHIPPED_CHECKPOINT), assistant.identity, "cpu")
    first = predict_batch(items, job)
    assert [o.status for o in first] == ["predicted", "failed"]
    assert "empty.fits" in first[1].input and first[1].reason
    again = predict_batch(items, job)  # as when Dask reruns a batch whose worker died
    assert [o.status for o in again] == ["skipped", "failed"]
    assert len(predicted_revisions(store, first[0].cutout_id)) == 1


# ------------------------------------------------------------------ full runs
def test_predict_writes_every_sample_cutout_with_its_model_and_confidence(
    tmp_path, client, assistant
):
    out = tmp_path / "predicted.zarr"
    report = predict([SAMPLES], out, client=client, batch_size=3, embeddings=True)
    items = find_cutouts([SAMPLES])
    assert report.count("predicted") == len(items) == 8 and not report.failures
    store = MaskStore.open(out, mode="r")
    assert len(store) == len(items)
    names = {c.name for c in assistant.config.classes}
    model = assistant.identity[:16]
    for item in items:
        cutout = read_cutout(item.sources)
        cutout_id = cutout.content_hash[:16]
        (revision,) = predicted_revisions(store, cutout_id)
        assert revision.provenance == "predicted"
        assert revision.metadata["model"] == {
            "checkpoint": SHIPPED_CHECKPOINT.name,
            "sha256": assistant.identity,
        }
        assert set(revision.metadata["confidence"]) == names
        expected = assistant.segment_many([cutout], embed=True)[0]
        np.testing.assert_array_equal(store.load_mask(cutout_id, PREDICTOR), expected.labels)
        np.testing.assert_allclose(
            store.load_embedding(cutout_id, model), expected.embedding, rtol=1e-4, atol=1e-5
        )
        assert store.source_paths(cutout_id) == [p.resolve() for p in item.sources]
    saved = json.loads(default_report_path(out).read_text())
    assert saved["counts"] == {"predicted": 8, "skipped": 0, "failed": 0}
    assert saved["sha256"] == assistant.identity and saved["failures"] == []
    assert set(saved["seconds_per_cutout"]) == {"read", "model", "write"}


def test_hundreds_of_cutouts_survive_a_killed_worker_a_corrupt_file_and_a_rerun(
    tmp_path, client, simulated
):
    out = tmp_path / "predicted.zarr"
    killed: list[int] = []

    def kill_a_worker_mid_run():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = len(list((out / "cutouts").glob("*"))) if (out / "cutouts").exists() else 0
            if done >= N_SIMULATED // 4:
                pid = next(iter(client.run(os.getpid).values()))
                os.kill(pid, signal.SIGKILL)
                killed.append(done)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_worker_mid_run)
    killer.start()
    report = predict([simulated], out, client=client, batch_size=8)
    killer.join()
    assert killed and killed[0] < N_SIMULATED, "the worker was not killed during the run"

    # The killed worker's batch runs again; cutouts it had written already are
    # skipped then, so at most one batch's worth count as done before.
    assert report.count("predicted") + report.count("skipped") == N_SIMULATED
    assert report.count("skipped") < 8
    ((failure),) = report.failures
    assert failure.input.endswith("sim_corrupt.fits") and "truncated or corrupt" in failure.reason
    store = MaskStore.open(out, mode="r")
    assert len(store) == N_SIMULATED
    for cutout_id in store.ids():
        (revision,) = predicted_revisions(store, cutout_id)  # exactly one, even after the kill
        assert store.load_mask(cutout_id, revision=revision.revision).shape == (64, 64)

    rerun = predict([simulated], out, client=client, batch_size=8)
    assert rerun.count("skipped") == N_SIMULATED and rerun.count("predicted") == 0
    assert [o.input for o in rerun.failures] == [failure.input]
    assert all(len(predicted_revisions(store, cid)) == 1 for cid in store.ids())


def test_predict_reaches_a_running_scheduler_by_its_address(tmp_path, client):
    out = tmp_path / "predicted.zarr"
    address = client.scheduler.address
    report = predict([SAMPLES / "stream_legacy.fits"], out, scheduler=address)
    assert report.scheduler == address and report.count("predicted") == 1


def test_the_predict_command_prints_progress_failures_and_the_report(tmp_path, capsys):
    (tmp_path / "broken.fits").write_text("not a FITS file")
    out = tmp_path / "predicted.zarr"
    status = main(
        [
            "predict",
            str(SAMPLES / "tail_legacy.fits.fz"),
            str(tmp_path / "broken.fits"),
            "--out",
            str(out),
            "--workers",
            "1",
        ]
    )
    captured = capsys.readouterr()
    assert status == 0
    assert "Dask: local cluster, 1 worker" in captured.out
    assert "1 predicted, 0 skipped (done before), 1 failed of 2 inputs" in captured.out
    assert f"failed: {tmp_path / 'broken.fits'}: not a FITS file" in captured.out
    assert "predict: 100%" in captured.err  # the tqdm bar
    assert json.loads(default_report_path(out).read_text())["counts"]["failed"] == 1


def test_predict_refuses_bad_settings_before_starting_a_cluster(tmp_path):
    with pytest.raises(GalsegError, match="batch size"):
        predict([SAMPLES], tmp_path / "out.zarr", batch_size=0)
    assert main(["predict", str(tmp_path / "absent"), "--out", str(tmp_path / "o.zarr")]) == 1
