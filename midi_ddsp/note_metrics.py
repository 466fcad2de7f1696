"""Note-level transcription metrics (mir_eval.transcription's rules, written here: mir_eval is
not a dependency): one-to-one matching of reference and estimated notes on onset, pitch and,
optionally, offset."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from midi_ddsp.dsp.units import midi_to_hz
from midi_ddsp.score import Note

__all__ = ["note_f1", "notes_from_array"]


def notes_from_array(array) -> list[Note]:
    """Notes from a float array [n_notes, 4] of pitch, onset_s, offset_s, velocity (the shard
    format); velocities clipped to 1..127."""
    a = np.asarray(array, np.float64).reshape(-1, 4)
    return [Note(int(round(p)), float(on), float(off), int(np.clip(round(v), 1, 127)))
            for p, on, off, v in a]


def note_f1(reference: Sequence[Note], estimated: Sequence[Note], *,
            onset_tolerance_s: float = 0.05, pitch_tolerance_cents: float = 50.0,
            offset_ratio: "float | None" = None, offset_min_tolerance_s: float = 0.05) -> dict:
    """Note precision, recall and F1 with one-to-one matching (mir_eval.transcription's rules).

    A reference and an estimated note match when their onsets differ by at most
    ``onset_tolerance_s``, their pitches by at most ``pitch_tolerance_cents`` and, with
    ``offset_ratio``, their offsets by at most ``max(offset_min_tolerance_s, offset_ratio *
    reference duration)``; the matching is a maximum bipartite matching.

    Returns:
        ``{"precision", "recall", "f1", "n_reference", "n_estimated", "n_matched"}``.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    ref, est = list(reference), list(estimated)
    out = {"n_reference": len(ref), "n_estimated": len(est)}
    if not ref or not est:
        return dict(out, precision=0.0, recall=0.0, f1=0.0, n_matched=0)
    r_on = np.array([n.onset_s for n in ref])[:, None]
    e_on = np.array([n.onset_s for n in est])[None, :]
    r_p = np.array([midi_to_hz(n.pitch) for n in ref])[:, None]
    e_p = np.array([midi_to_hz(n.pitch) for n in est])[None, :]
    ok = (np.abs(r_on - e_on) <= onset_tolerance_s + 1e-9) \
        & (np.abs(1200.0 * np.log2(e_p / r_p)) <= pitch_tolerance_cents + 1e-9)
    if offset_ratio is not None:
        r_off = np.array([n.offset_s for n in ref])[:, None]
        e_off = np.array([n.offset_s for n in est])[None, :]
        tolerance = np.maximum(offset_min_tolerance_s, offset_ratio * (r_off - r_on))
        ok &= np.abs(r_off - e_off) <= tolerance + 1e-9
    match = maximum_bipartite_matching(csr_matrix(ok.astype(np.int8)), perm_type="column")
    matched = int(np.sum(match >= 0))
    precision, recall = matched / len(est), matched / len(ref)
    f1 = 2 * precision * recall / (precision + recall) if matched else 0.0
    return dict(out, precision=precision, recall=recall, f1=f1, n_matched=matched)
