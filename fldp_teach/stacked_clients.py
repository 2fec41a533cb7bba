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
  (Abadi et al. 2016, Alg. 1: clip each to C, sum, add N(0, z²C²), divide by |B|).
* :class:`OneFunctionRound` — for any Keras model (CNNs): the loop over clients and over local
  steps runs inside one ``tf.function`` (``tf.range`` loops), assigning the global weights to the
  model's variables at the start of each client. Stacking convolutions per client would fall
  back to a slow loop, so here a graph loop is the faster shape.

Batches of unequal size are padded to a common shape with a 0/1 mask; the per-client loss is
Σ mask·ℓ / Σ mask, i.e. the mean over the real examples of that batch, exactly as the
reference computes it. A padded step with no real example leaves the weights unchanged.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf
import keras

from fldp_teach.fedavg import local_batches

__all__ = ["batch_plan", "dense_activations", "StackedDenseTrainer", "OneFunctionRound"]


def batch_plan(sizes: Sequence[int], offsets: Sequence[int], *, batch_size: int | None,
               local_epochs: int, seeds: Sequence[int | None]) -> tuple[np.ndarray, np.ndarray]:
    """Index and mask arrays of shape (m, steps, B) for m clients whose examples sit at
    ``offsets[c] : offsets[c] + sizes[c]`` of one concatenated array. Row (c, s) holds the
    global indices of client c's s-th batch from ``local_batches(sizes[c], seed=seeds[c])``."""
    per_client = [local_batches(n, batch_size=batch_size, local_epochs=local_epochs, seed=s)
                  for n, s in zip(sizes, seeds)]
    steps = max(len(b) for b in per_client)
    width = max(len(batch) for b in per_client for batch in b)
    idx = np.zeros((len(sizes), steps, width), dtype=np.int32)
    mask = np.zeros((len(sizes), steps, width), dtype=np.float32)
    for c, batches in enumerate(per_client):
        for s, batch in enumerate(batches):
            idx[c, s, : len(batch)] = offsets[c] + batch
            mask[c, s, : len(batch)] = 1.0
    return idx, mask


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

    ``trainer(global_weights, x, y, idx, mask, learning_rate=..., clip_norm=None,
    noise_multiplier=0.0, seed=0)`` returns the updates Δθ as a list of arrays of shape
    (m, *weight_shape). ``clip_norm`` not None turns the local steps into DP-SGD.
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

    def _train(self, weights, x, y, idx, mask, learning_rate, clip_norm, noise_stddev, seed, dp):
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
                grads = self._dp_sgd_grads(w, xb, yb, mb, clip_norm, noise_stddev,
                                           tf.random.experimental.stateless_fold_in(seed, s))
            w = [wi - learning_rate * g for wi, g in zip(w, grads)]
        return [wi - w0 for wi, w0 in zip(w, start)]

    def _dp_sgd_grads(self, w, xb, yb, mb, clip_norm, noise_stddev, seed):
        """Per-example gradients (weights copied along the batch axis), clip to C, sum, add
        N(0, (zC)²), divide by the real batch size (Abadi et al. 2016, Alg. 1)."""
        batch = tf.shape(xb)[1]
        tiled = [tf.repeat(wi[:, None], batch, axis=1) for wi in w]
        with tf.GradientTape() as tape:
            tape.watch(tiled)
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=yb, logits=self._forward(tiled, xb, True))
            total = tf.reduce_sum(ce * mb)
        g = tape.gradient(total, tiled)  # per-example gradients, (m, B, ...)
        sq = tf.add_n([tf.reduce_sum(tf.reshape(gi, [tf.shape(gi)[0], batch, -1]) ** 2, axis=-1) for gi in g])
        scale = 1.0 / tf.maximum(1.0, tf.sqrt(sq) / clip_norm)  # (m, B)
        count = tf.reduce_sum(mb, axis=1)  # real examples per client in this batch
        out = []
        for j, gi in enumerate(g):
            shape = [tf.shape(gi)[0], batch] + [1] * (len(gi.shape) - 2)
            summed = tf.reduce_sum(gi * tf.reshape(scale, shape), axis=1)
            noise = noise_stddev * tf.random.stateless_normal(
                tf.shape(summed), seed=tf.random.experimental.stateless_fold_in(seed, j))
            shape_c = [-1] + [1] * (len(summed.shape) - 1)
            has = tf.reshape(tf.cast(count > 0, summed.dtype), shape_c)
            out.append(has * (summed + noise) / tf.reshape(tf.maximum(count, 1.0), shape_c))
        return out

    def __call__(self, global_weights, x, y, idx, mask, *, learning_rate, clip_norm=None,
                 noise_multiplier=0.0, seed=None):
        m = idx.shape[0]
        stacked = [tf.constant(np.broadcast_to(np.asarray(w, np.float32), (m,) + np.shape(w))) for w in global_weights]
        dp = clip_norm is not None
        c = float(clip_norm) if dp else 1.0
        out = self._sgd(stacked, tf.constant(x, tf.float32), tf.constant(y, tf.int32), tf.constant(idx),
                        tf.constant(mask), tf.constant(learning_rate, tf.float32), tf.constant(c, tf.float32),
                        tf.constant(noise_multiplier * c, tf.float32),
                        tf.constant([_seed_int(seed), 0], tf.int64), dp)
        return [o.numpy() for o in out]


def _seed_int(seed) -> int:
    """A stateless-RNG seed from ``seed``; None draws fresh entropy."""
    return int(np.random.default_rng(seed).integers(2**31)) if seed is None else int(seed) % 2**31


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
