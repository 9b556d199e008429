"""galseg: segmentation masks of galaxy features on multi-band survey cutouts.

The core library is headless (no Qt, no napari): reading cutouts
(:mod:`galseg.io`), stretches (:mod:`galseg.stretch`), the class taxonomy
(:mod:`galseg.taxonomy`), the Zarr mask store (:mod:`galseg.store`) and the
galaxy simulator with truth masks (:mod:`galseg.simulate`).
"""

from .cutout import Cutout
from .errors import CutoutError, GalsegError, MaskError, StoreError, TaxonomyError
from .io import read_cutout, write_cutout
from .store import MaskStore
from .taxonomy import DEFAULT_TAXONOMY, FeatureClass, Taxonomy

__version__ = "0.1.0"

__all__ = [
    "Cutout",
    "CutoutError",
    "DEFAULT_TAXONOMY",
    "FeatureClass",
    "GalsegError",
    "MaskError",
    "MaskStore",
    "StoreError",
    "Taxonomy",
    "TaxonomyError",
    "read_cutout",
    "write_cutout",
    "__version__",
]
