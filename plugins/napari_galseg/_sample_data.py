"""The bundled sample cutouts as napari sample data."""

from __future__ import annotations

from galseg.samples import load_samples

from ._layers import cutout_layers, mask_layer


def sample_cutouts() -> list[tuple]:
    """Layers for the bundled samples: each cutout's layers and its truth mask.

    Only the first sample is shown; the others are in the layer list, hidden.
    """
    layers: list[tuple] = []
    for i, sample in enumerate(load_samples()):
        for data, kwargs, kind in cutout_layers(sample.cutout):
            kwargs["visible"] = kwargs.get("visible", True) and i == 0
            layers.append((data, kwargs, kind))
        name = f"{sample.cutout.name} [truth]"
        layers.append(mask_layer(sample.truth, name, opacity=0.4, visible=i == 0))
    return layers
