"""Fuzzing the FITS reader: hundreds of malformed files made from valid cutouts.

The corpus is generated here, from valid cutouts written in every layout
(extension per band, cube, one file per band; plain, gzipped, tile-compressed):
cut short at random points; bits flipped in headers and data; header keywords
rewritten (BITPIX, NAXISn, EXTEND, a header that claims 10^12 pixels, tile
compression keywords, nonsense WCS, duplicate or missing band names); the gzip
or tile-compressed stream broken; and NaN, Inf and all-zero bands, and a
zero-length file.

Every file must either read or raise a :class:`~galseg.GalsegError` naming it,
within :data:`MAX_SECONDS`, allocating at most :data:`MAX_ALLOCATION` bytes
(four times the cutout's pixels, and astropy's fixed overhead). The same
corpus goes through ``galseg info``, the workers of ``galseg predict`` and the
napari reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
import gzip
from pathlib import Path
import re
import time
import tracemalloc
import warnings

from astropy.wcs import WCS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from galseg import Cutout, GalsegError
from galseg.cli import main
from galseg.io import read_cutout, write_cutout

BANDS = ("g", "r", "z")
SHAPE = (96, 128)
PIXEL_BYTES = len(BANDS) * SHAPE[0] * SHAPE[1] * 4
"""The real pixels of every seed cutout: float32 (band, y, x)."""

MAX_SECONDS = 5.0
MAX_ALLOCATION = 4 * PIXEL_BYTES + 64 * 1024
"""Most memory one read may allocate at its peak (traced by tracemalloc): four
times the pixels, and a fixed 64 KiB for astropy's headers and WCS objects."""

SEEDS = (
    ("mef", ".fits"),
    ("cube", ".fits"),
    ("per-band", ".fits"),
    ("mef", ".fits.gz"),
    ("cube", ".fits.gz"),
    ("per-band", ".fits.gz"),
    ("mef", ".fits.fz"),
    ("cube", ".fits.fz"),
    ("per-band", ".fits.fz"),
)
"""The valid layouts the corpus is made from."""

BLOCK = 2880
CARD = 80

# Keyword rewrites, each applied alone: (keyword, new value as FITS card text)
KEYWORD_REWRITES = [
    ("BITPIX", "7"),
    ("BITPIX", "0"),
    ("BITPIX", "16"),
    ("BITPIX", "-64"),
    ("BITPIX", "'float'"),
    ("NAXIS", "0"),
    ("NAXIS", "1"),
    ("NAXIS", "4"),
    ("NAXIS", "999"),
    ("NAXIS1", "0"),
    ("NAXIS1", "-5"),
    ("NAXIS1", "1000000"),
    ("NAXIS2", "1000000000000"),
    ("NAXIS3", "1000000"),
    ("EXTEND", "F"),
    ("SIMPLE", "F"),
    ("XTENSION", "'TABLE   '"),
    ("PCOUNT", "99999999"),
    ("GCOUNT", "0"),
    ("ZBITPIX", "7"),
    ("ZNAXIS", "5"),
    ("ZNAXIS1", "1000000"),
    ("ZNAXIS2", "1000000"),
    ("ZTILE1", "1"),
    ("ZTILE2", "100000"),
    ("ZCMPTYPE", "'RICE_1  '"),
    ("ZCMPTYPE", "'HCOMPRESS_1'"),
    ("ZCMPTYPE", "'PLIO_1  '"),
    ("ZCMPTYPE", "'NOPE    '"),
    ("TFORM1", "'1QB(99999999)'"),
    ("BSCALE", "0"),
    ("BZERO", "'x'"),
    ("CTYPE1", "'RA---XYZ'"),
    ("CTYPE2", "'GLON-TAN'"),
    ("CDELT1", "0"),
    ("CD1_1", "0"),
    ("CRVAL2", "95.0"),
    ("CRPIX1", "1E+300"),
    ("CUNIT1", "'parsec  '"),
    ("BAND", "'g       '"),
    ("BAND", "''"),
    ("EXTNAME", "'g       '"),
    ("BANDS", "'g,r     '"),
    ("BANDS", "',,      '"),
    ("BAND1", "'r       '"),
]


@dataclass(frozen=True)
class Case:
    """One malformed cutout: its files, the one that was damaged, and how."""

    how: str
    files: tuple[Path, ...]
    damaged: Path


# ------------------------------------------------------------------ generator
def seed_cutout() -> Cutout:
    rng = np.random.default_rng(0)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [41.5, -0.2]
    wcs.wcs.crpix = [SHAPE[1] / 2, SHAPE[0] / 2]
    wcs.wcs.cdelt = [-0.262 / 3600, 0.262 / 3600]
    data = rng.normal(0.0, 1.0, size=(len(BANDS), *SHAPE)).astype(np.float32)
    return Cutout.from_array(data, bands=BANDS, wcs=wcs, zero_points=dict.fromkeys(BANDS, 22.5))


def cards(raw: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, keyword) of every header card of a plain FITS byte string."""
    offset = 0
    while offset + BLOCK <= len(raw):
        end = None
        for start in range(offset, len(raw) - CARD + 1, CARD):
            keyword = raw[start : start + 8].rstrip()
            yield start, keyword
            if keyword == b"END":
                end = start
                break
        if end is None:
            return
        header_end = (end // BLOCK + 1) * BLOCK
        offset = header_end + _data_size(raw[offset:header_end])


def _data_size(header: bytes) -> int:
    """Bytes of data (padded to blocks) that a header announces."""
    values = {}
    for start in range(0, len(header), CARD):
        card = header[start : start + CARD].decode("ascii", "replace")
        if card[8:10] == "= ":
            values[card[:8].strip()] = card[10:].split("/")[0].strip()
    try:
        naxis = int(values.get("NAXIS", 0))
        size = abs(int(values["BITPIX"])) // 8 if naxis else 0
        for axis in range(1, naxis + 1):
            size *= int(values[f"NAXIS{axis}"])
        size += int(values.get("PCOUNT", 0))
    except (KeyError, ValueError):
        return 0
    return -(-size // BLOCK) * BLOCK


def header_spans(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) of each header of a plain FITS byte string."""
    spans, start = [], 0
    for offset, keyword in cards(raw):
        if keyword == b"END":
            spans.append((start, offset + CARD))
            start = (offset // BLOCK + 1) * BLOCK + _data_size(raw[start : offset + CARD])
    return spans


def rewrite(raw: bytes, keyword: str, value: str, occurrence: int) -> bytes | None:
    """``raw`` with the ``occurrence``-th card of ``keyword`` given ``value``; None if absent."""
    found = [offset for offset, key in cards(raw) if key == keyword.encode()]
    if not found:
        return None
    offset = found[occurrence % len(found)]
    card = f"{keyword:<8}= {value:>20}".ljust(CARD)[:CARD].encode()
    return raw[:offset] + card + raw[offset + CARD :]


def flip_bits(raw: bytes, rng: np.random.Generator, start: int, end: int, n: int) -> bytes:
    data = bytearray(raw)
    for position in rng.integers(start, max(start + 1, end), size=n):
        data[position] ^= 1 << int(rng.integers(0, 8))
    return bytes(data)


def write_plain_and_packed(path: Path, fits_bytes: bytes) -> None:
    """Write FITS bytes to ``path``, gzipped if its name says so."""
    path.write_bytes(
        gzip.compress(fits_bytes, mtime=0) if path.name.endswith(".gz") else fits_bytes
    )


def mutations(raw: bytes, rng: np.random.Generator) -> Iterator[tuple[str, bytes]]:
    """Damaged versions of the FITS bytes ``raw`` (uncompressed, or the inside of a .fz)."""
    for _ in range(12):
        cut = int(rng.integers(0, len(raw)))
        yield f"cut at byte {cut}", raw[:cut]
    spans = header_spans(raw)
    for i in range(12):
        start, end = spans[i % len(spans)]
        yield f"header bits flipped ({i})", flip_bits(raw, rng, start, end, n=1 + i % 4)
    for i in range(8):
        yield f"data bits flipped ({i})", flip_bits(raw, rng, spans[-1][1], len(raw), n=1 + 4 * i)
    for keyword, value in KEYWORD_REWRITES:
        occurrence = int(rng.integers(0, 4))
        damaged = rewrite(raw, keyword, value, occurrence)
        if damaged is not None:
            yield f"{keyword} = {value} (card {occurrence})", damaged
    both = rewrite(raw, "NAXIS1", "1000000", -1)
    if both is not None:
        both = rewrite(both, "NAXIS2", "1000000", -1)
        yield "a header claiming 10^12 pixels", both


def corpus(folder: Path) -> list[Case]:
    """Every malformed file, written under ``folder``."""
    cutout = seed_cutout()
    rng = np.random.default_rng(2024)
    cases: list[Case] = []
    for layout, suffix in SEEDS:
        where = folder / f"{layout}{suffix.replace('.', '_')}"
        where.mkdir()
        files = tuple(write_cutout(cutout, where / f"seed{suffix}", layout=layout))
        for index, damaged in enumerate(files):
            if layout == "per-band" and index != int(rng.integers(0, len(files))):
                continue  # damage one file of the set, chosen at random
            packed = damaged.read_bytes()
            raw = gzip.decompress(packed) if suffix.endswith(".gz") else packed
            for number, (how, content) in enumerate(mutations(raw, rng)):
                target = damaged.with_name(f"bad{number:03d}_{damaged.name}")
                write_plain_and_packed(target, content)
                cases.append(Case(f"{layout}{suffix}: {how}", swap(files, damaged, target), target))
            if suffix.endswith(".gz"):  # the gzip stream itself broken
                for number in range(12):
                    target = damaged.with_name(f"gz{number:03d}_{damaged.name}")
                    if number < 6:
                        content = packed[: int(rng.integers(1, len(packed)))]
                    else:
                        content = flip_bits(packed, rng, 10, len(packed), n=number - 5)
                    target.write_bytes(content)
                    cases.append(
                        Case(
                            f"{layout}{suffix}: broken gzip {number}",
                            swap(files, damaged, target),
                            target,
                        )
                    )
    cases += special_files(folder / "special", cutout)
    return cases


def swap(files: tuple[Path, ...], old: Path, new: Path) -> tuple[Path, ...]:
    return tuple(new if path == old else path for path in files)


def special_files(folder: Path, cutout: Cutout) -> list[Case]:
    """NaN, Inf and all-zero bands in every layout, and a zero-length file."""
    folder.mkdir()
    cases = []
    for fill in (np.nan, np.inf, 0.0):
        data = cutout.data.copy()
        data[1] = fill
        bad = Cutout.from_array(data, bands=BANDS, wcs=cutout.wcs)
        for layout, suffix in SEEDS:
            name = f"{fill}_{layout}{suffix}"
            files = tuple(write_cutout(bad, folder / name, layout=layout))
            cases.append(Case(f"{layout}{suffix}: band r all {fill}", files, files[1 % len(files)]))
    empty = folder / "empty.fits"
    empty.touch()
    cases.append(Case("zero-length file", (empty,), empty))
    return cases


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> list[Case]:
    return corpus(tmp_path_factory.mktemp("fuzz"))


# ------------------------------------------------------------------- checking
def source(case: Case) -> Path | tuple[Path, ...]:
    return case.files[0] if len(case.files) == 1 else case.files


def check_read(case: Case) -> tuple[float, int, str]:
    """Read one case; assert it reads or fails naming its file. Returns
    (seconds, peak bytes allocated, outcome)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a broken WCS is a warning, and the read goes on
            cutout = read_cutout(source(case))
        outcome = "read" if cutout.data.size else "empty"
    except GalsegError as exc:
        message = str(exc)
        named = [str(path) for path in case.files]
        assert any(message.startswith(f"{path}: ") for path in named), (case.how, message)
        assert str(case.damaged) in message or "different shapes" in message, (case.how, message)
        outcome = "error"
    finally:
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return seconds, peak, outcome


def test_the_corpus_is_large_and_varied(cases):
    assert len(cases) >= 500
    kinds = {re.sub(r"\(.*|\d+", "", case.how.split(": ")[-1]).strip() for case in cases}
    assert len(kinds) > 30
    damage = (
        "cut at byte",
        "header bits flipped",
        "data bits flipped",
        "BITPIX = ",
        "NAXIS = ",
        "NAXIS1 = ",
        "EXTEND = F",
        "a header claiming 10^12 pixels",
        "broken gzip",
        "ZCMPTYPE = ",
        "all nan",
        "all inf",
        "CTYPE",
        "BAND = ''",
        "zero-length file",
    )
    for what in damage:  # every kind of damage the corpus is meant to hold
        assert any(what in case.how for case in cases), what


def test_every_malformed_file_reads_or_fails_naming_it_quickly_and_within_memory(cases):
    slowest, outcomes = (0.0, ""), {"read": 0, "error": 0}
    for case in cases:
        seconds, peak, outcome = check_read(case)
        outcomes[outcome] += 1
        assert seconds < MAX_SECONDS, (case.how, seconds)
        assert peak <= MAX_ALLOCATION, (case.how, peak / PIXEL_BYTES)
        slowest = max(slowest, (seconds, case.how))
    print(
        f"\n{len(cases)} malformed files: {outcomes['read']} read, {outcomes['error']} refused; "
        f"slowest read {slowest[0] * 1000:.0f} ms ({slowest[1]})"
    )
    assert outcomes["error"] > len(cases) // 2


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.sampled_from(SEEDS),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 7)), max_size=6),
)
def test_any_cut_and_bit_flips_read_or_fail_naming_the_file(tmp_path_factory, seed, cut, flips):
    layout, suffix = seed
    folder = tmp_path_factory.mktemp("hypothesis")
    files = write_cutout(seed_cutout(), folder / f"c{suffix}", layout=layout)
    damaged = files[-1]
    data = bytearray(damaged.read_bytes())
    for where, bit in flips:
        data[min(int(where * len(data)), len(data) - 1)] ^= 1 << bit
    damaged.write_bytes(bytes(data[: max(0, int(cut * len(data)))] if cut < 1 else data))
    seconds, peak, _ = check_read(Case("hypothesis", tuple(files), damaged))
    assert seconds < MAX_SECONDS and peak <= MAX_ALLOCATION


# ------------------------------------------------ every way in goes through it
def every(cases: list[Case], n: int) -> list[Case]:
    """About ``n`` cases spread over the corpus, single files only."""
    single = [case for case in cases if len(case.files) == 1]
    return single[:: max(1, len(single) // n)]


def test_galseg_info_prints_one_line_per_bad_file(cases, capsys):
    for case in every(cases, 60):
        status = main(["info", str(case.damaged)])
        captured = capsys.readouterr()
        assert status in (0, 1), case.how
        if status:
            assert captured.err.startswith(f"galseg: error: {case.damaged}: "), case.how
            assert len(captured.err.splitlines()) == 1 and "Traceback" not in captured.err


def test_predict_workers_report_bad_files_and_carry_on(cases, tmp_path):
    pytest.importorskip("torch")
    from galseg import MaskStore
    from galseg.batch import Job, predict_batch
    from galseg.model import SHIPPED_CHECKPOINT, load_assistant
    from galseg.queue import QueueItem

    identity = load_assistant(device="cpu").identity
    store = MaskStore.open(tmp_path / "out.zarr")
    job = Job(str(store.path), str(SHIPPED_CHECKPOINT), identity, "cpu")
    chosen = every(cases, 40)
    items = [QueueItem(case.damaged.name, case.files) for case in chosen]
    outcomes = predict_batch(items, job)
    for case, outcome in zip(chosen, outcomes, strict=True):
        assert outcome.status in ("predicted", "failed", "duplicate"), case.how
        if outcome.status == "failed":
            assert outcome.input == str(case.damaged) and outcome.reason, case.how
            # A galseg message, not an exception of astropy's named by its type
            assert not re.match(r"\w+(Error|Exception): ", outcome.reason), outcome.reason


def test_the_napari_reader_never_raises(cases, monkeypatch):
    pytest.importorskip("napari")
    from napari_galseg import _reader

    shown: list[str] = []
    monkeypatch.setattr(_reader, "_report", lambda exc: shown.append(str(exc)))
    for case in every(cases, 60):
        reader = _reader.get_reader(str(case.damaged))
        if reader is None:
            continue
        layers = reader(str(case.damaged))
        assert layers, case.how
        if layers == [(None,)]:
            assert shown and shown[-1].startswith(f"{case.damaged}: "), case.how
