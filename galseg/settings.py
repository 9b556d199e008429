"""User settings remembered between runs of the annotator.

The settings are a small JSON file, ``settings.json``, in the user's
configuration folder: ``$GALSEG_CONFIG_DIR`` if set, else the platform's
(``platformdirs.user_config_dir("galseg")``, when platformdirs is installed),
else ``~/.config/galseg``. Loading never fails: a missing file gives the
defaults, and a corrupt one the defaults and a warning that names it.

Examples
--------
>>> import os, tempfile
>>> os.environ["GALSEG_CONFIG_DIR"] = tempfile.mkdtemp()
>>> load_settings()  # doctest: +NORMALIZE_WHITESPACE
Settings(annotator=None, stretch='lsb', softening=1.0, show_bands=False, smoothing='none',
         retrain_every=20)
>>> save_settings(Settings(annotator="ada", stretch="asinh"))
>>> load_settings().annotator
'ada'
>>> del os.environ["GALSEG_CONFIG_DIR"]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
import json
import os
from pathlib import Path
from typing import Any
import warnings

from ._atomic import write_file
from .errors import GalsegError
from .smoothing import SMOOTHINGS
from .store import check_name
from .stretch import PRESETS

__all__ = ["Settings", "load_settings", "save_settings", "settings_path"]

CONFIG_DIR_VARIABLE = "GALSEG_CONFIG_DIR"
"""Environment variable naming the folder of the settings file."""


@dataclass(frozen=True)
class Settings:
    """What the annotator remembers between runs.

    Attributes
    ----------
    annotator : str or None
        The annotator's name, as recorded with their masks.
    stretch : str
        The last stretch preset (one of :data:`galseg.stretch.PRESETS`).
    softening : float
        The last softening factor of that preset (see :func:`galseg.stretch.preset`).
    show_bands : bool
        Whether the per-band image layers are shown (else only the colour
        composite).
    smoothing : str
        The display smoothing (one of :data:`galseg.smoothing.SMOOTHINGS`).
    retrain_every : int
        After masks of this many new cutouts, the annotator offers to retrain
        the model on them and re-rank the queue (0: never).
    """

    annotator: str | None = None
    stretch: str = "lsb"
    softening: float = 1.0
    show_bands: bool = False
    smoothing: str = "none"
    retrain_every: int = 20


def settings_path() -> Path:
    """The settings file (which may not exist yet)."""
    folder = os.environ.get(CONFIG_DIR_VARIABLE)
    if not folder:
        try:
            from platformdirs import user_config_dir
        except ImportError:
            folder = str(Path.home() / ".config" / "galseg")
        else:
            folder = user_config_dir("galseg")
    return Path(folder) / "settings.json"


def load_settings() -> Settings:
    """The saved settings, or the defaults.

    A setting missing from the file takes its default; an unreadable file, or
    a setting of the wrong kind, gives the default with a warning that names
    the file. Unknown keys are ignored.
    """
    path = settings_path()
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        warnings.warn(f"{path}: cannot read the settings, using the defaults ({exc})", stacklevel=2)
        return Settings()
    if not isinstance(saved, dict):
        warnings.warn(
            f"{path}: not a settings file (no JSON object), using the defaults", stacklevel=2
        )
        return Settings()
    values: dict[str, Any] = {}
    for field in fields(Settings):
        if field.name in saved:
            value = saved[field.name]
            if _VALID[field.name](value):
                values[field.name] = value
            else:
                warnings.warn(
                    f"{path}: ignoring the setting {field.name}={value!r} (not valid)", stacklevel=2
                )
    return Settings(**values)


def save_settings(settings: Settings) -> None:
    """Write the settings, atomically (a crash leaves the old file or the new one).

    Raises
    ------
    GalsegError
        If the file cannot be written; the message names it.
    """
    path = settings_path()
    try:
        write_file(path, (json.dumps(asdict(settings), indent=2) + "\n").encode())
    except OSError as exc:
        raise GalsegError(f"{path}: cannot save the settings ({exc.strerror or exc})") from None


def _is_name(value: Any) -> bool:
    try:
        check_name(value, "annotator", "settings")
    except GalsegError:
        return False
    return True


_VALID: dict[str, Callable[[Any], bool]] = {
    "annotator": lambda value: value is None or _is_name(value),
    "stretch": lambda value: value in PRESETS,
    "softening": lambda value: (
        isinstance(value, int | float) and not isinstance(value, bool) and 0.1 <= value <= 10.0
    ),
    "show_bands": lambda value: isinstance(value, bool),
    "smoothing": lambda value: value in SMOOTHINGS,
    "retrain_every": lambda value: (
        isinstance(value, int) and not isinstance(value, bool) and value >= 0
    ),
}
"""Whether a value read from the file is acceptable, by setting."""
