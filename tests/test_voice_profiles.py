"""The call's voices (``voice_profiles.py``) on literal vectors: when two voices are heard,
and which block is a change."""

from __future__ import annotations

import numpy as np

from flux_cli.engine.voice_profiles import (
    Dips,
    ProfileConfig,
    VoiceProfiles,
    stretches,
    two_voices,
)

HOP = 2560  # 0.16 s
A = np.array([1.0, 0.0, 0.0], np.float32)
B = np.array([0.0, 1.0, 0.0], np.float32)


def near(v: np.ndarray, seed: int) -> np.ndarray:
    """``v`` with a little noise: blocks of one voice are never identical."""
    return v + np.random.default_rng(seed).normal(0, 0.15, v.shape).astype(np.float32)


def feed(profiles: VoiceProfiles, voices: list[np.ndarray], start: int = 0) -> list[bool]:
    """Add one block per voice in order; what ``changed`` said after each."""
    said = []
    for i, v in enumerate(voices):
        profiles.add((start + i + 3) * HOP, near(v, start + i))
        said.append(profiles.changed())
    return said


def _blocks(voices: list[np.ndarray], seed: int = 1) -> np.ndarray:
    """Unit rows near ``voices`` (a little noise)."""
    m = np.stack(voices) + np.random.default_rng(seed).normal(0, 0.03, (len(voices), 3))
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


# One voice's long monologue whose blocks fall in two far-apart kinds (what it says, how it
# says it), flipping every two blocks: split from scratch, they hide the second voice.
SECOND = np.array([0.6, 0.8, 0.0], np.float32)
LOW, HIGH = np.array([1.0, 0.0, 1.2], np.float32), np.array([1.0, 0.0, -1.2], np.float32)
MONOLOGUE = [LOW, LOW, HIGH, HIGH] * 10


def test_two_voices_are_found_when_both_have_spoken_enough() -> None:
    config = ProfileConfig()
    def unit(rows: list[np.ndarray]) -> np.ndarray:
        m = np.stack(rows)
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    assert two_voices(unit([near(A, i) for i in range(40)]), config) is None
    # turns: ten blocks of one voice, then ten of the other
    turns = unit([near(A if (i // 10) % 2 else B, i) for i in range(40)])
    found = two_voices(turns, config)
    assert found is not None and float(found[0] @ found[1]) < config.separation
    # too little of the second voice yet
    assert two_voices(unit([near(A, i) for i in range(36)] + [near(B, i) for i in range(4)]),
                      config) is None
    # the groups flip every other block: one voice cut in two by what it says, not turns
    assert two_voices(unit([near(A if i % 2 else B, i) for i in range(40)]), config) is None


def test_two_voices_far_apart_can_be_found_with_less_of_the_second() -> None:
    """Ten blocks of the second voice: too few for two groups merely apart (``min_blocks``),
    enough for two clearly apart with ``clear_min_blocks=8`` (tried at stop 26, off by default)."""
    config = ProfileConfig(clear_min_blocks=8)
    assert two_voices(_blocks([A] * 20 + [B] * 10), ProfileConfig()) is None  # the default

    def turns(first: np.ndarray, second: np.ndarray, blocks: int) -> np.ndarray:
        return _blocks([first] * 20 + [second] * blocks, seed=blocks)

    found = two_voices(turns(A, B, 10), config)
    assert found is not None and float(found[0] @ found[1]) < config.clear_separation
    # a second voice less far from the first than ``clear_separation``: not yet at ten blocks
    close = np.array([0.73, 0.683, 0.0], np.float32)  # cosine 0.73 to A
    assert two_voices(turns(A, close, 10), config) is None
    assert two_voices(turns(A, close, 15), config) is not None  # fifteen: now


def test_clearly_apart_early_needs_the_second_voice_in_one_stretch_with_clear_runs() -> None:
    """With ``clear_runs=1`` the clear-apart tier takes the smaller group only as one stretch of
    blocks in a row (a second person's first turn); the same 14 blocks in two stretches, as one
    voice whose sentences fall in two kinds makes them, wait for ``min_blocks``."""
    assert stretches(np.array([0, 0, 1, 1, 0, 0, 1, 0])) == 2
    assert stretches(np.array([1, 1, 0, 0, 0])) == 1
    one_stretch = ProfileConfig(clear_min_blocks=8, clear_runs=1)
    assert two_voices(_blocks([A] * 20 + [B] * 10), one_stretch) is not None
    twice = _blocks(([A] * 12 + [B] * 7) * 2)
    assert two_voices(twice, ProfileConfig(clear_min_blocks=8)) is not None  # any stretches
    assert two_voices(twice, one_stretch) is None
    assert two_voices(_blocks(([A] * 12 + [B] * 8) * 2), one_stretch) is not None  # 16: enough


class Refits(VoiceProfiles):
    """The profiles, noting how many blocks each refit saw."""

    def __init__(self, config: ProfileConfig) -> None:
        super().__init__(config)
        self.refits: list[int] = []

    def _refit(self, vectors: np.ndarray) -> None:
        self.refits.append(len(vectors))
        super()._refit(vectors)


def test_before_the_voices_are_known_refits_fall_on_one_grid() -> None:
    """Fewer blocks for the clear-apart tier start the refits sooner, on the default's grid
    (every 3 blocks through 30), so such a setting changes what a refit accepts, not where."""
    default, sooner = Refits(ProfileConfig()), Refits(ProfileConfig(clear_min_blocks=8))
    feed(default, [A] * 36)
    feed(sooner, [A] * 36)
    assert default.refits == [30, 33, 36]
    assert sooner.refits == [18, 21, 24, 27, 30, 33, 36]


def test_a_block_of_the_other_voice_after_the_current_one_is_a_change() -> None:
    profiles = VoiceProfiles(ProfileConfig())
    said = feed(profiles, [A] * 20 + [B] * 22)  # the groups are fitted every 12 blocks
    assert profiles.voices is not None
    assert not any(said)  # nothing is a change before the two voices are known
    said = feed(profiles, [A] * 12, start=42)
    assert said[0] is True  # the first block of A after B's blocks
    assert not any(said[8:])  # A speaking on: the blocks before it are A's now
    said = feed(profiles, [B], start=54)
    assert said == [True]


def test_one_voice_alone_never_changes() -> None:
    profiles = VoiceProfiles(ProfileConfig())
    assert not any(feed(profiles, [A] * 200))
    assert profiles.voices is None


def test_while_the_voices_are_unknown_the_groups_are_fitted_every_three_blocks() -> None:
    # 20 blocks of A, then 16 of B: the first fit comes at 30 blocks (15 a group at least),
    # when B has 10. Fitting every 12 blocks tries again at 42; every 3 finds them at 36.
    early, late = VoiceProfiles(ProfileConfig()), VoiceProfiles(ProfileConfig(refit_early=12))
    feed(early, [A] * 20 + [B] * 16)
    feed(late, [A] * 20 + [B] * 16)
    assert early.voices is not None and late.voices is None


def test_any_block_can_be_judged_against_the_voice_before_a_point() -> None:
    profiles = VoiceProfiles(ProfileConfig())
    feed(profiles, [A] * 20 + [B] * 22)
    before = (3 + 41) * HOP  # the end of the last B block: B was speaking
    assert profiles.other_voice(A, before) is True
    assert profiles.other_voice(B, before) is False
    assert profiles.other_voice(A, 0) is False  # nothing heard before it: no judgement


def test_a_block_just_after_a_dip_can_be_asked_for_a_smaller_margin() -> None:
    profiles = VoiceProfiles(ProfileConfig(dip_margin=0.09))
    feed(profiles, [A] * 20 + [B] * 22)
    assert profiles.voices is not None
    a_first = float(profiles.voices[0] @ A) > float(profiles.voices[1] @ A)
    # A is the other voice: B spoke last
    other, current = profiles.voices if a_first else profiles.voices[::-1]
    before = (3 + 41) * HOP

    def leaning(by: float) -> np.ndarray:
        """The unit block between the two voices that is ``by`` closer to A's centroid."""
        lo, hi = 0.0, 1.0
        for _ in range(60):
            t = (lo + hi) / 2
            v = t * other + (1 - t) * current
            v = v / np.linalg.norm(v)
            lo, hi = (t, hi) if float(v @ other - v @ current) < by else (lo, t)
        return v.astype(np.float32)

    between = leaning(0.105)  # past the dip margin (0.09), short of the margin (0.12)
    assert profiles.other_voice(between, before) is False
    assert profiles.other_voice(between, before, dip=True) is True
    assert profiles.other_voice(leaning(0.07), before, dip=True) is False
    no_dip_margin = VoiceProfiles(ProfileConfig())  # the default: no dip margin
    feed(no_dip_margin, [A] * 20 + [B] * 22)
    assert no_dip_margin.other_voice(between, before, dip=True) is False


def test_dips_are_the_windows_below_the_level_and_where_speech_came_back() -> None:
    dips, window = Dips(), 512
    probs = [0.9, 0.9, 0.2, 0.1, 0.8, 0.9, 0.3, 0.95, 0.9]
    ended = [dips.step(p, i * window) for i, p in enumerate(probs)]
    assert ended == [None, None, None, None, (2 * window, 4 * window), None, None,
                     (6 * window, 7 * window), None]
    assert dips.earliest(0, 9 * window) == (2 * window, 4 * window)
    assert dips.earliest(4 * window, 9 * window) == (6 * window, 7 * window)
    assert dips.earliest(0, 3 * window) is None


def test_inside_a_turn_only_its_own_blocks_say_whose_voice_it_is() -> None:
    profiles = VoiceProfiles(ProfileConfig())
    feed(profiles, [A] * 20 + [B] * 22)
    feed(profiles, [A] * 3, start=42)  # a turn of A began where its first block starts
    turn_start, before = 42 * HOP, (42 + 2 + 3) * HOP
    # the second before is mostly B's blocks: B sounds like that voice, not another one
    assert profiles.other_voice(B, before) is False
    # the turn's own three blocks are A's: B is another voice
    assert profiles.other_voice(B, before, since=turn_start) is True
    # one block of its own is too few to say (own_blocks = 2)
    assert profiles.other_voice(B, turn_start + profiles.block, since=turn_start) is False


def test_known_voices_can_be_tracked_through_a_monologue_that_splits_one_of_them() -> None:
    config = ProfileConfig()
    known = two_voices(_blocks([A] * 16 + [SECOND] * 16), config)
    assert known is not None
    blocks = _blocks([A] * 16 + [SECOND] * 16 + MONOLOGUE)
    assert two_voices(blocks, config) is None  # from scratch: the monologue's two kinds
    tracked = two_voices(blocks, config, start=known)  # from the voices known: still A, SECOND
    assert tracked is not None
    assert sorted(np.argmax(tracked @ np.stack([A, SECOND]).T, axis=1).tolist()) == [0, 1]


def test_a_refit_that_fails_forgets_the_voices_unless_told_to_keep_them() -> None:
    voices = [A] * 16 + [SECOND] * 20 + MONOLOGUE
    forgets = VoiceProfiles(ProfileConfig(track=0))  # from scratch: the monologue's refits fail
    keeps = VoiceProfiles(ProfileConfig(track=0, keep_fits=99))
    tracks = VoiceProfiles(ProfileConfig())  # the default: refits from the known voices
    for profiles in (forgets, keeps, tracks):
        for i, row in enumerate(_blocks(voices)):
            profiles.add((i + 3) * HOP, row)
            if i == 35:  # both voices have spoken: known
                assert profiles.voices is not None
    assert forgets.voices is None
    assert keeps.voices is not None and tracks.voices is not None


def test_a_turn_whose_voice_trailed_off_is_judged_on_its_blocks_from_further_back() -> None:
    off = VoiceProfiles(ProfileConfig(context_fallback_s=None))
    on = VoiceProfiles(ProfileConfig())  # the default: 3 s back
    for profiles in (off, on):
        feed(profiles, [A] * 20 + [B] * 22)
        feed(profiles, [A] * 4, start=42)  # a turn of A began at block 42's start ...
    turn_start = 42 * HOP
    before = 48 * HOP + 19200  # ... and its voice trailed off 1.2 s before B's block
    # no block of its own in the second before: not judged, unless it may look further back
    assert off.other_voice(B, before, since=turn_start) is False
    assert on.other_voice(B, before, since=turn_start) is True
    assert on.other_voice(A, before, since=turn_start) is False
    # still only the turn's own blocks: a turn that began after them has none to go on
    assert on.other_voice(B, before, since=47 * HOP) is False
