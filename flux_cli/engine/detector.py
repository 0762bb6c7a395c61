"""Where a pause ends a turn: VAD hysteresis and timing constants, and the end-of-turn
confidence of a pause before and after its decision point.

The confidence itself is a learned model (``eot_model.py``, weights in ``eot_model.json``,
trained by ``benchmarks/eot_train.py`` on real, neural and synthetic speech): Smart Turn's
probability, how the transcript ends (``ending_kind``), the last word's confidence and
lengthening, the speaking rate, and the silence so far. Figures live in
``benchmarks/results/``; the design in ``docs/TURNS.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flux_cli.engine.eot_model import default_model
from flux_cli.engine.evidence import ConfidenceModel, PauseEvidence, sigmoid
from flux_cli.engine.pause_gate import PauseGateConfig
from flux_cli.engine.voice_change import VoiceChangeConfig

_CONF_MAX = 0.999  # eot_threshold=1.0 means "the model never ends a turn": never reach it


@dataclass(frozen=True)
class DetectorConfig:
    """Tuning constants of the VAD hysteresis, the decision points and the confidence model."""

    # VAD: a window is speech at p >= onset, and stays speech down to p >= offset.
    vad_onset: float = 0.5
    vad_offset: float = 0.35
    # A turn may start once this much speech is heard (and its decode is non-empty).
    min_start_speech_s: float = 0.192
    # ... or, once its burst has been silent this long, this much speech: a short word.
    min_word_speech_s: float = 0.064
    short_word_wait_s: float = 0.096
    short_word_pad_s: float = 0.4  # audio kept before a short word's onset (quiet onsets)
    # A candidate burst whose decode stays empty is dropped after this much silence.
    candidate_drop_s: float = 0.6
    # Speech this long ends a pause (shorter blips are ignored).
    resume_speech_s: float = 0.064
    # Audio kept before the speech onset and after the speech end in every decode.
    start_pad_s: float = 0.2
    tail_pad_s: float = 0.15
    # Silence after which a pause is judged (decode + Smart Turn): the decision point.
    decide_after_s: float = 0.192
    # Smart Turn sees at most this much of the turn, ending at the decision point.
    smart_turn_window_s: float = 8.0
    # Whisper decodes at most this much; a longer turn commits its head and decodes the rest.
    max_decode_s: float = 25.0
    # Interim (Update-text) decodes: at most one per this much new audio of a turn, each over
    # at most the last ``interim_window_s`` of it (the earlier words are kept as they were).
    interim_interval_s: float = 1.0
    interim_window_s: float = 8.0

    # Before a pause's decision point only its length is known (logit units).
    speaking_logit: float = -4.0  # while words are still coming
    undecided_logit: float = -2.5  # paused, before the decision point
    undecided_slope_per_s: float = 2.5
    # The confidence of a judged pause; None: the committed learned model (``eot_model.json``).
    model: ConfidenceModel | None = None
    # Another voice ends the turn, after a pause or mid-speech (with a speaker encoder).
    voice_change: VoiceChangeConfig = field(default_factory=VoiceChangeConfig)
    # A voiced window this close to the call's floor is a pause (babble), not the caller
    # (``pause_gate.py``; chosen on noisy10/noisy20 train end to end, ``docs/TURNS.md``,
    # "Babble hides the caller's pauses"); None: the VAD alone says where speech is.
    pause_gate: PauseGateConfig | None = field(default_factory=PauseGateConfig)


DEFAULT_CONFIG = DetectorConfig()

class Detector:
    """Turns the signals of the current state into ``end_of_turn_confidence``.

    While paused after the decision point: ``sigmoid(base + slope · s)``, where the model
    (by default the learned ``eot_model.json``) computes ``(base, slope)`` once per pause.
    """

    def __init__(self, config: DetectorConfig = DEFAULT_CONFIG) -> None:
        self.config = config
        self.model: ConfidenceModel = config.model or default_model()

    def speaking(self) -> float:
        return sigmoid(self.config.speaking_logit)

    def undecided(self, silence_s: float) -> float:
        """A pause before its decision point: only its length is known."""
        c = self.config
        logit_ = c.undecided_logit + c.undecided_slope_per_s * (silence_s - c.decide_after_s)
        return min(sigmoid(logit_), _CONF_MAX)

    def judge(self, evidence: PauseEvidence) -> tuple[float, float]:
        """The pause's logit line (base, slope), computed once per pause."""
        return self.model.line(evidence)

    def paused(self, line: tuple[float, float], silence_s: float) -> float:
        """A judged pause: a pause that goes on is more and more likely an end."""
        base, slope = line
        return min(sigmoid(base + slope * silence_s), _CONF_MAX)
