"""Fetch the JavaScript the HTML book needs at read time, so the built book works offline.

Jupyter Book 1 pages load MathJax 3, RequireJS and the ipywidgets HTML manager from public CDNs.
This script downloads exact versions of those packages from the npm registry (``npm pack``) and
unpacks the files the pages need into ``_vendor/vendor/``. ``_ext/offline_assets.py`` (a Sphinx
extension) then serves them from the book itself: ``_vendor`` is an ``html_extra_path``, copied
verbatim into ``_build/html`` and, unlike ``_static``, never scanned for scripts to add to every
page.

Each ``npm pack`` is given 10 minutes. Where npm is missing, the registry cannot be reached or a
download fails, the script says so (with the last 2000 characters of npm's error output) and
removes any partial download; the book then falls back to the CDNs (and says so during the build).

Usage: ``python _ext/vendor_js.py [DEST]`` (default ``_vendor``). Re-running with the same versions
does nothing.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile

#: npm package -> (exact version, files or directories to keep, relative to the package root,
#: and the directory under vendor/ they go to)
PACKAGES = {
    "mathjax": ("3.2.2", ["es5"], "mathjax"),
    "requirejs": ("2.3.7", ["require.js"], "requirejs"),
    # 1.0.x is the html-manager line that renders ipywidgets 8 widget state
    "@jupyter-widgets/html-manager": ("1.0.6", ["dist"], "html-manager"),
}

MANIFEST = "manifest.json"


def wanted() -> dict:
    return {name: version for name, (version, _, _) in PACKAGES.items()}


def is_current(dest: pathlib.Path) -> bool:
    """True if ``dest/vendor`` already holds exactly the versions in :data:`PACKAGES`."""
    manifest = dest / "vendor" / MANIFEST
    try:
        return json.loads(manifest.read_text())["packages"] == wanted()
    except (OSError, ValueError, KeyError):
        return False


def fetch(dest: pathlib.Path) -> bool:
    """Download and unpack every package into ``dest/vendor``; True on success."""
    npm = shutil.which("npm")
    if npm is None:
        print("vendor_js: npm not found; the book will load MathJax, RequireJS and the widget "
              "manager from public CDNs (install Node.js/npm for an offline book)")
        return False
    target = dest / "vendor"
    staging = dest / "vendor.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, keep, subdir) in PACKAGES.items():
            spec = f"{name}@{version}"
            proc = subprocess.run([npm, "pack", spec, "--silent", "--pack-destination", tmp],
                                  capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                print(f"vendor_js: 'npm pack {spec}' failed; falling back to public CDNs\n"
                      f"{proc.stderr.strip()[-2000:]}")
                shutil.rmtree(staging, ignore_errors=True)
                return False
            tarball = pathlib.Path(tmp) / proc.stdout.strip().splitlines()[-1]
            with tarfile.open(tarball) as tar:
                members = [m for m in tar.getmembers()
                           if any(m.name == f"package/{k}" or m.name.startswith(f"package/{k}/")
                                  for k in keep)
                           and not m.name.endswith(".map")]  # source maps: not needed to read
                tar.extractall(pathlib.Path(tmp) / subdir, members=members, filter="data")
            shutil.move(str(pathlib.Path(tmp) / subdir / "package"), str(staging / subdir))
            print(f"vendor_js: {spec} -> {target / subdir}")
    (staging / MANIFEST).write_text(json.dumps({"packages": wanted()}, indent=2) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return True


def main(argv: list[str]) -> int:
    dest = pathlib.Path(argv[1] if len(argv) > 1 else "_vendor")
    if is_current(dest):
        print(f"vendor_js: {dest / 'vendor'} is up to date ({wanted()})")
        return 0
    fetch(dest)
    return 0  # a failed fetch is not an error: the book falls back to the CDNs


if __name__ == "__main__":
    sys.exit(main(sys.argv))
