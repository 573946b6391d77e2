"""Interactive explorers (ipywidgets), one module per chapter.

Each explorer is a function that returns a widget; its initial values draw a meaningful figure, so
the executed HTML book shows a useful snapshot and Jupyter users can move the controls.
"""
