"""Models on the Hugging Face Hub for `load_run`: "hf://ORG/NAME[@REVISION]" to a local folder
through huggingface_hub's cache, which alone is read when HF_HUB_OFFLINE=1."""

from __future__ import annotations

from pathlib import Path

from gaespec import runs as layout
from gaespec.errors import RunError
from gaespec.hub.client import first_line, hub_cache, hub_library, hub_offline, network_errors
from gaespec.hub.names import parse_hub_ref

# what load_run reads: an export's files, or a run folder's training.json if one was uploaded
NEEDED = (layout.SPEC, layout.MODEL, layout.CONFIG, layout.TRAINING)


def download_run(ref: str) -> Path:
    """The local folder (in huggingface_hub's cache) of the Hub model `ref`, with the files
    load_run reads, downloaded first unless they are cached and current or HF_HUB_OFFLINE=1."""
    repo, revision = parse_hub_ref(ref)
    hub = hub_library(f"loading '{ref}'")
    from huggingface_hub.utils import (
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        folder = Path(hub.snapshot_download(repo, revision=revision, allow_patterns=list(NEEDED)))
    except LocalEntryNotFoundError as error:
        if hub_offline():
            raise RunError(
                f"'{ref}' is not in the Hugging Face cache '{hub_cache()}', and HF_HUB_OFFLINE=1 "
                "forbids downloading it",
                fix="load it once with a network (HF_HUB_OFFLINE unset), or point HF_HUB_CACHE "
                "at a cache that holds it",
            ) from None
        raise RunError(
            f"cannot download '{ref}', and it is not in the Hugging Face cache "
            f"'{hub_cache()}': {first_line(error)}",
            fix="check the network connection",
        ) from None
    except RevisionNotFoundError:
        raise RunError(
            f"'{ref}': the Hub repository '{repo}' has no revision '{revision}'",
            fix="give one of its branches, tags or commits",
        ) from None
    except RepositoryNotFoundError:
        raise RunError(
            f"'{ref}': the Hugging Face Hub has no model repository '{repo}' that this token "
            "may read",
            fix="check the name; for a private model log in (`hf auth login`) or set HF_TOKEN",
        ) from None
    except network_errors() as error:
        raise RunError(
            f"cannot download '{ref}' from the Hugging Face Hub: {first_line(error)}",
            fix="check the network connection",
        ) from None
    missing = [name for name in (layout.SPEC, layout.MODEL) if not (folder / name).is_file()]
    if missing:
        raise RunError(
            f"'{ref}' is not a gaespec model: it has no {' or '.join(missing)}",
            fix="give a repository written by `gaespec push`",
        )
    return folder
