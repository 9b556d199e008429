"""The bundled sample cutouts as napari sample data."""

from __future__ import annotations

from galseg.samples import load_samples

from ._layers import cutout_layers, mask_layer


def sample_cutouts() -> list[tuple]:
    """Layers for the bundled samples: each cutout's layers and its truth mask."""
    layers: list[tuple] = []
    for i, sample in enumerate(load_samples()):
        cutout_layer_data = cutout_layers(sample.cutout)
        for data, kwargs, kind in cutout_layer_data:
            kwargs["visible"] = kwargs.get("visible", True) and i == 0
            layers.append((data, kwargs, kind))
        layers.append(
            mask_layer(
                sample.truth,
                f"{sample.cutout.name} [truth]",
                opacity=0.4,
                visible=i == 0,
                scale=cutout_layer_data[0][1].get("scale"),
            )
        )
    return layers


def open_samples() -> None:
    """Open a napari window on the sample cutouts and block until it closes."""
    import napari

    viewer = napari.Viewer(title="galseg — sample cutouts")
    viewer.open_sample("napari-galseg", "cutouts")
    napari.run()
