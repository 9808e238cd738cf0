"""A sync project for the fault tests: the example framework and evidence, two file targets
and the served fakes as HTTP targets, in a folder of its own.

:class:`SyncProject` writes ``comp-adapters.toml`` (with the framework and evidence files
beside it), brings the fakes to the starting state, and gives the command line and the
environment of a real ``comp-adapters sync run`` on it: the tokens by reference
(``token_env``), the plug-in targets of :mod:`tests.harness.shim_adapters` on
``PYTHONPATH``, the PostgreSQL password (if any) in ``PGPASSWORD`` rather than in the file.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from comp_adapters.native import load_framework
from tests.canvas.fake_canvas import TOKEN as CANVAS_TOKEN
from tests.canvas.fake_canvas import FakeCanvas
from tests.harness.kill import Invocation, cli
from tests.harness.servers import MOODLE_FOUR_LEVEL_SCALE, FakeServer
from tests.harness.shim_adapters import HarnessMoodle, HarnessMoodleSettings, install_plugins
from tests.moodle.fake_moodle import TOKEN as MOODLE_TOKEN
from tests.moodle.fake_moodle import FakeMoodle

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "customer-support"
LEARNERS = ("amara.okafor", "ben.schulz", "chloe.martin")
"""The example's learners who have a Moodle user (the others are reported, left alone)."""


@dataclass(frozen=True)
class SyncProject:
    """What the project holds. ``moodle``/``canvas``: the adapters' names (the plug-ins by
    default, ``"moodle"``/``"canvas"`` for the built-ins); ``framework_in_moodle``: the
    site holds the framework (pushed by this process) before each attempt."""

    moodle_site: FakeServer[FakeMoodle]
    canvas_site: FakeServer[FakeCanvas] | None
    moodle: str = "moodle"
    canvas: str = "canvas"
    moodle_receives: tuple[str, ...] = ("framework",)
    moodle_batch: bool = True
    framework_in_moodle: bool = False
    store_url: str = "sqlite:///state.db"
    moodle_timeout: float = 60.0
    """Seconds the Moodle client waits for an answer (a held-back request needs longer)."""

    def text(self) -> str:
        """``comp-adapters.toml``."""
        text = f"""\
[framework]
file = "framework.json"

[[evidence]]
name = "coaching"
system = "evidence-file"
path = "evidence.jsonl"

[[target]]
name = "results"
system = "results-file"
receives = ["proficiency"]
path = "out/proficiency.json"

[[target]]
name = "case-package"
system = "framework-file"
receives = ["framework"]
path = "out/case-package.json"
format = "case"

[[target]]
name = "moodle"
system = "{self.moodle}"
receives = {json.dumps(list(self.moodle_receives))}
url = "{self.moodle_site.url}"
token_env = "HARNESS_MOODLE_TOKEN"
allow_http = true
batch = {json.dumps(self.moodle_batch)}
timeout = {self.moodle_timeout:g}
scale_id = {MOODLE_FOUR_LEVEL_SCALE}
user_field = "username"
"""
        if self.canvas_site is not None:
            text += f"""
[[target]]
name = "canvas"
system = "{self.canvas}"
receives = ["framework"]
url = "{self.canvas_site.url}"
token_env = "HARNESS_CANVAS_TOKEN"
account = "1"
allow_http = true
poll_interval = 0
"""
        return text + (
            '\n[compute]\nas_of = "2026-03-01T00:00:00Z"\n\n'
            f"[store]\nurl = {json.dumps(_without_password(self.store_url))}\n"
        )

    @property
    def servers(self) -> list[FakeServer[Any]]:
        return [self.moodle_site, *([self.canvas_site] if self.canvas_site else [])]

    def prepare(self) -> None:
        """The fakes' starting state: Moodle with the three learners as users (and the
        framework when ``framework_in_moodle``), an empty Canvas account."""
        self.moodle_site.fake.reset()
        for learner in LEARNERS:
            self.moodle_site.fake.add_user(learner)
        if self.canvas_site is not None:
            self.canvas_site.fake.reset()
        if self.framework_in_moodle:
            settings = HarnessMoodleSettings(
                url=self.moodle_site.url,
                token=SecretStr(MOODLE_TOKEN),
                allow_http=True,
                scale_id=MOODLE_FOUR_LEVEL_SCALE,
            )
            pusher = HarnessMoodle(settings)
            pusher.apply(pusher.plan_framework(load_framework(EXAMPLE / "framework.json")))

    def write(self, folder: Path) -> Path:
        """The project in ``folder`` (kept if already there: a re-run uses the same one)."""
        project = folder / "comp-adapters.toml"
        if not project.exists():
            folder.mkdir(parents=True, exist_ok=True)
            for name in ("framework.json", "evidence.jsonl"):
                shutil.copy(EXAMPLE / name, folder / name)
            project.write_text(self.text(), encoding="utf-8")
        return project

    def invocation(self, folder: Path, *extra: str) -> Invocation:
        """``comp-adapters sync run --project …`` in ``folder`` (written first)."""
        project = self.write(folder)
        plugins = install_plugins(folder.parent / "plugins")
        path = [str(plugins), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {
            "HARNESS_MOODLE_TOKEN": MOODLE_TOKEN,
            "HARNESS_CANVAS_TOKEN": CANVAS_TOKEN,
            "PYTHONPATH": os.pathsep.join(path),
        }
        password = urlsplit(self.store_url).password
        if password:
            env["PGPASSWORD"] = password
        args = [*cli(), "sync", "run", "--project", str(project), "--quiet", *extra]
        return Invocation(args, env, folder)


WRITTEN_AT = frozenset({"lastChangeDateTime"})
"""Keys whose value is the time a file was written (a CASE package's change times), which
two runs never share: left out of the comparison, like database ids."""


def file_targets(folder: Path) -> dict[str, Any]:
    """The file targets' contents, parsed, without the times they were written at."""
    return {
        path.name: _without_times(json.loads(path.read_text(encoding="utf-8")))
        for path in sorted((folder / "out").glob("*.json"))
    }


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in WRITTEN_AT}
    if isinstance(value, list):
        return [_without_times(item) for item in value]
    return value


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
