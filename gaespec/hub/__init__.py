"""Sharing models in the Hugging Face Hub's layout: export a run folder, push it to the Hub, and
load "hf://ORG/NAME" from the Hub or its local cache (TOML, JSON and safetensors only).

`huggingface_hub` is optional (`pip install 'gaespec[hub]'`): exporting never needs it.
"""

from __future__ import annotations

from gaespec.hub.export import EXPORTED, export_run
from gaespec.hub.names import HUB_PREFIX, is_hub_ref, parse_hub_ref, working_folder
from gaespec.hub.push import push_run
from gaespec.hub.resolve import download_run

__all__ = [
    "EXPORTED",
    "HUB_PREFIX",
    "download_run",
    "export_run",
    "is_hub_ref",
    "parse_hub_ref",
    "push_run",
    "working_folder",
]
