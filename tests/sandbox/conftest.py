"""Fixtures: real sandboxes on free ports, and a small HTTP client for them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from extract.sandbox import RunningSandbox, SandboxConfig, serve_in_thread

VIEW_IDS = {
    "sales_accounts": {"all": 201_000_000_101, "mine": 201_000_000_102,
                       "deleted": 201_000_000_103},
    "contacts": {"all": 202_000_000_201, "mine": 202_000_000_202, "deleted": 202_000_000_203},
    "deals": {"all": 203_000_000_301, "open": 203_000_000_302, "won": 203_000_000_303,
              "lost": 203_000_000_304, "mine": 203_000_000_305, "deleted": 203_000_000_306},
}


class Client:
    """requests.Session bound to one sandbox, with the API key set."""

    def __init__(self, sb: RunningSandbox) -> None:
        self.sb = sb
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token token={sb.api_key}"
        self.root = sb.base_url[: -len("/crm/sales")]

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(f"{self.sb.base_url}/api/{path}", params=params, timeout=10)

    def put(self, path: str, body: Any) -> requests.Response:
        return self.session.put(f"{self.sb.base_url}/api/{path}", json=body, timeout=10)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(f"{self.sb.base_url}/api/{path}", json=body, timeout=10)

    def mutate(self, body: dict[str, Any]) -> requests.Response:
        return self.session.post(f"{self.root}/admin/mutate", json=body, timeout=10)

    def view(self, module: str, key: str, **params: Any) -> dict[str, Any]:
        resp = self.get(f"{module}/view/{VIEW_IDS[module][key]}", **params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def read_all(self, module: str, key: str, per_page: int, **params: Any) -> list[dict]:
        """Every record of a view, page by page until an empty page; checks meta."""
        records: list[dict] = []
        page, total = 1, None
        while True:
            body = self.view(module, key, page=page, per_page=per_page, **params)
            total = body["meta"]["total"]
            assert body["meta"]["total_pages"] == -(-total // per_page)
            if not body[module]:
                break
            records.extend(body[module])
            page += 1
        assert page == -(-total // per_page) + 1
        assert len(records) == total
        return records


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    """A default sandbox (seed 42, 200/1000/1500) that tests only read from."""
    with serve_in_thread(SandboxConfig()) as sb:
        yield sb


@pytest.fixture
def fresh() -> Iterator[RunningSandbox]:
    """A default sandbox of one's own, for tests that change data."""
    with serve_in_thread(SandboxConfig()) as sb:
        yield sb


@pytest.fixture
def client(sandbox: RunningSandbox) -> Client:
    return Client(sandbox)
