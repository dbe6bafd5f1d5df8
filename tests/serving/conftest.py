"""Small model bundles built once per session from sample_data, and raw rows to send them."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest

import automl
from automl.model.bundle import ModelBundle
from automl.serving.inflight import InFlight

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"


def _fit(name: str, target: str, directory: Path) -> ModelBundle:
    result = automl.fit(SAMPLE_DATA / name, target, time_budget=None, max_candidates=2, seed=0)
    result.model.save(directory)
    return ModelBundle.load(directory)


@pytest.fixture(scope="session")
def titanic_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("titanic") / "model"
    _fit("titanic.csv", "Survived", directory)
    return directory


@pytest.fixture(scope="session")
def abalone_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("abalone") / "model"
    _fit("abalone.csv", "Rings", directory)
    return directory


@pytest.fixture(scope="session")
def titanic(titanic_dir) -> ModelBundle:
    return ModelBundle.load(titanic_dir)


@pytest.fixture(scope="session")
def abalone(abalone_dir) -> ModelBundle:
    return ModelBundle.load(abalone_dir)


@pytest.fixture(scope="session")
def titanic_rows() -> pd.DataFrame:
    """Raw titanic rows as the CSV holds them (strings), without the target."""
    frame = pd.read_csv(SAMPLE_DATA / "titanic.csv", dtype=str, keep_default_na=False)
    return frame.drop(columns="Survived").head(40)


@pytest.fixture(scope="session")
def abalone_rows() -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE_DATA / "abalone.csv", dtype=str, keep_default_na=False)
    return frame.drop(columns="Rings").head(40)


def serving_child(path, hold: float) -> int:
    """Fork a process that answers "a request" for ``hold`` s on the in-flight board at
    ``path`` (:class:`~automl.serving.inflight.InFlight`); its exit status is 0."""
    pid = os.fork()
    if pid == 0:
        with InFlight(path).serving():
            time.sleep(hold)
        os._exit(0)
    return pid


def wait_until(condition, timeout: float = 10.0) -> bool:
    """Whether ``condition()`` became true within ``timeout`` s."""
    deadline = time.time() + timeout
    while time.time() < deadline and not condition():
        time.sleep(0.01)
    return condition()
