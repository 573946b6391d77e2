"""Sphinx extension: serve MathJax, RequireJS and the ipywidgets manager from the book itself.

``_ext/vendor_js.py`` (run by ``make book``) unpacks exact versions of those packages from npm into
``_vendor/vendor/``. When they are there, this extension

- adds ``_vendor`` and ``_ext/extra`` to ``html_extra_path`` (copied verbatim, never scanned for
  scripts the way ``_static`` is);
- points Sphinx's ``mathjax_path`` and myst-nb's ``nb_ipywidgets_js`` at the local copies;
- adds ``require-paths.js`` so the widget bundle finds its fonts, and ``mathjax2-bridge.js`` so
  widget labels typeset with MathJax 3.

When they are not there it says so and leaves the CDN defaults (the bridge is still added).
Paths given to ``add_js_file`` are relative to ``_static``, hence the ``../vendor/`` prefix.

It also mends two console errors the theme stack prints on every page, which the browser tests
(rightly) count as failures:

- sphinx-thebe and sphinx-togglebutton register their inline configuration scripts once per read
  phase, so a page can carry ``const THEBE_JS_URL = ...`` twice ("Identifier has already been
  declared"): duplicates are dropped from each page's scripts;

- pydata-sphinx-theme logs "Got invalid theme mode" on a first visit unless ``default_mode`` is set:
  it is set (through ``html_context``) to ``auto`` (follow the reader's system preference) unless
  the book sets it.
"""

from __future__ import annotations

import json
import pathlib

from sphinx.util import logging

logger = logging.getLogger(__name__)

VENDOR = "../vendor"
MATHJAX = f"{VENDOR}/mathjax/es5/tex-mml-chtml.js"
REQUIREJS = f"{VENDOR}/requirejs/require.js"
WIDGETS = f"{VENDOR}/html-manager/dist/embed-amd.js"


def _vendored(srcdir: pathlib.Path) -> dict | None:
    manifest = srcdir / "_vendor" / "vendor" / "manifest.json"
    try:
        return json.loads(manifest.read_text())["packages"]
    except (OSError, ValueError, KeyError):
        return None


def _configure(app, config):
    srcdir = pathlib.Path(app.srcdir)
    extra = [str(p) for p in config.html_extra_path]
    extra.append(str(pathlib.Path(__file__).parent / "extra"))
    packages = _vendored(srcdir)
    if packages is None:
        logger.info("offline_assets: _vendor/vendor/ is missing (run 'make book' or "
                    "'python _ext/vendor_js.py'); pages load MathJax, RequireJS and ipywidgets "
                    "from public CDNs")
    else:
        extra.append(str(srcdir / "_vendor"))
        config.mathjax_path = MATHJAX
        config.nb_ipywidgets_js = {
            REQUIREJS: {},
            f"{VENDOR}/require-paths.js": {},
            WIDGETS: {},
        }
        logger.info(f"offline_assets: serving vendored JavaScript {packages}")
    config.html_extra_path = extra
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")  # read by pydata-sphinx-theme's layout.html
    config.html_context = context


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # same file (or inline body) and attributes, whatever the priority it was added with
        key = (getattr(script, "filename", None) or "",  # inline scripts: None or ""
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    app.connect("config-inited", _configure, priority=100)
    # late, after the theme's and sphinx-thebe's own handlers have added their scripts
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    # Before MathJax and the widget manager: the bridge must exist when widgets render.
    app.add_js_file(f"{VENDOR}/mathjax2-bridge.js", priority=100)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
