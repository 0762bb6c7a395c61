"""Turning server messages into what the user sees: a pure reducer plus three writers."""
