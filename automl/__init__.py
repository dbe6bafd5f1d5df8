"""automl: self-hosted AutoML for tabular data.

>>> import automl
>>> result = automl.fit("train.csv", target="y", time_budget=60)
>>> result.leaderboard.head()
>>> result.predict(new_rows)
>>> result.save("runs/first"); model = automl.load("runs/first")
"""

__version__ = "0.1.0"

__all__ = ["fit", "load", "__version__"]


def __getattr__(name):
    # Lazy so that `import automl` stays cheap for the CLI and worker processes.
    if name == "fit":
        from automl.api import fit

        return fit
    if name == "load":
        from automl.api import load

        return load
    raise AttributeError(f"module 'automl' has no attribute {name!r}")
