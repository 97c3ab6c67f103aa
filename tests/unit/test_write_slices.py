"""How many chunks one Chroma write call takes: sized from the time the previous call took."""

from __future__ import annotations

from agent_brain_mcp.backends.chroma.slices import WriteSlicer


def test_the_first_call_takes_the_fewest_rows_because_its_cost_is_unknown() -> None:
    assert WriteSlicer(budget_s=0.1, fewest=8, most=128).size() == 8


def test_a_slow_call_shrinks_the_next_one_to_fit_the_budget() -> None:
    slicer = WriteSlicer(budget_s=0.1, fewest=4, most=128)
    slicer.took(64, 0.8)  # 12.5 ms per row
    assert slicer.size() == 8
    slicer.took(8, 3.0)  # far slower than the budget: never under the fewest
    assert slicer.size() == 4


def test_fast_calls_grow_the_slice_at_most_twofold_per_call_up_to_the_most() -> None:
    slicer = WriteSlicer(budget_s=0.1, fewest=8, most=128)
    sizes = []
    for _ in range(6):
        rows = slicer.size()
        slicer.took(rows, rows * 0.0001)  # 0.1 ms per row: a thousand rows would fit
        sizes.append(slicer.size())
    assert sizes == [16, 32, 64, 128, 128, 128]


def test_an_empty_call_teaches_nothing() -> None:
    slicer = WriteSlicer(budget_s=0.1, fewest=8, most=128)
    slicer.took(0, 5.0)
    assert slicer.size() == 8


def test_with_no_search_running_a_call_takes_the_most_rows_whatever_the_budget() -> None:
    slicer = WriteSlicer(budget_s=0.1, fewest=8, most=128)
    slicer.took(64, 0.8)
    assert slicer.size(searching=True) == 8
    assert slicer.size(searching=False) == 128
