"""The optional `huggingface_hub` library: imported on use, with a one-line error naming the
extra when it is missing, and the errors its network calls raise, for one-line reports."""

from __future__ import annotations

import sys
from types import ModuleType

from gaespec.errors import RunError

EXTRA = "pip install 'gaespec[hub]'"


def hub_library(needed_by: str) -> ModuleType:
    """The `huggingface_hub` module; RunError naming the extra when it is not installed."""
    try:
        import huggingface_hub
    except ImportError:
        raise RunError(
            f"{needed_by} needs huggingface_hub, which is not installed", fix=EXTRA
        ) from None
    return huggingface_hub


def network_errors() -> tuple[type[BaseException], ...]:
    """What a call to the Hub raises when the network, the server, the token or a name fails:
    OSError (huggingface_hub's HTTP, offline and cache errors), its name check, and the errors of
    the HTTP library it uses (requests, httpx or httpx2, by version)."""
    from huggingface_hub.utils import HFValidationError

    errors: list[type[BaseException]] = [OSError, HFValidationError]
    libraries = (("requests", "RequestException"), ("httpx", "HTTPError"), ("httpx2", "HTTPError"))
    for module, name in libraries:
        if module in sys.modules and hasattr(sys.modules[module], name):
            errors.append(getattr(sys.modules[module], name))
    return tuple(errors)


def first_line(error: BaseException) -> str:
    """The error's first line (the Hub's errors add the server's reply and a request id)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def hub_cache() -> str:
    """The folder of huggingface_hub's local cache (HF_HUB_CACHE, or under HF_HOME)."""
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def hub_offline() -> bool:
    """Whether huggingface_hub runs offline (HF_HUB_OFFLINE=1): the cache only, no network."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)
