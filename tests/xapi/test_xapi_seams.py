"""The adapter seams of xAPI (issue 13): settings, connect, from_settings, target,
evidence_query, the planner's purity and the executor's dispatch."""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import ConfigurationError, PlanError
from comp_adapters.protocols import Adapter, Capability, ReadsEvidence, WritesProficiency
from comp_adapters.settings import adapter_settings
from comp_adapters.sync.apply import ApplyError
from comp_adapters.sync.plan import Action, Change, Plan
from comp_adapters.testing import CrashingSession
from comp_adapters.xapi.adapter import XapiAdapter
from comp_adapters.xapi.executor import Kind, StatementExecutor
from comp_adapters.xapi.mapping import (
    ActivityRule,
    IdentityConfig,
    MappingConfig,
    mapping_digest,
)
from comp_adapters.xapi.planner import HELD, HeldStatements, PushOptions, plan_proficiency
from comp_adapters.xapi.settings import XapiSettings, connect
from tests.xapi.conftest import results
from tests.xapi.fake_lrs import SECRET, FakeLrs

HOME = "https://lms.example.org"
MAPPING_TOML = f"""
competency_iri_base = "https://competencies.example.org/"

[identity]
account_home_pages = ["{HOME}"]
push_home_page = "{HOME}"

[[activities]]
prefix = "https://courses.example.org/"
competencies = ["q"]
"""
MAPPING = MappingConfig(
    identity=IdentityConfig(account_home_pages=(HOME,), push_home_page=HOME),
    competency_iri_base="https://competencies.example.org/",
)
SRC = Path(__file__).resolve().parents[2] / "src"


def _results(count: int) -> list[Proficiency]:
    return results(count, as_of=datetime(2026, 3, 1, tzinfo=UTC))


@pytest.fixture
def lrs(fake_lrs: Callable[..., FakeLrs]) -> FakeLrs:
    return fake_lrs()


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(MAPPING_TOML)
    return path


# -- settings -----------------------------------------------------------------------------


def test_a_misspelt_setting_key_is_an_error_naming_it() -> None:
    config = {"xapi": {"endpoint": "https://lrs.example.org/xAPI/", "page_sise": 10}}
    with pytest.raises(ConfigurationError) as raised:
        adapter_settings(XapiSettings, "xapi", config=config, environ={})
    assert "page_sise" in str(raised.value)


def test_settings_are_frozen_and_every_field_is_described() -> None:
    settings = XapiSettings(endpoint="https://lrs.example.org/xAPI/")
    with pytest.raises(Exception, match="frozen"):
        settings.page_size = 3  # type: ignore[misc]
    undescribed = [n for n, f in XapiSettings.model_fields.items() if not f.description]
    assert undescribed == []


def test_the_secret_comes_from_the_environment_never_shown() -> None:
    environ = {"COMP_ADAPTERS_XAPI_KEY": "k", "COMP_ADAPTERS_XAPI_SECRET": SECRET}
    settings = adapter_settings(
        XapiSettings, "xapi", flags={"endpoint": "https://lrs.example.org/"}, environ=environ
    )
    assert settings.secret is not None
    assert settings.secret.get_secret_value() == SECRET
    assert SECRET not in repr(settings)


def test_connect_refuses_basic_auth_without_a_secret() -> None:
    with pytest.raises(ConfigurationError, match="basic auth needs key and secret"):
        connect(XapiSettings(endpoint="https://lrs.example.org/xAPI/", key="k"))


def test_a_bad_agent_filter_is_a_configuration_error() -> None:
    settings = XapiSettings(endpoint="https://lrs.example.org/", auth="none", agent="{nope")
    with pytest.raises(ConfigurationError, match="'agent': invalid JSON"):
        XapiAdapter.from_settings(settings)


# -- from_settings, target, protocols ----------------------------------------------------


def test_from_settings_uses_the_injected_session_and_the_mapping_file(
    lrs: FakeLrs, mapping_file: Path
) -> None:
    session = CrashingSession()  # counts, never crashes
    xapi = XapiAdapter.from_settings(
        lrs.settings(version="1.0.3", mapping=mapping_file, push_batch_size=7), session=session
    )
    assert xapi.mapping.activities[0].competencies == ("q",)
    assert xapi.push_batch_size == 7
    xapi.apply(xapi.plan_proficiency(_results(3)))
    assert session.count == lrs.count("GET") + lrs.count("POST") > 0
    assert len(lrs.rows) == 3


def test_the_adapter_meets_the_v2_protocols(lrs: FakeLrs) -> None:
    xapi = XapiAdapter.from_settings(lrs.settings())
    for protocol in (Adapter, ReadsEvidence, WritesProficiency):
        assert isinstance(xapi, protocol)
    assert xapi.capabilities == {Capability.READS_EVIDENCE, Capability.WRITES_PROFICIENCY}
    assert XapiAdapter.settings_model is XapiSettings


def test_target_names_the_endpoint_without_credentials() -> None:
    settings = XapiSettings(
        endpoint="https://user:url-password@lrs.example.org/xAPI/", key="k", secret=SECRET
    )
    target = XapiAdapter.from_settings(settings).target
    assert target.startswith("xapi https://")
    assert "lrs.example.org/xAPI/" in target
    assert SECRET not in target
    assert "url-password" not in target
    assert XapiAdapter().target == "xapi (files)"


def test_from_settings_refuses_other_settings() -> None:
    from comp_adapters.settings import AdapterSettings  # noqa: PLC0415

    with pytest.raises(ConfigurationError, match="expected XapiSettings"):
        XapiAdapter.from_settings(AdapterSettings())


# -- evidence_query ------------------------------------------------------------------------


def test_evidence_query_names_endpoint_filters_and_mapping(
    lrs: FakeLrs, mapping_file: Path
) -> None:
    settings = lrs.settings(version="1.0.3", mapping=mapping_file, verb="https://v.example/x")
    query = XapiAdapter.from_settings(settings).evidence_query()
    assert query["adapter"] == "xapi"
    assert query["endpoint"] == lrs.endpoint
    assert query["version"] == "1.0.3"
    filters = query["filters"]
    assert isinstance(filters, dict)
    assert filters["verb"] == "https://v.example/x"
    assert "since" not in filters
    other = XapiAdapter.from_settings(lrs.settings(version="1.0.3", verb="https://v.example/x"))
    assert query["mapping"] != other.evidence_query()["mapping"]
    json.dumps(query)  # plain JSON, storable with a cursor


def test_the_mapping_digest_ignores_spelling_but_not_meaning() -> None:
    rule = ActivityRule(prefix="https://courses.example.org/", competencies=("q",))
    one = MappingConfig(activities=(rule,), identity=IdentityConfig(unknown="skip"))
    same = MappingConfig.model_validate(
        {"activities": [{"competencies": ["q"], "prefix": "https://courses.example.org/"}]}
    )
    other = MappingConfig(activities=(rule,), identity=IdentityConfig(unknown="ifi"))
    assert mapping_digest(one) == mapping_digest(same)
    assert mapping_digest(one) != mapping_digest(other)


# -- planner and executor ------------------------------------------------------------------


def test_a_statement_the_lrs_holds_is_a_noop_with_its_reason() -> None:
    xapi = XapiAdapter(mapping=MAPPING)
    statements = xapi.proficiency_statements(_results(2))
    plan = plan_proficiency(
        statements,
        HeldStatements(target="https://lrs.example.org/", ids=frozenset({statements[0].id})),
        PushOptions(batch_size=5),
    )
    noop, create = plan.changes
    assert noop.action is Action.NOOP
    assert noop.reason == HELD
    assert noop.fields == {}
    assert create.action is Action.CREATE
    assert create.kind == Kind.STATEMENT == "statement"
    assert create.fields["statement"]["id"] == statements[1].id
    assert "5 per request" in plan.notes[0]


def test_the_executor_refuses_a_kind_it_does_not_make(lrs: FakeLrs) -> None:
    odd = Change(id="rubric:1", action=Action.CREATE, kind="rubric", key="1", fields={})
    plan = Plan(adapter="xapi", target=lrs.endpoint, changes=(odd,))
    executor = StatementExecutor(lrs.client(version="1.0.3"), plan, batch_size=10)
    with pytest.raises(PlanError, match="kind 'rubric'"):
        executor(odd, {})
    xapi = XapiAdapter(lrs.client(version="1.0.3"))
    with pytest.raises(ApplyError) as raised:
        xapi.apply(plan)
    assert isinstance(raised.value.__cause__, PlanError)
    assert lrs.count("POST") == 0


def test_the_executor_refuses_a_statement_change_without_its_statement(lrs: FakeLrs) -> None:
    bare = Change(id="statement:x", action=Action.CREATE, kind="statement", key="x", fields={})
    plan = Plan(adapter="xapi", target=lrs.endpoint, changes=(bare,))
    with pytest.raises(ApplyError) as raised:
        XapiAdapter(lrs.client(version="1.0.3")).apply(plan)
    assert "holds no statement" in str(raised.value.__cause__)


def test_no_secret_in_plan_or_logs(
    lrs: FakeLrs, mapping_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    xapi = XapiAdapter.from_settings(lrs.settings(version="1.0.3", mapping=mapping_file))
    plan = xapi.plan_proficiency(_results(2))
    xapi.apply(plan)
    assert SECRET not in plan.to_json()
    assert SECRET not in caplog.text
    assert SECRET not in repr(xapi.client)


# -- layering ------------------------------------------------------------------------------

PURE = ("comp_adapters.xapi.mapping", "comp_adapters.xapi.planner")
FORBIDDEN_MODULES = (
    "requests",
    "urllib3",
    "httpx",
    "http",
    "socket",
    "tomllib",
    "pathlib",
    "io",
    "os",
    "time",
    "sqlalchemy",
    "psycopg",
    "comp_adapters.http",
    "comp_adapters._files",
    "comp_adapters.settings",
    "comp_adapters.store",
    "comp_adapters.xapi.client",
    "comp_adapters.xapi.files",
    "comp_adapters.xapi.mapping_file",
)


def _imports(module: str) -> set[str]:
    """The modules ``module``'s source imports (any depth of the file, TYPE_CHECKING too)."""
    path = SRC / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = SRC / module.replace(".", "/") / "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from package import module`` imports that module; anything else the named one.
            submodules = {
                f"{node.module}.{alias.name}"
                for alias in node.names
                if (SRC / f"{node.module}.{alias.name}".replace(".", "/"))
                .with_suffix(".py")
                .exists()
            }
            found.update(submodules or {node.module})
    return found


def _closure(start: str) -> set[str]:
    """Every module reached from ``start`` through the project's own modules."""
    seen: set[str] = set()
    todo = [start]
    reached: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for name in _imports(module):
            reached.add(name)
            if name.startswith("comp_adapters.") and name not in seen:
                todo.append(name)
    return reached


@pytest.mark.parametrize("module", PURE)
def test_mapping_and_planner_import_no_http_file_store_or_clock_module(module: str) -> None:
    reached = _closure(module)
    bad = sorted(
        name
        for name in reached
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_MODULES)
    )
    assert bad == []
    assert "comp_adapters.xapi.wire" in reached or module.endswith("planner")


def test_the_layering_check_can_fail() -> None:
    """The same check flags the modules that do I/O (so the test above can fail)."""
    assert "tomllib" in _closure("comp_adapters.xapi.mapping_file")
    assert "requests" in _closure("comp_adapters.xapi.settings")


def test_a_session_stands_for_the_transport() -> None:
    session = requests.Session()
    client = connect(
        XapiSettings(endpoint="https://lrs.example.org/xAPI/", auth="none"), session=session
    )
    assert client.transport.session is session
