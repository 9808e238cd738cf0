"""Parts of the shared HTTP plumbing, split by subject; :mod:`comp_adapters.http` is the
public face (it re-exports what clients use).

* :mod:`~comp_adapters._http.redaction` - secrets out of URLs, text and log records (pure);
* :mod:`~comp_adapters._http.origin` - URL checks and the one same-origin rule (pure);
* :mod:`~comp_adapters._http.body` - reading an answer within a deadline and a size cap;
* :mod:`~comp_adapters._http.oauth` - OAuth 2.0 client credentials, for every adapter.
"""
