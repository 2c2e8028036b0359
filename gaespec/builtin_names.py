"""The names of the built-in data sources and samplers, known without importing torch.

`gaespec list` prints them and must answer fast; their registries (gaespec.data.sources,
gaespec.samplers.registry) import torch. tests/test_builtin_names.py keeps these equal to what
the registries hold.
"""

DATA_SOURCES = (
    "array:PATH",
    "celeba:DIR[?limit=N&attribute=NAME]",
    "cifar10:DIR[?download=1]",
    "folder:DIR[?size=N&crop=center|none&mode=L|RGB&stream=1&workers=K]",
    "mnist:DIR[?download=1]",
    "mnist5k",
    "sklearn_digits",
    "PATH.npy",
    "PATH.npz",
)
SAMPLERS = ("gmm", "iaf", "maf", "prior", "two_stage", "vamp")
