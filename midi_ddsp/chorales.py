"""Bach chorales from the music21 corpus (or a chorale file) rendered as a quartet."""
from __future__ import annotations

import io
import logging
import os
from typing import Any, Sequence

from midi_ddsp.casting import dominant_instrument, instrument_spec
from midi_ddsp.errors import InputFileError, MidiDDSPError, ParameterError
from midi_ddsp.instruments import ENSEMBLES, Instrument
from midi_ddsp.pipeline import synthesize_midi
from midi_ddsp.results import SynthesisResult

__all__ = ["synthesize_bach"]

logger = logging.getLogger(__name__)

def synthesize_bach(work: "str | os.PathLike[str]" = "bwv66.6", *, ensemble: str = "string_quartet",
                    **kwargs: Any) -> SynthesisResult:
    """Render a Bach chorale from the music21 corpus (or a chorale file) as a quartet.

    Args:
        work: a music21 corpus name such as ``"bwv66.6"`` / ``"bach/bwv66.6"``, or a path to a
            MusicXML/MIDI file. Nothing is written anywhere; the source is only read.
        ensemble: ``"string_quartet"`` (violin, violin, viola, cello), ``"woodwind_quartet"``
            (flute, oboe, clarinet, bassoon) or ``"brass_quartet"`` (trumpet, horn, trombone,
            tuba), soprano to bass; parts beyond four get the bass instrument. Unless
            ``pitch_offset`` is given, the whole chorale is transposed by the smallest interval
            (at most a tritone) that puts the most notes inside the instruments' ranges, so no
            voice has to jump an octave.
        **kwargs: passed to ``synthesize_midi`` (model, seed, sample_rate, ...). ``instruments``
            entries given here override the ensemble's.

    Raises:
        ParameterError: unknown ensemble. InputFileError: the work cannot be found or parsed.
    """
    if ensemble not in ENSEMBLES:
        raise ParameterError(f"unknown ensemble {ensemble!r}; choose one of {', '.join(ENSEMBLES)}")
    pm = _chorale_to_pretty_midi(work)
    lineup = ENSEMBLES[ensemble]
    instruments = {i: lineup[min(i, len(lineup) - 1)] for i in range(len(pm.instruments))}
    instruments.update(dict(kwargs.pop("instruments", None) or {}))
    if "pitch_offset" not in kwargs:
        pitches = [[n.pitch for n in inst.notes] for inst in pm.instruments]
        ranges = [dominant_instrument(instrument_spec(instruments[i])) for i in range(len(pitches))]
        kwargs["pitch_offset"] = _common_shift(pitches, ranges)
        if kwargs["pitch_offset"]:
            logger.info("%s: transposed by %+d semitones so every voice fits its %s instrument",
                        os.fspath(work), kwargs["pitch_offset"], ensemble)
    result = synthesize_midi(pm, instruments=instruments, **kwargs)
    result.metadata["source"] = os.fspath(work)
    result.metadata["settings"]["ensemble"] = ensemble
    return result


_MAX_COMMON_SHIFT = 6  # semitones: synthesize_bach changes the key by at most a tritone


def _common_shift(pitches: Sequence[Sequence[int]], instruments: Sequence[Instrument]) -> int:
    """The transposition (semitones, |shift| <= 6) of the whole piece that leaves the fewest notes
    outside their voice's instrument range; ties go to the smallest shift (0 when all fit).
    Keeps the voices in their order, unlike moving single voices by octaves."""
    best = None
    for shift in sorted(range(-_MAX_COMMON_SHIFT, _MAX_COMMON_SHIFT + 1), key=lambda k: (abs(k), -k)):
        outside = sum(int(not inst.contains(p + shift)) for voice, inst in zip(pitches, instruments)
                      for p in voice)
        if best is None or outside < best[0]:
            best = (outside, shift)
    return best[1]


def _chorale_to_pretty_midi(work: "str | os.PathLike[str]"):
    import pretty_midi

    label = os.fspath(work)
    try:
        import music21

        if os.path.exists(label):
            stream = music21.converter.parse(label)
        else:
            name = label if "/" in label else f"bach/{label}"
            stream = music21.corpus.parse(name)
        midi_file = music21.midi.translate.streamToMidiFile(stream)
        data = midi_file.writestr()
    except MidiDDSPError:
        raise
    except Exception as exc:  # music21 raises many kinds (CorpusException, ConverterException...)
        raise InputFileError(label, f"cannot read this chorale ({type(exc).__name__}: "
                                    f"{' '.join(str(exc).split())[:120]})") from None
    try:
        pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as exc:
        raise InputFileError(label, f"music21's MIDI export could not be read ({type(exc).__name__})"
                             ) from None
    pm.instruments = [inst for inst in pm.instruments if inst.notes]
    if not pm.instruments:
        raise InputFileError(label, "contains no notes")
    return pm
