"""Clip augmentation: torchvision.transforms.v2 on ``tv_tensors.Video`` with one random draw per clip.

Why one draw per clip: a new crop/flip/angle per frame makes the clip flicker, which destroys exactly
the temporal signal a 3D CNN must learn (the seed project learned this the hard way). Every v2
transform here sees the whole clip as one ``Video`` [T, C, H, W], so its parameters are drawn once and
applied to every frame. The parameters actually drawn are returned by :meth:`ClipTransform.with_params`
so the app can show them.

Train: resize to cover the target (short side, aspect kept) -> RandomResizedCrop(size) ->
RandomHorizontalFlip -> RandomRotation(+-degrees) -> float -> Normalize.
Eval: resize to cover -> CenterCrop(size) -> float -> Normalize (deterministic).
With a person box (:mod:`exercise_rec.data.framing`) the box replaces both crops: cut the box
(jittered once per clip in training, padded where it leaves the frame) -> resize -> the rest.
Input: the uint8 RGB clip [T, H, W, 3] from ``read_clip``; output: float32 [C, T, H, W].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from exercise_rec.data.framing import CropBox, FramingConfig, TransformError, crop_clip

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

_SEED_HIGH = 2**62  # per-call seeds drawn from a user generator lie in [0, _SEED_HIGH)


@dataclass(frozen=True)
class AugmentConfig:
    """Every augmentation knob in one place (the app's "augment" tab edits these).

    ``scale``/``ratio`` are RandomResizedCrop's area fraction and aspect (w/h) ranges; the default
    area range is narrower than torchvision's (0.08, 1) because a crop of 8% of the frame often
    cuts the whole person away, and then the label is wrong.
    """

    scale: tuple[float, float] = (0.6, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip_p: float = 0.5
    degrees: float = 10.0
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise TransformError(f"scale must satisfy 0 < min <= max <= 1, got {self.scale}")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise TransformError(f"ratio must satisfy 0 < min <= max, got {self.ratio}")
        if not 0 <= self.hflip_p <= 1:
            raise TransformError(f"hflip_p must be in [0, 1], got {self.hflip_p}")
        if not 0 <= self.degrees <= 180:
            raise TransformError(f"degrees must be in [0, 180], got {self.degrees}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise TransformError(f"mean/std need 3 values and std > 0, got {self.mean} / {self.std}")


@dataclass(frozen=True)
class AugParams:
    """What one call of the pipeline actually did to a clip."""

    input_size: tuple[int, int]  # (H, W) of the clip given
    output_size: tuple[int, int]  # (H, W) of the tensor returned
    crop: CropBox
    flipped: bool
    angle: float  # degrees, counter-clockwise; 0.0 in eval
    framed: bool = False  # the crop was chosen around the person (exercise_rec.data.framing)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form for the app and logs."""
        return asdict(self)


class ResizeToCover(v2.Transform):
    """Scale frames (aspect kept) so they just cover ``size``; for landscape input this is the
    classic "resize the short side".

    Why not ``v2.Resize(int)``: a fixed short side leaves portrait phone clips narrower than a
    landscape target, and the crop would then pad with black.
    """

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = size

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = F.get_size(flat_inputs[0])
        scale = max(self.size[0] / height, self.size[1] / width)
        out = (max(self.size[0], round(height * scale)), max(self.size[1], round(width * scale)))
        return {"size": out}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return self._call_kernel(F.resize, inpt, params["size"], antialias=True)


@dataclass
class _Trace:
    """Bookkeeping while the steps run: resize factors and the crop box in resized pixels."""

    resized: tuple[int, int] = (0, 0)
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    flipped: bool = False
    angle: float = 0.0
    framed: CropBox | None = None  # the person crop cut first, in input pixels


class ClipTransform:
    """Callable pipeline: uint8 clip [T, H, W, 3] -> normalised float32 [C, T, H, W].

    The random draws come from torch's global RNG (so DataLoader worker seeding works as usual),
    or, when a ``torch.Generator`` is given to :meth:`with_params`, from a seed drawn from it inside
    a local ``fork_rng`` so the global RNG is left untouched.
    """

    def __init__(
        self, train: bool, size: tuple[int, int], config: AugmentConfig, framing: FramingConfig | None = None
    ) -> None:
        self.train = train
        self.size = size
        self.config = config
        self.framing = framing or FramingConfig()
        self.fill = tuple(round(255 * m) for m in config.mean)  # padding the model sees as zeros
        crop: v2.Transform = (
            v2.RandomResizedCrop(size, scale=config.scale, ratio=config.ratio, antialias=True)
            if train
            else v2.CenterCrop(size)
        )
        tail: list[v2.Transform] = []
        if train:
            tail += [
                v2.RandomHorizontalFlip(p=config.hflip_p),
                v2.RandomRotation(config.degrees, interpolation=v2.InterpolationMode.BILINEAR),
            ]
        tail += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(config.mean), list(config.std))]
        self.steps = [ResizeToCover(size), crop, *tail]
        # around a person box the box (jittered in training) is the crop: only the exact resize remains
        self.framed_steps = [ResizeToCover(size), v2.CenterCrop(size), *tail]

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(step) for step in self.steps)
        return f"ClipTransform(train={self.train}, size={self.size}, steps=[\n  {inner}\n])"

    def __call__(self, clip: torch.Tensor | np.ndarray, person: CropBox | None = None) -> torch.Tensor:
        return self.with_params(clip, person=person)[0]

    def with_params(
        self,
        clip: torch.Tensor | np.ndarray,
        generator: torch.Generator | None = None,
        person: CropBox | None = None,
    ) -> tuple[torch.Tensor, AugParams]:
        """Transform ``clip`` and report the crop box, flip and angle that were drawn.

        ``person``: the framing crop around the person (pixels of ``clip``, see
        :mod:`exercise_rec.data.framing`); it replaces the centre / random-resized crop, and
        training jitters it.
        """
        video = _to_video(clip)
        if generator is None:
            out, trace = self._run(video, person)
        else:
            seed = int(torch.randint(0, _SEED_HIGH, (1,), generator=generator))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                out, trace = self._run(video, person)
        in_h, in_w = video.shape[-2:]
        frame = trace.framed or CropBox(0.0, 0.0, float(in_h), float(in_w))
        sy, sx = trace.resized[0] / frame.height, trace.resized[1] / frame.width
        top, left, height, width = trace.box
        params = AugParams(
            input_size=(int(in_h), int(in_w)),
            output_size=self.size,
            crop=CropBox(top=frame.top + top / sy, left=frame.left + left / sx, height=height / sy, width=width / sx),
            flipped=trace.flipped,
            angle=trace.angle,
            framed=trace.framed is not None,
        )
        tensor = out.as_subclass(torch.Tensor).permute(1, 0, 2, 3).contiguous()
        return tensor, params

    def _run(self, video: tv_tensors.Video, person: CropBox | None) -> tuple[tv_tensors.Video, _Trace]:
        """Apply each v2 step on the whole clip, recording its drawn parameters.

        Mirrors ``v2.Transform.forward`` (make_params then transform) so that the parameters are
        visible; the flip's coin toss is done here because v2 tosses it outside ``make_params``.
        """
        trace = _Trace()
        steps = self.steps
        if person is not None:
            box = self.framing.jitter(person) if self.train else person
            cropped, trace.framed = crop_clip(video.as_subclass(torch.Tensor), box, self.fill)
            video, steps = tv_tensors.Video(cropped), self.framed_steps
        for step in steps:
            if isinstance(step, v2.RandomHorizontalFlip):
                trace.flipped = bool(torch.rand(1) < step.p)
                if trace.flipped:
                    video = step.transform(video, {})
                continue
            params = step.make_params([video])
            if isinstance(step, ResizeToCover):
                trace.resized = params["size"]
            elif isinstance(step, v2.RandomResizedCrop):
                trace.box = (params["top"], params["left"], params["height"], params["width"])
            elif isinstance(step, v2.CenterCrop):
                height, width = video.shape[-2:]  # anchor rounded as v2.CenterCrop rounds it
                top, left = round((height - self.size[0]) / 2), round((width - self.size[1]) / 2)
                trace.box = (top, left, self.size[0], self.size[1])
            elif isinstance(step, v2.RandomRotation):
                trace.angle = float(params["angle"])
            video = step.transform(video, params)
        return video, trace


def _to_video(clip: torch.Tensor | np.ndarray) -> tv_tensors.Video:
    """uint8 [T, H, W, 3] (torch or numpy) -> ``tv_tensors.Video`` [T, 3, H, W]; the one layout switch."""
    tensor = torch.as_tensor(clip)
    if tensor.dtype != torch.uint8 or tensor.ndim != 4 or tensor.shape[-1] != 3:
        raise TransformError(
            f"expected a uint8 RGB clip [T, H, W, 3] as read_clip returns, got {tuple(tensor.shape)} {tensor.dtype}"
        )
    if min(tensor.shape[:3]) == 0:
        raise TransformError(f"empty clip {tuple(tensor.shape)}")
    return tv_tensors.Video(tensor.permute(0, 3, 1, 2))


def _as_size(size: int | Sequence[int]) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, int) and s > 0 for s in pair):
        raise TransformError(f"size must be a positive int or (height, width), got {size!r}")
    return (int(pair[0]), int(pair[1]))


def build_transforms(
    train: bool,
    size: int | Sequence[int] = (128, 128),
    config: AugmentConfig | None = None,
    framing: FramingConfig | None = None,
) -> ClipTransform:
    """The training (random, one draw per clip) or eval (deterministic) pipeline for ``size`` (H, W)."""
    return ClipTransform(train=train, size=_as_size(size), config=config or AugmentConfig(), framing=framing)


def denormalize(
    tensor: torch.Tensor,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """Model input [C, T, H, W] (or a batch [B, C, T, H, W]) -> uint8 [T, H, W, 3] (or [B, ...]) for viewing."""
    if tensor.ndim not in (4, 5) or tensor.shape[-4] != 3:
        raise TransformError(f"expected [C, T, H, W] or [B, C, T, H, W] with C=3, got {tuple(tensor.shape)}")
    shape = (3, 1, 1, 1)
    mean_t = torch.tensor(mean, dtype=tensor.dtype, device=tensor.device).view(shape)
    std_t = torch.tensor(std, dtype=tensor.dtype, device=tensor.device).view(shape)
    pixels = (tensor.detach() * std_t + mean_t).clamp(0, 1).mul(255).round().to(torch.uint8)
    return pixels.movedim(-4, -1)


__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AugParams",
    "AugmentConfig",
    "ClipTransform",
    "CropBox",
    "TransformError",
    "build_transforms",
    "denormalize",
]
