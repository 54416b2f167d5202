"""What the marts promise, read from the dbt project, and how a value is cast to it.

Two sources, both in the dbt project so the tools never drift from it:

- the mart contracts (`data_type` and `accepted_values` of each column in the
  marts' model YAML): the type a value is cast to and the labels it may take;
- the `crm_presets` vars of `dbt_project.yml` (contract section 6): which
  Freshsales field feeds each canonical column, so a change can be written back.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml  # type: ignore[import-untyped]

from extract.config import REPO_ROOT
from extract.tools.db import ToolError, decimal_scale, type_family

ENTITIES = ("accounts", "contacts", "deals")
BUSINESS_KEYS = {"accounts": "account_id", "contacts": "contact_id", "deals": "deal_id"}
RAW_TABLES = {"accounts": "sales_accounts", "contacts": "contacts", "deals": "deals"}
API_WRAPPERS = {"accounts": "sales_account", "contacts": "contact", "deals": "deal"}


@dataclass(frozen=True)
class ColumnSpec:
    """One mart column as its contract declares it."""

    name: str
    data_type: str
    accepted: tuple[str, ...] = ()
    not_null: bool = False
    references: tuple[str, str] | None = None  # (mart, column) of a relationships test

    @property
    def family(self) -> str:
        return type_family(self.data_type)


@dataclass(frozen=True)
class FieldSource:
    """The raw column feeding a canonical column, and the selector resolving its label."""

    field: str
    selector: str | None = None


def _dbt_project() -> dict[str, Any]:
    path = REPO_ROOT / "dbt_project.yml"
    if not path.exists():
        raise ToolError(f"{path} is missing; the tools read the mart contracts from it")
    return yaml.safe_load(path.read_text()) or {}


def _models_dir() -> Path:
    paths = _dbt_project().get("model-paths") or ["models"]
    return REPO_ROOT / paths[0] / "marts"


def _tests_of(column: dict[str, Any]) -> list[Any]:
    return list(column.get("data_tests") or []) + list(column.get("tests") or [])


def _accepted_values(column: dict[str, Any]) -> tuple[str, ...]:
    for test in _tests_of(column):
        if isinstance(test, dict) and "accepted_values" in test:
            spec = test["accepted_values"] or {}
            values = (spec.get("arguments") or {}).get("values") or spec.get("values") or []
            return tuple(str(v) for v in values)
    return ()


def _references(column: dict[str, Any]) -> tuple[str, str] | None:
    """The mart and column a `relationships` test points the column at."""
    for test in _tests_of(column):
        if isinstance(test, dict) and "relationships" in test:
            spec = test["relationships"] or {}
            args = spec.get("arguments") or spec
            target = re.fullmatch(r"\s*ref\(\s*['\"](\w+)['\"]\s*\)\s*", str(args.get("to")))
            if target and args.get("field"):
                return target.group(1), str(args["field"])
    return None


def _not_null(column: dict[str, Any]) -> bool:
    constraints = [c.get("type") for c in column.get("constraints") or [] if isinstance(c, dict)]
    tests = [t for t in _tests_of(column) if isinstance(t, str)]
    return "not_null" in constraints or "primary_key" in constraints or "not_null" in tests


@cache
def _mart_models() -> dict[str, dict[str, Any]]:
    models: dict[str, dict[str, Any]] = {}
    for path in sorted(_models_dir().rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models") or []:
            models[model["name"]] = model
    return models


def _render_type(data_type: str) -> str:
    """A contract type may pick its spelling per engine with Jinja (`{{ 'string'
    if target.type == 'spark' else 'varchar' }}`); the tools read DuckDB or
    PostgreSQL, whose spelling is the one rendered for those targets."""
    if "{{" not in data_type:
        return data_type
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(data_type)
    return template.render(target={"type": "duckdb"}).strip()


def mart_contract(entity: str) -> dict[str, ColumnSpec]:
    """Column name -> ColumnSpec for a mart, from its model YAML."""
    model = _mart_models().get(entity)
    if model is None:
        raise ToolError(f"no contract for mart {entity!r} under {_models_dir()}")
    specs = {}
    for column in model.get("columns") or []:
        name = column["name"]
        specs[name] = ColumnSpec(
            name=name,
            data_type=_render_type(str(column.get("data_type") or "varchar")),
            accepted=_accepted_values(column),
            not_null=_not_null(column),
            references=_references(column),
        )
    return specs


def active_preset() -> str:
    """CRM_PRESET from the environment, else the `crm_preset` var of dbt_project.yml."""
    preset = os.environ.get("CRM_PRESET") or (_dbt_project().get("vars") or {}).get("crm_preset")
    return str(preset or "original")


def field_sources(entity: str, preset: str | None = None) -> dict[str, FieldSource]:
    """Canonical column -> FieldSource for `entity` under the preset in use."""
    preset = preset or active_preset()
    presets = (_dbt_project().get("vars") or {}).get("crm_presets") or {}
    if preset not in presets:
        known = ", ".join(presets) or "none"
        raise ToolError(f"CRM preset {preset!r} is not in dbt_project.yml (presets: {known})")
    mapping = (presets[preset] or {}).get(entity) or {}
    return {
        column: FieldSource(str(spec["field"]), spec.get("selector"))
        for column, spec in mapping.items()
        if isinstance(spec, dict) and spec.get("field")
    }


def check_entity(entity: str) -> str:
    if entity not in ENTITIES:
        raise ToolError(f"--domain must be one of {', '.join(ENTITIES)}, got {entity!r}")
    return entity


def require_column(entity: str, name: str, specs: dict[str, ColumnSpec]) -> ColumnSpec:
    if name not in specs:
        raise ToolError(
            f"{entity} has no field {name!r} (fields: {', '.join(specs)})"
        )
    return specs[name]


_INT = re.compile(r"^[+-]?\d+$")
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def _cast_decimal(text: str, spec: ColumnSpec) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not value.is_finite():
        raise ValueError("not a finite number")
    if value != 0 and abs(value.adjusted()) > 38:
        raise ValueError("out of range")
    scale = decimal_scale(spec.data_type)
    if scale is not None and value != value.quantize(Decimal(1).scaleb(-scale)):
        raise ValueError(f"more than {scale} decimal places")
    if scale is not None:
        value = value.quantize(Decimal(1).scaleb(-scale))
        precision = int(spec.data_type.split("(")[1].split(",")[0])
        if len(value.as_tuple().digits) > precision:
            raise ValueError(f"more than {precision} digits")
    return value


def _cast_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("not true or false")


def _cast_int(text: str) -> int:
    if not _INT.match(text.strip()):
        raise ValueError("not a whole number")
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError("out of the bigint range")
    return value


def _cast_family(text: str, spec: ColumnSpec) -> Any:
    family = spec.family
    if family == "int":
        return _cast_int(text)
    if family == "decimal":
        return _cast_decimal(text.strip(), spec)
    if family == "date":
        return dt.date.fromisoformat(text.strip())
    if family in {"timestamp", "timestamptz"}:
        return dt.datetime.fromisoformat(text.strip())
    if family == "bool":
        return _cast_bool(text)
    if family == "float":
        return float(text)
    return text


def cast_value(entity: str, spec: ColumnSpec, text: str | None) -> Any:
    """Cast user text to the column's type; enums take their canonical spelling.

    Raises ToolError with one line naming the field, the value and the reason.
    """
    if text is None or text.strip() == "":
        if spec.not_null:
            raise ToolError(f"{entity}.{spec.name} cannot be empty")
        return None
    try:
        value = _cast_family(text, spec)
    except ValueError as exc:
        reason = str(exc).split(":")[0] if spec.family in {"date", "timestamp"} else str(exc)
        raise ToolError(
            f"{entity}.{spec.name} is {spec.data_type.lower()}: {text!r} does not cast ({reason})"
        ) from None
    if spec.accepted:
        by_lower = {v.lower(): v for v in spec.accepted}
        canonical = by_lower.get(str(value).strip().lower())
        if canonical is None:
            raise ToolError(
                f"{entity}.{spec.name} takes {', '.join(spec.accepted)}; got {text!r}"
            )
        return canonical
    return value
