"""Interactive explorers (ipywidgets), one module per chapter.

Each explorer is a function that returns a widget made by :func:`aichip.widgets.static.explorer`:
live in Jupyter, precomputed over a small grid of control values in the built HTML book, where it
still responds to its controls with no kernel (see that module). Its initial values draw a figure
the page has not already shown.
"""

# import the chapter's module explicitly: from aichip.widgets.roofline import roofline_explorer
__all__ = []
