"""The model card: front matter the Hub's own parser reads back, and the metrics table."""

from __future__ import annotations

from huggingface_hub.repocard import metadata_load

from gaespec.hub.card import front_matter, metrics_table


def test_front_matter_reads_back_whatever_the_characters(tmp_path):
    card = tmp_path / "README.md"
    card.write_text(front_matter('odd: "name" # not a comment', "apache-2.0") + "\n# body\n")
    assert metadata_load(card) == {
        "library_name": "gaespec",
        "license": "apache-2.0",
        "tags": ["gaespec", "generative-autoencoder", "safetensors", 'odd: "name" # not a comment'],
    }


def test_the_table_has_a_row_per_term_and_a_column_per_split():
    record = {"epoch": 3, "train": {"recon": 1.0, "kl": 0.25}, "validation": {"recon": 2.0}}
    best = {"epoch": 1, "train": {}, "validation": {"recon": 1.5, "kl": 1 / 3}}
    assert metrics_table({"final": record, "best": best}) == (
        "| term | train, epoch 3 | validation, epoch 3 | validation, epoch 1 (best) |\n"
        "| --- | ---: | ---: | ---: |\n"
        "| recon | 1 | 2 | 1.5 |\n"
        "| kl | 0.25 |  | 0.333333 |\n"
    )
    assert metrics_table({"final": None, "best": None}) == "No metrics were recorded.\n"
