"""Thin ipywidgets wrappers (layer 4): each builds sliders and calls a pure plot function from
``fldp_teach.plots`` through ``ipywidgets.interactive_output``. No maths lives here.

Import from the topic module, e.g. ``from fldp_teach.widgets.laplace import laplace_explorer``.
"""
