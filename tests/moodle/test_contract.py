"""The Moodle adapter passes the contract kit (``comp_adapters.testing``): the kit's
mixins, fed with fixtures over a fresh fake Moodle per test, adapters built the one way
(``MoodleAdapter.from_settings``).

Three targets, because the mixins start from different states: a fresh site (writing
frameworks), a site holding the pushed example and ratings (reading frameworks and
evidence), and a site holding the pushed example and its users (writing ratings,
hygiene).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import pytest
import requests
import responses

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.moodle.adapter import MoodleAdapter
from comp_adapters.moodle.settings import MoodleSettings
from comp_adapters.native import load_framework
from comp_adapters.testing import (
    ForeignLinkContract,
    HttpCrashContract,
    HygieneContract,
    ReadsEvidenceContract,
    ReadsFrameworkContract,
    WritesProficiencyContract,
)
from tests.moodle.conftest import (
    EXAMPLE,
    FOUR_LEVEL_SCALE,
    FOUR_LEVELS,
    proficiency,
    settings_for,
)
from tests.moodle.fake_moodle import ENDPOINT, TOKEN, URL, FakeMoodle

USERS = ("ann", "ben")
LEARNERS = ("ann@example.com", "ben@example.com")


def results() -> list[Proficiency]:
    """Results for the example whose learners are users of the fake (``USERS``)."""
    return [
        proficiency("ann@example.com", "product.catalogue", "proficient"),
        proficiency("ann@example.com", "product.pricing", "expert"),
        proficiency("ben@example.com", "comm.listening", "beginning"),
        proficiency("ben@example.com", "comm.written", None),
    ]


def held(framework: Framework) -> object:
    """What of a framework Moodle holds: the tree, texts, rules, cross-references (which
    Moodle keeps symmetric: as pairs), taxonomies and the scale's levels (not points or
    calculation methods)."""
    fw = framework.canonical()
    pairs = sorted(
        {
            tuple(sorted((c.key, r.key)))
            for c in fw.competencies
            for r in c.related
            if r.type == "related"
        }
    )
    return (
        tuple(pairs),
        fw.key,
        fw.title,
        fw.taxonomy_levels,
        tuple((level.key, level.name, level.proficient) for level in fw.scale.levels),
        tuple(
            (
                c.key,
                c.parent,
                c.title,
                c.description,
                c.description_format,
                c.rollup.model_dump(mode="json") if c.rollup else None,
            )
            for c in fw.walk()
        ),
    )


class MoodleFixtures:
    """A fresh fake Moodle (the example's scale, users ann and ben) behind ``responses``."""

    @pytest.fixture
    def contract_remote(self, rsps: responses.RequestsMock) -> FakeMoodle:
        site = FakeMoodle(scales={FOUR_LEVEL_SCALE: list(FOUR_LEVELS)})
        site.install(rsps)
        self.prepare(site)
        return site

    def prepare(self, site: FakeMoodle) -> None:
        """Bring a fresh site to the state the tests start from."""
        for name in USERS:
            site.add_user(name)

    @pytest.fixture
    def contract_settings(self) -> MoodleSettings:
        return settings_for(scale_id=FOUR_LEVEL_SCALE)

    @pytest.fixture
    def contract_connect_http(
        self, contract_remote: FakeMoodle, contract_settings: MoodleSettings
    ) -> Callable[[requests.Session], MoodleAdapter]:
        return lambda session: MoodleAdapter.from_settings(contract_settings, session=session)

    @pytest.fixture
    def contract_connect(
        self, contract_connect_http: Callable[[requests.Session], MoodleAdapter]
    ) -> Callable[[], MoodleAdapter]:
        return lambda: contract_connect_http(requests.Session())

    @pytest.fixture
    def contract_adapter(self, contract_connect: Callable[[], MoodleAdapter]) -> MoodleAdapter:
        return contract_connect()

    @pytest.fixture
    def contract_framework(self) -> Framework:
        return load_framework(EXAMPLE)

    @pytest.fixture
    def contract_comparable(self) -> Callable[[Framework], object]:
        return held

    @pytest.fixture
    def contract_snapshot(self, contract_remote: FakeMoodle) -> Callable[[], Hashable]:
        return contract_remote.snapshot

    @pytest.fixture
    def contract_reset(self, contract_remote: FakeMoodle) -> Callable[[], None]:
        def reset() -> None:
            contract_remote.reset()
            self.prepare(contract_remote)

        return reset

    @pytest.fixture
    def contract_secret(self) -> str:
        return TOKEN


class PushedFixtures(MoodleFixtures):
    """The example pushed (by an adapter of its own, over a plain session)."""

    def prepare(self, site: FakeMoodle) -> None:
        super().prepare(site)
        pusher = MoodleAdapter.from_settings(
            settings_for(scale_id=FOUR_LEVEL_SCALE), session=requests.Session()
        )
        pusher.apply(pusher.plan_framework(load_framework(EXAMPLE)))


class RatedFixtures(PushedFixtures):
    """The example pushed and rated, read by an adapter reading the learners' evidence."""

    def prepare(self, site: FakeMoodle) -> None:
        super().prepare(site)
        framework = load_framework(EXAMPLE)
        rater = MoodleAdapter.from_settings(settings_for(), session=requests.Session())
        rater.apply(rater.plan_proficiency(results(), framework=framework))
        later = [proficiency("ann@example.com", "product.pricing", "developing")]
        rater.apply(rater.plan_proficiency(later, framework=framework))

    @pytest.fixture
    def contract_settings(self) -> MoodleSettings:
        return settings_for(framework_key="CS-SUPPORT", learners=list(LEARNERS))

    @pytest.fixture
    def contract_position_order(self) -> Callable[[str], Any]:
        return int  # seconds since the epoch, as text


class TestMoodleWritesFrameworks(MoodleFixtures, HttpCrashContract):
    pass


class TestMoodleHygiene(PushedFixtures, HygieneContract):
    """On a site holding the example, so that framework and results plans are both made."""

    @pytest.fixture
    def contract_proficiencies(self) -> list[Proficiency]:
        return results()

    @pytest.fixture
    def contract_failure(self, contract_remote: FakeMoodle) -> Callable[[], object]:
        """The site refuses a token it does not know (``invalidtoken``)."""
        wrong = settings_for(token="0" * 32)
        adapter = MoodleAdapter.from_settings(wrong, session=requests.Session())
        return lambda: adapter.read_framework("CS-SUPPORT")


class TestMoodleReads(RatedFixtures, ReadsFrameworkContract, ReadsEvidenceContract):
    pass


class TestMoodleWritesRatingsInPlans(PushedFixtures, WritesProficiencyContract):
    """Rating in the learners' active plans: its reads create nothing, so planning writes
    nothing at all."""

    def prepare(self, site: FakeMoodle) -> None:
        super().prepare(site)
        every = [c["id"] for c in site.competencies.values()]
        for user in site.users.values():
            if user["username"] in USERS:
                site.add_plan(user["id"], every)

    @pytest.fixture
    def contract_settings(self) -> MoodleSettings:
        return settings_for(rate_in="plan")

    @pytest.fixture
    def contract_proficiencies(self) -> list[Proficiency]:
        return results()


class TestMoodleWritesSiteRatings(PushedFixtures, WritesProficiencyContract):
    """Rating the user competency. Moodle's only read of it creates an empty record where
    none exists (``tool_lp_data_for_user_competency_summary``, docs/moodle.md "Reads that
    write"): planning may add such records, and nothing else."""

    @pytest.fixture
    def contract_settings(self) -> MoodleSettings:
        return settings_for()

    @pytest.fixture
    def contract_proficiencies(self) -> list[Proficiency]:
        return results()

    def test_plan_writes_the_results_and_noops_say_why(
        self,
        contract_adapter: Any,
        contract_proficiencies: Any,
        contract_framework: Framework,
        contract_remote: FakeMoodle,
    ) -> None:
        before = contract_remote.snapshot()
        plan = contract_adapter.plan_proficiency(
            contract_proficiencies, framework=contract_framework
        )
        after = contract_remote.snapshot()
        assert after[:-1] == before[:-1], "planning changed something other than ratings"
        added = set(after[-1]) - set(before[-1])
        assert set(before[-1]) <= set(after[-1])
        assert added, "the site mode's read creates empty records (if this fails, update docs)"
        assert all(grade is None for _, _, grade in added), "planning rated something"
        assert contract_remote.created_by_reads == len(added)
        assert plan.writes
        assert all(change.reason for change in plan.changes if not change.writes)


class TestMoodleRefusesForeignLinks(MoodleFixtures, ForeignLinkContract):
    @pytest.fixture
    def contract_foreign_link(self, rsps: responses.RequestsMock) -> Callable[[], object]:
        """A site whose web-service endpoint redirects to another server: the POST (which
        carries the token) must not follow it."""
        here = "https://redirecting.test"
        elsewhere = "https://elsewhere.test/webservice/rest/server.php"
        rsps.add(
            responses.POST,
            ENDPOINT.replace(URL, here),
            status=307,
            headers={"Location": elsewhere},
        )
        reached = rsps.add(responses.POST, elsewhere, json={})
        adapter = MoodleAdapter.from_settings(
            settings_for(url=here, batch=False), session=requests.Session()
        )

        def follow() -> object:
            try:
                return adapter.read_framework("CS-SUPPORT")
            finally:
                assert reached.call_count == 0, "the token travelled to another server"

        return follow
