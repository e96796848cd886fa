"""start-streaming and stop-streaming: parse and validate, hand to the call lifecycle, answer in the reference's
shape. Each namespace's guid format and parameters are its adapter's (core/adapters.py); none is named here."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from mediagw.api.bodies import json_body
from mediagw.api.errors import ApiError
from mediagw.api.forward import NO_CALL, STOP_SHARE, NoLiveOwner, forward, stop_share
from mediagw.api.routes import AUTH, SERVICES
from mediagw.core.adapters import Namespaces, ParamsInvalid
from mediagw.core.lifecycle import HeldElsewhere, Outcome, StartRequest
from mediagw.core.record import REDACTION_OUTPUTS, CallRecord, TranscriptionParams
from mediagw.core.registry import RegistryUnavailable
from mediagw.core.rules import CallRefused, StreamReport
from mediagw.languages import supported
from mediagw.services import Services

log = logging.getLogger(__name__)


def _bad(message: str) -> ApiError:
    return ApiError(400, "400-201", message)


def parse_call(body: Any, namespaces: Namespaces) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise _bad("request body must be a JSON object")
    namespace, guid = body.get("namespace"), body.get("guid")
    names = namespaces.controlled
    if namespace not in names:
        raise _bad(f"namespace must be one of {', '.join(names)}")
    if not isinstance(guid, str) or not namespaces.get(namespace).valid_guid(guid):  # the adapter's own check
        raise _bad(f"guid is not a valid {namespace} call identifier")
    return namespace, guid


def parse_start(body: Any, languages: list[str], always_redact: bool, namespaces: Namespaces) -> StartRequest:
    namespace, guid = parse_call(body, namespaces)
    ids = {}
    for name in ("customerId", "agentId"):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > 256:
            raise _bad(f"{name} is required (a string of at most 256 characters)")
        ids[name] = value
    params = _transcription_params(body.get("autotranscribeParams"), languages, always_redact)
    try:
        adapter_params = namespaces.parse_params(namespace, body)  # each adapter checks its own
    except ParamsInvalid as error:
        raise _bad(str(error)) from None
    return StartRequest(namespace, guid, ids["customerId"], ids["agentId"], params, adapter_params)


def _transcription_params(raw: Any, languages: list[str], always_redact: bool) -> TranscriptionParams:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ApiError(400, "400-202", "autotranscribeParams must be an object")
    kinds = {
        "language": str,
        "detailedToken": bool,
        "audioRecordingAllowed": bool,
        "redactionOutput": str,
        "smartFormatting": bool,
    }
    for name, kind in kinds.items():
        if name in raw and not isinstance(raw[name], kind):
            raise ApiError(400, "400-202", f"autotranscribeParams.{name} must be {kind.__name__}")
    params = TranscriptionParams(
        raw.get("language", ""),  # none named: the call's media may say (AudioHook, Twilio), else en-US
        raw.get("detailedToken", False),
        raw.get("audioRecordingAllowed", False),
        raw.get("redactionOutput", "redacted"),
        raw.get("smartFormatting", True),
    )
    redacting = params.redaction_output != "unredacted"
    problem = (
        "language is not supported"
        if params.language and not supported(params.language, languages)
        else f"redactionOutput must be one of {', '.join(REDACTION_OUTPUTS)}"
        if params.redaction_output not in REDACTION_OUTPUTS
        else "redaction needs smartFormatting"
        if redacting and not params.smart_formatting
        else "redaction is not offered with detailedToken"
        if redacting and params.detailed_token
        else "this gateway always redacts"
        if always_redact and params.redaction_output != "redacted"
        else ""
    )
    if problem:
        raise ApiError(400, "400-202", f"autotranscribeParams: {problem}")
    return params


async def _body(request: web.Request) -> Any:
    return await json_body(request, "400-201")


async def start_streaming(request: web.Request) -> web.Response:
    await request.app[AUTH].authenticate(request, "control")
    services = request.app[SERVICES]
    config = services.config
    start = parse_start(await _body(request), services.languages, config.redaction.always_redact, services.namespaces)
    return await decide(request, services, services.calls.start(start))


async def stop_streaming(request: web.Request) -> web.Response:
    await request.app[AUTH].authenticate(request, "control")
    services = request.app[SERVICES]
    namespace, guid = parse_call(await _body(request), services.namespaces)
    return await decide(request, services, services.calls.stop(namespace, guid), services.calls.stop_unheld)


async def decide(
    request: web.Request,
    services: Services,
    decision: Awaitable[Outcome],
    unheld: Callable[[CallRecord], Awaitable[Outcome]] | None = None,
) -> web.Response:
    """The lifecycle's answer to a start or stop, or the answer of the node that holds the call's media; with no
    live node holding it, `unheld`'s answer (a stop: from the record), else 400-203."""
    try:
        try:
            outcome = await decision
        except HeldElsewhere as elsewhere:
            try:
                return await forward(request, services, elsewhere.record)
            except NoLiveOwner:
                if unheld is None:
                    raise NO_CALL from None
                outcome = await unheld(elsewhere.record)
    except RegistryUnavailable as error:  # the shared registry's Redis is away: health says so too
        log.error("%s", error)
        raise ApiError(500, "500-201", "MG AutoTranscribe or AutoTranscribe internal error") from None
    except CallRefused as refused:
        raise ApiError(refused.status, refused.code, refused.message) from refused.__cause__
    return _answer(outcome)


def _answer(outcome: Outcome) -> web.Response:
    streams = {report.role: _stream(report) for report in outcome.streams}
    return web.json_response({"isOk": outcome.ok, "autotranscribeResponse": streams})


def _stream(report: StreamReport) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "streamId": report.stream_id,
        "status": {"code": report.status.code, "description": report.status.description},
    }
    if report.summary is not None:
        entry["summary"] = {
            "totalAudioBytes": report.summary.total_audio_bytes,
            "audioDurationMs": report.summary.audio_duration_ms,
            "streamingSeconds": report.summary.streaming_seconds,
            "transcripts": report.summary.transcripts,
        }
    return entry


def add_routes(app: web.Application, cluster: bool = False) -> None:
    for path in ("/mg-autotranscribe/v1/start-streaming", "/mg-autotranscribe/v1/start-streaming/"):
        app.router.add_post(path, start_streaming)
    for path in ("/mg-autotranscribe/v1/stop-streaming", "/mg-autotranscribe/v1/stop-streaming/"):
        app.router.add_post(path, stop_streaming)
    if cluster:  # node to node, not part of the API (the OpenAPI document leaves it out)
        app.router.add_post(STOP_SHARE, _stop_share)


async def _stop_share(request: web.Request) -> web.Response:
    """Node to node only (signed): a stop answered by another node ends this node's share of the call."""
    try:
        return await stop_share(request, request.app[SERVICES])
    except RegistryUnavailable as error:
        log.error("%s", error)
        raise ApiError(500, "500-201", "MG AutoTranscribe or AutoTranscribe internal error") from None
