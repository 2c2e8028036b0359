"""Lowering and validation: names, cycles, gradient reachability and shapes, before training."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gaespec.errors import GraphError, LossSyntaxError
from gaespec.graph.lower import lower
from gaespec.graph.model_graph import node
from gaespec.spec.load import builtin_specs, load_spec


def spec_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "model.toml"
    path.write_text(textwrap.dedent(text))
    return path


def graph_error(path, overrides=()) -> GraphError:
    with pytest.raises(GraphError) as caught:
        lower(load_spec(path, overrides))
    return caught.value


@pytest.mark.parametrize("name", sorted(builtin_specs()))
def test_every_builtin_spec_lowers(name):
    graph = lower(load_spec(builtin_specs()[name]))
    assert graph.shapes["x"] == graph.shapes["x_hat"] == (1, 28, 28)
    assert graph.shapes["h"] == (1024,)
    assert graph.shapes["z"] == (16,)


def test_objectives_and_their_parameters():
    aae = lower(load_spec("specs/models/aae.toml"))
    assert [(o.name, o.params) for o in aae.objectives] == [
        ("autoencoder", ("encoder", "posterior", "decoder")),
        ("critic", ("critic",)),
    ]
    vq = lower(load_spec("specs/models/vqvae.toml"))
    assert vq.stages == ("codebook",)
    assert vq.objectives[0].params == ("encoder", "posterior", "codebook", "decoder")
    assert vq.shapes["z_q"] == (16,)
    # the critic's loss sees z detached, so it reaches the critic only
    g = aae.graph
    assert g.edges[node("tensor", "z"), node("term", "critic_bce")]["detached"] is True


def test_undefined_name_in_a_loss(tmp_path):
    path = spec_file(
        tmp_path,
        """
        extends = "vae"
        [model]
        name = "m"
        [params]
        beta = 2.0
        [objective]
        loss = "recon + betta * kl"
    """,
    )
    assert str(graph_error(path)) == (
        f"{path}:8:1: objective.loss: unknown name 'betta'; closest valid choice: 'beta'"
    )


def test_syntax_error_in_a_loss_points_at_the_toml_line(tmp_path):
    path = spec_file(
        tmp_path, 'extends = "vae"\n[model]\nname = "m"\n[objective]\nloss = "recon + * kl"\n'
    )
    error = graph_error(path)
    assert isinstance(error, LossSyntaxError)
    assert str(error) == (
        f"{path}:5:1: objective.loss: unexpected '*' in loss expression at column 9 of "
        "'recon + * kl'"
    )
    assert error.context == "    recon + * kl\n            ^"


def test_latent_size_the_decoder_does_not_accept():
    error = graph_error("specs/models/vae.toml", ["decoder.latent_dim=32"])
    assert str(error) == (
        "--set: decoder.latent_dim: the decoder accepts a 32-dim code, but its input 'z' has "
        "16 dims (latent.dim = 16); closest valid choice: '16'"
    )


def test_input_shape_the_convnet_does_not_accept():
    error = graph_error("specs/models/vae.toml", ["input.shape=[1,8,8]"])
    assert error.key == "encoder.arch"
    assert error.file.endswith("specs/models/vae.toml")
    assert "mnist_convnet encoder accepts only input shape (1, 28, 28), got (1, 8, 8)" in str(error)


def test_decoder_output_must_match_the_input_shape():
    error = graph_error("specs/models/vae.toml", ["encoder.arch=mlp", "input.shape=[1,8,8]"])
    assert error.file.endswith("specs/models/vae.toml") and error.line == 12
    assert str(error).endswith(
        "vae.toml:12:1: decoder.arch: decoder 'mnist_convnet' outputs 1×28×28, but input.shape is "
        "1×8×8: reconstructions must have the data's shape"
    )


def test_net_option_typos_name_the_closest():
    error = graph_error("specs/models/vae.toml", ["encoder.arch=mlp", "encoder.hiden=[3]"])
    assert str(error).endswith(
        "mlp encoder has no option 'hiden' (its options: 'hidden'); closest valid choice: 'hidden'"
    )


def test_objective_that_cannot_reach_a_claimed_module():
    error = graph_error("specs/models/aae.toml", ['objectives.1.params=["critic","encoder"]'])
    assert str(error).endswith(
        "objectives.1.params: objective 'critic' claims module 'encoder', but no gradient of its "
        "loss 'critic_bce' reaches it; fix: remove 'encoder' from params or add a term that "
        "depends on it"
    )


def test_a_module_no_objective_trains():
    error = graph_error("specs/models/aae.toml", ['objectives.0.params=["encoder","decoder"]'])
    assert "module 'posterior' has parameters but no objective trains it" in str(error)


def test_several_objectives_must_list_params(tmp_path):
    path = spec_file(
        tmp_path,
        """
        extends = "vae"
        [model]
        name = "m"
        [[objectives]]
        name = "a"
        loss = "recon"
        [[objectives]]
        name = "b"
        loss = "kl"
    """,
    )
    assert "objective 'a' must list the modules it trains" in str(graph_error(path))


def test_cycle_between_modules(tmp_path):
    path = spec_file(
        tmp_path,
        """
        extends = "vqvae"
        [model]
        name = "m"
        [modules.codebook]
        input = "z_q"
    """,
    )
    error = graph_error(path)
    assert error.key == "modules.codebook.input"
    assert "the graph has a cycle: " in str(error)
    assert "codebook" in str(error) and "z_q" in str(error)


def test_unknown_tensor_and_module_names():
    error = graph_error("specs/models/vqvae.toml", ["decoder.input=z_qq"])
    assert str(error).endswith("decoder.input: unknown tensor 'z_qq'; closest valid choice: 'z_q'")
    error = graph_error("specs/models/aae.toml", ["terms.adversarial.critic=critc"])
    assert str(error).endswith(
        "terms.adversarial.critic: unknown critic 'critc'; closest valid choice: 'critic'"
    )
    error = graph_error("specs/models/iwae.toml", ["terms.bound.reconstruction=rec"])
    assert "unknown reconstruction term 'rec'; closest valid choice: 'recon'" in str(error)


def test_names_that_clash():
    error = graph_error("specs/models/vae.toml", ["params.kl=2"])
    assert str(error).endswith("params.kl: 'kl' is already defined at terms.kl")
    error = graph_error("specs/models/vae.toml", ["params.z=2"])
    assert str(error).endswith("params.z: 'z' is a name the pipeline uses; choose another")


def test_unknown_trainable_module_in_params():
    error = graph_error("specs/models/aae.toml", ['objectives.1.params=["critik"]'])
    assert str(error).endswith(
        "objectives.1.params: unknown trainable module 'critik'; closest valid choice: 'critic'"
    )


def test_straight_through_codebook_needs_its_own_loss():
    """Gradients pass the codebook to the encoder; the codewords learn only from codebook_loss."""
    error = graph_error("specs/models/vqvae.toml", ['objective.loss="recon + beta * commitment"'])
    assert "claims module 'codebook', but no gradient of its loss" in str(error)
    # the encoder still reaches the reconstruction through the straight-through estimator
    graph = lower(load_spec("specs/models/vqvae.toml"))
    assert graph.objectives[0].params == ("encoder", "posterior", "codebook", "decoder")


def test_named_schedules_are_checked():
    error = graph_error("specs/models/vae.toml", ['schedules.warm={kind="linear", args=[0, 1]}'])
    assert str(error) == (
        "--set: schedules.warm.args: linear takes args [start, end, steps], got 2 value(s)"
    )
    error = graph_error("specs/models/vae.toml", ['schedules.warm={kind="linear", args=[0, 1, 0]}'])
    assert str(error) == "--set: schedules.warm.args: linear() steps must be > 0, got 0"
    error = graph_error("specs/models/vae.toml", ['schedules.warm={kind="lineer", args=[0, 1, 5]}'])
    assert error.suggestions == ["linear"]


def test_module_outputs_must_not_shadow_names():
    error = graph_error("specs/models/vqvae.toml", ["modules.codebook.output=x_hat"])
    assert str(error).endswith(
        "modules.codebook.output: output 'x_hat' is a name already in use; choose another"
    )


def test_components_that_do_not_fit_the_rest_of_the_spec():
    error = graph_error(
        "specs/models/vae.toml",
        [*MLP, 'terms.recon.likelihood="bernoulli"', 'decoder.output="identity"'],
    )
    assert str(error).endswith(
        "terms.recon.likelihood: a bernoulli likelihood needs probabilities, but the decoder's "
        "output is 'identity'; fix: set decoder.output = \"sigmoid\", or use likelihood = "
        '"gaussian"'
    )


MLP = ("encoder.arch=mlp", "decoder.arch=mlp")


def test_a_module_listed_twice():
    error = graph_error("specs/models/aae.toml", ['objectives.1.params=["critic","critic"]'])
    assert str(error).endswith("objectives.1.params: objective 'critic' lists 'critic' twice")


def test_best_weights_can_be_selected_by_a_term():
    assert lower(load_spec("specs/models/vae.toml", ["train.select=recon"])).spec.train.select == (
        "recon"
    )
    error = graph_error("specs/models/vae.toml", ["train.select=recn"])
    assert str(error).endswith(
        "train.select: unknown objective or term 'recn'; closest valid choice: 'recon'"
    )


@pytest.mark.parametrize("name", ["training", "forward", "state_dict", "sample_prior", "_x"])
def test_a_module_may_not_take_an_attribute_of_the_model(name):
    error = graph_error("specs/models/vae.toml", [f"modules.{name}={{kind='mlp_discriminator'}}"])
    assert str(error).endswith(
        f"modules.{name}: module name '{name}' is taken by the model itself (torch.nn.Module or "
        "gaespec); choose another"
    )


def test_model_attributes_cover_every_public_attribute_of_a_model():
    from tiny import tiny_spec

    import gaespec
    from gaespec.spec.schema import MODEL_ATTRIBUTES

    model = gaespec.build(tiny_spec("vae"))
    public = {n for n in dir(model) if not n.startswith("_")} - set(model._modules)
    assert public <= MODEL_ATTRIBUTES


def test_a_module_that_calls_another_passes_on_its_gradients(monkeypatch):
    """A prior that calls the encoder (as VampPrior does on its pseudo-inputs): the encoder's
    gradients reach a term through the prior, and a prior with parameters must be trained."""
    from gaespec.spec.declarations.latent import StandardNormal
    from gaespec.spec.vocabulary import Read

    monkeypatch.setattr(StandardNormal, "uses", lambda self, modules: (Read("encoder", "kind"),))
    monkeypatch.setattr(StandardNormal, "has_parameters", True)
    graph = lower(load_spec("vae"))
    assert graph.graph.has_edge("module:encoder", "module:prior")
    assert graph.objectives[0].params == ("encoder", "posterior", "prior", "decoder")
    with pytest.raises(GraphError) as caught:
        lower(load_spec("aae"))
    assert str(caught.value).endswith(
        "module 'prior' has parameters but no objective trains it; "
        "fix: add 'prior' to the params of an objective"
    )
