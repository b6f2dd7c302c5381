"""A user's class whose process tree will not stop on SIGTERM, for `up`'s stop to bound.

Copied into the folder `up` runs from, as a user's own module, and run with `up --allow-class
stubborn_model`. Its constructor forks a helper that leaves the component's process group and
ignores SIGTERM, as a daemonising library might: a signal to the group misses it, and only the
runner's SIGKILL after the grace ends it. The helper writes its pid to the file the `pid_file`
parameter names, so that a test can watch it. The class itself answers like an identity model.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any


class StubbornModel:
    def __init__(self, pid_file: str) -> None:
        if os.fork() == 0:
            try:
                os.setsid()
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                Path(pid_file).write_text(str(os.getpid()))
                while True:
                    time.sleep(1)
            finally:
                os._exit(0)

    def predict(self, X: Any, features_names: Any = None) -> Any:
        return X

    def health_status(self) -> list[int]:
        return [1]
