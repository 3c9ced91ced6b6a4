"""Each benchmark configuration writes a results file of its own (no stack is started here)."""

import pytest

from bench import bulk_send, lanes, mixed_load


def _bulk_name(*argv: str) -> str:
    return bulk_send.results_name(bulk_send.arguments(list(argv)))


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        ((), "bulk_send"),
        (("--smoke",), "bulk_send"),  # under var/bench/, where the smoke test reads it
        (("--push-batch", "100"), "bulk_send-push100"),
        (("--recipients", "3000", "--baseline", "0"), "bulk_send-r3000-baseline0"),
        (
            ("--recipients", "3000", "--baseline", "0", "--push-batch", "100"),
            "bulk_send-push100-r3000-baseline0",
        ),
        (("--nodes", "2", "--baseline", "0", "--push-batch", "100"), "bulk_send-nodes2-push100-baseline0"),
        (("--sizes", "10000,100000,1000000", "--baseline", "0"), "bulk_send_sizes-baseline0"),
        (("--sizes", "10000", "--baseline", "0"), "bulk_send_sizes-sizes10000-baseline0"),
        (("--report-delay-ms", "50"), "bulk_send-delay50ms"),
        (("--recipients", "20000", "--calls", "4"), "bulk_send-r20000-calls4"),
    ],
)
def test_a_bulk_run_is_named_by_every_option_that_is_not_the_default(argv, name):
    assert _bulk_name(*argv) == name


def test_the_two_push_shapes_of_make_bench_bulk_write_two_files():
    assert _bulk_name() != _bulk_name("--push-batch", "100")


def test_a_mixed_load_run_is_named_by_its_push_shape_size_and_reads():
    def name(*argv: str) -> str:
        args = mixed_load.parse(list(argv))
        total = args.recipients or bulk_send.default_recipients(args.smoke)
        return "mixed_load" + mixed_load.results_suffix(args, mixed_load.layout_of(args), total)

    assert name() == name("--smoke") == "mixed_load"
    assert name("--push-batch", "100", "--read-web", "1") == "mixed_load-push100-readweb1"
    assert name("--recipients", "3000", "--connections", "4") == "mixed_load-r3000-conn4"


def test_a_lanes_run_names_its_blast_size_always_and_every_other_option_that_is_not_the_default():
    def name(*argv: str) -> str:
        return lanes.results_name(lanes.arguments(list(argv)))

    assert name() == "lanes-r150000"
    assert name("--smoke") == "lanes"  # under var/bench/, where the smoke test reads it
    assert name("--blast", "1000000") == "lanes-r1000000"
    assert (
        name("--blast", "50000", "--latency-ms", "500", "--push-batch", "100", "--bulk", "4")
        == "lanes-r50000-latency500ms-lanes2x4x2-push100"
    )
    assert (
        name("--codes", "50", "--storm", "10000", "--no-before")
        == "lanes-r150000-codes50-storm10000-nobefore"
    )
    assert name("--before-concurrency", "2", "--no-final") == "lanes-r150000-before2-nofinal"
    assert name("--before-concurrency", "6") == "lanes-r150000"  # the lanes' total: the default
