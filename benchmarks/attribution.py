"""The attribution check of a monitoring run for an ensemble winner: time and agreement.

Usage: ``python benchmarks/attribution.py RUN_DIR DATA.csv [--rows 200] [--skip-before]``,
RUN_DIR an ``automl run --output`` whose winner is a voting ensemble. ``--rows`` rows of the
data (a seeded sample, target dropped) are captured as single-row CSV requests, as
``automl serve-model --capture-dir`` writes them; then one monitoring run (what ``automl
monitor`` calls) is timed three ways:

- before: the window's importance as monitoring computed it until now, a permutation SHAP of
  the whole vote over up to 200 rows (which the training baseline never used: it is the
  members' weighted importance);
- after: :func:`automl.explain.global_importance`, the computation behind the baseline;
- without the attribution check.

Agreement: nDCG (the check's own measure) of the after-importance and of the training
baseline against the whole vote's permutation SHAP (the reference: model-agnostic, on the
vote's probability scale), and the check's nDCG of the window against the baseline before and
after (an unshifted sample: a value under 0.9 is a false alarm).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import automl
from automl.endpoint_monitor import global_importance, model_outputs
from automl.explain import explain_global
from automl.monitoring.baseline import Baseline
from automl.monitoring.capture import CaptureWriter
from automl.monitoring.drift import ndcg
from automl.monitoring.run import run_monitoring


def capture(bundle, rows: pd.DataFrame, directory: Path) -> Path:
    """``rows`` as single-row CSV requests with the model's answers, in the capture layout."""
    writer = CaptureWriter(directory, "bench")
    outputs = model_outputs(bundle)(rows)
    for i in range(len(rows)):
        body = rows.iloc[[i]].to_csv(index=False)
        answer = ",".join(f"{v:.6g}" for v in np.atleast_1d(outputs[i]))
        writer.capture(body, "text/csv", answer, "text/csv", inference_id=f"r{i}")
    writer.close()
    return writer.directory


def timed_run(bundle, baseline, capture_dir, importance) -> tuple[float, dict]:
    seen: dict = {}

    def recorded(frame):
        seen["importance"] = importance(frame) if importance else None
        return seen["importance"]

    metadata = {**bundle.metadata, "task": bundle.task, "classes": bundle.classes}
    start = time.perf_counter()
    run = run_monitoring(capture_dir, baseline, bundle.schema.to_dict(), metadata,
                         predict=model_outputs(bundle),
                         importance=recorded if importance else None)
    seen["attribution"] = run.report.get("attribution")
    return time.perf_counter() - start, seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("data")
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--skip-before", action="store_true")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    bundle = automl.load(run_dir)
    baseline = Baseline.load(run_dir / "monitoring")
    data = pd.read_csv(args.data).drop(columns=[bundle.schema.target])
    rows = data.sample(min(args.rows, len(data)), random_state=1).reset_index(drop=True)
    out = {"run": str(run_dir), "rows": len(rows),
           "members": [[type(m[-1]).__name__, round(w, 4)]
                       for m, w in zip(bundle.model.estimators_, bundle.model.weights,
                                       strict=True)]}
    with tempfile.TemporaryDirectory() as tmp:
        directory = capture(bundle, rows, Path(tmp))
        out["run_s_without_attribution"], _ = timed_run(bundle, baseline, directory, None)
        out["run_s_after"], after = timed_run(bundle, baseline, directory,
                                              global_importance(bundle))
        out["ndcg_window_vs_baseline_after"] = after["attribution"]["ndcg"]
        if not args.skip_before:
            def before(frame):
                return explain_global(bundle, frame, max_rows=200)
            out["run_s_before"], old = timed_run(bundle, baseline, directory, before)
            out["ndcg_window_vs_baseline_before"] = old["attribution"]["ndcg"]
            reference = old["importance"]
            out["ndcg_after_vs_whole_vote"] = ndcg(reference, after["importance"])
            out["ndcg_baseline_vs_whole_vote"] = ndcg(reference,
                                                      baseline.importance["importance"])
            out["whole_vote_top5"] = list(reference)[:5]
        out["after_top5"] = list(after["importance"])[:5]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
