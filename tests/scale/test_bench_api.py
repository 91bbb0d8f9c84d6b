"""bench/api.py's repeated paced mix (issue 18): each percentile is the median of the runs', counts add up,
and every run's p95 is kept to show the spread."""
from bench.api import merge_runs


def _run(p95: int, requests: int = 10, non2xx: int = 0) -> dict:
    return {"status": {"requests": requests, "duration_us": 60_000_000, "non2xx": non2xx, "socket_errors": 0,
                       "p50_us": p95 // 2, "p95_us": p95, "p99_us": p95 * 2, "mean_us": p95 // 2}}


def test_repeated_runs_report_the_median_of_each_percentile() -> None:
    merged = merge_runs([_run(30_000), _run(90_000, non2xx=1), _run(40_000)])["status"]
    assert merged["p95_us"] == 40_000 and merged["p50_us"] == 20_000 and merged["p99_us"] == 80_000
    assert merged["requests"] == 30 and merged["duration_us"] == 180_000_000 and merged["non2xx"] == 1
    assert merged["p95_runs_us"] == [30_000, 90_000, 40_000]


def test_one_run_is_reported_as_it_is() -> None:
    one = _run(30_000)
    assert merge_runs([one]) is one
