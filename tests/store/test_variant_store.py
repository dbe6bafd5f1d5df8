"""The variant storage case, run against every backend (SQLite and PostgreSQL): weights,
shadow, removal, and promotion as one transaction, also when the process is killed -9."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import select

from automl.exceptions import Conflict, InvalidRequest
from automl.store.endpoints import EndpointStore
from automl.store.tables import endpoint_variants
from automl.store.variants import PRIMARY, VariantExists, VariantNotFound, VariantStore


def test_variants_weights_shadow_and_promotion(store):
    EndpointStore(store.engine).add("ep", "job_a", "c1", "/p/a")
    variants = VariantStore(store.engine)
    assert [(v["variant"], v["weight"], v["primary"]) for v in variants.list("ep")] == [
        (PRIMARY, 1.0, True)]
    before = EndpointStore(store.engine).get("ep")["updated_at"]
    variants.add("ep", "b", "production", 3.0, "job_b", "c2", "/p/b")
    assert EndpointStore(store.engine).get("ep")["updated_at"] > before, "workers reload"
    variants.add("ep", "s", "shadow", 0.5, "job_c", "c3", "/p/c")
    with pytest.raises(VariantExists):
        variants.add("ep", "b", "production", 1.0, "job_b", "c2", "/p/b")
    with pytest.raises(Conflict, match="already has a shadow"):
        variants.add("ep", "s2", "shadow", 1.0, "job_c", "c3", "/p/c")
    with pytest.raises(InvalidRequest, match="sum to 0"):
        variants.set_weights("ep", {PRIMARY: 0, "b": 0})
    with pytest.raises(InvalidRequest, match="shadow"):
        variants.set_weights("ep", {"s": 1})
    listed = variants.set_weights("ep", {PRIMARY: 0})
    assert [(v["variant"], v["role"], v["weight"]) for v in listed] == [
        (PRIMARY, "production", 0.0), ("b", "production", 3.0), ("s", "shadow", 0.5)]
    assert EndpointStore(store.engine).users_of_job("job_c") == {"ep": []}
    with pytest.raises(InvalidRequest, match="no traffic"):
        variants.remove("ep", "b")
    row = variants.promote("ep", "b", {"metric": "auc", "score": 0.9}, None)
    assert (row["job_id"], row["bundle_path"]) == ("job_b", "/p/b")
    assert [v["variant"] for v in variants.list("ep")] == [PRIMARY]
    assert EndpointStore(store.engine).versions("ep")[0]["action"] == "promote"
    with pytest.raises(VariantNotFound):
        variants.promote("ep", "b", None, None)


CHURN = textwrap.dedent("""
    import sys
    from automl.store import JobStore
    from automl.store.variants import VariantStore
    variants = VariantStore(JobStore(sys.argv[1]).engine)
    for left in variants.list("ep")[1:]:  # what a killed round added and did not promote
        variants.remove("ep", left["variant"])
    i, round = 0, sys.argv[2]
    while True:
        i += 1
        variants.add("ep", f"v{round}-{i}", "production", 1.0, f"job_{i}", "c", f"/p/{round}/{i}")
        variants.add("ep", f"s{round}-{i}", "shadow", 1.0, f"job_{i}", "c", f"/p/{round}/{i}")
        variants.promote("ep", f"v{round}-{i}", None, None)
        print(i, flush=True)
""")


def test_a_kill_9_during_promotions_leaves_one_consistent_set_of_variants(store, tmp_path):
    endpoints = EndpointStore(store.engine)
    endpoints.add("ep", "job_0", "c", "/p/0")
    url = store.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for round in range(3):
        with open(tmp_path / f"churn-{round}.err", "w+b") as err:
            churn = subprocess.Popen([sys.executable, "-c", CHURN, url, str(round)], env=env,
                                     stdout=subprocess.PIPE, stderr=err)
            try:
                started = churn.stdout.readline()  # one promotion done: it got going
                time.sleep(random.uniform(0.0, 0.3))
            finally:
                churn.send_signal(signal.SIGKILL)
                churn.wait()
                churn.stdout.close()
            err.seek(0)
            assert started, err.read().decode()[-2000:]
        check_consistent(store, endpoints)


def check_consistent(store, endpoints: EndpointStore) -> None:
    row = endpoints.get("ep")
    versions = endpoints.versions("ep")
    assert [v["version"] for v in versions] == list(range(len(versions), 0, -1))
    assert (versions[0]["job_id"], versions[0]["bundle_path"]) == (row["job_id"], row["bundle_path"])
    with store.engine.connect() as conn:
        names = list(conn.execute(select(endpoint_variants.c.variant)
                                  .where(endpoint_variants.c.endpoint == "ep")).scalars())
    assert names == [] or (PRIMARY in names and len(names) >= 2), names
    VariantStore(store.engine).list("ep")
