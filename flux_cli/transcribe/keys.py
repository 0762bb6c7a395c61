"""Keys in the live panel: Enter ends the turn, ``+``/``-`` move ``eot_threshold``, ``q`` finishes.

Keys are read from the controlling terminal (``/dev/tty``), so they work also when stdin
carries the audio (``arecord | flux transcribe -``); with no terminal there are no keys. The
terminal is put in cbreak mode (keys arrive one by one, unechoed; Ctrl-C still interrupts)
and restored however the run ends. A reader thread turns bytes into actions and calls the
session's thread-safe controls; it never draws: the panel shows the new threshold when the
server's ``ConfigureSuccess`` arrives, like any other message.
"""

from __future__ import annotations

import contextlib
import os
import select
import termios
import threading
import tty
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from flux_cli.protocol import EOT_THRESHOLD_RANGE, ParamError
from flux_cli.render.state import ViewState

STEP = 0.05
FOOTER = "keys: Enter end turn · + / - eot threshold · q finish"


class Action(Enum):
    END_TURN = "end turn"
    RAISE = "raise threshold"
    LOWER = "lower threshold"
    FINISH = "finish"


KEYMAP = {
    b"\r": Action.END_TURN,
    b"\n": Action.END_TURN,
    b"+": Action.RAISE,
    b"=": Action.RAISE,  # + without shift on most layouts
    b"-": Action.LOWER,
    b"_": Action.LOWER,
    b"q": Action.FINISH,
    b"Q": Action.FINISH,
}


def action_for(key: bytes) -> Action | None:
    return KEYMAP.get(key)


def next_threshold(current: float, step: float, eager: float | None) -> float | None:
    """``current + step`` within the service's range and not below the eager threshold.

    None when the threshold cannot move that way (already at the end of its range).
    """
    low, high = EOT_THRESHOLD_RANGE
    if eager is not None:
        low = max(low, eager)
    value = round(min(high, max(low, current + step)), 2)
    return None if value == round(current, 2) else value


@dataclass
class Controls:
    """What the keys act on: the session's controls and the threshold now in force."""

    force_end_turn: Callable[[], bool]
    configure_eot: Callable[[float], bool]
    finish: Callable[[], None]
    current_eot: Callable[[], float]
    current_eager: Callable[[], float | None]


class KeyPanel:
    """The key reader thread and what the footer says (read by the main thread when drawing)."""

    def __init__(self, fd: int, controls: Controls) -> None:
        self.fd = fd
        self.controls = controls
        self.status = ""  # the last thing a key did, for the footer
        self._asked: float | None = None  # a threshold sent and not yet confirmed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True, name="keys")
        self._saved: list[Any] | None = None

    @property
    def footer(self) -> str:
        """The key list, and what the last key did (once confirmed, the new threshold)."""
        if self._asked is not None and self.controls.current_eot() == self._asked:
            self.status, self._asked = f"eot threshold now {self._asked:g}", None
        return FOOTER + (f" · {self.status}" if self.status else "")

    def start(self) -> None:
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and give the terminal back as it was; closes ``fd``."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)
        if self._saved is not None:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(self.fd, 32)
            except OSError:
                return
            if not data:
                return
            for i in range(len(data)):
                action = action_for(data[i : i + 1])
                if action is not None:
                    self.act(action)

    def act(self, action: Action) -> None:
        """Do what a key asks (also called by tests without a terminal)."""
        c = self.controls
        if action is Action.END_TURN:
            sent = c.force_end_turn()
            self.status = "ForceEndTurn sent" if sent else "no stream to end a turn on"
        elif action is Action.FINISH:
            self.status = "finishing…"
            c.finish()
        else:
            step = STEP if action is Action.RAISE else -STEP
            value = next_threshold(c.current_eot(), step, c.current_eager())
            if value is None:
                self.status = f"eot threshold stays at {c.current_eot():g}"
                return
            try:
                sent = c.configure_eot(value)
            except ParamError as exc:
                self.status = f"not sent: {exc}"
                return
            self.status = f"asked for eot {value:g}…" if sent else "no stream to configure"
            self._asked = value if sent else None


def open_terminal() -> int | None:
    """The controlling terminal for reading keys, or None (no terminal: no keys)."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return None
    if not os.isatty(fd):
        os.close(fd)
        return None
    return fd


class _Session(Protocol):
    def force_end_turn(self) -> bool: ...

    def configure(self, *, thresholds: dict[str, float | int | None] | None = None) -> bool: ...


def attach(
    session: _Session,
    state: Callable[[], ViewState],
    finish: Callable[[], None],
    eot: float,
    eager: float | None,
) -> KeyPanel | None:
    """Start reading keys for ``session`` if there is a terminal; the caller stops it."""
    fd = open_terminal()
    if fd is None:
        return None

    def configure_eot(value: float) -> bool:
        return session.configure(thresholds={"eot_threshold": value})

    controls = Controls(
        force_end_turn=session.force_end_turn,
        configure_eot=configure_eot,
        finish=finish,
        current_eot=lambda: state().thresholds.get("eot_threshold", eot),
        current_eager=lambda: state().thresholds.get("eager_eot_threshold", eager),
    )
    panel = KeyPanel(fd, controls)
    try:
        panel.start()
    except (termios.error, OSError):
        panel.stop()
        return None
    return panel
