"""Which torch device the models run on: ``resolve_device("auto" | "cpu" | "cuda" | "cuda:1")``.

``auto`` picks CUDA when a GPU is present, else the CPU. Checkpoints are always written with CPU
tensors (``CheckpointMixin.checkpoint_payload``), so weights trained on a GPU load on a CPU.
"""
from __future__ import annotations

import torch

from midi_ddsp.errors import ParameterError

__all__ = ["DEVICES", "resolve_device"]

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: "str | torch.device" = "auto") -> torch.device:
    """The torch device for ``device``.

    Raises:
        ParameterError: an unknown name, or CUDA asked for where none is available.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ParameterError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    name = device.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ParameterError(f"device {device!r}: no CUDA GPU is available here "
                                 "(use --device cpu or auto)")
        try:
            return torch.device(name)
        except RuntimeError:
            raise ParameterError(f"device {device!r} is not a valid CUDA device") from None
    raise ParameterError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {device!r}")
