"""Keras 3 models used throughout the course, each built from seeded initializers.

One convention for the whole library
------------------------------------
* Labels are **integers** ``0 .. num_classes - 1`` (``int32``), also for binary tasks, which
  use ``num_classes=2``.
* Every model outputs **logits** (no softmax layer) and is trained with
  ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``.
  Probabilities are ``softmax(logits)``; for a binary task the class-1 probability
  ``softmax(z)[1] = sigmoid(z_1 - z_0)`` is what AUC uses. A two-logit softmax is therefore
  the same model family as a single sigmoid unit (logistic regression), with one redundant
  direction in weight space.

Why these layers only
---------------------
DP-SGD (``fldp_teach.dpsgd``) needs the gradient of *each example separately*. The models use
only layers whose forward pass treats examples independently: ``Dense``, ``Conv2D``,
``MaxPooling2D``, ``Flatten``, ``Embedding``, ``GRU``/``LSTM``. There is **no
BatchNormalization**: it normalizes with statistics of the whole batch, so one example's
output (and gradient) depends on the others, which breaks per-example clipping and hence the
DP guarantee. (Use GroupNorm/LayerNorm if a normalization layer is ever needed.)

Explicit randomness
-------------------
Each layer gets its own initializer with a seed derived from the model ``seed`` and the
layer's position: ``numpy.random.SeedSequence([seed, layer_index])``. The same ``seed`` gives
bit-identical initial weights; nothing touches a global RNG (no ``keras.utils.set_random_seed``).
``seed=None`` draws fresh, non-reproducible weights.

Taught in the notebooks on local models (article §3.2 Step 2, "CNN or RNN") and on the
communication cost (claim C3: ``model_num_bytes``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import keras

from fldp_teach._validation import check_numbers, check_positive, check_positive_int

__all__ = [
    "logistic_regression",
    "mlp",
    "mcmahan_cnn",
    "small_cnn",
    "rnn_classifier",
    "compile_for_training",
    "count_parameters",
    "model_num_bytes",
]


# ---------------------------------------------------------------------------- seeding helpers
def _layer_seed(seed: int | None, layer_index: int) -> int | None:
    """A 32-bit seed for layer ``layer_index`` of a model built with ``seed``.

    ``SeedSequence([seed, i])`` hashes the pair, so different layers (and different model
    seeds) get well-separated streams; ``None`` stays ``None`` (fresh randomness)."""
    if seed is None:
        return None
    return int(np.random.SeedSequence([int(seed), layer_index]).generate_state(1)[0])


def _glorot(seed: int | None, layer_index: int) -> keras.initializers.Initializer:
    """Glorot/Xavier uniform (Glorot & Bengio 2010): U(-a, a), a = sqrt(6/(fan_in+fan_out))."""
    return keras.initializers.GlorotUniform(seed=_layer_seed(seed, layer_index))


def _orthogonal(seed: int | None, layer_index: int) -> keras.initializers.Initializer:
    """Orthogonal recurrent kernel (Saxe et al. 2014), the Keras default for GRU/LSTM."""
    # Offset the index so that the recurrent kernel never shares a stream with the input kernel.
    return keras.initializers.Orthogonal(seed=_layer_seed(seed, 10_000 + layer_index))


def _check_seed(seed) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int or None, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed!r}")
    return int(seed)


def _size(name: str, value) -> int:
    """A layer size: an integer in [1, 2**31 − 1] (Keras keeps shapes as int32)."""
    value = check_positive_int(name, value)
    if value >= 2**31:
        raise ValueError(f"{name} must be < 2**31 (a Keras dimension), got {value}")
    return value


def _check_num_classes(num_classes) -> int:
    num_classes = _size("num_classes", num_classes)
    if num_classes < 2:
        raise ValueError(
            f"num_classes must be >= 2 (binary tasks use 2 logits), got {num_classes!r}"
        )
    return num_classes


def _check_shape(name: str, shape, rank: int) -> tuple[int, ...]:
    try:
        dims = check_numbers(name, shape, ndim=1, integer=True)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a tuple of {rank} positive ints, got {shape!r} ({err})") from None
    if len(dims) != rank or any(s < 1 for s in dims):
        raise ValueError(f"{name} must be a tuple of {rank} positive ints, got {shape!r}")
    return tuple(_size(name, s) for s in dims.tolist())


# ---------------------------------------------------------------------------- models
def logistic_regression(input_dim: int, *, num_classes: int = 2, seed: int | None = 0) -> keras.Model:
    """Multinomial logistic regression: ``logits = x W + b``, ``W ∈ R^{d×K}``.

    The model outputs LOGITS; train it with
    ``SparseCategoricalCrossentropy(from_logits=True)`` on integer labels. With
    ``num_classes=2`` (the medical case of article §4.2/§4.3) it is ordinary binary logistic
    regression: ``P(y=1|x) = softmax(xW+b)_1 = sigmoid(x(w_1-w_0) + b_1-b_0)``.
    Parameters: ``(input_dim + 1) · num_classes``.
    """
    input_dim = _size("input_dim", input_dim)
    num_classes = _check_num_classes(num_classes)
    seed = _check_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=(input_dim,)),
            keras.layers.Dense(num_classes, kernel_initializer=_glorot(seed, 0), name="logits"),
        ],
        name="logistic_regression",
    )


def mlp(
    input_dim: int,
    *,
    num_classes: int,
    hidden_units: Sequence[int] = (64,),
    seed: int | None = 0,
) -> keras.Model:
    """Multi-layer perceptron: ``Dense(h, relu)`` for each ``h`` in ``hidden_units``, then a
    ``Dense(num_classes)`` layer that outputs LOGITS (train with
    ``SparseCategoricalCrossentropy(from_logits=True)`` on integer labels).

    Parameters: ``Σ_l (fan_in_l + 1) · fan_out_l`` over the layers.
    """
    input_dim = _size("input_dim", input_dim)
    num_classes = _check_num_classes(num_classes)
    seed = _check_seed(seed)
    if hidden_units is None or isinstance(hidden_units, (str, bytes)) or not hasattr(hidden_units, "__iter__"):
        raise ValueError(f"hidden_units must be a sequence of layer sizes, got {hidden_units!r}")
    hidden_units = tuple(_size("hidden_units", h) for h in hidden_units)
    layers: list = [keras.Input(shape=(input_dim,))]
    for i, units in enumerate(hidden_units):
        layers.append(
            keras.layers.Dense(units, activation="relu", kernel_initializer=_glorot(seed, i),
                               name=f"hidden_{i}")
        )
    layers.append(
        keras.layers.Dense(num_classes, kernel_initializer=_glorot(seed, len(hidden_units)),
                           name="logits")
    )
    return keras.Sequential(layers, name="mlp")


def mcmahan_cnn(
    *, input_shape: Sequence[int] = (28, 28, 1), num_classes: int = 10, seed: int | None = 0
) -> keras.Model:
    """The MNIST CNN of McMahan et al. (2017), "Communication-Efficient Learning of Deep
    Networks from Decentralized Data", §3 ("CNN"):

        conv 5×5, 32 channels, ReLU → max-pool 2×2
        conv 5×5, 64 channels, ReLU → max-pool 2×2
        dense 512, ReLU → dense num_classes (the paper's softmax; here LOGITS)

    ``"same"`` padding reproduces the paper's parameter count for 28×28×1 inputs and 10
    classes: 832 + 51,264 + 1,606,144 + 5,130 = **1,663,370**. The model outputs LOGITS;
    train with ``SparseCategoricalCrossentropy(from_logits=True)`` on integer labels.
    Used in the FedAvg notebooks (McMahan's non-IID shard experiment).
    """
    input_shape = _check_shape("input_shape", input_shape, 3)
    num_classes = _check_num_classes(num_classes)
    seed = _check_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Conv2D(32, 5, padding="same", activation="relu",
                                kernel_initializer=_glorot(seed, 0), name="conv_1"),
            keras.layers.MaxPooling2D(2, name="pool_1"),
            keras.layers.Conv2D(64, 5, padding="same", activation="relu",
                                kernel_initializer=_glorot(seed, 1), name="conv_2"),
            keras.layers.MaxPooling2D(2, name="pool_2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(512, activation="relu", kernel_initializer=_glorot(seed, 2),
                               name="dense"),
            keras.layers.Dense(num_classes, kernel_initializer=_glorot(seed, 3), name="logits"),
        ],
        name="mcmahan_cnn",
    )


def small_cnn(
    *, input_shape: Sequence[int] = (8, 8, 1), num_classes: int = 10, seed: int | None = 0
) -> keras.Model:
    """A small CNN for scikit-learn's 8×8 digits, shaped like :func:`mcmahan_cnn` but scaled
    down so that a federation trains in seconds on a CPU:

        conv 3×3, 16 channels, ReLU → max-pool 2×2      (8×8 → 4×4)
        conv 3×3, 32 channels, ReLU → max-pool 2×2      (4×4 → 2×2)
        dense 64, ReLU → dense num_classes (LOGITS)

    For 8×8×1 inputs and 10 classes: 160 + 4,640 + 8,256 + 650 = 13,706 parameters.
    Train with ``SparseCategoricalCrossentropy(from_logits=True)`` on integer labels.
    """
    input_shape = _check_shape("input_shape", input_shape, 3)
    num_classes = _check_num_classes(num_classes)
    seed = _check_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu",
                                kernel_initializer=_glorot(seed, 0), name="conv_1"),
            keras.layers.MaxPooling2D(2, name="pool_1"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu",
                                kernel_initializer=_glorot(seed, 1), name="conv_2"),
            keras.layers.MaxPooling2D(2, name="pool_2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, activation="relu", kernel_initializer=_glorot(seed, 2),
                               name="dense"),
            keras.layers.Dense(num_classes, kernel_initializer=_glorot(seed, 3), name="logits"),
        ],
        name="small_cnn",
    )


def rnn_classifier(
    *,
    input_shape: Sequence[int],
    num_classes: int,
    cell: str = "gru",
    units: int = 32,
    seed: int | None = 0,
) -> keras.Model:
    """A one-layer recurrent classifier over sequences of shape ``(timesteps, features)``:

        GRU (Cho et al. 2014) or LSTM (Hochreiter & Schmidhuber 1997) with ``units`` units,
        final hidden state → dense num_classes (LOGITS)

    The article's "CNN or RNN" local model (§3.2 Step 2) for time series such as
    :func:`fldp_teach.data.make_vital_signs` or digits read row by row. Train with
    ``SparseCategoricalCrossentropy(from_logits=True)`` on integer labels. Recurrent layers
    have no per-layer fast path in DP-SGD; it falls back to the generic per-example
    gradients (vectorized map), which is correct but slower.
    """
    input_shape = _check_shape("input_shape", input_shape, 2)
    num_classes = _check_num_classes(num_classes)
    units = _size("units", units)
    seed = _check_seed(seed)
    cells = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}
    if cell not in cells:
        raise ValueError(f"cell must be 'gru' or 'lstm', got {cell!r}")
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            cells[cell](units, kernel_initializer=_glorot(seed, 0),
                        recurrent_initializer=_orthogonal(seed, 0), name=cell),
            keras.layers.Dense(num_classes, kernel_initializer=_glorot(seed, 1), name="logits"),
        ],
        name=f"{cell}_classifier",
    )


# ---------------------------------------------------------------------------- training and size
def compile_for_training(
    model: keras.Model, *, learning_rate: float, optimizer: str = "sgd"
) -> keras.Model:
    """Compile ``model`` the library's way, for centralized (non-federated, non-private)
    baselines: ``SparseCategoricalCrossentropy(from_logits=True)`` and accuracy, with plain
    SGD (``θ ← θ − η ∇L``) or Adam (Kingma & Ba 2015; the article's §5.2 choice).
    Returns the same model, compiled."""
    learning_rate = check_positive("learning_rate", learning_rate)
    optimizers = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam}
    if optimizer not in optimizers:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    model.compile(
        optimizer=optimizers[optimizer](learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def count_parameters(model_or_weights) -> int:
    """Number of scalar parameters: ``Σ size(w)`` over a Keras model's weights, or over a
    list of weight arrays/tensors (``model.get_weights()``)."""
    weights = model_or_weights.weights if isinstance(model_or_weights, keras.Model) else model_or_weights
    return int(sum(int(np.prod(tuple(w.shape))) for w in weights))


def model_num_bytes(weights) -> int:
    """Bytes needed to send ``weights`` once (one upload or one broadcast per client and
    round): ``Σ size(w) · itemsize(w)``, e.g. 4 bytes per float32 parameter. A Keras model is
    accepted too. Taught in the communication-cost notebook (article §3.3, claim C3)."""
    weights = weights.weights if isinstance(weights, keras.Model) else weights
    total = 0
    for w in weights:
        dtype = np.dtype(getattr(w.dtype, "as_numpy_dtype", w.dtype))
        total += int(np.prod(tuple(w.shape))) * dtype.itemsize
    return int(total)
