"""The benchmark as printed: settings, scores per family and style, locality, latency, targets."""

from __future__ import annotations

from ._results import AFTER, METHODS, CompletionBenchmark, Target

__all__ = ["report"]


def report(result: CompletionBenchmark) -> str:
    """The whole report (what ``galseg bench completion`` prints)."""
    parts = [_header(result)]
    parts += [_scores(result, family) for family in result.families]
    parts += [
        _automatic(result),
        _locality(result),
        _latency(result),
        targets_text(result.targets()),
    ]
    return "\n\n".join(part for part in parts if part)


def targets_text(targets: list[Target]) -> str:
    """One line per target: ``[ok]``, ``[FAIL]`` or ``[n/a]``, what it is and what was measured."""
    marks = {True: "[ok]  ", False: "[FAIL]", None: "[n/a] "}
    width = max((len(t.name) for t in targets), default=0)
    return "\n".join(
        ["targets"] + [f"{marks[t.holds]} {t.name:<{width}}  {t.measured}" for t in targets]
    )


def _header(result: CompletionBenchmark) -> str:
    s = result.settings
    return "\n".join(
        [
            f"galseg completion benchmark: {s.get('checkpoint', '?')}",
            f"families {', '.join(result.families)}: {s.get('n', '?')} cutouts per class each, "
            f"{s.get('size', '?')}x{s.get('size', '?')}; own: {s.get('survey', '?')} seeds from "
            f"{s.get('seed', '?')}, visible truth; independent: benchmarks/independent_cases.py "
            f"seed {s.get('independent_seed', '?')}",
            f"stroke styles {', '.join(result.styles)}; same strokes for every method, each next "
            f"one in {s.get('driver', '?')}'s largest error; random_walker beta="
            f"{s.get('beta', '?')}, mode bf",
            "NoC@80: strokes to IoU >= 0.80, at most "
            f"{s.get('max_strokes', '?')}; 'failed' cutouts never got there and count at that cap",
        ]
    )


def _scores(result: CompletionBenchmark, family: str) -> str:
    table = result.table()[family]
    columns = [f"IoU@{k}" for k in AFTER] + ["NoC@80", "failed"]
    lines = [f"{family} family"]
    for style, rows in table.items():
        lines.append(f"  strokes: {style}")
        lines.append(f"  {'class':<13} {'method':<14}" + "".join(f"{c:>8}" for c in columns))
        for kind, methods in rows.items():
            for i, method in enumerate(METHODS):
                cells = [f"{methods[method][c]:8.3f}" for c in columns[:-2]]
                cells += [f"{methods[method]['NoC@80']:8.2f}", f"{methods[method]['failed']:8.0f}"]
                lines.append(f"  {kind if i == 0 else '':<13} {method:<14}" + "".join(cells))
        deep = {k: r["deep truth"]["IoU@3"] for k, r in rows.items() if "deep truth" in r}
        if deep:
            lines.append(
                "  deep truth (reported, not a target): galseg IoU@3 "
                + "  ".join(f"{k} {v:.3f}" for k, v in deep.items())
            )
        observed = {k: r["observed truth"]["IoU"] for k, r in rows.items() if "observed truth" in r}
        if observed:
            lines.append(
                "  observed truth (the truth rule on the light as observed, noise included), "
                "IoU with the truth: " + "  ".join(f"{k} {v:.3f}" for k, v in observed.items())
            )
    return "\n".join(lines)


def _automatic(result: CompletionBenchmark) -> str:
    lines = ["automatic mode (segment, no strokes): IoU of each class with its visible truth"]
    for family, row in result.automatic_table().items():
        scores = "  ".join(f"{k} {v:.3f}" for k, v in row.items() if k != "false positives")
        fp = row.get("false positives")
        tail = "" if fp is None else f"; featureless cutouts with tidal/bar pixels {100 * fp:.1f}%"
        lines.append(f"  {family}: {scores}{tail}")
    return "\n".join(lines)


def _locality(result: CompletionBenchmark) -> str:
    table = result.locality_table()
    lines = [
        "locality: share of a completion in pieces that grow from the strokes",
        f"  benchmark episodes, network's own mask: {table['episodes']['network']:.3f}",
    ]
    for place, row in table.items():
        if place != "episodes":
            lines.append(
                f"  real images, strokes on {place:<14} shown {row['shown']:.3f}  network "
                f"{row['network']:.3f}  completion/stroke p50 {row['growth']:.2f}x  "
                f"({row['strokes']:.0f} completions)"
            )
    return "\n".join(lines)


def _latency(result: CompletionBenchmark) -> str:
    s = result.settings
    lines = [
        f"latency on this machine ({s.get('machine', '?')}, {s.get('device', '?')}, "
        f"{s.get('threads', '?')} torch threads)",
        f"{'':<44}{'p50 ms':>10}{'p95 ms':>10}{'runs':>6}",
    ]
    for timing in (result.set_image, result.complete, result.sam_encoder, result.sam_decoder):
        if timing is not None:
            lines.append(
                f"{timing.name:<44}{timing.p50:10.1f}{timing.p95:10.1f}{len(timing.seconds):6d}"
            )
    if result.sam_encoder is not None and result.sam_decoder is not None:
        lines.append(
            f"ratios (p50): set_image / SAM image encoder = "
            f"{result.set_image.p50 / result.sam_encoder.p50:.4f}; complete / SAM mask decoder = "
            f"{result.complete.p50 / result.sam_decoder.p50:.3f}"
        )
    else:
        lines.append("SAM ViT-B not timed (--no-sam)")
    return "\n".join(lines)
