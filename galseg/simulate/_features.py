"""Low-surface-brightness tidal features: streams, shells and tails.

Each function draws one feature around the host centre and renders it,
unconvolved and with an arbitrary amplitude: the scene scales it afterwards so
that its PSF-convolved peak has the drawn surface brightness. Every feature
reaches out to a drawn *extent* of 0.3–0.48 of the field side from the centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from ._profiles import deposit, rotate

__all__ = ["Feature", "draw_shells", "draw_stream", "draw_tail"]

#: Feature extent, as a fraction of the field side, measured from the centre.
EXTENT = (0.3, 0.48)


@dataclass(frozen=True)
class Feature:
    """An unconvolved, unscaled feature image, its colour and how many pieces it has."""

    image: np.ndarray
    colour: float  # g - r
    count: int = 1  # pieces: shells in a shell system, tails in a pair


def draw_stream(rng: np.random.Generator, size: int, x0: float, y0: float) -> Feature:
    """A stellar stream: a stretch of a rosette orbit seen in projection.

    The orbit ``r = 1 / (1 + e cos κθ)`` (1 < κ < 2, as in an extended halo)
    lies in a randomly oriented plane; the stream covers 90°–330° of it around
    an apocentre. Its light per unit length fades along it and its width grows,
    as a stream's do away from its progenitor.
    """
    e, kappa = rng.uniform(0.25, 0.7), rng.uniform(1.2, 1.7)
    span = np.radians(rng.uniform(90.0, 330.0))
    start = np.pi / kappa - span * rng.uniform(0.3, 0.7)
    theta = np.linspace(start, start + span, 4000)
    r = 1.0 / (1.0 + e * np.cos(kappa * theta))
    phase = theta + rng.uniform(0.0, 2 * np.pi)
    tilt, node = np.arccos(rng.uniform(-1.0, 1.0)), rng.uniform(0.0, 2 * np.pi)
    px, py = r * np.cos(phase), r * np.sin(phase) * np.cos(tilt)
    x = px * np.cos(node) - py * np.sin(node)
    y = px * np.sin(node) + py * np.cos(node)
    scale = rng.uniform(*EXTENT) * size / np.hypot(x, y).max()
    x, y = x * scale, y * scale

    step = np.hypot(np.diff(x), np.diff(y))
    step = np.concatenate([step[:1], step])
    t = np.cumsum(step) - step[0]
    t /= t[-1]
    if rng.random() < 0.5:
        t = 1.0 - t
    ripple = 1.0 + rng.uniform(0.0, 0.35) * np.sin(
        2 * np.pi * rng.uniform(1.5, 4.0) * t + rng.uniform(0.0, 2 * np.pi)
    )
    taper = _smoothstep(t / 0.05) * _smoothstep((1.0 - t) / 0.1)
    density = np.exp(-rng.uniform(0.7, 2.5) * t) * ripple * taper * step
    width = rng.uniform(0.005, 0.012) * size * (1.0 + rng.uniform(0.0, 1.5) * t)

    # Blur with a few widths; each point's light goes to its two nearest.
    levels = width.min() * np.geomspace(1.0, max(width.max() / width.min(), 1.01), 4)
    position = np.interp(np.log(width), np.log(levels), np.arange(len(levels)))
    image = np.zeros((size, size))
    for k, sigma in enumerate(levels):
        share = np.clip(1.0 - np.abs(position - k), 0.0, None)
        points = deposit(image.shape, x0 + x, y0 + y, density * share)
        image += gaussian_filter(points, sigma, mode="constant")
    return Feature(image, rng.uniform(0.45, 0.75))


def draw_shells(rng: np.random.Generator, size: int, x0: float, y0: float) -> Feature:
    """A shell system: concentric arcs with sharp outer edges.

    Two to six shells alternate sides along the merger axis, outer ones
    fainter. Each is an arc of about 70°–140° whose light falls off inwards
    from an edge that only the PSF softens (the projection of a thin
    spherical cap).
    """
    count = int(rng.integers(2, 7))
    extent = rng.uniform(*EXTENT) * size
    inner = rng.uniform(0.14, 0.22) * size
    radii = np.geomspace(inner, extent, count) * rng.uniform(0.93, 1.07, count)
    radii[-1] = extent
    radii = np.sort(np.minimum(radii, extent))
    axis, flattening, fade = rng.uniform(0, 2 * np.pi), rng.uniform(0.75, 1), rng.uniform(0.3, 1.2)
    u, v = rotate(*_offsets(size, x0, y0), axis)
    radius = np.hypot(u, v / flattening)
    angle = np.arctan2(v, u)
    image = np.zeros((size, size))
    for k, r_shell in enumerate(radii):
        side = np.pi * (k % 2) + rng.normal(0.0, 0.15)
        half_opening = np.radians(rng.uniform(35.0, 70.0))
        taper = 1.0 / (1.0 + (_wrap(angle - side) / half_opening) ** 6)
        depth = r_shell - radius
        inside = np.exp(-np.clip(depth, 0, None) / (rng.uniform(0.06, 0.15) * r_shell))
        profile = np.where(depth >= 0, inside, np.exp(-0.5 * (depth / 0.7) ** 2))
        image += (r_shell / inner) ** -fade * taper * profile
    return Feature(image, rng.uniform(0.6, 0.85), count)


def draw_tail(rng: np.random.Generator, size: int, x0: float, y0: float) -> Feature:
    """A tidal tail or plume: a broad, curved fan fading outward.

    It grows in beyond the bright disc and fades exponentially to a soft end at
    its extent; one in three has a fainter counter-tail on the other side.
    """
    extent = rng.uniform(*EXTENT) * size
    start = rng.uniform(0.08, 0.14) * size
    fade_length = extent * rng.uniform(0.45, 0.9)
    x, y = _offsets(size, x0, y0)
    r, angle = np.hypot(x, y), np.arctan2(y, x)
    radial = np.exp(-r / fade_length - (r / extent) ** 8) * (1 - np.exp(-((r / start) ** 3)))
    direction = rng.uniform(0.0, 2 * np.pi)
    tails = [(direction, 1.0)]
    if rng.random() < 1 / 3:
        tails.append((direction + np.pi + rng.uniform(-0.5, 0.5), rng.uniform(0.3, 0.8)))
    image = np.zeros((size, size))
    for direction, weight in tails:
        curl, spread = rng.uniform(-1.2, 1.2), rng.uniform(0.1, 0.35)
        lumps = 1.0 + rng.uniform(0.0, 0.3) * np.sin(
            r / (rng.uniform(0.03, 0.08) * size) + rng.uniform(0.0, 2 * np.pi)
        )
        offset = _wrap(angle - direction - curl * r / extent)
        image += weight * radial * lumps * np.exp(-0.5 * (offset / spread) ** 2)
    return Feature(image, rng.uniform(0.35, 0.65), len(tails))


def _offsets(size: int, x0: float, y0: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel offsets from ``(x0, y0)``: a row of x and a column of y."""
    axis = np.arange(size, dtype=float)
    return axis[None, :] - x0, axis[:, None] - y0


def _wrap(angle: np.ndarray) -> np.ndarray:
    """Angles wrapped into [-π, π)."""
    return (angle + np.pi) % (2 * np.pi) - np.pi


def _smoothstep(z: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth cubic in between."""
    z = np.clip(z, 0.0, 1.0)
    return z * z * (3 - 2 * z)
