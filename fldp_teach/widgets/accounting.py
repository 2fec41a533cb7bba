"""Sliders of notebook 08: ε of DP-SGD by four accountants, live, plus the PLD reference on a
button (thin wrapper over ``fldp_teach.plots.accounting``)."""
from __future__ import annotations

import time

import ipywidgets as widgets
from IPython.display import display

from fldp_teach.accounting import dp_sgd_epsilon
from fldp_teach.plots.accounting import composition_epsilons, pld_epsilon, plot_composition

__all__ = ["accounting_explorer"]


def accounting_explorer(*, noise_multiplier: float = 1.1, sampling_rate: float = 0.004,
                        steps: int = 1000, delta: float = 1e-5) -> widgets.VBox:
    """Sliders "noise z", "q", "steps" (log scale), "δ" and a button "compute ε_PLD".

    Every slider change prints ``ε = …`` (improved RDP, exactly
    ``dp_sgd_epsilon(sampling_rate=q, noise_multiplier=z, steps=T, delta=δ)``), then
    ``ε_classic``, ``ε_advanced``, ``ε_naive`` and, once the button was pressed for these very
    values, ``ε_PLD`` (dp-accounting takes 0.05 s to seconds, so never on a slider tick), and
    draws :func:`~fldp_teach.plots.accounting.plot_composition`.

    The "steps" slider moves in steps of 10^0.1 and shows T rounded to an integer (".0f"); the
    value used is that rounded integer, so what the slider shows is what is computed. The "q"
    slider moves in steps of 0.001 and "δ" by decades, so the readouts are exact as well."""
    z = widgets.FloatSlider(value=noise_multiplier, min=0.3, max=5.0, step=0.05,
                            description="noise z", readout_format=".2f", continuous_update=False)
    q = widgets.FloatSlider(value=sampling_rate, min=0.001, max=1.0, step=0.001,
                            description="q", readout_format=".3f", continuous_update=False)
    t = widgets.FloatLogSlider(value=steps, base=10, min=0, max=5, step=0.1,
                               description="steps", readout_format=".0f",
                               continuous_update=False)
    d = widgets.FloatLogSlider(value=delta, base=10, min=-10, max=-3, step=1,
                               description="δ", readout_format=".0e", continuous_update=False)
    button = widgets.Button(description="compute ε_PLD", tooltip="dp-accounting's PLD accountant")
    pld_cache: dict = {}

    def values(noise_multiplier, sampling_rate, steps, delta):
        return (float(noise_multiplier), float(sampling_rate), int(round(steps)), float(delta))

    def show(noise_multiplier, sampling_rate, steps, delta):
        zv, qv, tv, dv = values(noise_multiplier, sampling_rate, steps, delta)
        eps = dp_sgd_epsilon(sampling_rate=qv, noise_multiplier=zv, steps=tv, delta=dv)
        others = composition_epsilons(noise_multiplier=zv, sampling_rate=qv, steps=tv, delta=dv)
        print(f"T = {tv:d} steps, q = {qv:.3f}, z = {zv:.2f}, δ = {dv:.0e}")
        print(f"ε = {eps:.3f}")
        print(f"ε_classic = {others['rdp_classic']:.3f}")
        print(f"ε_advanced = {others['advanced']:.3f}")
        print(f"ε_naive = {others['naive']:.3f}")
        pld = pld_cache.get((zv, qv, tv, dv))
        if isinstance(pld, tuple):
            print(f"ε_PLD = {pld[0]:.3f}   (dp-accounting, {pld[1]:.2f} s)")
        elif isinstance(pld, str):
            print(pld)
        else:
            print("ε_PLD: press 'compute ε_PLD' (the independent reference; not live: it can "
                  "take seconds)")
        display(plot_composition(zv, qv, tv, dv, pld=pld[0] if isinstance(pld, tuple) else None))

    controls = {"noise_multiplier": z, "sampling_rate": q, "steps": t, "delta": d}
    out = widgets.interactive_output(show, controls)

    def on_click(_button):
        key = values(z.value, q.value, t.value, d.value)
        if key not in pld_cache:
            start = time.perf_counter()
            try:
                pld_cache[key] = (pld_epsilon(noise_multiplier=key[0], sampling_rate=key[1],
                                              steps=key[2], delta=key[3]),
                                  time.perf_counter() - start)
            except ImportError as exc:
                pld_cache[key] = f"ε_PLD unavailable: {exc}"
        out.clear_output(wait=True)
        with out:
            show(*key)

    button.on_click(on_click)
    return widgets.VBox([widgets.HBox([z, q]), widgets.HBox([t, d, button]), out])
