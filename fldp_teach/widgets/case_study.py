"""The slider of notebook 12: a two-phase noise schedule and what the accountant charges for it
(a thin wrapper over ``fldp_teach.plots.case_study.plot_noise_schedule``; accounting only, no
training, so it redraws in a fraction of a second)."""
from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
from IPython.display import display

from fldp_teach.plots.case_study import plot_noise_schedule, schedule_epsilons

__all__ = ["noise_schedule_explorer", "describe_schedule"]


def describe_schedule(z_start: float, z_end: float, switch: int, rounds: int) -> str:
    """The schedule in words, e.g. "z = 4 for rounds 1–3, then 1.5 for rounds 4–15"; one phase
    when the switch is at 0 or at the last round ("z = 4 in all 15 rounds"); singular "round"."""
    def span(first, last):
        return f"round {first}" if first == last else f"rounds {first}–{last}"

    if switch <= 0 or z_start == z_end and switch < rounds:
        return f"z = {z_end:g} in all {rounds} rounds" if rounds > 1 else f"z = {z_end:g} in the one round"
    if switch >= rounds:
        return f"z = {z_start:g} in all {rounds} rounds" if rounds > 1 else f"z = {z_start:g} in the one round"
    return f"z = {z_start:g} for {span(1, switch)}, then {z_end:g} for {span(switch + 1, rounds)}"


def noise_schedule_explorer(*, num_examples: Sequence[int], batch_size: int, rounds: int = 15,
                            local_epochs: int = 1, delta: float = 1e-5, start: float = 4.0, end: float = 1.5,
                            switch: int | None = None) -> widgets.VBox:
    """"z start", "z end" and "switch" sliders: z = ``start`` for rounds 1..switch, ``end``
    after; the constant comparison is the mean z of the schedule. Prints ``ε`` (schedule),
    ``ε constant`` and draws :func:`plot_noise_schedule`."""
    z1 = widgets.FloatSlider(value=start, min=0.5, max=8.0, step=0.1, description="z start",
                             continuous_update=False, readout_format=".1f")
    z2 = widgets.FloatSlider(value=end, min=0.5, max=8.0, step=0.1, description="z end",
                             continuous_update=False, readout_format=".1f")
    sw = widgets.IntSlider(value=rounds // 2 if switch is None else switch, min=0, max=rounds, step=1,
                           description="switch", continuous_update=False)
    kw = dict(num_examples=num_examples, batch_size=batch_size, local_epochs=local_epochs, delta=delta)

    def show(z_start, z_end, switch):
        schedule = [z_start] * switch + [z_end] * (rounds - switch)
        mean_z = sum(schedule) / rounds
        print(f"ε = {schedule_epsilons(schedule, **kw)[-1]:.3f}   (schedule: {describe_schedule(z_start, z_end, switch, rounds)})")
        print(f"ε constant = {schedule_epsilons([mean_z] * rounds, **kw)[-1]:.3f}   (constant z = {mean_z:.3f}, "
              f"the schedule's mean)")
        display(plot_noise_schedule(schedule, constant=mean_z, **kw))

    out = widgets.interactive_output(show, {"z_start": z1, "z_end": z2, "switch": sw})
    return widgets.VBox([widgets.HBox([z1, z2, sw]), out])
