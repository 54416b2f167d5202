"""`--rate-window-s`: a request budget per fixed window longer than a second, over real HTTP."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from extract.sandbox import SandboxConfig, serve_in_thread
from extract.sandbox.__main__ import config_from_args

from .conftest import Client

REPO = Path(__file__).resolve().parents[2]
WINDOW_S = 3.0


def _start_early_in_a_window(window_s: float, at_least_s: float) -> None:
    """Sleep into the next epoch-aligned window unless `at_least_s` of this one remain."""
    left = window_s - time.time() % window_s
    if left < at_least_s:
        time.sleep(left + 0.01)


def _reset(resp: requests.Response) -> float:
    return float(resp.headers["x-ratelimit-reset"])


def test_sixth_request_in_a_three_second_window_is_429_until_the_window_ends() -> None:
    with serve_in_thread(SandboxConfig(rate_limit=5, rate_window_s=WINDOW_S)) as sb:
        client = Client(sb)
        _start_early_in_a_window(WINDOW_S, at_least_s=2.5)
        responses = [client.get("selector/owners") for _ in range(6)]
        assert [r.status_code for r in responses] == [200] * 5 + [429]
        assert [r.headers["x-ratelimit-remaining"] for r in responses] == list("432100")
        assert all(r.headers["x-ratelimit-limit"] == "5" for r in responses)
        limited = responses[5]
        assert limited.json()["errors"]["code"] == 429
        # more than a one-second window could have left, at most the three-second one
        assert 2.0 < _reset(limited) <= WINDOW_S
        assert 1 <= int(limited.headers["Retry-After"]) <= 3
        assert int(limited.headers["Retry-After"]) == max(1, math.ceil(_reset(limited)))
        # the window ends on a multiple of 3 s since the epoch
        end = time.time() + _reset(limited)
        assert min(end % WINDOW_S, WINDOW_S - end % WINDOW_S) < 0.1

        time.sleep(1.1)  # a one-second window would have reset by now; this one has not
        still = client.get("selector/owners")
        assert still.status_code == 429
        assert 0 < _reset(still) < _reset(limited) - 1
        assert 1 <= int(still.headers["Retry-After"]) <= 2

        time.sleep(_reset(still) + 0.05)
        again = [client.get("selector/owners") for _ in range(2)]
        assert [r.status_code for r in again] == [200, 200]
        assert [r.headers["x-ratelimit-remaining"] for r in again] == ["4", "3"]
        assert _reset(again[0]) > WINDOW_S - 1


def test_sub_second_windows_work_too() -> None:
    with serve_in_thread(SandboxConfig(rate_limit=2, rate_window_s=0.5)) as sb:
        client = Client(sb)
        _start_early_in_a_window(0.5, at_least_s=0.4)
        codes = [client.get("selector/owners").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        time.sleep(0.5)
        assert client.get("selector/owners").status_code == 200


def test_default_window_is_one_second() -> None:
    assert SandboxConfig().rate_window_s == 1.0
    assert config_from_args([]).rate_window_s == 1.0
    config = config_from_args(["--rate-limit", "1000", "--rate-window-s", "3600"])
    assert (config.rate_limit, config.rate_window_s) == (1000, 3600.0)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_window_must_be_a_positive_number_of_seconds(bad: float) -> None:
    with pytest.raises(ValueError, match="--rate-window-s"):
        SandboxConfig(rate_limit=5, rate_window_s=bad).validate()


def test_cli_refuses_a_zero_window_in_one_line() -> None:
    done = subprocess.run([sys.executable, "-m", "extract.sandbox", "--rate-window-s", "0"],
                          cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--rate-window-s" in lines[0], done.stderr
