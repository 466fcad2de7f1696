"""midi_ddsp_synthesize: render MIDI / MusicXML files to audio with MIDI-DDSP.

Each input file becomes a folder OUTPUT_DIR/<file name>/ holding mix.wav (levelled by
--normalize: by default -23 LUFS, true peak at most -1 dBTP, never clipping),
stems/NN_<part>.wav (one per part), note_tables/NN_<part>.csv (the six note expressions of
each part), metadata.json (instruments, seeds, checkpoint ids, timings) and, with
--save-metadata, params/NN_<part>.npz (expressions + synthesis parameters); OUTPUT_DIR/manifest.jsonl
lists every input with its status. Tracks whose General MIDI program has no model, and drum
tracks, are rendered with FluidSynth when --use-fluidsynth is given, otherwise skipped with a
warning.

examples:
  midi_ddsp_synthesize song.mid
  midi_ddsp_synthesize song.mid --instrument 1=flute --instrument Cello=bassoon
  midi_ddsp_synthesize song.mid --instrument "violin:0.5+flute:0.5"     (every part, a blend)
  midi_ddsp_synthesize --midi-dir corpus/ --output-dir rendered/ --jobs 2 --skip-existing-files
  midi_ddsp_synthesize --midi-dir chorales/ --output-dir set/ --engine ray --jobs 8
      --augment-ensembles string_quartet,brass_quartet --augment-speed 0.9,1.1 --augment-jitter-ms 10
  midi_ddsp_synthesize --from-manifest set/manifest.jsonl --output-dir again/

Exit status: 0 when every file rendered (or was skipped as done), 2 when any failed or the
arguments are wrong; each problem is one line "error: <file>: <problem>" on stderr.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from midi_ddsp.dsp.rooms import DEFAULT_REVERB, REVERB_PRESETS
from midi_ddsp.expression.definitions import DEFAULT_TEMPERATURE

__all__ = ["main", "build_parser", "parse_instrument_option"]

_DEFAULT_OUTPUT_DIR = "midi_ddsp_output"
_ALL_PARTS = "*"


class _OneLineFormatter(logging.Formatter):
    """``warning: message`` / ``error: message``, one line."""

    def format(self, record: logging.LogRecord) -> str:
        message = " ".join(record.getMessage().split())
        return f"{record.levelname.lower()}: {message}"


def _configure_logging(verbosity: int) -> None:
    level = {-1: logging.ERROR, 0: logging.WARNING}.get(verbosity, logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_midi_ddsp_cli", False):
            root.removeHandler(old)
    handler._midi_ddsp_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("matplotlib", "music21", "PIL", "numba"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def parse_instrument_option(text: str):
    """Parse one ``--instrument`` value into ``(key, spec)``.

    ``KEY=SPEC`` where KEY is a 0-based track number or a track / part name, or just ``SPEC`` for
    every pitched part. SPEC is an instrument name or alias (``flute``, ``vn``) or a blend
    ``violin:0.5+flute:0.5`` (weights are normalised; ``midi_ddsp.casting.instrument_from_text``).

    Raises:
        ParameterError: empty key or spec, a bad weight, or an unknown instrument name.
    """
    from midi_ddsp.casting import instrument_from_text
    from midi_ddsp.errors import ParameterError

    key, sep, spec = text.partition("=")
    if not sep:
        key, spec = _ALL_PARTS, text
    key, spec = key.strip(), spec.strip()
    if not key or not spec:
        raise ParameterError(f"--instrument {text!r}: expected TRACK=INSTRUMENT, e.g. 2=flute")
    parsed_key = int(key) if key.isdigit() else key
    try:
        return parsed_key, instrument_from_text(spec)
    except ParameterError as exc:
        raise ParameterError(f"--instrument {text!r}: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="midi_ddsp_synthesize", description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    inputs = parser.add_argument_group("input")
    inputs.add_argument("files", nargs="*", metavar="FILE",
                        help="score files to render (.mid, .midi, .musicxml, .xml, .mxl, .krn, .abc)")
    inputs.add_argument("--midi-path", "--midi_path", action="append", default=[], metavar="FILE",
                        help="a score file to render (may be repeated; same as a positional FILE)")
    inputs.add_argument("--midi-dir", "--midi_dir", action="append", default=[], metavar="DIR",
                        help="a folder searched recursively for score files (may be repeated); "
                             "outputs mirror its sub-folders")
    music = parser.add_argument_group("what to play")
    music.add_argument("--instrument", action="append", default=[], metavar="[TRACK=]INSTRUMENT",
                       help="instrument of a track, by track number as in the file (0-based; in "
                            "a type-1 MIDI file track 0 is usually the tempo track; see "
                            "--list-tracks) or by track/part name (e.g. 2=flute, 'Alto=oboe', "
                            "'Piano v2=cello'); without TRACK= it applies to every "
                            "pitched part; a blend is written violin:0.5+flute:0.5. Instruments: "
                            "violin, viola, cello, double_bass, flute, oboe, clarinet, saxophone, "
                            "bassoon, trumpet, horn, trombone, tuba (and aliases such as vn, fl)")
    music.add_argument("--list-tracks", "--list_tracks", action="store_true",
                       help="print the parts of each input (track number, name, GM program, "
                            "instrument, notes) and exit without rendering")
    music.add_argument("--pitch-offset", "--pitch_offset", type=int, default=0, metavar="SEMITONES",
                       help="transpose every pitched note by this many semitones (default 0); "
                            "parts are then moved by octaves into their instrument's range")
    music.add_argument("--speed-rate", "--speed_rate", type=float, default=1.0, metavar="RATE",
                       help="tempo factor: 2 plays twice as fast, 0.5 half as fast (default 1)")
    music.add_argument("--seed", type=int, default=0,
                       help="random seed of the expressions and synthesis noise; the same seed "
                            "reproduces a render (part i uses SEED + i; default 0)")
    music.add_argument("--expression-seed", "--expression_seed", type=int, default=None,
                       metavar="N", help="seed of the expression sampling alone (default: --seed); "
                                         "change it to hear another performance")
    music.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE, metavar="T",
                       help="spread of the expression sampling: 0 = the most likely expressions "
                            f"(deterministic), 1 = the model's full spread (default {DEFAULT_TEMPERATURE})")
    music.add_argument("--reverb", choices=tuple(REVERB_PRESETS), default=DEFAULT_REVERB,
                       help=f"room of the model parts: parametric presets (default {DEFAULT_REVERB})")
    fluid = parser.add_argument_group("FluidSynth (tracks without a model, drums)")
    fluid.add_argument("--use-fluidsynth", "--use_fluidsynth", action="store_true",
                       help="render tracks whose program has no model, and drum tracks, with "
                            "FluidSynth instead of skipping them")
    fluid.add_argument("--sf2-path", "--sf2_path", default=None, metavar="SF2",
                       help="soundfont for --use-fluidsynth (default: $MIDI_DDSP_SF2 or "
                            "FluidR3_GM.sf2 from Debian's fluid-soundfont-gm)")
    models = parser.add_argument_group("models")
    models.add_argument("--synthesis-generator-weight-path", "--synthesis_generator_weight_path", default=None, metavar="PT",
                        help="Synthesis Generator checkpoint (default: the shipped one)")
    models.add_argument("--expression-generator-weight-path", "--expression_generator_weight_path", default=None, metavar="PT",
                        help="Expression Generator checkpoint (default: the shipped one)")
    output = parser.add_argument_group("output")
    output.add_argument("--output-dir", "--output_dir", default=_DEFAULT_OUTPUT_DIR, metavar="DIR",
                        help=f"where the per-file folders and manifest.jsonl go (default "
                             f"./{_DEFAULT_OUTPUT_DIR})")
    output.add_argument("--skip-existing-files", "--skip_existing_files", action="store_true",
                        help="skip inputs whose output folder is already complete (resume an "
                             "interrupted run); otherwise existing folders are replaced")
    output.add_argument("--save-metadata", "--save_metadata", action="store_true",
                        help="also save per part the note expressions and synthesis parameters "
                             "(params/NN_<part>.npz: f0_hz, amplitude, harmonic_distribution, "
                             "noise_magnitudes, note columns), making the output a dataset")
    output.add_argument("--plot", action="store_true",
                        help="also save per part a PNG: piano roll with the six expressions, f0 "
                             "and loudness (plots/NN_<part>.png)")
    output.add_argument("--sample-rate", "--sample_rate", type=int, default=16000, metavar="HZ",
                        help="output sample rate in Hz (default 16000, the models' rate)")
    output.add_argument("--float-wav", "--float_wav", action="store_true",
                        help="write 32-bit float WAV instead of 16-bit PCM")
    output.add_argument("--normalize", choices=("loudness", "peak", "none"), default="loudness",
                        help="how the mix is levelled: loudness = -23 LUFS integrated loudness "
                             "(ITU-R BS.1770, EBU R128's level), less if the true peak would "
                             "exceed -1 dBTP; peak = sample peak at -1 dBFS (every file then "
                             "peaks alike, whatever its dynamics); none = no gain, the models' "
                             "own level (a limiter only where a sample would clip). Default "
                             "loudness; the gain applied is in metadata.json under \"mix\"")
    aug = parser.add_argument_group(
        "dataset augmentation (drawn per file, reproducibly; recorded in metadata.json and the "
        "manifest)")
    aug.add_argument("--augment-ensembles", default=None, metavar="NAMES",
                     help="comma-separated ensembles, one drawn per file for its parts soprano "
                          "to bass: string_quartet, woodwind_quartet, brass_quartet")
    aug.add_argument("--augment-random-instruments", action="store_true",
                     help="each part draws an instrument whose range holds its notes")
    aug.add_argument("--augment-speed", default=None, metavar="LO,HI",
                     help="tempo factor drawn from LO..HI, e.g. 0.9,1.1")
    aug.add_argument("--augment-jitter-ms", type=float, default=0.0, metavar="MS",
                     help="Gaussian onset jitter per note, standard deviation in ms")
    aug.add_argument("--augment-temperature", default=None, metavar="LO,HI",
                     help="expression temperature drawn from LO..HI")
    aug.add_argument("--augment-pitch", default=None, metavar="LO,HI",
                     help="pitch offset in semitones drawn from LO..HI (whole numbers)")
    aug.add_argument("--augment-reverb", default=None, metavar="NAMES",
                     help=f"comma-separated reverb presets, one drawn per file ({', '.join(REVERB_PRESETS)})")
    aug.add_argument("--augment-seed", type=int, default=0, metavar="N",
                     help="seed of every draw (default 0)")
    aug.add_argument("--from-manifest", "--from_manifest", default=None, metavar="MANIFEST",
                     help="render the files of a manifest.jsonl again, each with the options it "
                          "was rendered with (inputs and the options above are then not used)")
    run = parser.add_argument_group("running")
    run.add_argument("--jobs", type=int, default=1, metavar="N",
                     help="render N files in parallel workers (default 1)")
    run.add_argument("--engine", choices=("local", "ray"), default="local",
                     help="local worker processes (default) or Ray actors (pip install "
                          "'midi_ddsp[ray]'); the same output either way")
    run.add_argument("--ray-address", "--ray_address", default=None, metavar="ADDR",
                     help="with --engine ray: a running cluster (default: start a local Ray)")
    run.add_argument("--device", default="auto", metavar="auto|cpu|cuda",
                     help="where the torch generators run (default auto: CUDA when present, but "
                          "--runtime auto picks onnxruntime on the CPU for the shipped checkpoints "
                          "unless cuda is named); the DDSP synth runs on the CPU")
    run.add_argument("--runtime", choices=("auto", "onnx", "torch"), default="auto",
                     help="how the generators run: auto (default) = onnxruntime for the shipped "
                          "checkpoints when it is installed (the same audio, a start-up of a "
                          "fraction of torch's), else torch; --device cuda or given weights use "
                          "torch")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="show progress bars (default: when stderr is a terminal)")
    run.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    run.add_argument("-v", "--verbose", action="store_true", help="print more information")
    return parser


def _list_tracks(inputs: Sequence[str]) -> int:
    from midi_ddsp.batch import find_score_files
    from midi_ddsp.errors import MidiDDSPError
    from midi_ddsp.score import load_score

    failed = False
    try:
        files = find_score_files(inputs)
    except MidiDDSPError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path, _ in files:
        try:
            score = load_score(path)
        except MidiDDSPError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed = True
            continue
        print(f"{path}: {score.end_s:.1f} s")
        for part in score.parts:
            kind = "drums" if part.is_drum else (part.instrument.name if part.instrument else "no model")
            print(f"  track {part.track:2d}  {part.name!r:28s} program {part.program:3d}  {kind:12s} "
                  f"{len(part.notes)} notes")
    return 2 if failed else 0


def _range(text: "str | None", flag: str, cast=float):
    if text is None:
        return None
    from midi_ddsp.errors import ParameterError

    try:
        lo, hi = (cast(v) for v in text.split(","))
    except ValueError:
        raise ParameterError(f"{flag} takes LO,HI (e.g. 0.9,1.1), got {text!r}") from None
    return lo, hi


def _names(text: "str | None") -> tuple:
    return tuple(n.strip() for n in (text or "").split(",") if n.strip())


def _augmentation(args):
    """The Augmentation the --augment-* flags ask for, or None."""
    from midi_ddsp.augmentation import Augmentation

    aug = Augmentation(ensembles=_names(args.augment_ensembles),
                       random_instruments=args.augment_random_instruments,
                       speed_range=_range(args.augment_speed, "--augment-speed"),
                       timing_jitter_ms=args.augment_jitter_ms,
                       temperature_range=_range(args.augment_temperature, "--augment-temperature"),
                       pitch_offset_range=_range(args.augment_pitch, "--augment-pitch", int),
                       reverbs=_names(args.augment_reverb), seed=args.augment_seed)
    return aug if aug.active else None


def main(argv: "Sequence[str] | None" = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 2 any failure)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(-1 if args.quiet else (1 if args.verbose else 0))
    from midi_ddsp.errors import MidiDDSPError

    inputs = [*args.files, *args.midi_path, *args.midi_dir]
    if not inputs and not args.from_manifest:
        parser.print_usage(sys.stderr)
        print("error: no input: give score files, --midi-path or --midi-dir", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"error: --jobs must be >= 1, got {args.jobs}", file=sys.stderr)
        return 2
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    if args.list_tracks:
        return _list_tracks(inputs)
    try:
        instruments = dict(parse_instrument_option(text) for text in args.instrument)
        from midi_ddsp.batch import check_output_root, render_dataset, render_from_manifest
        from midi_ddsp.pretrained import load_pretrained_model

        check_output_root(args.output_dir)
        models = load_pretrained_model(
            expression_generator_path=args.expression_generator_weight_path,
            synthesis_generator_path=args.synthesis_generator_weight_path,
            device=args.device, runtime=args.runtime)
        run = dict(models=models, jobs=args.jobs, engine=args.engine, ray_address=args.ray_address,
                   skip_existing=args.skip_existing_files, save_params=args.save_metadata,
                   plot=args.plot, subtype="FLOAT" if args.float_wav else "PCM_16",
                   progress=progress)
        if args.from_manifest:
            report = render_from_manifest(args.from_manifest, args.output_dir, **run)
        else:
            report = render_dataset(
                inputs, args.output_dir, augmentation=_augmentation(args), **run,
                instruments=instruments or None, pitch_offset=args.pitch_offset,
                speed_rate=args.speed_rate, seed=args.seed, sample_rate=args.sample_rate,
                use_fluidsynth=args.use_fluidsynth, sf2_path=args.sf2_path,
                normalize=args.normalize, expression_seed=args.expression_seed,
                temperature=args.temperature, reverb=args.reverb)
    except MidiDDSPError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: one line, the traceback only with --verbose
        if args.verbose:
            raise
        print(f"error: unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
              "(run with --verbose for the traceback)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; rerun with --skip-existing-files to resume", file=sys.stderr)
        return 130
    if not args.quiet:
        for row in report.rows:
            if row["status"] == "ok":
                print(os.path.join(row["output_dir"], "mix.wav"))
        print(f"{report.n_ok} rendered, {report.n_skipped} skipped (already done), "
              f"{report.n_failed} failed; manifest: {report.manifest_path}", file=sys.stderr)
    return 2 if report.n_failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
