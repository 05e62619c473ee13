"""Pictures for the report, as inline SVG or PNG data: no files, no network, no matplotlib.

line_chart draws curves (loss, accuracies) as an SVG polyline chart; bar_chart draws
histograms and rates (the batch summary); weight_tiles_png turns first-layer weights into
a grid of 32 x 32 colour tiles, PNG-encoded with zlib.
"""
from __future__ import annotations

import base64
import struct
import zlib
from typing import Mapping, Sequence

import numpy as np
from markupsafe import Markup, escape

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def line_chart(series: Mapping[str, Sequence[float]], title: str, x_label: str,
               width: int = 420, height: int = 220,
               hline: tuple[float, str] | None = None) -> Markup:
    """An SVG chart of one or more curves (each a list of y values), with an optional
    horizontal reference line (value, label)."""
    curves = {k: np.asarray([v for v in vals if v is not None], dtype=float)
              for k, vals in series.items() if vals is not None and len(vals)}
    curves = {k: v[np.isfinite(v)] for k, v in curves.items()}
    curves = {k: v for k, v in curves.items() if len(v)}
    if not curves:
        return Markup("")
    left, right, top, bottom = 48, 10, 24, 30
    lo = min(float(v.min()) for v in curves.values())
    hi = max(float(v.max()) for v in curves.values())
    if hline is not None:
        lo, hi = min(lo, hline[0]), max(hi, hline[0])
    if hi - lo < 1e-12:
        hi, lo = hi + 0.5, lo - 0.5
    pw, ph = width - left - right, height - top - bottom

    def y_of(v: float) -> float:
        return top + ph * (1 - (v - lo) / (hi - lo))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="14" font-size="12" font-weight="bold">{escape(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>',
             f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{hi:.3g}</text>',
             f'<text x="{left - 4}" y="{top + ph}" font-size="10" text-anchor="end">{lo:.3g}</text>',
             f'<text x="{left + pw / 2}" y="{height - 6}" font-size="10" text-anchor="middle">'
             f'{escape(x_label)}</text>']
    for i, (name, values) in enumerate(curves.items()):
        n = max(len(values) - 1, 1)
        points = " ".join(f"{left + pw * j / n:.1f},{y_of(float(v)):.1f}"
                          for j, v in enumerate(values))
        colour = COLOURS[i % len(COLOURS)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" '
                     f'points="{points}"/>')
        parts.append(f'<text x="{left + pw - 4}" y="{top + 14 + 12 * i}" font-size="10" '
                     f'text-anchor="end" fill="{colour}">{escape(name)}</text>')
    if hline is not None:
        y = y_of(hline[0])
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#555" stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{left + 4}" y="{y - 3:.1f}" font-size="10">{escape(hline[1])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(bars: Sequence[tuple[str, float]], title: str, x_label: str = "",
              width: int = 420, height: int = 200, top: float | None = None,
              value_format: str = "{:g}") -> Markup:
    """An SVG bar chart: one bar per (label, value) with the value written above it;
    `top` fixes the height of the scale (e.g. 100 for percentages), else the largest value."""
    if not bars:
        return Markup("")
    left, right, head, foot = 10, 10, 32, 34
    pw, ph = width - left - right, height - head - foot
    scale = top if top else max(max(v for _, v in bars), 1e-12)
    slot = pw / len(bars)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="14" font-size="12" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" x2="{left + pw}" y1="{head + ph}" y2="{head + ph}" '
             'stroke="#999"/>']
    for i, (label, value) in enumerate(bars):
        h = ph * max(0.0, min(value / scale, 1.0))
        x = left + i * slot
        parts.append(f'<rect x="{x + slot * 0.12:.1f}" y="{head + ph - h:.1f}" '
                     f'width="{slot * 0.76:.1f}" height="{h:.1f}" fill="{COLOURS[0]}"/>')
        if value:
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{head + ph - h - 3:.1f}" '
                         f'font-size="10" text-anchor="middle">'
                         f'{escape(value_format.format(value))}</text>')
        parts.append(f'<text x="{x + slot / 2:.1f}" y="{head + ph + 12:.1f}" font-size="10" '
                     f'text-anchor="middle">{escape(label)}</text>')
    if x_label:
        parts.append(f'<text x="{left + pw / 2}" y="{height - 4}" font-size="10" '
                     f'text-anchor="middle">{escape(x_label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 image."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def weight_tiles_png(W1: np.ndarray, columns: int = 10, max_tiles: int = 50,
                     scale: int = 2) -> str:
    """A data: URI of the first max_tiles columns of W1 (3072, H) as 32 x 32 colour tiles
    (rows flattened in HWC order, each tile rescaled to 0..255)."""
    count = min(W1.shape[1], max_tiles)
    rows = -(-count // columns)
    pad = 2
    grid = np.full((rows * (32 + pad) + pad, columns * (32 + pad) + pad, 3), 255, np.uint8)
    for i in range(count):
        tile = W1[:, i].reshape(32, 32, 3)
        tile = (tile - tile.min()) / max(float(tile.max() - tile.min()), 1e-12)
        r, c = divmod(i, columns)
        y, x = pad + r * (32 + pad), pad + c * (32 + pad)
        grid[y:y + 32, x:x + 32] = (255 * tile).astype(np.uint8)
    grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return "data:image/png;base64," + base64.b64encode(_png(grid)).decode()
