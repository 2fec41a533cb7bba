"""Two kinds of randomness, kept apart: public randomness for teaching, private randomness for DP.

A DP guarantee holds only against someone who cannot predict the mechanism's coins. If the
Gaussian noise of a DP-SGD step comes from ``Generator.from_seed(0)``, anyone who knows the
seed regenerates the noise, subtracts it and reads the exact clipped gradient sum: ε = ∞,
whatever the accountant prints. The same holds for the *sampling* that amplification by
sampling relies on (Abadi et al. 2016, §3.1; Mironov, Talwar & Zhang 2019): the accountant's
``SampledGaussian`` assumes nobody knows which examples (or clients) were in a lot. So:

* ``seed`` — public, reproducible: the data split, the model's initial weights, non-private
  shuffling. Seeding it is good teaching practice and costs no privacy.
* ``noise_seed`` — the *privacy* coins: the DP noise and the Poisson/without-replacement
  sampling of lots and clients in every private mode. Default ``None``: 128 bits of fresh OS
  entropy (``secrets``) per run. Passing an integer makes the run reproducible — for teaching
  only: the result then says so (:func:`noise_seed_notice`), and it is not private against
  anyone who knows that integer.

Nothing here reads or writes a global RNG (Python's ``random``, ``np.random.seed``,
``tf.random.set_seed``, ``keras.utils.set_random_seed``): seeding those changes no private run.

Streams are derived from the run's root with ``numpy.random.SeedSequence`` (O'Neill 2015, PCG;
NumPy's "parallel random number generation" guide): ``derive(root, *path)`` gives an
independent 128-bit integer for each (round, client, purpose) path. PCG64/Philox are not
cryptographic generators and the floating-point samplers are not the exact ones DP proofs
assume (Mironov 2012, "On significance of the least significant bits for differential
privacy"): see ``docs/privacy.md``, "what is not covered".
"""
from __future__ import annotations

import secrets

import numpy as np

from fldp_teach._validation import check_non_negative_int, check_seed

__all__ = [
    "ROOT_BITS",
    "noise_root",
    "derive",
    "noise_seed_notice",
    "tf_generator",
    "is_reproducible",
]

#: bits of OS entropy behind a private run (a 128-bit root cannot be searched by brute force)
ROOT_BITS = 128


def noise_root(noise_seed: int | None = None) -> int:
    """The root of a run's privacy randomness: ``noise_seed`` itself when given (teaching,
    reproducible), else a fresh ``ROOT_BITS``-bit integer from the OS (``secrets.randbits``,
    unaffected by any global seed)."""
    if noise_seed is None:
        return secrets.randbits(ROOT_BITS)
    return check_non_negative_int("noise_seed", noise_seed)


def derive(root: int, *path: int) -> int:
    """An independent 128-bit integer for the stream named ``path`` (e.g. round, client,
    purpose) under ``root``: ``SeedSequence([root, *path]).generate_state(4)`` joined into one
    integer. Use it as the seed of ``np.random.default_rng`` or :func:`tf_generator`."""
    words = np.random.SeedSequence([int(root), *(int(p) for p in path)]).generate_state(4)
    return int.from_bytes(words.astype("<u4").tobytes(), "little")


def is_reproducible(noise_seed) -> bool:
    """True when the privacy coins were fixed by the caller (``noise_seed`` not None)."""
    noise_seed = check_seed("noise_seed", noise_seed)
    return noise_seed is not None


def noise_seed_notice(noise_seed) -> str | None:
    """The one-line warning printed by the CLI, the demo and the notebooks when a run's DP noise
    (and private sampling) was seeded; None for a private run."""
    noise_seed = check_seed("noise_seed", noise_seed)
    if noise_seed is None:
        return None
    return (f"note: noise_seed={noise_seed} fixes the DP noise and sampling for teaching; "
            "the result is reproducible and NOT private against anyone who knows the seed.")


def tf_generator(seed_int: int):
    """A ``tf.random.Generator`` (Philox) whose 192-bit state comes from ``seed_int`` (e.g.
    ``derive(root, ...)``) hashed by ``SeedSequence``: all 128 bits of a derived seed enter the
    state, so neighbouring seeds give unrelated streams."""
    seed_int = check_non_negative_int("seed_int", seed_int)
    import tensorflow as tf

    words = np.random.SeedSequence(int(seed_int)).generate_state(3, dtype=np.uint64)
    state = words.view(np.int64)
    return tf.random.Generator.from_state(tf.constant(state, tf.int64), alg="philox")
