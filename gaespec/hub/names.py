"""Names of models on the Hugging Face Hub: repository ids ("ORG/NAME") and the references
"hf://ORG/NAME" or "hf://ORG/NAME@REVISION" that `load_run` and the CLI take."""

from __future__ import annotations

import re
from pathlib import Path

from gaespec.errors import RunError

HUB_PREFIX = "hf://"
# the Hub checks the finer rules (length, no "--" or ".."); this catches a missing org or a URL
_REPO_ID = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def is_hub_ref(text: str) -> bool:
    """Whether `text` names a model on the Hub ("hf://...") rather than a folder."""
    return text.startswith(HUB_PREFIX)


def check_repo_id(repo: str) -> str:
    """`repo` if it has the shape of a Hub repository id, "ORG/NAME"; else RunError."""
    if not _REPO_ID.fullmatch(repo):
        raise RunError(
            f"'{repo}' is not a Hugging Face Hub repository id",
            fix="give ORG/NAME, e.g. someorg/beta-vae-mnist",
        )
    return repo


def parse_hub_ref(ref: str) -> tuple[str, str | None]:
    """The repository id and revision (None: the default branch) of "hf://ORG/NAME[@REVISION]"."""
    repo, _, revision = ref.removeprefix(HUB_PREFIX).partition("@")
    if not _REPO_ID.fullmatch(repo) or (ref.count("@") and not revision):
        raise RunError(
            f"'{ref}' is not a Hugging Face Hub model reference",
            fix="give hf://ORG/NAME or hf://ORG/NAME@REVISION",
        )
    return repo, revision or None


def working_folder(run: str) -> Path:
    """Where commands write what they make from `run` (samples, fitted samplers, reports): the
    run folder itself, or runs/hf/ORG/NAME[@REVISION] for a model on the Hub, whose cache is
    never written to."""
    if not is_hub_ref(run):
        return Path(run)
    repo, revision = parse_hub_ref(run)
    org, name = repo.split("/")
    return Path("runs") / "hf" / org / (f"{name}@{revision}" if revision else name)
