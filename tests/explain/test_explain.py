"""SHAP explanations add up, speak in original columns; quality reports are written."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import automl
from automl.candidates.generator import build_pipeline
from automl.explain import explain_global, explain_rows, write_explanations
from automl.explain.honesty import close_call
from automl.explain.quality import write_quality
from automl.explain.transparency import training_rows
from automl.model.bundle import ModelBundle


@pytest.fixture(scope="module")
def job(tmp_path_factory, sample_data):
    """A binary job on 300 titanic rows: text, categorical and numeric columns, an ensemble."""
    path = tmp_path_factory.mktemp("explain") / "titanic.csv"
    pd.read_csv(sample_data / "titanic.csv").head(300).to_csv(path, index=False)
    result = automl.fit(path, "Survived", time_budget=None, max_candidates=6, n_jobs=2)
    return result.job, path


@pytest.fixture(scope="module")
def regression_job(tmp_path_factory, sample_data):
    path = tmp_path_factory.mktemp("explain-reg") / "abalone.csv"
    pd.read_csv(sample_data / "abalone.csv").head(300).to_csv(path, index=False)
    result = automl.fit(path, "Rings", time_budget=None, max_candidates=2, n_jobs=2)
    return result.job, path


def _bundle(job, candidate_id: str, path) -> ModelBundle:
    """The candidate refitted on all rows, as a bundle (the job keeps only the winner's)."""
    frame, y, _ = training_rows(job, path)
    trial = job.trials[candidate_id]
    pipeline = build_pipeline(trial.spec, trial.params, job.bundle.schema, trial.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(job.bundle.schema.coerce(frame, strict=False), y)
    return ModelBundle(pipeline, job.bundle.schema, job.profile.task, job.bundle.classes)


def _check_rows(bundle, frame) -> list[dict]:
    rows = explain_rows(bundle, frame)
    assert len(rows) == len(frame)
    for row in rows:
        assert set(row["contributions"]) == set(bundle.schema.names)
        total = row["base_value"] + sum(row["contributions"].values())
        assert total == pytest.approx(row["prediction"], abs=1e-6)
    return rows


def _families(job) -> dict[str, str]:
    out = {}
    for cid, trial in sorted(job.trials.items()):
        out.setdefault(trial.spec.family, cid)
    return out


@pytest.mark.parametrize("family", ["lightgbm", "linear", "random_forest",
                                    "hist_gradient_boosting"])
def test_contributions_add_up_to_the_prediction(job, family):
    job, path = job
    cid = _families(job).get(family)
    if cid is None:
        pytest.skip(f"no {family} trial in this small job")
    bundle = _bundle(job, cid, path)
    frame = pd.read_csv(path).head(5)
    rows = _check_rows(bundle, frame)
    proba = bundle.predict_proba(frame).to_numpy()[:, 1]
    scale = rows[0]["output"]
    got = np.array([r["prediction"] for r in rows])
    expected = proba if scale == "probability" else np.log(proba / (1 - proba))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def _ensemble_bundle(job, path) -> ModelBundle:
    """The job's winner if an ensemble won, else an even ensemble of its two best trials."""
    if job.winner.members:
        return job.bundle
    from automl.finalize import assemble_ensemble
    from automl.search.evaluate import TrainingData

    best = sorted((r for r in job.results if r.ok and not r.members),
                  key=lambda r: job.metric.loss(r.score))[:2]
    fitted = {r.candidate_id: _bundle(job, r.candidate_id, path).model for r in best}
    frame, y, _ = training_rows(job, path)
    schema = job.bundle.schema
    data = TrainingData(schema.coerce(frame, strict=False), y, job.profile.task,
                        len(job.bundle.classes), schema, [])
    model = assemble_ensemble(fitted, {cid: 0.5 for cid in fitted}, data)
    return ModelBundle(model, schema, job.profile.task, job.bundle.classes)


def test_ensemble_rows_add_up_in_probability(job):
    job, path = job
    bundle = _ensemble_bundle(job, path)
    frame = pd.read_csv(path).head(3)
    rows = _check_rows(bundle, frame)
    assert {r["output"] for r in rows} == {"probability"}
    proba = bundle.predict_proba(frame).to_numpy()[:, 1]
    np.testing.assert_allclose([r["prediction"] for r in rows], proba, atol=1e-9)


def test_regression_rows_add_up_to_the_value(regression_job):
    job, path = regression_job
    frame = pd.read_csv(path).head(10)
    rows = _check_rows(job.bundle, frame)
    np.testing.assert_allclose([r["prediction"] for r in rows], job.bundle.predict(frame))


def test_global_importance_is_per_original_column(job):
    job, path = job
    bundle = _bundle(job, _families(job)["linear"], path)  # one-hot and TF-IDF pieces
    importance = explain_global(bundle, pd.read_csv(path), max_rows=60)
    assert list(importance) and set(importance) == set(bundle.schema.names)
    assert list(importance.values()) == sorted(importance.values(), reverse=True)
    assert importance["Sex"] > 0


def test_write_explanations_and_quality(job, tmp_path):
    job, path = job
    frame, y, folds = training_rows(job, path)
    write_explanations(job, tmp_path, frame.head(30))
    doc = json.loads((tmp_path / "explanations" / job.winner.candidate_id / "importance.json")
                     .read_text())
    assert set(doc["importance"]) == set(job.bundle.schema.names)
    assert (tmp_path / "explanations" / job.winner.candidate_id / "importance.svg").is_file()
    report = write_quality(job.winner, y, folds, "binary", job.bundle.classes, tmp_path)
    directory = tmp_path / "quality" / job.winner.candidate_id
    assert np.sum(report["confusion_matrix"]) == len(y)
    assert [r["threshold"] for r in report["thresholds"]][4] == 0.5
    for name in report["figures"]:
        assert (directory / name).read_text().lstrip().startswith(("<?xml", "<svg"))
    assert json.loads((directory / "report.json").read_text())["rows"] == len(y)


def test_regression_quality(regression_job, tmp_path):
    job, path = regression_job
    _, y, folds = training_rows(job, path)
    report = write_quality(job.winner, y, folds, "regression", None, tmp_path)
    assert report["rmse"] == pytest.approx(job.winner.secondary["rmse"], rel=1e-9)
    assert {"residuals.svg", "predicted_vs_actual.svg"} <= set(report["figures"])


def test_close_call():
    board = pd.DataFrame({"rank": [1, 2], "candidate_id": ["a", "b"], "score": [0.90, 0.89],
                          "score_std": [0.02, 0.01], "state": ["complete", "complete"]})
    assert "close call" in close_call(board)
    board["score"] = [0.95, 0.89]
    assert close_call(board) is None
    assert close_call(board.head(1)) is None


def test_one_row_is_explained_against_the_training_rows(job):
    """A single request row: the reference is the bundle's training sample, not the row itself
    (which would make every contribution 0)."""
    job, path = job
    bundle = _ensemble_bundle(job, path)
    frame, _, _ = training_rows(job, path)
    bundle.background = ModelBundle.background_of(bundle.prepare(frame))
    rows = _check_rows(bundle, pd.read_csv(path).head(1))
    assert any(abs(v) > 1e-6 for v in rows[0]["contributions"].values())
    assert rows[0]["base_value"] != pytest.approx(rows[0]["prediction"])


def _luminance(rgba) -> float:
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_confusion_matrix_counts_are_readable_on_every_cell():
    """Each count against its cell's colour has at least WCAG AA contrast (4.5:1)."""
    from matplotlib.colors import to_rgba

    from automl.explain.quality import confusion_axes

    matrix = np.array([[812, 3, 0], [12, 260, 40], [1, 30, 90]])
    _, ax = confusion_axes(matrix, ["a", "b", "c"])
    image = ax.images[0]
    assert len(ax.texts) == matrix.size
    for text in ax.texts:
        j, i = (int(round(v)) for v in text.get_position())
        lums = sorted([_luminance(to_rgba(text.get_color())),
                       _luminance(image.cmap(image.norm(matrix[i, j])))])
        assert (lums[1] + 0.05) / (lums[0] + 0.05) >= 4.5, (text.get_text(), text.get_color())


def test_a_monitoring_window_of_an_ensemble_is_explained_as_its_baseline(job):
    """The attribution check compares the window's importance with the job's importance.json:
    both come from the members' exact explainers (shares that sum to 1), so an unshifted window
    ranks the columns as the baseline does."""
    from automl.endpoint_monitor import global_importance as window_importance
    from automl.explain import global_importance
    from automl.monitoring.drift import ndcg

    job, path = job
    bundle = _ensemble_bundle(job, path)
    frame = pd.read_csv(path).drop(columns="Survived")
    baseline = global_importance(bundle, frame)
    assert baseline["output"] == "share"
    window = frame.sample(150, random_state=1)
    found = window_importance(bundle)(window)
    assert found == global_importance(bundle, window)["importance"]
    assert sum(found.values()) == pytest.approx(1.0)
    assert ndcg(baseline["importance"], found) >= 0.9
