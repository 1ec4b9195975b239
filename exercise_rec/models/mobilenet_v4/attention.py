"""MobileMQA: attention over spatial positions with one projection per role shared by all heads.

Why this form: the seed's MobileMQA uses one 1x1 conv each for queries, keys and values (C -> C,
with bias) that serves every head, each head attending with its own C / heads channels; that is
what its parameter counts measure. Attention itself runs through
``torch.nn.functional.scaled_dot_product_attention`` (fused kernels on CUDA, no [N, N] matrix kept
for backward where a kernel allows it).

With ``reduction`` (hybrid_large), two 3x3 stride-2 convs C -> C with bias shrink the query map
(one conv) and the key and value maps (one shared conv), cutting the attention cost by 16. The
seed returns the reduced map; here the attention output is resized back to the input's size
(bilinear), as MobileNet-v4's own strided-query attention does, so the block keeps its shape: it
can carry a residual shortcut, and the last stages keep a resolution Grad-CAM can use.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from exercise_rec.models.mobilenet_v4.blocks import Residual

__all__ = ["MobileMQA", "MultiQueryAttention2d"]


class MultiQueryAttention2d(nn.Module):
    """Multi-head scaled dot-product attention between the positions of a ``[B, C, H, W]`` map."""

    def __init__(self, channels: int, num_heads: int, reduction: bool = False) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"{channels} channels do not split into {num_heads} heads")
        self.num_heads = num_heads
        self.query = nn.Conv2d(channels, channels, 1)
        self.key = nn.Conv2d(channels, channels, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.query_reduce = nn.Conv2d(channels, channels, 3, stride=2, padding=1) if reduction else None
        self.kv_reduce = nn.Conv2d(channels, channels, 3, stride=2, padding=1) if reduction else None

    def _split_heads(self, x: Tensor) -> Tensor:
        """``[B, C, H, W]`` -> ``[B, heads, H*W, C/heads]`` (head ``i`` owns channels ``i*d .. i*d+d-1``)."""
        b, c = x.shape[:2]
        return x.reshape(b, self.num_heads, c // self.num_heads, -1).transpose(-1, -2)

    def _project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, tuple[int, int]]:
        """Per-head queries, keys, values and the query map's spatial size."""
        query, key, value = self.query(x), self.key(x), self.value(x)
        if self.query_reduce is not None and self.kv_reduce is not None:
            query, key, value = self.query_reduce(query), self.kv_reduce(key), self.kv_reduce(value)
        size = (query.shape[-2], query.shape[-1])
        return self._split_heads(query), self._split_heads(key), self._split_heads(value), size

    def attention_probs(self, x: Tensor) -> Tensor:
        """``[B, heads, N_query, N_key]`` attention weights (rows sum to 1), for inspection and
        visualisation; ``forward`` computes the same attention without materialising them."""
        query, key, _, _ = self._project(x)
        scores = query @ key.transpose(-1, -2) * query.shape[-1] ** -0.5
        return scores.softmax(dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        query, key, value, (height, width) = self._project(x)
        out = F.scaled_dot_product_attention(query, key, value)  # [B, heads, N_query, d]
        out = out.transpose(-1, -2).reshape(x.shape[0], x.shape[1], height, width)
        if (height, width) != tuple(x.shape[-2:]):
            out = F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return out


class MobileMQA(Residual):
    """``x + attention(x)``: every position can draw on every other one (global context)."""

    def __init__(self, channels: int, num_heads: int, reduction: bool = False) -> None:
        super().__init__(MultiQueryAttention2d(channels, num_heads, reduction))
