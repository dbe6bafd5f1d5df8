"""The endpoint page's monitoring figures as SVG text (matplotlib, server-side, no CDN), each
drawn from the dict the matching API route answers (:mod:`web.monitoring_data`)."""

from __future__ import annotations

import io
import threading

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SIZE = (6.4, 2.6)
_LOCK = threading.Lock()  # pyplot's state is global: one figure at a time per process


def _svg(draw, size: tuple[float, float] = SIZE) -> bytes:
    with _LOCK:
        fig, ax = plt.subplots(figsize=size)
        try:
            draw(fig, ax)
            fig.tight_layout()
            out = io.BytesIO()
            fig.savefig(out, format="svg")
        finally:
            plt.close(fig)
    return out.getvalue()


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#555")
    ax.set_xticks([])
    ax.set_yticks([])


def _times(bins: list[dict]) -> list[str]:
    return [b["start"][5:16].replace("T", " ") for b in bins]


def traffic(data: dict) -> bytes:
    def draw(fig, ax):
        bins = data["bins"]
        if not bins:
            return _empty(ax, "no traffic recorded yet (snapshots are taken every minute)")
        x = np.arange(len(bins))
        ax.bar(x, [b["requests"] for b in bins], color="#4c72b0", label="requests")
        ax.bar(x, [b["errors"] for b in bins], color="#c44e52", label="errors")
        _time_axis(ax, bins)
        ax.set_ylabel(f"per {data['bin_s'] // 60} min")
        ax.legend(loc="upper left", fontsize=8)
    return _svg(draw)


def latency(data: dict) -> bytes:
    def draw(fig, ax):
        bins = [b for b in data["bins"] if b["p50_ms"] is not None]
        if not bins:
            return _empty(ax, "no latency recorded yet")
        x = np.arange(len(bins))
        ax.plot(x, [b["p50_ms"] for b in bins], marker="o", label="p50")
        ax.plot(x, [b["p99_ms"] for b in bins], marker="o", label="p99")
        _time_axis(ax, bins)
        ax.set_ylabel("ms")
        ax.legend(loc="upper left", fontsize=8)
    return _svg(draw)


def _time_axis(ax, bins: list[dict]) -> None:
    labels = _times(bins)
    step = max(1, len(labels) // 8)
    ax.set_xticks(range(0, len(labels), step))
    ax.set_xticklabels(labels[::step], rotation=30, ha="right", fontsize=7)


def drift(data: dict) -> bytes:
    def draw(fig, ax):
        if not data["columns"]:
            return _empty(ax, "no monitoring runs yet")
        scores = np.array([[np.nan if v is None else v for v in row] for row in data["scores"]])
        image = ax.imshow(scores, aspect="auto", cmap="Reds", vmin=0,
                          vmax=max(0.25, float(np.nanmax(scores)) if np.isfinite(scores).any()
                                   else 0.25))
        ax.set_yticks(range(len(data["columns"])))
        ax.set_yticklabels(data["columns"], fontsize=7)
        labels = [w["at"][5:16].replace("T", " ") for w in data["windows"]]
        step = max(1, len(labels) // 8)
        ax.set_xticks(range(0, len(labels), step))
        ax.set_xticklabels(labels[::step], rotation=30, ha="right", fontsize=7)
        fig.colorbar(image, ax=ax, label="drift score")
    fig_height = max(2.6, 0.22 * len(data["columns"]) + 1.2)
    return _svg(draw, (6.4, fig_height))


def worst(data: dict) -> bytes:
    columns = data["worst"]

    def draw(fig, ax):
        fig.clf()
        if not columns:
            return _empty(fig.add_subplot(), "no drift scores yet")
        for i, col in enumerate(columns):
            axis = fig.add_subplot(1, len(columns), i + 1)
            x = np.arange(len(col["bins"]))
            axis.bar(x - 0.2, col["baseline"], width=0.4, label="training", color="#999")
            axis.bar(x + 0.2, col["window"], width=0.4, label="window", color="#c44e52")
            axis.set_title(f"{col['column']} ({col['score']:.2f})", fontsize=8)
            axis.set_xticks(x)
            axis.set_xticklabels(col["bins"], rotation=60, ha="right", fontsize=5)
            axis.tick_params(axis="y", labelsize=6)
            if i == 0:
                axis.legend(fontsize=6)
    return _svg(draw, (8.0, 2.8))


def quality(data: dict) -> bytes:
    def draw(fig, ax):
        points = data["points"]
        measured = [(i, p["measured"]["value"]) for i, p in enumerate(points)
                    if p["measured"] and p["measured"]["value"] is not None]
        estimated = [(i, p["estimated"]["value"]) for i, p in enumerate(points)
                     if p["estimated"] and p["estimated"]["value"] is not None]
        if not measured and not estimated:
            return _empty(ax, "no quality yet: send ground truth, or run monitoring")
        for series, label, style in ((measured, "measured", "o-"),
                                     (estimated, "estimated (CBPE)", "s--")):
            if series:
                ax.plot(*zip(*series, strict=True), style, label=label)
        if data["cross_validated"] is not None:
            ax.axhline(data["cross_validated"], color="#555", lw=1, ls=":",
                       label="cross-validated")
        ax.set_xticks(range(len(points)))
        ax.set_xticklabels([p["at"][5:16].replace("T", " ") for p in points], rotation=30,
                           ha="right", fontsize=7)
        ax.legend(fontsize=8)
    return _svg(draw)
