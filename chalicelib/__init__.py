"""The chat backend's domain: everything the deployed Lambda functions run.

Nothing in this package imports moto, the local emulator or test helpers.
"""
