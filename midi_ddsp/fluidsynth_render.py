"""FluidSynth rendering: parts the models cannot play (other GM programs, drums) and whole files.

Two ways in:

- ``render_parts_fluidsynth(parts, ...)``: notes of ``Part`` objects through libfluidsynth
  (pyfluidsynth), in process, offline (no audio driver). Used by the synthesis pipeline for
  tracks without a model and for drum tracks.
- ``render_midi_file_fluidsynth(path, ...)``: a whole MIDI file through the ``fluidsynth``
  command-line program's fast-render mode; the speed reference of ``benchmarks/bench_render.py``.

The soundfont is ``sf2_path`` when given, else ``$MIDI_DDSP_SF2``, else the first of the usual
Debian/Ubuntu/Fedora locations of FluidR3_GM (Debian package ``fluid-soundfont-gm``).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import subprocess
import tempfile
from typing import Sequence

import numpy as np

from midi_ddsp.config import RELEASE_TAIL_S
from midi_ddsp.errors import InputFileError, MidiDDSPError, ParameterError
from midi_ddsp.score import Part

__all__ = [
    "merge_voices_by_track",
    "SOUNDFONT_ENV_VAR",
    "SOUNDFONT_SEARCH_PATHS",
    "FluidSynthUnavailableError",
    "default_soundfont_path",
    "resolve_soundfont",
    "render_parts_fluidsynth",
    "render_stems_fluidsynth",
    "render_midi_file_fluidsynth",
]

logger = logging.getLogger(__name__)

#: Environment variable naming a default soundfont.
SOUNDFONT_ENV_VAR = "MIDI_DDSP_SF2"
#: Where the General MIDI soundfont is looked for when none is given (first existing wins).
SOUNDFONT_SEARCH_PATHS: tuple[str, ...] = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",      # Debian / Ubuntu fluid-soundfont-gm
    "/usr/share/soundfonts/FluidR3_GM.sf2",      # Fedora / Arch
    "/usr/share/sounds/sf2/default-GM.sf2",      # Debian alternatives link
    "/usr/share/soundfonts/default.sf2",
)
_DRUM_CHANNEL = 9          # MIDI channel 10
_DRUM_BANK = 128           # the percussion bank of a GM soundfont
_BLOCK_SAMPLES = 1 << 16   # longest single request to the synth (bounded temporary memory)
_INT16_FULL_SCALE = 32768.0
_FLUIDSYNTH_GAIN = 0.2     # libfluidsynth's default master gain (leaves room for polyphony)


class FluidSynthUnavailableError(MidiDDSPError):
    """libfluidsynth / pyfluidsynth or the ``fluidsynth`` program is not installed."""

_VOICE_SUFFIX = re.compile(r"\s+v\d+$")  # the voices of one track: "Piano v2"


def default_soundfont_path() -> "str | None":
    """The default General MIDI soundfont: ``$MIDI_DDSP_SF2`` or the first file found in
    ``SOUNDFONT_SEARCH_PATHS``; None when there is none."""
    env = os.environ.get(SOUNDFONT_ENV_VAR)
    if env:
        return env
    for candidate in SOUNDFONT_SEARCH_PATHS:
        if os.path.isfile(candidate):
            return candidate
    return None


def resolve_soundfont(sf2_path: "str | os.PathLike[str] | None" = None) -> str:
    """The soundfont to use: ``sf2_path`` if given, else ``default_soundfont_path()``.

    Raises:
        InputFileError: the file does not exist, is empty, or is not a SoundFont 2 file; or no
            default soundfont is installed (the message says how to get one).
    """
    if sf2_path is None:
        found = default_soundfont_path()
        if found is None:
            raise InputFileError(
                SOUNDFONT_SEARCH_PATHS[0],
                "no General MIDI soundfont found; install Debian's fluid-soundfont-gm or pass "
                f"--sf2_path / set ${SOUNDFONT_ENV_VAR}")
        sf2_path = found
    path = os.fspath(sf2_path)
    if not os.path.isfile(path):
        raise InputFileError(path, "soundfont not found")
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as exc:
        raise InputFileError(path, f"cannot read soundfont ({exc.strerror or exc})") from None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise InputFileError(path, "not a SoundFont 2 file (no RIFF sfbk header)")
    return path


def _import_fluidsynth():
    try:
        import fluidsynth  # pyfluidsynth
    except (ImportError, OSError) as exc:
        raise FluidSynthUnavailableError(
            f"FluidSynth rendering needs pyfluidsynth and libfluidsynth3 ({exc})") from None
    if not hasattr(fluidsynth, "Synth"):
        raise FluidSynthUnavailableError(
            "the installed 'fluidsynth' module is not pyfluidsynth (no Synth class)")
    return fluidsynth


def _channel_plan(parts: Sequence[Part]) -> list[int]:
    """A MIDI channel per part: drums on channel 9, one channel per distinct program otherwise
    (channels 9, 25, 41, ... are FluidSynth drum channels and are skipped)."""
    channels: list[int] = []
    by_program: dict[int, int] = {}
    next_channel = 0
    for part in parts:
        if part.is_drum:
            channels.append(_DRUM_CHANNEL)
            continue
        if part.program not in by_program:
            while next_channel % 16 == _DRUM_CHANNEL:
                next_channel += 1
            by_program[part.program] = next_channel
            next_channel += 1
        channels.append(by_program[part.program])
    return channels


class _LoadedSynth:
    """A libfluidsynth synth with a soundfont loaded; reused across renders in a process."""

    def __init__(self, sf2: str, sample_rate: int, gain: float):
        fluidsynth = _import_fluidsynth()
        self.synth = fluidsynth.Synth(gain=float(gain), samplerate=float(sample_rate))
        self.sfid = self.synth.sfload(sf2)
        if self.sfid < 0:
            self.synth.delete()
            raise InputFileError(sf2, "FluidSynth could not load this soundfont")

    def render(self, parts: Sequence[Part], *, sample_rate: int, total: int) -> np.ndarray:
        synth, out = self.synth, np.zeros(total, dtype=np.float32)
        synth.system_reset()
        channels = _channel_plan(parts)
        events = []  # (sample, is_on, channel, pitch, velocity); note-offs sort first
        for part, channel in zip(parts, channels):
            if part.is_drum:
                synth.program_select(channel, self.sfid, _DRUM_BANK, 0)
            else:
                synth.program_select(channel, self.sfid, 0, int(part.program))
            for note in part.notes:
                on = int(round(note.onset_s * sample_rate))
                off = max(on + 1, int(round(note.offset_s * sample_rate)))
                events.append((on, 1, channel, note.pitch, note.velocity))
                events.append((off, 0, channel, note.pitch, 0))
        events.sort()
        position = 0

        def advance(to: int) -> None:
            nonlocal position
            to = min(to, total)
            while position < to:
                n = min(_BLOCK_SAMPLES, to - position)
                stereo = np.asarray(synth.get_samples(n), dtype=np.float32).reshape(-1, 2)
                out[position:position + n] = stereo.mean(axis=1) / _INT16_FULL_SCALE
                position += n

        for sample, is_on, channel, pitch, velocity in events:
            advance(sample)
            if position >= total:
                break
            if is_on:
                synth.noteon(channel, int(pitch), int(velocity))
            else:
                synth.noteoff(channel, int(pitch))
        advance(total)
        for channel in set(channels):
            synth.all_sounds_off(channel)
        return out


_SYNTH_CACHE: dict[tuple, _LoadedSynth] = {}


def _loaded_synth(sf2: str, sample_rate: int, gain: float) -> _LoadedSynth:
    key = (os.path.realpath(sf2), os.path.getmtime(sf2), int(sample_rate), float(gain))
    if key not in _SYNTH_CACHE:
        for old in _SYNTH_CACHE.values():  # keep one soundfont in memory at a time
            old.synth.delete()
        _SYNTH_CACHE.clear()
        _SYNTH_CACHE[key] = _LoadedSynth(sf2, sample_rate, gain)
    return _SYNTH_CACHE[key]


def _check_render_args(parts, sample_rate, n_samples) -> int:
    if int(sample_rate) <= 0:
        raise ParameterError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
    end_s = max((p.end_s for p in parts), default=0.0)
    total = int(np.ceil((end_s + RELEASE_TAIL_S) * sample_rate)) if n_samples is None else int(n_samples)
    if total < 0:
        raise ParameterError(f"n_samples must be >= 0, got {n_samples}")
    return total


def merge_voices_by_track(parts: Sequence[Part], *, taken: set) -> list:
    """FluidSynth needs no voice splitting: the voices of one track (same program) become one
    stem named after the track. Returns ``(stem name, merged Part, member parts)`` in order."""
    by_track: dict[tuple, list[Part]] = {}
    for part in parts:
        by_track.setdefault((part.track, part.program, part.is_drum), []).append(part)
    groups = []
    for members in by_track.values():
        base = _VOICE_SUFFIX.sub("", members[0].name)
        if len(members) == 1 or base in taken:
            groups.extend((m.name, m, [m]) for m in members)
            continue
        notes = sorted((n for m in members for n in m.notes), key=lambda n: (n.onset_s, -n.pitch))
        groups.append((base, dataclasses.replace(members[0], notes=notes, name=base), members))
    return groups


def render_stems_fluidsynth(parts: Sequence[Part], *, sf2_path: "str | os.PathLike[str] | None" = None,
                            sample_rate: int = 16000, n_samples: "int | None" = None,
                            gain: float = _FLUIDSYNTH_GAIN) -> list[np.ndarray]:
    """Render each part separately with FluidSynth (the soundfont is loaded once).

    Arguments as ``render_parts_fluidsynth``; returns one mono float32 stem [n_samples] per part,
    all of the same length.
    """
    total = _check_render_args(parts, sample_rate, n_samples)
    sf2 = resolve_soundfont(sf2_path)
    if not parts:
        return []
    synth = _loaded_synth(sf2, int(sample_rate), gain)
    return [synth.render([part], sample_rate=int(sample_rate), total=total) for part in parts]


def render_parts_fluidsynth(parts: Sequence[Part], *, sf2_path: "str | os.PathLike[str] | None" = None,
                            sample_rate: int = 16000, n_samples: "int | None" = None,
                            gain: float = _FLUIDSYNTH_GAIN) -> np.ndarray:
    """Render the notes of ``parts`` together with FluidSynth (each part's GM program; drums on
    channel 10).

    Args:
        parts: the parts; ``Part.program`` picks the preset, ``Part.is_drum`` the drum kit.
        sf2_path: soundfont (default: ``default_soundfont_path()``).
        sample_rate: output rate in Hz.
        n_samples: output length; default the last note-off plus a 1 s release tail.
        gain: FluidSynth master gain (its default 0.2 leaves headroom for many voices).

    Returns:
        Mono float32 audio in [-1, 1], shape [n_samples] (the mean of FluidSynth's two channels).

    Raises:
        InputFileError: bad soundfont. FluidSynthUnavailableError: no libfluidsynth.
        ParameterError: bad sample rate or length.
    """
    total = _check_render_args(parts, sample_rate, n_samples)
    sf2 = resolve_soundfont(sf2_path)
    if not parts or total == 0:
        return np.zeros(total, dtype=np.float32)
    return _loaded_synth(sf2, int(sample_rate), gain).render(list(parts), sample_rate=int(sample_rate),
                                                            total=total)


def render_midi_file_fluidsynth(midi_path: "str | os.PathLike[str]", wav_path: "str | os.PathLike[str]",
                                *, sf2_path: "str | os.PathLike[str] | None" = None,
                                sample_rate: int = 16000) -> str:
    """Render a whole MIDI file to WAV with the ``fluidsynth`` program (fast-render mode).

    Runs ``fluidsynth -ni -F <wav> -r <rate> -T wav <sf2> <midi>``; every channel message of the
    file (program changes, controllers, pitch bends) is honoured. This is the reference the
    benchmark compares against.

    Returns:
        ``wav_path``.

    Raises:
        InputFileError: the MIDI file or soundfont is missing, or fluidsynth fails on the file.
        FluidSynthUnavailableError: the ``fluidsynth`` program is not installed.
    """
    midi_path, wav_path = os.fspath(midi_path), os.fspath(wav_path)
    if not os.path.isfile(midi_path):
        raise InputFileError(midi_path, "file not found")
    sf2 = resolve_soundfont(sf2_path)
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise FluidSynthUnavailableError("the 'fluidsynth' program is not installed (Debian: apt install fluidsynth)")
    folder = os.path.dirname(os.path.abspath(wav_path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".wav", dir=folder)
    os.close(fd)
    try:
        proc = subprocess.run([exe, "-ni", "-q", "-F", tmp, "-r", str(int(sample_rate)), "-T", "wav",
                               sf2, midi_path], capture_output=True, text=True, check=False)
        if proc.returncode != 0 or os.path.getsize(tmp) == 0:
            detail = " ".join((proc.stderr or proc.stdout or "no output").split())[:200]
            raise InputFileError(midi_path, f"fluidsynth failed (exit {proc.returncode}): {detail}")
        os.replace(tmp, wav_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return wav_path
