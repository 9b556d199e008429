"""Tests of galseg.batch and ``galseg predict``: catalogue runs on a Dask LocalCluster.

The runs use the shipped model on the bundled sample cutouts and on a few
hundred small simulated cutouts, with a real two-worker ``LocalCluster``
(worker processes, as on a cluster).
"""

from __future__ import annotations

from dataclasses import replace
import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import threading
import time
import weakref

from astropy.table import Table
import numpy as np
import pytest

torch = pytest.importorskip("torch")
distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

from galseg import FeatureClass, GalsegError, MaskStore, Taxonomy  # noqa: E402
from galseg.batch import (  # noqa: E402
    PREDICTOR,
    Job,
    default_report_path,
    find_inputs,
    local_cluster,
    predict,
    predict_batch,
)
from galseg.batch._head_start import LocalRun  # noqa: E402
from galseg.batch._worker import worker_assistant  # noqa: E402
from galseg.cli import main  # noqa: E402
from galseg.discovery import find_cutouts  # noqa: E402
from galseg.io import read_cutout  # noqa: E402
from galseg.model import (  # noqa: E402
    SHIPPED_CHECKPOINT,
    ModelConfig,
    build_network,
    load_assistant,
    save_checkpoint,
)
from galseg.simulate import write_simulated_set  # noqa: E402

SAMPLES = Path(__file__).parents[1] / "sample_data"
N_SIMULATED = 300


@pytest.fixture(scope="module")
def client():
    with local_cluster(2, dashboard=False) as cluster, distributed.Client(cluster) as dask_client:
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
    # A glob's matches are not opened: a CSV catalogue is read, a FITS file is a cutout
    globbed = find_inputs([str(tmp_path / "cat.*")])
    assert [item.name for item in globbed.items] == ["stream", "relative", "cat"]


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
@pytest.fixture
def job_store(tmp_path, assistant):
    store = MaskStore.open(tmp_path / "out.zarr", taxonomy=assistant.taxonomy)
    return store, Job(str(store.path), str(SHIPPED_CHECKPOINT), assistant.identity, "cpu")


def test_a_batch_writes_predictions_once_and_reports_unreadable_inputs(tmp_path, job_store):
    store, job = job_store
    (tmp_path / "empty.fits").write_bytes(b"")
    shutil.copy(SAMPLES / "stream_legacy.fits", tmp_path / "same_pixels.fits")
    items = find_cutouts(
        [SAMPLES / "stream_legacy.fits", tmp_path / "empty.fits", tmp_path / "same_pixels.fits"]
    )
    job = replace(job, run="first-run")
    first = predict_batch(items, job)
    assert [o.status for o in first] == ["predicted", "failed", "duplicate"]
    assert first[1].input == str(tmp_path / "empty.fits") and "empty" in first[1].reason
    assert first[2].cutout_id == first[0].cutout_id  # same pixels: written once
    again = predict_batch(items, job)  # as when Dask reruns a batch whose worker died
    assert [o.status for o in again] == ["predicted", "failed", "duplicate"]
    (revision,) = predicted_revisions(store, first[0].cutout_id)
    assert revision.metadata["name"] == "stream_legacy"
    assert revision.metadata["run"] == "first-run"
    later = predict_batch(items[::-1], replace(job, run="second-run"))
    assert [o.status for o in later] == ["skipped", "failed", "duplicate"]
    assert len(predicted_revisions(store, first[0].cutout_id)) == 1


def test_embeddings_asked_for_later_are_added_without_a_new_mask(job_store, assistant):
    store, job = job_store
    items = find_cutouts([SAMPLES / "tail_legacy.fits.fz"])
    (first,) = predict_batch(items, job)
    assert not store.has_embedding(first.cutout_id, job.model_name)
    (second,) = predict_batch(items, replace(job, embed=True))
    assert second.status == "predicted"
    assert len(predicted_revisions(store, first.cutout_id)) == 1
    assert store.load_embedding(first.cutout_id, job.model_name).shape == (
        assistant.network.encoder.feature_info.channels()[-1],
    )
    (third,) = predict_batch(items, replace(job, embed=True))
    assert third.status == "skipped"


def test_another_checkpoint_predicts_again(tmp_path, job_store):
    store, job = job_store
    items = find_cutouts([SAMPLES / "tail_legacy.fits.fz"])
    (first,) = predict_batch(items, job)
    other = save_checkpoint(
        tmp_path / "other.safetensors", build_network(ModelConfig()), ModelConfig()
    )
    other_job = Job(job.store, str(other.path), other.identity, "cpu")
    assert predict_batch(items, other_job)[0].status == "predicted"
    old, new = predicted_revisions(store, first.cutout_id)
    assert old.metadata["model"]["sha256"] == job.identity
    assert new.metadata["model"] == {"checkpoint": "other.safetensors", "sha256": other.identity}
    assert predict_batch(items, job)[0].status == "predicted"  # its latest is the other's


def test_a_cutout_the_model_fails_on_fails_alone(job_store, monkeypatch):
    store, job = job_store
    items = find_cutouts([SAMPLES / "tail_legacy.fits.fz", SAMPLES / "stream_legacy.fits"])
    model = worker_assistant(job)
    segment_many = type(model).segment_many

    def failing(self, cutouts, *, embed=False):
        if any(c.name == "stream_legacy" for c in cutouts):
            raise RuntimeError("out of memory\nwith a second line")
        return segment_many(self, cutouts, embed=embed)

    monkeypatch.setattr(type(model), "segment_many", failing)
    outcomes = predict_batch(items, job)
    assert [o.status for o in outcomes] == ["predicted", "failed"]
    assert outcomes[1].reason == "RuntimeError: out of memory"


# ------------------------------------------------------------------ full runs
def test_predict_writes_every_sample_cutout_with_its_model_and_confidence(
    tmp_path, client, assistant
):
    out = tmp_path / "predicted.zarr"
    report = predict([SAMPLES], out, client=client, batch_size=3, embeddings=True)
    items = find_cutouts([SAMPLES])
    assert report.counts["predicted"] == len(items) == 8 and not report.failures
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
    assert saved["counts"] == {"predicted": 8, "skipped": 0, "failed": 0, "duplicate": 0}
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

    # The killed worker's batches run again: the one in flight, and any it had
    # finished whose results were not yet fetched. Cutouts they had written are
    # known as this run's own, so every cutout counts once, as predicted.
    assert report.counts["predicted"] == N_SIMULATED
    assert report.counts["skipped"] == report.counts["duplicate"] == 0
    ((failure),) = report.failures
    assert failure.input.endswith("sim_corrupt.fits") and "truncated or corrupt" in failure.reason
    store = MaskStore.open(out, mode="r")
    assert len(store) == N_SIMULATED
    for cutout_id in store.ids():
        (revision,) = predicted_revisions(store, cutout_id)  # exactly one, even after the kill
        assert store.load_mask(cutout_id, revision=revision.revision).shape == (64, 64)

    rerun = predict([simulated], out, client=client, batch_size=8)
    assert rerun.counts["skipped"] == N_SIMULATED and rerun.counts["predicted"] == 0
    assert [o.input for o in rerun.failures] == [failure.input]
    assert all(len(predicted_revisions(store, cid)) == 1 for cid in store.ids())


def test_each_cutout_counts_once_however_often_it_is_named(tmp_path, client, capsys):
    folder = tmp_path / "cutouts"
    folder.mkdir()
    for name in ("stream_legacy.fits", "tail_legacy.fits.fz"):
        shutil.copy(SAMPLES / name, folder / name)
    shutil.copy(SAMPLES / "stream_legacy.fits", tmp_path / "stream_copy.fits")  # same pixels
    (tmp_path / "cat.csv").write_text("name,path\nstream,cutouts/stream_legacy.fits\n")
    inputs = [folder, str(folder / "*.fits*"), tmp_path / "cat.csv", tmp_path / "stream_copy.fits"]
    report = predict(inputs, tmp_path / "new.zarr", client=client, batch_size=4)
    # 2 files named 5 times, and a third file with the pixels of one of them
    assert report.counts == {"predicted": 2, "skipped": 0, "failed": 0, "duplicate": 4}
    assert report.summary().endswith(f"of 2 inputs in {report.seconds:.1f} s; 4 duplicate inputs")
    assert len(MaskStore.open(tmp_path / "new.zarr", mode="r")) == 2
    again = predict(inputs, tmp_path / "new.zarr", client=client, batch_size=4)
    # The copy is known by its pixels only on a worker, after its twin was skipped by name
    assert again.counts == {"predicted": 0, "skipped": 3, "failed": 0, "duplicate": 3}


def test_a_rerun_with_everything_done_starts_no_cluster(tmp_path, client):
    out = tmp_path / "done.zarr"
    predict([SAMPLES], out, client=client, batch_size=4)
    start = time.perf_counter()
    # Nothing listens on port 9: reaching for a cluster would fail
    again = predict([SAMPLES], out, scheduler="tcp://127.0.0.1:9")
    seconds = time.perf_counter() - start
    assert again.counts["skipped"] == len(find_cutouts([SAMPLES])) and again.workers == 0
    print(f"\nre-run with every cutout done: {seconds:.2f} s, no cluster")
    # The command, in a fresh process: it never imports torch, timm or Dask
    rerun = "; ".join(
        [
            "import sys",
            "from galseg.cli import main",
            f"status = main(['predict', {str(SAMPLES)!r}, '--out', {str(out)!r}])",
            "heavy = ('torch', 'timm', 'dask', 'distributed')",
            "print(status, [name for name in heavy if name in sys.modules])",
        ]
    )
    done = subprocess.run([sys.executable, "-c", rerun], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "0 []", done.stderr
    assert "0 predicted, 8 skipped (done before)" in done.stdout and "Dask" not in done.stdout


def test_a_run_of_one_batch_is_predicted_here_without_a_cluster(tmp_path):
    inputs = [SAMPLES / "stream_legacy.fits", SAMPLES / "tail_legacy.fits.fz"]
    said: list[str] = []
    report = predict(inputs, tmp_path / "out.zarr", batch_size=2, say=said.append)
    assert report.counts["predicted"] == report.in_process == 2 and report.workers == 0
    assert not [line for line in said if "Dask" in line or "cluster" in line]
    assert json.loads(default_report_path(tmp_path / "out.zarr").read_text())["in_process"] == 2
    store = MaskStore.open(tmp_path / "out.zarr", mode="r")
    assert all(len(predicted_revisions(store, cid)) == 1 for cid in store.ids())


def test_the_local_cluster_takes_over_once_its_workers_have_the_model(
    tmp_path, simulated, monkeypatch
):
    """This process predicts the first cutout at once, and batches until the workers
    are ready (held back here until they are, so that some work is left for them)."""
    here = LocalRun._here
    order: list[str] = []

    def held_back(self, batch):
        if self.in_process:
            deadline = time.monotonic() + 300
            while not self.started_workers and time.monotonic() < deadline:
                time.sleep(0.02)
        order.append("here")
        return here(self, batch)

    monkeypatch.setattr(LocalRun, "_here", held_back)
    # As in a fresh process: the module's client is not Dask's default client here
    monkeypatch.setattr(distributed.client, "_global_clients", weakref.WeakValueDictionary())
    files = sorted(simulated.glob("sim_0*.fits"))[:40]
    out = tmp_path / "out.zarr"
    said: list[str] = []
    report = predict(files, out, workers=1, batch_size=4, say=lambda line: said.append(line))
    assert report.counts["predicted"] == len(files) and not report.failures
    assert report.workers == 1 and 1 + 4 <= report.in_process < len(files) // 2
    assert said[0] == "predicting in this process while a local cluster of 1 worker starts"
    assert said[1].startswith("Dask: local cluster, 1 worker")
    store = MaskStore.open(out, mode="r")
    assert len(store) == len(files)
    assert all(len(predicted_revisions(store, cid)) == 1 for cid in store.ids())
    assert len({rev.metadata["run"] for cid in store.ids() for rev in store.history(cid)}) == 1


def test_an_unreachable_scheduler_creates_no_store(tmp_path):
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(
            GalsegError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"
        ):
            predict(
                [SAMPLES / "stream_legacy.fits"], tmp_path / "o.zarr", scheduler="tcp://127.0.0.1:9"
            )
    assert list(tmp_path.iterdir()) == []


def test_a_worker_with_dasks_malloc_trim_setting_is_warned_of(tmp_path, client):
    (address, _), *_ = client.nthreads().items()
    client.run(_set_malloc_trim_threshold, "65536", workers=[address])
    said: list[str] = []
    try:
        predict(
            [SAMPLES / "stream_legacy.fits"], tmp_path / "o.zarr", client=client, say=said.append
        )
    finally:
        client.run(_set_malloc_trim_threshold, None, workers=[address])
    (warning,) = [line for line in said if line.startswith("warning:")]
    assert "1 Dask worker" in warning and address in warning and "MALLOC_TRIM_THRESHOLD_" in warning
    said.clear()
    predict([SAMPLES / "tail_legacy.fits.fz"], tmp_path / "o.zarr", client=client, say=said.append)
    assert not [line for line in said if line.startswith("warning:")]


@pytest.fixture
def dask_cluster_processes(tmp_path):
    """A ``dask scheduler`` and two ``dask worker`` processes on localhost, as a user
    starts them: ``(address, worker processes)``."""
    import socket

    dask_command = str(Path(sys.executable).with_name("dask"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": tmp_path}
    processes = [
        subprocess.Popen(
            [
                dask_command,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--dashboard-address",
                ":0",
            ],
            **quiet,
        )
    ]
    try:
        processes += [
            subprocess.Popen(
                [
                    dask_command,
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--dashboard-address",
                    ":0",
                    "--name",
                    f"w{i}",
                ],
                **quiet,
            )
            for i in range(2)
        ]
        with distributed.Client(address, timeout="60s") as probe_client:
            probe_client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in processes[::-1]:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.mark.slow
def test_a_real_cluster_losing_a_worker_mid_run_predicts_every_cutout_once(
    tmp_path, simulated, dask_cluster_processes
):
    address = dask_cluster_processes
    out = tmp_path / "predicted.zarr"
    said: list[str] = []
    killed: list[int] = []

    def kill_a_worker_mid_run():
        deadline = time.monotonic() + 600
        with distributed.Client(address) as watcher:
            while time.monotonic() < deadline and not killed:
                done = len(list((out / "cutouts").glob("*"))) if (out / "cutouts").exists() else 0
                if done >= N_SIMULATED // 4:
                    pid = next(iter(watcher.run(os.getpid).values()))
                    os.kill(pid, signal.SIGKILL)
                    killed.append(done)
                time.sleep(0.05)

    killer = threading.Thread(target=kill_a_worker_mid_run)
    killer.start()
    report = predict([simulated], out, scheduler=address, batch_size=8, say=said.append)
    killer.join()
    assert killed and killed[0] < N_SIMULATED, "the worker was not killed during the run"
    assert report.counts["predicted"] == N_SIMULATED and len(report.failures) == 1
    store = MaskStore.open(out, mode="r")
    assert len(store) == N_SIMULATED
    assert all(len(predicted_revisions(store, cid)) == 1 for cid in store.ids())
    # A plain `dask worker` has Dask's MALLOC_TRIM_THRESHOLD_: the run says so
    assert any(line.startswith("warning: 2 Dask workers") for line in said)


def _set_malloc_trim_threshold(value: str | None) -> None:
    if value is None:
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    else:
        os.environ["MALLOC_TRIM_THRESHOLD_"] = value


def _malloc_trim_threshold() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_local_workers_run_without_dasks_malloc_trim_setting(client):
    """Dask's MALLOC_TRIM_THRESHOLD_ made every tensor a fresh mmap: half speed."""
    assert set(client.run(_malloc_trim_threshold).values()) == {None}
    assert len(client.nthreads()) == 2 and set(client.nthreads().values()) == {1}


def test_predict_reaches_a_running_scheduler_by_its_address(tmp_path, client):
    out = tmp_path / "predicted.zarr"
    address = client.scheduler.address
    report = predict([SAMPLES / "stream_legacy.fits"], out, scheduler=address)
    assert report.scheduler == address and report.counts["predicted"] == 1


def test_the_predict_command_prints_progress_failures_and_the_report(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths, as typed in a terminal
    Path("broken.fits").write_text("not a FITS file")
    shutil.copy(SAMPLES / "tail_legacy.fits.fz", "tail.fits.fz")
    args = ["predict", "tail.fits.fz", "broken.fits", "--out", "out.zarr", "--workers", "1"]
    status = main([*args, "--batch-size", "1"])  # two batches: a cluster starts
    captured = capsys.readouterr()
    assert status == 0
    assert "Dask: local cluster, 1 worker, dashboard at http://" in captured.out
    assert "1 predicted, 0 skipped (done before), 1 failed of 2 inputs" in captured.out
    assert f"failed: {tmp_path / 'broken.fits'}: not a FITS file" in captured.out
    assert "predict: 100%" in captured.err  # the tqdm bar
    assert "check store" not in captured.err  # nothing to check in a new store
    saved = json.loads(Path("out.predict-report.json").read_text())
    assert saved["counts"]["failed"] == 1 and saved["store"] == str(tmp_path / "out.zarr")
    (cutout_id,) = MaskStore.open("out.zarr", mode="r").ids()
    store = MaskStore.open("out.zarr", mode="r")
    assert store.source_paths(cutout_id) == [tmp_path / "tail.fits.fz"]
    assert main(["predict", "broken.fits", "--out", "out.zarr", "--workers", "1"]) == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batch_size": 0}, "batch size must be at least 1"),
        ({"workers": 2, "scheduler": "tcp://127.0.0.1:8786"}, "not both"),
        ({"device": "gpu"}, "device must be one of auto, cpu, cuda"),
        ({"checkpoint": "absent.safetensors"}, "absent.safetensors"),
    ],
)
def test_bad_settings_are_refused_before_any_work(tmp_path, settings, message):
    with pytest.raises(GalsegError, match=message):
        predict([SAMPLES], tmp_path / "out.zarr", **settings)
    assert not (tmp_path / "out.zarr").exists()


def test_a_store_with_other_classes_is_refused(tmp_path):
    other = Taxonomy(
        [FeatureClass(0, "unlabelled", "#000000"), FeatureClass(1, "spiral_arm", "#00ff00")]
    )
    MaskStore.open(tmp_path / "out.zarr", taxonomy=other)
    with pytest.raises(GalsegError, match="spiral_arm.*write into a new store"):
        predict([SAMPLES], tmp_path / "out.zarr")


def test_workers_that_cannot_run_the_model_stop_the_run(tmp_path, client):
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    with pytest.raises(GalsegError, match="a Dask worker cannot run the model: .*CUDA"):
        predict([SAMPLES], tmp_path / "out.zarr", client=client, device="cuda")
