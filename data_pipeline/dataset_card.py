"""The dataset card of a rendered corpus: sizes, resynthesis floor and expression histograms.

``write_dataset_card(corpus_dir, out_dir)`` writes

* ``out_dir/card.json``: the numbers (settings of the build, hours / examples / notes / sources
  per instrument and split, resynthesis floor per instrument, summary statistics of the six
  note expressions per instrument);
* ``out_dir/README.md``: the same as a readable card, with how the corpus was made;
* ``out_dir/expressions.png``: histograms of the six note expressions (columns) per instrument
  (rows), measured with ``midi_ddsp.expression.extract_note_expressions`` on the analysed
  parameters of the valid and test pieces.

Run as ``python -m midi_ddsp.data_pipeline.dataset_card --corpus data/corpus --out data_card``.
"""
from __future__ import annotations

import argparse
import collections
import json
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from midi_ddsp.errors import InputFileError, ParameterError
from midi_ddsp.instruments import INSTRUMENT_NAMES
from midi_ddsp.score import Note
from midi_ddsp.shards import Example, read_manifest, read_shard
from midi_ddsp.synth_params import SynthParams

__all__ = ["EXPRESSION_NAMES", "corpus_statistics", "resynthesis_floors", "expression_table",
           "write_dataset_card", "main"]

logger = logging.getLogger(__name__)

EXPRESSION_NAMES = ("volume", "vol_fluc", "vol_peak_pos", "vibrato", "brightness", "attack")
_SPLITS = ("train", "valid", "test")
_FRAME_RATE = 250
_SAMPLE_RATE = 16000


def _records(corpus_dir: Path) -> list[dict]:
    manifest = corpus_dir / "manifest.jsonl"
    if not manifest.exists():
        raise InputFileError(manifest, "no manifest: not a corpus folder (run midi_ddsp_build_corpus)")
    return read_manifest(manifest)


def corpus_statistics(corpus_dir: "str | os.PathLike[str]") -> dict:
    """Hours, voiced hours, examples, notes, jobs and source works per instrument and split,
    from the manifest alone."""
    records = _records(Path(corpus_dir))
    table: dict = {}
    sources: dict = collections.defaultdict(set)
    collections_count: dict = collections.Counter()
    for r in records:
        row = table.setdefault(r["instrument"], {}).setdefault(
            r["split"], {"hours": 0.0, "voiced_hours": 0.0, "n_examples": 0, "n_notes": 0, "n_jobs": 0})
        row["hours"] += r["duration_s"] / 3600.0
        row["voiced_hours"] += r["voiced_s"] / 3600.0
        row["n_examples"] += r["n_examples"]
        row["n_notes"] += r["n_notes"]
        row["n_jobs"] += 1
        sources[(r["instrument"], r["split"])].add(r["source"])
        collections_count[r.get("collection", "?")] += r["duration_s"] / 3600.0
    for (inst, split), works in sources.items():
        table[inst][split]["n_sources"] = len(works)
    for inst in table.values():
        for row in inst.values():
            row["hours"] = round(row["hours"], 4)
            row["voiced_hours"] = round(row["voiced_hours"], 4)
    split_sources = collections.defaultdict(set)
    for r in records:
        split_sources[r["split"]].add(r["source"])
    shared = set()
    for a in _SPLITS:
        for b in _SPLITS:
            if a < b:
                shared |= split_sources[a] & split_sources[b]
    return {
        "n_jobs": len(records),
        "total_hours": round(sum(r["duration_s"] for r in records) / 3600.0, 3),
        "per_instrument": {name: table[name] for name in INSTRUMENT_NAMES if name in table},
        "hours_per_collection": {k: round(v, 3) for k, v in sorted(collections_count.items())},
        "n_source_works": {s: len(split_sources[s]) for s in _SPLITS},
        "sources_in_two_splits": len(shared),
    }


def _params(ex: Example) -> SynthParams:
    return SynthParams(ex.f0_hz, ex.amplitude, ex.harmonic_distribution, ex.noise_magnitudes)


def _examples(corpus_dir: Path, records: Sequence[dict], instrument: str, splits: Sequence[str],
              max_shards: int) -> list[Example]:
    chosen = [r for r in records if r["instrument"] == instrument and r["split"] in splits][:max_shards]
    out = []
    for r in chosen:
        out.extend(read_shard(corpus_dir / r["shard"]))
    return out


def resynthesis_floors(corpus_dir: "str | os.PathLike[str]", *, n_examples: int = 4,
                       clip_s: float = 4.0, split: str = "valid") -> dict:
    """Per instrument: mean multi-scale spectral loss between the audio and the DDSP
    resynthesis of its analysed parameters (``analysis.resynthesis_floor``), over the first
    ``n_examples`` examples of ``split`` (each cut to its first ``clip_s`` seconds from the
    first voiced frame)."""
    from midi_ddsp.analysis import resynthesis_floor

    corpus_dir = Path(corpus_dir)
    records = _records(corpus_dir)
    floors = {}
    n_clip = int(round(clip_s * _FRAME_RATE))
    hop = _SAMPLE_RATE // _FRAME_RATE
    for name in INSTRUMENT_NAMES:
        losses = []
        for ex in _examples(corpus_dir, records, name, [split], n_examples)[:n_examples]:
            voiced = np.nonzero(ex.f0_hz > 0)[0]
            start = int(voiced[0]) if voiced.size else 0
            stop = min(ex.n_frames, start + n_clip)
            params = SynthParams(ex.f0_hz[start:stop], ex.amplitude[start:stop],
                                 ex.harmonic_distribution[start:stop], ex.noise_magnitudes[start:stop])
            losses.append(resynthesis_floor(ex.audio[start * hop:stop * hop], params,
                                            sample_rate=_SAMPLE_RATE))
        if losses:
            floors[name] = {"mean": round(float(np.mean(losses)), 4),
                            "std": round(float(np.std(losses)), 4), "n_clips": len(losses)}
    return floors


def expression_table(corpus_dir: "str | os.PathLike[str]", *, splits: Sequence[str] = ("valid", "test"),
                     max_shards: int = 40):
    """The six expressions of every note of the (first ``max_shards``) ``splits`` pieces of
    each instrument, as one DataFrame with an ``instrument`` column."""
    import pandas as pd

    from midi_ddsp.expression import extract_note_expressions

    corpus_dir = Path(corpus_dir)
    records = _records(corpus_dir)
    tables = []
    for name in INSTRUMENT_NAMES:
        for ex in _examples(corpus_dir, records, name, splits, max_shards):
            end_s = ex.n_frames / _FRAME_RATE
            notes = [Note(int(p), float(a), float(b), int(max(1, min(127, round(v)))))
                     for p, a, b, v in ex.notes if b > a and a < end_s - 1.0 / _FRAME_RATE]
            if not notes:
                continue
            table = extract_note_expressions(_params(ex), notes, frame_rate=_FRAME_RATE)
            table["instrument"] = name
            tables.append(table)
    if not tables:
        return pd.DataFrame(columns=[*EXPRESSION_NAMES, "instrument"])
    return pd.concat(tables, ignore_index=True)


def mark_shares(corpus_dir: "str | os.PathLike[str]", *, splits: Sequence[str] = ("valid", "test"),
                max_shards: int = 40) -> dict:
    """Share of the notes of the (first ``max_shards`` per instrument) ``splits`` pieces that
    carry each kind of score mark (``Example.note_marks``), and of the pieces with any."""
    from midi_ddsp.score import ARTICULATIONS, NoteMarks

    corpus_dir = Path(corpus_dir)
    records = _records(corpus_dir)
    n_notes = n_pieces = n_marked = 0
    counts = dict.fromkeys(["dynamic", "wedge", *ARTICULATIONS, "slur", "fermata"], 0)
    for name in INSTRUMENT_NAMES:
        for ex in _examples(corpus_dir, records, name, splits, max_shards):
            n_pieces += 1
            n_notes += len(ex.notes)
            if ex.note_marks is None:
                continue
            n_marked += 1
            for marks in map(NoteMarks.from_codes, ex.note_marks):
                for key in ("dynamic", "wedge", "slur", "fermata"):
                    counts[key] += bool(getattr(marks, key))
                for art in marks.articulations:
                    counts[art] += 1
    return {"n_pieces": n_pieces, "marked_pieces": round(n_marked / max(n_pieces, 1), 3),
            "note_share": {k: round(v / max(n_notes, 1), 4) for k, v in counts.items()}}


def _expression_summary(df) -> dict:
    out = {}
    for name, group in df.groupby("instrument", sort=False):
        out[name] = {"n_notes": int(len(group))}
        for col in EXPRESSION_NAMES:
            v = group[col].to_numpy(np.float64)
            out[name][col] = {"mean": round(float(v.mean()), 3), "std": round(float(v.std()), 3),
                              "p5": round(float(np.percentile(v, 5)), 3),
                              "p95": round(float(np.percentile(v, 95)), 3),
                              "frac_in_0_1": round(float(np.mean((v >= 0) & (v <= 1))), 3)}
    return out


def _plot(df, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in INSTRUMENT_NAMES if (df["instrument"] == n).any()]
    fig, axes = plt.subplots(len(names), len(EXPRESSION_NAMES), figsize=(13, 1.2 * len(names) + 0.6),
                             squeeze=False, sharex="col")
    for col, expr in enumerate(EXPRESSION_NAMES):
        values = df[expr].to_numpy(np.float64)
        lo, hi = np.percentile(values, [0.5, 99.5]) if values.size else (0, 1)
        lo, hi = min(lo, 0.0), max(hi, 1.0)
        bins = np.linspace(lo, hi, 31)
        for row, name in enumerate(names):
            ax = axes[row, col]
            ax.hist(np.clip(df.loc[df["instrument"] == name, expr], lo, hi), bins=bins, color="C0")
            ax.axvspan(0, 1, color="0.9", zorder=0)
            ax.set_yticks([])
            if row == 0:
                ax.set_title(expr, fontsize=9)
            if col == 0:
                ax.set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
            ax.tick_params(labelsize=7)
    fig.suptitle("note expressions of the valid+test pieces (grey: [0, 1])", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=60)
    plt.close(fig)


def _markdown(card: dict) -> str:
    s = card["statistics"]
    b = card["build"]
    lines = [
        f"# Dataset card: rendered MIDI-DDSP training corpus, version {b.get('corpus_version', 1)}",
        "",
        "Monophonic lines from the music21 corpus (Bach chorales, Essen folk songs, O'Neill and Ryan",
        "fiddle tunes, Palestrina voices) rendered for the 13 instruments with FluidSynth and the",
        "FluidR3_GM soundfont (MIT), with drawn expression (dynamics envelopes through CC11, vibrato",
        "and slides through pitch bend, low-pass cut-off through SF2 NRPN), then analysed with the",
        "ground-truth f0 into DDSP synthesis parameters (`midi_ddsp.analysis`).",
        "",
        *_performance_lines(b),
        *_mark_lines(card.get("marks")),
        "Built by `midi_ddsp_build_corpus` (`midi_ddsp.data_pipeline.corpus`); rendering details and",
        "ranges of every draw: `midi_ddsp.data_pipeline.render` module docstring.",
        "",
        f"Build settings: seed {b.get('seed')}, minutes per instrument {b.get('minutes_per_instrument')},"
        f" {b.get('melody_budget')} music21 works, "
        + ("training segments stored whole" if not b.get("window_s") else
           f"training windows {b.get('window_s')} s (non-overlapping)")
        + "; valid/test are whole segments of at most 40 s at the base tempo.",
        f"Total: **{s['total_hours']:.2f} h** of audio in {s['n_jobs']} shards; source works per split "
        f"{s['n_source_works']}; works shared between splits: {s['sources_in_two_splits']}.",
        "",
        "## Hours per instrument and split (voiced hours, notes, source works)",
        "",
        "| instrument | train h | valid h | test h | train notes | valid notes | test notes "
        "| works (train/valid/test) | resynthesis floor |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in s["per_instrument"].items():
        def g(split, key, fmt="{:.2f}"):
            v = row.get(split, {}).get(key)
            return "-" if v is None else fmt.format(v)
        floor = card["resynthesis_floor"].get(name, {}).get("mean")
        lines.append(
            f"| {name} | {g('train', 'hours')} ({g('train', 'voiced_hours')}) | {g('valid', 'hours')} | "
            f"{g('test', 'hours')} | {g('train', 'n_notes', '{}')} | {g('valid', 'n_notes', '{}')} | "
            f"{g('test', 'n_notes', '{}')} | {g('train', 'n_sources', '{}')}/{g('valid', 'n_sources', '{}')}/"
            f"{g('test', 'n_sources', '{}')} | {'-' if floor is None else f'{floor:.3f}'} |")
    lines += [
        "",
        f"Hours per collection: {s['hours_per_collection']}.",
        "",
        "**Resynthesis floor**: mean multi-scale spectral loss (DESIGN §8; FFT 2048..64, L1 magnitude +",
        "L1 log magnitude) between the audio and the DDSP resynthesis (no reverb) of its own analysed",
        f"parameters, on {card['floor_settings']}. A model predicting the",
        "analysed parameters exactly reaches this loss; lower is not possible with these targets.",
        "",
        "## Note expressions (valid + test pieces)",
        "",
        "![expression histograms](expressions.png)",
        "",
        "| instrument | notes | " + " | ".join(f"{e} mean (p5..p95)" for e in EXPRESSION_NAMES) + " |",
        "|---|---|" + "---|" * len(EXPRESSION_NAMES),
    ]
    for name, row in card["expressions"].items():
        cells = [f"{row[e]['mean']:.2f} ({row[e]['p5']:.2f}..{row[e]['p95']:.2f})" for e in EXPRESSION_NAMES]
        lines.append(f"| {name} | {row['n_notes']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Conventions the models rely on",
        "",
        "- `f0_hz` is ground truth: `midi_to_hz(pitch + bend_cents/100)` inside notes; after a note-off",
        "  it is held at the last pitch through the release tail for 0.3 s (or until the next onset),",
        "  since the soundfont release still sounds; 0 in silence. `f0_confidence` is 1 where f0 > 0.",
        "- `controls` (250 Hz): `expression_cc` (CC11), `volume_cc` (CC7), `velocity`, `bend_cents`,",
        "  `filter_cents` (low-pass offset), `gate` (1 while a note is held).",
        "- `notes` are the notes as played (transposed, tempo-scaled, jittered, articulated; note",
        "  offsets are the note-offs). With training windows (`window_s` > 0) notes are clipped at",
        "  the window edges and the last window of a piece is zero-padded to full length.",
        "- Audio is dry (FluidSynth reverb and chorus off), FluidSynth gain 0.5: the volume",
        "  expression `mean(amp_dB)/60 + 1.5` falls mostly in [0, 1] (table above, `frac_in_0_1` in",
        "  card.json).",
        "- Splits are by source work (md5 of the work id: 85 / 7.5 / 7.5 %), so the voices of one",
        "  chorale never appear in two splits.",
        "",
        "## Limits and augmentation",
        "",
        "- One soundfont (FluidR3_GM): one timbre per instrument; brightness varies only through the",
        "  low-pass cut-off offset (0..-4800 cents) and velocity, and the attack noise is whatever the",
        "  samples have (the soundfont cannot vary it). No parameter-space augmentation is applied",
        "  in the shards; the training code may scale/tilt brightness and attack targets (DESIGN §6)",
        "  and must say so in its model card.",
        "- Vibrato is a pitch-bend sinusoid without the amplitude/timbre modulation of real vibrato",
        "  (phrased lines: by family, duration and register; independent lines: 4-8 Hz, 5-60 cents",
        "  on ~60 % of notes).",
        "- Repeats in the scores are not expanded; chords keep their top note.",
        "",
    ]
    return "\n".join(lines)


def _performance_lines(build: dict) -> list:
    """How expression was drawn (corpus version 2: the rule-based performance model)."""
    if build.get("corpus_version", 1) < 2:
        return ["Expression drawn independently per note (version 1)."]
    from midi_ddsp.data_pipeline import performance

    share = build.get("phrased_share", 0.75)
    doc = performance.__doc__
    rules = doc[doc.index("====="):doc.index("Note envelopes")]
    return [
        f"**Expression (version {build.get('corpus_version')})**: {share:.0%} of the lines are "
        "performed by a rule-based model "
        "in the spirit of the KTH rule system (`midi_ddsp.data_pipeline.performance`), with every "
        "rule's strength drawn per line, so the corpus holds a family of performances of each line; "
        f"the other {1 - share:.0%} draw every note's expression independently (coverage of the "
        "whole control space; the line level is a mean-reverting walk, without the drift to the "
        "clip of version 1). The rules and the ranges their strengths are drawn from:",
        "", "```", rules.strip(), "```", "",
        "Phrases and metre are read from note timing (`midi_ddsp.phrasing`), the same functions the "
        "Expression Generator's inputs use. Version 3 keeps the written rests of the phrased "
        "lines (version 2 held their notes to the next onset). Version 4 draws written score "
        f"marks for {performance.MARKED_SHARE:.0%} of the phrased lines (the score-marks table "
        "above); the performance plays them as the score reader plays a marked score, and each "
        "note's marks are stored with it (`note_marks`), so the Expression Generator learns to "
        "read them.",
    ]


def _mark_lines(marks: "dict | None") -> list:
    if not marks or not marks["marked_pieces"]:
        return []
    shares = ", ".join(f"{k} {v:.1%}" for k, v in marks["note_share"].items())
    return [f"Measured score marks (valid and test pieces, {marks['n_pieces']} pieces): "
            f"{marks['marked_pieces']:.0%} of the pieces are marked; share of all notes carrying "
            f"each mark: {shares}.", ""]


def write_dataset_card(corpus_dir: "str | os.PathLike[str]", out_dir: "str | os.PathLike[str]", *,
                       n_floor_examples: int = 4, floor_clip_s: float = 4.0,
                       max_expression_shards: int = 40) -> dict:
    """Write ``card.json``, ``README.md`` and ``expressions.png`` for a corpus; returns the card.

    Raises:
        InputFileError: ``corpus_dir`` has no manifest.
        ParameterError: bad option values.
    """
    if n_floor_examples < 1 or floor_clip_s <= 0 or max_expression_shards < 1:
        raise ParameterError("n_floor_examples, floor_clip_s and max_expression_shards must be positive")
    corpus_dir, out_dir = Path(corpus_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    build = {}
    if (corpus_dir / "build.json").exists():
        build = json.loads((corpus_dir / "build.json").read_text(encoding="utf-8"))
    stats = corpus_statistics(corpus_dir)
    floors = resynthesis_floors(corpus_dir, n_examples=n_floor_examples, clip_s=floor_clip_s)
    df = expression_table(corpus_dir, max_shards=max_expression_shards)
    card = {
        "build": build,
        "statistics": stats,
        "resynthesis_floor": floors,
        "floor_settings": f"the first {n_floor_examples} valid pieces per instrument, "
                          f"{floor_clip_s:g} s from the first voiced frame",
        "expressions": _expression_summary(df),
        "marks": mark_shares(corpus_dir, max_shards=max_expression_shards),
    }
    (out_dir / "card.json").write_text(json.dumps(card, indent=1), encoding="utf-8")
    if len(df):
        _plot(df, out_dir / "expressions.png")
    (out_dir / "README.md").write_text(_markdown(card), encoding="utf-8")
    return card


def main(argv=None) -> int:
    """Write the dataset card of a corpus folder."""
    parser = argparse.ArgumentParser(description="Write the dataset card of a rendered corpus.")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--n-floor-examples", type=int, default=4)
    parser.add_argument("--max-expression-shards", type=int, default=40)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    write_dataset_card(args.corpus, args.out, n_floor_examples=args.n_floor_examples,
                       max_expression_shards=args.max_expression_shards)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
