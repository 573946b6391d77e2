"""The book-build helpers of ``_ext/`` that no other test loads: the offline-assets Sphinx
extension and the npm vendoring script (no network: npm is never run here)."""

from __future__ import annotations

import importlib.util
import json
import pathlib
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
