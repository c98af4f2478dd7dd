"""Who a connection is when tokens come from your own identity provider (OpenID Connect:
``oidc``). The deployment's own HS256 tokens stay in ``chalicelib.auth``."""
