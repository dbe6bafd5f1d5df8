"""Small jobs shared by the notebook and explanation tests (run once per session)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import automl

AWKWARD = ["it's", 'say "hi"', "naïve größe", "two  spaces", "back\\slash"]


def awkward_frame(n: int = 160, seed: int = 0) -> pd.DataFrame:
    """Columns whose names need quoting in code: quotes, spaces, non-ASCII, a backslash."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame({
        AWKWARD[0]: x,
        AWKWARD[1]: rng.choice(["a", "b", "c"], size=n),
        AWKWARD[2]: rng.integers(0, 4, size=n),
        AWKWARD[3]: rng.normal(size=n).round(3),
        AWKWARD[4]: rng.choice(["yes", "no"], size=n),
    })
    frame["ziel wert ✓"] = np.where(x + (frame[AWKWARD[1]] == "a") + rng.normal(0, 0.5, n) > 0.5,
                                    "oui", "non")
    return frame


@pytest.fixture(scope="session")
def titanic_job(tmp_path_factory, sample_data):
    """A reproducible titanic job on 400 rows, bounded by candidate count."""
    path = tmp_path_factory.mktemp("titanic") / "titanic small.csv"
    pd.read_csv(sample_data / "titanic.csv").head(400).to_csv(path, index=False)
    result = automl.fit(path, "Survived", time_budget=None, max_candidates=6, n_jobs=2)
    return result.job, path


@pytest.fixture(scope="session")
def awkward_job(tmp_path_factory):
    path = tmp_path_factory.mktemp("awkward") / "awkward names.csv"
    awkward_frame().to_csv(path, index=False)
    result = automl.fit(path, "ziel wert ✓", time_budget=None, max_candidates=3, n_jobs=2)
    return result.job, path


def skewed_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A regression table whose target is a price: positive and right-skewed."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"size": rng.normal(size=n), "grade": rng.choice(["a", "b", "c"], n),
                          "age": rng.integers(0, 30, n)})
    log_price = 1.2 * frame["size"] + (frame["grade"] == "a") - 0.02 * frame["age"]
    frame["price"] = np.round(1000 * np.exp(log_price + rng.normal(0, 0.3, n)), 2)
    return frame


@pytest.fixture(scope="session")
def skewed_job(tmp_path_factory):
    """A LightGBM job on a skewed target: its first two trials: LightGBM, then its ``log1p`` twin."""
    path = tmp_path_factory.mktemp("skewed") / "prices.csv"
    skewed_frame().to_csv(path, index=False)
    result = automl.fit(path, "price", time_budget=None, max_candidates=2, n_jobs=2,
                        families=["lightgbm_log1p"])
    return result.job, path


@pytest.fixture(scope="session")
def encoded_job(tmp_path_factory, sample_data):
    """A LightGBM job on titanic's rows, whose tickets and cabins have many levels: its first
    two trials are LightGBM and its target-encoding twin."""
    path = tmp_path_factory.mktemp("encoded") / "titanic.csv"
    pd.read_csv(sample_data / "titanic.csv").head(400).to_csv(path, index=False)
    result = automl.fit(path, "Survived", time_budget=None, max_candidates=2, n_jobs=2,
                        families=["lightgbm_te"])
    return result.job, path
