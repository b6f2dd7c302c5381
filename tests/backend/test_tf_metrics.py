"""The metrics page is written as TF Serving's PrometheusExporter writes it: the cases of its own
prometheus_exporter_test.cc (counter, histogram, sanitized names and values), and what
prometheus_client's parser reads back."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from seldon_tfserving.backend.monitoring import EXAMPLE_COUNT_BUCKETS, LATENCY_BUCKETS_US
from seldon_tfserving.backend.tf_metrics import (
    CounterFamily,
    SamplerFamily,
    exponential_buckets,
    exporter_page,
    prometheus_metric_name,
)


def page_of(*families: CounterFamily | SamplerFamily) -> str:
    return exporter_page((family.name, family.lines()) for family in families)


def test_a_counter_is_a_type_line_and_one_line_per_cell() -> None:
    counter = CounterFamily("/test/path/total", ("name",))
    counter.increment("abc", by=2)
    assert page_of(counter) == ('# TYPE :test:path:total counter\n:test:path:total{name="abc"} 2\n')


def test_an_unlabelled_counter_keeps_its_empty_braces() -> None:
    counter = CounterFamily("/tensorflow/serving/batching_session/wrapped_run_count")
    counter.increment()
    assert page_of(counter).splitlines()[1] == (
        ":tensorflow:serving:batching_session:wrapped_run_count{} 1"
    )


def test_a_histogram_counts_each_sample_in_the_first_bucket_above_it() -> None:
    histogram = SamplerFamily("/test/path/histogram", ("status",), exponential_buckets(1, 2, 10))
    for sample in (2, 20, 200):
        histogram.add("good", sample=sample)
    assert page_of(histogram).splitlines() == [
        "# TYPE :test:path:histogram histogram",
        ':test:path:histogram_bucket{status="good",le="1"} 0',
        ':test:path:histogram_bucket{status="good",le="2"} 0',
        ':test:path:histogram_bucket{status="good",le="4"} 1',
        ':test:path:histogram_bucket{status="good",le="8"} 1',
        ':test:path:histogram_bucket{status="good",le="16"} 1',
        ':test:path:histogram_bucket{status="good",le="32"} 2',
        ':test:path:histogram_bucket{status="good",le="64"} 2',
        ':test:path:histogram_bucket{status="good",le="128"} 2',
        ':test:path:histogram_bucket{status="good",le="256"} 3',
        ':test:path:histogram_bucket{status="good",le="512"} 3',
        ':test:path:histogram_bucket{status="good",le="+Inf"} 3',
        ':test:path:histogram_sum{status="good"} 222',
        ':test:path:histogram_count{status="good"} 3',
    ]


def test_label_values_escape_backslashes_and_quotes() -> None:
    counter = CounterFamily("/test/path/total", ("name",))
    counter.increment('"abc\\"', by=2)
    assert page_of(counter).splitlines()[1] == ':test:path:total{name="\\"abc\\\\\\""} 2'


def test_label_and_metric_names_are_sanitized() -> None:
    counter = CounterFamily("0/path-total_count", ("my-name+1",))
    counter.increment("abc", by=2)
    assert page_of(counter) == (
        '# TYPE _0:path:total_count counter\n_0:path:total_count{my_name_1="abc"} 2\n'
    )
    assert prometheus_metric_name("/tensorflow/serving/request_count") == (
        ":tensorflow:serving:request_count"
    )


def test_families_come_in_the_order_of_their_tensorflow_names() -> None:
    later = CounterFamily("/tensorflow/serving/request_count", ("model_name", "status"))
    earlier = CounterFamily("/tensorflow/core/saved_model/read/count", ("write_version",))
    types = [line for line in page_of(later, earlier).splitlines() if line.startswith("#")]
    assert types == [
        "# TYPE :tensorflow:core:saved_model:read:count counter",
        "# TYPE :tensorflow:serving:request_count counter",
    ]


def test_tf_servings_bucket_limits() -> None:
    assert len(LATENCY_BUCKETS_US) == 33
    assert LATENCY_BUCKETS_US[:3] == (10, 18, 32.4)
    assert EXAMPLE_COUNT_BUCKETS == tuple(float(2**i) for i in range(15))


def test_prometheus_clients_parser_reads_the_page_back() -> None:
    latency = SamplerFamily(
        "/tensorflow/serving/request_latency",
        ("model_name", "API", "entrypoint"),
        LATENCY_BUCKETS_US,
    )
    latency.add("half", "predict", "REST", sample=1234567.0)
    families = {f.name: f for f in text_string_to_metric_families(page_of(latency))}
    histogram = families[":tensorflow:serving:request_latency"]
    assert histogram.type == "histogram"
    by_name = {(s.name, s.labels.get("le")): s.value for s in histogram.samples}
    assert by_name[(":tensorflow:serving:request_latency_count", None)] == 1
    # absl writes the sum with six digits, as TF Serving's page does
    assert by_name[(":tensorflow:serving:request_latency_sum", None)] == 1234570.0
    assert by_name[(":tensorflow:serving:request_latency_bucket", "+Inf")] == 1
    assert {s.labels["entrypoint"] for s in histogram.samples} == {"REST"}
