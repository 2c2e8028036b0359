"""The spec schema: pydantic models of every table of a spec file, strict and immutable.

Component tables are discriminated unions on `kind`, built from the declaration registry.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

import gaespec.spec.declarations  # noqa: F401  (registers every kind)
from gaespec.errors import GaespecError, GraphError
from gaespec.spec.locate import locate
from gaespec.spec.vocabulary import Identifier, union

OVERRIDE = "--set"  # the "file" of a value set on the command line

# Tensor and module names the pipeline itself defines; user names must not shadow them.
RESERVED = frozenset(
    {"x", "h", "q", "z", "x_hat", "encoder", "posterior", "decoder", "prior"}
    | {"step", "epoch", "dataset_size"}  # what the trainer hands the model (graph.program.RUNTIME)
)
# Attributes of a model, composed or generated (torch.nn.Module's and gaespec's own): an extra
# module is an attribute of the model under its own name, so it must not take one of these.
MODEL_ATTRIBUTES = frozenset(
    """T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda
    decode double dump_patches encode eval extra_repr float forward get_buffer get_extra_state
    get_parameter get_submodule graph half interpret ipu load_state_dict modules mtia named_buffers
    named_children named_modules named_parameters parameter_groups parameters reconstruct
    register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
    register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ sample sample_prior
    samples set_extra_state set_submodule share_memory state_dict terms to to_empty train training
    type values xpu zero_grad latent_dim""".split()
)


class Strict(BaseModel):
    """Base of every table: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ModelInfo(Strict):
    """The [model] table.

    Attributes:
        name: the model's name, an identifier (used for files and the generated class).
        summary: one line saying what the model is.
        reference: the paper that introduced it.
    """

    name: Identifier
    summary: str = ""
    reference: str = ""


class InputSpec(Strict):
    """The [input] table: the per-sample shape of the data the model is built for."""

    shape: tuple[Annotated[int, Field(gt=0)], ...] = (1, 28, 28)


class EncoderSpec(BaseModel):
    """The [encoder] table: an architecture by name or import path, plus its options.

    Attributes:
        arch: "mnist_convnet", "mlp", or "package.module:Class" for a custom net.
        Any other key is passed to the architecture as an option (e.g. `hidden = [512]`).
    """

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
    arch: str = "mnist_convnet"

    @property
    def options(self) -> dict[str, Any]:
        """The architecture's own options: every key the table has beyond its declared ones."""
        return dict(self.model_extra or {})


class DecoderSpec(EncoderSpec):
    """The [decoder] table: as [encoder], plus what it decodes.

    Attributes:
        input: the tensor it decodes: `z`, or a codebook's output such as `z_q`.
        latent_dim: the code size it accepts; by default the size of its input.
    """

    input: Identifier = "z"
    latent_dim: int | None = Field(None, gt=0)


class LatentSpec(Strict):
    """The [latent] table.

    Attributes:
        dim: the size d of the code z.
        posterior: q(z|x), a table with a `kind`.
        samples: posterior samples per input (K of the IWAE bound); 1 elsewhere.
    """

    dim: int = Field(16, gt=0)
    posterior: union("posterior") = Field(
        default_factory=lambda: {"kind": "diag_gaussian"}, validate_default=True
    )
    samples: int = Field(1, gt=0)


# the nets take a flat batch, (n ...); elsewhere in the program tensors carry K samples first
NETS = ("encoder", "decoder")
# the built-in ops a [calls] entry may name (gaespec.components.ops implements them)
CALL_OPS = ("prior_sample",)


class CallSpec(Strict):
    """A call the spec adds to the model's program, in [calls]; its key names the tensor it
    writes. One module may be called on several tensors, with one set of weights.

    Attributes:
        module: the module it calls: encoder, posterior, decoder, prior, or one of [modules].
        op: or a built-in op: "prior_sample" draws prior samples shaped like its one input.
        inputs: the tensors passed to it, in order.
        per_sample: whether K samples are folded into the batch around the call; by default
            true for the encoder and the decoder (which take a flat batch), false otherwise.
    """

    module: Identifier | None = None
    op: Literal[CALL_OPS] | None = None  # type: ignore[valid-type]
    inputs: tuple[Identifier, ...] = ()
    per_sample: bool | None = None

    @model_validator(mode="after")
    def _one_callee(self) -> CallSpec:
        if (self.module is None) == (self.op is None):
            raise ValueError('give either module = "..." or op = "...", not both or neither')
        return self

    @property
    def folded(self) -> bool:
        """Whether the call folds K samples into the batch."""
        return self.per_sample if self.per_sample is not None else self.module in NETS


class OptimizerSpec(BaseModel):
    """An optimiser: any `torch.optim` class by name (case-insensitive), its lr and kwargs."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = "adam"
    lr: float = Field(1e-3, gt=0)

    @property
    def options(self) -> dict[str, Any]:
        """Keyword arguments beyond name and lr."""
        return dict(self.model_extra or {})


class SchedulerSpec(BaseModel):
    """A learning-rate scheduler: any `torch.optim.lr_scheduler` class by name, and its kwargs.

    Attributes:
        interval: "step" steps it after every optimiser step, "epoch" after every epoch.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str
    interval: Literal["step", "epoch"] = "epoch"

    @property
    def options(self) -> dict[str, Any]:
        """Keyword arguments beyond name and interval."""
        return dict(self.model_extra or {})


class ObjectiveSpec(Strict):
    """One objective: a loss, the modules whose parameters it trains, and their optimiser.

    Attributes:
        name: how metrics and checkpoints call it.
        loss: an expression of the loss language over terms, params and schedules.
        params: module names it trains; by default every trainable module (single objective only).
    """

    name: Identifier = "loss"
    loss: str
    params: tuple[str, ...] | None = None
    optimizer: OptimizerSpec = OptimizerSpec()
    scheduler: SchedulerSpec | None = None


class ScheduleSpec(Strict):
    """A named schedule of the [schedules] table, usable by name in a loss.

    Attributes:
        kind: "linear", "cyclical" or "warmup" (see the loss language).
        args: its arguments in order, e.g. [0, 1, 1000] for linear(0, 1, 1000).
        unit: whether it counts optimiser steps (the default) or epochs.
    """

    kind: str
    args: tuple[float, ...]
    unit: Literal["step", "epoch"] = "step"


class TrainSpec(Strict):
    """The [train] table: what `gaespec train` does unless told otherwise on the command line.

    Attributes:
        data: a built-in data source (mnist5k, sklearn_digits), mnist:DIR, cifar10:DIR,
            celeba:DIR, or an .npy/.npz path.
        select: the objective or term whose validation mean picks the best checkpoint (default:
            the first objective); name a term such as "recon" when a schedule changes the
            objective's scale from epoch to epoch.
        precision: "fp32", or mixed precision for the training step's forward pass: "bf16"
            (CPUs with bfloat16 kernels, GPUs) or "fp16" (GPUs, with a gradient scaler).
        channels_last: conv weights and image batches in channels-last (NHWC) memory.
        compile: the encoder and decoder nets through `torch.compile` (needs a C++ compiler on
            a CPU; the first steps take longer while it compiles).
        conv_as_matmul: the nets' convolutions on small feature maps (at most 16 positions)
            as one matrix multiplication each (unfold or fold around a matmul:
            gaespec.training.conv_matmul), the same function to float rounding; faster than
            oneDNN's kernels there, on AMX under bf16 most of all.
    """

    data: str = "mnist5k"
    epochs: int = Field(10, gt=0)
    batch_size: int = Field(64, gt=0)
    eval_batch_size: int = Field(500, gt=0)
    seed: int = Field(0, ge=0, lt=2**32)
    select: str | None = None
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    channels_last: bool = False
    compile: bool = False
    conv_as_matmul: bool = False


class Spec(Strict):
    """A whole model spec, after `extends` merging and command-line overrides."""

    model: ModelInfo
    input: InputSpec = InputSpec()
    encoder: EncoderSpec = EncoderSpec()
    decoder: DecoderSpec = DecoderSpec()
    latent: LatentSpec = LatentSpec()
    prior: union("prior") = Field(
        default_factory=lambda: {"kind": "standard_normal"}, validate_default=True
    )
    modules: dict[Identifier, union("module")] = {}
    calls: dict[Identifier, CallSpec] = {}
    terms: dict[Identifier, union("term")]
    params: dict[Identifier, float] = {}
    schedules: dict[Identifier, ScheduleSpec] = {}
    objective: ObjectiveSpec | None = None
    objectives: tuple[ObjectiveSpec, ...] = ()
    train: TrainSpec = TrainSpec()
    _source: str | None = PrivateAttr(None)
    _origins: dict[tuple[str, ...], str] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str | None:
        """The file this spec was loaded from (None when built in Python)."""
        return self._source

    def origin(self, key: str) -> str | None:
        """The file of the `extends` chain that set `key` ("--set" for an override)."""
        path = tuple(key.split("."))
        return next(
            (self._origins[path[:i]] for i in range(len(path), 0, -1) if path[:i] in self._origins),
            self._source,
        )

    def error(
        self, message: str, key: str, *, cls: type[GaespecError] = GraphError, **details
    ) -> GaespecError:
        """An error (GraphError unless `cls`) at `key`, naming the file that set it and the line."""
        file = self.origin(key)
        path = tuple(key.split("."))
        line = column = None
        if file and file != OVERRIDE:
            line, column = locate(file, path)
        return cls(message, file=file, key=key, line=line, column=column, **details)

    @model_validator(mode="after")
    def _one_objective_form(self) -> Spec:
        if self.objective is not None and self.objectives:
            raise ValueError("give either [objective] or [[objectives]], not both")
        if self.objective is None and not self.objectives:
            raise ValueError("a spec needs [objective] (one loss) or [[objectives]] (several)")
        return self

    @property
    def all_objectives(self) -> tuple[ObjectiveSpec, ...]:
        """The objectives in order, whichever of the two forms the spec used."""
        return (self.objective,) if self.objective is not None else self.objectives
