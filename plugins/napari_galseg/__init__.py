"""napari-galseg: the napari plugin of galseg.

A thin layer over the :mod:`galseg` core: the annotator dock widget, a reader
for FITS cutouts and the sample data. It imports napari; galseg never imports
it.
"""

from ._annotator import AnnotatorWidget
from ._launch import launch
from ._layers import cutout_layers, mask_layer
from ._reader import get_reader
from ._sample_data import sample_cutouts

__all__ = [
    "AnnotatorWidget",
    "cutout_layers",
    "get_reader",
    "launch",
    "mask_layer",
    "sample_cutouts",
]
