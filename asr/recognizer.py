"""One utterance of PCM in, its text (and word timings) out: faster-whisper's model driven directly.

`WhisperModel.transcribe()` pads every segment to a 30 s mel window and falls back to sampling at higher
temperatures; on short telephone utterances that costs ~3x and lets a loop run to 448 tokens. Here the
encoder sees a fixed, shorter window (long enough that accuracy holds), decoding is greedy or beam, and
the number of new tokens is bounded by the audio length.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens

from asr.frame import SAMPLE_RATE, Pcm
from asr.guards import compression_ratio, cut_repetition, max_new_tokens, repeated_tail
from asr.model import ModelOptions, resolve_compute_type, resolve_device, resolve_model_path
from asr.resample import to_model_rate

log = logging.getLogger(__name__)

HOP = 160  # samples per mel frame at 16 kHz (10 ms)
MAX_MODEL_TOKENS = 448
_MIN_WORD_S = 0.15  # no one says a word, even 'one', faster than this


@dataclass(frozen=True)
class DecodeOptions:
    """How each utterance is decoded."""

    beam_size: int = 2  # greedy (1) loses words on noisy lines; 2 costs ~4 % (mediagw/default.yaml)
    batch_beam_size: int = 1  # a batch (the workers found a backlog): throughput first (0: beam_size)
    window_seconds: float = 10.0  # fixed encoder window; the segmenter keeps utterances shorter
    tokens_per_second: float = 7.0  # new-token budget per second of audio
    min_new_tokens: int = 12
    max_repeats: int = 6  # a token pattern repeated more often than this is a loop
    compression_ratio_threshold: float = 2.4
    no_speech_threshold: float = 0.6  # with log_prob_threshold: an utterance the model itself judges non-speech...
    log_prob_threshold: float = -1.0  # ...is dropped (faster-whisper's transcribe() rule); 1.0 turns it off


@dataclass(frozen=True)
class Word:
    text: str  # as the model wrote it, punctuation attached
    start_ms: int  # relative to the start of the recognized audio
    end_ms: int
    probability: float


@dataclass(frozen=True)
class Recognition:
    text: str
    words: tuple[Word, ...] = ()
    new_tokens: int = 0  # tokens the decoder produced, before any loop was cut
    budget: int = 0  # the most it was allowed to produce
    loop_cut: bool = False
    decode_ms: float = 0.0
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0
    dropped: str = ""  # why the text was dropped ("no_speech"); the text is then empty


@dataclass(frozen=True)
class RecognitionRequest:
    samples: Pcm  # 8 kHz int16
    hotwords: str = ""
    word_timestamps: bool = False
    language: str = "en"  # ISO 639-1: the decoder's language token (one of Recognizer.languages)


class LanguageNotSupported(ValueError):
    """A request for a language the loaded model cannot transcribe (the ingress refuses it first)."""


class Recognizer:
    """Holds the shared model; `recognize` is thread-safe and blocking (call it from a worker thread)."""

    def __init__(self, model: ModelOptions, decode: DecodeOptions, cache_dir: Path | None = None) -> None:
        device = resolve_device(model.device)
        self.device = device
        self.decode = decode
        self.model_name = model.path
        self.model_path = resolve_model_path(model.path, cache_dir)
        self._model = WhisperModel(
            str(self.model_path),
            device=device,
            compute_type=resolve_compute_type(model, device),
            cpu_threads=model.cpu_threads,
            num_workers=model.workers,
            local_files_only=True,
        )
        self._multilingual = bool(self._model.model.is_multilingual)
        self._languages = tuple(self._model.supported_languages)
        self._tokenizers: dict[str, Tokenizer] = {}
        # for what does not depend on the language (suppressed tokens, loop checks): English, or the model's first
        self._tokenizer = self._tokenizer_for("en" if "en" in self.languages else self.languages[0])
        self._suppressed = list(get_suppressed_tokens(self._tokenizer, (-1,)) or ())
        self._window_frames = int(decode.window_seconds * 100)

    @property
    def languages(self) -> list[str]:
        """ISO 639-1 codes the loaded model can transcribe."""
        return list(self._languages)

    def _tokenizer_for(self, language: str) -> Tokenizer:
        """The tokenizer whose start sequence names `language` (created once per language; a dict insert is
        atomic, so worker threads may race to create the same one harmlessly)."""
        tokenizer = self._tokenizers.get(language)
        if tokenizer is None:
            if language not in self._languages:
                raise LanguageNotSupported(f"the model {self.model_name!r} cannot transcribe {language[:10]!r}")
            tokenizer = self._tokenizers[language] = self._new_tokenizer(language)
        return tokenizer

    def _new_tokenizer(self, language: str) -> Tokenizer:
        return Tokenizer(
            self._model.hf_tokenizer,
            self._multilingual,
            task="transcribe",
            language=language if self._multilingual else None,
        )

    def recognize(self, request: RecognitionRequest) -> Recognition:
        return self.recognize_batch([request])[0]

    def recognize_batch(self, requests: Sequence[RecognitionRequest]) -> list[Recognition]:
        """Decode several utterances in one generate() call.

        Encoding runs per utterance (batched int8 encoding was slower here); the decoder's steps are shared,
        which is where batching pays (bench/asr_decode.py). Utterances with different hotwords or languages are
        decoded in separate groups, since one call takes prompts of one length.
        """
        results: dict[int, Recognition] = {}
        groups: dict[tuple[str, str], list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault((request.hotwords.strip(), request.language), []).append(index)
        for (hotwords, language), indexes in groups.items():
            batch = [requests[i] for i in indexes]
            tokenizer = self._tokenizer_for(language)
            decoded = self._decode_group(batch, tokenizer, self._prompt(tokenizer, hotwords))
            results.update(zip(indexes, decoded, strict=True))
        return [results[i] for i in range(len(requests))]

    def _decode_group(
        self, requests: list[RecognitionRequest], tokenizer: Tokenizer, prompt: list[int]
    ) -> list[Recognition]:
        started = time.perf_counter()
        encoded, frames = zip(*(self._encode(r.samples) for r in requests), strict=True)
        seconds = [len(r.samples) / SAMPLE_RATE for r in requests]
        limit = MAX_MODEL_TOKENS - len(prompt)
        budgets = [max_new_tokens(s, self.decode.tokens_per_second, self.decode.min_new_tokens, limit) for s in seconds]
        generated = self._model.model.generate(
            encoded[0] if len(requests) == 1 else self._stack(encoded),
            [prompt] * len(requests),
            beam_size=self._beam_size(len(requests)),
            max_length=len(prompt) + max(budgets),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppressed,
        )
        decode_ms = (time.perf_counter() - started) * 1000
        out = []
        for request, result, enc, n_frames, budget, secs in zip(
            requests, generated, encoded, frames, budgets, seconds, strict=True
        ):
            tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
            produced = len(tokens)
            tokens, loop_cut = self._guard(tokens[:budget], budget, secs)
            tokens, restarted = _without_repeated_tail(tokenizer, tokens)
            loop_cut = loop_cut or restarted
            words = self._align(tokenizer, tokens, enc, n_frames) if request.word_timestamps and tokens else ()
            text = tokenizer.decode(tokens).strip()
            no_speech, avg_logprob = float(result.no_speech_prob), _avg_logprob(result.scores[0], produced)
            if self._non_speech(no_speech, avg_logprob, text):
                text, words, dropped = "", (), "no_speech"
            else:
                dropped = ""
            out.append(Recognition(text, words, produced, budget, loop_cut, decode_ms, no_speech, avg_logprob, dropped))
        return out

    def _beam_size(self, batch: int) -> int:
        """A batch means the workers found a backlog: there the decode's speed is worth more than its last WER
        point (greedy: ~20 % less decode time under load, bench/README.md)."""
        if batch > 1 and self.decode.batch_beam_size:
            return self.decode.batch_beam_size
        return self.decode.beam_size

    def _non_speech(self, no_speech_prob: float, avg_logprob: float, text: str) -> bool:
        """The model's own verdict, as `transcribe()` reads it: likely silence, and no confident text (or no word:
        a confident ". . ." on hiss) either."""
        if no_speech_prob <= self.decode.no_speech_threshold:
            return False
        return avg_logprob < self.decode.log_prob_threshold or not any(c.isalnum() for c in text)

    def _encode(self, samples: Pcm) -> tuple[ctranslate2.StorageView, int]:
        signal = to_model_rate(samples)[: self._window_frames * HOP - HOP]
        features, frames = self._features(signal)
        return self._model.encode(features), frames

    def _stack(self, encoded: Sequence[ctranslate2.StorageView]) -> ctranslate2.StorageView:
        """One [batch, positions, width] encoder output from several [1, positions, width] ones."""
        arrays = [np.asarray(e if e.device == "cpu" else e.to_device(ctranslate2.Device.cpu)) for e in encoded]
        stacked = ctranslate2.StorageView.from_array(np.concatenate(arrays))
        return stacked if self.device == "cpu" else stacked.to_device(ctranslate2.Device.cuda)

    def _features(self, signal: np.ndarray) -> tuple[np.ndarray, int]:
        mel = self._model.feature_extractor(signal, padding=HOP)  # stateless without chunk_length: no lock
        frames = min(mel.shape[-1], self._window_frames)
        window = np.zeros((mel.shape[0], self._window_frames), dtype=np.float32)
        window[:, :frames] = mel[:, :frames]
        return window, frames

    @staticmethod
    def _prompt(tokenizer: Tokenizer, hotwords: str) -> list[int]:
        """[previous-text hotwords] <|startoftranscript|> <|language|> <|transcribe|> <|notimestamps|>"""
        prompt: list[int] = []
        if hotwords.strip():
            hot = tokenizer.encode(" " + hotwords.strip())[: MAX_MODEL_TOKENS // 2 - 1]
            prompt = [tokenizer.sot_prev, *hot]
        return [*prompt, *tokenizer.sot_sequence, tokenizer.no_timestamps]

    def _guard(self, tokens: list[int], budget: int, audio_seconds: float) -> tuple[list[int], bool]:
        """Cut a decode that ran into a loop.

        A decode that used its whole budget is a runaway: repeats beyond `max_repeats` go. Text that merely
        compresses well may be real ("one one one one..." of a card number), so there a run is cut only when
        it repeats more often than the audio could hold at one word per `_MIN_WORD_S`.
        """
        runaway = len(tokens) >= budget
        if not runaway and compression_ratio(self._tokenizer.decode(tokens)) <= self.decode.compression_ratio_threshold:
            return tokens, False
        limit = self.decode.max_repeats if runaway else max(self.decode.max_repeats, int(audio_seconds / _MIN_WORD_S))
        kept = cut_repetition(tokens, limit)
        if len(kept) < len(tokens):
            log.warning("asr decode loop cut: %d of %d tokens kept", len(kept), len(tokens))
        return kept, len(kept) < len(tokens)

    def _align(self, tokenizer: Tokenizer, tokens: list[int], encoded: object, frames: int) -> tuple[Word, ...]:
        aligned = self._model.find_alignment(tokenizer, [tokens], encoded, frames)[0]  # type: ignore[arg-type]
        return tuple(
            Word(w["word"], int(round(w["start"] * 1000)), int(round(w["end"] * 1000)), float(w["probability"]))
            for w in aligned
        )


def _without_repeated_tail(tokenizer: Tokenizer, tokens: list[int]) -> tuple[list[int], bool]:
    """The tokens up to where the text starts over (asr/guards.py: repeated_tail); whether it did."""
    words: list[str] = []
    firsts: list[int] = []  # each word's first token
    for index, token in enumerate(tokens):
        piece = tokenizer.decode([token])
        if not words or piece.startswith(" "):
            words.append(piece)
            firsts.append(index)
        else:
            words[-1] += piece
    cut = repeated_tail(words)
    if cut is None:
        return tokens, False
    log.warning("asr decode repeated itself: %d of %d tokens kept", firsts[cut], len(tokens))
    return tokens[: firsts[cut]], True


def _avg_logprob(score: float, tokens: int) -> float:
    """ctranslate2's score is the sum of log probabilities over the tokens (length penalty 1 divides by their
    number); faster-whisper counts the end token too."""
    return float(score) * max(tokens, 1) / (tokens + 1)
