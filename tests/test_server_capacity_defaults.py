"""The serve defaults drawn from the load benchmark: streams per core, workers, decodes."""

from __future__ import annotations

import pytest

from flux_cli.engine.models.cpu import exact_int8_needed
from flux_cli.server.capacity import decodes_per_worker, default_max_streams, default_workers
from flux_cli.server.options import ServeOptions


def test_capacity_is_six_streams_per_usable_core() -> None:
    assert default_max_streams(2, slow_int8=False) == 12  # 14 held within 1.25x on 2 VNNI cores
    assert default_max_streams(1, slow_int8=False) == 6


def test_capacity_is_three_streams_per_core_where_int8_needs_the_exact_kernels() -> None:
    assert default_max_streams(2, slow_int8=True) == 6  # 6 held within 1.25x on 2 AVX2 cores
    assert default_max_streams(1, slow_int8=True) == 3


def test_the_machines_own_kind_decides_when_not_told() -> None:
    slow = exact_int8_needed()
    assert default_max_streams(2) == default_max_streams(2, slow_int8=slow)


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 1), (4, 1), (5, 2), (8, 2),
                                                (16, 4)])
def test_one_worker_serves_up_to_four_cores(cores: int, workers: int) -> None:
    assert default_workers(cores) == workers


def test_each_worker_decodes_on_its_share_of_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLUX_DECODES_PER_WORKER", raising=False)
    assert decodes_per_worker(1, cores=2) == 2
    assert decodes_per_worker(2, cores=8) == 4
    assert decodes_per_worker(4, cores=2) == 1
    monkeypatch.setenv("FLUX_DECODES_PER_WORKER", "3")
    assert decodes_per_worker(1, cores=2) == 3


def test_an_explicit_flag_wins_over_the_defaults() -> None:
    assert ServeOptions(workers=3, max_streams=5).worker_count == 3
    assert ServeOptions(workers=3, max_streams=5).stream_limit == 5
