"""Pure plot functions for the course (layer 4): each takes parameters and an optional
matplotlib ``ax``, returns the Figure, and is unit-tested without a browser. One module per
topic (``plots/<topic>.py``); the widgets in ``fldp_teach.widgets`` wrap these with sliders.

Import from the topic module, e.g. ``from fldp_teach.plots.laplace import plot_laplace``.
"""
