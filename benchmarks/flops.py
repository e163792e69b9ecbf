"""Counted training FLOPs of a BART-style encoder-decoder, and the bf16 peak of known GPUs.

MFU (model FLOPs utilisation) = FLOPs of the work done / seconds / the device's dense bf16 peak.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s, from NVIDIA's data sheets. Matched
# against torch.cuda.get_device_name() in this order: the first pattern found wins.
BF16_PEAK_TFLOPS: tuple[tuple[str, str, float], ...] = (
    (r"GH200", "GH200", 989.4),
    (r"H200.*NVL", "H200 NVL", 835.0),
    (r"H200", "H200 SXM", 989.4),
    (r"H100.*NVL", "H100 NVL", 835.0),
    (r"H100.*PCIe", "H100 PCIe", 756.0),
    (r"H100", "H100 SXM", 989.4),
    (r"A100", "A100", 312.0),
    (r"L40S", "L40S", 362.1),
    (r"\bL4\b", "L4", 121.0),
)


def bf16_peak(device_name: str) -> tuple[str, float] | None:
    """(the table's name, dense bf16 peak in FLOP/s) for a CUDA device name, or None."""
    for pattern, name, tflops in BF16_PEAK_TFLOPS:
        if re.search(pattern, device_name):
            return name, tflops * 1e12
    return None


def seq2seq_forward_flops(source: int, target: int, d_model: int, ffn: int,
                          encoder_layers: int, decoder_layers: int, vocab: int) -> int:
    """Forward FLOPs of one example with `source` encoder and `target` decoder tokens.

    A matmul of an (n x k) by a (k x m) matrix is 2·n·k·m FLOPs. With d = d_model, f = ffn,
    V = vocab, s = source and t = target tokens, L_e / L_d encoder / decoder layers::

        encoder, per layer:  s·2·(4d² + 2df)            Q, K, V, O projections and the FFN
                             + 4·s²·d                   QKᵀ and AV
        decoder, per layer:  t·2·(6d² + 2df)            self-attn Q,K,V,O; cross-attn Q,O; FFN
                             + s·2·2d²                  cross-attn K, V of the encoder states
                             + 4·t²·d + 4·t·s·d         self- and cross-attention scores
        LM head:             t·2·d·V

    Biases, norms, softmax, embeddings lookups and the loss are left out (under 1% here).
    Training counts 3x the forward (the backward computes gradients for inputs and weights).
    Only real tokens count: padding is waste, not work, so MFU falls when batches are padded.
    """
    d, f = d_model, ffn
    encoder = encoder_layers * (source * 2 * (4 * d * d + 2 * d * f) + 4 * source * source * d)
    decoder = decoder_layers * (target * 2 * (6 * d * d + 2 * d * f) + source * 4 * d * d
                                + 4 * target * target * d + 4 * target * source * d)
    return encoder + decoder + target * 2 * d * vocab


def train_flops(config, pairs: Iterable[tuple[int, int]]) -> int:
    """3x the forward FLOPs of every (source, target) length pair under a BartConfig."""
    return 3 * sum(seq2seq_forward_flops(s, t, config.d_model, config.encoder_ffn_dim,
                                         config.encoder_layers, config.decoder_layers,
                                         config.vocab_size) for s, t in pairs)


def mfu(flops: float, seconds: float, peak: float | None) -> float | None:
    """Fraction of the peak the work reached; None when the peak or the time is unknown."""
    if not peak or not seconds:
        return None
    return flops / seconds / peak
