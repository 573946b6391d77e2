"""The book-build helpers of ``_ext/`` that no other test loads: the offline-assets Sphinx
extension and the npm vendoring script (no network: npm is never run here)."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import sys
import types

import pytest

EXT = pathlib.Path(__file__).resolve().parents[1] / "_ext"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_ext_{name}", EXT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _App:
    """Records what an extension registers with Sphinx."""

    def __init__(self, srcdir="."):
        self.srcdir, self.connected, self.js = srcdir, [], []

    def connect(self, event, handler, priority=500):
        self.connected.append((event, handler, priority))

    def add_js_file(self, filename, priority=500, **kwargs):
        self.js.append((filename, priority))


def test_offline_assets_registers_early_config_and_late_page_hooks():
    ext = _load("offline_assets")
    app = _App()
    meta = ext.setup(app)
    assert meta["parallel_read_safe"] and meta["parallel_write_safe"]
    priorities = {event: priority for event, _, priority in app.connected}
    # Sphinx's default priority is 500: the configuration is set before other extensions read
    # it, and duplicates are dropped after the theme and sphinx-thebe added their scripts
    assert priorities["config-inited"] < 500 < priorities["html-page-context"]
    # the MathJax 2 bridge loads before MathJax (added by Sphinx at the default priority)
    assert app.js == [("../vendor/mathjax2-bridge.js", 100)]


def _config(**kw):
    return types.SimpleNamespace(html_extra_path=[], html_context=None, mathjax_path=None,
                                 nb_ipywidgets_js=None, **kw)


def test_offline_assets_uses_vendored_copies_only_when_present(tmp_path):
    ext = _load("offline_assets")
    config = _config()
    ext._configure(_App(str(tmp_path)), config)        # nothing vendored: CDN defaults stay
    assert config.mathjax_path is None and config.nb_ipywidgets_js is None
    assert config.html_extra_path == [str(EXT / "extra")]
    assert config.html_context == {"default_mode": "auto"}

    manifest = tmp_path / "_vendor" / "vendor" / "manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"packages": {"mathjax": "3.2.2"}}))
    config = _config()
    config.html_context = {"default_mode": "dark"}
    ext._configure(_App(str(tmp_path)), config)
    assert config.mathjax_path == "../vendor/mathjax/es5/tex-mml-chtml.js"
    assert list(config.nb_ipywidgets_js) == ["../vendor/requirejs/require.js",
                                             "../vendor/require-paths.js",
                                             "../vendor/html-manager/dist/embed-amd.js"]
    assert config.html_extra_path == [str(EXT / "extra"), str(tmp_path / "_vendor")]
    assert config.html_context == {"default_mode": "dark"}  # the book's own choice wins


def test_offline_assets_drops_duplicate_scripts():
    ext = _load("offline_assets")

    def js(filename, **attributes):
        return types.SimpleNamespace(filename=filename, attributes=attributes)

    a, b = js("a.js"), js("", body="const X = 1")
    scripts = [a, b, js("a.js"), js("", body="const X = 1"), js("a.js", defer="defer")]
    context = {"script_files": scripts}
    ext._drop_duplicate_scripts(None, "index", "page.html", context, None)
    assert [(s.filename, s.attributes) for s in context["script_files"]] == [
        ("a.js", {}), ("", {"body": "const X = 1"}), ("a.js", {"defer": "defer"})]
    assert context["script_files"][0] is a and context["script_files"][1] is b


def test_vendor_js_is_current_only_for_the_exact_versions(tmp_path):
    vendor = _load("vendor_js")
    assert vendor.wanted() == {"mathjax": "3.2.2", "requirejs": "2.3.7",
                               "@jupyter-widgets/html-manager": "1.0.6"}
    assert not vendor.is_current(tmp_path)
    manifest = tmp_path / "vendor" / "manifest.json"
    manifest.parent.mkdir()
    manifest.write_text(json.dumps({"packages": {**vendor.wanted(), "mathjax": "3.2.1"}}))
    assert not vendor.is_current(tmp_path)
    manifest.write_text(json.dumps({"packages": vendor.wanted()}))
    assert vendor.is_current(tmp_path)


def test_vendor_js_main_reads_its_destination_and_never_fails(tmp_path, monkeypatch, capsys):
    vendor = _load("vendor_js")
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "manifest.json").write_text(
        json.dumps({"packages": vendor.wanted()}))
    assert vendor.main(["vendor_js.py", str(tmp_path)]) == 0
    assert "up to date" in capsys.readouterr().out
    fetched = []
    monkeypatch.setattr(vendor, "fetch", lambda dest: fetched.append(dest) or False)
    monkeypatch.chdir(tmp_path)
    assert vendor.main(["vendor_js.py"]) == 0                 # default _vendor, not up to date
    assert fetched == [pathlib.Path("_vendor")]


def test_vendor_js_without_npm_falls_back(tmp_path, monkeypatch, capsys):
    vendor = _load("vendor_js")
    monkeypatch.setattr(vendor.shutil, "which", lambda name: None)
    assert vendor.fetch(tmp_path) is False
    assert "npm not found" in capsys.readouterr().out
    assert not (tmp_path / "vendor").exists()


@pytest.mark.parametrize("name", ["offline_assets", "vendor_js", "static_explorers", "zmq_rearm"])
def test_every_extension_loads(name):
    assert _load(name).__doc__


# vendor_js.fetch against a stand-in `npm` on PATH: a Python script that answers `npm pack SPEC
# --silent --pack-destination DIR` the way npm does (a tarball of package/... in DIR, its file
# name on the last line of stdout, after a notice line), or fails with a long error message.
FAKE_NPM = '''#!{python}
import io, os, pathlib, sys, tarfile
spec, dest = sys.argv[2], pathlib.Path(sys.argv[sys.argv.index("--pack-destination") + 1])
with open(os.environ["FAKE_NPM_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_NPM_FAIL"):
    sys.stderr.write("Q" + "z" * 2000)
    sys.exit(1)
name, version = spec.rsplit("@", 1)
files = {{"mathjax": ["es5/tex-chtml.js", "es5/tex-chtml.js.map", "es5/input/tex.js", "ts/x.ts"],
         "requirejs": ["require.js", "bin/r.js"],
         "@jupyter-widgets/html-manager": ["dist/embed-amd.js", "dist/embed-amd.js.map",
                                           "lib/index.js"]}}[name]
tgz = dest / (name.replace("@", "").replace("/", "-") + "-" + version + ".tgz")
with tarfile.open(tgz, "w:gz") as tar:
    for f in files:
        data = (spec + ":" + f).encode()
        info = tarfile.TarInfo("package/" + f)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
print("npm notice packing " + spec)
print(tgz.name)
'''


@pytest.fixture
def fake_npm(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM.format(python=sys.executable))
    npm.chmod(0o755)
    log = tmp_path / "npm.log"
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    return log


def test_vendor_js_fetch_unpacks_exactly_the_kept_files(tmp_path, fake_npm, monkeypatch, capsys):
    vendor = _load("vendor_js")
    timeouts = []
    real_run = vendor.subprocess.run

    def run(*args, **kwargs):
        timeouts.append(kwargs.get("timeout"))
        return real_run(*args, **kwargs)

    monkeypatch.setattr(vendor.subprocess, "run", run)
    dest = tmp_path / "_vendor"
    assert vendor.fetch(dest) is True
    vendor_dir = dest / "vendor"
    got = sorted(str(f.relative_to(vendor_dir)) for f in vendor_dir.rglob("*") if f.is_file())
    # What PACKAGES keeps, without source maps, and nothing else; the manifest names the versions.
    assert got == ["html-manager/dist/embed-amd.js", "manifest.json",
                   "mathjax/es5/input/tex.js", "mathjax/es5/tex-chtml.js",
                   "requirejs/require.js"]
    assert (vendor_dir / "mathjax" / "es5" / "tex-chtml.js").read_text() == \
        "mathjax@3.2.2:es5/tex-chtml.js"
    assert vendor.is_current(dest)
    assert not (dest / "vendor.partial").exists()
    calls = [line.rsplit(" ", 1) for line in fake_npm.read_text().splitlines()]
    assert [c[0] for c in calls] == [f"pack {n}@{v} --silent --pack-destination"
                                     for n, v in vendor.wanted().items()]
    assert len({c[1] for c in calls}) == 1             # one temporary folder for the tarballs
    assert timeouts == [600] * 3                       # the docstring's 10 minutes per package
    out = capsys.readouterr().out
    assert f"vendor_js: mathjax@3.2.2 -> {vendor_dir / 'mathjax'}" in out


def test_vendor_js_fetch_failure_reports_and_leaves_nothing(tmp_path, fake_npm, monkeypatch,
                                                           capsys):
    vendor = _load("vendor_js")
    monkeypatch.setenv("FAKE_NPM_FAIL", "1")
    dest = tmp_path / "_vendor"
    assert vendor.fetch(dest) is False
    out = capsys.readouterr().out
    assert "'npm pack mathjax@3.2.2' failed; falling back to public CDNs" in out
    # The last 2000 characters of npm's error output, not one more.
    assert out.count("z") == 2000 and "Q" not in out
    assert not (dest / "vendor.partial").exists() and not (dest / "vendor").exists()
    assert len(fake_npm.read_text().splitlines()) == 1  # it stops at the first failure
