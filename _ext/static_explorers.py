"""Sphinx extension: the book's explorers are built precomputed (static), not live.

Sets ``AICHIP_STATIC_EXPLORERS=1`` in the build's environment, unless it is already set, before any
chapter executes: the kernels myst-nb starts inherit it, and :func:`aichip.widgets.static.explorer`
then precomputes each explorer over its grid so that it responds in the HTML with no kernel.
JupyterLab and ``pytest --nbmake`` do not load this extension and stay live. Every book build sets
it, so jupyter-cache never serves a live execution to the HTML.
"""

from __future__ import annotations

import os

ENV = "AICHIP_STATIC_EXPLORERS"   # the name aichip.widgets.static.ENV reads


def setup(app):
    os.environ.setdefault(ENV, "1")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
