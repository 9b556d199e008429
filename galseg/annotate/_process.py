"""A model in a process of its own, called as if it were here.

An annotator's user interface and its model share one interpreter lock when
they share a process: importing torch (seconds of module code), and the
Python around each forward pass, then hold up every frame. A
:class:`ModelProcess` loads the model in a child process (``spawn``: no Qt, no
OpenGL, none of the parent's threads) and forwards :meth:`set_image`,
:meth:`complete` and :meth:`segment_many` to it through a pipe, so the user
interface's process never imports torch (answers come back as plain
namespaces of arrays and numbers). The calls block the thread that makes them
(a model worker thread), never the user interface's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import dataclasses
import multiprocessing
from multiprocessing.connection import Connection
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..cutout import Cutout
from ..errors import GalsegError
from ._models import limit_model_threads

__all__ = ["ModelProcess", "finetune_in_process"]

CLOSE_TIMEOUT = 2.0
"""Seconds :meth:`ModelProcess.close` waits for the child to end before ending it."""


class ModelProcess:
    """A model loaded and run in a child process.

    The child starts at once; :meth:`wait_loaded` waits for the model to load.
    Calls are forwarded in order and answered one at a time: make them from one
    thread (as :class:`galseg.assist.ModelRunner` does).

    Parameters
    ----------
    load : callable
        Returns the model (e.g. :func:`galseg.model.load_assistant` with its
        arguments bound); pickled to the child, so a module-level function
        or a :func:`functools.partial` of one.
    threads : int, optional
        The model's torch threads in the child (default: one less than the
        CPU cores, at least one, so that a user interface keeps a core).

    Attributes
    ----------
    checkpoint_path : pathlib.Path or None
        The model's checkpoint, once loaded.
    device : str
        Where the model runs, once loaded.
    galseg_checkpoint : pathlib.Path or None
        The checkpoint if the model is galseg's :class:`~galseg.model.Assistant`
        (one that ``galseg finetune`` can start from).

    Examples
    --------
    >>> from functools import partial
    >>> from galseg.model import load_assistant
    >>> model = ModelProcess(partial(load_assistant, device="cpu")).wait_loaded()
    >>> model.checkpoint_path.name, model.device
    ('galseg-assist.safetensors', 'cpu')
    >>> from galseg.simulate import simulate_cutout
    >>> cutout, truth = simulate_cutout(3, size=64)
    >>> model.set_image(cutout)
    >>> model.complete(truth == 5, truth == 0, "contaminant").probability.shape
    (64, 64)
    >>> model.close()
    """

    def __init__(self, load: Callable[[], Any], *, threads: int | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, load, threads), name="galseg-model", daemon=True
        )
        self._process.start()
        child.close()
        self._loaded = False
        self._image: str | None = None  # content hash of the child's current image
        self.checkpoint_path: Path | None = None
        self.galseg_checkpoint: Path | None = None
        self.device = "cpu"

    def __repr__(self) -> str:
        state = "loaded" if self._loaded else "loading"
        return f"<ModelProcess pid {self._process.pid}, {state}>"

    @property
    def current_image(self) -> str | None:
        """Content hash of the cutout the child has encoded last (see :meth:`set_image`)."""
        return self._image

    def wait_loaded(self) -> ModelProcess:
        """Wait for the child to load the model; return ``self``.

        Raises
        ------
        GalsegError
            If the model could not be loaded (the child's message), or the
            child ended.
        """
        if not self._loaded:
            about = self._answer()
            self.checkpoint_path = about["checkpoint_path"]
            self.galseg_checkpoint = about["galseg_checkpoint"]
            self.device = about["device"]
            self._loaded = True
        return self

    def set_image(self, cutout: Cutout) -> None:
        """The model's ``set_image``; the cutout is sent only if the child's image differs."""
        if cutout.content_hash != self._image:
            self._image = None
            self._call("set_image", cutout)
            self._image = cutout.content_hash

    def complete(
        self,
        positive: np.ndarray,
        negative: np.ndarray,
        label: int | str,
        previous: np.ndarray | None = None,
    ) -> Any:
        """The model's ``complete``."""
        return self._call("complete", positive, negative, label, previous)

    def segment_many(self, cutouts: Sequence[Cutout], *, embed: bool = False) -> list[Any]:
        """The model's ``segment_many`` (automatic mode for ranking the queue)."""
        return self._call("segment_many", list(cutouts), embed=embed)

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """End the child: asked to, then made to after ``timeout`` s. Harmless twice."""
        if self._process.is_alive():
            try:
                self._connection.send(None)
            except OSError:  # the pipe is gone: the child is going too
                pass
            self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._connection.close()

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self.wait_loaded()
        try:
            self._connection.send((name, args, kwargs))
        except OSError:
            raise self._ended() from None
        return self._answer()

    def _answer(self) -> Any:
        try:
            status, value = self._connection.recv()
        except (EOFError, OSError):
            raise self._ended() from None
        if status == "error":
            raise GalsegError(value)
        return value

    def _ended(self) -> GalsegError:
        self._process.join(CLOSE_TIMEOUT)
        return GalsegError(f"the model's process ended (exit code {self._process.exitcode})")


def _serve(connection: Connection, load: Callable[[], Any], threads: int | None) -> None:
    """The child: load the model, then answer calls until told to stop or the pipe closes."""
    try:
        model = load()
        limit_model_threads(threads)
        from ..model import Assistant

        path = getattr(model, "checkpoint_path", None)
        about = {
            "checkpoint_path": None if path is None else Path(path),
            "galseg_checkpoint": Path(path) if isinstance(model, Assistant) else None,
            "device": str(getattr(model, "device", "cpu")),
        }
    except Exception as exc:  # reported to the parent, which raises it
        connection.send(("error", _message(exc)))
        return
    connection.send(("ok", about))
    while True:
        try:
            call = connection.recv()
        except (EOFError, OSError, KeyboardInterrupt):  # the parent went away
            return
        if call is None:
            return
        name, args, kwargs = call
        try:
            answer = ("ok", _plain(getattr(model, name)(*args, **kwargs)))
        except Exception as exc:
            answer = ("error", _message(exc))
        try:
            connection.send(answer)
        except OSError:
            return


def finetune_in_process(
    store: str | os.PathLike,
    start: str | os.PathLike,
    out: str | os.PathLike,
    *,
    steps: int,
    holdout: float,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimpleNamespace:
    """``galseg finetune`` in a child process, so that this one never imports torch.

    Parameters
    ----------
    store, start, out : path-like
        The mask store, the checkpoint to start from and the one to write, as
        for :func:`galseg.model.finetune`.
    steps : int
        Optimisation steps.
    holdout : float
        Fraction of cutouts held back to score the model.
    threads : int, optional
        Torch threads in the child (default as for :class:`ModelProcess`).
    progress : callable, optional
        Called here as ``progress(done, total)`` after each step. An exception
        it raises ends the child at once and goes on up (a way to cancel).

    Returns
    -------
    types.SimpleNamespace
        The :class:`~galseg.model.FinetuneReport` as plain values: its fields
        and its ``improved`` and ``checkpoint``.

    Raises
    ------
    GalsegError
        The child's error (e.g. too few masks), or if the child ended.
    """
    context = multiprocessing.get_context("spawn")
    connection, child = context.Pipe()
    process = context.Process(
        target=_finetune,
        args=(child, os.fspath(store), Path(start), Path(out), steps, holdout, threads),
        name="galseg-finetune",
        daemon=True,
    )
    process.start()
    child.close()
    try:
        while True:
            try:
                message = connection.recv()
            except (EOFError, OSError):
                process.join(CLOSE_TIMEOUT)
                raise GalsegError(
                    f"the fine-tuning process ended (exit code {process.exitcode})"
                ) from None
            if message[0] == "progress":
                if progress is not None:
                    progress(*message[1:])
                continue
            status, value = message
            if status == "error":
                raise GalsegError(value)
            return value
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        connection.close()


def _finetune(
    connection: Connection,
    store: str,
    start: Path,
    out: Path,
    steps: int,
    holdout: float,
    threads: int | None,
) -> None:
    """The child of :func:`finetune_in_process`."""
    try:
        from ..model import finetune

        limit_model_threads(threads)
        report = finetune(
            store,
            start,
            out,
            steps=steps,
            holdout=holdout,
            progress=lambda done, total: connection.send(("progress", done, total)),
        )
        plain = _plain(report)  # its fields; then what the parent reads beyond them
        plain.training = _plain(report.training)
        plain.improved, plain.checkpoint = report.improved, report.checkpoint
        answer = ("ok", plain)
    except Exception as exc:
        answer = ("error", _message(exc))
    try:
        connection.send(answer)
    except OSError:  # the parent went away
        pass


def _plain(answer: Any) -> Any:
    """An answer the parent can unpickle without importing the model's code (and torch).

    A dataclass (a :class:`~galseg.model.Completion`, a
    :class:`~galseg.model.Segmentation`) becomes a
    :class:`types.SimpleNamespace` of its fields; a list, a list of those.
    """
    if isinstance(answer, list):
        return [_plain(item) for item in answer]
    if dataclasses.is_dataclass(answer) and not isinstance(answer, type):
        return SimpleNamespace(
            **{f.name: getattr(answer, f.name) for f in dataclasses.fields(answer)}
        )
    return answer


def _message(exc: Exception) -> str:
    return str(exc) if isinstance(exc, GalsegError) else f"{type(exc).__name__}: {exc}"
