"""Lowering a Spec to its ModelGraph, validation and shape inference; torch-free."""
