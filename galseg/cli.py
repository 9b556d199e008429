"""The ``galseg`` command.

Every sub-command is a thin layer over the library; errors on bad input print
one line (``galseg: error: <file>: <problem>``) and exit with status 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import os
from pathlib import Path
import sys

import numpy as np

from . import __version__
from .errors import GalsegError
from .surveys import SURVEYS

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``galseg`` command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    args.command_line = " ".join(["galseg", *(sys.argv[1:] if argv is None else argv)])
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except BrokenPipeError:  # the reader went away (galseg info | head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # a quiet exit flush
        return 0
    except GalsegError as exc:
        print(f"galseg: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file system refusing a write we did not foresee
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"galseg: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("galseg: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="galseg",
        description="Segmentation masks of galaxy features (LSB tidal features, bars) "
        "on multi-band survey cutouts.",
    )
    parser.add_argument("--version", action="version", version=f"galseg {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    info = sub.add_parser(
        "info",
        help="describe cutouts (bands, shape, WCS centre, pixel scale, noise) or mask stores",
        description="Describe each cutout (FITS files and folders of them, found as annotate "
        "and predict find them: per-band files <stem>_<band>.fits are one cutout) and each "
        "galseg mask store. A cutout that cannot be read is reported on one line and the "
        "others are still described (exit status 1).",
    )
    info.add_argument(
        "paths", nargs="+", metavar="PATH", help="FITS files, folders of them, or stores"
    )
    info.set_defaults(run=_info)

    sim = sub.add_parser(
        "simulate",
        help="write simulated galaxy cutouts with truth masks",
        description="Write simulated cutouts as FITS files and their truth masks into "
        "OUT/truth.zarr (annotator 'truth').",
    )
    sim.add_argument("--n", type=_positive_int, default=200, help="number of cutouts (default 200)")
    sim.add_argument(
        "--survey",
        default="legacy",
        help=f"survey preset: {', '.join(SURVEYS)} (default legacy)",
    )
    sim.add_argument("--size", type=_positive_int, default=256, help="cutout size in pixels")
    sim.add_argument("--seed", type=int, default=0, help="seed of the first cutout (default 0)")
    sim.add_argument(
        "--layout",
        choices=("mef", "cube", "per-band"),
        default="mef",
        help="FITS layout: one extension per band, a cube, or one file per band",
    )
    sim.add_argument(
        "--compression",
        choices=("none", "gzip", "tile"),
        default="none",
        help="none (.fits), gzip (.fits.gz) or lossless tile compression (.fits.fz)",
    )
    sim.add_argument("--out", required=True, type=Path, help="output folder")
    sim.set_defaults(run=_simulate)

    _add_export(sub)
    _add_import(sub)

    annotate = sub.add_parser(
        "annotate",
        help="open cutouts in the napari annotator",
        description="Open FITS cutouts (files, folders of them, or a galseg store) in napari "
        "with the annotator docked; every stroke is saved to STORE within 2 seconds.",
    )
    annotate.add_argument("paths", nargs="*", metavar="PATH", help="FITS files, folders or stores")
    annotate.add_argument(
        "--order",
        type=Path,
        metavar="QUEUE.csv",
        help="open the cutouts of a galseg rank queue first, in its order",
    )
    annotate.add_argument(
        "--store", required=True, type=Path, help="mask store (created if missing)"
    )
    annotate.add_argument("--annotator", help="your name (remembered for next time)")
    _add_taxonomy_option(annotate)
    annotate.add_argument(
        "--calibration",
        type=_positive_int,
        default=0,
        metavar="N",
        help="mix N simulated cutouts, their truth kept out of sight, into the queue: how you "
        "paint them shows in the annotator and in galseg agreement",
    )
    _add_assist_options(annotate)
    annotate.set_defaults(run=_annotate)

    demo = sub.add_parser(
        "demo",
        help="annotate the bundled sample cutouts",
        description="Open the bundled sample cutouts in the annotator, saving into a store in "
        "a new temporary folder (or STORE).",
    )
    demo.add_argument("--store", type=Path, help="mask store (default: a new temporary folder)")
    demo.add_argument("--annotator", help="your name (remembered for next time)")
    _add_taxonomy_option(demo)
    _add_assist_options(demo)
    demo.set_defaults(run=_demo)

    _add_transfer(sub)
    _add_predict(sub)
    _add_rank(sub)
    _add_agreement(sub)
    _add_check(sub)
    _add_training(sub)
    _add_bench(sub)
    return parser


def _add_export(sub: argparse._SubParsersAction) -> None:
    """The ``export`` command (a data set for collaborators)."""
    export = sub.add_parser(
        "export",
        help="export a store's masks, every revision, as a data set for collaborators",
        description="Write OUT/masks.zarr (each cutout's WCS, bands, flags and pixels, and every "
        "revision of its masks with its annotator, time and provenance), OUT/manifest.ecsv, "
        "and a data "
        "card (OUT/README.md, OUT/dataset.json: surveys, pixel scales, surface-brightness "
        "limits, counts per class and annotator, a checksum per file).",
    )
    export.add_argument("store", type=Path, metavar="STORE")
    export.add_argument("out", type=Path, metavar="OUT")
    export.add_argument("--annotator", help="only this annotator's masks")
    export.add_argument(
        "--fits", action="store_true", help="also write each annotator's final masks as FITS"
    )
    export.add_argument(
        "--no-pixels",
        dest="pixels",
        action="store_false",
        help="leave the cutouts' pixels out (for collaborators who hold the images)",
    )
    export.add_argument("--zip", action="store_true", help="write one zip file OUT")
    export.add_argument(
        "--map",
        type=Path,
        metavar="MAPPING.json",
        help='write the masks in another taxonomy: {"taxonomy": "matlas" or its classes, '
        '"classes": {"tidal_stream": "stream", ...}}, every class mapped',
    )
    export.add_argument(
        "--moc", action="store_true", help="also write each class's sky footprint as a MOC"
    )
    export.set_defaults(run=_export)


def _add_import(sub: argparse._SubParsersAction) -> None:
    """The ``import`` command (merge a data set into a store)."""
    imp = sub.add_parser(
        "import",
        help="merge an exported data set into a store",
        description="Verify a data set's checksums and merge its cutouts and mask revisions "
        "into STORE, never overwriting a revision; revisions the store holds already are "
        "skipped. A data set whose pixels clash with the store's is refused, with nothing "
        "written.",
    )
    imp.add_argument("dataset", type=Path, metavar="DATASET", help="data set folder or zip file")
    imp.add_argument("--into", required=True, type=Path, help="mask store (created if missing)")
    imp.add_argument(
        "--cutouts",
        nargs="+",
        default=[],
        metavar="PATH",
        help="your copies of the cutouts of a data set exported without pixels (--no-pixels): "
        "FITS files, folders of them, or stores; matched by content hash",
    )
    imp.set_defaults(run=_import)


def _add_transfer(sub: argparse._SubParsersAction) -> None:
    """The ``transfer`` command (masks onto another survey's cutouts)."""
    transfer = sub.add_parser(
        "transfer",
        help="carry a store's masks onto other surveys' cutouts of the same sky",
        description="For every target cutout, reproject each annotator's latest masks of the "
        "source cutouts that overlap it on the sky (by WCS) onto its pixel grid, and save them "
        "in OUT as revisions with provenance 'transferred'. Running it again adds nothing.",
    )
    transfer.add_argument("source", type=Path, metavar="SOURCE_STORE")
    transfer.add_argument(
        "--onto",
        nargs="+",
        required=True,
        metavar="PATH",
        help="target cutouts: FITS files, folders of them, or stores",
    )
    transfer.add_argument("--out", required=True, type=Path, help="mask store (created if missing)")
    transfer.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="least fraction of a target pixel a class must cover (default 0.5; thin "
        "features keep their skeleton below it)",
    )
    transfer.set_defaults(run=_transfer)


def _add_rank(sub: argparse._SubParsersAction) -> None:
    """The ``rank`` command (which cutout to paint next)."""
    rank = sub.add_parser(
        "rank",
        help="order cutouts for annotation, most informative first",
        description="Run automatic mode over INPUTS on Dask (as galseg predict, keeping "
        "uncertainty and embeddings in STORE) and write QUEUE.csv (rank,score,source), most "
        "informative first, for galseg annotate --order.",
    )
    rank.add_argument(
        "inputs", nargs="+", metavar="INPUTS", help="FITS files, folders, globs, catalogues"
    )
    rank.add_argument("--out", required=True, type=Path, metavar="QUEUE.csv", help="queue to write")
    rank.add_argument("--checkpoint", type=Path, help="model (default: the shipped one)")
    rank.add_argument(
        "--by",
        default="uncertainty",
        metavar="uncertainty|diversity|similar:CUTOUT",
        help="most uncertain first (default), spread over the embedding space, or nearest "
        "to CUTOUT first",
    )
    rank.add_argument(
        "--store",
        type=Path,
        help="mask store for the predictions and embeddings (default: QUEUE-predicted.zarr "
        "beside the queue); what it holds is reused",
    )
    rank.add_argument("--scheduler", help="address of a running Dask scheduler")
    rank.add_argument("--workers", type=_positive_int, help="local Dask workers")
    rank.set_defaults(run=_rank)


def _add_agreement(sub: argparse._SubParsersAction) -> None:
    """The ``agreement`` and ``consensus`` commands."""
    agreement = sub.add_parser(
        "agreement",
        help="how far the annotators of a store agree, with each other, a consensus and truth",
        description="Per class: IoU between each pair of annotators on the cutouts they share, "
        "each annotator against the STAPLE consensus, STAPLE's estimate of each annotator's "
        "sensitivity and specificity, and with --truth each annotator and the consensus "
        "against the truth, also over time.",
    )
    agreement.add_argument("store", type=Path, metavar="STORE")
    agreement.add_argument(
        "--truth", type=Path, metavar="TRUTH_STORE", help="store of truth masks (same cutouts)"
    )
    agreement.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
    agreement.add_argument(
        "--plots", type=Path, metavar="DIR", help="write PNGs: agreement matrices, skill over time"
    )
    agreement.set_defaults(run=_agreement)

    consensus = sub.add_parser(
        "consensus",
        help="save the annotators' STAPLE consensus masks into a store",
        description="Save the STAPLE consensus of each cutout that two or more annotators "
        "painted into OUT, as annotator 'consensus' with provenance 'consensus', with each "
        "pixel's agreement fraction.",
    )
    consensus.add_argument("store", type=Path, metavar="STORE")
    consensus.add_argument("--out", required=True, type=Path, help="store to write (may be STORE)")
    consensus.set_defaults(run=_consensus)


def _add_predict(sub: argparse._SubParsersAction) -> None:
    """The ``predict`` command (catalogue runs on Dask)."""
    predict = sub.add_parser(
        "predict",
        help="segment a whole catalogue of cutouts into a store, on Dask",
        description="Run the model's automatic mode over every cutout of INPUTS and write the "
        "masks (provenance 'predicted', annotator 'galseg-predict') into STORE, on a Dask "
        "LocalCluster or any running scheduler. Re-running skips the cutouts done with the "
        "same checkpoint; unreadable inputs are listed in the JSON report with the reason.",
    )
    predict.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUTS",
        help="FITS files, folders, quoted globs ('cutouts/*.fits'), mask stores, or "
        "catalogue tables (CSV or FITS) with a path column or path_<band> columns",
    )
    predict.add_argument("--out", required=True, type=Path, help="mask store (created if missing)")
    predict.add_argument(
        "--checkpoint", type=Path, help="galseg checkpoint (default: the shipped one)"
    )
    predict.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a running Dask scheduler (tcp://host:8786); default: a LocalCluster here",
    )
    predict.add_argument(
        "--workers",
        type=_positive_int,
        help="workers of the local cluster (default: one per core, at most 4)",
    )
    predict.add_argument(
        "--batch-size", type=_positive_int, default=16, help="cutouts per task (default 16)"
    )
    predict.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto (default: each worker's GPU if it has one), cpu or cuda",
    )
    predict.add_argument(
        "--threads",
        type=_positive_int,
        help="torch threads per worker (default: the local workers share the cores; "
        "with --scheduler, 1 as Dask sets)",
    )
    predict.add_argument(
        "--embeddings",
        action="store_true",
        help="also store each cutout's embedding (the encoder's pooled features)",
    )
    predict.add_argument(
        "--report",
        type=Path,
        help="JSON report (default: beside the store, STORE.predict-report.json)",
    )
    predict.set_defaults(run=_predict)


def _add_check(sub: argparse._SubParsersAction) -> None:
    """The ``check`` command (verify a store, remove what interrupted writers left)."""
    check = sub.add_parser(
        "check",
        help="verify every cutout, revision and embedding of a mask store",
        description="Verify every cutout, revision and embedding of a mask store (metadata, "
        "shapes, labels against the taxonomy, content hashes of the stored pixels and masks) "
        "and list what is wrong; exit status 1 if anything is. --repair removes only the "
        "staging folders and partial files of interrupted writes, never a published revision; "
        "run it while no one writes to the store.",
    )
    check.add_argument("store", type=Path, metavar="STORE")
    check.add_argument(
        "--repair", action="store_true", help="remove leftovers of interrupted writes"
    )
    check.set_defaults(run=_check)


def _add_taxonomy_option(parser: argparse.ArgumentParser) -> None:
    """The classes the annotator paints in."""
    from .taxonomy import TAXONOMIES

    parser.add_argument(
        "--taxonomy",
        metavar="NAME|CLASSES.json",
        help=f"classes of a new store: a preset ({', '.join(TAXONOMIES)}; default galseg) or a "
        'JSON file {"classes": [{"value": 0, "name": "unlabelled", "colour": "#000000"}, ...]}; '
        "an existing store must have them",
    )


def _add_assist_options(parser: argparse.ArgumentParser) -> None:
    """The annotator's model options."""
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="galseg checkpoint completing the strokes (default: the shipped model)",
    )
    parser.add_argument(
        "--no-assist",
        dest="assist",
        action="store_false",
        help="paint without stroke completion (no model is loaded)",
    )
    parser.add_argument(
        "--sam-checkpoint",
        type=Path,
        help="a Segment Anything checkpoint (sam_vit_*.pth) to offer as a second assistant",
    )
    parser.add_argument(
        "--sam-model-type",
        choices=("vit_b", "vit_l", "vit_h"),
        help="its model type (default: read from the file)",
    )


def _add_training(sub: argparse._SubParsersAction) -> None:
    """The ``train encoder``, ``train head`` and ``finetune`` commands."""
    train = sub.add_parser(
        "train",
        help="train the stroke-completion model on simulated galaxies (encoder, then head)",
        description="Train the stroke-completion model on simulated galaxies: first "
        "'galseg train encoder', then 'galseg train head' on that encoder. An interrupted run "
        "continues from OUT's resume file when run again with the same settings.",
    )
    parts = train.add_subparsers(title="parts", metavar="PART")
    encoder = parts.add_parser(
        "encoder",
        help="pretrain the encoder on morphology questions",
        description="Pretrain an encoder to answer morphology questions (bar, tidal features "
        "and their kind, inclination, bulge, companions) about simulated galaxies.",
    )
    encoder.add_argument("--out", required=True, type=Path, help="checkpoint (.safetensors)")
    encoder.add_argument("--arch", default="resnet10t", help="timm model (default resnet10t)")
    _add_run_options(encoder, n=1500, size=256, steps=1200, batch=8, lr=2e-3, seed=0)
    encoder.set_defaults(run=_train_encoder)

    head = parts.add_parser(
        "head",
        help="train the completion head on simulated strokes",
        description="Train the completion head (and fine-tune the encoder) on simulated "
        "cutouts with truth masks, playing simulated experts' strokes.",
    )
    head.add_argument(
        "--encoder",
        required=True,
        type=Path,
        help="encoder: a galseg checkpoint, or a folder in timm's layout (e.g. a Zoobot encoder)",
    )
    head.add_argument("--out", required=True, type=Path, help="checkpoint to write (.safetensors)")
    head.add_argument("--rounds", type=_positive_int, default=3, help="most head runs per episode")
    _add_sky_residuals_option(head, default=False)
    _add_run_options(head, n=1500, size=256, steps=2400, batch=8, lr=1e-3, seed=500_000)
    head.set_defaults(run=_train_head)

    automatic = parts.add_parser(
        "automatic",
        help="calibrate automatic mode's per-class rules",
        description="Choose automatic mode's per-class thresholds, least piece sizes and piece "
        "shapes on simulated cutouts never trained on, half of them featureless: the rules of "
        "best IoU that together put a feature on at most 5%% of the featureless cutouts. They "
        "are recorded in the checkpoint's model card (the weights are untouched).",
    )
    automatic.add_argument("--checkpoint", required=True, type=Path, help="checkpoint to calibrate")
    automatic.add_argument(
        "--n", type=_positive_int, default=96, help="cutouts with features, as many without (96)"
    )
    automatic.add_argument("--seed", type=int, default=900_000, help="first seed (900000)")
    _add_sky_residuals_option(automatic, default=True)
    automatic.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    automatic.set_defaults(run=_train_automatic)

    finetune = sub.add_parser(
        "finetune",
        help="retrain a checkpoint on the masks in a store",
        description="Retrain a checkpoint on the experts' masks in a mask store and report the "
        "score (mean IoU after simulated strokes) on held-back cutouts before and after.",
    )
    finetune.add_argument("--store", required=True, type=Path, help="mask store")
    finetune.add_argument(
        "--from", dest="start", required=True, type=Path, metavar="CKPT", help="checkpoint"
    )
    finetune.add_argument("--out", required=True, type=Path, help="fine-tuned checkpoint to write")
    finetune.add_argument("--annotator", help="only this annotator's masks")
    finetune.add_argument(
        "--holdout", type=float, default=0.2, help="fraction of cutouts held back (default 0.2)"
    )
    finetune.add_argument(
        "--strokes", type=_positive_int, default=3, help="strokes per class in the score"
    )
    finetune.add_argument(
        "--force",
        action="store_true",
        help="overwrite OUT if it exists, and write it even if it scores no better than CKPT",
    )
    _add_run_options(finetune, steps=300, batch=4, lr=3e-4, seed=0)
    finetune.set_defaults(run=_finetune)


def _add_sky_residuals_option(parser: argparse.ArgumentParser, *, default: bool) -> None:
    parser.add_argument(
        "--sky-residuals",
        action=argparse.BooleanOptionalAction,
        default=default,
        help="simulate skies with a smooth residual, cirrus-like fluctuations and correlated "
        f"noise, as real cutouts have (default: {'on' if default else 'off'})",
    )


def _add_run_options(parser: argparse.ArgumentParser, **defaults: float) -> None:
    """Options shared by the training commands, with this command's defaults."""
    options = {
        "n": (_positive_int, "simulated cutouts"),
        "size": (_positive_int, "side of the simulated cutouts in pixels"),
        "steps": (_positive_int, "optimisation steps"),
        "batch": (_positive_int, "examples per step"),
        "lr": (float, "peak learning rate"),
        "seed": (int, "seed of the data, weights and strokes"),
    }
    for name, default in defaults.items():
        kind, what = options[name]
        help_text = f"{what} (default {default})"
        parser.add_argument(f"--{name}", type=kind, default=default, help=help_text)
    parser.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    parser.add_argument(
        "--no-resume", dest="resume", action="store_false", help="ignore OUT's resume file"
    )


def _add_bench(sub: argparse._SubParsersAction) -> None:
    """The ``bench completion`` command."""
    bench = sub.add_parser(
        "bench",
        help="benchmark the stroke-completion model",
        description="Benchmarks of the stroke-completion model.",
    )
    parts = bench.add_subparsers(title="benchmarks", metavar="BENCHMARK")
    completion = parts.add_parser(
        "completion",
        help="galseg vs the strokes alone and random_walker on two families of held-out cases",
        description="Play a simulated expert's strokes (lines, dabs, clicks) on held-out cases "
        "of two families, galseg's own simulator and an independent generator, and print, on "
        "the same strokes, the mean IoU after 1, 2, 3 and 5 strokes and NoC@80 of galseg, the "
        "strokes alone and scikit-image's random_walker against the visible truth; automatic "
        "mode's IoU and false positives; locality of completions on real images; set_image and "
        "complete latency next to Segment Anything ViT-B (random weights); and the targets, "
        "with whether each holds.",
    )
    completion.add_argument(
        "--checkpoint", type=Path, help="galseg checkpoint (default: the shipped one)"
    )
    completion.add_argument(
        "--n", type=_positive_int, default=12, help="cutouts per class (default 12)"
    )
    completion.add_argument(
        "--seed", type=int, default=None, help="first simulator seed (default: the held-out start)"
    )
    completion.add_argument(
        "--independent-seed", type=int, default=0, help="the independent family's seed (default 0)"
    )
    completion.add_argument(
        "--families",
        type=_names("own", "independent"),
        default=("own", "independent"),
        help="comma-separated case families (default own,independent)",
    )
    completion.add_argument(
        "--styles",
        type=_names("line", "dabs", "clicks"),
        default=("line", "dabs", "clicks"),
        help="comma-separated stroke styles (default line,dabs,clicks)",
    )
    completion.add_argument(
        "--locality",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stroke sky, bright sources and diffuse light on real images (default on)",
    )
    completion.add_argument(
        "--size", type=_positive_int, default=256, help="cutout side in pixels (default 256)"
    )
    completion.add_argument(
        "--sam",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="time Segment Anything ViT-B (needs segment-anything; default on)",
    )
    completion.add_argument(
        "--driver",
        default="galseg",
        choices=("galseg", "strokes alone", "random_walker"),
        help="the method whose errors place each next stroke (default galseg)",
    )
    completion.add_argument(
        "--record",
        action="store_true",
        help="also record the results in the checkpoint's model card, under "
        "benchmark.DRIVER (the weights are untouched)",
    )
    completion.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    completion.set_defaults(run=_bench_completion)


def _model():
    """The galseg.model package, or a one-line error if its dependencies are missing."""
    try:
        from . import model
    except ImportError as exc:
        raise GalsegError(
            f"the model needs its optional dependencies ({exc}): pip install 'galseg[model]'"
        ) from None
    return model


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _names(*allowed: str):
    """An argparse type: a comma-separated, non-empty selection of ``allowed``."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(name.strip() for name in text.split(",") if name.strip())
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"{text!r}: choose among {', '.join(allowed)} (comma-separated)"
            )
        return names

    return parse


# ------------------------------------------------------------------- commands
def _info(args: argparse.Namespace) -> int:
    from .queue import find_cutouts
    from .store import MaskStore, is_mask_store

    paths = [Path(path) for path in args.paths]
    stores = [path for path in paths if is_mask_store(path)]
    files = [path for path in paths if path not in stores]
    items = find_cutouts(files) if files else []
    if files and not items:
        raise GalsegError(f"no FITS cutouts found in {', '.join(map(str, files))}")
    descriptions, status = [], 0
    for item in items:
        try:
            descriptions.append(_describe_cutout(item.read()))
        except GalsegError as exc:
            print(f"galseg: error: {exc}", file=sys.stderr)
            status = 1
    descriptions += [_describe_store(MaskStore.open(path, mode="r")) for path in stores]
    print("\n\n".join(descriptions))
    return status


def _describe_cutout(cutout) -> str:
    from .stretch import sky_noise

    ny, nx = cutout.image_shape
    lines = [
        f"source:      {cutout.source}",
        f"bands:       {', '.join(cutout.bands)}",
        f"shape:       {len(cutout.bands)} x {ny} x {nx} (band, y, x)",
        f"survey:      {cutout.survey or 'unknown'}",
        "pixel scale: "
        + (f"{cutout.pixel_scale:.4f} arcsec/px" if cutout.pixel_scale else "unknown"),
    ]
    centre = cutout.sky_coord_centre()
    lines.append(
        f"centre:      RA {centre[0]:.6f}  Dec {centre[1]:+.6f} deg"
        if centre
        else "centre:      no WCS"
    )
    lines.append("band  sky level    noise (1 sigma)  zero point  invalid px")
    for name, image in zip(cutout.bands, cutout.data, strict=True):
        noise = sky_noise(image)
        zp = cutout.zero_points.get(name)
        invalid = int(image.size - cutout.valid[cutout.bands.index(name)].sum())
        lines.append(
            f"{name:<5} {noise.level:<12.4g} {noise.sigma:<16.4g} "
            f"{(f'{zp:.3f}' if zp is not None else '-'):<11} {invalid}"
        )
    lines.append(f"content hash: {cutout.content_hash}")
    return "\n".join(lines)


def _describe_store(store) -> str:
    ids = store.ids()
    lines = [
        f"store:       {store.path}",
        f"cutouts:     {len(ids)}",
        "classes:     " + ", ".join(f"{c.value}={c.name}" for c in store.taxonomy),
    ]
    per_annotator: dict[str, int] = {}
    revisions = 0
    class_pixels = dict.fromkeys(store.taxonomy.values, 0)
    flagged: dict[str, int] = {}
    for cutout_id in ids:
        history = store.history(cutout_id)
        revisions += len(history)
        for who, rev in store.latest_by_annotator(cutout_id).items():
            per_annotator[who] = per_annotator.get(who, 0) + 1
            mask = store.load_mask(cutout_id, revision=rev.revision)
            values, counts = np.unique(mask, return_counts=True)
            for value, count in zip(values.tolist(), counts.tolist(), strict=True):
                class_pixels[value] += count
        for flag, who in store.flags(cutout_id).items():
            flagged[flag] = flagged.get(flag, 0) + len(who)
    lines.append(f"revisions:   {revisions}")
    lines.append(
        "annotators:  "
        + (", ".join(f"{who} ({n} cutouts)" for who, n in sorted(per_annotator.items())) or "none")
    )
    lines.append(
        "flags:       " + (", ".join(f"{k} x{n}" for k, n in sorted(flagged.items())) or "none")
    )
    lines.append("labelled pixels per class (latest masks):")
    for cls in store.taxonomy.feature_classes:
        lines.append(f"  {cls.value} {cls.name:<14} {class_pixels[cls.value]}")
    return "\n".join(lines)


def _simulate(args: argparse.Namespace) -> int:
    from .simulate import write_simulated_set

    suffix = {"none": ".fits", "gzip": ".fits.gz", "tile": ".fits.fz"}[args.compression]
    store = write_simulated_set(
        args.out,
        n=args.n,
        survey=args.survey,
        size=args.size,
        seed=args.seed,
        layout=args.layout,
        suffix=suffix,
        progress=True,
    )
    print(f"wrote {args.n} cutouts to {args.out} and their truth masks to {store.path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .export import export_dataset
    from .store import MaskStore
    from .taxonomy import TaxonomyMapping

    store = MaskStore.open(args.store, mode="r")
    mapping = TaxonomyMapping.from_file(args.map, store.taxonomy) if args.map else None
    table = export_dataset(
        store,
        args.out,
        annotator=args.annotator,
        fits_masks=args.fits,
        pixels=args.pixels,
        zip=args.zip,
        mapping=mapping,
        moc=args.moc,
        progress=True,
    )
    revisions = int((table["revision"] > 0).sum())
    finals = int((table["final"] & (table["revision"] > 0)).sum())
    print(
        f"exported {revisions} mask revisions ({finals} final masks) of "
        f"{len(set(table['id']))} cutouts to {args.out}"
    )
    return 0


def _import(args: argparse.Namespace) -> int:
    from .merge import import_dataset

    report = import_dataset(args.dataset, args.into, cutouts=args.cutouts, progress=True)
    print(report.summary(args.into))
    return 0


def _transfer(args: argparse.Namespace) -> int:
    from .store import MaskStore
    from .transfer import transfer_masks

    report = transfer_masks(
        MaskStore.open(args.source, mode="r"),
        args.onto,
        args.out,
        threshold=args.threshold,
        progress=True,
    )
    print(report.summary(args.out))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .batch import predict

    report = predict(
        args.inputs,
        args.out,
        checkpoint=args.checkpoint,
        scheduler=args.scheduler,
        workers=args.workers,
        batch_size=args.batch_size,
        device=args.device,
        threads=args.threads,
        embeddings=args.embeddings,
        report=args.report,
        progress=True,
        say=print,
    )
    print(report.summary())
    for failure in report.failures[:10]:
        print(f"  failed: {failure.input}: {failure.reason}")
    if len(report.failures) > 10:
        print(f"  ... and {len(report.failures) - 10} more in the report")
    return 1 if report.total and report.counts["failed"] == report.total else 0


def _rank(args: argparse.Namespace) -> int:
    from .rank import rank_cutouts, write_queue

    store = args.store or args.out.with_name(f"{args.out.stem}-predicted.zarr")
    ranked = rank_cutouts(
        args.inputs,
        store,
        by=args.by,
        checkpoint=args.checkpoint,
        scheduler=args.scheduler,
        workers=args.workers,
        progress=True,
    )
    write_queue(args.out, ranked)
    print(f"{len(ranked)} cutouts ranked by {args.by} into {args.out}; first: {ranked[0].source}")
    return 0


def _agreement(args: argparse.Namespace) -> int:
    from .agreement import measure_agreement, plot_agreement

    report = measure_agreement(args.store, truth=args.truth)
    print(report.text())
    if args.json:
        report.write_json(args.json)
        print(f"report: {args.json}")
    if args.plots:
        for path in plot_agreement(report, args.plots):
            print(f"plot: {path}")
    return 0


def _consensus(args: argparse.Namespace) -> int:
    from .agreement import write_consensus

    written = write_consensus(args.store, args.out, progress=True)
    print(f"{written} consensus masks (annotator 'consensus') written to {args.out}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from .check import check_store

    report = check_store(args.store, repair=args.repair)
    for problem in report.problems:
        print(f"  {problem}")
    for leftover in report.leftovers:
        done = "removed" if leftover in report.removed else "leftover of an interrupted write"
        print(f"  {leftover}: {done}")
    print(f"{report.store}: {report.summary()}")
    return 0 if report.ok else 1


def _train_encoder(args: argparse.Namespace) -> int:
    report = _model().train_encoder(
        args.out, architecture=args.arch, **_run_options(args, "n", "size")
    )
    print(_describe_training(report))
    return 0


def _train_head(args: argparse.Namespace) -> int:
    report = _model().train_head(
        args.out,
        args.encoder,
        rounds=args.rounds,
        sky_residuals=args.sky_residuals,
        **_run_options(args, "n", "size"),
    )
    print(_describe_training(report))
    return 0


def _train_automatic(args: argparse.Namespace) -> int:
    calibration = _model().calibrate_automatic(
        args.checkpoint,
        n=args.n,
        seed=args.seed,
        sky_residuals=args.sky_residuals,
        device=args.device,
        record={"command": args.command_line},
        progress=True,
    )
    rule = calibration.rule
    for kind, threshold in rule.thresholds.items():
        ratio = rule.max_axis_ratio.get(kind)
        shape = "any shape" if ratio is None else f"axis ratio <= {ratio:.1f}"
        iou = calibration.iou.get(kind)
        score = "no calibration cutout has it" if iou is None else f"IoU {iou:.3f}"
        print(
            f"{kind:<14} threshold {threshold:.2f}  least piece {rule.min_pixels.get(kind, 0):>4} "
            f"pixels  {shape:<18} {score}"
        )
    share = 100 * calibration.false_positives
    print(
        f"featureless cutouts with a feature {share:.1f}%; "
        f"recorded in {_model().card_path(args.checkpoint)}"
    )
    return 0


def _finetune(args: argparse.Namespace) -> int:
    report = _model().finetune(
        args.store,
        args.start,
        args.out,
        annotator=args.annotator,
        holdout=args.holdout,
        strokes=args.strokes,
        force=args.force,
        **_run_options(args),
    )
    print(_describe_training(report.training))
    print(
        f"trained on {report.n_train} examples; held back {report.n_held_back}: mean IoU after "
        f"{report.strokes} strokes ({report.n_scored} classes) "
        f"{report.score_before:.3f} -> {report.score_after:.3f}"
    )
    if report.written:
        better = "better" if report.improved else "no better, written as --force asks"
        print(f"wrote {args.out} ({better} than {args.start.name})")
        return 0
    print(
        f"kept {args.start}: the retrained model scored no better, so {args.out} was not "
        "written (--force writes it anyway)"
    )
    return 1


def _bench_completion(args: argparse.Namespace) -> int:
    model = _model()
    seed = model.HELD_OUT_SEEDS if args.seed is None else args.seed
    from galseg.model._bench import report

    result = model.benchmark_completion(
        args.checkpoint,
        n=args.n,
        seed=seed,
        independent_seed=args.independent_seed,
        families=args.families,
        styles=args.styles,
        size=args.size,
        driver=args.driver,
        locality=args.locality,
        sam=args.sam,
        device=args.device,
        progress=True,
    )
    print(report(result))
    if args.record:
        path = Path(result.settings["checkpoint"])
        recorded = dict(model.read_checkpoint(path).card.get("benchmark", {}))
        recorded[args.driver] = {"command": args.command_line, **result.card_entry()}
        model.record_in_card(path, "benchmark", recorded)
        print(f"recorded in {model.card_path(path)} under benchmark.{args.driver}")
    return 0


def _run_options(args: argparse.Namespace, *more: str) -> dict:
    """The training keywords :func:`_add_run_options` declared (and ``more`` of them),
    with a progress bar and the command line recorded in the model card."""
    names = ("steps", "batch", "lr", "seed", "device", "resume", *more)
    return {
        **{name: getattr(args, name) for name in names},
        "progress": True,
        "record": {"command": args.command_line},
    }


def _describe_training(report) -> str:
    resumed = f", resumed at step {report.resumed_at}" if report.resumed_at else ""
    return (
        f"wrote {report.checkpoint}: {report.steps} steps{resumed} in {report.seconds:.0f} s "
        f"({report.seconds_per_step:.3f} s/step), loss {report.loss_start:.4f} -> "
        f"{report.loss_end:.4f}"
    )


def _annotate(args: argparse.Namespace) -> int:
    return _open_annotator(annotation_paths(args.paths, args.order), args.store, args)


def annotation_paths(paths: Sequence[str | Path], order: Path | None) -> list[Path]:
    """What ``galseg annotate`` opens: a queue's files in its order, then ``paths``."""
    from .rank import read_queue

    ordered = [*(read_queue(order) if order else []), *map(Path, paths)]
    if not ordered:
        raise GalsegError("galseg annotate needs cutouts: PATH... or --order QUEUE.csv")
    return ordered


def _demo(args: argparse.Namespace) -> int:
    import tempfile

    from .samples import sample_dir

    _import_plugin()
    _require_display()
    store = args.store or Path(tempfile.mkdtemp(prefix="galseg-demo-")) / "masks.zarr"
    print(f"galseg demo: masks are saved in {store}")
    return _open_annotator([sample_dir()], store, args)


def _open_annotator(paths: Sequence[str | Path], store: Path, args: argparse.Namespace) -> int:
    from .taxonomy import read_taxonomy

    taxonomy = read_taxonomy(args.taxonomy) if args.taxonomy else None
    napari, launch = _import_plugin()
    for checkpoint in (args.checkpoint, args.sam_checkpoint):
        if checkpoint is not None and not checkpoint.is_file():
            raise GalsegError(f"{checkpoint}: no such checkpoint file")
    _require_display()

    widget = launch(
        paths,
        store,
        args.annotator,
        ask_annotator=True,
        assist=args.assist,
        checkpoint=args.checkpoint,
        sam_checkpoint=args.sam_checkpoint,
        sam_model_type=args.sam_model_type,
        taxonomy=taxonomy,
        calibration=getattr(args, "calibration", 0),
    )
    if widget.session.calibration is not None:
        truth = widget.session.calibration.truth_path
        print(
            f"galseg annotate: {args.calibration} calibration cutouts are in the queue; "
            f"measure everyone on them with: galseg agreement {store} --truth {truth}"
        )
    napari.run()
    widget.close_session()
    return 0


def _import_plugin():
    """napari and the annotator's ``launch``, or one line saying what to install."""
    try:
        import napari

        from napari_galseg import launch
    except ImportError as exc:
        missing = exc.name or "napari_galseg"
        raise GalsegError(
            f"the annotator needs the napari plugin and a Qt binding ({missing} is missing): "
            "pip install 'napari-galseg[all]' (in a galseg clone: pip install -e './plugins[all]')"
        ) from None
    return napari, launch


def _require_display() -> None:
    """Refuse, in one line, to start Qt where there is no screen (Qt would abort)."""
    if sys.platform not in ("win32", "darwin") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise GalsegError(
            "no display: the annotator needs a desktop session (or Xvfb; set DISPLAY)"
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
