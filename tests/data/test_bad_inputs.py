"""Every file of the bad-input corpus gets one clear message: from Python and from the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import automl
from automl.exceptions import AutoMLError

CORPUS = Path(__file__).parent / "bad_inputs"

# file -> words the message must contain (lower case)
EXPECTED = {
    "empty.csv": ["empty"],
    "header_only.csv": ["header", "no data rows"],
    "ragged.csv": ["line 4", "4 fields", "header has 3"],
    "duplicate_columns.csv": ["duplicate column", "'a'"],
    "target_all_missing.csv": ["no values", "'y'"],
    "single_class.csv": ["single class"],
    "too_few_rows.csv": ["only 3 rows"],
    "binary.bin": ["binary file"],
    "bad_utf8.csv": ["line 4", "utf-8"],
    "not_csv.json": ["json", "not csv"],
    "workbook.xlsx": ["zip", "export it as csv"],
    "unclosed_quote.csv": ["line"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_python_api_raises_clear_error(name):
    with pytest.raises(AutoMLError) as info:
        automl.fit(CORPUS / name, target="y", time_budget=None, max_candidates=1, n_jobs=1)
    message = info.value.message.lower()
    for words in EXPECTED[name]:
        assert words in message, f"{name}: {message!r} lacks {words!r}"


def test_corpus_is_complete():
    assert sorted(p.name for p in CORPUS.iterdir() if p.name != "README.md") == sorted(EXPECTED)


@pytest.mark.parametrize("target, words", [
    ("nope", ["'nope' not found", "columns are: sex, length"]),
])
def test_target_not_found_lists_columns(sample_data, target, words):
    with pytest.raises(AutoMLError) as info:
        automl.fit(sample_data / "abalone.csv", target=target, time_budget=None, max_candidates=1)
    for w in words:
        assert w in info.value.message.lower()


@pytest.mark.parametrize("kwargs, words", [
    ({"metric": "nonsense"}, ["unknown metric", "auc"]),
    ({"metric": "rmse", "task": "binary"}, ["does not fit a binary task"]),
    ({"time_budget": -5}, ["out of range"]),
    ({"task": "clustering"}, ["unknown task"]),
    ({"families": "lightgbm,xgbost"}, ["unknown model family xgbost", "installed: lightgbm,",
                                       "automl families"]),
])
def test_bad_settings(sample_data, kwargs, words):
    args = {"time_budget": None, "max_candidates": 1, **kwargs}
    with pytest.raises(AutoMLError) as info:
        automl.fit(sample_data / "titanic.csv", target="Survived", **args)
    for w in words:
        assert w in info.value.message.lower()


def test_metric_not_fitting_inferred_task(sample_data):
    with pytest.raises(AutoMLError, match="does not fit a binary task"):
        automl.fit(sample_data / "titanic.csv", target="Survived", metric="r2",
                   time_budget=None, max_candidates=1)


@pytest.mark.parametrize("name", ["ragged.csv", "empty.csv", "binary.bin"])
def test_cli_exits_2_without_traceback(name, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "automl.cli", "run", str(CORPUS / name), "--target", "y",
         "--max-candidates", "1", "--output", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_target_not_found_suggests_the_column_meant(sample_data):
    with pytest.raises(AutoMLError, match="did you mean 'Survived'"):
        automl.fit(sample_data / "titanic.csv", target="survived", time_budget=None, max_candidates=1)


def test_target_not_found_lists_only_the_first_columns_of_a_wide_file(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"w{i}" for i in range(300)) + "\n" + ",".join("1" * 300) + "\n")
    with pytest.raises(AutoMLError) as info:
        automl.fit(path, target="label", time_budget=None, max_candidates=1)
    assert "w19 and 280 more" in info.value.message
    assert len(info.value.details["columns"]) == 300
