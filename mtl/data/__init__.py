"""Datasets (a catalog), preparation (imputation, scaling, encoding, splits) and task specs."""

from mtl.registry import Registry

DATASETS = Registry("dataset", "mtl.data.datasets", "DATASET")
"""Each module in ``mtl/data/datasets/`` defines one ``DATASET`` (a :class:`mtl.data.catalog.Dataset`)."""

__all__ = ["DATASETS"]
