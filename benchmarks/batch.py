"""Start-up and throughput of ``galseg predict``: first mask, re-run, cutouts per second.

Run from the repository root::

    .venv/bin/python benchmarks/batch.py [--n 240] [--size 256] [--batch-size 16] [--startup-only]

First the command itself, as a user runs it (``python -m galseg predict``,
local cluster, default settings) over ``--startup-n`` new cutouts: the time
from its start to the first mask published in the store, and the whole run;
then the same command again, with every cutout done, timed to its exit. Wall
and CPU seconds are both printed: on a busy machine the wall time stretches,
the CPU time much less.

Then it simulates ``n`` cutouts (legacy survey, 3 bands) into FITS files in a temporary
folder, then for 1 and 2 workers of the ``LocalCluster`` ``galseg predict``
makes (:func:`galseg.batch.local_cluster`: one process each, with one torch
thread, so that each worker has a core of its own) runs
:func:`galseg.batch.predict` over all of them into a new store. Each cluster
first predicts a few other cutouts so that every worker has loaded the model:
the figures are the steady state a long catalogue run sees, not the start-up
(printed apart). It prints cutouts per second, the scaling efficiency (the
2-worker rate over twice the 1-worker rate), where a worker's time goes per
cutout (reading the FITS files, the model, writing the mask into the store),
what that means for 10 million cutouts, and the throughput per core against
an in-process loop of ``Assistant.segment_many`` over the same files.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from distributed import Client
import psutil

from galseg.batch import local_cluster, predict
from galseg.simulate import write_simulated_set

CATALOGUE = 10_000_000
WARM_UP = 4
"""Cutouts per worker predicted before timing (the model loads on the first)."""


def _run(folder: Path, files: list[Path], warm: list[Path], workers: int, batch_size: int):
    threads = 1  # one core per worker, whatever the count: the ratio is then the scaling
    start = time.perf_counter()
    with local_cluster(workers, dashboard=False) as cluster, Client(cluster) as client:
        predict(warm, folder / f"warm{workers}.zarr", client=client, threads=threads, batch_size=1)
        startup = time.perf_counter() - start
        report = predict(
            files,
            folder / f"run{workers}.zarr",
            client=client,
            threads=threads,
            batch_size=batch_size,
        )
    if report.failures or report.counts["predicted"] != len(files):
        raise SystemExit(f"run with {workers} workers did not predict every cutout: {report}")
    return report, startup


def _command(files: list[Path], out: Path) -> list[str]:
    return [sys.executable, "-m", "galseg", "predict", *map(str, files), "--out", str(out)]


def _cpu_seconds(process: psutil.Process) -> float:
    """CPU seconds of a process and its descendants so far (those alive, and those reaped)."""
    total = 0.0
    for each in (process, *process.children(recursive=True)):
        try:
            times = each.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def _first_mask(out: Path) -> bool:
    """Whether a first revision has been published in the store (a rename: all or nothing)."""
    cutouts = out / "cutouts"
    return cutouts.is_dir() and any((c / "masks" / "000001").exists() for c in cutouts.iterdir())


def _startup(folder: Path, files: list[Path]) -> None:
    """Time ``galseg predict`` as a command: to the first mask, to the end, and a re-run."""
    out = folder / "startup.zarr"
    start = time.perf_counter()
    child = subprocess.Popen(_command(files, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watched = psutil.Process(child.pid)
    first, first_cpu = None, 0.0
    while child.poll() is None and first is None:
        if _first_mask(out):
            first, first_cpu = time.perf_counter() - start, _cpu_seconds(watched)
        time.sleep(0.01)
    output, errors = child.communicate()
    whole = time.perf_counter() - start
    if child.returncode != 0 or first is None:
        raise SystemExit(f"galseg predict failed ({child.returncode}): {errors.decode()[-2000:]}")
    report = json.loads((folder / "startup.predict-report.json").read_text())
    print(
        f"first mask in the store {first:.2f} s after the command started "
        f"(CPU {first_cpu:.2f} s, the command and its children)"
    )
    where = (
        f"{report['in_process']} of them in the command's process while the "
        f"{report['workers']}-worker cluster started"
        if report["workers"]
        else "all in the command's process, no cluster started"
    )
    print(f"whole run {whole:.1f} s: {report['counts']['predicted']} predicted, {where}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    again = subprocess.run(_command(files, out), capture_output=True, check=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report = json.loads((folder / "startup.predict-report.json").read_text())
    cluster = report["workers"] > 0 or "Dask:" in again.stdout
    print(
        f"re-run with every cutout done: {seconds:.2f} s (CPU {cpu:.2f} s), "
        f"{report['counts']['skipped']} skipped, {'a' if cluster else 'no'} cluster started"
    )


def _in_process_rate(files: list[Path], batch_size: int) -> float:
    """Cutouts per second of a plain loop in this process: read, then segment_many in batches."""
    import torch

    from galseg.io import read_cutout
    from galseg.model import load_assistant

    torch.set_num_threads(1)
    assistant = load_assistant(device="cpu")
    assistant.segment_many([read_cutout(files[0])])  # warm up, as the workers are
    start = time.perf_counter()
    for i in range(0, len(files), batch_size):
        assistant.segment_many([read_cutout(path) for path in files[i : i + batch_size]])
    return len(files) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=240, help="cutouts timed (default 240)")
    parser.add_argument("--size", type=int, default=256, help="cutout side (default 256)")
    parser.add_argument("--batch-size", type=int, default=16, help="cutouts per task")
    parser.add_argument(
        "--startup-n", type=int, default=48, help="cutouts of the start-up run (default 48)"
    )
    parser.add_argument("--startup-only", action="store_true", help="time the start-up only")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="galseg-bench-batch-"))
    try:
        data = folder / "cutouts"
        n = max(args.n + 2 * WARM_UP, args.startup_n)
        write_simulated_set(data, n, size=args.size, seed=4_000_000)
        files = sorted(data.glob("sim_*.fits"))
        warm, timed = files[: 2 * WARM_UP], files[2 * WARM_UP :]
        print(
            f"galseg predict as a command over {args.startup_n} new simulated "
            f"{args.size}x{args.size} cutouts, {os.cpu_count()} CPU cores, default settings"
        )
        _startup(folder, files[: args.startup_n])
        if args.startup_only:
            return
        print(
            f"{len(timed)} simulated {args.size}x{args.size} legacy cutouts (3-band FITS), "
            f"batches of {args.batch_size}, {os.cpu_count()} CPU cores, shipped model"
        )
        print(
            f"{'workers':>7} {'cutouts/s':>10} {'start-up s':>11} {'read ms':>8} "
            f"{'model ms':>9} {'write ms':>9}   (per cutout, in a worker)"
        )
        rates = {}
        for workers in (1, 2):
            report, startup = _run(folder, timed, warm, workers, args.batch_size)
            rates[workers] = len(timed) / report.seconds
            per = {k: 1e3 * v for k, v in report.seconds_per_cutout().items()}
            print(
                f"{workers:>7} {rates[workers]:>10.2f} {startup:>11.1f} {per['read']:>8.1f} "
                f"{per['model']:>9.1f} {per['write']:>9.1f}"
            )
        efficiency = rates[2] / (2 * rates[1])
        print(f"scaling efficiency, 2 workers vs 1: {efficiency:.2f}")
        loop = _in_process_rate(timed, args.batch_size)
        print(
            f"in-process loop of Assistant.segment_many (1 torch thread, reading included, "
            f"no store): {loop:.2f} cutouts/s; throughput per core vs that loop: "
            f"1 worker {rates[1] / loop:.2f}, 2 workers {rates[2] / 2 / loop:.2f}"
        )
        per_worker = rates[2] / 2
        print(
            f"10 million cutouts at {per_worker:.2f} cutouts/s per worker (one core of this CPU):"
        )
        for workers in (2, 64, 256, 1024):
            hours = CATALOGUE / (per_worker * workers) / 3600
            print(f"  {workers:>5} such workers: {hours:>8.1f} h")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
