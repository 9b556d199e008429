"""Which cutout to paint next: ranking a catalogue for annotation.

Active learning asks the expert for the masks that would teach the model
most. :func:`rank_cutouts` runs automatic mode over the inputs with
:func:`galseg.batch.predict` (on Dask, keeping each cutout's embedding and
automatic mode's uncertainty in a mask store, and reusing those already
there) and orders the cutouts:

- ``uncertainty``: most uncertain first
  (:func:`galseg.model._assistant.uncertainty`: the share of pixels in doubt);
- ``diversity``: core-set selection, greedily the cutout farthest in the
  encoder's embedding space from those already painted or picked;
- ``similar:CUTOUT``: nearest first to a cutout the expert points at, as in
  Zoobot's similarity search.

:func:`write_queue` writes the order as a CSV (``rank,score,source``) that
``galseg annotate --order`` follows (:func:`read_queue`).

In the annotator, :class:`QueueScores` holds the same uncertainty and
embeddings for the cutouts of the expert's queue, as the session scores
them, and picks the next most informative cutout, or the one most like the
cutout on screen.
"""

from __future__ import annotations

from collections.abc import Collection
import csv
from dataclasses import dataclass
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import GalsegError
from .store import MaskStore

__all__ = [
    "RANKINGS",
    "QueueScores",
    "Ranked",
    "core_set_order",
    "rank_cutouts",
    "read_queue",
    "similarity_order",
    "write_queue",
]

RANKINGS = ("uncertainty", "diversity", "similar:CUTOUT")
"""What :func:`rank_cutouts` can order by."""

_SEPARATOR = ";"
"""Between the files of a per-band cutout in a queue's ``source`` column."""


@dataclass(frozen=True)
class Ranked:
    """One cutout's place in a ranking.

    Attributes
    ----------
    rank : int
        1 for the cutout to paint first.
    score : float
        Uncertainty, distance to the picked set, or similarity (higher first).
    source : str
        The cutout's file(s) as ``galseg annotate`` takes them (per-band files
        joined by ``;``).
    cutout_id : str
    """

    rank: int
    score: float
    source: str
    cutout_id: str


def rank_cutouts(
    inputs: list[str | os.PathLike[str]],
    store: str | os.PathLike[str],
    *,
    by: str = "uncertainty",
    checkpoint: str | os.PathLike[str] | None = None,
    progress: bool = False,
    **predict_options: Any,
) -> list[Ranked]:
    """Rank the cutouts of ``inputs`` for annotation, most informative first.

    Parameters
    ----------
    inputs : list of path-like
        FITS files, folders, globs or catalogue tables
        (:func:`galseg.batch.find_inputs`).
    store : path-like
        Mask store for automatic mode's masks, uncertainty and embeddings
        (created if missing; what it holds already is reused). Cutouts with
        masks painted by people in it seed the diversity ranking.
    by : str
        ``"uncertainty"``, ``"diversity"`` or ``"similar:PATH"``.
    checkpoint : path-like, optional
        The model; the shipped one by default.
    progress : bool
        Show progress.
    **predict_options
        Passed to :func:`galseg.batch.predict` (``client``, ``scheduler``,
        ``workers``, ``batch_size``, ``device``, ``threads``).

    Returns
    -------
    list of Ranked

    Raises
    ------
    GalsegError
        On an unknown ranking, no usable input, or a store input.
    """
    from .batch import PREDICTOR, find_inputs, predict
    from .model import SHIPPED_CHECKPOINT, read_checkpoint

    query = by.split(":", 1)[1] if by.startswith("similar:") else None
    if by not in ("uncertainty", "diversity") and query is None:
        raise GalsegError(f"unknown ranking {by!r}; use one of {', '.join(RANKINGS)}")
    found = find_inputs([*inputs, *([query] if query else [])])
    if any(item.store_path is not None for item in found.items):
        raise GalsegError("rank takes FITS files, folders, globs and catalogues, not mask stores")
    predict(
        [*inputs, *([query] if query else [])],
        store,
        checkpoint=checkpoint,
        embeddings=True,
        progress=progress,
        **predict_options,
    )
    model = read_checkpoint(checkpoint or SHIPPED_CHECKPOINT).identity[:16]
    masks = MaskStore.open(store, mode="r")
    by_sources = {tuple(p.resolve() for p in masks.source_paths(cid)): cid for cid in masks.ids()}
    chosen: dict[str, str] = {}  # cutout id -> source, in input order
    for item in found.items:
        cutout_id = by_sources.get(tuple(p.resolve() for p in item.sources))
        if cutout_id is not None and masks.has_embedding(cutout_id, model):
            chosen.setdefault(cutout_id, _SEPARATOR.join(str(p) for p in item.sources))
    query_id = None
    if query is not None:
        query_ids = _ids_of(find_inputs([query]), by_sources)
        if len(query_ids) != 1:
            raise GalsegError(f"{query}: similar: needs one readable cutout")
        query_id = query_ids.pop()
        chosen.pop(query_id, None)  # not like itself
    if not chosen:
        raise GalsegError(f"no cutout of {', '.join(map(str, inputs))} could be ranked")
    ids = list(chosen)
    if by == "uncertainty":
        scores = [
            float(masks.latest(cid, PREDICTOR).metadata.get("uncertainty", np.nan)) for cid in ids
        ]
        order = sorted(range(len(ids)), key=lambda i: -np.nan_to_num(scores[i], nan=-1.0))
        picked = [(i, scores[i]) for i in order]
    else:
        vectors = _unit(np.stack([masks.load_embedding(cid, model) for cid in ids]))
        if query_id is not None:
            picked = similarity_order(vectors, masks.load_embedding(query_id, model))
        else:
            painted = [
                _unit(masks.load_embedding(cid, model)[None])[0]
                for cid in masks.ids()
                if cid not in chosen
                and masks.has_embedding(cid, model)
                and any(r.provenance != "predicted" for r in masks.history(cid))
            ]
            picked = core_set_order(vectors, np.array(painted).reshape(-1, vectors.shape[1]))
    return [
        Ranked(rank, score, chosen[ids[i]], ids[i]) for rank, (i, score) in enumerate(picked, 1)
    ]


def similarity_order(vectors: np.ndarray, query: np.ndarray) -> list[tuple[int, float]]:
    """Candidates nearest first to ``query`` in embedding space, by cosine similarity.

    Parameters
    ----------
    vectors : ndarray, shape (n, d)
        The candidates' embeddings.
    query : ndarray, shape (d,)
        The embedding of the cutout the expert points at.

    Returns
    -------
    list of (int, float)
        Candidate index and its cosine similarity to ``query``, highest first
        (ties in candidate order).

    Examples
    --------
    >>> import numpy as np
    >>> points = np.array([[0.0, 1.0], [1.0, 0.1], [1.0, 1.0]])
    >>> [(i, round(s, 3)) for i, s in similarity_order(points, np.array([1.0, 0.0]))]
    [(1, 0.995), (2, 0.707), (0, 0.0)]
    """
    similarity = (
        _unit(np.asarray(vectors, dtype=np.float64))
        @ _unit(np.asarray(query, dtype=np.float64)[None])[0]
    )
    return [(int(i), float(similarity[i])) for i in np.argsort(-similarity, kind="stable")]


class QueueScores:
    """Automatic mode's uncertainty and embedding of each cutout of a queue, as scored.

    The annotation session fills it in the model's thread, one cutout at a
    time (:meth:`add`), and asks it which cutout to open next.

    Parameters
    ----------
    size : int
        Number of cutouts in the queue.

    Examples
    --------
    >>> import numpy as np
    >>> scores = QueueScores(4)
    >>> for index, (doubt, vector) in enumerate([(0.1, [1, 0]), (0.5, [0, 1]),
    ...                                         (0.3, [1, 0.2]), (0.2, [0.1, 1])]):
    ...     scores.add(index, doubt, np.array(vector, float))
    >>> scores.complete, scores.most_informative(skip={1})
    (True, 2)
    >>> scores.most_like(1, skip=set()), scores.most_like(0, skip={2})
    (3, 3)
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.uncertainty: dict[int, float] = {}
        self.embedding: dict[int, np.ndarray] = {}
        self.unreadable: set[int] = set()

    def __repr__(self) -> str:
        return f"<QueueScores {self.n_scored} of {self.size}>"

    def add(self, index: int, uncertainty: float | None, embedding: np.ndarray | None) -> None:
        """Record cutout ``index``'s scores (None for a cutout that could not be scored)."""
        if uncertainty is None or embedding is None:
            self.unreadable.add(index)
        else:
            self.uncertainty[index] = float(uncertainty)
            self.embedding[index] = np.asarray(embedding, dtype=np.float64)

    @property
    def n_scored(self) -> int:
        """How many cutouts were scored or found unreadable."""
        return len(self.uncertainty) + len(self.unreadable)

    @property
    def complete(self) -> bool:
        """Whether every cutout of the queue was scored (or found unreadable)."""
        return self.n_scored >= self.size

    def missing(self) -> list[int]:
        """The cutouts not scored yet, in queue order."""
        return [
            i for i in range(self.size) if i not in self.uncertainty and i not in self.unreadable
        ]

    def most_informative(self, skip: Collection[int]) -> int | None:
        """The scored cutout of highest uncertainty not in ``skip`` (None if there is none)."""
        left = [i for i in self.uncertainty if i not in skip]
        return max(left, key=lambda i: (self.uncertainty[i], -i)) if left else None

    def most_like(self, index: int, skip: Collection[int]) -> int | None:
        """The scored cutout nearest to cutout ``index`` in embedding space, not in ``skip``.

        None if ``index`` was not scored or no other cutout is left.
        """
        if index not in self.embedding:
            return None
        left = [i for i in self.embedding if i != index and i not in skip]
        if not left:
            return None
        order = similarity_order(np.stack([self.embedding[i] for i in left]), self.embedding[index])
        return left[order[0][0]]


def core_set_order(vectors: np.ndarray, seeds: np.ndarray) -> list[tuple[int, float]]:
    """Greedy core-set (k-centre) order: each pick the vector farthest from those before.

    Parameters
    ----------
    vectors : ndarray, shape (n, d)
        The candidates.
    seeds : ndarray, shape (m, d)
        Vectors already covered (e.g. cutouts painted already); may be empty,
        and then the first pick is the candidate farthest from their mean.

    Returns
    -------
    list of (int, float)
        Candidate index and its distance to the nearest earlier pick or seed.

    Examples
    --------
    >>> import numpy as np
    >>> points = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [0.0, 3.0]])
    >>> [i for i, _ in core_set_order(points, np.zeros((0, 2)))]
    [2, 3, 0, 1]
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    if len(seeds):
        nearest = np.min(np.linalg.norm(vectors[:, None] - seeds[None], axis=2), axis=1)
    else:
        nearest = np.linalg.norm(vectors - vectors.mean(axis=0), axis=1)
    order: list[tuple[int, float]] = []
    left = np.ones(len(vectors), dtype=bool)
    for _ in range(len(vectors)):
        i = int(np.argmax(np.where(left, nearest, -np.inf)))
        order.append((i, float(nearest[i])))
        left[i] = False
        nearest = np.minimum(nearest, np.linalg.norm(vectors - vectors[i], axis=1))
    return order


def write_queue(path: str | os.PathLike[str], ranked: list[Ranked]) -> Path:
    """Write a ranking as the CSV ``rank,score,source`` that ``galseg annotate --order`` follows."""
    path = Path(path)
    try:
        with open(path, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(["rank", "score", "source"])
            for entry in ranked:
                writer.writerow([entry.rank, f"{entry.score:.6g}", entry.source])
    except OSError as exc:
        raise GalsegError(f"{path}: cannot write the queue ({exc.strerror or exc})") from None
    return path


def read_queue(path: str | os.PathLike[str]) -> list[Path]:
    """The files of a queue CSV (:func:`write_queue`), in rank order.

    Relative paths are taken relative to the CSV's folder.

    Raises
    ------
    GalsegError
        If the file is missing or lacks the ``rank`` and ``source`` columns.

    Examples
    --------
    >>> import tempfile
    >>> queue = Path(tempfile.mkdtemp()) / "queue.csv"
    >>> _ = queue.write_text("rank,score,source\\n2,0.1,b.fits\\n1,0.9,a_g.fits;a_r.fits\\n")
    >>> [p.name for p in read_queue(queue)]
    ['a_g.fits', 'a_r.fits', 'b.fits']
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise GalsegError(f"{path}: not a readable queue ({exc})") from None
    if rows and not {"rank", "source"} <= set(rows[0]):
        raise GalsegError(f"{path}: a queue needs the columns rank and source")
    try:
        rows.sort(key=lambda row: int(row["rank"]))
    except (TypeError, ValueError):
        raise GalsegError(f"{path}: a rank is not a whole number") from None
    return [
        path.parent / part
        for row in rows
        for part in (row["source"] or "").split(_SEPARATOR)
        if part
    ]


def _ids_of(inputs: Any, by_sources: dict[tuple[Path, ...], str]) -> set[str]:
    return {
        by_sources[key]
        for item in inputs.items
        if (key := tuple(p.resolve() for p in item.sources)) in by_sources
    }


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)
