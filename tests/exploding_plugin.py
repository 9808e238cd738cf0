"""A plug-in module that fails on import (not with an ImportError): the registry lists it
as broken instead of crashing (tests/test_plugins.py)."""

raise RuntimeError("this plug-in fails on import")
