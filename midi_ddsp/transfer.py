"""From recordings: a monophonic recording played by another instrument (DESIGN §1, "audio in").

``transfer_audio(audio, sample_rate, instrument)`` returns a ``SynthesisResult`` laid out like
``synthesize_midi``'s (one part; ``write_result`` writes mix, stems, note_tables, params,
metadata; ``rerender`` edits it like any other result):

1. the recording (mixed to mono, resampled to 16 kHz) is **levelled**: one gain so that its
   90th-percentile note sits at ``REFERENCE_VOLUME``, the level of the training corpus (a
   recording's absolute level is arbitrary; the gain is in the metadata);
2. ``midi_ddsp.transcription.transcribe`` finds its notes (velocity estimated from loudness);
3. ``midi_ddsp.analysis.analyse_audio`` measures its synthesis parameters with the CREPE f0
   (interpolated to 250 Hz; 0 where the recording is silent), and
   ``midi_ddsp.expression.extract_note_expressions`` reads the six expressions of each note
   off them (clipped to each expression's valid range): the **NoteTable** of the performance;
4. ``mode="performance"``: the target instrument's Synthesis Generator renders that NoteTable
   (phrasing, dynamics, vibrato carry over; the notes are moved by octaves into the
   instrument's range when needed). ``mode="resynthesis"`` (DDSP-style timbre transfer): the
   same Synthesis Generator output with its f0 replaced by the source's CREPE f0 wherever the
   source is pitched, and its amplitude by the source's analysed harmonic amplitude (the
   noise bands scaled by the same per-frame gain), so pitch and loudness follow the recording
   frame by frame and the timbre (harmonic distribution, noise colour) is the instrument's.
   The source controls are kept in ``result.controls`` (``SourceControls``), so ``rerender``
   with an edited NoteTable applies them again.

``transfer_file(path, instrument)`` reads wav, flac, ogg, aiff (soundfile) or mp3 (soundfile,
else librosa/audioread), any rate, mono or stereo, and turns every input it cannot transcribe
(missing, not audio, silent, noise, polyphonic, too short) into one ``InputFileError`` line
naming the file. ``save_midi`` writes the transcription as a .mid file (velocities, and the
expressions as controllers: ``MIDI_EXPRESSION_CCS``).
"""
from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from midi_ddsp.analysis import analyse_audio
from midi_ddsp.casting import dominant_instrument, instrument_label, instrument_spec
from midi_ddsp.config import RELEASE_TAIL_S
from midi_ddsp.crepe import CREPE_SAMPLE_RATE, resample_audio
from midi_ddsp.dsp.rooms import DEFAULT_REVERB, reverb_preset
from midi_ddsp.dsp.units import db_to_amplitude
from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.expression import EXPRESSIONS, extract_note_expressions, validate_note_table
from midi_ddsp.mixing import mix_stems, normalize_mode
from midi_ddsp.pipeline import generate_synth_params, render_audio
from midi_ddsp.pretrained import MidiDDSP, models_or_default
from midi_ddsp.results import SynthesisResult
from midi_ddsp.score import Note, Part, fit_part_to_range
from midi_ddsp.synth_params import SynthParams
from midi_ddsp.monophony import MIN_DURATION_S, input_problem, silent
from midi_ddsp.transcription import Transcription, transcribe

__all__ = ["MODES", "REFERENCE_VOLUME", "MIDI_EXPRESSION_CCS", "UntranscribableAudioError",
           "SourceControls", "load_audio", "transfer_audio", "transfer_file", "save_midi"]

logger = logging.getLogger(__name__)

MODES = ("performance", "resynthesis")
REFERENCE_VOLUME = 0.8
"""The 90th-percentile note volume of the training corpus (test split, median over the 13
instruments: 0.82); recordings are levelled to it."""
MIDI_EXPRESSION_CCS = {"volume": 11, "vibrato": 1, "brightness": 74, "attack": 73,
                       "vol_fluc": 75, "vol_peak_pos": 76}
"""Controller written at each note onset by ``save_midi``: CC11 (expression) = the note's volume
relative to the loudest note on the GM 40 log10 gain curve (what a GM synth and
``midi_ddsp.midi_controls`` play as gain); the others = the expression mapped from its typical
range (``EXPRESSIONS``: low..high) to 0..127: CC1 vibrato, CC74 brightness, CC73 attack, CC75
vol_fluc, CC76 vol_peak_pos."""
_MAX_NOISE_GAIN_DB = 24.0    # resynthesis: noise bands follow the amplitude gain up to this
_AMPLITUDE_FLOOR = 1e-5      # resynthesis: gains are computed against at least this amplitude
_AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".mp3")


class UntranscribableAudioError(ParameterError):
    """The audio holds nothing a monophonic transcription can use (``transfer_file`` turns it
    into an ``InputFileError`` naming the file)."""


@dataclasses.dataclass
class SourceControls:
    """The source recording's f0 and amplitude at the frame rate, applied over a Synthesis
    Generator output in resynthesis mode (``rerender`` applies them again after an edit).

    Attributes:
        f0_hz: source f0 in Hz, 0 where the source is not pitched, shape [n_frames].
        amplitude: the source's analysed harmonic amplitude (levelled), >= 0, shape [n_frames].
    """

    f0_hz: np.ndarray
    amplitude: np.ndarray

    def apply(self, params: SynthParams, *, frame_rate: int = 250) -> SynthParams:
        """``params`` with the source's f0 (where pitched) and amplitude; noise scaled alike."""
        n = params.n_frames
        f0 = _fit_length(self.f0_hz, n)
        amplitude = _fit_length(self.amplitude, n)
        gain = amplitude / np.maximum(params.amplitude, _AMPLITUDE_FLOOR)
        gain = np.minimum(gain, float(db_to_amplitude(_MAX_NOISE_GAIN_DB)))
        return SynthParams(f0_hz=np.where(f0 > 0, f0, params.f0_hz), amplitude=amplitude,
                           harmonic_distribution=params.harmonic_distribution,
                           noise_magnitudes=params.noise_magnitudes * gain[:, None])

    def with_mod_wheel_vibrato(self, note_table: pd.DataFrame) -> pd.DataFrame:
        """The table unchanged (the source's f0 carries the vibrato)."""
        return note_table


def _fit_length(values: np.ndarray, n: int) -> np.ndarray:
    v = np.asarray(values, np.float32)[:n]
    return np.pad(v, (0, n - v.shape[0])) if v.shape[0] < n else v


# ------------------------------------------------------------------------------------------
# reading files
# ------------------------------------------------------------------------------------------
def load_audio(path: "str | os.PathLike[str]") -> tuple[np.ndarray, int, int]:
    """Read an audio file as mono float32.

    Returns:
        ``(audio [n_samples], sample_rate, n_channels)``; several channels are averaged (logged).

    Raises:
        InputFileError: missing file, a folder, or not a readable audio file.
    """
    import soundfile

    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputFileError(path, "no such file")
    if os.path.isdir(path):
        raise InputFileError(path, "is a folder, not an audio file")
    try:
        data, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, ValueError, OSError) as exc:
        data = None
        if path.lower().endswith(".mp3"):
            data, sample_rate = _read_with_librosa(path)
        if data is None:
            problem = " ".join(str(exc).split()) or type(exc).__name__
            raise InputFileError(path, f"not a readable audio file (wav, flac, ogg, aiff, mp3): "
                                       f"{problem[:160]}") from None
    n_channels = int(data.shape[1])
    if n_channels == 0 or data.shape[0] == 0:
        raise InputFileError(path, "the file holds no audio samples")
    if n_channels > 1:
        logger.warning("%s: %d channels mixed to mono", path, n_channels)
    audio = data.mean(axis=1).astype(np.float32)
    if not np.all(np.isfinite(audio)):
        raise InputFileError(path, "the audio contains NaN or inf samples")
    return audio, int(sample_rate), n_channels


def _read_with_librosa(path: str):
    try:
        import librosa

        audio, sample_rate = librosa.load(path, sr=None, mono=False)
    except Exception:  # noqa: BLE001 - any decoder failure means: not readable
        return None, 0
    audio = np.atleast_2d(np.asarray(audio, np.float32))
    return audio.T, int(sample_rate)


# ------------------------------------------------------------------------------------------
# the transfer
# ------------------------------------------------------------------------------------------
def _frame_f0(transcription: Transcription, n_frames: int, frame_rate: int) -> np.ndarray:
    """CREPE f0 interpolated (in log frequency) onto the control frames; 0 where silent."""
    frames = transcription.frames
    t_src = np.arange(frames.n_frames) / frames.frame_rate
    t = np.arange(n_frames) / frame_rate
    log_f0 = np.interp(t, t_src, np.log2(np.maximum(frames.f0_hz, 1e-3)))
    sounding = np.interp(t, t_src, frames.sounding().astype(np.float64)) >= 0.5
    return np.where(sounding, 2.0 ** log_f0, 0.0).astype(np.float32)


def _note_table(params: SynthParams, notes: list, frame_rate: int) -> pd.DataFrame:
    table = extract_note_expressions(params, notes, frame_rate=frame_rate)
    for e in EXPRESSIONS:
        table[e.name] = table[e.name].clip(e.valid_low, e.valid_high)
    return validate_note_table(table, source="transcribed notes")


def _analyse(x16: np.ndarray, *, frame_rate: int, tracker=None):
    transcription = transcribe(x16, sample_rate=CREPE_SAMPLE_RATE, tracker=tracker)
    hop = CREPE_SAMPLE_RATE // frame_rate
    f0 = _frame_f0(transcription, x16.shape[0] // hop, frame_rate)
    params = analyse_audio(x16, f0, sample_rate=CREPE_SAMPLE_RATE, frame_rate=frame_rate)
    return transcription, f0, params


def transfer_audio(audio, sample_rate: int, instrument: Any, *, mode: str = "performance",
                   models: "MidiDDSP | None" = None, seed: int = 0, output_sample_rate: int = 16000,
                   reverb: str = DEFAULT_REVERB, normalize: "str | bool" = "loudness",
                   level: bool = True, source: str = "<audio>", name: "str | None" = None,
                   tracker=None) -> SynthesisResult:
    """Play a monophonic recording with another instrument (module docstring).

    Args:
        audio: mono waveform, float, shape [n_samples] (use ``transfer_file`` for files).
        sample_rate: its rate in Hz (any; resampled to 16 kHz).
        instrument: target instrument name, ``Instrument`` or blend.
        mode: ``"performance"`` (the Synthesis Generator plays the recording's NoteTable) or
            ``"resynthesis"`` (the source's f0 and amplitude through the target timbre).
        models: the models (default ``load_pretrained_model()``).
        seed: synthesis noise seed.
        output_sample_rate: rate of the rendered audio in Hz.
        reverb: room preset (``"dry"``, ``"room"``, ``"hall"``).
        normalize: mix levelling, as in ``synthesize_midi``.
        level: level the recording to the corpus (``REFERENCE_VOLUME``) before analysis.
        source: how to name the recording in the metadata.
        name: part name (default: the instrument's name).
        tracker: a ``midi_ddsp.crepe.CrepePitchTracker`` to reuse.

    Returns:
        a ``SynthesisResult``; ``metadata["transfer"]`` holds the mode, the levelling gain, the
        transcription's note count and the octave shift.

    Raises:
        ParameterError: bad mode or options; audio with nothing to transcribe (the message says
            why; ``transfer_file`` names the file).
    """
    t_start = time.perf_counter()
    if mode not in MODES:
        raise ParameterError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    normalize = normalize_mode(normalize)
    reverb = reverb_preset(reverb).name
    spec = instrument_spec(instrument)
    x = np.asarray(audio, np.float32)
    if x.ndim != 1:
        raise ParameterError(f"audio: expected mono audio of shape [n_samples], got {x.shape}")
    duration_s = x.shape[0] / int(sample_rate)
    if duration_s < MIN_DURATION_S:
        raise UntranscribableAudioError(f"too short to transcribe ({duration_s:.2f} s; at least "
                                        f"{MIN_DURATION_S:g} s needed)")
    if silent(x):
        raise UntranscribableAudioError("silent (peak below -80 dBFS): nothing to transcribe")
    x16 = resample_audio(x, sample_rate=int(sample_rate))
    models = models_or_default(models)
    frame_rate = models.frame_rate

    transcription, f0, params = _analyse(x16, frame_rate=frame_rate, tracker=tracker)
    # a note must start before the last analysed frame (the extractor's rule)
    transcription.notes = [n for n in transcription.notes
                           if round(n.onset_s * frame_rate) < params.n_frames - 1]
    problem = input_problem(x16, transcription.frames, sample_rate=CREPE_SAMPLE_RATE)
    if problem is None and not transcription.notes:
        problem = "no notes found"
    if problem is not None:
        raise UntranscribableAudioError(problem)
    gain_db = 0.0
    if level:
        table = _note_table(params, transcription.notes, frame_rate)
        gain_db = float(60.0 * (REFERENCE_VOLUME - np.percentile(table["volume"], 90)))
        x16 = x16 * np.float32(db_to_amplitude(gain_db))
        params = analyse_audio(x16, f0, sample_rate=CREPE_SAMPLE_RATE, frame_rate=frame_rate)
    notes = transcription.notes
    table = _note_table(params, notes, frame_rate)
    # into the instrument's range by octaves (the expressions stay with their notes)
    part, semitones = fit_part_to_range(Part(notes=list(notes), name=name or "recording"),
                                        dominant_instrument(spec))
    if semitones:
        table["pitch"] = (table["pitch"] + semitones).astype(np.float32)
    part_name = name or instrument_label(spec)
    t_analysed = time.perf_counter()

    end_s = float(table["offset_s"].max()) + RELEASE_TAIL_S
    n_frames = max(int(math.ceil(end_s * frame_rate)), params.n_frames)
    synth = generate_synth_params(table, spec, models=models, seed=int(seed), n_frames=n_frames)
    controls = {}
    if mode == "resynthesis":
        shift = 2.0 ** (semitones / 12.0)
        controls[part_name] = SourceControls(f0_hz=f0 * np.float32(shift),
                                             amplitude=params.amplitude.copy())
        synth = controls[part_name].apply(synth, frame_rate=frame_rate)
    t_synth = time.perf_counter()
    stem = render_audio(synth, spec, models=models, sample_rate=int(output_sample_rate),
                        seed=int(seed), reverb=reverb)
    t_render = time.perf_counter()
    mixed = mix_stems({part_name: stem}, normalize=normalize, sample_rate=int(output_sample_rate),
                      in_place=True)
    metadata = {
        "source": source,
        "sample_rate": int(output_sample_rate),
        "frame_rate": frame_rate,
        "duration_s": mixed.mix.shape[0] / int(output_sample_rate),
        "settings": {"seed": int(seed), "expression_seed": int(seed), "temperature": 0.0,
                     "reverb": reverb, "pitch_offset": 0, "speed_rate": 1.0,
                     "use_fluidsynth": False, "sf2_path": None, "normalize": normalize},
        "parts": [{"name": part_name, "index": 0, "track": 0, "voice": 0, "program": None,
                   "is_drum": False, "renderer": "midi_ddsp", "instrument": spec,
                   "seed": int(seed), "transposed_semitones": int(semitones),
                   "n_notes": len(notes), "gain_db": 0.0}],
        "skipped_parts": [],
        "checkpoints": dict(models.checkpoints),
        "mix": mixed.describe(),
        "transfer": {"mode": mode, "source_sample_rate": int(sample_rate),
                     "source_duration_s": x.shape[0] / int(sample_rate),
                     "level_gain_db": round(gain_db, 3), "n_notes": len(notes),
                     "transposed_semitones": int(semitones),
                     "transcription": [dataclasses.asdict(n) for n in notes]},
        "timings": {"analysis_s": round(t_analysed - t_start, 4),
                    "synthesis_s": round(t_synth - t_analysed, 4),
                    "render_s": round(t_render - t_synth, 4),
                    "total_s": round(time.perf_counter() - t_start, 4)},
        "midi_ddsp_version": _version(),
    }
    return SynthesisResult(sample_rate=int(output_sample_rate), mix=mixed.mix, stems=mixed.stems,
                           note_tables={part_name: table}, synth_params={part_name: synth},
                           metadata=metadata, limiter_gain=mixed.limiter_gain, controls=controls)


def _version() -> str:
    try:
        return importlib.metadata.version("midi_ddsp")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def transfer_file(path: "str | os.PathLike[str]", instrument: Any, **options) -> SynthesisResult:
    """``transfer_audio`` on an audio file; every problem with the file is one
    ``InputFileError`` naming it (missing, unreadable, silent, noise, polyphonic, too short)."""
    audio, sample_rate, n_channels = load_audio(path)
    try:
        result = transfer_audio(audio, sample_rate, instrument,
                                source=os.fspath(path), name=options.pop("name", None)
                                or Path(path).stem, **options)
    except UntranscribableAudioError as exc:
        raise InputFileError(path, str(exc)) from None
    result.metadata["transfer"]["source_channels"] = n_channels
    return result


# ------------------------------------------------------------------------------------------
# MIDI out
# ------------------------------------------------------------------------------------------
def save_midi(path: "str | os.PathLike[str]", notes, *, note_table: "pd.DataFrame | None" = None,
              program: int = 0) -> Path:
    """Write notes (and their expressions as controllers) to a type-1 .mid file.

    Args:
        path: the .mid file to write.
        notes: ``Note`` list (e.g. ``Transcription.notes``), or a NoteTable.
        note_table: the NoteTable of the notes; its expressions become controllers at each
            note's onset (``MIDI_EXPRESSION_CCS``). A NoteTable given as ``notes`` is used so.
        program: General MIDI program (0-based) of the track.

    Returns:
        the path written.
    """
    import pretty_midi

    if isinstance(notes, pd.DataFrame):
        note_table = validate_note_table(notes) if note_table is None else note_table
        notes = [Note(int(r.pitch), float(r.onset_s), float(r.offset_s), int(r.velocity))
                 for r in note_table.itertuples(index=False)]
    notes = list(notes)
    midi = pretty_midi.PrettyMIDI()
    track = pretty_midi.Instrument(program=int(program), name="transcription")
    for n in notes:
        track.notes.append(pretty_midi.Note(velocity=int(np.clip(n.velocity, 1, 127)),
                                            pitch=int(n.pitch), start=float(n.onset_s),
                                            end=float(n.offset_s)))
    if note_table is not None and len(note_table) == len(notes):
        table = validate_note_table(note_table)
        volume = table["volume"].to_numpy(np.float64)
        for i, n in enumerate(notes):
            for expression in EXPRESSIONS:
                number = MIDI_EXPRESSION_CCS[expression.name]
                value = float(table[expression.name].iloc[i])
                if expression.name == "volume":  # gain relative to the loudest note
                    gain_db = 60.0 * (value - volume.max())
                    cc = 127.0 * 10.0 ** (gain_db / 40.0)
                else:
                    cc = 127.0 * (value - expression.low) / (expression.high - expression.low)
                track.control_changes.append(pretty_midi.ControlChange(
                    number=number, value=int(np.clip(round(cc), 0, 127)),
                    time=max(float(n.onset_s) - 1e-3, 0.0)))
    midi.instruments.append(track)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        midi.write(str(path))
    except OSError as exc:
        raise InputFileError(path, f"cannot write MIDI file ({exc.strerror or exc})") from None
    return path
