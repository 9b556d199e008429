"""The headless annotation session that the napari annotator is a view of.

:class:`AnnotationSession` owns an expert's work on a queue of cutouts: the
open cutout and its mask, undo, autosave, assist mode's strokes, previews
and accepts, flags, retraining, the next most informative cutout and calibration with
known truth. It needs no GUI: scripts and tests drive
it directly, and ``napari_galseg`` draws it.
"""

from ._calibration import Calibration, Feedback, Hint, Skill, calibration_folder
from ._events import Event, Inbox
from ._history import Edit, History
from ._models import assistants, limit_model_threads
from ._process import ModelProcess
from ._queue import AnnotationQueue, OpenedCutout
from ._session import AnnotationSession, RetrainRun, Revision, keep_unsaved, retrain_output

__all__ = [
    "AnnotationQueue",
    "AnnotationSession",
    "Calibration",
    "Edit",
    "Event",
    "Feedback",
    "Hint",
    "History",
    "Inbox",
    "ModelProcess",
    "OpenedCutout",
    "RetrainRun",
    "Revision",
    "Skill",
    "assistants",
    "calibration_folder",
    "keep_unsaved",
    "limit_model_threads",
    "retrain_output",
]
