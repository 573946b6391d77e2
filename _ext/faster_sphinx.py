"""Sphinx extension: two slow paths of the book's Sphinx packages, made fast with the same output.

Found by profiling a full build of the Chinese edition (cProfile of ``jupyter-book build --all``,
about 50 s, execution off):

- **pybtex plugin look-ups.** pybtex finds a plugin (a citation style, and the name, label and
  sorting styles a style builds) by scanning the entry points of every installed package, on
  every call. sphinxcontrib-bibtex builds a style for each footnote citation (``{footcite}``, some
  300 per edition), which cost about 15 s of the build in those scans. :func:`remember_plugins`
  remembers each look-up's class until a plugin is registered.
- **The Chinese search index.** Sphinx 7.4's ``SearchChinese`` checks every word it stems against a
  *list* of each Latin word seen so far (class-wide, appended for every page), so the index took
  time quadratic in the book's length: 12 s. :class:`SearchChineseSet` keeps those words in a set,
  which answers the same membership question.

``tests/test_faster_sphinx.py`` checks that each gives the same result as the code it speeds up.
"""

from __future__ import annotations

import functools

from sphinx.search.zh import SearchChinese


def remember_plugins() -> None:
    """Make pybtex remember its plugin look-ups (``pybtex.plugin._load_entry_point``), forgetting
    them whenever a plugin is registered (``pybtex.plugin.register_plugin``). Idempotent."""
    import pybtex.plugin as plugin

    if getattr(plugin._load_entry_point, "_remembered", False):
        return
    look_up = functools.lru_cache(maxsize=None)(plugin._load_entry_point)
    register = plugin.register_plugin

    @functools.wraps(plugin._load_entry_point)
    def load_entry_point(group, name, use_aliases=False):
        return look_up(group, name, use_aliases)

    @functools.wraps(register)
    def register_plugin(*args, **kwargs):
        look_up.cache_clear()
        return register(*args, **kwargs)

    load_entry_point._remembered = True
    plugin._load_entry_point = load_entry_point
    plugin.register_plugin = register_plugin


class _Words(set):
    """A set that also takes list's ``extend``, the one call ``SearchChinese.split`` makes."""

    def extend(self, words) -> None:
        self.update(words)


class SearchChineseSet(SearchChinese):
    """Sphinx's Chinese search language with its Latin words in a set of its own, not a list
    shared by every instance."""

    def init(self, options: dict[str, str]) -> None:
        super().init(options)
        self.latin_terms = _Words()


def setup(app):
    remember_plugins()
    app.add_search_language(SearchChineseSet)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
