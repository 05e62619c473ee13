"""Pictures for the report and the batch summary, as inline SVG (matplotlib) or PNG data.

line_chart draws a check's curves (curves.Curves) with real axes, ticks and a legend beside
the plot; bar_chart draws histograms and rates (the batch summary); weight_tiles_png turns
first-layer weights into a grid of 32 x 32 colour tiles, PNG-encoded with zlib.

Charts are drawn with matplotlib.figure.Figure and saved by its SVG backend (no pyplot, so
no GUI backend and no global figure state; a figure is freed with its last reference), one
figure per chart. They are deterministic (svg.hashsalt from
the chart's own content, no date in the metadata), so a regrade writes the same report, and
each chart's ids are its own (several charts share one HTML page). A chart is drawn once
per content: the report is rewritten after every check.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import re
import struct
import zlib
from typing import Sequence

import numpy as np
from markupsafe import Markup

from .curves import ACCURACY, EPOCH, Curves

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P")
MARKED_UP_TO = 30  # curves of at most this many points mark each point
SIZE_IN = (5.6, 2.5)  # a line chart, inches (72 pt each)


def _figure(width_in: float, height_in: float):
    from matplotlib.figure import Figure  # only when a chart is drawn: the import is slow
    return Figure(figsize=(width_in, height_in), layout="constrained")


def _svg(fig, salt: str) -> str:
    """The figure as an <svg> element for inline HTML: no XML prologue, metadata or xlink
    namespace (href instead), and only the ids that something refers to."""
    import matplotlib
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)
    text = text.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    text = text.replace("xlink:href=", "href=").replace("<style type=\"text/css\">*{",
                                                        "<style type=\"text/css\">svg *{")
    used = set(re.findall(r'(?:url\(#|href="#)([^)"]+)', text))
    return re.sub(r' id="([^"]+)"', lambda m: m.group(0) if m.group(1) in used else "", text)


def _salt(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def line_chart(curves: Curves) -> Markup:
    """An SVG chart of one Curves: a line per series (colour, dash and width differ, so
    equal curves stay visible), gaps where a value was not finite, the threshold as a
    dashed line, and the legend beside the plot. Empty when no series has a value."""
    if not any(v is not None for values in curves.series.values() for v in values):
        return Markup("")
    return Markup(_line_svg(chart_key(curves)))


def chart_key(curves: Curves) -> str:
    """A Curves as JSON: what a line chart is drawn from, and its cache key."""
    return json.dumps([curves.title, curves.x_label, list(curves.series.items()), curves.kind,
                       curves.per, curves.threshold])


@functools.lru_cache(maxsize=256)
def _line_svg(key: str) -> str:
    return _svg(line_figure(key), _salt(key))


def line_figure(key: str):
    """The matplotlib Figure of a line chart (key: line_chart's JSON of the Curves)."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    title, x_label, series, kind, per, threshold = json.loads(key)
    fig = _figure(*SIZE_IN)
    ax = fig.add_subplot()
    widths = np.linspace(2.6, 1.2, max(len(series), 1))  # earlier ones peek out below
    for i, (name, values) in enumerate(series):
        y = np.array([np.nan if v is None else v for v in values], dtype=float)
        if per == EPOCH:
            x = np.arange(1, len(y) + 1)
        else:  # sampled steps: the share of the run, 0 to 100%
            x = np.linspace(0, 1, len(y)) if len(y) > 1 else np.zeros(1)
        marker = MARKERS[i % len(MARKERS)] if len(y) <= MARKED_UP_TO else None
        ax.plot(x, y, label=name, color=COLOURS[i % len(COLOURS)],
                linestyle=STYLES[i % len(STYLES)], linewidth=widths[i], marker=marker,
                markersize=max(6.5 - 1.2 * i, 3))
    if threshold is not None:
        ax.axhline(threshold, color="#555", linestyle=(0, (4, 3)), linewidth=1,
                   label=f"threshold {threshold:.0%}")
    ax.margins(x=0.02, y=0.08)  # nothing lies on the frame
    if kind == ACCURACY:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        ax.set_ylabel("accuracy")
    else:
        ax.ticklabel_format(axis="y", useOffset=False)  # 2.30252, not 1e-5 + 2.3025
        ax.set_ylabel("loss")
    if per == EPOCH:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_xlabel(x_label or "epoch")
    else:
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        ax.set_xlabel("progress through the training run")
    ax.set_title(title, loc="left", fontsize=10)
    ax.grid(True, color="#e5e5e5", linewidth=0.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    return fig


def bar_chart(bars: Sequence[tuple[str, float]], title: str, x_label: str = "",
              width: int = 420, height: int = 200, top: float | None = None,
              value_format: str = "{:g}") -> Markup:
    """An SVG bar chart of about width x height pixels: one bar per (label, value) with the
    value written above it; `top` fixes the height of the scale (e.g. 100 for percentages),
    else the largest value. Empty when there is no bar."""
    if not bars:
        return Markup("")
    key = json.dumps([[str(k), float(v)] for k, v in bars] + [title, x_label, width, height,
                                                                top, value_format])
    return Markup(_bar_svg(key))


@functools.lru_cache(maxsize=128)
def _bar_svg(key: str) -> str:
    *bars, title, x_label, width, height, top, value_format = json.loads(key)
    fig = _figure(width / 96, height / 96)  # CSS pixels at 96 per inch
    ax = fig.add_subplot()
    labels = [label for label, _ in bars]
    values = [value for _, value in bars]
    drawn = ax.bar(range(len(bars)), values, color=COLOURS[0], width=0.76)
    ax.bar_label(drawn, labels=[value_format.format(v) if v else "" for v in values],
                 fontsize=7, padding=1)
    ax.set_xticks(range(len(bars)), labels, fontsize=7,
                  rotation=30 if max(map(len, labels)) > 4 and len(bars) > 6 else 0)
    ax.set_ylim(0, (top or max(max(values), 1e-12)) * 1.15)
    ax.tick_params(axis="y", labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title, loc="left", fontsize=9)
    if x_label:
        ax.set_xlabel(x_label, fontsize=8)
    return _svg(fig, _salt(key))


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
