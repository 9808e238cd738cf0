"""``comp-adapters serve``: a CASE 1.1 provider and a proficiency API over HTTP.

Read-only, over the released frameworks (a :class:`FrameworkCatalog`) and the state store's
proficiency history, for HR and talent systems; every answer applies the viewer policy.
Needs the ``serve`` extra (FastAPI, uvicorn, PyJWT). See docs/serve.md.
"""

from comp_adapters.serve.access import Authenticator, JwtVerifier, Principal
from comp_adapters.serve.app import app_from_settings, create_app
from comp_adapters.serve.catalog import (
    FrameworkCatalog,
    ReleasedFramework,
    StaticCatalog,
    file_catalog,
)
from comp_adapters.serve.keys import ApiKey, ApiKeys
from comp_adapters.serve.organisation import Organisation
from comp_adapters.serve.settings import ServeSettings

__all__ = [
    "ApiKey",
    "ApiKeys",
    "Authenticator",
    "FrameworkCatalog",
    "JwtVerifier",
    "Organisation",
    "Principal",
    "ReleasedFramework",
    "ServeSettings",
    "StaticCatalog",
    "app_from_settings",
    "create_app",
    "file_catalog",
]
