"""The generic trainer, optimisers by name, training state on disk, and `train`."""
