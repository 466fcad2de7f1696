"""Extract the short real recordings DESIGN §6 lists as test fixtures into a gitignored folder.

Never committed: the clips come from the packages that ship them, fetched with their ordinary
clients. So far: the 5.5-s flute phrase ``pyo/examples/snds/flute.aif`` of the ``pyo`` wheel
(PyPI, ``pip download pyo --no-deps``; the wheel is only unzipped, never installed).

    python scripts/fetch_real_clips.py [--out data/real_clips] [--wheel pyo-*.whl]

Prints the path of each clip; exits 0 when every clip is there (already or now), 1 otherwise
(no network, no wheel), so tests that need a clip skip when it is missing.
"""
from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "data" / "real_clips"
CLIPS = {"pyo_flute.aif": ("pyo", "pyo/examples/snds/flute.aif")}


def _wheel(package: str, given: "str | None", folder: str) -> "str | None":
    if given:
        return given
    cmd = [sys.executable, "-m", "pip", "download", package, "--no-deps", "--only-binary=:all:",
           "-q", "-d", folder]
    if subprocess.run(cmd, check=False).returncode != 0:
        return None
    found = sorted(glob.glob(os.path.join(folder, f"{package}-*.whl")))
    return found[-1] if found else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="fixture folder (gitignored)")
    parser.add_argument("--wheel", default=None, help="a pyo wheel already downloaded")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name, (package, member) in CLIPS.items():
            target = out / name
            if not target.is_file():
                wheel = _wheel(package, args.wheel, tmp)
                if wheel is None:
                    print(f"error: {package}: could not download the wheel", file=sys.stderr)
                    ok = False
                    continue
                with zipfile.ZipFile(wheel) as archive:
                    data = archive.read(member)
                partial = target.with_suffix(target.suffix + ".part")
                partial.write_bytes(data)
                os.replace(partial, target)
            print(target)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
