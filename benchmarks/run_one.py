#!/usr/bin/env python3
"""Run ONE benchmark cell (system, dataset, budget, seed) and print ONE JSON line.

    python benchmarks/run_one.py --system lgbm --dataset credit_g --budget 60 --seed 0

Protocol (as /work/shared/datasets/README.md): read the dataset's CSV, take `target` and `task`
from MANIFEST.tsv, `train_test_split(df, test_size=0.25, random_state=SEED, stratify=df[target]
for classification, None for regression)`, fit on the 75 %, score on the 25 %. The seed is both
the split's random_state and the system's seed, so seed 0 is the datasets' README split (the
one behind peers60.jsonl) and seeds 1, 2, ... are further splits (accuracy.py --seeds N).

The JSON line has the keys of peers60.jsonl: dataset, system, task, budget, seed, fit_s,
single_row_ms, peak_rss_mb, then accuracy, auc (binary), logloss (classification) or rmse, r2
(regression), and primary (AUC for binary, -log loss for multiclass, -RMSE for regression).

- fit_s: wall time of the system's fit call.
- single_row_ms: median over 50 calls (after one warm-up call) of predicting a 1-row DataFrame
  in-process: predict_proba for classification, predict for regression.
- peak_rss_mb: peak RSS (MiB) of this process plus all its children (summed), polled every
  50 ms by a thread, and never less than this process's own ru_maxrss. It covers loading, fit
  and predict. Extra key peak_rss_self_mb: this process alone (ru_maxrss), for comparison with
  figures that count only the main process (AutoGluon's ray workers are children).

Systems: `automl` (ours, main environment), `automl+xgb+cb` (ours with the optional xgboost and
catboost families searched too), `lgbm` (LightGBM defaults with native categoricals),
`flaml` and `autogluon` (run these with the peers venv's python; see accuracy.py). Only the
standard library, pandas, numpy, scikit-learn and psutil are imported at the top; the system
under test is imported lazily. The run happens in a temporary working directory, so files the
systems write (catboost_info/, AutoGluon models, run folders) never land in the repo. Anything
the systems print goes to stderr: stdout carries only the JSON line. A failure exits non-zero
with the traceback on stderr.

Datasets come from --data-dir, else $AUTOML_DATASETS, else ../shared/datasets beside the repo.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd
import psutil
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score, roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import REPO, SYSTEMS, data_dir, read_manifest  # noqa: E402

LATENCY_CALLS = 50
MIB = 2**20

# Metric name each system is told to optimise, by task.
METRIC_NAMES = {
    "automl": {"binary": "auc", "multiclass": "logloss", "regression": "rmse"},
    "flaml": {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"},
    "autogluon": {
        "binary": "roc_auc",
        "multiclass": "log_loss",
        "regression": "root_mean_squared_error",
    },
}


# ---------------------------------------------------------------- datasets


def load_split(
    folder: Path, name: str, target: str, task: str, seed: int = 0
) -> tuple[pd.DataFrame, ...]:
    """The benchmark's seeded 75/25 split of one dataset (seed 0: the README's split)."""
    df = pd.read_csv(folder / f"{name}.csv")
    stratify = df[target] if task != "regression" else None
    train, test = train_test_split(df, test_size=0.25, random_state=seed, stratify=stratify)
    return train, test


# ---------------------------------------------------------------- labels and scores


def label_key(value: Any) -> str:
    """A label as text, with integral numbers written alike (1, 1.0 and np.int64(1) -> '1')."""
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def class_keys(y: pd.Series) -> list[str]:
    """Class labels as sorted keys: the column order sklearn's log_loss(labels=...) expects."""
    return sorted({label_key(v) for v in y.dropna().tolist()})


def align_proba(raw: Any, classes: list[str]) -> np.ndarray:
    """Probability columns of `raw` (DataFrame with class-label columns) in `classes` order."""
    frame = raw if isinstance(raw, pd.DataFrame) else pd.DataFrame(np.asarray(raw))
    by_key = {label_key(col): col for col in frame.columns}
    missing = [c for c in classes if c not in by_key]
    if missing:
        print(f"warning: no probability column for classes {missing}", file=sys.stderr)
    cols = [
        frame[by_key[c]].to_numpy(dtype=float) if c in by_key else np.zeros(len(frame))
        for c in classes
    ]
    proba = np.clip(np.column_stack(cols), 1e-15, 1.0)
    return proba / proba.sum(axis=1, keepdims=True)


def classification_scores(y: pd.Series, proba: np.ndarray, classes: list[str]) -> dict:
    """accuracy, logloss, auc (binary) and primary for aligned probabilities."""
    y_keys = np.array([label_key(v) for v in y.tolist()], dtype=object)
    predicted = np.array(classes, dtype=object)[proba.argmax(axis=1)]
    scores = {"accuracy": float(accuracy_score(y_keys, predicted))}
    scores["logloss"] = float(log_loss(y_keys, proba, labels=classes))
    if len(classes) == 2:
        scores["auc"] = float(roc_auc_score(y_keys == classes[1], proba[:, 1]))
        scores["primary"] = scores["auc"]
    else:
        scores["primary"] = -scores["logloss"]
    return scores


def regression_scores(y: pd.Series, predicted: Any) -> dict:
    """rmse, r2 and primary (-rmse)."""
    y_true = y.to_numpy(dtype=float)
    pred = np.asarray(predicted, dtype=float).ravel()
    rmse = float(np.sqrt(mean_squared_error(y_true, pred)))
    return {"rmse": rmse, "r2": float(r2_score(y_true, pred)), "primary": -rmse}


# ---------------------------------------------------------------- systems under test


class System:
    """One system under test: fit on a training frame, predict raw scores for feature frames."""

    def __init__(self, target: str, task: str, budget: float, seed: int, workdir: Path):
        self.target, self.task, self.budget, self.seed = target, task, budget, seed
        self.workdir = workdir
        self.model: Any = None

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    def fit(self, train: pd.DataFrame) -> None:
        raise NotImplementedError

    def predict_raw(self, features: pd.DataFrame) -> Any:
        """Class-probability DataFrame (columns = labels) or regression predictions."""
        raise NotImplementedError

    def describe(self) -> dict:
        """Extra keys for the result line about what was fitted (none by default)."""
        return {}


class Ours(System):
    families: str | None = None  # the families setting; None: the default set

    def fit(self, train: pd.DataFrame) -> None:
        if str(REPO) not in sys.path:
            sys.path.append(str(REPO))  # last: an installed automl wins over the work tree
        import automl

        metric = METRIC_NAMES["automl"][self.task]
        self.model = automl.fit(
            train,
            target=self.target,
            task=self.task,
            metric=metric,
            time_budget=self.budget,
            seed=self.seed,
            families=self.families,
        )
        keep = os.environ.get("AUTOML_BENCH_LEADERBOARD")
        if keep:  # to study which candidates won: the leaderboard as CSV
            self.model.leaderboard.to_csv(keep, index=False)

    def predict_raw(self, features: pd.DataFrame) -> Any:
        if self.is_classification:
            return self.model.predict_proba(features)
        return self.model.predict(features)

    def describe(self) -> dict:
        """The winner, the weight of each family in it, and the completed trials by family."""
        job = self.model.job
        family = {r.candidate_id: r.family for r in job.results}
        weights: dict[str, float] = {}
        for cid, weight in (job.winner.members or {job.winner.candidate_id: 1.0}).items():
            weights[family[cid]] = round(weights.get(family[cid], 0.0) + weight, 3)
        trials: dict[str, int] = {}
        for r in job.results:
            if r.ok and not r.members:
                trials[r.family] = trials.get(r.family, 0) + 1
        return {"winner": job.winner.candidate_id, "winner_families": weights,
                "trials_by_family": trials}


class OursPlusXgbCb(Ours):
    """Ours searching XGBoost and CatBoost besides the default families (issue 13)."""

    families = "+xgboost,catboost"


class Flaml(System):
    def fit(self, train: pd.DataFrame) -> None:
        from flaml import AutoML

        task = "classification" if self.is_classification else "regression"
        self.model = AutoML()
        self.model.fit(
            train.drop(columns=[self.target]),
            train[self.target],
            task=task,
            time_budget=self.budget,
            metric=METRIC_NAMES["flaml"][self.task],
            n_jobs=2,
            seed=self.seed,
            verbose=0,
        )

    def predict_raw(self, features: pd.DataFrame) -> Any:
        if self.is_classification:
            proba = self.model.predict_proba(features)
            return pd.DataFrame(proba, columns=list(self.model.classes_))
        return self.model.predict(features)


class AutoGluon(System):
    def fit(self, train: pd.DataFrame) -> None:
        from autogluon.tabular import TabularPredictor

        # problem_type is given so that integer targets (abalone's Rings) stay regression.
        predictor = TabularPredictor(
            label=self.target,
            problem_type=self.task,
            eval_metric=METRIC_NAMES["autogluon"][self.task],
            path=str(self.workdir / "autogluon"),
            verbosity=0,
        )
        self.model = predictor.fit(
            train, time_limit=self.budget, presets="best_quality", num_cpus=2
        )

    def predict_raw(self, features: pd.DataFrame) -> Any:
        if self.is_classification:
            return self.model.predict_proba(features)
        return self.model.predict(features)


class Lgbm(System):
    """LightGBM 4 defaults; text columns become pandas categoricals (native categorical splits)."""

    categories: dict[str, pd.Index]

    def prepare(self, features: pd.DataFrame) -> pd.DataFrame:
        out = features.copy()
        for col, cats in self.categories.items():
            codes = cats.get_indexer(out[col])  # unseen levels and missing -> -1 (NaN)
            out[col] = pd.Categorical.from_codes(codes, categories=cats)
        return out

    def fit(self, train: pd.DataFrame) -> None:
        import lightgbm as lgb

        features = train.drop(columns=[self.target])
        text_cols = [c for c in features.columns if is_text(features[c])]
        self.categories = {c: pd.Index(features[c].dropna().unique()) for c in text_cols}
        estimator = lgb.LGBMClassifier if self.is_classification else lgb.LGBMRegressor
        self.model = estimator(n_jobs=2, random_state=self.seed, verbose=-1)
        self.model.fit(self.prepare(features), train[self.target])

    def predict_raw(self, features: pd.DataFrame) -> Any:
        prepared = self.prepare(features)
        if self.is_classification:
            proba = self.model.predict_proba(prepared)
            return pd.DataFrame(proba, columns=list(self.model.classes_))
        return self.model.predict(prepared)


def is_text(series: pd.Series) -> bool:
    """Object or string dtype (pandas 2 object columns, pandas 3 str columns)."""
    return pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)


SYSTEM_CLASSES: dict[str, type[System]] = {
    "automl": Ours,
    "automl+xgb+cb": OursPlusXgbCb,
    "flaml": Flaml,
    "autogluon": AutoGluon,
    "lgbm": Lgbm,
}


# ---------------------------------------------------------------- measurement


class PeakRss:
    """Polls the RSS of this process and its children in a thread; keeps the peak."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def sample(self) -> None:
        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        self.peak = max(self.peak, total)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    @property
    def self_peak_mb(self) -> int:
        """Peak RSS of this process alone (ru_maxrss), without its children."""
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MIB)

    @property
    def peak_mb(self) -> int:
        """Peak summed RSS of this process and its children."""
        return max(round(self.peak / MIB), self.self_peak_mb)


def single_row_ms(system: System, features: pd.DataFrame) -> float:
    """Median latency (ms) of predicting a 1-row DataFrame, after one warm-up call."""
    times = []
    for i in range(LATENCY_CALLS + 1):
        row = features.iloc[[i % len(features)]]
        start = time.perf_counter()
        system.predict_raw(row)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:]) * 1000


def score(system: System, test: pd.DataFrame, train: pd.DataFrame) -> dict:
    """Scores of the fitted system on the test frame (features only are passed in)."""
    features, y = test.drop(columns=[system.target]), test[system.target]
    raw = system.predict_raw(features)
    if not system.is_classification:
        return regression_scores(y, raw)
    classes = class_keys(train[system.target])
    return classification_scores(y, align_proba(raw, classes), classes)


def run(args: argparse.Namespace) -> dict:
    """Fit, score and time one cell; returns the result line."""
    folder = data_dir(args.data_dir)
    meta = read_manifest(folder)[args.dataset]
    target, task = meta["target"], meta["task"]
    line: dict[str, Any] = {
        "dataset": args.dataset,
        "system": args.system,
        "task": task,
        "budget": args.budget,
        "seed": args.seed,
    }
    with PeakRss() as rss, tempfile.TemporaryDirectory(prefix="automl-bench-") as tmp:
        train, test = load_split(folder, args.dataset, target, task, args.seed)
        system = SYSTEM_CLASSES[args.system](target, task, args.budget, args.seed, Path(tmp))
        cwd = os.getcwd()
        os.chdir(tmp)  # whatever the systems write lands in the temp dir
        try:
            start = time.perf_counter()
            system.fit(train)
            line["fit_s"] = round(time.perf_counter() - start, 1)
            scores = score(system, test, train)
            line["single_row_ms"] = single_row_ms(system, test.drop(columns=[target]))
            line.update(system.describe())
        finally:
            os.chdir(cwd)
    line["peak_rss_mb"] = rss.peak_mb
    line["peak_rss_self_mb"] = rss.self_peak_mb
    return {**line, **scores}


def claim_stdout() -> TextIO:
    """Send fd 1 (Python and C-level prints) to stderr; return a handle on the real stdout."""
    sys.stdout.flush()
    real = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return real


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--system", required=True, choices=SYSTEMS)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--budget", type=int, default=60, help="time budget in seconds")
    parser.add_argument("--seed", type=int, default=0, help="split random_state and system seed")
    parser.add_argument(
        "--data-dir",
        help="datasets folder (default: $AUTOML_DATASETS or ../shared/datasets beside the repo)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with claim_stdout() as out:
        line = run(args)
        out.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
