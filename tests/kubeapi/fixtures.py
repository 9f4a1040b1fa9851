"""Reading the compatibility fixtures (``cluster.yaml`` + ``meta.json``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1 timestamp resolution: Kubernetes timestamps stay strings."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"] for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def yaml_load(text: str | bytes) -> Any:
    """YAML as the apiserver reads it: timestamps stay strings."""
    return yaml.load(text, Loader=_Loader)


def load_fixture(directory: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``(objects, meta)`` of a fixture directory; ``objects`` are the items of its ``v1 List``."""
    d = Path(directory)
    meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
    doc = yaml_load((d / "cluster.yaml").read_text(encoding="utf-8")) or {}
    if not isinstance(doc, dict):
        raise ValueError(f"{d / 'cluster.yaml'}: not a Kubernetes object")
    items = (doc.get("items") or []) if str(doc.get("kind", "List")).endswith("List") else [doc]
    return [dict(o) for o in items], meta
