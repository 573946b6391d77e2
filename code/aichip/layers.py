"""One vocabulary for the layers that the accelerator models run: matrix products and convolutions.

:class:`GemmLayer` and :class:`ConvLayer` are read by :mod:`aichip.systolic` (cycles on a systolic
array) and :mod:`aichip.dataflow` (accesses and energy on a spatial array), so a layer is described
once and run through both. A convolution becomes a matrix product by im2col (:func:`to_gemm`):

- ``M = N * P * Q`` rows, one per output pixel of every image in the batch;
- ``K = R * S * C`` columns, one per weight of a filter (the window);
- ``N_gemm = K_filters`` output columns, one per filter.

Sizes are those of the *padded* input: pad ``H`` and ``W`` yourself if the layer has padding. The
layer table ``data/conv_layers.csv`` (:func:`conv_layers`) records AlexNet, VGG-16 and ResNet-50
layers that way, each with its source.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from .tables import load_table
from .validation import check_choice, check_int

__all__ = [
    "GemmLayer", "ConvLayer", "conv_layer", "check_layer", "to_gemm", "to_gemms", "layer_table",
    "conv_layers", "im2col", "filters_to_matrix",
]


class GemmLayer(NamedTuple):
    """A matrix product ``(M x K) @ (K x N)``."""

    name: str
    M: int
    N: int
    K: int

    @property
    def macs(self) -> int:
        """Multiply-accumulates: ``M * N * K``."""
        return self.M * self.N * self.K


class ConvLayer(NamedTuple):
    """A convolution: batch ``N`` of ``C`` input channels of ``H x W`` (padded), ``K`` filters of
    ``C x R x S``, moved by ``stride`` in both directions."""

    name: str
    H: int
    W: int
    R: int
    S: int
    C: int
    K: int
    stride: int = 1
    N: int = 1

    @property
    def P(self) -> int:
        """Output rows: ``(H - R) // stride + 1``."""
        return (self.H - self.R) // self.stride + 1

    @property
    def Q(self) -> int:
        """Output columns: ``(W - S) // stride + 1``."""
        return (self.W - self.S) // self.stride + 1

    def output_hw(self) -> tuple[int, int]:
        """Output height and width ``(P, Q)``."""
        return self.P, self.Q

    @property
    def macs(self) -> int:
        """Multiply-accumulates: ``N * K * C * P * Q * R * S``."""
        return self.N * self.K * self.C * self.P * self.Q * self.R * self.S

    def as_gemm(self) -> GemmLayer:
        """The im2col matrix product of this convolution (see :func:`to_gemm`)."""
        return GemmLayer(self.name, self.N * self.P * self.Q, self.K, self.R * self.S * self.C)


def conv_layer(name: str = "conv", *, H: int = 1, W: int = 1, R: int = 1, S: int = 1, C: int = 1,
               K: int = 1, stride: int = 1, N: int = 1) -> ConvLayer:
    """A validated :class:`ConvLayer`: positive integer sizes, filter no larger than the input.

    Every size defaults to 1, so a fully-connected layer of ``C`` inputs and ``K`` outputs over a
    batch of ``N`` is ``conv_layer(C=C, K=K, N=N)``: a 1 x 1 filter on a 1 x 1 input, whose
    :meth:`ConvLayer.to_gemm` is the ``(N x C) @ (C x K)`` product.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    vals = {k: check_int(k, v, minimum=1) for k, v in
            dict(H=H, W=W, R=R, S=S, C=C, K=K, stride=stride, N=N).items()}
    if vals["R"] > vals["H"] or vals["S"] > vals["W"]:
        raise ValueError(f"{name}: filter R x S = {R} x {S} does not fit in the input "
                         f"H x W = {H} x {W}")
    return ConvLayer(name, **vals)


def check_layer(layer) -> GemmLayer | ConvLayer:
    """Return ``layer`` after checking its type and sizes (the message names the bad field)."""
    if isinstance(layer, ConvLayer):
        return conv_layer(layer.name, H=layer.H, W=layer.W, R=layer.R, S=layer.S, C=layer.C,
                          K=layer.K, stride=layer.stride, N=layer.N)
    if isinstance(layer, GemmLayer):
        for field in ("M", "N", "K"):
            check_int(f"{layer.name}.{field}", getattr(layer, field), minimum=1)
        return layer
    raise TypeError(f"layer must be a GemmLayer or a ConvLayer, got {type(layer).__name__}")


def to_gemm(layer) -> GemmLayer:
    """The matrix product a layer runs as: a :class:`GemmLayer` as it is, a :class:`ConvLayer`
    lowered by im2col (``M = N P Q``, ``K = R S C``, ``N = filters``)."""
    layer = check_layer(layer)
    return layer.as_gemm() if isinstance(layer, ConvLayer) else layer


def to_gemms(layers) -> list[GemmLayer]:
    """Each layer of a non-empty sequence (GemmLayer or ConvLayer) as its GEMM (:func:`to_gemm`)."""
    layers = list(layers)
    if not layers:
        raise ValueError("layers must contain at least one GemmLayer or ConvLayer")
    return [to_gemm(check_layer(layer)) for layer in layers]


def layer_table(network: str | None = None) -> pd.DataFrame:
    """The rows of ``data/conv_layers.csv`` (one convolution each, with its source and notes)."""
    df = load_table("conv_layers")
    if network is not None:
        check_choice("network", network, tuple(df["network"].unique()))
        df = df[df["network"] == network].reset_index(drop=True)
    return df


def conv_layers(network: str | None = None, batch: int = 1) -> list[ConvLayer]:
    """The convolutions of ``data/conv_layers.csv`` as :class:`ConvLayer`, named
    ``"<network> <layer>"``, with batch ``batch``; only those of ``network`` when given."""
    batch = check_int("batch", batch, minimum=1)
    return [conv_layer(f"{r.network} {r.layer}", H=r.H, W=r.W, R=r.R, S=r.S, C=r.C, K=r.K,
                       stride=r.stride, N=batch)
            for r in layer_table(network).itertuples()]


def im2col(x: np.ndarray, R: int, S: int, stride: int = 1) -> np.ndarray:
    """Lower an input ``x`` of shape ``(C, H, W)`` to the ``(Ho*Wo, R*S*C)`` im2col matrix.

    Column order is ``(r, s, c)`` with ``c`` fastest, matching filters reshaped by
    :func:`filters_to_matrix`; row ``p = i*Wo + j`` is the window of output pixel ``(i, j)``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (C, H, W), got {x.shape}")
    C, H, W = x.shape
    R = check_int("R", R, minimum=1, maximum=H)
    S = check_int("S", S, minimum=1, maximum=W)
    stride = check_int("stride", stride, minimum=1)
    ho, wo = (H - R) // stride + 1, (W - S) // stride + 1
    cols = np.empty((ho * wo, R * S * C))
    for i in range(ho):
        for j in range(wo):
            window = x[:, i * stride:i * stride + R, j * stride:j * stride + S]  # (C, R, S)
            cols[i * wo + j] = window.transpose(1, 2, 0).ravel()
    return cols


def filters_to_matrix(w: np.ndarray) -> np.ndarray:
    """Filters ``(K, C, R, S)`` as the ``(R*S*C, K)`` GEMM operand matching :func:`im2col`."""
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"w must have shape (K, C, R, S), got {w.shape}")
    return w.transpose(2, 3, 1, 0).reshape(-1, w.shape[0])
