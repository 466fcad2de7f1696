"""midi_ddsp_transfer: play a monophonic recording with another instrument.

The recording (wav, flac, ogg, aiff, mp3; any rate; stereo is mixed to mono) is transcribed
into notes, its per-note expressions (volume, vibrato, brightness, ...) are measured, and the
target instrument's Synthesis Generator plays that NoteTable (--mode performance), or follows
the recording's own f0 and loudness frame by frame with the instrument's timbre (--mode
resynthesis). The output folder OUTPUT_DIR/<file name>/ is laid out like midi_ddsp_synthesize's:
mix.wav, stems/, note_tables/ (edit and re-render), params/ (with --save-metadata),
metadata.json; --save-midi adds transcription.mid (velocities; expressions as controllers:
CC11 volume, CC1 vibrato, CC74 brightness, CC73 attack, CC75 vol_fluc, CC76 vol_peak_pos).

examples:
  midi_ddsp_transfer flute.wav --instrument violin --output-dir out
  midi_ddsp_transfer take.mp3 --instrument cello --mode resynthesis --save-midi

Exit status: 0 when every file was transferred, 2 when any failed or the arguments are wrong;
each problem is one line "error: <file>: <problem>" on stderr.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from midi_ddsp.cli.synthesize import _configure_logging

__all__ = ["main", "build_parser"]

_DEFAULT_OUTPUT_DIR = "midi_ddsp_output"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="midi_ddsp_transfer", description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", metavar="AUDIO",
                        help="monophonic recordings (.wav, .flac, .ogg, .aiff, .mp3)")
    parser.add_argument("--instrument", required=True,
                        help="target instrument: violin, viola, cello, double_bass, flute, oboe, "
                             "clarinet, saxophone, bassoon, trumpet, horn, trombone, tuba (or an "
                             "alias, or a blend violin:0.5+flute:0.5)")
    parser.add_argument("--mode", choices=("performance", "resynthesis"), default="performance",
                        help="performance: the instrument plays the recording's notes and "
                             "expressions (editable NoteTable); resynthesis: the recording's "
                             "own f0 and loudness through the instrument's timbre (default "
                             "performance)")
    parser.add_argument("--output-dir", "--output_dir", default=_DEFAULT_OUTPUT_DIR, metavar="DIR",
                        help=f"where the per-file folders go (default ./{_DEFAULT_OUTPUT_DIR})")
    parser.add_argument("--save-midi", "--save_midi", action="store_true",
                        help="also write the transcription as transcription.mid")
    parser.add_argument("--save-metadata", "--save_metadata", action="store_true",
                        help="also write params/NN_<part>.npz (synthesis parameters + NoteTable)")
    parser.add_argument("--sample-rate", "--sample_rate", type=int, default=16000, metavar="HZ",
                        help="output sample rate in Hz (default 16000)")
    parser.add_argument("--seed", type=int, default=0, help="synthesis noise seed (default 0)")
    parser.add_argument("--reverb", choices=("dry", "room", "hall"), default="room",
                        help="room of the rendered part (default room)")
    parser.add_argument("--synthesis-generator-weight-path", "--synthesis_generator_weight_path",
                        default=None, metavar="PT",
                        help="Synthesis Generator checkpoint (default: the shipped one)")
    parser.add_argument("--expression-generator-weight-path",
                        "--expression_generator_weight_path", default=None, metavar="PT",
                        help="Expression Generator checkpoint (default: the shipped one; loaded "
                             "with the bundle, not used by a transfer)")
    parser.add_argument("--device", default="auto", metavar="auto|cpu|cuda",
                        help="where the generators run (default auto)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    parser.add_argument("-v", "--verbose", action="store_true", help="print more information")
    return parser


def main(argv: "Sequence[str] | None" = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 2 any failure)."""
    args = build_parser().parse_args(argv)
    _configure_logging(-1 if args.quiet else (1 if args.verbose else 0))
    from midi_ddsp.errors import MidiDDSPError

    try:
        from midi_ddsp.casting import instrument_spec
        from midi_ddsp.cli.synthesize import parse_instrument_option
        from midi_ddsp.crepe import CrepePitchTracker
        from midi_ddsp.pretrained import load_pretrained_model
        from midi_ddsp.results import write_result
        from midi_ddsp.transfer import save_midi, transfer_file

        _, spec = parse_instrument_option(args.instrument)
        spec = instrument_spec(spec)
        models = load_pretrained_model(
            expression_generator_path=args.expression_generator_weight_path,
            synthesis_generator_path=args.synthesis_generator_weight_path, device=args.device)
        tracker = CrepePitchTracker("tiny")
    except MidiDDSPError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    failed = 0
    for path in args.files:
        try:
            result = transfer_file(path, spec, mode=args.mode, models=models, seed=args.seed,
                                   output_sample_rate=args.sample_rate, reverb=args.reverb,
                                   tracker=tracker)
            folder = Path(args.output_dir) / Path(path).stem
            write_result(result, folder, save_params=args.save_metadata)
            if args.save_midi:
                from midi_ddsp.score import Note

                notes = [Note(**n) for n in result.metadata["transfer"]["transcription"]]
                save_midi(folder / "transcription.mid", notes,
                          note_table=result.note_tables[result.part_names[0]])
        except MidiDDSPError as exc:
            print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
            failed += 1
            continue
        except Exception as exc:  # a bug: one line, the traceback only with --verbose
            if args.verbose:
                raise
            print(f"error: {path}: unexpected {type(exc).__name__}: "
                  f"{' '.join(str(exc).split())[:300]} (run with --verbose for the traceback)",
                  file=sys.stderr)
            failed += 1
            continue
        if not args.quiet:
            print(os.path.join(folder, "mix.wav"))
    return 2 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
