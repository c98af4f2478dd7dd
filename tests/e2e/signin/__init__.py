"""Signing in on the web page through an identity provider: the local stack's Cognito, and PKCE."""
