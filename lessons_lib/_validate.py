"""Input checks shared by every public function.

Each helper raises a ``TypeError`` or ``ValueError`` whose message names what
was expected and what came, so that a reader can fix the call at once.
"""

from __future__ import annotations

import torch


def require_tensor(name: str, value: object) -> torch.Tensor:
    """Return ``value`` if it is a tensor, else raise a TypeError naming it."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def require_float(name: str, value: object) -> torch.Tensor:
    """Return ``value`` if it is a floating-point tensor."""
    tensor = require_tensor(name, value)
    if not tensor.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (e.g. torch.float32), "
            f"got dtype {tensor.dtype}; convert it with {name}.float()"
        )
    return tensor


def require_rank(name: str, tensor: torch.Tensor, rank: int, layout: str) -> None:
    """Raise a ValueError unless ``tensor`` has exactly ``rank`` dimensions."""
    if tensor.dim() != rank:
        raise ValueError(
            f"{name} must have {rank} dimensions {layout}, "
            f"got {tensor.dim()} dimensions with shape {tuple(tensor.shape)}"
        )


def require_min_rank(name: str, tensor: torch.Tensor, rank: int, layout: str) -> None:
    """Raise a ValueError unless ``tensor`` has at least ``rank`` dimensions."""
    if tensor.dim() < rank:
        raise ValueError(
            f"{name} must have at least {rank} dimensions {layout}, got shape {tuple(tensor.shape)}"
        )


def require_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int > 0 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def require_bool_mask(name: str, mask: object, target_shape: tuple[int, ...]) -> torch.Tensor:
    """Return ``mask`` if it is a bool tensor broadcastable to ``target_shape``."""
    tensor = require_tensor(name, mask)
    if tensor.dtype != torch.bool:
        raise TypeError(
            f"{name} must be a bool tensor (True = may attend), got dtype {tensor.dtype}"
        )
    try:
        torch.broadcast_shapes(tuple(tensor.shape), target_shape)
    except RuntimeError:
        raise ValueError(
            f"{name} of shape {tuple(tensor.shape)} does not broadcast "
            f"to the scores' shape {target_shape}"
        ) from None
    return tensor
