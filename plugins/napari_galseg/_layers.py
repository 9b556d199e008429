"""Cutouts and masks as napari layer data."""

from __future__ import annotations

from typing import Any

from napari.utils.colormaps import DirectLabelColormap
import numpy as np

from galseg import Cutout
from galseg.stretch import normalize, rgb_planes
from galseg.taxonomy import DEFAULT_TAXONOMY, Taxonomy

# Additive colours for single bands, bluest to reddest.
_BAND_COLOURMAPS = ("blue", "green", "red", "magenta", "cyan", "yellow")


def cutout_layers(cutout: Cutout, stretch: str = "lsb") -> list[tuple]:
    """napari layer data tuples for one cutout, in pixel units (as the annotator's).

    Parameters
    ----------
    cutout : Cutout
        The cutout.
    stretch : str
        A :func:`galseg.stretch.preset` name; the default ``"lsb"`` brings out
        faint tidal features.

    Returns
    -------
    list of (data, kwargs, "image")
        The colour composite (shown) and one additive layer per band (hidden).
    """
    name = cutout.name
    common = {
        "metadata": {"galseg_content_hash": cutout.content_hash, "galseg_source": cutout.source}
    }
    planes = normalize(cutout, stretch)
    layers: list[tuple] = [
        (
            np.moveaxis(rgb_planes(planes), 0, -1),
            {
                "name": f"{name} [{stretch} colour]",
                "rgb": True,
                "contrast_limits": (0, 1),
                **common,
            },
            "image",
        )
    ]
    for i, (band, plane) in enumerate(zip(cutout.bands, planes, strict=True)):
        colourmap = band_colourmap(i, len(cutout.bands))
        layers.append(
            (
                plane,
                {
                    "name": f"{name} [{band}]",
                    "colormap": colourmap,
                    "blending": "additive",
                    "contrast_limits": (0, 1),
                    "visible": False,
                    **common,
                },
                "image",
            )
        )
    return layers


def mask_layer(
    mask: np.ndarray, name: str, taxonomy: Taxonomy = DEFAULT_TAXONOMY, **kwargs: Any
) -> tuple:
    """A napari Labels layer data tuple drawn in the taxonomy's colours."""
    colours: dict[int | None, Any] = dict(taxonomy.colours())
    colours[None] = (0.0, 0.0, 0.0, 0.0)  # values outside the taxonomy stay invisible
    return (
        mask,
        {"name": name, "colormap": DirectLabelColormap(color_dict=colours), **kwargs},
        "labels",
    )


def band_colourmap(index: int, n_bands: int) -> str:
    """Additive colour map of band ``index`` of ``n_bands`` (bluest band first)."""
    if n_bands == 1:
        return "gray"
    return _BAND_COLOURMAPS[min(index, len(_BAND_COLOURMAPS) - 1)]
