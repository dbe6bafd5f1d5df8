"""benchmarks/accuracy.py over several seeds: aggregation, the ahead/behind rule, resuming.

No system is fitted: the tables are fed saved (synthetic) lines, as `--from-jsonl` reads them, and
the resume test replaces the cell runner so that any cell that would run is recorded instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.benchmarks.conftest import load_script


@pytest.fixture(scope="module")
def accuracy():
    return load_script("accuracy")

def line(dataset, system, seed, value, task="binary", budget=60, **extra):
    key = {"binary": "auc", "multiclass": "logloss", "regression": "rmse"}[task]
    primary = value if task == "binary" else -value
    return {
        "dataset": dataset, "system": system, "task": task, "budget": budget, "seed": seed,
        "fit_s": budget - 1.0, "wall_s": budget + 4.0, key: value, "primary": primary, **extra,
    }  # fmt: skip


def write(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(ln) + "\n" for ln in lines), encoding="utf-8")
    return path


def three_seeds() -> list[dict]:
    """credit_g: ours clearly ahead of lgbm, within noise of flaml, behind flaml at 300 s;
    abalone (RMSE, lower is better): ours behind flaml, lgbm failed on one seed."""
    out = []
    for seed, (ours, flaml, lgbm, flaml300) in enumerate(
        [(0.80, 0.79, 0.77, 0.81), (0.82, 0.83, 0.78, 0.83), (0.79, 0.785, 0.76, 0.805)]
    ):
        out += [line("credit_g", "automl", seed, ours), line("credit_g", "flaml", seed, flaml)]
        out += [line("credit_g", "lgbm", seed, lgbm)]
        out.append(line("credit_g", "flaml", seed, flaml300, budget=300))
    for seed, (ours, flaml) in enumerate([(2.20, 2.10), (2.25, 2.12), (2.15, 2.08)]):
        out += [line("abalone", "automl", seed, ours, "regression")]
        out += [line("abalone", "flaml", seed, flaml, "regression")]
    out.append(line("abalone", "lgbm", 0, 2.3, "regression"))
    failed = {"failed": True, "error": "timed out after 135 s", "stderr_tail": "Traceback x"}
    out.append({**line("abalone", "lgbm", 1, 0.0, "regression"), **failed})
    return out


def test_the_call_needs_the_mean_edge_beyond_the_spread_of_the_edges(accuracy):
    verdict = sys.modules["seeded"].verdict
    assert verdict([0.02, 0.03, 0.01]) == "ahead"  # mean 0.02 > std 0.01
    assert verdict([-0.02, -0.03, -0.01]) == "behind"
    assert verdict([0.01, -0.02, 0.04]) == "within noise"  # mean 0.01 < std 0.03
    assert verdict([0.01, 0.01]) == "ahead"  # no spread at all: any edge counts
    assert verdict([0.05]) == "n<2"


def test_seeded_tables_give_mean_spread_per_seed_values_and_calls(accuracy, tmp_path, capsys):
    path = write(tmp_path / "run.jsonl", three_seeds())
    assert accuracy.main(["--from-jsonl", str(path)]) == 0
    out = capsys.readouterr().out
    assert "### credit_g (binary), seeds 0, 1, 2" in out
    assert "| automl | 0.8033 ± 0.0153 | 0.8000 / 0.8200 / 0.7900 | 59.0 | 64.0 |" in out
    assert "| lgbm | 0.7700 ± 0.0100 |" in out and "| +0.0300 / +0.0400 / +0.0300 | ahead |" in out
    assert "| flaml@300 | 0.8150 ± 0.0132 |" in out
    assert "| lgbm | 2.3000 | 2.3000 / F / - |" in out  # one seed ran, one failed, one missing
    assert "lgbm seed 1 failed (timed out after 135 s)" in out
    summary = out[out.index("## Summary") :]
    assert "Rule: ours is ahead of (behind) a peer" in summary
    assert (
        "- vs flaml: ahead on 0/2; behind on 1/2 (abalone -4.75 % ± 1.38 %); "
        "within noise on 1/2 (credit_g +0.0017 AUC ± 0.0104); mean relative edge -2.26 %"
    ) in summary
    assert "- vs lgbm: ahead on 1/2; behind on none; n<2 on 1/2 (abalone" in summary  # 1 pair
    assert "- vs flaml@300: ahead on 0/1; behind on 1/1 (credit_g -0.0117 AUC ± 0.0029)" in summary
    assert (
        "- moonshot: ours at 60 s >= the better peer at a larger budget (mean primary) on 0/1"
        in summary
    )
    assert "- failed runs: abalone/lgbm/seed 1" in summary


def test_one_seed_keeps_the_single_seed_format(accuracy, tmp_path, capsys):
    lines = [ln for ln in three_seeds() if ln["seed"] == 0 and ln["budget"] == 60]
    path = write(tmp_path / "old.jsonl", lines)
    accuracy.main(["--from-jsonl", str(path)])
    out = capsys.readouterr().out
    assert "| system | AUC | fit s | 1-row ms | peak MiB | edge of ours |" in out
    assert "- vs flaml: ours wins 1/2; behind by more than 0.5 %: abalone (-4.76 %)" in out
    assert "±" not in out


def test_resume_runs_only_the_cells_the_file_lacks(
    accuracy, shared_datasets, tmp_path, monkeypatch, capsys
):
    ran = []

    def fake_cell(args, cell, task):
        ran.append(cell)
        return line(cell[0], cell[1], cell[2], 0.75, task, budget=args.budget)

    monkeypatch.setattr(accuracy, "run_cell", fake_cell)
    held = [ln for ln in three_seeds() if ln["dataset"] == "abalone" and ln["system"] != "flaml"]
    path = write(tmp_path / "died.jsonl", held)
    argv = ["--resume", str(path), "--datasets", "abalone", "--systems", "automl,lgbm"]
    argv += ["--seeds", "3", "--out-dir", str(tmp_path), "--data-dir", str(shared_datasets)]
    accuracy.main(argv)
    assert ran == [("abalone", "lgbm", 2)]  # seed 1's failure is kept, seed 2 never ran
    accuracy.main([*argv, "--retry-failed"])
    assert ran[1:] == [("abalone", "lgbm", 1)]
    assert len(path.read_text().splitlines()) == len(held) + 2
    assert "## Summary" in path.with_suffix(".md").read_text()
    assert "- vs lgbm: ahead on" in capsys.readouterr().out
