"""Imported once, in the forkserver (after ``_forkserver_boot``): what every trial needs, so
that the workers forked from it start with it imported."""

from __future__ import annotations

import importlib

import pandas  # noqa: F401

import automl.search.evaluate  # noqa: F401
from automl.candidates.registry import preload_modules

for _name in preload_modules():
    importlib.import_module(_name)
