"""How every linear probe in tasks/ fits: quietly and on one thread."""

import contextlib
import warnings

from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits


@contextlib.contextmanager
def linear_fit_context():
    """Quiet, single-threaded scikit-learn fits. A max_iter-bound lbfgs fit stops where the cap stops it, so its score
    depends on floating-point summation order, which depends on the BLAS/OpenMP thread count (measured: a pixel probe
    fold moved by 0.002 between 2 threads and 1). One thread makes a score independent of the number of cores, and on
    2 cores it is also 5-10x faster, as torch's and scikit-learn's thread pools no longer contend."""
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield
