"""The CASE adapter: reads frameworks from a CASE provider into the core model.

CASE's REST binding is read-only (providers author through their own APIs), so the adapter
declares only :attr:`~comp_adapters.protocols.Capability.READS_FRAMEWORK`; publishing our
frameworks as CASE means writing a CFPackage file (the ``case`` file format of
:mod:`~comp_adapters.case.package_format`), which a provider then imports. Settings and the
client are :mod:`~comp_adapters.case.settings`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Self

import requests

from comp_adapters.case.client import CaseClient
from comp_adapters.case.mapping import package_to_framework
from comp_adapters.case.settings import NAME, CaseSettings, connect, load_settings
from comp_adapters.case.wire import CFDocument, CFPackage
from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError, Problem
from comp_adapters.http import redact_url
from comp_adapters.protocols import Capability
from comp_adapters.settings import AdapterSettings


class CaseAdapter:
    """Reads frameworks (CFPackages) from a CASE provider."""

    name: ClassVar[str] = NAME
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.READS_FRAMEWORK})
    settings_model: ClassVar[type[AdapterSettings]] = CaseSettings

    def __init__(self, client: CaseClient) -> None:
        self.client = client

    @classmethod
    def from_settings(
        cls, settings: AdapterSettings, *, session: requests.Session | None = None
    ) -> Self:
        """The adapter for ``settings`` (a :class:`CaseSettings`), its client from
        :func:`~comp_adapters.case.settings.connect`."""
        if not isinstance(settings, CaseSettings):
            raise ConfigurationError(f"case: expected CaseSettings, got {type(settings).__name__}")
        return cls(connect(settings, session=session))

    @property
    def target(self) -> str:
        """``case <provider URL>`` (credentials in the URL redacted)."""
        return f"{NAME} {redact_url(self.client.transport.base_url)}"

    @property
    def warnings(self) -> list[Problem]:
        """What had to be adapted in the provider's data so far (located warnings)."""
        return self.client.warnings

    def list_frameworks(self) -> Iterator[CFDocument]:
        """The provider's frameworks (their CFDocuments), all pages."""
        return self.client.list_documents()

    def read_package(self, key: str) -> CFPackage:
        """The CFPackage of the document ``key`` (its CASE identifier)."""
        return self.client.get_package(key)

    def read_framework(self, key: str) -> Framework:
        """The framework whose CFDocument identifier is ``key``, in the core model."""
        package = self.read_package(key)
        framework, problems = package_to_framework(package, source=f"CFPackages/{key}")
        self.client.warnings.extend(problems)
        return framework


__all__ = ["CaseAdapter", "CaseSettings", "connect", "load_settings"]
