"""A suite declared by a third-party package: the plugin's PCA model beside the built-in ``pixels`` reference, on the
plugin's own ``knn`` task and the built-in ``probe``. ``dmzbench suite pca-knn --out page`` runs it and builds its page;
only ``dmzbench.suite.catalog`` is imported here, so listing the suites stays fast."""

from dmzbench.suite.catalog import Suite

PCA_KNN = Suite(
    "pca-knn",
    models=("pca", "pixels"),
    presets=("k16",),  # pca's; pixels has none of them and runs its default preset once
    tasks=("knn", "probe"),
    options={"knn": ["n_train=2000", "n_test=300"], "probe": ["protocol=split", "max_images=2000"]},
    note="Example plugin suite: a plugin model and a plugin task beside built-ins.",
)
