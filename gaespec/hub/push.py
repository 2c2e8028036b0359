"""`gaespec push`: export a run and upload it to a Hugging Face Hub model repository, made when
missing; needs huggingface_hub, a network and a token."""

from __future__ import annotations

import tempfile
from pathlib import Path

from gaespec import __version__
from gaespec.errors import RunError
from gaespec.hub.client import first_line, hub_library, hub_offline, network_errors
from gaespec.hub.export import EXPORTED, export_run
from gaespec.hub.names import check_repo_id


def push_run(
    run: str | Path,
    repo: str,
    *,
    private: bool = False,
    token: str | None = None,
    license: str | None = None,
    endpoint: str | None = None,
) -> str:
    """Export run folder `run` and upload it to the Hub model repository `repo` ("ORG/NAME"),
    created (private if asked) when missing; returns the repository's URL. The token is `token`,
    else the one huggingface_hub knows (HF_TOKEN, or `hf auth login`); `endpoint` is a Hub other
    than huggingface.co's (default: HF_ENDPOINT)."""
    check_repo_id(repo)
    hub = hub_library("gaespec push")
    with tempfile.TemporaryDirectory(prefix="gaespec-push-") as tmp:
        folder = export_run(run, Path(tmp) / "model", repo=repo, license=license)
        api = hub.HfApi(token=token, endpoint=endpoint)
        try:
            url = api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
            api.upload_folder(
                repo_id=repo,
                repo_type="model",
                folder_path=str(folder),
                commit_message=f"gaespec {__version__}: export of {Path(run).name}",
                # a file an earlier push wrote that this export does not (a sample grid)
                delete_patterns=list(EXPORTED),
            )
        except network_errors() as error:
            raise RunError(
                f"cannot push '{run}' to '{repo}' on the Hugging Face Hub: {first_line(error)}",
                fix="unset HF_HUB_OFFLINE"
                if hub_offline()
                else "check the network, the repository id and the token (--token, HF_TOKEN or "
                "`hf auth login`)",
            ) from None
    return str(url)
