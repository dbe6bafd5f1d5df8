"""The job-level notebooks: data exploration (executed at generation) and candidate definitions."""

from __future__ import annotations

import json
import pprint
from pathlib import Path

import nbformat
import nbformat.v4 as nbf

from automl.notebooks import cells
from automl.notebooks.candidate import model_cells
from automl.notebooks.cells import code, md

EXPLORE_SOURCE = {
    "summary": '''\
print(f"rows: {len(raw)} with a target ({n_read - len(raw)} without, dropped)")
print(f"columns: {raw.shape[1]}; exact duplicate rows: {int(raw.duplicated().sum())}")
if TASK == "regression":
    invalid = pd.to_numeric(raw[TARGET], errors="coerce").isna().sum()
    print(f"target values that are not numbers: {invalid}")
print(f"task: {TASK}")
pd.DataFrame({"role": ROLES}).rename_axis("column")''',
    "target": '''\
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 3))
if TASK == "regression":
    raw[TARGET].plot.hist(bins=40, ax=ax)
    print(raw[TARGET].describe())
else:
    counts = raw[TARGET].astype(str).value_counts()
    counts.plot.bar(ax=ax)
    print((counts / counts.sum()).round(3))
ax.set_title(f"target {TARGET!r}")
plt.show()''',
    "stats": "raw.describe(include='all').T",
    "missing": '''\
missing = raw.isna().sum()
pd.DataFrame({"missing": missing, "share": (missing / len(raw)).round(3)}).sort_values(
    "missing", ascending=False)''',
    "cardinality": '''\
pd.DataFrame({"distinct": raw.nunique(), "role": pd.Series(ROLES)}).sort_values(
    "distinct", ascending=False)''',
    "correlation": '''\
if TASK == "regression":
    target_num = raw[TARGET].astype(float)
else:
    target_num = pd.Series(pd.factorize(raw[TARGET].astype(str), sort=True)[0], index=raw.index)


def correlation_ratio(categories, values):
    """eta: how much of the target's variance the column's groups explain (0..1)."""
    groups = values.groupby(categories.astype(str).fillna("(missing)"))
    between = (groups.count() * (groups.mean() - values.mean()) ** 2).sum()
    total = ((values - values.mean()) ** 2).sum()
    return float(np.sqrt(between / total)) if total else 0.0


rows = []
for name, role in ROLES.items():
    if role == "numeric":
        rho = pd.to_numeric(raw[name], errors="coerce").corr(target_num, method="spearman")
        rows.append((name, role, "spearman", rho))
    elif role in ("categorical", "boolean"):
        rows.append((name, role, "correlation ratio", correlation_ratio(raw[name], target_num)))
table = pd.DataFrame(rows, columns=["column", "role", "measure", "value"])
table.reindex(table["value"].abs().sort_values(ascending=False).index)''',
    "warnings": '''\
pd.DataFrame(WARNINGS, columns=["code", "column", "message", "advice"]) if WARNINGS else \\
    "no warnings"''',
}


def exploration_notebook(job, data_path: str | Path, shown: str | None = None
                         ) -> nbformat.NotebookNode:
    """Summary, target, per-column statistics, missing values, cardinality, correlations, warnings.

    ``shown``: the file name to show and read (default ``data_path``, the file read now)."""
    profile = job.profile
    shown = shown or str(data_path)
    roles = {c.name: c.role for c in profile.columns if c.role != "target"}
    warns = [{k: w.get(k) for k in ("code", "column", "message", "advice")} for w in profile.warnings]
    nb = nbf.new_notebook()
    nb.cells = [
        md(f"# Data exploration: `{Path(shown).name}`, target `{profile.target}`\n\n"
           "Roles, warnings and task are the ones the job used (from its profile); the rest is "
           "computed below from the file."),
        code(f"DATA_PATH = {shown!r}\nTARGET = {profile.target!r}\nTASK = {profile.task!r}\n"
             f"ROLES = {pprint.pformat(roles, sort_dicts=False)}\n"
             f"WARNINGS = {pprint.pformat(warns, sort_dicts=False)}"),
        code("import numpy as np\nimport pandas as pd\n\n" + cells.load_cell(data_path)),
        md("## Summary\nRows, columns, duplicates, missing or invalid targets, task, column roles."),
        code(EXPLORE_SOURCE["summary"]),
        md("## Target"), code(EXPLORE_SOURCE["target"]),
        md("## Per-column statistics"), code(EXPLORE_SOURCE["stats"]),
        md("## Missing values"), code(EXPLORE_SOURCE["missing"]),
        md("## Cardinality"), code(EXPLORE_SOURCE["cardinality"]),
        md("## Correlation with the target\nSpearman for numbers; the correlation ratio (eta) "
           "for categories. A value near 1 alone deserves a leakage check."),
        code(EXPLORE_SOURCE["correlation"]),
        md("## Warnings and what to do"), code(EXPLORE_SOURCE["warnings"]),
    ]
    return nb


def definitions_notebook(job, data_path: str | Path, shown: str | None = None
                         ) -> nbformat.NotebookNode:
    """Every candidate: recipe, family, fixed params, search space (as data); the trials; the
    winner's pipeline written out; how to re-run the search (``shown``: the data file's name)."""
    nb = nbf.new_notebook()
    nb.cells = [
        md("# Candidate definitions\n\nEach candidate is a preprocessing recipe and a model family "
           "with fixed parameters and a search space (as data). The trials below sampled "
           "parameters from these spaces. Every trial's pipeline is written out in its own "
           "notebook; the winner's is below. Nothing here needs a package of ours."),
        code(f"SCHEMA = {pprint.pformat(job.bundle.schema.to_dict(), sort_dicts=False)}"),
    ]
    for spec in _specs(job):
        nb.cells += [md(f"## `{spec.name}`: {spec.family} on the `{spec.recipe}` recipe"),
                     code(f"{_var(spec.name)} = "
                          + pprint.pformat(spec.to_dict(), width=90, sort_dicts=False))]
    winner = job.winner.candidate_id
    nb.cells += [md("## Trials: the parameters each candidate was run with"),
                 code(_trials_source(job)),
                 md(f"## The winner, `{winner}`, written out"),
                 *model_cells(job, winner),
                 code("make_model()"),
                 md("## Re-run the search\nWith this service's Python package installed:\n\n"
                    f"```python\n{_rerun_source(job, shown or str(data_path))}\n```")]
    return nb


def _specs(job) -> list:
    seen = {}
    for trial in job.trials.values():
        seen.setdefault(trial.spec.name, trial.spec)
    return list(seen.values())


def _var(name: str) -> str:
    return "spec_" + "".join(ch if ch.isalnum() else "_" for ch in name)


def _trials_source(job) -> str:
    rows = {cid: {"spec": t.spec.name, "seed": t.seed, "params": t.params}
            for cid, t in sorted(job.trials.items())}
    return "import pandas as pd\n\nTRIALS = " + json.dumps(rows, indent=1, default=str) \
        .replace("true", "True").replace("false", "False").replace("null", "None") \
        + "\npd.DataFrame(TRIALS).T"


def _rerun_source(job, data_path) -> str:
    s = job.settings
    budget = ("time_budget=None, max_candidates=" + repr(s.max_candidates) if s.time_budget is None
              else f"time_budget={s.time_budget!r}, max_candidates={s.max_candidates!r}")
    limit = "" if s.max_latency_ms is None else f" max_latency_ms={s.max_latency_ms!r},"
    return ("import automl\n\n"
            f"result = automl.fit(\n    {str(data_path)!r}, {job.profile.target!r}, "
            f"task={job.profile.task!r}, metric={job.metric.name!r},\n    {budget}, "
            f"seed={s.seed!r},{limit}\n)\nresult.leaderboard")
