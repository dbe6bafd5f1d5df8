"""Retraining from what an endpoint saw: its labelled captures, split by time, and a fair
comparison of champion and challenger.

The captured requests that got ground truth are sorted by inference time. The newest share is
held out: champion and challenger are compared on it, so the challenger is judged on rows it
never trained on, as the most recent traffic stands for tomorrow's. The older labelled rows
join the original training data for the challenger's job. The comparison gives the job's
metric for both on the held-out rows, with paired bootstrap intervals for each and for their
difference (``challenger - champion``, in the metric's own direction).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from automl.exceptions import InvalidRequest
from automl.metrics import get_metric
from automl.monitoring.quality import encode_labels
from automl.monitoring.reader import Window

HOLDOUT_SHARE = 0.3
MIN_HOLDOUT = 20
BOOTSTRAP = 1000
LEVEL = 0.95


@dataclass(frozen=True)
class RetrainData:
    """The challenger's training rows and the held-out recent window."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    added: int
    since: str | None
    holdout_since: str | None

    def summary(self) -> dict:
        return {"training_rows": len(self.train), "added_from_captures": self.added,
                "held_out": len(self.holdout), "captures_since": self.since,
                "holdout_since": self.holdout_since}


def first_copies(windows: list[Window]) -> list[Window]:
    """``windows`` (one per variant) without the rows of requests an earlier window already
    holds: a shadow variant captures a copy of production's requests under their inference
    ids, and a request must count once."""
    seen: set[str] = set()
    out = []
    for window in windows:
        ids = np.asarray(window.inference_ids, dtype=object).astype(str)
        fresh = ~np.isin(ids, list(seen))
        seen.update(ids.tolist())
        out.append(replace(window, frame=window.frame.loc[fresh].reset_index(drop=True),
                           inference_ids=np.asarray(window.inference_ids)[fresh],
                           times=np.asarray(window.times)[fresh],
                           predictions=None if window.predictions is None
                           else np.asarray(window.predictions)[fresh]))
    return out


def labelled_captures(window: Window, truth: pd.DataFrame, target: str, task: str,
                      classes: list | None) -> pd.DataFrame:
    """The captured rows that have a label, as training rows (``target`` = the label as the
    training data spelled it: the model's class, or a number), oldest first, with their
    inference time in ``_inference_time``."""
    labels = truth.drop_duplicates("inference_id").set_index("inference_id")["label"]
    ids = pd.Series(window.inference_ids, dtype=object)
    keep = ids.isin(labels.index).to_numpy()
    rows = window.frame.loc[keep].reset_index(drop=True).copy()
    codes = encode_labels(pd.Series(labels.loc[ids[keep]].to_numpy()), task, classes)
    rows[target] = codes if task == "regression" else np.asarray(classes, dtype=object)[codes]
    rows["_inference_time"] = np.asarray(window.times)[keep]
    return rows.sort_values("_inference_time", kind="stable").reset_index(drop=True)


def retraining_data(original: pd.DataFrame, labelled: pd.DataFrame, target: str,
                    holdout_share: float = HOLDOUT_SHARE) -> RetrainData:
    """The original rows plus the older labelled captures; the newest ``holdout_share`` held
    out. :class:`InvalidRequest` when there are too few labelled captures to hold out."""
    n_holdout = int(round(len(labelled) * holdout_share))
    if n_holdout < MIN_HOLDOUT:
        raise InvalidRequest(
            f"retraining needs labelled requests to compare on: {len(labelled)} captured "
            f"requests have ground truth, and at least {MIN_HOLDOUT} must be held out "
            f"({holdout_share:.0%} of them); send ground truth for more requests first "
            "(POST /api/v1/endpoints/<name>/ground-truth)",
            {"labelled": len(labelled), "min_held_out": MIN_HOLDOUT})
    older, recent = labelled.iloc[:-n_holdout], labelled.iloc[-n_holdout:]
    columns = list(original.columns)
    train = pd.concat([original, older.reindex(columns=columns)], ignore_index=True)
    return RetrainData(train, recent.drop(columns="_inference_time").reset_index(drop=True),
                       len(older), _first(labelled), _first(recent))


def _first(rows: pd.DataFrame) -> str | None:
    return str(rows["_inference_time"].iloc[0]) if len(rows) else None


def compare_on_holdout(champion, challenger, holdout: pd.DataFrame, metric: str,
                       seed: int = 0, rounds: int = BOOTSTRAP) -> dict:
    """Both bundles' ``metric`` on the held-out rows, with paired bootstrap intervals."""
    target = champion.schema.target
    y = encode_labels(holdout[target], champion.task, champion.classes)
    chosen = get_metric(metric, champion.task)
    preds = {"champion": _aligned(champion, holdout, champion.classes),
             "challenger": _aligned(challenger, holdout, champion.classes)}
    scores = {k: chosen.score(y, p) for k, p in preds.items()}
    samples = _bootstrap(y, preds, chosen, seed, rounds)
    sign = 1.0 if chosen.greater_is_better else -1.0
    diff = sign * (samples["challenger"] - samples["champion"])
    return {"metric": chosen.name, "greater_is_better": chosen.greater_is_better,
            "rows": int(len(y)), "level": LEVEL,
            **{k: {"score": scores[k], "interval": _interval(samples[k])} for k in scores},
            "improvement": {"value": sign * (scores["challenger"] - scores["champion"]),
                            "interval": _interval(diff),
                            "share_of_resamples_better": float((diff > 0).mean())}}


def _aligned(bundle, rows: pd.DataFrame, classes: list | None) -> np.ndarray:
    """Predictions of ``rows``; class probabilities reordered to ``classes`` by label."""
    matrix = bundle.matrix(bundle.prepare(rows))
    if bundle.task == "regression" or list(bundle.classes) == list(classes):
        return matrix
    order = [list(map(str, bundle.classes)).index(str(c)) for c in classes]
    return matrix[:, order]


def _bootstrap(y, preds: dict, metric, seed: int, rounds: int) -> dict[str, np.ndarray]:
    """Paired resamples of the rows (the same rows for both models); resamples on which the
    metric is undefined (one class only, for AUC) are skipped."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {k: [] for k in preds}
    for _ in range(rounds):
        rows = rng.integers(0, len(y), len(y))
        try:
            values = {k: metric.score(y[rows], p[rows]) for k, p in preds.items()}
        except ValueError:
            continue
        for k, v in values.items():
            out[k].append(v)
    return {k: np.asarray(v) for k, v in out.items()}


def _interval(samples: np.ndarray) -> list[float] | None:
    if len(samples) == 0:
        return None
    tail = (1 - LEVEL) / 2 * 100
    return [float(np.percentile(samples, tail)), float(np.percentile(samples, 100 - tail))]
