"""A linear probe's score does not depend on how many cores the machine has (tasks/linear_fit.py)."""

import numpy as np
from threadpoolctl import threadpool_limits

from dmzbench.tasks.linear_fit import linear_fit_context
from dmzbench.tasks.probe import probe_classifier


def _coefficients() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 400)).astype(np.float32)
    y = np.argmax(x @ rng.normal(size=(400, 10)) + 3 * rng.normal(size=(3000, 10)), axis=1)
    with linear_fit_context():  # max_iter=20 stops lbfgs early, where summation order shows in the weights
        return probe_classifier(20).fit(x, y)[-1].coef_.copy()


def test_probe_weights_are_bit_identical_whatever_thread_count_the_caller_allows():
    # Without the pin, these two differ (measured: by 1e-6 in the weights, 0.002 in a fold's accuracy).
    with threadpool_limits(limits=1):
        one = _coefficients()
    with threadpool_limits(limits=2):
        two = _coefficients()
    assert np.array_equal(one, two)
