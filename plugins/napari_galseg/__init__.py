"""napari-galseg: the napari plugin of galseg.

A thin layer over the :mod:`galseg` core: it turns cutouts into napari layers
and reads FITS cutouts into the viewer. It imports napari, galseg never imports
it.
"""

from ._layers import cutout_layers
from ._reader import get_reader
from ._sample_data import open_samples, sample_cutouts

__all__ = ["cutout_layers", "get_reader", "open_samples", "sample_cutouts"]
