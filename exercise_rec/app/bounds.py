"""Numeric settings bounded twice, at the component and in the handler, with messages naming the setting.

Why not Gradio's own check alone: it answers "Value 1e+21 is greater than maximum value 1.0"
without saying which setting, lets NaN through (``int(nan)`` then fails inside the handler), and
compares whatever a client sent; an unbounded seed reached torch and came back as "Overflow when
unpacking long long". These components check every request (the page's slider keeps the range
too), and handlers call :func:`check` again, for callers that skip Gradio's preprocessing.
"""

from __future__ import annotations

import math
from abc import ABCMeta
from typing import Any

import gradio as gr

from exercise_rec.errors import ConfigError

SEED_MAX = 2**32 - 1  # torch takes up to 2**64 - 1; a 32-bit seed is what people type and share


class SettingError(ConfigError):
    """A numeric setting that is not a number within its range (the message names both)."""


def _shown(value: float) -> str:
    """``0.05``, ``256``, ``4294967295``: the way the page shows the range."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _got(value: Any) -> str:
    """What a client sent, short (Python refuses to print ints of over 4,300 digits at all)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"a {value.bit_length()}-bit integer"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def check_setting(name: str, value: Any, minimum: float, maximum: float) -> float:
    """``value`` if it is a finite number in [``minimum``, ``maximum``]; :class:`SettingError` otherwise."""
    finite = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))  # ints of any size
    if isinstance(value, bool) or not (finite and minimum <= value <= maximum):
        raise SettingError(f"{name} must be a number from {_shown(minimum)} to {_shown(maximum)}, got {_got(value)}")
    return value


def check(component: gr.Slider | gr.Number, value: Any) -> float:
    """``value`` checked against ``component``'s range, named by its label (for handlers)."""
    return check_setting(component.label or "setting", value, component.minimum, component.maximum)


def _checked_for_page(component: gr.Slider | gr.Number, payload: Any) -> Any:
    try:
        return check(component, payload)
    except SettingError as err:
        raise gr.Error(str(err), duration=None, print_exception=False) from None


class _NoStubs(type(gr.Slider)):  # type: ignore[misc]
    """Gradio's component metaclass without writing a ``.pyi`` stub next to this module on import.

    Its ``__new__`` wires the class's own events (these add none) and then writes or rewrites a stub
    for the module that defined it, which here would shadow ``bounds.py`` for type checkers.
    """

    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> type:
        return ABCMeta.__new__(mcs, name, bases, attrs)


class Slider(gr.Slider, metaclass=_NoStubs):
    """``gr.Slider`` whose out-of-range message names the setting (the page shows a plain slider)."""

    is_template = True  # Gradio then renders the parent's (Slider's) front-end component

    def preprocess(self, payload: Any) -> float:
        return super().preprocess(_checked_for_page(self, payload))


class Number(gr.Number, metaclass=_NoStubs):
    """``gr.Number`` whose out-of-range message names the setting; give it ``minimum`` and ``maximum``.

    (No ``__init__`` of its own: Gradio sends the page the props named in the class's signature.)
    """

    is_template = True

    def preprocess(self, payload: Any) -> float | int | None:
        return super().preprocess(_checked_for_page(self, payload))
