#!/usr/bin/env python3
"""Feature twins against their plain candidate, without the search's luck: the same LightGBM
configurations fitted with and without a twin's feature, scored on held-out rows.

For every dataset (--datasets) and seed (--seeds N from --seed), the split of run_one.py
(75/25, random_state=seed, stratified for classification); on the 75 %, each of LightGBM's first
--defaults portfolio configurations is fitted as the plain ``lightgbm`` candidate and as each
twin the generator offers for the data (``lightgbm_log1p`` for a skewed regression target,
``lightgbm_te`` for high-cardinality categoricals), one thread each; then scored on the 25 %
(AUC for binary, log loss for multiclass, RMSE for regression). Prints one line per fit and, per
dataset and twin, the paired edge over seeds and configurations (relative for log loss and RMSE,
AUC points for AUC; positive = the twin is better), its mean ± sample std and the call of
seeded.py's rule (ahead / behind only where |mean| > std). Unlike accuracy.py it does not depend
on how many trials a loaded machine runs in a minute, only on CPU time.

    python benchmarks/features.py --datasets california_housing,abalone --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score, root_mean_squared_error
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import REPO, data_dir, read_manifest  # noqa: E402

sys.path.append(str(REPO))
from automl.candidates.base import DataShape  # noqa: E402
from automl.candidates.generator import build_pipeline, generate_candidates  # noqa: E402
from automl.candidates.twins import TWINS  # noqa: E402
from automl.data.profile import profile_dataset  # noqa: E402
from automl.data.schema import InputSchema  # noqa: E402
from automl.data.target import class_labels, encode_target, skewed_positive  # noqa: E402
from automl.engine import high_cardinality  # noqa: E402
from automl.model.pipeline import predict_matrix  # noqa: E402

DEFAULT_DATASETS = "california_housing,diamonds,abalone,adult,bank_marketing,titanic,credit_g"


def split(frame: pd.DataFrame, target: str, task: str, seed: int):
    stratify = None if task == "regression" else frame[target]
    return train_test_split(frame, test_size=0.25, random_state=seed, stratify=stratify)


def score(task: str, y: np.ndarray, pred: np.ndarray) -> float:
    """Lower is better: RMSE, log loss, or 1 - AUC."""
    if task == "regression":
        return float(root_mean_squared_error(y, pred))
    if task == "binary":
        return 1.0 - float(roc_auc_score(y, pred[:, 1]))
    return float(log_loss(y, np.clip(pred, 1e-15, 1), labels=np.arange(pred.shape[1])))


def edge(task: str, plain: float, twin: float) -> float:
    return plain - twin if task == "binary" else (plain - twin) / plain


def run_cell(frame: pd.DataFrame, target: str, task: str, seed: int, n_defaults: int):
    """{(twin name, config index): (plain loss, twin loss)} on one seeded split."""
    train, test = split(frame, target, task, seed)
    profile, kept = profile_dataset(train, target, task=task)
    schema = InputSchema.from_profile(profile)
    classes = None if task == "regression" else class_labels(kept[target])
    X, y = schema.coerce(kept, strict=False), encode_target(kept[target], task, classes)
    test = test[test[target].notna()]
    X_test, y_test = schema.coerce(test, strict=False), encode_target(test[target], task, classes)
    shape = DataShape(len(X), len(schema.names), task, len(classes or ()),
                      skewed_target=task == "regression" and skewed_positive(y))
    specs = generate_candidates(shape, families=["lightgbm", *TWINS],
                                encoded=high_cardinality(profile))
    losses = {}
    for spec in specs:
        for k, params in enumerate(spec.defaults[:n_defaults]):
            start = time.process_time()
            with threadpool_limits(1):
                model = build_pipeline(spec, params, schema, seed).fit(X, y)
                pred = predict_matrix(model, X_test, task, len(classes or ()))
            losses[(spec.name, k)] = score(task, y_test, pred)
            print(f"  {spec.name:16s} seed {seed} config {k}  loss {losses[(spec.name, k)]:.5f}"
                  f"  cpu {time.process_time() - start:.1f} s", flush=True)
    return {(name, k): (losses[("lightgbm", k)], loss) for (name, k), loss in losses.items()
            if name != "lightgbm"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=DEFAULT_DATASETS)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--defaults", type=int, default=2, help="portfolio configs per candidate")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    folder = data_dir(args.data_dir)
    manifest = read_manifest(folder)
    summary = []
    for name in args.datasets.split(","):
        row = manifest[name]
        frame = pd.read_csv(folder / f"{name}.csv")
        print(f"{name} ({row['task']})", flush=True)
        edges: dict[str, list[float]] = {}
        for seed in range(args.seed, args.seed + args.seeds):
            cell = run_cell(frame, row["target"], row["task"], seed, args.defaults)
            for (twin, _), (plain, loss) in cell.items():
                edges.setdefault(twin, []).append(edge(row["task"], plain, loss))
        for twin, values in edges.items():
            mean, sd = statistics.mean(values), statistics.stdev(values)
            call = "ahead" if mean > sd else "behind" if mean < -sd else "within noise"
            unit = "AUC pts" if row["task"] == "binary" else "relative"
            summary.append(f"{name:20s} {twin:16s} edge {mean:+.4f} ± {sd:.4f} ({unit}, "
                           f"{len(values)} pairs) -> {call}")
    if not summary:
        print("no twin was offered for these datasets")
    print("\n".join(["", "## twin vs plain lightgbm (positive: twin better)", *summary]))


if __name__ == "__main__":
    main()
