"""The same sigma search and sharded certification on a real Dask cluster.

The cluster runs worker processes on this machine (LocalCluster); a remote
cluster is used the same way, through ``Client("tcp://scheduler:8786")``.
"""

import numpy as np
import pytest
from joblib import parallel_backend

from sksmooth import certify

from .test_metrics import fit_smoothed_pipe, selection_data, sigma_search

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # The tests run torch on one thread; so do the workers, for equal float results.
        client.run(lambda: __import__("torch").set_num_threads(1))
        yield client


def test_sigma_search_on_dask_equals_the_local_search(client):
    X, y = selection_data()
    local = sigma_search(n_jobs=1).fit(X, y)
    with distributed.get_task_stream(client) as tasks, parallel_backend("dask"):
        on_dask = sigma_search(n_jobs=-1).fit(X, y)
    assert len(tasks.data) >= 9  # 3 sigmas x 3 folds ran on the workers
    for key in ("mean_test_cert@0.25", "mean_test_accuracy", "split0_test_cert@0.25"):
        np.testing.assert_array_equal(on_dask.cv_results_[key], local.cv_results_[key])
    assert on_dask.best_params_ == local.best_params_


def test_sharded_certify_on_dask_equals_local(client):
    X, y = selection_data()
    smoothed_pipe = fit_smoothed_pipe(X, y)
    local = certify(smoothed_pipe, X[:40], y[:40])
    with distributed.get_task_stream(client) as tasks, parallel_backend("dask"):
        on_dask = certify(smoothed_pipe, X[:40], y[:40], n_jobs=-1)
    assert {task["worker"] for task in tasks.data} == set(client.scheduler_info()["workers"])
    np.testing.assert_array_equal(on_dask.p_lower, local.p_lower)
    np.testing.assert_array_equal(on_dask.radius, local.radius)
