"""The numbers TF Serving's float text reads back as, computed with numpy, not by printing.

TF Serving writes a float32 as `%.6g` when that reads back as the same float32, else `%.9g`
(`json_text.py`). A caller that parses the text again (a jsonData answer, which becomes a
Python dict) only keeps the double each text reads as. That double is the value rounded to 6
(or 9) significant digits: `m / 10**k` with `m` and `10**k` exact doubles, so one correctly
rounded division (or product) gives exactly what parsing the text gives. The few values where
numpy's rounding could differ from printf's (within a hair of a tie, or `10**k` not exact:
below about 1e-16 or above 1e22) are printed and parsed one by one, as before.
"""

from __future__ import annotations

import numpy as np

from seldon_tfserving.codec.json_tensors import Array

#: The largest power of ten a double holds exactly.
_EXACT_POWERS = 22
#: How near to a half a scaled value may come before printf's own rounding decides it.
_NEAR_TIE = 1e-6


def _rounded(wide: Array, digits: int) -> tuple[Array, Array]:
    """`float(format(x, f".{digits}g"))` for each finite non-zero `x`, and where it is unsure."""
    exponent = np.floor(np.log10(np.abs(wide))).astype(np.int64)
    scale = digits - 1 - exponent  # x * 10**scale has `digits` digits before the point
    unsure = np.abs(scale) > _EXACT_POWERS
    power = 10.0 ** np.clip(np.abs(scale), 0, _EXACT_POWERS)  # exact: 10**22 < 2**53 * 5**22
    up = scale >= 0
    scaled = np.where(up, wide * power, wide / power)
    mantissa = np.rint(scaled)
    unsure |= np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) < _NEAR_TIE
    magnitude = np.abs(mantissa)
    unsure |= (magnitude < 10.0 ** (digits - 1)) | (magnitude > 10.0**digits)
    return np.where(up, mantissa / power, mantissa * power), unsure


def _printed(value: float, digits: int) -> float:
    return float(format(value, f".{digits}g"))


def float32_text_values(array: Array) -> Array:
    """The float64 each float32 of `array` reads back as from TF Serving's text (same shape):
    its `%.6g` when that round-trips in float32, else its `%.9g`; NaN and infinities as they
    are."""
    if array.dtype != np.float32:
        raise TypeError(f"float32_text_values takes a float32 array, not {array.dtype}")
    flat = array.reshape(-1)
    with np.errstate(invalid="ignore"):  # a signalling NaN warns as it widens
        wide = flat.astype(np.float64)
    values = wide.copy()
    values[np.isnan(wide)] = np.nan  # the text "NaN" reads back as the one positive NaN
    todo = np.flatnonzero(np.isfinite(flat) & (flat != 0))
    if todo.size == 0:
        return values.reshape(array.shape)
    six, unsure_six = _rounded(wide[todo], 6)
    exact = six.astype(np.float32) == flat[todo]
    nine, unsure_nine = _rounded(wide[todo], 9)
    values[todo] = np.where(exact, six, nine)
    # where six digits were unsure, whether they round-trip is unsure too
    redo = todo[unsure_six | (~exact & unsure_nine)]
    for index in redo.tolist():
        number = float(wide[index])
        text_six = _printed(number, 6)
        exact_six = np.float32(text_six) == flat[index]
        values[index] = text_six if exact_six else _printed(number, 9)
    return values.reshape(array.shape)
