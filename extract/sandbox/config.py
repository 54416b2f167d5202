"""SandboxConfig: every flag of ``python -m extract.sandbox`` as one value."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .catalog import VIEW_DEFAULTS

MAX_DIRT_RATE = 0.5
MAX_PER_DEAL = 100.0
# Share of deals not in the base currency, for the command line and SandboxConfig alike.
# The default tenant sells in its base currency only, so tests that count deals keep
# their figures; `make demo` (extract/demo.py) sells 30% of its deals in EUR, GBP or INR,
# and the currency tests set their own share.
FOREIGN_CURRENCY_SHARE = 0.0


@dataclass(frozen=True)
class SandboxConfig:
    """What the sandbox serves and how it misbehaves. Defaults suit a demo."""

    host: str = "127.0.0.1"
    port: int = 0
    api_key: str = "demo"
    seed: int = 42
    accounts: int = 200
    contacts: int = 1000
    deals: int = 1500
    # Volumes of the activity modules, per deal (rounded to whole records).
    activities_per_deal: float = 3.0
    tasks_per_deal: float = 1.5
    appointments_per_deal: float = 0.5
    leads: int | None = None  # None: half the contacts
    leads_module: bool = True  # False: every leads/... path answers 404
    # Share of deals not in the base currency (USD); 0 = a single-currency tenant.
    foreign_currency_share: float = FOREIGN_CURRENCY_SHARE
    dirt_rate: float = 0.05
    all_deals_view: bool = True
    # "module:key" -> view name, e.g. {"deals:open": "Open Opportunities"}.
    view_names: dict[str, str] = field(default_factory=dict)
    latency_ms: float = 0.0
    rate_limit: int = 0  # requests per window of rate_window_s; 0 = unlimited
    max_per_page: int = 100  # the largest page served, whatever per_page asks
    rate_window_s: float = 1.0  # length of a fixed rate-limit window, aligned to the epoch
    fail_rate: float = 0.0
    fail_ids: frozenset[int] = frozenset()
    fail_ids_status: int = 400
    manifest: str | None = None
    access_log: bool = False

    def validate(self) -> None:
        """Raise ValueError with one clear sentence when a value is out of range."""
        for name in ("accounts", "contacts", "deals"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name} must be >= 0")
        if self.leads is not None and self.leads < 0:
            raise ValueError("--leads must be >= 0")
        for name in ("activities_per_deal", "tasks_per_deal", "appointments_per_deal"):
            if not 0 <= getattr(self, name) <= MAX_PER_DEAL:
                flag = name.replace("_", "-")
                raise ValueError(f"--{flag} must be between 0 and {MAX_PER_DEAL:g}")
        if not 0 <= self.foreign_currency_share <= 1:
            raise ValueError("--foreign-currency-share must be between 0 and 1")
        if not 0 <= self.dirt_rate <= MAX_DIRT_RATE:
            raise ValueError(f"--dirt-rate must be between 0 and {MAX_DIRT_RATE}")
        if not 0 <= self.fail_rate <= 1:
            raise ValueError("--fail-rate must be between 0 and 1")
        if not 1 <= self.max_per_page <= 100:
            raise ValueError("--max-per-page must be between 1 and 100")
        if self.rate_limit < 0:
            raise ValueError("--rate-limit must be >= 0")
        if not 0 < self.rate_window_s < math.inf:
            raise ValueError("--rate-window-s must be a number of seconds > 0")
        if self.latency_ms < 0:
            raise ValueError("--latency-ms must be >= 0")
        if not 0 <= self.port <= 65535:
            raise ValueError("--port must be between 0 and 65535")
        if not self.api_key:
            raise ValueError("the API key must not be empty")
        if self.fail_ids_status not in (400, 500):
            raise ValueError("--fail-ids-status must be 400 or 500")
        known = {f"{m}:{k}" for m, views in VIEW_DEFAULTS.items() for k, _, _ in views}
        for key in self.view_names:
            if key not in known:
                raise ValueError(f"unknown view {key!r}; known: {', '.join(sorted(known))}")

    def size(self, entity: str) -> int:
        """How many records of ``entity`` are generated."""
        if entity == "leads":
            if not self.leads_module:
                return 0
            return self.contacts // 2 if self.leads is None else self.leads
        per_deal = {"sales_activities": self.activities_per_deal,
                    "tasks": self.tasks_per_deal,
                    "appointments": self.appointments_per_deal}
        if entity in per_deal:
            return round(self.deals * per_deal[entity])
        return {"sales_accounts": self.accounts, "contacts": self.contacts,
                "deals": self.deals}[entity]
