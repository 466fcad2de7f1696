"""Versioned checkpoint files: ``{format_version, kind, config, signal_config, state_dict,
model_card}`` saved with ``torch.save`` (STYLE 4). A checkpoint needs nothing else to load.

Training checkpoints are the same dict plus a ``"training"`` entry (optimizer, step, RNG
states, training config); ``load_model`` ignores it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.resources
import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from midi_ddsp.config import SignalConfig
from midi_ddsp.errors import CheckpointError, ParameterError

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "checkpoint_id",
    "FORMAT_VERSION",
    "KINDS",
    "CheckpointMixin",
    "register_model",
    "save_checkpoint_dict",
    "read_checkpoint",
    "load_model",
    "shipped_checkpoint_path",
    "shipped_checkpoint_stem",
    "shipped_file",
]

FORMAT_VERSION = 1
KINDS: tuple[str, ...] = ("expression_generator", "synthesis_generator", "ddsp_inference")
_REQUIRED_KEYS = ("format_version", "kind", "config", "signal_config", "state_dict")
_MODEL_CLASSES: dict[str, type] = {}


def register_model(cls: type) -> type:
    """Class decorator: ``load_model`` builds checkpoints of ``cls.kind`` with ``cls`` (each model
    module, ``midi_ddsp.models.<kind>``, joins the registry when imported)."""
    if cls.kind not in KINDS:
        raise ValueError(f"{cls.__name__}.kind {cls.kind!r} is not one of {KINDS}")
    _MODEL_CLASSES[cls.kind] = cls
    return cls


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ParameterError(f"unknown model kind {kind!r}; expected one of {', '.join(KINDS)}")


def save_checkpoint_dict(path: "str | os.PathLike[str]", payload: dict) -> Path:
    """``torch.save`` a dict atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        import torch

        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_checkpoint(path: "str | os.PathLike[str]", *, kind: "str | None" = None) -> dict:
    """Read and check a checkpoint dict.

    Raises:
        CheckpointError: missing/unreadable/corrupt file, not a checkpoint dict, an unknown
            format_version, an unknown kind, or a kind other than ``kind``.
    """
    if kind is not None:
        _check_kind(kind)
    path = Path(path)
    if not path.exists():
        raise CheckpointError(path, "no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(path, "is a directory, not a checkpoint file")
    try:
        import torch

        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, OSError,
            ValueError, AttributeError, TypeError, io.UnsupportedOperation) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(path, f"not a readable checkpoint ({first[:200]})") from None
    if not isinstance(payload, dict) or any(k not in payload for k in _REQUIRED_KEYS):
        raise CheckpointError(path, "not a midi_ddsp checkpoint (missing keys "
                                    f"{[k for k in _REQUIRED_KEYS if k not in (payload if isinstance(payload, dict) else {})]})")
    version = payload["format_version"]
    if version != FORMAT_VERSION:
        raise CheckpointError(path, f"unknown checkpoint format_version {version!r} (this version "
                                    f"of midi_ddsp reads format_version {FORMAT_VERSION})")
    if payload["kind"] not in KINDS:
        raise CheckpointError(path, f"unknown model kind {payload['kind']!r}")
    if kind is not None and payload["kind"] != kind:
        raise CheckpointError(path, f"is a {payload['kind']} checkpoint, expected {kind}")
    return payload


def load_model(path: "str | os.PathLike[str]", *, kind: "str | None" = None) -> "nn.Module":
    """Build a model from a checkpoint file, in eval mode.

    Args:
        path: the ``.pt`` file.
        kind: optional expected kind (``"expression_generator"``, ``"synthesis_generator"``,
            ``"ddsp_inference"``); a checkpoint of another kind is refused.

    Raises:
        CheckpointError: see ``read_checkpoint``; also a config or state dict that does not fit
            the model.
    """
    payload = read_checkpoint(path, kind=kind)
    if payload["kind"] not in _MODEL_CLASSES:   # the model's module joins the registry on import
        importlib.import_module(f"midi_ddsp.models.{payload['kind']}")
    cls = _MODEL_CLASSES[payload["kind"]]
    try:
        config = cls.config_class.from_dict(payload["config"])
        signal = SignalConfig.from_dict(payload["signal_config"])
        model = cls(config, signal_config=signal)
        model.load_state_dict(payload["state_dict"])
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise CheckpointError(path, f"checkpoint does not fit the {payload['kind']} model "
                                    f"({text[:300]})") from None
    model.model_card = dict(payload.get("model_card") or {})
    model.eval()
    return model


def shipped_checkpoint_path(kind: str) -> Path:
    """Path of the shipped checkpoint of ``kind`` (package data ``midi_ddsp.checkpoints``).

    The file may not exist (e.g. before training); ``load_model`` then raises CheckpointError.
    """
    _check_kind(kind)
    return shipped_file(f"{kind}.pt")


def shipped_checkpoint_stem(kind: str, *, causal: bool = False) -> str:
    """File stem of a shipped checkpoint: the kind, ``causal_`` before it for the causal
    Synthesis Generator of live playing (``midi_ddsp.streaming``)."""
    _check_kind(kind)
    return f"causal_{kind}" if causal else kind


def checkpoint_id(path: "str | os.PathLike[str]") -> str:
    """``sha256:<12 hex>`` of a checkpoint file: how metadata, model cards and exported graphs
    name the weights they come from."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()[:12]


def shipped_file(name: str) -> Path:
    """Path of a file shipped with the checkpoints (package data ``midi_ddsp.checkpoints``);
    it may not exist."""
    return Path(str(importlib.resources.files("midi_ddsp.checkpoints").joinpath(name)))


class CheckpointMixin:
    """``from_checkpoint`` / ``save_checkpoint`` for a model with ``kind``, ``config_class``,
    ``config`` and ``signal_config``."""

    kind: str = ""
    config_class: Any = None

    @classmethod
    def from_checkpoint(cls, path: "str | os.PathLike[str]"):
        """Load a model of this class from ``path`` (CheckpointError if of another kind)."""
        return load_model(path, kind=cls.kind)

    def checkpoint_payload(self, *, model_card: "dict | None" = None) -> dict:
        """The checkpoint dict of this model (state dict tensors are copies on the CPU)."""
        state = {k: v.detach().cpu().clone() for k, v in self.state_dict().items()}
        return {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "config": dataclasses.asdict(self.config),
            "signal_config": self.signal_config.to_dict(),
            "state_dict": state,
            "model_card": dict(model_card if model_card is not None
                               else getattr(self, "model_card", {}) or {}),
        }

    def save_checkpoint(self, path: "str | os.PathLike[str]", *,
                        model_card: "dict | None" = None) -> Path:
        """Write this model's checkpoint atomically; returns the path."""
        return save_checkpoint_dict(path, self.checkpoint_payload(model_card=model_card))
