"""The model card of an exported model: README.md with the Hub's YAML front matter, how to load
the model, its sample grids, its metrics table and its resolved spec."""

from __future__ import annotations

import json
from collections.abc import Sequence

CARD = "README.md"
TAGS = ("gaespec", "generative-autoencoder", "safetensors")
CAPTIONS = {
    "samples.png": ("Samples", "Images decoded from draws of the prior."),
    "reconstructions.png": (
        "Reconstructions",
        "Test images (first row of each pair) above their reconstructions.",
    ),
    "curves.png": (
        "Training curves",
        "Every loss term and objective per epoch, on the training and validation splits.",
    ),
}


def _yaml(value: str) -> str:
    """A YAML scalar that reads back as this very string (JSON's quoted strings are YAML)."""
    return json.dumps(value)


def front_matter(name: str, license: str | None) -> str:
    """The card's YAML metadata: library_name, license (only when known) and tags."""
    lines = ["---", f"library_name: {_yaml('gaespec')}"]
    if license:
        lines.append(f"license: {_yaml(license)}")
    lines.append("tags:")
    lines += [f"- {_yaml(tag)}" for tag in dict.fromkeys((*TAGS, name))]
    return "\n".join([*lines, "---"]) + "\n"


def number(value) -> str:
    """A metric as the card shows it: six significant digits."""
    return f"{value:.6g}" if isinstance(value, (int, float)) else str(value)


def metrics_table(metrics: dict) -> str:
    """Every term and objective: train and validation at the last epoch, validation at the best."""
    final, best = metrics.get("final"), metrics.get("best")
    if not final:
        return "No metrics were recorded.\n"
    columns = [
        (f"train, epoch {final['epoch']}", final.get("train", {})),
        (f"validation, epoch {final['epoch']}", final.get("validation", {})),
    ]
    if best:
        columns.append((f"validation, epoch {best['epoch']} (best)", best.get("validation", {})))
    names = dict.fromkeys(name for _, values in columns for name in values)
    rows = [
        "| term | " + " | ".join(title for title, _ in columns) + " |",
        "| --- |" + " ---: |" * len(columns),
    ]
    for name in names:
        cells = [number(values[name]) if name in values else "" for _, values in columns]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def model_card(
    config: dict,
    spec_text: str,
    images: Sequence[str],
    *,
    load_as: str,
    license: str | None = None,
) -> str:
    """README.md of an exported model, from its config.json and spec; `images` are the grids in
    its folder, `load_as` what `gaespec.load_run` is given to load it."""
    model, training, metrics = config["model"], config["training"], config["metrics"]
    shape = ", ".join(map(str, config["input_shape"]))
    about = model["summary"] + (f" ({model['reference']})" if model["reference"] else "")
    parts = [
        front_matter(model["name"], license),
        f"# {model['name']}\n",
        f"{about}.\n" if about else "",
        f"A generative autoencoder built by gaespec {config['gaespec_version']} from its spec "
        f"(`spec.toml`): inputs of shape {' × '.join(map(str, config['input_shape']))}, a "
        f"{config['latent_dim']}-dimensional latent space. Trained on `{training.get('data')}` "
        f"for {training.get('epochs')} epochs (batch size {training.get('batch_size')}, seed "
        f"{training.get('seed')}); `model.safetensors` holds the weights that scored best on the "
        f"validation split (`{metrics.get('select')}`), from epoch {metrics['best_epoch']} "
        f"(step {metrics['best_step']}).\n",
        "## Use\n",
        "```python\nimport gaespec\n\n"
        f"model = gaespec.load_run({json.dumps(load_as)})  # TOML, JSON, safetensors: no pickle\n"
        "samples = model.sample(64)\n"
        f"x_hat = model.reconstruct(x)  # x of shape (n, {shape})\n```\n",
        f"```sh\ngaespec sample {load_as} --n 64\n```\n",
    ]
    for image in images:
        title, caption = CAPTIONS[image]
        parts.append(f"## {title}\n\n{caption}\n\n![{title}]({image})\n")
    parts += [
        "## Metrics\n",
        "Every loss term and objective: train, the mean over the epoch's steps; validation, the "
        "mean over the validation split.\n",
        metrics_table(metrics),
        "## Spec\n",
        "<details><summary>spec.toml, resolved: every default written out</summary>\n\n"
        f"```toml\n{spec_text.rstrip()}\n```\n\n</details>\n",
    ]
    return "\n".join(part for part in parts if part)
