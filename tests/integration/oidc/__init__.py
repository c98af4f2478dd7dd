"""OpenID Connect sign-in over real sockets, against a test-run issuer (tests/oidc_provider.py)."""
