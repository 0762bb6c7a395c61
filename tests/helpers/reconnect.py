"""Shared by several test modules (from test_reconnect.py; tests never import each other)."""

from __future__ import annotations

from helpers.scripted_server import Script, Step, turn

FIRST = Script(
    steps=[
        Step(10, turn("EndOfTurn", 0, 0.0, 0.8, "Hello there.", trigger="model")),
        Step(14, turn("StartOfTurn", 1, 1.0, 1.12, "Second")),
        Step(18, turn("Update", 1, 1.0, 1.44, "Second turn")),
    ],
    drop_after_frames=20,
)


SECOND = Script(
    steps=[
        Step(4, turn("StartOfTurn", 0, 0.2, 0.32, "Second")),
        Step(12, turn("EndOfTurn", 0, 0.2, 0.96, "Second turn, again.", trigger="model")),
        Step("CloseStream", turn("Update", 1, 1.2, 2.2, "")),
    ]
)


