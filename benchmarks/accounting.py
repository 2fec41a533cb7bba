"""Benchmark: how fast is our RDP accountant next to dp-accounting, in one process?

Times (median of repeats, warm caches) for DP-SGD with q = 256/60000, z = 1.1, T = 10⁴, δ = 1e-5:
  * ε for 10⁴ steps: ours (``dp_sgd_epsilon``) vs dp-accounting's ``RdpAccountant`` on the same
    orders (our ``DEFAULT_ORDERS``, then dp-accounting's own default orders);
  * calibrating z for ε = 3: ours (``calibrate_noise_multiplier``, tolerance 1e-3 relative) vs
    ``dp_accounting.calibrate_dp_mechanism`` with its ``RdpAccountant`` (tolerance 1e-3);
  * dp-accounting's PLD accountant, for information (a tighter ε, not an RDP bound).
Targets for live sliders: ε < 5 ms and calibration < 50 ms, both faster than dp-accounting.

Run: ``.venv/bin/python benchmarks/accounting.py`` (about a minute).
"""
from __future__ import annotations

import logging
import statistics
import time

import numpy as np
from dp_accounting import dp_event, mechanism_calibration
from dp_accounting.pld import PLDAccountant
from dp_accounting.rdp import RdpAccountant as RefRdpAccountant
from dp_accounting.rdp.rdp_privacy_accountant import DEFAULT_RDP_ORDERS

from fldp_teach.accounting import (
    DEFAULT_ORDERS,
    RdpAccountant,
    SampledGaussian,
    calibrate_noise_multiplier,
    dp_sgd_epsilon,
)

Q, Z, STEPS, DELTA, TARGET = 256 / 60000, 1.1, 10_000, 1e-5, 3.0


def median_ms(fn, repeats):
    fn()  # warm up (caches, imports)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def ref_event(z):
    return dp_event.SelfComposedDpEvent(
        dp_event.PoissonSampledDpEvent(Q, dp_event.GaussianDpEvent(z)), STEPS)


def ref_rdp_epsilon(orders, z=Z):
    acc = RefRdpAccountant(orders=list(orders))
    acc.compose(ref_event(z))
    return acc.get_epsilon(DELTA)


def ours_epsilon(orders, z=Z):
    acc = RdpAccountant(orders=orders)
    return acc.compose(SampledGaussian(noise_multiplier=z, sampling_rate=Q, steps=STEPS)).epsilon(delta=DELTA)


def ref_calibrate(orders):
    return mechanism_calibration.calibrate_dp_mechanism(
        lambda: RefRdpAccountant(orders=list(orders)), ref_event, TARGET, DELTA,
        mechanism_calibration.LowerEndpointAndGuess(0.1, 1.0), tol=1e-3)


def ours_calibrate(orders):
    return calibrate_noise_multiplier(target_epsilon=TARGET, sampling_rate=Q, steps=STEPS,
                                      delta=DELTA, orders=np.asarray(orders, dtype=float))


def pld_epsilon():
    acc = PLDAccountant(value_discretization_interval=1e-4)
    acc.compose(ref_event(Z))
    return acc.get_epsilon(DELTA)


def main():
    logging.getLogger().setLevel(logging.ERROR)  # dp-accounting warns on non-converged series
    rows = []

    def row(task, ours_fn, ref_fn, ours_repeats, ref_repeats, ref_name):
        ours_ms, ref_ms = median_ms(ours_fn, ours_repeats), median_ms(ref_fn, ref_repeats)
        rows.append((task, ours_ms, ref_name, ref_ms, ref_ms / ours_ms, ours_fn(), ref_fn()))

    row(f"epsilon, T=1e4, our {DEFAULT_ORDERS.size} orders",
        lambda: dp_sgd_epsilon(sampling_rate=Q, noise_multiplier=Z, steps=STEPS, delta=DELTA),
        lambda: ref_rdp_epsilon(DEFAULT_ORDERS), 51, 3, "dp-acc RDP")
    row(f"epsilon, T=1e4, dp-acc's {len(DEFAULT_RDP_ORDERS)} orders",
        lambda: ours_epsilon(np.array(DEFAULT_RDP_ORDERS)),
        lambda: ref_rdp_epsilon(DEFAULT_RDP_ORDERS), 51, 5, "dp-acc RDP")
    row("calibrate z for eps=3, our orders", lambda: ours_calibrate(DEFAULT_ORDERS),
        lambda: ref_calibrate(DEFAULT_ORDERS), 11, 1, "dp-acc RDP")
    row("calibrate z for eps=3, dp-acc's orders", lambda: ours_calibrate(DEFAULT_RDP_ORDERS),
        lambda: ref_calibrate(DEFAULT_RDP_ORDERS), 11, 3, "dp-acc RDP")
    row("epsilon, T=1e4 (PLD, for information)",
        lambda: dp_sgd_epsilon(sampling_rate=Q, noise_multiplier=Z, steps=STEPS, delta=DELTA),
        pld_epsilon, 51, 3, "dp-acc PLD 1e-4")

    print(f"DP-SGD q={Q:.6g} z={Z} T={STEPS} delta={DELTA:g}; median wall time, warm caches")
    header = f"{'task':42s} {'ours ms':>9s}  {'reference':16s} {'ref ms':>9s} {'ref/ours':>9s}  {'ours':>8s} {'ref':>8s}"
    print(header)
    print("-" * len(header))
    for task, ours_ms, ref_name, ref_ms, ratio, ours_val, ref_val in rows:
        print(f"{task:42s} {ours_ms:9.2f}  {ref_name:16s} {ref_ms:9.2f} {ratio:9.1f}x  {ours_val:8.4f} {ref_val:8.4f}")
    print("values: epsilon rows give epsilon; calibration rows give the noise multiplier z.")


if __name__ == "__main__":
    main()
