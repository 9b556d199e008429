"""Open the annotator: a napari viewer with the widget docked and the queue loaded."""

from __future__ import annotations

from collections.abc import Sequence
import os
from typing import TYPE_CHECKING

from galseg.annotate import AnnotationQueue, AnnotationSession, Calibration, assistants
from galseg.discovery import find_cutouts
from galseg.errors import GalsegError, StoreError
from galseg.settings import load_settings
from galseg.store import MaskStore, check_name
from galseg.taxonomy import DEFAULT_TAXONOMY, Taxonomy

from ._annotator import AnnotatorWidget
from ._main_thread import main_thread_post, wait_in_event_loop
from ._models import import_model
from ._notify import notify_error

if TYPE_CHECKING:
    import napari


def launch(
    paths: Sequence[str | os.PathLike],
    store: str | os.PathLike | MaskStore,
    annotator: str | None = None,
    viewer: napari.Viewer | None = None,
    *,
    ask_annotator: bool = False,
    assist: bool = True,
    checkpoint: str | os.PathLike | None = None,
    sam_checkpoint: str | os.PathLike | None = None,
    sam_model_type: str | None = None,
    taxonomy: Taxonomy | None = None,
    calibration: int = 0,
) -> AnnotatorWidget:
    """Open cutouts for annotation and return the docked :class:`AnnotatorWidget`.

    Parameters
    ----------
    paths : sequence of path-like
        FITS files, folders of them, or galseg stores (see
        :func:`galseg.queue.find_cutouts`).
    store : path-like or MaskStore
        Where the masks are saved (created if missing).
    annotator : str, optional
        Who is painting. Default: the name remembered from the last run.
    viewer : napari.Viewer, optional
        The viewer to use; a new one by default.
    ask_annotator : bool
        With no name given or remembered, ask for it in a dialog (else raise).
    assist : bool
        Complete brush strokes with a model (loaded in the background).
    checkpoint : path-like, optional
        The galseg checkpoint to assist with; default the shipped model.
    sam_checkpoint : path-like, optional
        A Segment Anything checkpoint offered as a second assistant.
    sam_model_type : str, optional
        Its type (``vit_b``, ``vit_l``, ``vit_h``); read from the file by default.
    taxonomy : Taxonomy, optional
        The classes to paint in: a new store is made with them, an existing
        one must have them. Default: the store's own (galseg's for a new one).
    calibration : int
        Mix this many calibration cutouts, whose truth is known and kept out of
        sight, into the queue (:class:`galseg.annotate.Calibration`).

    Returns
    -------
    AnnotatorWidget
        With ``mask_layer``, ``next()``, ``previous()``, ``current_id``,
        ``stroke_finished()``, ``preview_layer``, ``accept()``, ``reject()``
        and ``flush()`` (waits for the cutout, its display and the saves,
        an accepted completion's included).

    Raises
    ------
    GalsegError
        No cutouts found, none readable (the message lists why, and no
        window opens), an unusable store or one with other classes than
        ``taxonomy``, no annotator name or an invalid one, or a checkpoint
        that does not exist.
    """
    from napari.qt import get_qapp

    # each model loads and runs in a process of its own, which imports galseg.model
    # plainly: this one never imports torch while the viewer is up
    models = assistants(checkpoint, sam_checkpoint, sam_model_type) if assist else {}
    settings = load_settings()
    queue_paths = list(paths)
    items = find_cutouts(queue_paths)
    if not items:
        raise GalsegError(f"no FITS cutouts found in {', '.join(map(str, queue_paths))}")
    if annotator is None:
        annotator = settings.annotator
    store_path = store.path if isinstance(store, MaskStore) else store
    if annotator is not None:
        check_name(annotator, "annotator", str(store_path))
    elif not ask_annotator:
        raise GalsegError("no annotator name: give one (galseg annotate --annotator NAME)")
    get_qapp()
    if annotator is None:
        annotator = _ask_annotator()
        if not annotator:
            raise GalsegError("no annotator name given; every mask is saved with one")
    if calibration and taxonomy not in (None, DEFAULT_TAXONOMY):
        raise _calibration_needs_galseg_classes(store_path)
    # Opened (and created) only once the cutouts and the name are known to be good
    if not isinstance(store, MaskStore):
        mask_store = MaskStore.open(store, taxonomy=taxonomy)
    elif taxonomy not in (None, store.taxonomy):  # as MaskStore.open refuses one by path
        raise StoreError(
            f"{store.path}: the store was made with {store.taxonomy!r}, not {taxonomy!r}"
        )
    else:
        mask_store = store
    if calibration and mask_store.taxonomy != DEFAULT_TAXONOMY:
        raise _calibration_needs_galseg_classes(mask_store.path)
    known = Calibration.prepare(mask_store.path, calibration) if calibration else None
    session = AnnotationSession(
        AnnotationQueue(known.mix(items) if known else items, mask_store, annotator),
        calibration=known,
        models=models,
        post=main_thread_post(),
        model_process=True,
        import_model=import_model,
        retrain_every=settings.retrain_every,
    )  # the model starts loading now, while the window opens
    session.open_first_readable(background=True)
    wait_in_event_loop(lambda: not session.opening)  # a viewer given stays live meanwhile
    if session.opened is None:
        session.close()
        raise GalsegError(session.open_error or "no cutout could be read")
    if viewer is None:
        import napari

        viewer = napari.Viewer(title="galseg annotator")
    widget = AnnotatorWidget(viewer, session, settings)
    widget.remember(annotator=annotator)
    for reason in session.unreadable:
        notify_error(reason)
    viewer.window.add_dock_widget(widget, name="galseg annotator", area="right")
    viewer.title = f"galseg annotator — {mask_store.path}"
    widget.wait()  # the first cutout shown, the event loop running meanwhile
    return widget


def _calibration_needs_galseg_classes(store: str | os.PathLike) -> GalsegError:
    return GalsegError(
        f"{store}: calibration cutouts carry galseg's classes, and this store paints in other ones"
    )


def _ask_annotator() -> str | None:
    from qtpy.QtWidgets import QApplication, QInputDialog

    name, ok = QInputDialog.getText(
        QApplication.activeWindow(),
        "galseg",
        "Your name, stored with every mask you save (asked once):",
    )
    return name.strip() if ok and name.strip() else None
