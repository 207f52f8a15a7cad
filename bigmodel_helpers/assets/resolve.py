"""Where a model comes from: an explicit path -> the course cache -> the hub (gpu profile, online) -> the
offline stack, and the one line that says which was used and why."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

HUB_HOST = ("huggingface.co", 443)


def cache_dir() -> Path:
    """The course cache: ``$BIGMODEL_CACHE``, default ``~/.cache/bigmodel-course``."""
    return Path(os.environ.get("BIGMODEL_CACHE") or Path.home() / ".cache" / "bigmodel-course")


# ----------------------------------------------------------------------------------------------- online?
_hub_answer: bool | None = None


def hub_online(timeout: float = 1.5) -> bool:
    """True when the Hugging Face hub answers within ``timeout`` s. Decided once per process.

    Without this, a hub name with no network retries for ~23 s. When the hub is unreachable we set
    ``HF_HUB_OFFLINE=1`` so that nothing later waits for it either.
    """
    global _hub_answer
    if _hub_answer is None:
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            _hub_answer = False
        else:
            result = []

            def probe():
                try:
                    socket.create_connection(HUB_HOST, timeout=timeout).close()
                    result.append(True)
                except OSError:
                    result.append(False)

            thread = threading.Thread(target=probe, daemon=True)   # DNS lookups ignore socket timeouts
            thread.start()
            thread.join(timeout + 0.4)
            _hub_answer = bool(result and result[0])
        if not _hub_answer:
            os.environ["HF_HUB_OFFLINE"] = "1"
            try:
                import huggingface_hub.constants as hub_constants
                hub_constants.HF_HUB_OFFLINE = True
            except (ImportError, AttributeError):
                pass
    return _hub_answer


def _resolve(asset, profile: str, path: str | os.PathLike | None) -> tuple[str, str]:
    """Return ``(where, source)`` for an ``Asset``: a local folder/file or a hub name, and a word for the
    source."""
    from ..profiles import check_profile
    from .registry import AssetError, package_dir  # registry needs cache_dir from here, so import late
    check_profile(profile)
    if path is not None:
        if not Path(path).exists():
            raise AssetError(f"The path given for {asset.name!r} does not exist: {path}")
        return str(path), "the path you gave"
    # The hub comes before the course cache: the cache holds the offline model converted once (SmolLM2 from
    # its GGUF), so reading it first would hand the gpu profile the small offline model instead of its hub model.
    if profile == "gpu" and asset.hub_name:
        if hub_online():
            return asset.hub_name, "the hub (gpu profile, online)"
        print(f"[assets] {asset.name}: the hub is unreachable, so the offline stack replaces {asset.hub_name!r}")
    cached = cache_dir() / "models" / asset.name
    if cached.exists():
        return str(cached), f"the course cache ({cached})"
    return str(package_dir(asset)), f"the offline stack ({asset.package})"


def _say(asset, where: str, source: str) -> None:
    print(f"[assets] {asset.name}: {where if source.startswith('the hub') else Path(where).name} from {source}")
