"""A PNG bar chart of the bench results, drawn with Pillow (no plotting library needed).

One panel per payload; per target a bar of p50 latency for each concurrency, with a tick at
p99, so the cost of each hop can be read against the direct call at the top of each panel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from seldon_tfserving.bench.report import Measurement

_COLOURS = ((66, 133, 244), (234, 67, 53), (251, 188, 5), (52, 168, 83))
_WIDTH = 1000
_LABEL_WIDTH = 260
_BAR_HEIGHT = 12
_PANEL_GAP = 36


def write_chart(path: Path, measurements: Sequence[Measurement], title: str) -> None:
    """Draw p50 (bar) and p99 (tick) latency per target, payload and concurrency into `path`."""
    from PIL import Image, ImageDraw, ImageFont

    payloads = list(dict.fromkeys(m.payload for m in measurements))
    targets = list(dict.fromkeys(m.target for m in measurements))
    levels = sorted({m.concurrency for m in measurements})
    by_key = {(m.payload, m.target, m.concurrency): m for m in measurements}
    row_height = _BAR_HEIGHT * len(levels) + 8
    panel_height = row_height * len(targets) + _PANEL_GAP
    height = 60 + panel_height * len(payloads) + 30
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
    image.save(path, format="PNG")
