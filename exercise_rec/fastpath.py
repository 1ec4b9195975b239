"""The fast CPU inference path: BatchNorm folded into convolutions, ONNX export, ONNX Runtime or OpenVINO.

Why: a 3D CNN in eager PyTorch on a small CPU spends its time in generic kernels (depthwise 3D
convolutions, separate BatchNorm and ReLU6 passes). A graph compiler fuses them; measured on the
2-core CI machine (``python -m exercise_rec.bench``), OpenVINO runs ``mobilenet_v2_3d`` several
times faster than eager, ONNX Runtime about twice as fast. One exported ONNX file feeds both
runtimes, so deployment elsewhere needs neither this package nor PyTorch.

Backends (``BACKENDS``): ``torch`` is the eager model with BatchNorm folded (no extra packages),
``onnx`` runs the export with ONNX Runtime, ``openvino`` with OpenVINO. Every build is checked
against the eager model on a random clip; a mismatch above ``MAX_REL_ERROR`` is an error, never a
silently different prediction.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import itertools
import json
import logging
from collections.abc import Callable, Mapping
from importlib.metadata import version
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from exercise_rec import __version__
from exercise_rec.device import clip_memory_format
from exercise_rec.errors import ExerciseRecError
from exercise_rec.io import atomic_path, cache_root

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "openvino")
MAX_REL_ERROR = 1e-4  # max |fast - eager| / max |eager| over a random batch
METADATA_KEY = "exercise_rec"  # ONNX metadata_props entry holding the checkpoint metadata as JSON
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
RUNTIME_PACKAGES = {"onnx": "onnxruntime", "openvino": "openvino"}

ClipShape = tuple[int, int, int, int, int]  # [N, C, T, H, W]


class FastPathError(ExerciseRecError, ValueError):
    """A backend that is unknown or not installed, or an export that does not match the eager model."""


def fold_batchnorm(model: nn.Module) -> tuple[nn.Module, int]:
    """An eval-mode copy of ``model`` with every BatchNorm that directly follows a convolution in a
    ``nn.Sequential`` folded into it (the BatchNorm becomes ``nn.Identity``); also the number folded.

    Only sequential neighbours are folded: there the convolution's output feeds nothing but the
    BatchNorm, so folding cannot change any other path. The original model is left untouched.
    """
    folded = copy.deepcopy(model).eval()
    count = 0
    for container in folded.modules():
        if not isinstance(container, nn.Sequential):
            continue
        names = list(container._modules)
        for first, second in itertools.pairwise(names):
            conv, norm = container._modules[first], container._modules[second]
            if isinstance(conv, _CONVS) and isinstance(norm, _NORMS) and norm.running_mean is not None:
                container._modules[first] = fuse_conv_bn_eval(conv, norm)
                container._modules[second] = nn.Identity()
                count += 1
    return folded, count


def export_onnx(
    model: nn.Module,
    clip_shape: ClipShape,
    path: str | PathLike[str],
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` (BatchNorm folded) as ONNX, batch axis dynamic, atomically.

    ``metadata`` (e.g. ``CheckpointMeta.to_dict()``: class names, clip length, mean/std) is stored
    as JSON under ``METADATA_KEY`` so the file alone says how to feed it. Uses the torch.export
    based exporter (the TorchScript one is deprecated); its graph optimiser runs too.
    """
    folded, _ = fold_batchnorm(model.cpu())
    example = torch.randn(max(2, clip_shape[0]), *clip_shape[1:])  # an example batch of 1 is specialised
    program = torch.onnx.export(
        folded,
        (example,),
        None,
        input_names=["clip"],
        output_names=["logits"],
        dynamic_shapes=({0: torch.export.Dim.AUTO},),  # dynamic batch wherever the model allows it
        dynamo=True,
        optimize=True,
        verbose=False,
    )
    proto = program.model_proto
    if metadata is not None:
        proto.metadata_props.add(key=METADATA_KEY, value=json.dumps(dict(metadata)))
    import onnx

    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))
    return Path(path)


def cache_dir() -> Path:
    """Where exported models are kept (see :func:`exercise_rec.io.cache_root`)."""
    return cache_root() / "fastpath"


def model_key(model: nn.Module, clip_shape: ClipShape) -> str:
    """A digest of what an export depends on: the architecture, every weight and buffer, the input
    shape, and the versions of the exporting libraries (a new exporter may write another graph)."""
    digest = hashlib.sha256()
    versions = [version(package) for package in ("torch", "onnx", "onnxscript")]
    digest.update(repr((str(model), clip_shape[1:], versions, __version__)).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def cached_onnx(model: nn.Module, clip_shape: ClipShape, *, rebuild: bool = False) -> Path:
    """``model`` exported to ONNX once and kept in :func:`cache_dir` under :func:`model_key`.

    Why: exporting and optimising takes seconds per call (``predict --backend openvino`` took 8 s
    against 3.7 s eager), while loading a cached file takes a fraction of one. Both runtimes read the
    same file; the write is atomic, so concurrent first calls at worst export twice.
    """
    path = cache_dir() / f"{model_key(model, clip_shape)}.onnx"
    if rebuild or not path.is_file():
        log.info("exporting the model to ONNX for the fast path (once; cached in %s)", path.parent)
        export_onnx(model, clip_shape, path)
    return path


def read_onnx_metadata(path: str | PathLike[str]) -> dict[str, Any]:
    """The metadata ``export_onnx`` stored in ``path`` (empty when there is none)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    entries = {prop.key: prop.value for prop in proto.metadata_props}
    return json.loads(entries[METADATA_KEY]) if METADATA_KEY in entries else {}


def missing_package(backend: str) -> str | None:
    """The runtime package ``backend`` needs and this environment lacks, else None."""
    package = RUNTIME_PACKAGES.get(backend)
    return package if package is not None and importlib.util.find_spec(package) is None else None


def _require(backend: str) -> None:
    if backend not in BACKENDS:
        raise FastPathError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    package = missing_package(backend)
    if package is not None:
        raise FastPathError(f"backend {backend!r} needs the {package} package: pip install {package}")


def _onnxruntime_runner(path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda batch: session.run(None, {"clip": batch})[0]


def _openvino_runner(path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    import openvino as ov

    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    compiled = ov.Core().compile_model(str(path), "CPU", config)
    # One infer request per call: a compiled model may serve concurrent app requests.
    return lambda batch: compiled.create_infer_request().infer({0: batch})[0]


_RUNNERS = {"onnx": _onnxruntime_runner, "openvino": _openvino_runner}


class FastModel:
    """A model compiled for CPU inference by one backend; call it with a float batch [N, C, T, H, W]."""

    def __init__(self, backend: str, run: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.backend = backend
        self._run = run
        self.max_rel_error: float | None = None  # set by ``build``'s check against the eager model

    @classmethod
    def load(cls, onnx_path: str | PathLike[str], backend: str, threads: int | None = None) -> FastModel:
        """Open an exported ONNX file with the ``onnx`` or ``openvino`` backend."""
        _require(backend)
        if backend not in _RUNNERS:
            raise FastPathError(f"backend {backend!r} runs a torch module, not an ONNX file")
        runner = _RUNNERS[backend](Path(onnx_path), threads or torch.get_num_threads())

        def run(batch: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(np.asarray(runner(batch.detach().cpu().float().contiguous().numpy())))

        return cls(backend, run)

    @classmethod
    def build(cls, model: nn.Module, clip_shape: ClipShape, backend: str, threads: int | None = None) -> FastModel:
        """Compile ``model`` for ``backend`` (exporting through a temporary ONNX file) and check it."""
        _require(backend)
        model = model.cpu().eval()
        if backend == "torch":
            folded, _ = fold_batchnorm(model)
            memory_format = clip_memory_format(folded)  # oneDNN's fast 3D path, as eager Predictor uses
            folded.to(memory_format=memory_format)

            def run(batch: torch.Tensor) -> torch.Tensor:
                with torch.inference_mode():
                    clips = batch.contiguous(memory_format=memory_format) if batch.ndim == 5 else batch
                    return folded(clips).float()

            fast = cls(backend, run)
            fast.max_rel_error = fast.check(model, clip_shape)
            return fast
        return cls._from_cache(model, clip_shape, backend, threads)

    @classmethod
    def _from_cache(cls, model: nn.Module, clip_shape: ClipShape, backend: str, threads: int | None) -> FastModel:
        """The runtime over the cached export of ``model`` (:func:`cached_onnx`); a cached file that
        no longer loads or matches the eager model is exported again, with a warning."""
        path = cached_onnx(model, clip_shape)
        try:
            fast = cls.load(path, backend, threads)  # runtimes read the file once, at load
            fast.max_rel_error = fast.check(model, clip_shape)
            return fast
        except Exception as err:  # a runtime's own error on a damaged file, or FastPathError
            log.warning("rebuilding the fast-path cache %s: %s", path, err)
        fast = cls.load(cached_onnx(model, clip_shape, rebuild=True), backend, threads)
        fast.max_rel_error = fast.check(model, clip_shape)
        return fast

    def check(self, model: nn.Module, clip_shape: ClipShape) -> float:
        """Max relative error against eager ``model`` on two random clips (so a batch axis that
        the export fixed at one size shows up here, not in production); raises above ``MAX_REL_ERROR``."""
        clips = torch.randn((2, *clip_shape[1:]), generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            expected = model(clips).float()
        try:
            got = self(clips)
        except Exception as err:  # runtimes raise their own types; all mean "this export is unusable"
            raise FastPathError(f"backend {self.backend!r} failed on a batch of 2 clips: {err}") from err
        error = float((got.detach() - expected).abs().max() / expected.abs().max().clamp_min(1e-12))
        if not error <= MAX_REL_ERROR:
            raise FastPathError(
                f"backend {self.backend!r} differs from the eager model by {error:.2e} (relative; "
                f"the limit is {MAX_REL_ERROR:g}): not used"
            )
        return error

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return self._run(batch)
