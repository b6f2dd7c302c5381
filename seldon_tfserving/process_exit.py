"""Ending a server process once everything in it has stopped, without Python's finalization:
with TensorFlow loaded that takes seconds (3.5 s seen on a loaded machine), past every stop's
bound. Only the logs and the standard streams are flushed first."""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn


def exit_now(code: int | str | None) -> NoReturn:
    """Exit with `code` (`sys.exit`'s kinds: None is 0, a message is 1) at once."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stream must not keep us alive
            pass
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))
