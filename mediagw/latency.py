"""Where an utterance's latency goes, stage by stage, for metrics and a debug line anyone can read.

end_wait:  speech ended -> the segmenter closed the utterance (the end-of-utterance silence)
queued:    closed -> its decode started (the ASR pool's queue)
decode:    the decode itself
turn_wait: decoded -> the other party's earlier utterances were through redaction (mediagw/turns.py)
text:      formatting and redaction
output:    the store, then the direct API's socket or the webhook publisher's queue
"""

from __future__ import annotations

from dataclasses import dataclass

STAGES = ("end_wait", "queued", "decode", "turn_wait", "text", "output")


@dataclass
class StageTimes:
    """Loop times (s) at which an utterance passed each stage; filled in as it goes."""

    end_wait_s: float  # media time from the end of speech to the close, known when the segment closes
    closed_at: float
    decoded_at: float = 0.0
    decode_s: float = 0.0
    turn_from: float = 0.0
    text_from: float = 0.0
    text_done: float = 0.0

    def seconds(self, delivered_at: float) -> dict[str, float]:
        """Each stage's share of the utterance's latency, in seconds."""
        return {
            "end_wait": self.end_wait_s,
            "queued": max(0.0, self.decoded_at - self.closed_at - self.decode_s),
            "decode": self.decode_s,
            "turn_wait": max(0.0, self.text_from - self.turn_from),
            "text": max(0.0, self.text_done - self.text_from),
            "output": max(0.0, delivered_at - self.text_done),
        }

    @staticmethod
    def line(seconds: dict[str, float]) -> str:
        return " ".join(f"{stage}={seconds[stage] * 1000:.0f}ms" for stage in STAGES)
