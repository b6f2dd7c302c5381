"""Server-side batching: concurrent runs merged into one session run and split back, each caller
getting its own rows, with TF Serving's limits and messages; one run's fault stays its own.

The scheduler is specified with a stand-in session (it records what it was asked to run and
answers 10x its input) so batches can be seen; then with real SavedModels and the real server.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from seldon_tfserving.backend.batching import BatchScheduler
from seldon_tfserving.backend.batching_parameters import BatchingParameters
from seldon_tfserving.backend.config import resolve_sources, single_model_config
from seldon_tfserving.backend.core import ModelRef
from seldon_tfserving.backend.loader import LoadedVersion
from seldon_tfserving.backend.loading import load_serving_core
from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from seldon_tfserving.errors import (
    ConfigurationError,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidInput,
    Unavailable,
)
from tests.servers import TFSERVING_TESTDATA, VENV_BIN, start_backend
from tests.waiting import eventually

Array = np.ndarray[Any, Any]


class StandInSession:
    """Answers `y` = 10 * `x`; refuses negative input as a model would; can be held."""

    def __init__(self) -> None:
        self.batches: list[Array] = []
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()

    def run(
        self, feeds: Mapping[str, Array], fetches: Sequence[str], timeout_ms: int | None
    ) -> list[Array]:
        self.started.set()
        self.release.wait(10)
        x = feeds["x"]
        self.batches.append(x)
        if (x < 0).any():
            raise InvalidInput("x must not be negative")
        return [x * 10 for _ in fetches]


@pytest.fixture
def session() -> StandInSession:
    return StandInSession()


@pytest.fixture
def scheduler_for(session: StandInSession) -> Iterator[Callable[..., BatchScheduler]]:
    made: list[BatchScheduler] = []

    def make(**parameters: Any) -> BatchScheduler:
        scheduler = BatchScheduler(session.run, BatchingParameters(**parameters), "m/1")
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.close()


def rows(*values: float, width: int = 1) -> Array:
    return np.array([[v] * width for v in values], dtype=np.float32)


def run_together(scheduler: BatchScheduler, inputs: list[Array], **run: Any) -> list[Any]:
    """Submit every input at once; each caller's answer (or the error it got)."""

    def call(x: Array) -> Any:
        try:
            return scheduler.run({"x": x}, ["y"], **run)[0]
        except Exception as error:  # the test looks at which caller got which error
            return error

    with ThreadPoolExecutor(len(inputs)) as pool:
        return list(pool.map(call, inputs))


def test_concurrent_runs_become_one_session_run_and_each_gets_its_own_rows(
    scheduler_for: Callable[..., BatchScheduler], session: StandInSession
) -> None:
    scheduler = scheduler_for(max_batch_size=16, batch_timeout_micros=1_000_000)
    inputs = [rows(1), rows(2, 3), rows(4), rows(5, 6, 7)]
    answers = run_together(scheduler, inputs)
    for x, answer in zip(inputs, answers, strict=True):
        np.testing.assert_array_equal(answer, x * 10)
    assert len(session.batches) == 1 and session.batches[0].shape == (7, 1)


def test_a_full_batch_runs_at_once_and_the_rest_go_in_the_next(
    scheduler_for: Callable[..., BatchScheduler], session: StandInSession
) -> None:
    scheduler = scheduler_for(max_batch_size=4, batch_timeout_micros=5_000_000, num_batch_threads=2)
    started = time.monotonic()
    answers = run_together(scheduler, [rows(1, 2), rows(3, 4)])
    assert time.monotonic() - started < 4  # full: no wait for the 5 s timeout
    assert [a.ravel().tolist() for a in answers] == [[10, 20], [30, 40]]
    with pytest.raises(InvalidInput, match="Task size 5 is larger than maximum input batch size 4"):
        scheduler.run({"x": rows(1, 2, 3, 4, 5)}, ["y"])


def test_allowed_batch_sizes_pad_the_batch_with_a_repeated_row(
    scheduler_for: Callable[..., BatchScheduler], session: StandInSession
) -> None:
    scheduler = scheduler_for(max_batch_size=8, allowed_batch_sizes=(2, 4, 8))
    (answer,) = run_together(scheduler, [rows(7, 8, 9)])
    np.testing.assert_array_equal(answer, rows(70, 80, 90))
    np.testing.assert_array_equal(session.batches[0], rows(7, 8, 9, 7))


def test_runs_of_other_shapes_go_in_other_batches(
    scheduler_for: Callable[..., BatchScheduler], session: StandInSession
) -> None:
    scheduler = scheduler_for(max_batch_size=16, batch_timeout_micros=300_000)
    narrow, wide = rows(1, 2), rows(3, width=3)
    answers = run_together(scheduler, [narrow, wide])
    np.testing.assert_array_equal(answers[0], narrow * 10)
    np.testing.assert_array_equal(answers[1], wide * 10)
    assert sorted(b.shape for b in session.batches) == [(1, 3), (2, 1)]


def test_variable_length_inputs_are_padded_with_their_own_first_value(
    scheduler_for: Callable[..., BatchScheduler], session: StandInSession
) -> None:
    scheduler = scheduler_for(batch_timeout_micros=1_000_000, pad_variable_length_inputs=True)
    short = np.array([[1.0, 2.0]], dtype=np.float32)
    long = np.array([[3.0, 4.0, 5.0]], dtype=np.float32)
    answers = run_together(scheduler, [short, long])
    assert len(session.batches) == 1
    np.testing.assert_array_equal(session.batches[0], [[1.0, 2.0, 1.0], [3.0, 4.0, 5.0]])
    np.testing.assert_array_equal(answers[0], [[10.0, 20.0, 10.0]])


def test_one_bad_run_fails_alone_and_the_others_in_its_batch_are_answered(
    scheduler_for: Callable[..., BatchScheduler], session: StandInSession
) -> None:
    scheduler = scheduler_for(max_batch_size=16, batch_timeout_micros=300_000)
    answers = run_together(scheduler, [rows(1), rows(-1), rows(2)])
    np.testing.assert_array_equal(answers[0], rows(10))
    assert isinstance(answers[1], InvalidInput) and "negative" in answers[1].message
    np.testing.assert_array_equal(answers[2], rows(20))


def test_a_full_queue_turns_runs_away_with_unavailable(
    scheduler_for: Callable[..., BatchScheduler], session: StandInSession
) -> None:
    scheduler = scheduler_for(max_batch_size=1, max_enqueued_batches=1, num_batch_threads=1)
    session.release.clear()
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(scheduler.run, {"x": rows(1)}, ["y"])
        assert session.started.wait(10)  # the only thread is busy with it
        queued = pool.submit(scheduler.run, {"x": rows(2)}, ["y"])
        eventually(lambda: scheduler.queued_runs() == 1, interval_s=0.01, awaited="one run queued")
        with pytest.raises(Unavailable, match="batch scheduling queue .* is full"):
            scheduler.run({"x": rows(3)}, ["y"])
        session.release.set()
        np.testing.assert_array_equal(running.result(10)[0], rows(10))
        np.testing.assert_array_equal(queued.result(10)[0], rows(20))


def test_a_run_whose_deadline_passes_in_the_queue_gets_deadline_exceeded(
    scheduler_for: Callable[..., BatchScheduler], session: StandInSession
) -> None:
    scheduler = scheduler_for(max_batch_size=1, num_batch_threads=1)
    session.release.clear()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(scheduler.run, {"x": rows(1)}, ["y"])
        assert session.started.wait(10)
        with pytest.raises(DeadlineExceeded):
            scheduler.run({"x": rows(2)}, ["y"], timeout_ms=100)
        session.release.set()
        np.testing.assert_array_equal(running.result(10)[0], rows(10))
    assert scheduler.queued_runs() == 0  # the late run left its batch ...
    assert [b.ravel().tolist() for b in session.batches] == [[1.0]]  # ... and never ran


@pytest.mark.parametrize(
    ("feeds", "says"),
    [
        ({}, "must have at least one input tensor"),
        ({"x": np.float32(1.0)}, "must have at least one dimension"),
        ({"x": rows(1), "z": rows(1, 2)}, "must have equal 0th-dimension size"),
    ],
)
def test_runs_that_cannot_be_batched_are_refused_with_tf_servings_message(
    scheduler_for: Callable[..., BatchScheduler], feeds: dict[str, Any], says: str
) -> None:
    with pytest.raises(InvalidInput, match=says):
        scheduler_for().run({k: np.asarray(v) for k, v in feeds.items()}, ["y"])


def test_outputs_that_do_not_follow_the_batch_fail_with_failed_precondition() -> None:
    def summing(feeds: Mapping[str, Array], fetches: Sequence[str], _: int | None) -> list[Array]:
        return [feeds["x"].sum(axis=0, keepdims=True)]

    scheduler = BatchScheduler(summing, BatchingParameters(), "m/1")
    try:
        with pytest.raises(FailedPrecondition, match="0th dimension does not equal"):
            scheduler.run({"x": rows(1, 2)}, ["y"])
    finally:
        scheduler.close()


def test_batches_run_on_the_callers_threads_and_leave_no_thread_behind(
    scheduler_for: Callable[..., BatchScheduler], session: StandInSession
) -> None:
    ran_on: list[str] = []
    plain_run = session.run

    def recording(feeds: Any, fetches: Any, timeout_ms: Any) -> list[Array]:
        ran_on.append(threading.current_thread().name)
        return plain_run(feeds, fetches, timeout_ms)

    session.run = recording  # type: ignore[method-assign]
    scheduler = BatchScheduler(session.run, BatchingParameters(batch_timeout_micros=100_000), "m")
    before = threading.active_count()
    with ThreadPoolExecutor(4, thread_name_prefix="caller") as pool:
        answers = list(pool.map(lambda v: scheduler.run({"x": rows(v)}, ["y"])[0], [1, 2, 3, 4]))
        assert threading.active_count() <= before + 4  # the callers, and nobody else
    assert [a.ravel().tolist() for a in answers] == [[10], [20], [30], [40]]
    assert ran_on and all(name.startswith("caller") for name in ran_on)
    scheduler.close()


def test_closing_fails_queued_runs_and_refuses_new_ones(
    scheduler_for: Callable[..., BatchScheduler], session: StandInSession
) -> None:
    scheduler = scheduler_for(max_batch_size=1, num_batch_threads=1)
    session.release.clear()
    with ThreadPoolExecutor(2) as pool:
        pool.submit(scheduler.run, {"x": rows(1)}, ["y"])
        assert session.started.wait(10)
        queued = pool.submit(scheduler.run, {"x": rows(2)}, ["y"])
        eventually(lambda: scheduler.queued_runs() == 1, interval_s=0.01, awaited="one run queued")
        scheduler.close()
        with pytest.raises(Unavailable, match="unloaded"):
            queued.result(10)
        session.release.set()
    with pytest.raises(Unavailable):
        scheduler.run({"x": rows(3)}, ["y"])


# -- the parameters file ---------------------------------------------------------------------


def test_the_parameters_file_is_tf_servings_text_proto() -> None:
    parameters = BatchingParameters.parse(
        """
        max_batch_size { value: 64 }
        batch_timeout_micros { value: 2000 }
        max_enqueued_batches { value: 100 }
        num_batch_threads { value: 3 }
        thread_pool_name { value: "shared" }
        allowed_batch_sizes: 16
        allowed_batch_sizes: 64
        pad_variable_length_inputs: true
        """
    )
    assert parameters == BatchingParameters(
        max_batch_size=64,
        batch_timeout_micros=2000,
        max_enqueued_batches=100,
        num_batch_threads=3,
        allowed_batch_sizes=(16, 64),
        pad_variable_length_inputs=True,
    )
    assert BatchingParameters.parse("") == BatchingParameters()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("max_batch_sise { value: 8 }", "max_batch_sise"),
        ("max_batch_size { value: 8 } allowed_batch_sizes: 4", "must match max_batch_size"),
        ("max_batch_size { value: 8 } allowed_batch_sizes: 8 allowed_batch_sizes: 4", "increasing"),
        ("num_batch_threads { value: 0 }", "at least 1"),
        ("enable_large_batch_splitting { value: true }", "not supported"),
    ],
)
def test_a_wrong_parameters_file_names_the_problem(text: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        BatchingParameters.parse(text)


# -- real models -----------------------------------------------------------------------------


def test_a_real_model_answers_every_concurrent_caller_from_fewer_session_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session_runs: list[int] = []
    run_now = LoadedVersion._run_now

    def counted(self: LoadedVersion, feeds: Any, fetches: Any, timeout_ms: Any) -> Any:
        session_runs.append(next(iter(feeds.values())).shape[0])
        return run_now(self, feeds, fetches, timeout_ms)

    monkeypatch.setattr(LoadedVersion, "_run_now", counted)
    base = TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu"
    core = load_serving_core(
        resolve_sources(single_model_config("half", str(base))),
        warm_up=False,
        batching=BatchingParameters(batch_timeout_micros=300_000, num_batch_threads=1),
    )
    try:
        inputs = [rows(float(i), float(i) + 0.5) for i in range(8)]
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(lambda x: core.predict(ModelRef("half"), "", {"x": x}).outputs, inputs)
            )
        for x, answer in zip(inputs, answers, strict=True):
            np.testing.assert_allclose(answer["y"], x * 0.5 + 2)
        assert sum(session_runs) == 16 and len(session_runs) < 8

        counter = TFSERVING_TESTDATA / "saved_model_counter"
        counting = load_serving_core(
            resolve_sources(single_model_config("counter", str(counter))),
            batching=BatchingParameters(),
        )
        try:  # TF Serving's batching session refuses runs without inputs too
            with pytest.raises(InvalidInput, match="at least one input tensor"):
                counting.predict(ModelRef("counter"), "incr_counter", {})
        finally:
            counting.close()
    finally:
        core.close()


def test_the_server_batches_when_asked_and_refuses_a_file_without_the_flag(
    tmp_path: Path, log_dir: Path
) -> None:
    parameters = tmp_path / "batching.txt"
    parameters.write_text("max_batch_size { value: 32 }\nbatch_timeout_micros { value: 20000 }\n")
    base = TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu"
    model_args = ["--model_name=half", f"--model_base_path={base}"]
    refused = subprocess.run(
        [
            str(VENV_BIN / "seldon-tfserving"),
            "serve-models",
            "--port=0",
            *model_args,
            f"--batching_parameters_file={parameters}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    assert "without setting server_options.enable_batching" in refused.stderr

    backend = start_backend(
        log_dir,
        [*model_args, "--enable_batching", f"--batching_parameters_file={parameters}"],
        ready_model="half",
    )
    try:
        with grpc.insecure_channel(backend.grpc_endpoint) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

            def predict(x: Array) -> Array:
                request = predict_pb2.PredictRequest()
                request.model_spec.name = "half"
                request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(x))
                return tensor_proto_to_ndarray(stub.Predict(request, timeout=30).outputs["y"])

            inputs = [rows(float(i)) for i in range(16)]
            with ThreadPoolExecutor(16) as pool:
                answers = list(pool.map(predict, inputs))
        for x, answer in zip(inputs, answers, strict=True):
            np.testing.assert_allclose(answer, x * 0.5 + 2)
    finally:
        backend.server.stop()
