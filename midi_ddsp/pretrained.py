"""The model bundle the pipeline plays with, and loading it from the shipped checkpoints.

``load_pretrained_model()`` returns a ``MidiDDSP``: the Expression Generator (notes -> NoteTable)
and the Synthesis Generator (NoteTable -> SynthParams, plus the room reverb), with the id of each
checkpoint file. Loaded bundles are cached per (path, mtime).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from midi_ddsp.errors import CheckpointError, ParameterError
from midi_ddsp.models.checkpoint import checkpoint_id, load_model, shipped_checkpoint_path

__all__ = ["MidiDDSP", "RUNTIMES", "load_pretrained_model", "models_or_default"]

RUNTIMES = ("torch", "onnx", "auto")


@dataclasses.dataclass
class MidiDDSP:
    """The two generators that turn notes into synthesis parameters, loaded from checkpoints.

    Attributes:
        expression_generator: notes -> NoteTable (``midi_ddsp.models.ExpressionGenerator``).
        synthesis_generator: NoteTable -> SynthParams, and the reverb IR per instrument
            (``midi_ddsp.models.SynthesisGenerator``).
        checkpoints: kind -> ``{"path": ..., "id": "sha256:<12 hex>"}`` (empty for models built
            in memory).
    """

    expression_generator: Any
    synthesis_generator: Any
    checkpoints: dict = dataclasses.field(default_factory=dict)
    threads: int = 0  # torch threads a render runs on; 0: the count of the thread building this

    def __post_init__(self) -> None:
        if not self.threads:
            import torch

            self.threads = torch.get_num_threads()

    @property
    def frame_rate(self) -> int:
        """Frame rate (Hz) of the synthesis parameters."""
        return int(self.synthesis_generator.signal_config.frame_rate)

    @property
    def device(self):
        """The torch device the generators run on."""
        return next(self.synthesis_generator.parameters()).device

    @property
    def model_sample_rate(self) -> int:
        """Sample rate (Hz) the reverb IRs are given at."""
        return int(self.synthesis_generator.signal_config.sample_rate)

    runtime = "torch"

    def limit_threads(self, threads: int) -> None:
        """Run the generators on at most ``threads`` threads (batch workers)."""
        self.threads = max(1, int(threads))
        self.enter_thread()

    def enter_thread(self) -> None:
        """Give the calling thread this bundle's torch thread count before it renders.

        OpenMP and MKL keep the count per thread, fixed when a thread first runs torch, so a
        pooled worker thread would otherwise run with the count of an earlier time and round
        floats otherwise (the same part rendered twice differed by ~1e-5).
        """
        import torch

        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)


_CACHE: dict[tuple, MidiDDSP] = {}


def load_pretrained_model(*, expression_generator_path: "str | os.PathLike[str] | None" = None,
                          synthesis_generator_path: "str | os.PathLike[str] | None" = None,
                          device: str = "cpu", runtime: str = "torch") -> "MidiDDSP | Any":
    """Load the Expression and Synthesis Generators (shipped checkpoints by default).

    A path given for one model is used even when the shipped checkpoints are absent; the
    other comes from the shipped files. Loaded models are cached per (path, mtime), so calling
    this again is cheap.

    Args:
        expression_generator_path: an ``expression_generator`` checkpoint (.pt).
        synthesis_generator_path: a ``synthesis_generator`` checkpoint (.pt).
        device: where the generators run: ``"cpu"`` (default), ``"cuda"`` or ``"auto"`` (CUDA
            when present; ``midi_ddsp.devices.resolve_device``). The DDSP synth runs on the CPU.
        runtime: ``"torch"`` (default: the ``MidiDDSP`` of torch modules, for training, editing
            the models and the evaluation), ``"onnx"`` (the shipped generators' ONNX graphs on
            onnxruntime, ``midi_ddsp.runtime.OnnxMidiDDSP``: renders the same, starts in a
            fraction of the time; ``CheckpointError`` when not available) or ``"auto"`` (onnx for
            the shipped checkpoints on the CPU when available, else torch: the command line's
            default).

    Raises:
        CheckpointError: a file is missing, corrupt, of an unknown version or of the wrong kind
            (one line naming the file).
    """
    if runtime not in RUNTIMES:
        raise ParameterError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if runtime != "torch":
        shipped = expression_generator_path is None and synthesis_generator_path is None
        onnx = None
        if shipped and device in ("cpu", "auto"):   # auto: the CPU unless cuda is asked for
            from midi_ddsp.runtime import load_onnx_models

            onnx = load_onnx_models()
        if onnx is not None:
            return onnx
        if runtime == "onnx":
            from midi_ddsp.runtime import onnx_dir

            raise CheckpointError(onnx_dir(), "no ONNX graphs of the shipped checkpoints to run "
                                  "(needs onnxruntime, the shipped checkpoints and the CPU)")
    paths = {}
    for kind, given in (("expression_generator", expression_generator_path),
                        ("synthesis_generator", synthesis_generator_path)):
        paths[kind] = Path(given) if given is not None else shipped_checkpoint_path(kind)
    from midi_ddsp.devices import resolve_device

    target = resolve_device(device)
    key = tuple((str(p.resolve()), p.stat().st_mtime if p.exists() else None)
                for p in paths.values()) + (str(target),)
    if key in _CACHE:
        return _CACHE[key]
    models = {kind: load_model(path, kind=kind).to(target) for kind, path in paths.items()}
    bundle = MidiDDSP(
        expression_generator=models["expression_generator"],
        synthesis_generator=models["synthesis_generator"],
        checkpoints={kind: {"path": str(path), "id": checkpoint_id(path)} for kind, path in paths.items()},
    )
    _CACHE[key] = bundle
    return bundle


def models_or_default(models: "MidiDDSP | Any | None") -> "MidiDDSP | Any":
    """``models``, or the shipped bundle (torch) when None.

    Raises:
        ParameterError: ``models`` is neither a ``MidiDDSP`` nor a
            ``midi_ddsp.runtime.OnnxMidiDDSP``.
    """
    if models is None:
        return load_pretrained_model()
    if not isinstance(models, MidiDDSP) and getattr(models, "runtime", None) != "onnxruntime":
        raise ParameterError(f"models must be a MidiDDSP or an OnnxMidiDDSP (see "
                             f"load_pretrained_model), "
                             f"got {type(models).__name__}")
    return models
