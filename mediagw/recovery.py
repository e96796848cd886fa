"""After a restart: what the last shutdown spooled is transcribed and delivered as late utterances, once each.

A late utterance keeps its original media times (`start`, `end`, relative to its stream's first audio, as every
utterance), is stored like any other and sent to the webhooks (the direct API's only with
websocket_api.publish_webhooks as configured now), and its transcript message carries `"late": true`. The spool
row is marked `delivered` in the transaction that stores the utterance, so a kill at any point delivers it at
most once, and the audio file goes after. Redaction runs fail-safe (any secret number the other party may have
asked for is masked): the conversation's context died with the old process.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from asr.pool import PoolClosed
from asr.recognizer import Recognition, RecognitionRequest
from mediagw.outputs.spool import EMPTY, FAILED, AudioSpool, SpooledUtterance
from mediagw.pipeline import Heard, TranscriptionSettings, transcript_of
from mediagw.services import Services
from mediagw.streams import bind_text_stage

log = logging.getLogger(__name__)


async def recover_spooled(services: Services) -> None:
    """Transcribe and deliver every spooled utterance, oldest first, through the ASR pool's fair share."""
    spool, pool = services.spool, services.pool
    if spool is None or pool is None:
        return
    swept = await spool.sweep()
    if swept:
        log.info("spool: removed %d audio file(s) no longer waiting", swept)
    items = await spool.pending(limit=1_000_000)
    if not items:
        return
    log.info("spool: transcribing %d utterance(s) the last shutdown left undecoded", len(items))
    loop = asyncio.get_running_loop()
    began, counts = loop.time(), {"delivered": 0, "empty": 0, "failed": 0}
    chunk = max(1, services.config.asr.max_batch * services.config.asr.model.workers)
    for first in range(0, len(items), chunk):  # decoded together (the pool batches them), delivered in order
        batch = items[first : first + chunk]
        results = await asyncio.gather(*(_recognize(services, spool, item) for item in batch), return_exceptions=True)
        if any(isinstance(r, PoolClosed) for r in results):  # shutting down again: the rest stays spooled
            log.info("spool: stopped with %d utterance(s) still spooled", len(items) - sum(counts.values()))
            return
        for item, result in zip(batch, results, strict=True):
            outcome = await _settle(services, spool, item, result)
            counts[outcome] += 1
            services.metrics.late_utterances.labels(outcome).inc()
    await spool.sweep()
    log.info("spool: %s in %.1f s", ", ".join(f"{n} {k}" for k, n in counts.items()), loop.time() - began)


async def _recognize(services: Services, spool: AudioSpool, item: SpooledUtterance) -> Recognition:
    assert services.pool is not None
    samples = await asyncio.to_thread(spool.read_audio, item)
    request = RecognitionRequest(
        samples,
        hotwords=services.custom_vocabulary.hotwords(),
        word_timestamps=item.settings.detailed_token,
        language=item.settings.language,  # a model without it (changed since) fails the item, logged
    )
    return await services.pool.transcribe(request, f"late-{item.stream_id}")


async def _settle(
    services: Services, spool: AudioSpool, item: SpooledUtterance, result: Recognition | BaseException
) -> str:
    try:
        if isinstance(result, BaseException):
            raise result
        return await _deliver(services, spool, item, result)
    except Exception:
        log.exception("spool: a late utterance could not be transcribed", extra={"stream_id": item.stream_id})
        await spool.settle(item, FAILED)
        return "failed"


async def _deliver(services: Services, spool: AudioSpool, item: SpooledUtterance, result: Recognition) -> str:
    settings = item.settings
    text_stage = partial(
        bind_text_stage(
            services.text_stage,
            conversation_id=_conversation_key(services, item),
            role=item.role,
            smart_formatting=settings.smart_formatting,
            output=settings.redaction_output,
            fail_safe=True,  # the conversation's context died with the process that spooled it
        ),
        language=settings.language,
    )
    transcript = transcript_of(
        result,
        item,
        Heard(item.stream_id, -1, asyncio.get_running_loop().time(), settings.language),
        services.custom_vocabulary,
        TranscriptionSettings(settings.smart_formatting, settings.detailed_token),
        text_stage,
    )
    if transcript is None:
        await spool.settle(item, EMPTY)
        return "empty"
    sender = {"externalId": item.participant_id, "role": item.role}
    await services.delivery.store_and_publish(
        transcript,
        item.conversation_external_id,
        sender,
        publish=item.namespace in services.namespaces.controlled or services.config.websocket_api.publish_webhooks,
        late=True,
        spooled_id=item.id,
    )
    return "delivered"


def _conversation_key(services: Services, item: SpooledUtterance) -> str:
    """The text stage's conversation, as the live streams named it."""
    if item.namespace in services.namespaces.controlled:  # a call of the media gateway namespaces
        return f"{item.namespace}:{item.conversation_external_id}"
    return item.conversation_external_id
