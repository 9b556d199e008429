"""The host galaxy: a Sérsic bulge, an exponential disc with spiral arms, an optional bar.

Sizes are drawn as fractions of the field so that every survey preset shows
the whole galaxy with room around it for tidal features; their values in
arcsec follow from the pixel scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import i0

from ..surveys import Survey
from ._profiles import Profile, broken_exponential, ferrers, rotate, sample, sersic

__all__ = ["Arms", "Bar", "Host", "draw_host", "render_host"]

#: Half-width (pixels) of the central box rendered with sub-pixel sampling,
#: and the sub-pixels per side there (the bulge's cusp).
_CENTRAL_BOX, _CENTRAL_OVERSAMPLE = 6, 5


@dataclass(frozen=True)
class Bar:
    """A Ferrers bar in the disc plane (lengths in pixels, angle in radians)."""

    fraction: float  # bar light / (bulge + disc + bar) light
    length: float  # semi-major axis in the disc plane
    axis_ratio: float  # in the disc plane
    index: float  # Ferrers index n
    boxiness: float  # exponent c of the generalised ellipse (2: ellipse)
    angle: float  # from the disc's major axis, in the disc plane
    colour: float  # g - r


@dataclass(frozen=True)
class Arms:
    """Logarithmic spiral arms modulating the disc (radii in disc scale lengths)."""

    amplitude: float  # 0: no arms, 1: all the disc light beyond `start` is in arms
    count: int
    pitch: float  # pitch angle, radians
    phase: float  # radians
    contrast: float  # von Mises concentration: larger is narrower arms
    start: float  # arms grow in from this radius


@dataclass(frozen=True)
class Host:
    """Parameters of the host galaxy (lengths in pixels, angles in radians)."""

    x: float
    y: float
    position_angle: float
    inclination: float
    axis_ratio: float  # projected disc axis ratio
    disc_scale: float
    disc_break: float  # break radius in scale lengths
    disc_outer: float  # outer / inner scale length
    disc_sb: float  # face-on central surface brightness, reference band
    disc_colour: float
    bulge_to_total: float
    bulge_index: float
    bulge_radius: float
    bulge_axis_ratio: float
    bulge_colour: float
    arms: Arms
    bar: Bar | None


def draw_host(rng: np.random.Generator, size: int, *, barred: bool, early: bool) -> Host:
    """Draw a host galaxy.

    The same random numbers are drawn whatever the flags, so a barred and an
    unbarred host from the same generator state differ only where the flags
    act.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random numbers.
    size : int
        Side of the field in pixels.
    barred : bool
        Give it a bar, and an inclination of at most 60° (where a bar shows)
        instead of 85°.
    early : bool
        Bulge-dominated, as the hosts of shell systems mostly are.
    """
    x, y = (size - 1) / 2.0 + rng.uniform(-1.0, 1.0, size=2)
    max_inclination = np.radians(60.0 if barred else 85.0)
    inclination = float(np.arccos(1.0 - rng.random() * (1.0 - np.cos(max_inclination))))
    thickness, bulge_flattening = rng.uniform(0.1, 0.2), rng.uniform(0.55, 0.9)
    disc_scale = rng.uniform(0.028, 0.05) * size
    bar = Bar(
        fraction=rng.uniform(0.1, 0.3),
        length=rng.uniform(1.2, 2.0) * disc_scale,
        axis_ratio=rng.uniform(0.25, 0.4),
        index=rng.uniform(0.3, 1.0),
        boxiness=rng.uniform(2.0, 3.0),
        angle=rng.uniform(0.0, np.pi),
        colour=rng.uniform(0.6, 0.85),
    )
    amplitude, start = rng.uniform(0.0, 0.7), rng.uniform(0.6, 1.5)
    arms = Arms(
        amplitude=0.0 if early else amplitude,  # early types have no arms
        count=int(rng.choice((2, 2, 3))),
        pitch=np.radians(rng.uniform(10.0, 30.0)),
        phase=rng.uniform(0.0, 2 * np.pi),
        contrast=rng.uniform(1.0, 4.0),
        start=bar.length / disc_scale if barred else start,  # at the bar's ends
    )
    share, index, radius = rng.random(3)
    bulge_to_total = 0.45 + 0.3 * share if early else 0.05 + 0.4 * share
    if barred:
        bulge_to_total = min(bulge_to_total, 0.7 - bar.fraction)
    return Host(
        x=float(x),
        y=float(y),
        position_angle=rng.uniform(0.0, np.pi),
        inclination=inclination,
        axis_ratio=float(np.hypot(np.cos(inclination), thickness * np.sin(inclination))),
        disc_scale=disc_scale,
        disc_break=rng.uniform(2.5, 4.5),
        disc_outer=rng.uniform(0.45, 1.0),
        disc_sb=rng.uniform(20.3, 21.8),
        disc_colour=rng.uniform(0.35, 0.6),
        bulge_to_total=bulge_to_total,
        bulge_index=2.0 + 2.0 * index if early else 1.0 + 2.0 * index,
        bulge_radius=disc_scale * (0.5 + 0.5 * radius if early else 0.2 + 0.3 * radius),
        bulge_axis_ratio=float(
            np.hypot(np.cos(inclination), bulge_flattening * np.sin(inclination))
        ),
        bulge_colour=rng.uniform(0.7, 0.9),
        arms=arms,
        bar=bar if barred else None,
    )


def render_host(host: Host, size: int, survey: Survey) -> dict[str, np.ndarray]:
    """Noiseless, unconvolved images of the bulge, disc and bar.

    Returns
    -------
    dict of str to ndarray
        ``"bulge"``, ``"disc"`` and, if there is a bar, ``"bar"``: pixel values
        in the reference band. The disc has the drawn central surface
        brightness; bulge and bar have the drawn shares of the light in the
        field.
    """
    profiles = {"disc": _disc_profile(host), "bulge": _bulge_profile(host)}
    if host.bar is not None:
        profiles["bar"] = _bar_profile(host, host.bar)
    axis = np.arange(size, dtype=float)
    box = [
        np.arange(max(c - _CENTRAL_BOX, 0), min(c + _CENTRAL_BOX + 1, size))
        for c in (int(round(host.y)), int(round(host.x)))
    ]
    window = tuple(slice(b[0], b[-1] + 1) for b in box)
    images = {}
    for name, profile in profiles.items():
        images[name] = sample(profile, axis - host.x, axis - host.y)
        images[name][window] = sample(
            profile, box[1] - host.x, box[0] - host.y, _CENTRAL_OVERSAMPLE
        )

    # An inclined transparent disc is brighter by 1 / axis ratio.
    images["disc"] *= survey.sb_to_flux(host.disc_sb, survey.reference_band) / host.axis_ratio
    bar_fraction = host.bar.fraction if host.bar is not None else 0.0
    total = images["disc"].sum() / (1.0 - host.bulge_to_total - bar_fraction)
    images["bulge"] *= host.bulge_to_total * total / images["bulge"].sum()
    if host.bar is not None:
        images["bar"] *= bar_fraction * total / images["bar"].sum()
    return images


def _disc_profile(host: Host) -> Profile:
    arms = host.arms

    def profile(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u, v = rotate(x, y, host.position_angle)
        v = v / host.axis_ratio  # deproject into the disc plane
        r = np.hypot(u, v) / host.disc_scale
        disc = broken_exponential(r, host.disc_break, host.disc_outer)
        if arms.amplitude == 0.0:
            return disc
        # exp(k cos ψ) / I0(k) averages to 1 round a circle: arms move light, add none.
        winding = np.log(r + 1e-3) / np.tan(arms.pitch)
        psi = arms.count * (np.arctan2(v, u) - arms.phase - winding)
        pattern = np.exp(arms.contrast * np.cos(psi)) / i0(arms.contrast)
        weight = arms.amplitude * np.clip(r / arms.start - 1.0, 0.0, 1.0)
        return disc * (1.0 - weight + weight * pattern)

    return profile


def _bulge_profile(host: Host) -> Profile:
    def profile(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u, v = rotate(x, y, host.position_angle)
        r = np.hypot(u, v / host.bulge_axis_ratio) / host.bulge_radius
        return sersic(r, host.bulge_index)

    return profile


def _bar_profile(host: Host, bar: Bar) -> Profile:
    c, s = np.cos(bar.angle), np.sin(bar.angle)

    def profile(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u, v = rotate(x, y, host.position_angle)
        v = v / host.axis_ratio  # deproject into the disc plane
        along = (u * c + v * s) / bar.length
        across = (v * c - u * s) / (bar.length * bar.axis_ratio)
        m = (np.abs(along) ** bar.boxiness + np.abs(across) ** bar.boxiness) ** (1 / bar.boxiness)
        return ferrers(m, bar.index)

    return profile
