"""Test helpers: shared fixtures, fakes and servers (never a test module)."""
