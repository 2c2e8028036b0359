"""Evaluation metrics of the benchmark tasks (Chadebec et al. 2022, Pythae, arXiv:2206.08309):
reconstruction MSE; FID, KID and IS through torch-fidelity with the real Inception network;
classification and clustering accuracy on the codes; interpolations.

Names are imported when first used: torch-fidelity and scikit-learn load only for their metrics.
"""

from __future__ import annotations

import importlib

from gaespec.errors import MetricError

_WHERE = {
    "reconstruction_mse": "mse",
    **{
        name: "fidelity"
        for name in (
            "Features",
            "FidelityResult",
            "fid",
            "fid_from_features",
            "fidelity_metrics",
            "inception_features",
            "inception_score",
            "is_from_features",
            "kid",
            "kid_from_features",
            "reference_features",
        )
    },
    "Inception": "inception",
    "load_inception": "inception",
    **{
        name: "classification"
        for name in (
            "AccuracyRuns",
            "classification_accuracy",
            "classification_accuracy_from_codes",
            "run_seeds",
            "whitening",
        )
    },
    **{
        name: "clustering"
        for name in ("clustering_accuracy", "clustering_accuracy_from_codes", "majority_labels")
    },
    **{
        name: "interpolation"
        for name in (
            "interpolation_grid",
            "interpolation_pairs",
            "interpolations",
            "linear_paths",
            "save_interpolations",
        )
    },
}

__all__ = ["MetricError", *sorted(_WHERE)]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'gaespec.metrics' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"gaespec.metrics.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
