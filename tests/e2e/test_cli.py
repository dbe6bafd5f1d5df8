"""The CLI end to end on sample_data: run, the output directory, predict, and a loaded bundle."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

import automl

LIMIT_MS = 0.1  # tiny: k-NN and most ensembles of titanic's trials are slower


def automl_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "automl", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def titanic_run(sample_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "titanic"
    (out / ".work-killed").mkdir(parents=True)  # what a run killed in this output left behind
    (out / ".work-killed" / "data.pkl").write_bytes(b"the training data")
    proc = automl_cli("run", sample_data / "titanic.csv", "--target", "Survived",
                      "--time-budget", 30, "--seed", 1, "--max-latency-ms", LIMIT_MS,
                      "--output", out)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_run_prints_progress_and_leaderboard(titanic_run):
    _, proc = titanic_run
    assert "complete" in proc.stderr
    assert "leaderboard (auc, higher is better)" in proc.stdout
    assert "saved to" in proc.stdout
    assert re.search(r"winner: \S+, (refit on all rows|bagged over 5 folds)", proc.stdout)


def test_output_directory_holds_bundle_and_reports(titanic_run):
    out, _ = titanic_run
    assert not list(out.glob(".work-*")), "no copy of the training data is left, old or new"
    for name in ("model/model.joblib", "model/schema.json", "model/metadata.json",
                 "leaderboard.csv", "leaderboard.json", "profile.json", "settings.json"):
        assert (out / name).is_file(), name
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["metric"] == "auc" and board["greater_is_better"] is True
    top = board["rows"][0]
    assert top["rank"] == 1 and 0.7 < top["score"] <= 1.0
    for key in ("candidate_id", "family", "recipe", "params", "score_std", "fit_s",
                "predict_ms_per_row", "size_bytes", "state"):
        assert key in top
    meta = json.loads((out / "model" / "metadata.json").read_text())
    assert meta["seed"] == 1 and meta["metric"] == "auc" and meta["classes"] == [0, 1]
    assert {"scikit-learn", "lightgbm", "pandas"} <= set(meta["versions"])
    assert len(meta["data_hash"]) == 64
    profile = json.loads((out / "profile.json").read_text())
    assert profile["task"] == "binary" and profile["n_rows"] == 891
    assert len(list((out / "trials").glob("*.json"))) == len(board["rows"])


def test_the_winner_answers_within_the_latency_limit_or_the_job_warns(titanic_run):
    out, proc = titanic_run
    board = json.loads((out / "leaderboard.json").read_text())
    done = [r for r in board["rows"] if r["state"] == "complete"]
    assert all(r["latency_ms"] > 0 for r in done)
    may_win = [not r["excluded"] for r in done]
    assert may_win == sorted(may_win, reverse=True), "excluded rows rank after the others"
    assert all(r["latency_ms"] > LIMIT_MS for r in done if r["excluded"])
    meta = json.loads((out / "model" / "metadata.json").read_text())
    winner = next(r for r in done if r["candidate_id"] == meta["candidate_id"])
    assert winner["latency_ms"] == meta["latency_ms"] and not winner["excluded"]
    warned = [w for w in board["warnings"] if w["code"] == "latency_over_limit"]
    assert winner["latency_ms"] <= LIMIT_MS or warned, (winner, board["warnings"])
    assert "row p50 ms" in proc.stdout


def test_predict_writes_rows_in_order(titanic_run, sample_data, tmp_path):
    out, _ = titanic_run
    rows = pd.read_csv(sample_data / "titanic.csv").drop(columns="Survived").head(50)
    rows.to_csv(tmp_path / "new.csv", index=False)
    proc = automl_cli("predict", out, tmp_path / "new.csv", "--output", tmp_path / "pred.csv")
    assert proc.returncode == 0, proc.stderr
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert list(pred.columns) == ["prediction", "probability_0", "probability_1"]
    assert len(pred) == 50
    bundle = automl.load(out)
    assert pred["prediction"].tolist() == list(bundle.predict(rows))
    assert (pred["probability_0"] + pred["probability_1"]).round(6).eq(1).all()


def test_predict_with_include_input_puts_each_row_before_its_prediction(titanic_run, sample_data,
                                                                       tmp_path):
    out, _ = titanic_run
    proc = automl_cli("predict", out, sample_data / "titanic.csv", "--output", tmp_path / "j.csv",
                      "--include-input")
    assert proc.returncode == 0, proc.stderr
    joined = pd.read_csv(tmp_path / "j.csv")
    source = pd.read_csv(sample_data / "titanic.csv")
    assert list(joined.columns) == list(source.columns) + ["prediction", "probability_0",
                                                           "probability_1"]
    pd.testing.assert_frame_equal(joined[source.columns], source)
    assert (joined["prediction"] == joined["Survived"]).mean() > 0.7


def test_predict_names_missing_columns(titanic_run, sample_data, tmp_path):
    out, _ = titanic_run
    rows = pd.read_csv(sample_data / "titanic.csv").drop(columns=["Survived", "Age"]).head(5)
    rows.to_csv(tmp_path / "bad.csv", index=False)
    proc = automl_cli("predict", out, tmp_path / "bad.csv", "--output", tmp_path / "p.csv")
    assert proc.returncode == 2
    assert "missing columns: 'Age'" in proc.stderr and "Traceback" not in proc.stderr


def test_regression_run_and_predict(sample_data, tmp_path):
    out = tmp_path / "abalone"
    proc = automl_cli("run", sample_data / "abalone.csv", "--target", "Rings",
                      "--max-candidates", 3, "--trial-timeout", 30, "--output", out)
    assert proc.returncode == 0, proc.stderr
    assert "leaderboard (rmse, lower is better)" in proc.stdout
    assert json.loads((out / "settings.json").read_text())["trial_timeout"] == 30
    proc = automl_cli("predict", out / "model", sample_data / "abalone.csv", "--output", tmp_path / "p.csv")
    assert proc.returncode == 0, proc.stderr
    pred = pd.read_csv(tmp_path / "p.csv")
    truth = pd.read_csv(sample_data / "abalone.csv")["Rings"]
    assert list(pred.columns) == ["prediction"]
    assert ((pred["prediction"] - truth) ** 2).mean() ** 0.5 < 3.0


def test_a_trial_timeout_must_be_positive(tmp_path, sample_data):
    proc = automl_cli("run", sample_data / "abalone.csv", "--target", "Rings",
                      "--trial-timeout", -1, "--output", tmp_path / "x")
    assert proc.returncode == 2 and "trial_timeout must be positive" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_metric_that_does_not_fit_the_target_is_refused_before_any_trial(tmp_path, sample_data):
    proc = automl_cli("run", sample_data / "vehicle.csv", "--target", "Class", "--metric", "rmse",
                      "--max-candidates", 1, "--output", tmp_path / "x")
    assert proc.returncode == 2, proc.stderr
    assert "metric 'rmse' does not fit a multiclass task; use one of: auc, logloss" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "x").exists()


def test_unknown_model_directory(tmp_path, sample_data):
    proc = automl_cli("predict", tmp_path, sample_data / "abalone.csv", "--output", tmp_path / "p.csv")
    assert proc.returncode == 2 and "no model bundle" in proc.stderr


def test_the_budget_counts_from_the_moment_the_command_started(sample_data, tmp_path):
    """A slow start (the interpreter, the imports, a busy disk) is part of the job's time: the
    first trial is reported at least that long after the command started."""
    slow_start = 12.0
    code = (f"import sys, time; time.sleep({slow_start}); from automl.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "run", sample_data / "titanic.csv",
                           "--target", "Survived", "--time-budget", "45", "--max-candidates", "1",
                           "--output", tmp_path / "out"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    first = re.search(r"^\s*([\d.]+)s \S+\s+(complete|timed-out|failed)", proc.stderr, re.M)
    assert first is not None, proc.stderr
    assert float(first.group(1)) >= slow_start


def test_an_exit_handler_that_fails_after_the_results_prints_no_traceback():
    """What nbclient's handler does when a job ended without its exploration notebook: it
    stops a kernel that is already gone, and raises. The user has the results; stderr stays
    free of tracebacks, and the exit code is the job's."""
    code = ("import atexit; from automl.cli import exit_now; "
            "atexit.register(lambda: None.cleanup_resources()); print('saved'); exit_now(0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout == "saved\n"
    assert "Traceback" not in done.stderr and "AttributeError" not in done.stderr
