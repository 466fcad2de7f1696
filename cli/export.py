"""midi_ddsp_export: the generators as ONNX graphs or TorchScript modules, with their input/output
contract.

Usage: midi_ddsp_export --out DIR [--format onnx|torchscript]
           [--synthesis-generator PT] [--expression-generator PT] [--causal-synthesis-generator PT]

Writes DIR/synthesis_generator.*, DIR/expression_generator_encoder.*,
DIR/expression_generator_step.*, DIR/ddsp_synth.* (the dry synth of a whole part),
DIR/causal_synthesis_generator_step.* (the live model's block step, with its state) and
DIR/contract.json (see midi_ddsp.export). Default: the shipped
checkpoints. Exit status 2 with one line on a bad checkpoint or option.
"""
from __future__ import annotations

import argparse
import logging
import sys

from midi_ddsp.errors import MidiDDSPError

__all__ = ["main"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="midi_ddsp_export", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder for the graphs and contract.json")
    p.add_argument("--format", choices=("onnx", "torchscript"), default="onnx",
                   help="onnx (default: onnxruntime hosts) or torchscript (libtorch hosts)")
    p.add_argument("--synthesis-generator", "--synthesis_generator", default=None, metavar="PT")
    p.add_argument("--expression-generator", "--expression_generator", default=None, metavar="PT")
    p.add_argument("--causal-synthesis-generator", "--causal_synthesis_generator", default=None,
                   metavar="PT", help="the live model (default: the shipped one, when present)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    from midi_ddsp.export import export_models
    from midi_ddsp.models.checkpoint import load_model, shipped_file
    from midi_ddsp.pretrained import load_pretrained_model

    try:
        models = load_pretrained_model(expression_generator_path=args.expression_generator,
                                       synthesis_generator_path=args.synthesis_generator)
        causal_path = args.causal_synthesis_generator or shipped_file(
            "causal_synthesis_generator.pt")
        causal = None
        if args.causal_synthesis_generator or causal_path.exists():
            causal = load_model(causal_path, kind="synthesis_generator")
            if not causal.config.causal:
                print(f"midi_ddsp_export: error: {causal_path}: not a causal Synthesis Generator",
                      file=sys.stderr)
                return 2
        contract = export_models(args.out, models, format=args.format, causal_model=causal)
    except MidiDDSPError as exc:
        print(f"midi_ddsp_export: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(f"{args.out}: {', '.join(contract['files'].values())}, contract.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
