"""A PNG bar chart of the bench results, drawn with Pillow (no plotting library needed).

One panel per payload; per target a bar of p50 latency for each concurrency, with a tick at
p99, so the cost of each hop can be read against the direct call at the top of each panel.
A last panel draws the comparisons (`comparisons.py`): each p50 ratio as a bar, with 1.0 and
the goal, where one is stated, as lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seldon_tfserving.bench.comparisons import Comparison
from seldon_tfserving.bench.report import Measurement

_COLOURS = ((66, 133, 244), (234, 67, 53), (251, 188, 5), (52, 168, 83))
_WIDTH = 1000
_LABEL_WIDTH = 260
_BAR_HEIGHT = 12
_PANEL_GAP = 36
#: The comparisons' labels are longer than the targets' names.
_RATIO_LABEL_WIDTH = 400
_GOAL_COLOUR = (200, 0, 0)


def write_chart(
    path: Path,
    measurements: Sequence[Measurement],
    title: str,
    comparisons: Sequence[Comparison] = (),
) -> None:
    """Draw p50 (bar) and p99 (tick) latency per target, payload and concurrency into `path`,
    and the comparisons' p50 ratios below."""
    from PIL import Image, ImageDraw, ImageFont

    payloads = list(dict.fromkeys(m.payload for m in measurements))
    targets = list(dict.fromkeys(m.target for m in measurements))
    levels = sorted({m.concurrency for m in measurements})
    by_key = {(m.payload, m.target, m.concurrency): m for m in measurements}
    row_height = _BAR_HEIGHT * len(levels) + 8
    panel_height = row_height * len(targets) + _PANEL_GAP
    ratio_height = (_BAR_HEIGHT + 4) * len(comparisons) + _PANEL_GAP if comparisons else 0
    height = 60 + panel_height * len(payloads) + ratio_height + 30
    image = Image.new("RGB", (_WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    draw.text((10, 10), title, fill="black", font=font)
    for index, level in enumerate(levels):
        x = 10 + index * 290
        draw.rectangle((x, 32, x + 12, 44), fill=_COLOURS[index % len(_COLOURS)])
        draw.text(
            (x + 18, 32), f"concurrency {level}: p50 bar, p99 tick (ms)", fill="black", font=font
        )
    top = 60
    plot_left, plot_right = _LABEL_WIDTH, _WIDTH - 100
    for payload in payloads:
        cells = [m for m in measurements if m.payload == payload]
        finite = [m.stats.p99_ms for m in cells if not math.isnan(m.stats.p99_ms)]
        scale_max = max(finite, default=1.0) or 1.0
        draw.text((10, top), f"payload {payload} (ms, scale 0-{scale_max:.1f})", fill="black")
        y = top + 18
        for target in targets:
            draw.text((10, y + 2), target, fill="black", font=font)
            for index, level in enumerate(levels):
                m = by_key.get((payload, target, level))
                if m is not None and not math.isnan(m.stats.p50_ms):
                    span = plot_right - plot_left
                    x50 = plot_left + span * m.stats.p50_ms / scale_max
                    x99 = plot_left + span * m.stats.p99_ms / scale_max
                    colour = _COLOURS[index % len(_COLOURS)]
                    draw.rectangle((plot_left, y, x50, y + _BAR_HEIGHT - 2), fill=colour)
                    draw.line((x99, y, x99, y + _BAR_HEIGHT - 2), fill="black", width=2)
                    label = f"{m.stats.p50_ms:.1f} / {m.stats.p99_ms:.1f}"
                    draw.text((min(x99 + 4, _WIDTH - 84), y), label, fill="black", font=font)
                else:
                    draw.text((plot_left + 4, y), "failed: no answers", fill="black", font=font)
                y += _BAR_HEIGHT
            y += 8
        draw.line((plot_left, top + 16, plot_left, y), fill="grey")
        top += panel_height
    if comparisons:
        _draw_ratios(draw, font, top, comparisons, levels)
    image.save(path, format="PNG")


def _draw_ratios(
    draw: Any, font: Any, top: int, comparisons: Sequence[Comparison], levels: list[int]
) -> None:
    """One bar per comparison, payload and concurrency: the p50 ratio, 1.0 and the goal."""
    ratios = [c.latency_ratio for c in comparisons if c.latency_ratio is not None]
    goals = [c.max_latency_ratio for c in comparisons if c.max_latency_ratio is not None]
    scale_max = max([*ratios, *goals, 1.0]) * 1.05
    left, right = _RATIO_LABEL_WIDTH, _WIDTH - 130
    span = right - left
    draw.text(
        (10, top),
        f"p50 ratios (scale 0-{scale_max:.2f}; grey line: 1.0, red: the goal)",
        fill="black",
        font=font,
    )
    colour_of = {level: _COLOURS[i % len(_COLOURS)] for i, level in enumerate(levels)}
    y = top + 18
    first_y = y
    for c in comparisons:
        draw.text((10, y), f"{c.payload} c={c.concurrency}: {c.label}", fill="black", font=font)
        label_x = left + 4
        if c.max_latency_ratio is not None:
            x_goal = left + span * c.max_latency_ratio / scale_max
            draw.line((x_goal, y - 1, x_goal, y + _BAR_HEIGHT), fill=_GOAL_COLOUR, width=2)
            label_x = int(x_goal) + 4
        if c.latency_ratio is None:
            draw.text((label_x, y), "failed: no answers", fill="black", font=font)
        else:
            colour = colour_of.get(c.concurrency, _COLOURS[0])
            x = left + span * c.latency_ratio / scale_max
            draw.rectangle((left, y, x, y + _BAR_HEIGHT - 2), fill=colour)
            throughput = "-" if c.throughput_ratio is None else f"{c.throughput_ratio:.2f}"
            label = f"p50 x{c.latency_ratio:.2f}, req/s x{throughput}"
            draw.text((min(max(x + 4, label_x), _WIDTH - 126), y), label, fill="black", font=font)
        y += _BAR_HEIGHT + 4
    x_one = left + span * 1.0 / scale_max
    draw.line((x_one, first_y - 2, x_one, y), fill="grey", width=1)
    draw.line((left, first_y - 2, left, y), fill="grey")
