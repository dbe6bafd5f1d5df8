"""Shared fixtures: paths to the repository's sample data and the shared benchmark datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data"
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def sample_data() -> Path:
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip("../shared/datasets is not beside the checkout")
    return SHARED_DATASETS


def pytest_configure(config) -> None:
    """Under ``-n 2 --dist loadfile``, xdist hands out files in the order of collection rather
    than re-sorted by their number of tests (its default put the one-test end-to-end files, the
    longest ones, at the end, where one worker ran them while the other had nothing left)."""
    if getattr(config.option, "loadscopereorder", False):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items) -> None:
    """Files with ``slow`` tests first (whole services, whole jobs), each file's tests kept
    together and in order: the short files fill in at the end on whichever worker is free."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)
