"""Extract the short real recordings DESIGN §6 lists as test fixtures into a gitignored folder.

Never committed: the clips come from the packages that ship them, fetched with their ordinary
clients and only unpacked, never installed:

- the ``pyo`` wheel (PyPI, ``pip download pyo --no-deps``): a 5.5-s flute phrase;
- Debian ``lmms-common`` (``apt-get download``): single notes of flute, trumpet, cello and violin;
- Debian ``csoundqt-examples``: an 8.6-s flute phrase and a sustained viola note.

    python scripts/fetch_real_clips.py [--out data/real_clips]

Writes ``clips.json`` (clip -> instrument, source package and member) beside the clips, prints
the path of each clip and exits 0 when every clip is there (already or now), 1 otherwise (no
network), so tests that need a clip skip when it is missing.
"""
from __future__ import annotations

import argparse
import glob
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "data" / "real_clips"
_LMMS = "usr/share/lmms/samples/instruments/"
_CSOUNDQT = "usr/share/csoundqt/Examples/SourceMaterials/"
# clip file -> (instrument, source kind, package, member)
CLIPS = {
    "pyo_flute.aif": ("flute", "wheel", "pyo", "pyo/examples/snds/flute.aif"),
    "lmms_flute.ogg": ("flute", "deb", "lmms-common", _LMMS + "flute01.ogg"),
    "lmms_trumpet.ogg": ("trumpet", "deb", "lmms-common", _LMMS + "trumpet01.ogg"),
    "lmms_cello.ogg": ("cello", "deb", "lmms-common", _LMMS + "cello01.ogg"),
    "lmms_violin.ogg": ("violin", "deb", "lmms-common", _LMMS + "violin_fingered01.ogg"),
    "csoundqt_flute.wav": ("flute", "deb", "csoundqt-examples", _CSOUNDQT + "flute.wav"),
    "csoundqt_viola.wav": ("viola", "deb", "csoundqt-examples", _CSOUNDQT + "BratscheMono.wav"),
}


def _download(kind: str, package: str, folder: str) -> "str | None":
    """The wheel or .deb of ``package`` downloaded into ``folder``, or None."""
    if kind == "wheel":
        cmd = [sys.executable, "-m", "pip", "download", package, "--no-deps",
               "--only-binary=:all:", "-q", "-d", folder]
        pattern = f"{package}-*.whl"
    else:
        cmd = ["apt-get", "download", "-q", package]
        pattern = f"{package}_*.deb"
    try:
        done = subprocess.run(cmd, check=False, cwd=folder, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    except OSError:
        return None
    found = sorted(glob.glob(os.path.join(folder, pattern)))
    if done.returncode != 0 or not found:
        return None
    return found[-1]


def _member(kind: str, archive: str, member: str) -> bytes:
    """One file's bytes from a wheel (zip) or a .deb (its data tarball, via dpkg-deb)."""
    if kind == "wheel":
        with zipfile.ZipFile(archive) as zipped:
            return zipped.read(member)
    tar_bytes = subprocess.run(["dpkg-deb", "--fsys-tarfile", archive], check=True,
                               stdout=subprocess.PIPE).stdout
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        for name in (member, "./" + member):
            try:
                handle = tar.extractfile(name)
            except KeyError:
                continue
            if handle is not None:
                return handle.read()
    raise KeyError(member)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="fixture folder (gitignored)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ok = True
    archives: dict[str, "str | None"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (_, kind, package, member) in CLIPS.items():
            target = out / name
            if not target.is_file():
                if package not in archives:
                    archives[package] = _download(kind, package, tmp)
                if archives[package] is None:
                    print(f"error: {package}: could not download the package", file=sys.stderr)
                    ok = False
                    continue
                try:
                    data = _member(kind, archives[package], member)
                except (KeyError, OSError, subprocess.CalledProcessError, zipfile.BadZipFile,
                        tarfile.TarError) as exc:
                    print(f"error: {package}: no {member} in it ({exc})", file=sys.stderr)
                    ok = False
                    continue
                partial = target.with_suffix(target.suffix + ".part")
                partial.write_bytes(data)
                os.replace(partial, target)
            print(target)
    index = {name: {"instrument": inst, "package": package, "member": member}
             for name, (inst, _, package, member) in CLIPS.items() if (out / name).is_file()}
    (out / "clips.json").write_text(json.dumps(index, indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
