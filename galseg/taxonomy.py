"""The feature classes galseg masks are made of: one definition, used everywhere.

A mask is a ``uint8`` label image; each label value is one :class:`FeatureClass`
with a name and a display colour. Value 0 is always "unlabelled". A mask store
records the taxonomy it was made with, so a store built with a custom taxonomy
opens with that taxonomy.

Examples
--------
>>> from galseg.taxonomy import DEFAULT_TAXONOMY
>>> DEFAULT_TAXONOMY["shell"].value
2
>>> DEFAULT_TAXONOMY[4].name
'bar'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
import json
import os
from pathlib import Path
import re
from types import MappingProxyType
from typing import Any

import numpy as np

from .errors import MaskError, TaxonomyError

__all__ = [
    "FeatureClass",
    "Taxonomy",
    "TaxonomyMapping",
    "DEFAULT_TAXONOMY",
    "MATLAS_TAXONOMY",
    "TAXONOMIES",
    "get_taxonomy",
    "read_taxonomy",
]

_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class FeatureClass:
    """One class of the taxonomy.

    Parameters
    ----------
    value : int
        Label value in a mask (0-255; 0 means unlabelled).
    name : str
        Short machine-friendly name, e.g. ``"tidal_stream"``.
    colour : str
        Display colour as ``"#rrggbb"``.
    description : str
        One line for people: what belongs in this class.
    """

    value: int
    name: str
    colour: str
    description: str = ""

    def __post_init__(self) -> None:
        if not 0 <= int(self.value) <= 255:
            raise TaxonomyError(f"class {self.name!r}: label value {self.value} is not in 0-255")
        if not _HEX_COLOUR.match(self.colour):
            raise TaxonomyError(
                f"class {self.name!r}: colour {self.colour!r} is not of the form '#rrggbb'"
            )

    @property
    def rgba(self) -> tuple[float, float, float, float]:
        """The colour as an RGBA tuple of floats in [0, 1] (alpha 1)."""
        rgb = tuple(int(self.colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
        return (*rgb, 1.0)  # type: ignore[return-value]


class Taxonomy(Sequence[FeatureClass]):
    """An ordered set of feature classes, indexable by position, value or name.

    Parameters
    ----------
    classes : sequence of FeatureClass
        The classes. Exactly one must have value 0 (unlabelled); values and
        names must be unique.
    """

    def __init__(self, classes: Sequence[FeatureClass]) -> None:
        classes = tuple(sorted(classes, key=lambda c: c.value))
        values = [c.value for c in classes]
        names = [c.name for c in classes]
        if len(set(values)) != len(values):
            raise TaxonomyError(f"taxonomy has duplicate label values: {values}")
        if len(set(names)) != len(names):
            raise TaxonomyError(f"taxonomy has duplicate class names: {names}")
        if not classes or classes[0].value != 0:
            raise TaxonomyError("taxonomy needs a class with value 0 (unlabelled)")
        self._classes = classes
        self._by_value = {c.value: c for c in classes}
        self._by_name = {c.name: c for c in classes}

    def __len__(self) -> int:
        return len(self._classes)

    def __iter__(self) -> Iterator[FeatureClass]:
        return iter(self._classes)

    def __getitem__(self, key: int | str) -> FeatureClass:  # type: ignore[override]
        """Look a class up by label value (int) or name (str)."""
        try:
            if isinstance(key, str):
                return self._by_name[key]
            return self._by_value[int(key)]
        except KeyError:
            known = ", ".join(f"{c.value}={c.name}" for c in self._classes)
            raise TaxonomyError(f"unknown class {key!r}; the taxonomy has {known}") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Taxonomy) and self._classes == other._classes

    def __hash__(self) -> int:
        return hash(self._classes)

    def __repr__(self) -> str:
        return "Taxonomy(" + ", ".join(f"{c.value}={c.name}" for c in self._classes) + ")"

    @property
    def values(self) -> tuple[int, ...]:
        """Label values, ascending (0 first)."""
        return tuple(self._by_value)

    @property
    def feature_classes(self) -> tuple[FeatureClass, ...]:
        """All classes except 0 (unlabelled)."""
        return self._classes[1:]

    def colours(self) -> dict[int, tuple[float, float, float, float]]:
        """Map label value to RGBA colour; value 0 is fully transparent."""
        colours = {c.value: c.rgba for c in self._classes}
        colours[0] = (0.0, 0.0, 0.0, 0.0)
        return colours

    def validate_mask(self, mask: np.ndarray, *, where: str = "mask") -> None:
        """Raise :class:`MaskError` if ``mask`` holds a label outside the taxonomy.

        Parameters
        ----------
        mask : ndarray of int
            Label image.
        where : str
            Names the mask in the error message (e.g. the cutout id).
        """
        present = np.unique(mask)
        unknown = sorted(set(present.tolist()) - set(self.values))
        if unknown:
            raise MaskError(
                f"{where}: labels {unknown} are not in the taxonomy "
                f"(known values: {list(self.values)})"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description, as stored in a mask store."""
        return {
            "classes": [
                {"value": c.value, "name": c.name, "colour": c.colour, "description": c.description}
                for c in self._classes
            ]
        }

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Taxonomy:
        """Build a taxonomy from :meth:`to_dict` output.

        Raises
        ------
        TaxonomyError
            If the description is malformed.
        """
        try:
            entries = spec["classes"]
            classes = [
                FeatureClass(
                    value=int(e["value"]),
                    name=str(e["name"]),
                    colour=str(e["colour"]),
                    description=str(e.get("description", "")),
                )
                for e in entries
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise TaxonomyError(f"malformed taxonomy description: {exc!r}") from None
        return cls(classes)


DEFAULT_TAXONOMY = Taxonomy(
    [
        FeatureClass(0, "unlabelled", "#000000", "No feature painted here."),
        FeatureClass(1, "tidal_stream", "#30c5ff", "Narrow stellar stream along an orbit."),
        FeatureClass(2, "shell", "#ffb000", "Concentric arc with a sharp outer edge."),
        FeatureClass(3, "tidal_tail", "#ff4fd8", "Tidal tail or diffuse plume."),
        FeatureClass(4, "bar", "#7dff5c", "Stellar bar across the galaxy centre."),
        FeatureClass(5, "contaminant", "#ff3b30", "Star, artefact or other object to mask out."),
    ]
)
"""The galseg classes: 0 unlabelled, 1 tidal stream, 2 shell, 3 tidal tail /
plume, 4 bar, 5 contaminant."""

MATLAS_TAXONOMY = Taxonomy(
    [
        FeatureClass(0, "unlabelled", "#000000", "No feature painted here."),
        FeatureClass(1, "stream", "#30c5ff", "Narrow stellar stream along an orbit."),
        FeatureClass(2, "shell", "#ffb000", "Concentric arc with a sharp outer edge."),
        FeatureClass(3, "tail", "#ff4fd8", "Tidal tail drawn out of the host."),
        FeatureClass(4, "plume", "#b36bff", "Diffuse plume without a clear tail shape."),
        FeatureClass(5, "bridge", "#00d1a0", "Bridge of light joining two galaxies."),
        FeatureClass(6, "diffuse_halo", "#ffe66b", "Diffuse stellar halo around the host."),
        FeatureClass(7, "cirrus", "#8fa3b8", "Galactic cirrus (dust in the Milky Way)."),
        FeatureClass(8, "ghost_reflection", "#ff8a5c", "Ghost reflection of a bright star."),
        FeatureClass(9, "contaminant", "#ff3b30", "Star, artefact or other object to mask out."),
    ]
)
"""A taxonomy like that of the MATLAS survey's Jafar annotation tool: streams,
shells, tails, plumes, bridges, diffuse halo, cirrus, ghost reflections and
contaminants."""

TAXONOMIES: Mapping[str, Taxonomy] = MappingProxyType(
    {"galseg": DEFAULT_TAXONOMY, "matlas": MATLAS_TAXONOMY}
)
"""Taxonomy presets by name: ``galseg`` (the default) and ``matlas``."""


def get_taxonomy(spec: str | Taxonomy | Mapping[str, Any]) -> Taxonomy:
    """A taxonomy from a preset name, a :meth:`Taxonomy.to_dict` description, or itself.

    Examples
    --------
    >>> [c.name for c in get_taxonomy("matlas").feature_classes][:3]
    ['stream', 'shell', 'tail']
    """
    if isinstance(spec, Taxonomy):
        return spec
    if isinstance(spec, str):
        try:
            return TAXONOMIES[spec]
        except KeyError:
            raise TaxonomyError(
                f"unknown taxonomy preset {spec!r}; presets are {', '.join(TAXONOMIES)}"
            ) from None
    return Taxonomy.from_dict(spec)


def read_taxonomy(spec: str | os.PathLike) -> Taxonomy:
    """A taxonomy preset by name, or one read from a JSON file of :meth:`Taxonomy.to_dict`'s form.

    This is what ``galseg annotate --taxonomy`` takes. Errors name the file.

    Raises
    ------
    TaxonomyError
        If ``spec`` is neither a preset nor a readable file of classes.

    Examples
    --------
    >>> read_taxonomy("matlas") is MATLAS_TAXONOMY
    True
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "rings.json"
    >>> _ = path.write_text('{"classes": [{"value": 0, "name": "unlabelled", "colour": "#000000"},'
    ...                     ' {"value": 1, "name": "ring", "colour": "#ff0000"}]}')
    >>> read_taxonomy(path)
    Taxonomy(0=unlabelled, 1=ring)
    """
    if isinstance(spec, str) and spec in TAXONOMIES:
        return TAXONOMIES[spec]
    if not Path(spec).is_file():
        raise TaxonomyError(
            f"{spec}: neither a taxonomy preset ({', '.join(TAXONOMIES)}) nor a file of classes"
        )
    description = _read_json(spec, "taxonomy")
    try:
        return Taxonomy.from_dict(description)
    except TaxonomyError as exc:
        raise TaxonomyError(f"{spec}: {exc}") from None


def _read_json(path: str | os.PathLike, what: str) -> Any:
    """The JSON in ``path``; a :class:`TaxonomyError` naming the file if it cannot be read."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise TaxonomyError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    except ValueError as exc:
        raise TaxonomyError(f"{path}: the {what} is not JSON ({exc})") from None


@dataclass(frozen=True)
class TaxonomyMapping:
    """How one group's classes translate into another's, every class accounted for.

    Parameters
    ----------
    source, target : Taxonomy
        The classes masks are in, and the classes they are written in.
    classes : mapping of str to str
        Source class name -> target class name, for every source class but
        ``unlabelled`` (a class mapped to the target's value-0 class is dropped
        on purpose).

    Raises
    ------
    TaxonomyError
        If a source class is left unmapped, or a name is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> mapping = TaxonomyMapping.from_dict(
    ...     {"taxonomy": "matlas", "classes": {"tidal_stream": "stream", "shell": "shell",
    ...      "tidal_tail": "tail", "bar": "unlabelled", "contaminant": "contaminant"}},
    ...     DEFAULT_TAXONOMY)
    >>> mapping.apply(np.array([[0, 1, 2, 3, 4, 5]], np.uint8)).tolist()
    [[0, 1, 2, 3, 0, 9]]
    """

    source: Taxonomy
    target: Taxonomy
    classes: Mapping[str, str]

    def __post_init__(self) -> None:
        source_names = [c.name for c in self.source if c.value != 0]
        unmapped = [name for name in source_names if name not in self.classes]
        if unmapped:
            raise TaxonomyError(
                f"the mapping leaves {', '.join(unmapped)} unmapped; map every class "
                "(to 'unlabelled' to drop one)"
            )
        for name, target in self.classes.items():
            source_value, target_value = self.source[name].value, self.target[target].value
            if source_value == 0 and target_value != 0:
                raise TaxonomyError(f"the mapping sends {name!r} (unlabelled) to {target!r}")

    @property
    def lookup(self) -> np.ndarray:
        """A 256-entry table: source label value -> target label value."""
        table = np.zeros(256, np.uint8)
        for name, target in self.classes.items():
            table[self.source[name].value] = self.target[target].value
        return table

    def apply(self, mask: np.ndarray) -> np.ndarray:
        """The mask in the target's classes."""
        return self.lookup[np.asarray(mask, dtype=np.uint8)]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form :meth:`from_dict` reads, with the target taxonomy in full."""
        return {"taxonomy": self.target.to_dict(), "classes": dict(self.classes)}

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], source: Taxonomy) -> TaxonomyMapping:
        """Read ``{"taxonomy": <preset name or description>, "classes": {source: target}}``."""
        try:
            target, classes = get_taxonomy(spec["taxonomy"]), dict(spec["classes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise TaxonomyError(
                "a mapping needs 'taxonomy' (a preset name or classes) and 'classes' "
                f"(source name -> target name): {exc!r}"
            ) from None
        return cls(source, target, classes)

    @classmethod
    def from_file(cls, path: str | os.PathLike, source: Taxonomy) -> TaxonomyMapping:
        """Read a mapping from a JSON file; errors name the file."""
        spec = _read_json(path, "mapping")
        try:
            return cls.from_dict(spec, source)
        except TaxonomyError as exc:
            raise TaxonomyError(f"{path}: {exc}") from None
