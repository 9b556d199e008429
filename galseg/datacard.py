"""The data card of an exported data set, and the checksums that make it trustworthy.

An exported data set (:func:`galseg.export.export_dataset`) carries a card in
two forms: ``dataset.json`` for programs and ``README.md`` for people. It says
which surveys the cutouts come from (pixel scales, bands, surface-brightness
limits measured from the sky noise), how many masks hold each class and what
each annotator did, the taxonomy (and the mapping the masks were written
through), the galseg version, and the SHA-256 of every other file, so that
:func:`verify_checksums` finds a truncated or altered data set before anything
is read from it.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "notes.txt").write_text("shells in NGC 474")
>>> files = checksums(folder)
>>> list(files), files["notes.txt"][:12]
(['notes.txt'], '5a5c3b451153')
>>> _ = (folder / "notes.txt").write_text("streams in NGC 474")
>>> verify_checksums(folder, files)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
galseg.errors.StoreError: ...notes.txt: checksum differs from the data card (altered or truncated)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import StoreError

__all__ = ["CARD_FILE", "README_FILE", "checksums", "verify_checksums", "write_card", "read_card"]

CARD_FILE = "dataset.json"
"""The machine-readable data card, at the top of a data set."""

README_FILE = "README.md"
"""The data card for people, beside it."""

DATASET_FORMAT = 1
"""Version of the data-set layout written by this galseg."""


def checksums(folder: str | os.PathLike) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` but the card, by POSIX relative path, sorted."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CARD_FILE)
    return {p.relative_to(folder).as_posix(): _sha256(p) for p in files}


def verify_checksums(folder: str | os.PathLike, expected: Mapping[str, str]) -> None:
    """Check that ``folder`` holds exactly the files of ``expected``, with those checksums.

    Raises
    ------
    StoreError
        Naming the first file that is missing, altered (or truncated), or not
        in the card.
    """
    folder = Path(folder)
    found = checksums(folder)
    for name, digest in expected.items():
        if name not in found:
            raise StoreError(f"{folder / name}: missing from the data set (truncated?)")
        if found[name] != digest:
            raise StoreError(
                f"{folder / name}: checksum differs from the data card (altered or truncated)"
            )
    extra = sorted(set(found) - set(expected))
    if extra:
        raise StoreError(f"{folder / extra[0]}: not in the data card (added after export?)")


def write_card(folder: Path, card: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``README.md`` and ``dataset.json`` (``card`` plus the checksums); return the latter.

    ``card`` holds ``galseg_version``, ``source_store``, ``pixels``,
    ``revisions`` (how many mask revisions the data set holds), ``taxonomy``,
    ``mapping``, ``cutouts`` (one dict per cutout: ``id``, ``survey``,
    ``pixel_scale``, ``bands``, ``sb_limit``) and ``masks`` (one dict per
    annotator's final mask of a cutout: ``id``, ``annotator``, ``classes`` name
    -> pixels), and with MOCs ``mocs`` (class name -> file in the data set).
    """
    full = {
        "galseg_dataset": DATASET_FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **{k: v for k, v in card.items() if k not in ("cutouts", "masks")},
        "surveys": _surveys(card["cutouts"]),
        "counts": _counts(card["masks"]),
    }
    (folder / README_FILE).write_text(_readme(full), encoding="utf-8")
    full["files"] = checksums(folder)
    (folder / CARD_FILE).write_text(json.dumps(full, indent=1) + "\n", encoding="utf-8")
    return full


def read_card(folder: str | os.PathLike) -> dict[str, Any]:
    """The card of the data set in ``folder``, its checksums verified.

    Raises
    ------
    StoreError
        If there is no readable card, or a file does not match it.
    """
    path = Path(folder) / CARD_FILE
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"{folder}: not a galseg data set (no {CARD_FILE})") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: unreadable data card ({exc})") from None
    if not isinstance(card, dict) or not isinstance(card.get("files"), dict):
        raise StoreError(f"{path}: not a galseg data card (no file checksums)")
    if int(card.get("galseg_dataset", 0)) > DATASET_FORMAT:
        raise StoreError(
            f"{path}: data set format {card['galseg_dataset']} is newer than this galseg"
        )
    verify_checksums(folder, card["files"])
    return card


# --------------------------------------------------------------------- private
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _surveys(cutouts: list[Mapping[str, Any]]) -> dict[str, Any]:
    surveys: dict[str, Any] = {}
    for cutout in cutouts:
        entry = surveys.setdefault(
            cutout["survey"] or "unknown",
            {"cutouts": 0, "pixel_scales": set(), "bands": [], "limits": {}},
        )
        entry["cutouts"] += 1
        if cutout["pixel_scale"]:
            entry["pixel_scales"].add(round(cutout["pixel_scale"], 4))
        entry["bands"] += [b for b in cutout["bands"] if b not in entry["bands"]]
        for band, limit in cutout["sb_limit"].items():
            entry["limits"].setdefault(band, []).append(limit)
    return {
        name: {
            "cutouts": entry["cutouts"],
            "pixel_scales_arcsec": sorted(entry["pixel_scales"]),
            "bands": entry["bands"],
            "sb_limit_3sigma_10arcsec": {
                band: round(float(np.median(values)), 2) for band, values in entry["limits"].items()
            },
        }
        for name, entry in sorted(surveys.items())
    }


def _counts(masks: list[Mapping[str, Any]]) -> dict[str, Any]:
    classes: dict[str, dict[str, int]] = {}
    annotators: dict[str, dict[str, Any]] = {}
    for mask in masks:
        who = annotators.setdefault(
            mask["annotator"], {"masks": 0, "cutouts": set(), "classes": {}}
        )
        who["masks"] += 1
        who["cutouts"].add(mask["id"])
        for name, pixels in mask["classes"].items():
            entry = classes.setdefault(name, {"masks": 0, "pixels": 0})
            entry["masks"] += 1
            entry["pixels"] += int(pixels)
            who["classes"][name] = who["classes"].get(name, 0) + 1
    return {
        "cutouts": len({mask["id"] for mask in masks}),
        "masks": len(masks),
        "classes": dict(sorted(classes.items())),
        "annotators": {
            name: {**entry, "cutouts": len(entry["cutouts"])}
            for name, entry in sorted(annotators.items())
        },
    }


def _readme(card: Mapping[str, Any]) -> str:
    counts = card["counts"]
    lines = [
        "# galseg data set",
        "",
        f"Exported by galseg {card['galseg_version']} on {card['created']} from "
        f"`{card['source_store']}`: {counts['masks']} masks of {counts['cutouts']} cutouts "
        f"(each annotator's final mask, in {card['revisions']} revisions in all), "
        + ("with" if card["pixels"] else "without")
        + " the cutouts' pixels.",
        "",
        "- `masks.zarr/`: a galseg mask store (Zarr v3; plain `zarr` reads it): each "
        "cutout's WCS, bands, pixel scale, content hash and flags, and every revision of its "
        "masks with its annotator, time, provenance and metadata.",
        "- `manifest.ecsv`: one row per mask revision, `final` on each annotator's last "
        "(`astropy.table.Table.read`).",
        f"- `{CARD_FILE}`: this card for programs, with the SHA-256 of every other file.",
        "",
        "Import it into a store with `galseg import DATASET --into STORE`.",
        "",
        "## Surveys",
        "",
        '| survey | cutouts | pixel scale ("/px) | bands | 3σ limit in 10″ boxes '
        "(mag/arcsec², median) |",
        "|---|---|---|---|---|",
    ]
    for name, survey in card["surveys"].items():
        limits = ", ".join(f"{b} {v:.2f}" for b, v in survey["sb_limit_3sigma_10arcsec"].items())
        scales = ", ".join(f"{s:g}" for s in survey["pixel_scales_arcsec"])
        lines.append(
            f"| {name} | {survey['cutouts']} | {scales} | {', '.join(survey['bands'])} | "
            f"{limits or '-'} |"
        )
    lines += ["", "## Classes", "", "Counts of the final masks.", ""]
    lines += ["| value | class | masks | pixels |", "|---|---|---|---|"]
    for cls in card["taxonomy"]["classes"]:
        if cls["value"]:
            entry = counts["classes"].get(cls["name"], {"masks": 0, "pixels": 0})
            lines.append(
                f"| {cls['value']} | {cls['name']} | {entry['masks']} | {entry['pixels']} |"
            )
    if card.get("mapping"):
        pairs = ", ".join(f"{a} → {b}" for a, b in card["mapping"]["classes"].items())
        lines += ["", f"Masks written in these classes through the mapping {pairs}."]
    lines += ["", "## Annotators", "", "| annotator | masks | cutouts | masks per class |"]
    lines.append("|---|---|---|---|")
    for who, entry in counts["annotators"].items():
        per_class = ", ".join(f"{k} {v}" for k, v in sorted(entry["classes"].items()))
        lines.append(f"| {who} | {entry['masks']} | {entry['cutouts']} | {per_class or '-'} |")
    return "\n".join(lines) + "\n"
