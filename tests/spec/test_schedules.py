"""Schedules against hand-computed values, and the registry the loss language reads."""

import pytest

from gaespec.spec.schedules import SCHEDULES, cyclical, linear, schedule, warmup


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 0.0), (25_000, 6.25), (50_000, 12.5), (100_000, 25.0), (200_000, 25.0)],
)
def test_linear_from_start_to_end_then_holds(step, expected):
    assert linear(0, 25, 100_000, step=step) == expected


def test_linear_can_decrease():
    assert [linear(1, 0, 4, step=s) for s in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 0.0), (25, 0.5), (50, 1.0), (75, 1.0), (99, 1.0), (100, 0.0), (125, 0.5), (250, 1.0)],
)
def test_cyclical_ramps_over_half_of_each_cycle_by_default(step, expected):
    assert cyclical(0, 1, 100, step=step) == expected


def test_cyclical_ratio_sets_the_ramp_length():
    assert [cyclical(0, 1, 8, 0.25, step=s) for s in range(10)] == [
        0.0,
        0.5,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        0.0,
        0.5,
    ]


def test_warmup():
    assert [warmup(4, step=s) for s in (0, 1, 2, 4, 10)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    assert warmup(4, 2.0, step=2) == 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: linear(0, 1, 0, step=0), "linear() steps must be > 0, got 0"),
        (lambda: warmup(-5, step=0), "warmup() steps must be > 0, got -5"),
        (lambda: cyclical(0, 1, 0, step=0), "cyclical() period must be > 0, got 0"),
        (lambda: cyclical(0, 1, 10, 1.5, step=0), "cyclical() ratio must be in (0, 1], got 1.5"),
    ],
)
def test_bad_parameters_raise(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value) == message


def test_registry_knows_parameters_and_defaults():
    assert sorted(SCHEDULES) == ["cyclical", "linear", "warmup"]
    cyc = SCHEDULES["cyclical"]
    assert cyc.params == ("start", "end", "period", "ratio")
    assert cyc.defaults == {"ratio": 0.5}
    assert (cyc.min_args, cyc.max_args) == (3, 4)
    assert cyc.signature == "start, end, period, ratio=0.5"
    assert SCHEDULES["warmup"].signature == "steps, value=1.0"
    assert SCHEDULES["linear"](0, 25, 100_000, step=50_000) == 12.5


def test_registering_twice_raises():
    with pytest.raises(ValueError) as error:
        schedule(linear)
    assert str(error.value) == "schedule 'linear' is registered twice"
