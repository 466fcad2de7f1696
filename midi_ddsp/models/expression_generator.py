"""Expression Generator: notes + instrument -> the six note expressions of every note.

A bidirectional GRU reads the note features of the whole part (``note_sequence_features``: pitch,
duration, gaps, velocity, phrase position and boundaries, metrical weight, and with
``mark_inputs`` the score marks; none depends on the part's length) with the instrument embedding; a unidirectional GRU decoder runs autoregressively
over notes, taking the previous note's expressions, and predicts a mean and a log standard
deviation per expression. Training is teacher-forced (MSE on the mean + Gaussian NLL for the
spread) on whole pieces and random runs of notes. ``generate`` is deterministic (the means) with
``seed=None`` or ``temperature=0`` and samples ``mean + temperature * std * N(0, 1)`` with a seed.
Notes are ~100x fewer than frames, so the Python loop over notes is cheap.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from midi_ddsp.config import DEFAULT_SIGNAL_CONFIG, SignalConfig, config_from_dict
from midi_ddsp.errors import ParameterError
from midi_ddsp.expression.definitions import DEFAULT_TEMPERATURE, EXPRESSION_NAMES
from midi_ddsp.expression.note_expressions import NoteExpressions
from midi_ddsp.expression.note_table import note_table_from_expressions
from midi_ddsp.instruments import InstrumentSpec, instrument_weights
from midi_ddsp.models.checkpoint import CheckpointMixin, register_model
from midi_ddsp.models.features import (N_NOTE_FEATURES, N_PLAIN_NOTE_FEATURES,
                                      note_sequence_features)
from midi_ddsp.models.layers import InstrumentEmbedding
from midi_ddsp.models.sampling import check_sampling, generated_values, sample_note
from midi_ddsp.score import Note

__all__ = ["ExpressionGeneratorConfig", "ExpressionGenerator"]

_N_EXPR = len(EXPRESSION_NAMES)
_LOG_STD_RANGE = (-6.0, 1.0)
# Generated values are clipped to the corpus's span (ExpressionRange.generated_low/high).


@dataclasses.dataclass(frozen=True)
class ExpressionGeneratorConfig:
    """Hyper-parameters of the Expression Generator.

    Attributes:
        encoder_hidden: hidden size of each direction of the note encoder GRU.
        decoder_hidden: hidden size of the autoregressive decoder GRU.
        embedding_dim: instrument embedding size.
        vibrato_rate_output: also generate each note's vibrato rate (the NoteTable's optional
            ``vibrato_rate`` column, Hz), a seventh output beside the six expressions.
        mark_inputs: also read the notes' score marks (``note_mark_features``: dynamics,
            wedges, articulations, slurs, fermatas); without, only the first
            ``N_PLAIN_NOTE_FEATURES`` note features.
    """

    encoder_hidden: int = 128
    decoder_hidden: int = 192
    embedding_dim: int = 16
    vibrato_rate_output: bool = False
    mark_inputs: bool = False

    @classmethod
    def tiny(cls) -> "ExpressionGeneratorConfig":
        return cls(encoder_hidden=8, decoder_hidden=8, embedding_dim=4)

    @classmethod
    def from_dict(cls, values: dict) -> "ExpressionGeneratorConfig":
        return config_from_dict(cls, values)


@register_model
class ExpressionGenerator(CheckpointMixin, nn.Module):
    """Autoregressive-over-notes generator of NoteTables (see module docstring)."""

    kind = "expression_generator"
    config_class = ExpressionGeneratorConfig

    def __init__(self, config: "ExpressionGeneratorConfig | None" = None, *,
                 signal_config: SignalConfig = DEFAULT_SIGNAL_CONFIG):
        super().__init__()
        self.config = config or ExpressionGeneratorConfig()
        self.signal_config = signal_config
        self.model_card: dict = {}
        c = self.config
        self.n_outputs = _N_EXPR + int(bool(c.vibrato_rate_output))
        self.n_note_features = N_NOTE_FEATURES if c.mark_inputs else N_PLAIN_NOTE_FEATURES
        self.embedding = InstrumentEmbedding(c.embedding_dim)
        self.encoder = nn.GRU(self.n_note_features + c.embedding_dim, c.encoder_hidden,
                              batch_first=True, bidirectional=True)
        self.decoder = nn.GRU(2 * c.encoder_hidden + self.n_outputs + c.embedding_dim,
                              c.decoder_hidden, batch_first=True)
        self.head = nn.Sequential(nn.Linear(c.decoder_hidden + 2 * c.encoder_hidden, c.decoder_hidden),
                                  nn.GELU(), nn.Linear(c.decoder_hidden, 2 * self.n_outputs))

    def with_rate_output(self) -> "ExpressionGenerator":
        """This model grown a seventh output, the vibrato rate (``vibrato_rate_output``): the
        six expressions' weights are copied, the new decoder input (the previous note's rate)
        and the new head rows start at zero, so it generates what this model does, plus a
        rate of 5.5 Hz (unit 0) until trained."""
        if self.config.vibrato_rate_output:
            return self
        grown = ExpressionGenerator(dataclasses.replace(self.config, vibrato_rate_output=True),
                                    signal_config=self.signal_config)
        state = {k: v.clone() for k, v in self.state_dict().items()}
        at = 2 * self.config.encoder_hidden + _N_EXPR   # the previous rate's decoder input column
        w = state["decoder.weight_ih_l0"]
        state["decoder.weight_ih_l0"] = torch.cat([w[:, :at], torch.zeros_like(w[:, :1]), w[:, at:]], 1)
        rows = [*range(_N_EXPR), None, *range(_N_EXPR, 2 * _N_EXPR), None]   # mean 7, log_std 7
        for name in ("head.2.weight", "head.2.bias"):
            old = state[name]
            state[name] = torch.stack([old[i] if i is not None else torch.zeros_like(old[0])
                                       for i in rows])
        grown.load_state_dict(state)
        grown.model_card = dict(self.model_card)
        return grown

    def with_mark_inputs(self) -> "ExpressionGenerator":
        """This model grown the score-mark inputs (``mark_inputs``): every weight is copied and
        the encoder's weights for the new input columns start at zero, so it generates what
        this model does until trained."""
        if self.config.mark_inputs:
            return self
        grown = ExpressionGenerator(dataclasses.replace(self.config, mark_inputs=True),
                                    signal_config=self.signal_config)
        state = {k: v.clone() for k, v in self.state_dict().items()}
        at, extra = N_PLAIN_NOTE_FEATURES, N_NOTE_FEATURES - N_PLAIN_NOTE_FEATURES
        for name in ("encoder.weight_ih_l0", "encoder.weight_ih_l0_reverse"):
            w = state[name]
            state[name] = torch.cat([w[:, :at], w.new_zeros(w.shape[0], extra), w[:, at:]], 1)
        grown.load_state_dict(state)
        grown.model_card = dict(self.model_card)
        return grown

    def train_marks_only(self) -> None:
        """Freeze all but the encoder's weights for the mark input columns: training then
        learns what the marks do, and unmarked notes (all mark columns 0) generate exactly
        what they did before."""
        if not self.config.mark_inputs:
            raise ParameterError("train_marks_only needs a model with mark_inputs")
        for param in self.parameters():
            param.requires_grad_(False)
        keep = torch.zeros(1, N_NOTE_FEATURES + self.config.embedding_dim)
        keep[:, N_PLAIN_NOTE_FEATURES:N_NOTE_FEATURES] = 1.0
        for weight in (self.encoder.weight_ih_l0, self.encoder.weight_ih_l0_reverse):
            weight.requires_grad_(True)
            weight.register_hook(lambda grad, k=keep: grad * k.to(grad.device))

    def train_rate_only(self) -> None:
        """Freeze all but the rate output's head rows (mean and log-std): training then learns
        the rate as a readout of the decoder state and the six expressions stay as they are."""
        if not self.config.vibrato_rate_output:
            raise ParameterError("train_rate_only needs a model with vibrato_rate_output")
        for param in self.parameters():
            param.requires_grad_(False)
        keep = torch.zeros(2 * self.n_outputs, 1)
        keep[[_N_EXPR, 2 * _N_EXPR + 1]] = 1.0
        for param in self.head[2].parameters():
            param.requires_grad_(True)
            param.register_hook(lambda grad, k=keep: grad * k.to(grad.device).reshape(
                -1, *[1] * (grad.dim() - 1)))

    def encode(self, note_features: torch.Tensor, instrument_weights: torch.Tensor) -> torch.Tensor:
        """[batch, n_notes, >= n_note_features], [batch, 13] -> context [batch, n_notes,
        2 * encoder_hidden]; note feature columns past ``n_note_features`` are ignored."""
        note_features = note_features[..., :self.n_note_features]
        emb = self.embedding(instrument_weights)[:, None, :].expand(-1, note_features.shape[1], -1)
        context, _ = self.encoder(torch.cat([note_features, emb], dim=-1))
        return context

    def _step(self, context, previous, emb, hidden):
        out, hidden = self.decoder(torch.cat([context, previous, emb], dim=-1), hidden)
        raw = self.head(torch.cat([out, context], dim=-1))
        mean, log_std = raw[..., :self.n_outputs], raw[..., self.n_outputs:]
        return mean, log_std.clamp(*_LOG_STD_RANGE), hidden

    def forward(self, note_features: torch.Tensor, instrument_weights: torch.Tensor,
                previous_expressions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced pass.

        Args:
            note_features: [batch, n_notes, N_NOTE_FEATURES] from ``note_sequence_features``
                (or just the first ``n_note_features`` columns).
            instrument_weights: [batch, 13].
            previous_expressions: [batch, n_notes, n_outputs]: the expressions of the note before
                each note (zeros for the first note); n_outputs is 6, or 7 with the vibrato
                rate (in ``sampling.rate_to_unit``'s unit) when the model generates it.

        Returns:
            mean and log_std [batch, n_notes, n_outputs] of each note's expressions.
        """
        context = self.encode(note_features, instrument_weights)
        emb = self.embedding(instrument_weights)[:, None, :].expand(-1, context.shape[1], -1)
        mean, log_std, _ = self._step(context, previous_expressions, emb, None)
        return mean, log_std

    def generate(self, notes: Sequence[Note], instrument: InstrumentSpec, *,
                 seed: "int | None" = None,
                 temperature: float = DEFAULT_TEMPERATURE) -> pd.DataFrame:
        """The NoteTable of ``notes`` (one monophonic part, sorted by onset).

        The whole part is encoded at once and decoded note by note. No input depends on the
        part's length (``note_sequence_features``) and the model is trained on whole pieces, so
        the level holds over parts of any length (measured: within 2.5 dB over 8 minutes).

        Args:
            notes: ``Note`` objects (pitch, onset_s, offset_s, velocity).
            instrument: a name/alias, an ``Instrument`` or a blend ``{name: weight}``.
            seed: sampling seed; None = deterministic (same as ``temperature=0``).
            temperature: scale of the sampled deviation from the predicted mean: 0 = the means,
                1 = the model's predicted spread (default ``DEFAULT_TEMPERATURE``, as the
                rendering API).

        Returns:
            NoteTable DataFrame (``NOTE_TABLE_COLUMNS``); expressions clipped to their generated
            ranges (``ExpressionRange.generated_low`` .. ``generated_high``).
        """
        notes = list(notes)
        values = self.sample_expressions(notes, instrument, seed=seed, temperature=temperature)
        return note_table_from_expressions(NoteExpressions.from_generated(notes, values))

    def sample_expressions(self, notes: Sequence[Note], instrument: InstrumentSpec, *,
                           seed: "int | None" = None,
                           temperature: float = DEFAULT_TEMPERATURE) -> np.ndarray:
        """``generate``'s expressions alone: float32 [n_notes, 6] in ``EXPRESSION_NAMES`` order,
        and a seventh column, the vibrato rate in Hz, when the model generates it
        (``NoteExpressions.from_generated`` reads both).

        The sampling noise of note i is the i-th draw of ``check_sampling(notes, seed,
        temperature)``'s ``NoteNoise`` (numpy), so any runtime of this model samples the same
        performance from the same seed, and so does its ``with_rate_output`` growth.
        """
        notes, rng, temperature = check_sampling(notes, seed, temperature)
        device = next(self.parameters()).device
        weights = torch.from_numpy(instrument_weights(instrument))[None].to(device)
        values = np.zeros((len(notes), self.n_outputs), np.float32)
        if notes:
            with torch.no_grad():
                context = self.encode(torch.from_numpy(note_sequence_features(notes))[None].to(device),
                                      weights)
                emb = self.embedding(weights)[:, None, :]
                previous = torch.zeros(1, 1, self.n_outputs, device=device)
                hidden = None
                for i in range(len(notes)):
                    mean, log_std, hidden = self._step(context[:, i:i + 1], previous, emb, hidden)
                    values[i] = sample_note(mean[0, 0].cpu().numpy(),
                                            log_std[0, 0].cpu().numpy(), rng, temperature)
                    previous = torch.from_numpy(values[i])[None, None].to(device)
        return generated_values(values)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
