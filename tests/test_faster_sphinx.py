"""_ext/faster_sphinx.py: pybtex's remembered plugin look-ups and the Chinese search language with
its Latin words in a set give what the code they speed up gives."""

from __future__ import annotations

import pathlib
import sys

import pybtex.plugin
import pytest
from sphinx.search.zh import SearchChinese

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
import faster_sphinx  # noqa: E402  (the Sphinx extension, loaded from _ext/ as the build loads it)

LOOK_UPS = [("pybtex.style.formatting", "plain"), ("pybtex.style.formatting", "unsrt"),
            ("pybtex.style.labels", "alpha"), ("pybtex.style.names", "lastfirst"),
            ("pybtex.style.sorting", "author_year_title"), ("pybtex.backends", "html")]


@pytest.fixture
def pybtex_as_installed(monkeypatch):
    """pybtex.plugin's functions as pybtex defines them, put back after the test."""
    for name in ("_load_entry_point", "register_plugin"):
        original = getattr(pybtex.plugin, name)
        while getattr(original, "__wrapped__", None) is not None:   # a remembered one: unwrap
            original = original.__wrapped__
        monkeypatch.setattr(pybtex.plugin, name, original)
    return pybtex.plugin


def test_remembered_look_ups_find_the_same_plugins_and_scan_once(pybtex_as_installed,
                                                                 monkeypatch):
    plugin = pybtex_as_installed
    found = [plugin.find_plugin(group, name) for group, name in LOOK_UPS]
    faster_sphinx.remember_plugins()
    faster_sphinx.remember_plugins()                      # idempotent: one layer of memory
    assert getattr(plugin._load_entry_point, "_remembered", False)
    scans = []
    entry_points = plugin.entry_points
    monkeypatch.setattr(plugin, "entry_points",
                        lambda **kw: scans.append(kw) or entry_points(**kw))
    for _ in range(3):
        assert [plugin.find_plugin(group, name) for group, name in LOOK_UPS] == found
    assert len(scans) == len(LOOK_UPS)                    # each scanned once, then remembered
    with pytest.raises(plugin.PluginNotFound, match="not found"):
        plugin.find_plugin("pybtex.style.formatting", "no-such-style")


def test_registering_a_plugin_forgets_the_remembered_look_ups(pybtex_as_installed, monkeypatch):
    plugin = pybtex_as_installed
    monkeypatch.setattr(plugin, "_RUNTIME_PLUGINS", {})
    faster_sphinx.remember_plugins()
    plain = plugin.find_plugin("pybtex.style.formatting", "plain")

    class Mine(plain):
        pass

    assert plugin.register_plugin("pybtex.style.formatting", "plain", Mine, force=True)
    assert plugin.find_plugin("pybtex.style.formatting", "plain") is Mine


TEXTS = ["脉动阵列 (systolic array) 的 PE 每个周期做一次 MAC; TPU v1 有 65536 个。",
         "The roofline: FLOP/byte, GEMM, HBM3e and NVLink 5; 带宽 bandwidth 与 compute 计算。",
         "ops is a short word; GPUs, NICs, RDMA, DCQCN and PFC; 全规约 all-reduce 和 NCCL。"]


def test_the_chinese_search_language_splits_and_stems_as_sphinx_does(monkeypatch):
    monkeypatch.setattr(SearchChinese, "latin_terms", [])    # Sphinx's class-wide list, empty
    sphinx_own, faster = SearchChinese({}), faster_sphinx.SearchChineseSet({})
    for text in TEXTS:                                         # page after page, as a build feeds
        words = sphinx_own.split(text)
        assert faster.split(text) == words
        assert [faster.stem(w) for w in words] == [sphinx_own.stem(w) for w in words]
    assert faster.latin_terms == set(SearchChinese.latin_terms)
    assert isinstance(faster.latin_terms, set)
    assert "ops" in faster.latin_terms and sphinx_own.stem("ops") == faster.stem("ops") == "ops"


def test_the_extension_registers_both(pybtex_as_installed):
    class App:
        languages = {}

        def add_search_language(self, cls):
            self.languages[cls.lang] = cls

    app = App()
    meta = faster_sphinx.setup(app)
    assert app.languages == {"zh": faster_sphinx.SearchChineseSet}
    assert meta["parallel_read_safe"]
    assert getattr(pybtex.plugin._load_entry_point, "_remembered", False)
