"""One notebook per leaderboard row: re-run that candidate offline and get the same score.

The notebook reads the CSV, coerces columns as the service does, encodes the target, makes the
job's folds (same splitter, same seed), rebuilds the pipeline in plain scikit-learn / LightGBM
calls, cross-validates it into ``cv_score``, then fits on all rows and saves the model.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import nbformat.v4 as nbf

from automl.candidates.generator import build_pipeline
from automl.data.splits import MAX_HOLDOUT
from automl.notebooks import cells
from automl.notebooks.cells import code, md
from automl.notebooks.render import Imports, render

_BINARY_PROBA = "pred[:, 1]"
METRIC_CODE = {
    "auc": ("roc_auc_score", "roc_auc_score(y_true, {auc_input}{auc_kw})"),
    "logloss": ("log_loss", "log_loss(y_true, clipped(pred), labels=np.arange(pred.shape[1]))"),
    "accuracy": ("accuracy_score", "accuracy_score(y_true, pred.argmax(axis=1))"),
    "balanced_accuracy": ("balanced_accuracy_score",
                          "balanced_accuracy_score(y_true, pred.argmax(axis=1))"),
    "f1": ("f1_score", "f1_score(y_true, pred.argmax(axis=1), zero_division=0)"),
    "f1_macro": ("f1_score",
                 "f1_score(y_true, pred.argmax(axis=1), average='macro', zero_division=0)"),
    "precision": ("precision_score", "precision_score(y_true, pred.argmax(axis=1), zero_division=0)"),
    "recall": ("recall_score", "recall_score(y_true, pred.argmax(axis=1), zero_division=0)"),
    "rmse": ("root_mean_squared_error", "root_mean_squared_error(y_true, pred)"),
    "mse": ("mean_squared_error", "mean_squared_error(y_true, pred)"),
    "mae": ("mean_absolute_error", "mean_absolute_error(y_true, pred)"),
    "r2": ("r2_score", "r2_score(y_true, pred)"),
}


def metric_source(name: str, task: str) -> str:
    """``def score(y_true, pred)`` for metric ``name``, as scikit-learn calls."""
    fn, expr = METRIC_CODE[name]
    binary = task == "binary"
    expr = expr.format(auc_input=_BINARY_PROBA if binary else "pred",
                       auc_kw="" if binary else ", multi_class='ovr', labels=np.arange(pred.shape[1])")
    helper = ""
    if name == "logloss":
        helper = ("\n\ndef clipped(pred):\n    pred = np.clip(pred, 1e-15, 1.0)\n"
                  "    return pred / pred.sum(axis=1, keepdims=True)\n")
    return (f"from sklearn.metrics import {fn}\n{helper}\n\n"
            f"def score(y_true, pred):\n    \"\"\"{name}, as on the leaderboard.\"\"\"\n"
            f"    return float({expr})")


def folds_source(task: str, n_folds: int, class_counts: dict, n_rows: int) -> str:
    """The job's folds: the same splitter and seed as :func:`automl.data.splits.make_folds`."""
    smallest = min(class_counts.values()) if class_counts else 0
    if n_folds == 1:
        stratify = "y" if task != "regression" and smallest >= 2 else "None"
        size = min(0.2, MAX_HOLDOUT / n_rows)
        return ("from sklearn.model_selection import train_test_split\n\n"
                f"train, valid = train_test_split(np.arange(len(y)), test_size={size!r}, "
                f"random_state=FOLD_SEED, stratify={stratify})\n"
                "folds = [(np.sort(train), np.sort(valid))]")
    splitter = "StratifiedKFold" if task != "regression" and smallest >= 2 else "KFold"
    return (f"from sklearn.model_selection import {splitter}\n\n"
            f"splitter = {splitter}({n_folds}, shuffle=True, random_state=FOLD_SEED)\n"
            "with warnings.catch_warnings():\n"
            "    warnings.simplefilter('ignore')  # a class smaller than the number of folds\n"
            "    folds = list(splitter.split(np.zeros(len(y)), y))\n"
            "print([len(valid) for _, valid in folds])")


def model_cells(job, candidate_id: str) -> list:
    """``make_model()``: the candidate's pipeline (or the ensemble's weighted vote) written out,
    after a cell with the code of the transformers it uses beyond scikit-learn's, if any."""
    imports = Imports()
    row = next(r for r in job.results if r.candidate_id == candidate_id)
    if not row.members:
        body = _pipeline_functions(job, candidate_id, "make_model", imports)
    else:
        body = _ensemble_functions(job, row.members, imports)
    model = code("\n".join(imports.lines()) + "\n\n\n" + body)
    extra = imports.inline_source()
    if not extra:
        return [model]
    return [md("Transformers the pipeline uses beyond scikit-learn's, written out (from the "
               "service's own code) so that this notebook needs no package of ours:"),
            code(extra), model]


def _pipeline_functions(job, candidate_id: str, name: str, imports: Imports) -> str:
    trial = job.trials[candidate_id]
    return pipeline_source(trial.spec, trial.params, job.bundle.schema, trial.seed, name, imports)


def pipeline_source(spec, params: dict, schema, seed: int, name: str, imports: Imports) -> str:
    """``def name():`` returning the unfitted pipeline of ``spec`` with ``params``, as code."""
    pipeline = build_pipeline(spec, params, schema, seed)
    steps = ",\n".join(f"        ({step!r}, {render(obj, imports, 8)})"
                       for step, obj in pipeline.steps)
    imports.add(type(pipeline))
    return (f"def {name}():\n    \"\"\"{spec.recipe} preprocessing, then {spec.family}."
            f"\"\"\"\n    return Pipeline([\n{steps},\n    ])")


def _ensemble_functions(job, members: dict, imports: Imports) -> str:
    parts = [_pipeline_functions(job, cid, f"make_{cid}", imports) for cid in members]
    estimators = ", ".join(f"({cid!r}, make_{cid}())" for cid in members)
    weights = list(members.values())
    if job.profile.task == "regression":
        vote = f"VotingRegressor([{estimators}], weights={weights!r})"
        from sklearn.ensemble import VotingRegressor as voter
    else:
        vote = f"VotingClassifier([{estimators}], voting='soft', weights={weights!r})"
        from sklearn.ensemble import VotingClassifier as voter
    imports.add(voter)
    parts.append(f"def make_model():\n    \"\"\"The weighted average of the members' predictions."
                 f"\"\"\"\n    return {vote}")
    return "\n\n\n".join(parts)


CV_SOURCE = '''\
def predict(model, X_valid):
    """Regression values, or probabilities over every class code 0..K-1."""
    if TASK == "regression":
        return np.asarray(model.predict(X_valid), dtype=float)
    proba = np.asarray(model.predict_proba(X_valid), dtype=float)
    full = np.zeros((len(X_valid), len(CLASSES)))
    full[:, np.asarray(model.classes_, dtype=int)] = proba
    return full


fold_scores = []
with threadpool_limits(1), warnings.catch_warnings():  # single-threaded, like the search
    warnings.simplefilter("ignore")
    for train, valid in folds:
        model = make_model().fit(X.iloc[train], y[train])
        fold_scores.append(score(y[valid], predict(model, X.iloc[valid])))
cv_score = float(np.mean(fold_scores))
print(f"cross-validated {METRIC}: {cv_score:.4g} (std {np.std(fold_scores):.3g}) "
      f"over {len(folds)} fold(s); leaderboard: {LEADERBOARD_SCORE:.4g}")'''

FIT_SOURCE = '''\
with threadpool_limits(1), warnings.catch_warnings():
    warnings.simplefilter("ignore")
    final_model = make_model().fit(X, y)
joblib.dump(final_model, MODEL_PATH)
print(f"fitted on {len(y)} rows; saved to {MODEL_PATH}")'''


def candidate_notebook(job, candidate_id: str, data_path: str | Path, shown: str | None = None
                       ) -> nbformat.NotebookNode:
    """The notebook that re-runs leaderboard row ``candidate_id`` (see the module doc).

    ``data_path`` is the file read to write the cells; ``shown`` the one they read (``DATA_PATH``,
    default ``data_path``)."""
    row = next(r for r in job.results if r.candidate_id == candidate_id)
    metric, task = job.metric.name, job.profile.task
    seed = job.trials[candidate_id].seed if candidate_id in job.trials else job.settings.seed
    n_folds = len(row.fold_scores)
    nb = nbf.new_notebook()
    nb.cells = [
        md(f"# Candidate `{candidate_id}`: {row.family} ({row.recipe})\n\n"
           f"Leaderboard {metric}: **{row.score:.6g}** (std {row.score_std:.3g}) over {n_folds} "
           "fold(s). Running this notebook top to bottom rebuilds the candidate with plain "
           "scikit-learn calls, re-scores it on the job's folds (`cv_score`), then fits it "
           "on every row and saves the model. Change `DATA_PATH` to point at your copy."),
        code(f"DATA_PATH = {shown or str(data_path)!r}\nTARGET = {job.profile.target!r}\n"
             f"TASK = {task!r}\nMETRIC = {metric!r}\nFOLD_SEED = {job.settings.seed!r}\n"
             f"SEED = {seed!r}  # the model's random_state, written into the pipeline below\n"
             f"LEADERBOARD_SCORE = {row.score!r}\nMODEL_PATH = {f'{candidate_id}.joblib'!r}"),
        code("import warnings\n\nimport joblib\nimport numpy as np\nimport pandas as pd\n"
             "from threadpoolctl import threadpool_limits"),
        md("## Data\nRead with the options the service used; rows without a target are dropped."),
        code(cells.load_cell(data_path)),
        md("## Column coercion\nThe same rules as the model's input schema: numbers as floats, "
           "categories as strings (integer codes normalised), booleans as 0/1, text as strings."),
        code(cells.COERCE_HELPERS),
        code(cells.coerce_cell(job.bundle.schema)),
        md("## Target"),
        code(cells.target_cell(task, job.bundle.classes)),
        md("## Folds\nThe job's folds: every candidate was scored on exactly these rows."),
        code(folds_source(task, n_folds, job.profile.class_counts, len_rows(job))),
        md("## The model"),
        *model_cells(job, candidate_id),
        md(f"## Cross-validated score ({metric})"),
        code(metric_source(metric, task)),
        code(CV_SOURCE),
        md("## Fit on all rows and save"),
        code(FIT_SOURCE),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def len_rows(job) -> int:
    """Rows with a target (the rows the folds cover)."""
    return int(job.profile.n_rows)
