"""midi_ddsp_studio: a local web app to see a performance, edit it note by note, hear it again.

Open a MIDI or MusicXML file (in the page, or SONG given here), change instruments or blends per
part, edit the six expressions of any notes in a piano roll, its lanes or the NoteTable grid,
undo, re-render only the edited parts and play the mix or a stem; download the mix, stems,
NoteTables (CSV) and parameters (npz); save and reopen session folders under --session-dir.
The page and everything it needs are served by this process; nothing is downloaded.

examples:
  midi_ddsp_studio                                  then open http://127.0.0.1:8765/
  midi_ddsp_studio examples/chorale_4part.mid --port 8000
  midi_ddsp_studio song.mid --session-dir ~/studio_sessions

It serves 127.0.0.1 (this machine only) unless --host says otherwise; the studio has no
accounts or passwords, so another --host lets anyone who can reach the port use it (and it
warns). Exit status 2 with one line "error: ..." when the score or a checkpoint cannot be used.
"""
from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from typing import Sequence

__all__ = ["main", "build_parser", "is_loopback"]

_DEFAULT_SESSION_DIR = "midi_ddsp_studio_sessions"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="midi_ddsp_studio", description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("song", nargs="?", default=None, metavar="SONG",
                        help="a score to open at start (.mid, .midi, MusicXML, .mxl, kern, abc)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1, this machine only)")
    parser.add_argument("--session-dir", "--session_dir", default=_DEFAULT_SESSION_DIR,
                        metavar="DIR", help="folder of the session folders; the studio writes "
                        f"nothing outside it (default ./{_DEFAULT_SESSION_DIR})")
    parser.add_argument("--synthesis-generator-weight-path", "--synthesis_generator_weight_path",
                        default=None, metavar="PT", help="Synthesis Generator checkpoint "
                        "(default: the shipped one)")
    parser.add_argument("--expression-generator-weight-path", "--expression_generator_weight_path",
                        default=None, metavar="PT", help="Expression Generator checkpoint "
                        "(default: the shipped one)")
    return parser


def is_loopback(host: str) -> bool:
    """Whether ``host`` only reaches this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def main(argv: "Sequence[str] | None" = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    from midi_ddsp.errors import MidiDDSPError
    from midi_ddsp.pretrained import load_pretrained_model
    from midi_ddsp.studio import StudioSession, create_app

    if not is_loopback(args.host):
        print(f"midi_ddsp_studio: warning: listening on {args.host}: anyone who can reach port "
              f"{args.port} can use the studio and write into {args.session_dir} (it has no "
              "login); use --host 127.0.0.1 to keep it on this machine", file=sys.stderr)
    try:
        models = load_pretrained_model(
            expression_generator_path=args.expression_generator_weight_path,
            synthesis_generator_path=args.synthesis_generator_weight_path)
        session = StudioSession(args.session_dir, models=models)
        if args.song is not None:
            session.open_score(args.song)
    except MidiDDSPError as exc:
        print(f"midi_ddsp_studio: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    import uvicorn

    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"midi_ddsp_studio: http://{shown}:{args.port}/  (sessions in {session.root}; "
          "Ctrl+C to stop)", file=sys.stderr)
    uvicorn.run(create_app(session), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
