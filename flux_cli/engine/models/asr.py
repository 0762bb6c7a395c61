"""Whisper tiny.en on CTranslate2, called directly rather than through faster-whisper.

Why not ``WhisperModel.transcribe``: it always encodes a 30 s mel window (~0.4 s a call on
2 cores) while a turn is usually a few seconds. CTranslate2's Whisper encoder accepts a
shorter mel, so we encode only the real audio plus padding (~40-60 ms), then ``generate``
without timestamps and ``align`` for word times and probabilities.

Measured on flite speech (see ``AsrOptions``): the padding must run well past the audio
(with none, decoding falls into repetition loops; 200 frames is safe), the input should be
>= 1000 frames, and the padding must look like digital silence (``silence_level``), not
zeros, or short answers come out twice ("Yes. Yes."). Audio over 28 s is cut in its
quietest moment and the windows decoded independently.

Thread safety: the CTranslate2 model queues concurrent calls itself; everything else here
is read-only after ``__init__``, so one instance serves every connection.
"""

from __future__ import annotations

import copy
import math
import string
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flux_cli.engine.interfaces import SAMPLE_RATE, Audio, Transcript
from flux_cli.engine.languages import LanguageChoice, merged, ranked, reported
from flux_cli.engine.models.sentence_end import SentenceEnd
from flux_cli.protocol import LANGUAGES, Word

HOP = 160  # samples per mel frame (10 ms)
FRAMES_PER_SECOND = SAMPLE_RATE // HOP
ENCODER_STRIDE = 2  # mel frames per encoder frame: align() times are in 20 ms steps
MAX_FRAMES = 3000  # the encoder's positional table: 30 s
MAX_LENGTH = 448  # the decoder's positional table (prompt + generated tokens)
MAX_PROMPT = MAX_LENGTH // 2 - 1  # longest <|startofprev|> text, as Whisper was trained
SPACE = "\u0120"  # byte-level BPE's mark for a leading space: the token starts a word
PUNCTUATION = SPACE + string.punctuation


@dataclass(frozen=True)
class AsrOptions:
    """Decoding knobs; the defaults were measured on flite speech (see the module doc)."""

    beam_size: int = 2  # measured: 7.8% WER vs 10.8% greedy on 144 corpus turns, ~same cost
    min_frames: int = 1000  # shortest encoder input (10 s); shorter inputs decode worse
    margin_frames: int = 200  # zero frames kept after the audio
    pad_step: int = 250  # round encoder input up to a multiple of this
    window_s: float = 28.0  # longest audio per decode (margin included it stays < 30 s)
    split_search_s: float = 4.0  # cut long audio at the quietest point of this last stretch
    min_audio_s: float = 0.1  # shorter input is never speech
    silence_rms: float = 3e-4  # about -70 dBFS: digital silence, not worth a decode
    no_speech_threshold: float = 0.6
    logprob_threshold: float = -2.0  # below this the decode is noise, not words
    compression_ratio_threshold: float = 2.4  # above this a decode is a repetition loop
    tokens_per_second: float = 12.0  # generation budget: fast speech is ~7 tokens/s
    extra_tokens: int = 16
    quiet_db: float = 40.0  # frames this far below the loudest are silence, for word times
    # tiny.en without timestamps sometimes stops long before its audio does (mostly where a
    # second voice comes in): when the last window's last word ends this long before the
    # window does, the rest is decoded once more (docs/TURNS.md, stop 37-38). 0 turns it off.
    decode_on_s: float = 1.5
    decode_on_sounding_s: float = 0.3  # ...if at least this much of the rest is audible
    # A rest's own decode can stop early too: it is decoded on again, at most this many rests
    # per call in all (stop 37's unbounded chain let a stream fall behind; stop 40).
    decode_on_times: int = 2
    # tiny.en sometimes skips a stretch inside its audio (seconds of speech no text holds) and
    # the alignment then stretches one word over it: a word over this much audible audio is
    # decoded once more with the word before it, that span alone (docs/TURNS.md, stop 39).
    # 0 turns it off.
    skipped_word_s: float = 3.5
    min_word_s: float = 0.06  # trimming silence never makes a word shorter than this
    # Score the last window's ending (``sentence_end.py``): ~10 ms more, for the decision's
    # end-of-turn model; interim decodes do not ask.
    sentence_end: bool = False


@dataclass
class _Decoded:
    tokens: list[int]
    text: str
    avg_logprob: float
    no_speech_prob: float
    out_of_budget: bool


@dataclass
class _Heard:
    """A window's decode: its words with their spans inside the window, as aligned."""

    text: str
    tokens: list[int]
    raw: list[tuple[str, float, float, float]]  # (word, start s, end s, probability)
    sounding: np.ndarray  # per 10 ms frame (``loud_frames``)
    duration: float
    ranking: list[tuple[str, float]]
    encoded: Any

    def words_at(self, offset_s: float, opts: AsrOptions) -> list[Word]:
        """The words in stream seconds, trimmed off silence (``trim_to_sound``)."""
        out = []
        for word, raw_start, raw_end, conf in self.raw:
            start, end = trim_to_sound(raw_start, raw_end, self.sounding, opts.min_word_s)
            out.append(Word(word=word, confidence=conf,
                            start=round(offset_s + min(start, self.duration), 3),
                            end=round(offset_s + min(end, self.duration), 3)))
        return out


class WhisperTranscriber:
    """``Transcriber`` over a CTranslate2 Whisper model directory (tiny.en by default)."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        intra_threads: int = 1,
        inter_threads: int = 2,
        options: AsrOptions | None = None,
        files: Mapping[str, bytes] | None = None,
    ) -> None:
        """``inter_threads`` decodes run at once (one per core serves concurrent streams
        best: a short decode gains little from a second thread), each on ``intra_threads``.

        ``files``: the model's files in memory (a split model joined by ``whisper_models``);
        ``model_dir`` then only names it."""
        import ctranslate2
        import tokenizers
        from faster_whisper.feature_extractor import FeatureExtractor
        from faster_whisper.tokenizer import Tokenizer

        model_dir = Path(model_dir)
        self.options = options or AsrOptions()
        self._ct2 = ctranslate2
        self._model = ctranslate2.models.Whisper(
            str(model_dir),
            device="cpu",
            compute_type="int8",
            intra_threads=intra_threads,
            inter_threads=inter_threads,
            files=None if files is None else {k: v for k, v in files.items()
                                              if k != "tokenizer.json"},
        )
        if files is not None:
            hf = tokenizers.Tokenizer.from_str(files["tokenizer.json"].decode("utf-8"))
        else:
            hf = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        multilingual = bool(self._model.is_multilingual)
        self.multilingual = multilingual
        self._tok = Tokenizer(
            hf,
            multilingual,
            task="transcribe",
            language="en" if multilingual else None,
        )
        self._features = FeatureExtractor(feature_size=int(self._model.n_mels))
        # Read every cached property now, so worker threads only ever read.
        self._eot = int(self._tok.eot)
        self._sot_prev = int(self._tok.sot_prev)
        self._sot_sequence = list(self._tok.sot_sequence)
        self._no_timestamps = int(self._tok.no_timestamps)
        # The start of transcript per language (<|startoftranscript|><|xx|><|transcribe|>).
        self._sot_by_language = {
            lang: list(Tokenizer(hf, True, task="transcribe", language=lang).sot_sequence)
            for lang in LANGUAGES
        } if multilingual else {}
        self._suppress = sorted(
            {
                *self._tok.non_speech_tokens,
                int(self._tok.transcribe),
                int(self._tok.translate),
                int(self._tok.sot),
                self._sot_prev,
                int(self._tok.sot_lm),
                int(self._tok.no_speech),
            }
        )
        self._ending = SentenceEnd(self)  # scores endings when ``options.sentence_end``

    # ------------------------------------------------------------------ public

    def with_options(self, options: AsrOptions) -> WhisperTranscriber:
        """The same loaded model, decoding with other options (e.g. greedy for interims)."""
        other = copy.copy(self)
        other.options = options
        return other

    def transcribe(
        self,
        audio: Audio,
        *,
        offset_s: float,
        hotwords: Sequence[str] = (),
        languages: LanguageChoice | None = None,
    ) -> Transcript:
        """Decode ``audio``; word times are shifted by ``offset_s`` into stream seconds.

        ``languages``: None decodes English; otherwise each window's language is detected
        among the candidates (hints biased, ``languages.py``) and reported, most likely first.
        """
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        opts = self.options
        if audio.size < opts.min_audio_s * SAMPLE_RATE:
            return Transcript(text="", words=[])
        if float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < opts.silence_rms:
            return Transcript(text="", words=[])
        hotword_tokens = self._hotword_tokens(hotwords)
        texts: list[str] = []
        words: list[Word] = []
        found: list[str] = []
        ending: float | None = None
        respelled = False  # a skipped stretch is decoded again once per call
        # Windows are decoded independently: conditioning on the previous window's text
        # made tiny.en hallucinate when a window repeated what came before (measured).
        windows = split_windows(audio, opts)
        last = len(windows) - 1
        for index, (start, end) in enumerate(windows):  # + at most decode_on_times rests
            window = audio[start:end]
            heard = self._hear(window, hotword_tokens, languages)
            if heard is None:
                continue
            found = merged(found, reported(heard.ranking))
            if opts.sentence_end:
                ending = self._ending.after(heard.encoded, heard.tokens,
                                            self._sot_for(heard.ranking))
            window_offset = offset_s + start / SAMPLE_RATE
            heard_words = heard.words_at(window_offset, opts)
            last_end_s = heard.raw[-1][2] if heard.raw else None
            skipped = None if respelled else skipped_word(heard.raw, heard.sounding, opts)
            if skipped is not None:  # from the word before it: the skip may start there
                respelled = True
                first = max(0, skipped - 1)
                lo = round(heard.raw[first][1] * SAMPLE_RATE)
                hi = round(heard.raw[skipped][2] * SAMPLE_RATE)
                inner = self._hear(window[lo:hi], hotword_tokens, languages)
                if inner is not None and inner.raw:
                    heard_words[first:skipped + 1] = inner.words_at(
                        window_offset + lo / SAMPLE_RATE, opts)
                    if skipped == len(heard.raw) - 1:
                        last_end_s = lo / SAMPLE_RATE + inner.raw[-1][2]
            texts.append(heard.text if skipped is None
                         else " ".join(w.word for w in heard_words))
            words += heard_words
            if last <= index < last + opts.decode_on_times and last_end_s is not None:
                rest = unheard_rest(last_end_s, heard.sounding, opts)
                if rest is not None:
                    windows.append((start + rest, end))
        return Transcript(text=" ".join(texts), words=words, languages=found,
                          sentence_end=ending)

    def _hear(self, window: Audio, hotword_tokens: list[int],
              languages: LanguageChoice | None) -> _Heard | None:
        """One window decoded and aligned (None: not speech)."""
        decoded, encoded, mel, ranking = self._decode(window, hotword_tokens, languages)
        if decoded is None:
            return None
        raw = self._align(encoded, decoded.tokens, mel.shape[1], self._sot_for(ranking))
        return _Heard(decoded.text, decoded.tokens, raw, loud_frames(mel, self.options.quiet_db),
                      window.size / SAMPLE_RATE, ranking, encoded)

    # ------------------------------------------------------------------ steps

    def _hotword_tokens(self, hotwords: Sequence[str]) -> list[int]:
        terms = [t.strip() for t in hotwords if t.strip()]
        if not terms:
            return []
        return list(self._tok.encode(" " + ", ".join(terms)))[:MAX_PROMPT]

    def _prompt(self, hotword_tokens: list[int], sot: list[int] | None = None) -> list[int]:
        """faster-whisper's hotwords layout: ``<|startofprev|>`` keyterms, then SOT."""
        tail = [*(self._sot_sequence if sot is None else sot), self._no_timestamps]
        if not hotword_tokens:
            return tail
        return [self._sot_prev, *hotword_tokens, *tail]

    def _language(self, encoded: Any, choice: LanguageChoice | None,
                  seconds: float) -> list[tuple[str, float]]:
        """The window's candidate languages, most likely first ([] for the English default);
        ``seconds``: the window's audio (a hint counts for more in a short one).

        Whisper's own language ID reads the encoder output the decode uses anyway, so it
        costs one decoder step.
        """
        if choice is None or not self.multilingual:
            return []
        if choice.fixed is not None:
            return [(choice.fixed, 1.0)]
        detected = self._model.detect_language(encoded)[0]
        probabilities = {token.strip("<|>"): float(p) for token, p in detected}
        return ranked(probabilities, choice, seconds)

    def _sot_for(self, ranking: list[tuple[str, float]]) -> list[int]:
        if not ranking:
            return self._sot_sequence
        return self._sot_by_language.get(ranking[0][0], self._sot_sequence)

    def _decode(
        self, window: Audio, hotword_tokens: list[int], choice: LanguageChoice | None = None
    ) -> tuple[_Decoded | None, Any, np.ndarray, list[tuple[str, float]]]:
        """Encode and decode one window; a repetition loop gets one retry at the full 30 s.

        Returns the decode (None: not speech), the encoder output, the window's mel and its
        language ranking.
        """
        opts = self.options
        full_mel = self._features(window)
        n_frames = min(full_mel.shape[1] - 1, MAX_FRAMES)
        mel = full_mel[:, :n_frames]
        budget = opts.extra_tokens + math.ceil(opts.tokens_per_second * window.size / SAMPLE_RATE)
        padded = encoder_frames(n_frames, opts)
        encoded = self._encode(mel, n_frames, padded)
        ranking = self._language(encoded, choice, window.size / SAMPLE_RATE)
        prompt = self._prompt(hotword_tokens, self._sot_for(ranking))
        max_length = min(MAX_LENGTH, len(prompt) + budget)
        decoded = self._generate(encoded, prompt, max_length)
        if self._looped(decoded) and padded < MAX_FRAMES:
            encoded = self._encode(mel, n_frames, MAX_FRAMES)
            decoded = self._generate(encoded, prompt, max_length)
        if not self._is_speech(decoded):
            return None, encoded, mel, ranking
        return decoded, encoded, mel, ranking

    def _encode(self, mel: np.ndarray, n_frames: int, padded: int) -> Any:
        features = np.full((1, mel.shape[0], padded), silence_level(mel), dtype=np.float32)
        features[0, :, :n_frames] = mel[:, :n_frames]
        return self._model.encode(self._ct2.StorageView.from_array(features), to_cpu=False)

    def _generate(self, encoded: Any, prompt: list[int], max_length: int) -> _Decoded:
        result = self._model.generate(
            encoded,
            [prompt],
            beam_size=self.options.beam_size,
            max_length=max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
        )[0]
        ids = list(result.sequences_ids[0])
        tokens = drop_trailing_repeats([t for t in ids if t < self._eot])
        # generate() reports the length-normalised log-prob (length_penalty 1): undo it
        # and count the end token, as Whisper's avg_logprob does.
        score = float(result.scores[0]) if result.scores else 0.0
        avg_logprob = score * len(tokens) / (len(tokens) + 1)
        text = str(self._tok.decode(tokens)).strip()
        # Without an end token the decode ran out of budget: speech never needs that many.
        out_of_budget = len(prompt) + len(ids) >= max_length
        return _Decoded(tokens, text, avg_logprob, float(result.no_speech_prob), out_of_budget)

    def _looped(self, decoded: _Decoded) -> bool:
        ratio = compression_ratio(decoded.text)
        return decoded.out_of_budget or ratio > self.options.compression_ratio_threshold

    def _is_speech(self, decoded: _Decoded) -> bool:
        """Drop what tiny.en says over non-speech ("you", "I'm going to do that.", ". . .").

        Measured with floor padding on noise, hum, clicks and flite speech: non-speech always
        had no_speech_prob >= 0.78, speech (even single words) <= 0.48; so unlike Whisper's
        own rule a confident log-prob does not rescue a high no_speech_prob here.
        """
        opts = self.options
        if not any(ch.isalnum() for ch in decoded.text):
            return False
        if decoded.no_speech_prob > opts.no_speech_threshold:
            return False
        return decoded.avg_logprob >= opts.logprob_threshold

    def _align(
        self, encoded: Any, tokens: list[int], n_frames: int, sot: list[int]
    ) -> list[tuple[str, float, float, float]]:
        """Words with (start, end) seconds inside the window and mean token probability."""
        if not tokens:
            return []
        result = self._model.align(encoded, sot, [tokens], [n_frames])[0]
        token_times = token_start_times(result.alignments, len(tokens), n_frames)
        probs = [float(p) for p in result.text_token_probs]
        words: list[tuple[str, float, float, float]] = []
        pieces = [self._tok.tokenizer.id_to_token(t) or "" for t in tokens]
        for first, last in group_words(pieces):
            text = str(self._tok.decode(tokens[first:last])).strip()
            if not text:
                continue
            # Trailing punctuation soaks up the pause after a word on the alignment path,
            # so the word ends where its punctuation starts.
            end = last
            while end - 1 > first and pieces[end - 1].strip(PUNCTUATION) == "":
                end -= 1
            token_probs = probs[first:last] or [0.0]
            words.append(
                (
                    text,
                    token_times[first],
                    max(token_times[end], token_times[first]),
                    float(np.mean(token_probs)),
                )
            )
        return words


# ---------------------------------------------------------------------- pure helpers


def encoder_frames(n_frames: int, opts: AsrOptions) -> int:
    """Mel frames to feed the encoder for ``n_frames`` of audio (see the module doc)."""
    wanted = max(opts.min_frames, n_frames + opts.margin_frames)
    rounded = -(-wanted // opts.pad_step) * opts.pad_step
    return min(MAX_FRAMES, rounded)


def silence_level(mel: np.ndarray) -> float:
    """The log-mel value of digital silence next to this audio.

    Whisper pads the *audio* with zeros, whose log-mel is clamped to ``max - 8`` and scaled
    by ``(x + 4) / 4``: ``mel.max() - 2``. Padding the mel with 0 instead (as faster-whisper
    does) reads as a faint noise floor, and tiny.en then repeats short words ("Yes. Yes.").
    """
    return float(mel.max()) - 2.0


def loud_frames(mel: np.ndarray, quiet_db: float) -> np.ndarray:
    """Per 10 ms frame: is anything sounding? (The mel is log10 power / 4: 1 unit = 40 dB.)"""
    if mel.shape[1] == 0:
        return np.zeros(0, dtype=bool)
    frame_peak = mel.max(axis=0)
    return np.asarray(frame_peak > frame_peak.max() - quiet_db / 40.0)


def trim_to_sound(
    start: float, end: float, sounding: np.ndarray, min_word_s: float
) -> tuple[float, float]:
    """Shrink a word's span off silent frames at either edge.

    The alignment path has to spend every frame on some token, so a pause inside a
    sentence lands on a neighbouring word ("for" lasting a second). In steady background
    noise no frame is silent and the alignment's times stand.
    """
    first = max(0, round(start * FRAMES_PER_SECOND))
    last = min(sounding.size, round(end * FRAMES_PER_SECOND))
    shortest = max(1, round(min_word_s * FRAMES_PER_SECOND))
    while last - first > shortest and not sounding[first]:
        first += 1
    while last - first > shortest and not sounding[last - 1]:
        last -= 1
    if not sounding[first:last].any():
        return start, end  # nothing audible at all: keep the alignment's guess
    return first / FRAMES_PER_SECOND, last / FRAMES_PER_SECOND


def split_windows(audio: Audio, opts: AsrOptions) -> list[tuple[int, int]]:
    """Cut long audio into decodable windows, each ending at the quietest 100 ms near its end.

    Cutting in a pause keeps words whole; a window never exceeds ``opts.window_s``.
    """
    limit = int(opts.window_s * SAMPLE_RATE)
    search = int(opts.split_search_s * SAMPLE_RATE)
    step = SAMPLE_RATE // 10
    windows: list[tuple[int, int]] = []
    start = 0
    while audio.size - start > limit:
        lo = start + limit - search
        stretch = audio[lo : start + limit]
        n_blocks = stretch.size // step
        energy = np.square(stretch[: n_blocks * step].reshape(n_blocks, step)).mean(axis=1)
        quietest = int(np.argmin(energy))
        cut = lo + quietest * step + step // 2
        windows.append((start, cut))
        start = cut
    windows.append((start, int(audio.size)))
    return windows


def unheard_rest(last_word_end_s: float, sounding: np.ndarray,
                 opts: AsrOptions) -> int | None:
    """Where to decode a window once more (a sample offset into it), or None.

    ``last_word_end_s``: the decode's last word's end in the window; ``sounding``: the
    window's audible 10 ms frames (``loud_frames``). tiny.en, decoding without timestamps,
    sometimes ends its text seconds before the audio ends, most often where a second voice
    starts; nothing would ever transcribe that speech. A rest that is (nearly) silent is not
    worth a decode: it is the pause an end of turn waits through.
    """
    if opts.decode_on_s <= 0:
        return None
    first = max(0, round(last_word_end_s * FRAMES_PER_SECOND))
    if (sounding.size - first) / FRAMES_PER_SECOND < opts.decode_on_s:
        return None
    if int(sounding[first:].sum()) / FRAMES_PER_SECOND < opts.decode_on_sounding_s:
        return None
    return first * HOP


def skipped_word(words: Sequence[tuple[str, float, float, float]], sounding: np.ndarray,
                 opts: AsrOptions) -> int | None:
    """The index of the word whose span holds the most audible audio, if that is over
    ``opts.skipped_word_s``; else None.

    ``words``: (word, start s, end s, probability) inside the window, as aligned. A spoken
    word, even a long number ("31994518.") or an address, lasted under 3.3 s on the train
    splits of seven sets (``docs/TURNS.md``, stop 39); a word aligned over more is tiny.en's
    decode skipping speech there, which its alignment has to spend on some word (``twoparty``
    train: "disconnect" over 15.7 s)."""
    if opts.skipped_word_s <= 0 or not words:
        return None
    heard = [int(sounding[max(0, round(a * FRAMES_PER_SECOND)):
                          round(b * FRAMES_PER_SECOND)].sum()) for _, a, b, _ in words]
    longest = int(np.argmax(heard))
    if heard[longest] / FRAMES_PER_SECOND <= opts.skipped_word_s:
        return None
    return longest


def compression_ratio(text: str) -> float:
    """How well the text zips: loops like '. . . .' or a repeated sentence zip very well."""
    data = text.encode("utf-8")
    if not data:
        return 0.0
    return len(data) / len(zlib.compress(data))


def drop_trailing_repeats(tokens: list[int], min_span: int = 4) -> list[int]:
    """Cut a phrase that repeats itself at the end ("Street. Please send it to Street.").

    tiny.en sometimes says a short turn twice, mostly with a keyterm prompt. A person
    rarely repeats four or more tokens word for word, while "no, no" (shorter) is kept.
    """
    out = list(tokens)
    changed = True
    while changed:
        changed = False
        for span in range(len(out) // 2, min_span - 1, -1):
            if out[-span:] == out[-2 * span : -span]:
                del out[-span:]
                changed = True
                break
    return out


def token_start_times(
    alignments: Sequence[tuple[int, int]], n_tokens: int, n_frames: int
) -> list[float]:
    """Start second of each text token (and of the end token, index ``n_tokens``).

    ``align`` returns a monotonic path of (text index, encoder frame) pairs; a token starts
    at the first frame the path spends on it. Tokens the path skips inherit the next start.
    """
    end_s = n_frames / FRAMES_PER_SECOND
    starts: list[float | None] = [None] * (n_tokens + 1)
    for text_index, frame in alignments:
        if 0 <= text_index <= n_tokens and starts[text_index] is None:
            starts[text_index] = frame * ENCODER_STRIDE / FRAMES_PER_SECOND
    out = [0.0] * (n_tokens + 1)
    following = end_s
    for i in range(n_tokens, -1, -1):
        value = starts[i]
        following = min(following, value) if value is not None else following
        out[i] = following
    return out


def group_words(pieces: Sequence[str]) -> list[tuple[int, int]]:
    """Token ranges of words: a piece starting with a space begins a word.

    Punctuation without a space stays on the word before it, so words come out
    "punctuated", as Flux sends them (``tonight.``, ``o'clock``).
    """
    ranges: list[tuple[int, int]] = []
    first = 0
    for i, piece in enumerate(pieces):
        if i > 0 and piece.startswith(SPACE):
            ranges.append((first, i))
            first = i
    if pieces:
        ranges.append((first, len(pieces)))
    return ranges
