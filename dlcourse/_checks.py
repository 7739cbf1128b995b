"""Argument checks shared by the public functions of ``dlcourse``.

Every public function checks what it is given once, at its boundary, and raises a
``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind, wrong value) whose
message names the argument, says what was expected and shows what was given. The
helpers below keep those messages uniform; they return the checked value so a call
reads ``n = check_int(n, "n", minimum=1)``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor


def describe(value: Any) -> str:
    """A short description of ``value`` for an error message."""
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _scalar(value: Any, floating: bool) -> Any:
    """A one-element tensor (e.g. ``torch.tensor(0.5)``) as the Python number it holds;
    anything else unchanged. Integer tensors count as reals, float tensors not as ints."""
    if isinstance(value, Tensor) and value.numel() == 1 and value.dtype != torch.bool:
        if floating or not value.is_floating_point():
            return value.item()
    return value


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    """``value`` as an int (bools and floats such as 2.0 are refused), >= ``minimum``."""
    value = _scalar(value, floating=False)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {describe(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def check_real(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    positive: bool = False,
    below: float | None = None,
) -> float:
    """``value`` as a finite float (bools refused), optionally >= ``minimum``, > 0
    (``positive``) or < ``below``."""
    value = _scalar(value, floating=True)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if below is not None and value >= below:
        raise ValueError(f"{name} must be < {below}, got {value}")
    return value


def check_bool(value: Any, name: str) -> bool:
    """``value`` if it is True or False (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return value


def check_callable(value: Any, name: str) -> Callable[..., Any]:
    if not callable(value):
        raise TypeError(f"{name} must be a function (callable), got {describe(value)}")
    return value


def check_tensor(
    x: Any,
    name: str,
    *,
    dim: int | tuple[int, ...] | None = None,
    floating: bool = False,
    finite: bool = False,
    nonempty: bool = False,
    shape: str = "",
) -> Tensor:
    """``x`` if it is a tensor with ``dim`` dimensions (one of them, for a tuple), a
    floating-point dtype (``floating``), no NaN or ±inf (``finite``) and at least one
    entry (``nonempty``). ``shape`` names the expected layout, e.g. "N×C×H×W"."""
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor{' ' + shape if shape else ''}, got {describe(x)}; "
            f"convert it with torch.tensor(...)"
        )
    dims = (dim,) if isinstance(dim, int) else dim
    if dims is not None and x.dim() not in dims:
        wanted = " or ".join(f"{d}-D" for d in dims)
        raise ValueError(
            f"{name} must be a {wanted} tensor{' ' + shape if shape else ''}, "
            f"got shape {tuple(x.shape)}"
        )
    if floating and not x.is_floating_point():
        raise TypeError(
            f"{name} must hold floating-point numbers, got dtype {x.dtype}; use {name}.float()"
        )
    if nonempty and x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}); it needs at least one entry")
    if finite and x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = (~torch.isfinite(x)).nonzero()[0].tolist()
        raise ValueError(
            f"{name} has NaN or infinite entries (the first at index {tuple(bad)}); "
            f"remove or replace them first"
        )
    return x


def check_module(model: Any, name: str = "model") -> torch.nn.Module:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {describe(model)}")
    return model
