"""Model-quality report of one candidate from its out-of-fold predictions.

Only rows covered by the folds are used. Classification: confusion matrix, ROC and
precision-recall curves (binary; one-vs-rest per class for multiclass ROC), calibration, and a
threshold table (binary). Regression: residuals and predicted-vs-actual. Figures are SVG; the
numbers are in ``quality/<candidate_id>/report.json``. The out-of-fold predictions themselves are
kept as ``quality/<candidate_id>/oof.npy`` beside the job's ``quality/rows.npz`` (each row's
target and validation fold; paths from :class:`automl.layout.JobLayout`), from which :func:`oof_frame` makes the table users download.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from automl.layout import JobLayout

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MAX_POINTS = 200


def figure(size=(5, 4)):
    """A matplotlib figure on the non-interactive backend (safe in servers and workers)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    return fig, fig.add_subplot()


def save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="svg")


def write_quality(result, y, folds, task: str, classes: list | None, output_dir) -> dict:
    """Write the figures and ``report.json`` of ``result`` (a trial's or the ensemble's record); return the report."""
    layout = JobLayout(output_dir)
    directory = layout.quality_of(result.candidate_id)
    directory.mkdir(parents=True, exist_ok=True)
    rows = np.unique(np.concatenate([valid for _, valid in folds]))
    _save_oof(result.oof, y, folds, classes, layout, result.candidate_id)
    pred, truth = result.oof[rows], np.asarray(y)[rows]
    if task == "regression":
        report = _regression(truth, pred, directory)
    else:
        report = _classification(truth, pred, task, [str(c) for c in classes], directory)
    report = {"candidate_id": result.candidate_id, "task": task, "rows": int(len(rows)), **report}
    layout.quality_report(result.candidate_id).write_text(json.dumps(report, indent=2))
    return report


def _save_oof(oof, y, folds, classes, layout: JobLayout, candidate_id: str) -> None:
    path = layout.oof(candidate_id)
    tmp = path.with_name(f"oof.{os.getpid()}.npy")  # whole or absent: a resumed job reads it
    np.save(tmp, np.asarray(oof, dtype=np.float64))
    os.replace(tmp, path)
    rows = layout.quality_rows
    if rows.is_file():
        return
    fold = np.full(len(y), -1, dtype=np.int64)
    for k, (_, valid) in enumerate(folds):
        fold[valid] = k
    labels = np.asarray([str(c) for c in classes] if classes is not None else [], dtype=str)
    tmp = rows.with_name(f"rows.{os.getpid()}.npz")
    np.savez(tmp, y=np.asarray(y), fold=fold, labels=labels)
    os.replace(tmp, rows)


def load_oof(output_dir: str | Path, candidate_id: str) -> np.ndarray | None:
    """A trial's out-of-fold predictions as :func:`write_quality` kept them; ``None`` when
    they were not written (yet)."""
    try:
        return np.load(JobLayout(output_dir).oof(candidate_id))
    except (OSError, ValueError):
        return None


def oof_frame(output_dir: str | Path, candidate_id: str) -> pd.DataFrame:
    """A candidate's out-of-fold predictions, one line per validated row: ``row`` (its position
    among the rows with a target, in file order), ``fold``, ``actual``, ``prediction`` and, for
    classification, ``probability_<class>`` for every class."""
    layout = JobLayout(output_dir)
    with np.load(layout.quality_rows) as rows:
        y, fold, labels = rows["y"], rows["fold"], rows["labels"].tolist()
    oof = np.load(layout.oof(candidate_id))
    keep = np.flatnonzero(fold >= 0)
    out = pd.DataFrame({"row": keep, "fold": fold[keep]})
    if not labels:
        return out.assign(actual=y[keep], prediction=oof[keep])
    proba = oof[keep]
    out["actual"] = np.asarray(labels, dtype=object)[y[keep].astype(int)]
    out["prediction"] = np.asarray(labels, dtype=object)[proba.argmax(axis=1)]
    for k, label in enumerate(labels):
        out[f"probability_{label}"] = proba[:, k]
    return out


def _regression(y, pred, directory: Path) -> dict:
    residuals = y - pred
    fig, ax = figure()
    ax.scatter(pred, residuals, s=4, alpha=0.5)
    ax.axhline(0, color="grey")
    ax.set(xlabel="predicted", ylabel="actual - predicted", title="residuals")
    save(fig, directory / "residuals.svg")
    fig, ax = figure()
    ax.scatter(y, pred, s=4, alpha=0.5)
    lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], color="grey")
    ax.set(xlabel="actual", ylabel="predicted", title="predicted vs actual")
    save(fig, directory / "predicted_vs_actual.svg")
    q = np.quantile(residuals, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {"figures": ["residuals.svg", "predicted_vs_actual.svg"],
            "residuals": {"mean": float(residuals.mean()), "std": float(residuals.std()),
                          "quantiles": dict(zip(("5%", "25%", "50%", "75%", "95%"),
                                                map(float, q), strict=True))},
            "rmse": float(np.sqrt(np.mean(residuals ** 2))), "r2": float(skm.r2_score(y, pred))}


def _classification(y, proba, task: str, labels: list[str], directory: Path) -> dict:
    matrix = skm.confusion_matrix(y, proba.argmax(axis=1), labels=np.arange(len(labels)))
    _confusion_figure(matrix, labels, directory / "confusion_matrix.svg")
    report = {"labels": labels, "confusion_matrix": matrix.tolist(),
              "figures": ["confusion_matrix.svg", "roc.svg", "calibration.svg"]}
    report["roc"] = _roc(y, proba, labels, directory / "roc.svg")
    report["calibration"] = _calibration(y, proba, task, directory / "calibration.svg")
    if task == "binary":
        report["precision_recall"] = _pr(y, proba[:, 1], directory / "precision_recall.svg")
        report["figures"].append("precision_recall.svg")
        report["thresholds"] = _threshold_table(y, proba[:, 1])
    return report


def _confusion_figure(matrix, labels, path: Path) -> None:
    save(confusion_axes(matrix, labels)[0], path)


def confusion_axes(matrix, labels):
    """The confusion matrix drawn as a heat map; each count is white on dark cells and black on
    light ones, so every count stays readable. Returns ``(figure, axes)``."""
    fig, ax = figure()
    image = ax.imshow(matrix, cmap="Blues")
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xlabel="predicted",
           ylabel="actual", title="confusion matrix (out-of-fold)")
    ax.set_xticklabels(labels, rotation=45, ha="right")
    ax.set_yticklabels(labels)
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                color=_ink(image.cmap(image.norm(v))))
    return fig, ax


def _ink(background) -> str:
    """Black or white, whichever contrasts more with ``background`` (WCAG luminance)."""
    return "black" if relative_luminance(background) > 0.179 else "white"


def relative_luminance(rgba) -> float:
    """WCAG 2 relative luminance of an sRGB colour given as floats in [0, 1]."""
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _thin(*arrays):
    n = len(arrays[0])
    idx = np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).astype(int))
    return [np.asarray(a)[idx].tolist() for a in arrays]


def _roc(y, proba, labels, path: Path) -> dict:
    fig, ax = figure()
    out = {}
    positives = [1] if len(labels) == 2 else range(len(labels))
    for k in positives:
        if len(np.unique(y == k)) < 2:
            continue
        fpr, tpr, _ = skm.roc_curve(y == k, proba[:, k])
        auc = float(skm.auc(fpr, tpr))
        ax.plot(fpr, tpr, label=f"{labels[k]} (AUC {auc:.3f})")
        fpr_t, tpr_t = _thin(fpr, tpr)
        out[labels[k]] = {"auc": auc, "fpr": fpr_t, "tpr": tpr_t}
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (out-of-fold)")
    ax.legend(fontsize=7)
    save(fig, path)
    return out


def _pr(y, p, path: Path) -> dict:
    precision, recall, _ = skm.precision_recall_curve(y == 1, p)
    ap = float(skm.average_precision_score(y == 1, p))
    fig, ax = figure()
    ax.plot(recall, precision)
    ax.set(xlabel="recall", ylabel="precision", title=f"precision-recall (AP {ap:.3f})")
    save(fig, path)
    recall_t, precision_t = _thin(recall, precision)
    return {"average_precision": ap, "recall": recall_t, "precision": precision_t}


def _calibration(y, proba, task: str, path: Path) -> dict:
    """Reliability of the predicted class's probability (binary: of the second class)."""
    if task == "binary":
        hit, p = (y == 1), proba[:, 1]
    else:
        hit, p = (proba.argmax(axis=1) == y), proba.max(axis=1)
    observed, predicted = calibration_curve(hit, p, n_bins=10, strategy="quantile")
    fig, ax = figure()
    ax.plot(predicted, observed, marker="o")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="mean predicted probability", ylabel="observed frequency", title="calibration")
    save(fig, path)
    return {"predicted": predicted.tolist(), "observed": observed.tolist(),
            "brier": float(np.mean((p - hit) ** 2))}


def _threshold_table(y, p) -> list[dict]:
    rows = []
    for t in THRESHOLDS:
        label = p >= t
        tp, fp = int(np.sum(label & (y == 1))), int(np.sum(label & (y == 0)))
        fn, tn = int(np.sum(~label & (y == 1))), int(np.sum(~label & (y == 0)))
        rows.append({"threshold": t, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
                     "precision": tp / (tp + fp) if tp + fp else None,
                     "recall": tp / (tp + fn) if tp + fn else None,
                     "accuracy": (tp + tn) / len(y)})
    return rows
