"""Exceptions raised by galseg.

Every error that reaches a user derives from :class:`GalsegError`. Its message
names the file (or store) concerned and says what is wrong with it, so that a
command-line tool or a GUI can show it as one line, without a traceback.
"""

from __future__ import annotations

__all__ = [
    "GalsegError",
    "CutoutError",
    "StoreError",
    "MaskError",
    "TaxonomyError",
]


class GalsegError(Exception):
    """Base class of every error galseg raises on bad input."""


class CutoutError(GalsegError):
    """A cutout cannot be read or written (bad FITS file, bad pixels, bad bands)."""


class StoreError(GalsegError):
    """A mask store cannot be opened, or an operation on it is not allowed."""


class MaskError(GalsegError):
    """A mask does not fit its cutout or the store's taxonomy."""


class TaxonomyError(GalsegError):
    """A taxonomy definition is inconsistent, or a class is unknown."""
