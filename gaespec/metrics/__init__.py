"""Evaluation metrics of the benchmark tasks (Chadebec et al. 2022, Pythae, arXiv:2206.08309)."""

from __future__ import annotations

from gaespec.metrics.mse import reconstruction_mse

__all__ = ["reconstruction_mse"]
