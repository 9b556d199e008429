"""Catalogue runs: segment (and embed) thousands to millions of cutouts with Dask.

Experts paint hundreds of cutouts; the surveys hold millions. :func:`predict`
(``galseg predict`` on the command line) runs the trained model's automatic
mode over every cutout of a catalogue and writes the masks into a
:class:`~galseg.store.MaskStore`, through Dask's ``distributed`` scheduler: a
``LocalCluster`` on this machine by default, or any running scheduler (a
``dask-jobqueue`` SLURM cluster, Kubernetes, ...) given its address::

    galseg predict "cutouts/*.fits" --out predicted.zarr
    galseg predict catalogue.csv --out predicted.zarr --scheduler tcp://head-node:8786

- **Batches.** Inputs go to the workers in batches of cutouts; every worker
  process loads the model once and segments each batch in one go (on its GPU
  when it has one).
- **Store.** Masks are new revisions by annotator :data:`PREDICTOR` with
  provenance ``predicted``; their metadata hold the checkpoint's name and
  SHA-256 and each class's confidence. The store's atomic, rename-published
  writes let any number of workers write at once. Retraining
  (:meth:`MaskStore.iter_examples`) leaves predictions out.
- **Resumable.** Running the same command again skips every cutout whose
  latest prediction came from the same checkpoint.
- **Fault tolerant.** A batch lost with its worker is run again; an input
  that cannot be read or predicted is listed with the reason in the JSON
  report (:func:`default_report_path`) and never stops the run.
- **Embeddings.** With ``embeddings=True`` each cutout's pooled encoder
  features go into the store too, for similarity search
  (:meth:`MaskStore.embeddings`).

This package needs the optional dependencies ``pip install "galseg[batch]"``
(the model's, plus ``distributed``).
"""

from ._cluster import local_cluster
from ._inputs import (
    CATALOGUE_SUFFIXES,
    NAME_COLUMNS,
    PATH_COLUMNS,
    Inputs,
    Problem,
    find_inputs,
    read_catalogue,
)
from ._predict import PredictReport, default_report_path, predict
from ._worker import PREDICTOR, Job, Outcome, predict_batch

__all__ = [
    "CATALOGUE_SUFFIXES",
    "NAME_COLUMNS",
    "PATH_COLUMNS",
    "PREDICTOR",
    "Inputs",
    "Job",
    "Outcome",
    "PredictReport",
    "Problem",
    "default_report_path",
    "find_inputs",
    "local_cluster",
    "predict",
    "predict_batch",
    "read_catalogue",
]
