"""Fast paths for local training: all sampled clients of a round in one TensorFlow call.

The reference :func:`fldp_teach.fedavg.client_update` trains one client at a time on a Keras
model — the code students read. Calling it (or Keras ``fit``) once per client costs
100–500 ms of Python/Keras overhead per client per round, which dominates for small models.
Two fast paths compute *the same thing* (same batches from :func:`fldp_teach.fedavg.local_batches`,
same SGD steps; a test checks the weights agree to ~1e-5):

* :class:`StackedDenseTrainer` — for models made only of ``Dense`` layers (logistic regression,
  MLP). The m client models are stacked along a leading *client axis*: a kernel of shape
  (d, h) becomes (m, d, h) and a layer is ``einsum('mbi,mio->mbo')``. The loss is the sum of the
  m clients' losses; since client c's loss depends only on client c's weights, its gradient
  with respect to the stacked weights is exactly each client's own gradient. One ``tf.function``
  runs every local step of every client. With record-level DP-SGD each example also gets its
  own copy of the weights (m, B, d, h), so ``tape.gradient`` returns per-example gradients
  (Abadi et al. 2016, Alg. 1: clip each to C, sum, add N(0, z²C²), divide by the expected lot
  size b_k), on the same Poisson lots and with the same noise
  (:func:`fldp_teach.fedavg.dp_sgd_noise`) as the reference.
* :class:`OneFunctionRound` — for any Keras model (CNNs), non-private training only: the loop
  over clients and over local steps runs inside one ``tf.function`` (``tf.range`` loops),
  assigning the global weights to the model's variables at the start of each client. Stacking
  convolutions per client would fall back to a slow loop, so here a graph loop is the faster
  shape.

Batches of unequal size are padded to a common shape with a 0/1 ``mask``; the per-client loss
is Σ mask·ℓ / Σ mask, i.e. the mean over the real examples of that batch, exactly as the
reference computes it. Clients with fewer steps than the others are padded with steps whose
``active`` flag is 0: a padding step is no step at all. This is NOT the same as an empty
Poisson lot (``active`` = 1, no real example): a DP-SGD client still takes that step, adding
noise to a zero sum, because skipping it would reveal that the lot was empty.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf
import keras

from fldp_teach.fedavg import dp_sgd_noise, dp_sgd_noise_key, local_batches

__all__ = ["batch_plan", "dense_activations", "StackedDenseTrainer", "OneFunctionRound"]


def batch_plan(sizes: Sequence[int], offsets: Sequence[int], *, batch_size: int | None,
               local_epochs: int, seeds: Sequence[int | None],
               sampling: str = "shuffle") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(idx, mask, active)`` for m clients whose examples sit at ``offsets[c] : offsets[c] +
    sizes[c]`` of one concatenated array. Row (c, s) of ``idx`` (m, steps, width) holds the
    global indices of client c's s-th lot from ``local_batches(sizes[c], seed=seeds[c],
    sampling=sampling)``, ``mask`` (same shape) marks the real entries, and ``active``
    (m, steps) is 1 where client c really has an s-th step (possibly an empty Poisson lot) and
    0 on the padding steps of a client with fewer steps than the others."""
    from fldp_teach._validation import check_numbers, check_seed

    sizes = check_numbers("sizes", sizes, ndim=1, allow_empty=False, integer=True, low=1).astype(np.int64)
    offsets = check_numbers("offsets", offsets, ndim=1, integer=True, non_negative=True).astype(np.int64)
    if seeds is None or isinstance(seeds, (str, bytes)) or np.ndim(seeds) != 1:
        raise ValueError(f"seeds must be a sequence with one seed per client, got {seeds!r}")
    seeds = [check_seed(f"seeds[{c}]", s) for c, s in enumerate(seeds)]
    if not len(sizes) == len(offsets) == len(seeds):
        raise ValueError(f"sizes, offsets and seeds must have one entry per client, got "
                         f"{len(sizes)}, {len(offsets)} and {len(seeds)}")
    if offsets.size and int(offsets.max()) + int(sizes.max()) >= 2**31:
        raise ValueError(f"offsets + sizes must stay below 2**31 (int32 indices), got offset {int(offsets.max())} "
                         f"and size {int(sizes.max())}")
    try:
        per_client = [local_batches(int(n), batch_size=batch_size, local_epochs=local_epochs, seed=s,
                                    sampling=sampling) for n, s in zip(sizes, seeds)]
    except ValueError as err:
        raise (ValueError(f"sizes: {err}") if "num_examples" in str(err) else err) from None
    steps = max(len(b) for b in per_client)
    width = max(1, max(len(batch) for b in per_client for batch in b))
    idx = np.zeros((len(sizes), steps, width), dtype=np.int32)
    mask = np.zeros((len(sizes), steps, width), dtype=np.float32)
    active = np.zeros((len(sizes), steps), dtype=np.float32)
    for c, batches in enumerate(per_client):
        active[c, : len(batches)] = 1.0
        for s, batch in enumerate(batches):
            idx[c, s, : len(batch)] = offsets[c] + batch
            mask[c, s, : len(batch)] = 1.0
    return idx, mask, active


def dense_activations(model) -> list | None:
    """The activation of each layer if ``model`` is a stack of ``Dense`` layers with biases
    (weights ordered kernel, bias, kernel, bias, ...), else None."""
    layers = list(model.layers)
    if not layers or not all(isinstance(l, keras.layers.Dense) and l.use_bias for l in layers):
        return None
    return [l.activation for l in layers]


def _masked_mean_ce(labels, logits, mask):
    """Σ mask·ℓ / max(Σ mask, 1) over the last (batch) axis; ℓ = softmax cross-entropy."""
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_sum(ce * mask, axis=-1) / tf.maximum(tf.reduce_sum(mask, axis=-1), 1.0)


class StackedDenseTrainer:
    """Train m dense clients at once with weights stacked along a client axis (see module doc).

    ``trainer(global_weights, x, y, idx, mask, active, learning_rate=..., clip_norm=None,
    noise_multiplier=0.0, denominators=None, seeds=None)`` (``idx, mask, active`` from
    :func:`batch_plan`) returns the updates Δθ as a list of arrays of shape
    (m, *weight_shape). ``clip_norm`` not None turns the local steps into DP-SGD; then
    ``denominators`` are the clients' expected lot sizes b_c
    (:func:`fldp_teach.fedavg.expected_lot_size`) and ``seeds`` their seeds (the reference's
    ``client_update(seed=...)``: same seeds, same noise).
    """

    def __init__(self, activations: Sequence):
        self.activations = list(activations)
        self._sgd = tf.function(self._train, reduce_retracing=True)

    def _forward(self, weights, x, per_example: bool):
        pattern = "mbi,mbio->mbo" if per_example else "mbi,mio->mbo"
        a = x
        for layer, act in enumerate(self.activations):
            kernel, bias = weights[2 * layer], weights[2 * layer + 1]
            bias = bias if per_example else bias[:, None, :]
            a = act(tf.einsum(pattern, a, kernel) + bias)
        return a

    def _train(self, weights, x, y, idx, mask, active, learning_rate, clip_norm, noise_stddev,
               denominators, keys, dp):
        start = [tf.identity(w) for w in weights]
        w = list(weights)
        steps = tf.shape(idx)[1]
        for s in tf.range(steps):
            xb, yb, mb = tf.gather(x, idx[:, s]), tf.gather(y, idx[:, s]), mask[:, s]
            if not dp:
                with tf.GradientTape() as tape:
                    tape.watch(w)
                    loss = tf.reduce_sum(_masked_mean_ce(yb, self._forward(w, xb, False), mb))
                grads = tape.gradient(loss, w)
            else:
                grads = self._dp_sgd_grads(w, xb, yb, mb, clip_norm, noise_stddev, denominators,
                                           keys, s)
            # active = 0: a padding step, no step at all; active = 1 (even for an empty lot): a step
            w = [wi - learning_rate * _per_client(active[:, s], g) * g for wi, g in zip(w, grads)]
        return [wi - w0 for wi, w0 in zip(w, start)]

    def _dp_sgd_grads(self, w, xb, yb, mb, clip_norm, noise_stddev, denominators, keys, step):
        """Per-example gradients (weights copied along the batch axis), clip to C, sum, add
        N(0, (zC)²) from :func:`fldp_teach.fedavg.dp_sgd_noise` (client c's key, this step,
        tensor j), divide by the expected lot size b_c (Abadi et al. 2016, Alg. 1). An empty lot
        gives a zero sum and still gets the noise."""
        batch = tf.shape(xb)[1]
        tiled = [tf.repeat(wi[:, None], batch, axis=1) for wi in w]
        with tf.GradientTape() as tape:
            tape.watch(tiled)
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=yb, logits=self._forward(tiled, xb, True))
            total = tf.reduce_sum(ce * mb)
        g = tape.gradient(total, tiled)  # per-example gradients, (m, B, ...); 0 on padding
        sq = tf.add_n([tf.reduce_sum(tf.reshape(gi, [tf.shape(gi)[0], batch, -1]) ** 2, axis=-1) for gi in g])
        scale = 1.0 / tf.maximum(1.0, tf.sqrt(sq) / clip_norm)  # (m, B)
        out = []
        for j, gi in enumerate(g):
            shape = [tf.shape(gi)[0], batch] + [1] * (len(gi.shape) - 2)
            summed = tf.reduce_sum(gi * tf.reshape(scale, shape), axis=1)
            noise = tf.map_fn(
                lambda key, j=j, summed=summed: dp_sgd_noise(tf.shape(summed)[1:], stddev=noise_stddev,
                                                             key=key, step=step, tensor=j),
                keys, fn_output_signature=tf.float32)
            out.append((summed + noise) / _per_client(denominators, summed))
        return out

    def __call__(self, global_weights, x, y, idx, mask, active, *, learning_rate, clip_norm=None,
                 noise_multiplier=0.0, denominators=None, seeds=None):
        m = idx.shape[0]
        stacked = [tf.constant(np.broadcast_to(np.asarray(w, np.float32), (m,) + np.shape(w))) for w in global_weights]
        dp = clip_norm is not None
        c = float(clip_norm) if dp else 1.0
        if dp and (denominators is None or seeds is None or len(denominators) != m or len(seeds) != m):
            raise ValueError(f"DP-SGD needs one denominator and one seed per client (m = {m}), got "
                             f"denominators={denominators!r}, seeds={seeds!r}")
        denominators = np.ones(m) if denominators is None else np.asarray(denominators, np.float64)
        keys = np.stack([dp_sgd_noise_key(s) for s in (seeds if seeds is not None else [0] * m)])
        out = self._sgd(stacked, tf.constant(x, tf.float32), tf.constant(y, tf.int32), tf.constant(idx),
                        tf.constant(mask), tf.constant(active, tf.float32),
                        tf.constant(learning_rate, tf.float32), tf.constant(c, tf.float32),
                        tf.constant(noise_multiplier * c, tf.float32),
                        tf.constant(denominators, tf.float32), tf.constant(keys, tf.int64), dp)
        return [o.numpy() for o in out]


def _per_client(values, like):
    """A per-client vector (m,) reshaped to broadcast against ``like`` (m, ...)."""
    return tf.reshape(values, [-1] + [1] * (len(like.shape) - 1))


class OneFunctionRound:
    """All clients of a round in one ``tf.function`` on one Keras model (see module doc).

    ``runner(global_weights, x, y, idx, mask, learning_rate=...)`` returns the updates Δθ as a
    list of arrays of shape (m, *weight_shape).
    """

    def __init__(self, model):
        if len(model.weights) != len(model.trainable_variables):
            raise ValueError("OneFunctionRound needs a model whose weights are all trainable "
                             f"(no BatchNormalization), got {len(model.weights)} weights, "
                             f"{len(model.trainable_variables)} trainable")
        self.model = model
        self._round = tf.function(self._train_round, reduce_retracing=True)

    def _train_round(self, weights, x, y, idx, mask, learning_rate):
        variables = self.model.trainable_variables
        arrays = [tf.TensorArray(w.dtype, size=tf.shape(idx)[0]) for w in weights]
        for c in tf.range(tf.shape(idx)[0]):
            for v, w in zip(variables, weights):
                v.assign(w)
            for s in tf.range(tf.shape(idx)[1]):
                xb, yb, mb = tf.gather(x, idx[c, s]), tf.gather(y, idx[c, s]), mask[c, s]
                with tf.GradientTape() as tape:
                    loss = _masked_mean_ce(yb, self.model(xb, training=True), mb)
                grads = tape.gradient(loss, variables)
                for v, g in zip(variables, grads):
                    v.assign_sub(learning_rate * g)
            arrays = [a.write(c, v - w) for a, v, w in zip(arrays, variables, weights)]
        return [a.stack() for a in arrays]

    def __call__(self, global_weights, x, y, idx, mask, *, learning_rate):
        out = self._round([tf.constant(np.asarray(w, np.float32)) for w in global_weights],
                          tf.constant(x, tf.float32), tf.constant(y, tf.int32), tf.constant(idx),
                          tf.constant(mask), tf.constant(learning_rate, tf.float32))
        return [o.numpy() for o in out]
