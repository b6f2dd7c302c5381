"""`seldon-tfserving log-sink --dir DIR`: receive request logs until SIGTERM, then flush.

Point a deployment's `logger.url` (or REQUEST_LOGGER_DEFAULT_ENDPOINT) at it. SIGTERM or
Ctrl-C stops taking events, writes every event already answered, and exits 0.

The sink only reads protos, so `tensorflow` is made the bare package of its generated protos
(`tensorflow_protos_only`) before anything imports it: TensorFlow's runtime is most of the
process's memory and start-up, and none of its work.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from seldon_tfserving.logs.server import SinkService
from seldon_tfserving.logs.sink import LogSink, SinkSettings, load_proto_readers
from seldon_tfserving.tensorflow_protos_only import load_tensorflow_protos_only


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argparse type: a number above 0 of `kind`."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
        return value

    return parse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, required=True, help="where Parquet files go")
    parser.add_argument("--host", default="127.0.0.1", help="where the sink listens")
    parser.add_argument("--port", type=int, default=8090, help="its HTTP port (0: any free)")
    parser.add_argument(
        "--batch-rows", type=_positive(int), default=1000, help="write after this many rows"
    )
    parser.add_argument(
        "--batch-seconds", type=_positive(float), default=5.0, help="... or this many seconds"
    )
    parser.add_argument(
        "--settle-seconds",
        type=_positive(float),
        default=1.0,
        help="a prediction is written once none of its events came for this long",
    )
    parser.add_argument(
        "--max-pending",
        type=_positive(int),
        default=10_000,
        help="predictions held in memory at most (the oldest is written first)",
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = SinkSettings(
        root=args.dir,
        batch_rows=args.batch_rows,
        batch_s=args.batch_seconds,
        settle_s=args.settle_seconds,
        max_pending=args.max_pending,
    )
    load_tensorflow_protos_only()  # before the protobuf readers import TensorFlow's protos
    load_proto_readers()
    try:
        service = SinkService(LogSink(settings), args.host, args.port)
    except OSError as error:
        print(f"error: the sink cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    service.start()
    print(f"log sink on http://{args.host}:{service.port}/ writing to {args.dir}", flush=True)
    stop.wait()
    service.stop()
    print("log sink stopped; everything received is written", flush=True)
    return 0
