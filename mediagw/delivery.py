"""A transcript's way out: committed to the store first, then handed to the webhooks (never the reverse)."""

from __future__ import annotations

from typing import Any, Protocol

from mediagw.outputs.messages import transcript_message, webhook_message
from mediagw.outputs.store import TranscriptStore
from mediagw.outputs.webhooks import WebhookPublisher
from mediagw.transcripts import Transcript


class Outputs(Protocol):
    """Where transcripts go, as start-up set them (none of them before)."""

    store: TranscriptStore | None
    publisher: WebhookPublisher | None


class Delivery:
    def __init__(self, outputs: Outputs) -> None:
        self._outputs = outputs

    async def store_and_publish(
        self,
        transcript: Transcript,
        conversation_id: str,
        sender: dict[str, str],
        publish: bool,
        late: bool = False,
        spooled_id: str | None = None,
    ) -> dict[str, Any]:
        """Commit the transcript message, then hand it to the webhooks; returns the message for other outputs.
        `late`: transcribed after a restart from the spool (the message says so), `spooled_id` its spooled row."""
        body = transcript_message(transcript)
        if late:
            body["late"] = True
        store, publisher = self._outputs.store, self._outputs.publisher
        if store is None:
            return body
        utterance_id = await store.save_utterance(
            transcript.stream_id,
            transcript.start_ms,
            transcript.end_ms,
            transcript.text,
            transcript.unredacted_text,
            body,
            publisher.target_names if publish and publisher is not None else (),  # queued records
            spooled_id,
        )
        if publish and publisher is not None:
            webhook = webhook_message(conversation_id, transcript.stream_id, sender, body)
            publisher.publish(utterance_id, transcript.stream_id, webhook)
        return body
