"""start-streaming and stop-streaming: validate, apply to the call's gate, answer in the reference's shape."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mediagw.api.bodies import json_body
from mediagw.api.errors import ApiError
from mediagw.api.routes import AUTH, SERVICES
from mediagw.calls import ROLES, Call, Leg, TranscriptionParams
from mediagw.ingress.kvs.reader import ARN as STREAM_ARN
from mediagw.ingress.siprec.callid import valid_guid
from mediagw.ingress.twilio.protocol import CALL_SID
from mediagw.ingress.websocket_api.protocol import REDACTION_OUTPUTS
from mediagw.languages import supported
from mediagw.services import Services

log = logging.getLogger(__name__)

NAMESPACES = ("siprec", "twilio", "genesysaudiohook", "amazonconnect")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
GUID_FORMATS = {  # siprec: callid.valid_guid, which follows siprec.guid_source
    "twilio": re.compile(rf"^{CALL_SID.pattern}$"),  # Call SID: the Twilio adapter's own check
    "genesysaudiohook": re.compile(rf"^{_UUID}$"),  # conversationId
    "amazonconnect": re.compile(rf"^{_UUID}$"),  # ContactId
}
OK_STATUS = {"code": 1000, "description": "OK"}
NO_INSTANCES = {"code": 5002, "description": "No instances available"}  # ASR backlog over asr.max_backlog
SHUTTING_DOWN = {"code": 5001, "description": "Service shutting down"}  # draining: no new pulled media


def _bad(message: str) -> ApiError:
    return ApiError(400, "400-201", message)


@dataclass(frozen=True)
class StartRequest:
    namespace: str
    guid: str
    customer_id: str
    agent_id: str
    params: TranscriptionParams
    extra: dict[str, Any]


def parse_call(body: Any, siprec_guid_source: str) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise _bad("request body must be a JSON object")
    namespace, guid = body.get("namespace"), body.get("guid")
    if namespace not in NAMESPACES:
        raise _bad(f"namespace must be one of {', '.join(NAMESPACES)}")
    if not isinstance(guid, str) or not _valid_guid(namespace, guid, siprec_guid_source):
        raise _bad(f"guid is not a valid {namespace} call identifier")
    return namespace, guid


def _valid_guid(namespace: str, guid: str, siprec_guid_source: str) -> bool:
    if namespace == "siprec":  # the SIPREC adapter's own check: what it names calls by is what is accepted here
        return valid_guid(guid, siprec_guid_source)
    return GUID_FORMATS[namespace].match(guid) is not None


def parse_start(body: Any, languages: list[str], always_redact: bool, siprec_guid_source: str) -> StartRequest:
    namespace, guid = parse_call(body, siprec_guid_source)
    ids = {}
    for name in ("customerId", "agentId"):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > 256:
            raise _bad(f"{name} is required (a string of at most 256 characters)")
        ids[name] = value
    params = _transcription_params(body.get("autotranscribeParams"), languages, always_redact)
    return StartRequest(namespace, guid, ids["customerId"], ids["agentId"], params, _adapter_params(namespace, body))


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


def _adapter_params(namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    siprec, twilio, connect = body.get("siprecParams"), body.get("twilioParams"), body.get("amazonConnectParams")
    extra: dict[str, Any] = {}
    if siprec is not None:
        if not isinstance(siprec, dict) or siprec.get("mediaLineOrder", "CUSTOMER_FIRST") not in (
            "CUSTOMER_FIRST",
            "AGENT_FIRST",
        ):
            raise _bad("siprecParams.mediaLineOrder must be CUSTOMER_FIRST or AGENT_FIRST")
        extra["mediaLineOrder"] = siprec.get("mediaLineOrder", "CUSTOMER_FIRST")
    if twilio is not None:
        track_map = twilio.get("trackMap") if isinstance(twilio, dict) else None
        if (
            not isinstance(track_map, dict)
            or set(track_map) - {"inbound", "outbound"}
            or not set(track_map.values()) <= set(ROLES)
            or len(set(track_map.values())) != len(track_map)
        ):
            raise _bad("twilioParams.trackMap maps inbound and outbound to customer and agent")
        extra["trackMap"] = dict(track_map)
    if connect is not None or namespace == "amazonconnect":
        extra["amazonConnect"] = _connect_params(connect)
    return extra


def _connect_params(raw: Any) -> dict[str, str]:
    arn = raw.get("streamArn") if isinstance(raw, dict) else None
    if not isinstance(arn, str) or len(arn) > 1024 or not STREAM_ARN.match(arn):  # AWS ARNs: 1024 at most
        raise _bad("amazonConnectParams.streamArn must be a Kinesis Video stream ARN")
    selector = raw.get("startSelectorType", "NOW")
    if selector not in ("NOW", "FRAGMENT_NUMBER"):
        raise _bad("amazonConnectParams.startSelectorType must be NOW or FRAGMENT_NUMBER")
    fragment = raw.get("afterFragmentNumber")
    if selector == "FRAGMENT_NUMBER" and (not isinstance(fragment, str) or not fragment.isdigit()):
        raise _bad("amazonConnectParams.afterFragmentNumber (digits) is required with FRAGMENT_NUMBER")
    return {"streamArn": arn, "startSelectorType": selector, "afterFragmentNumber": fragment or ""}


async def _body(request: web.Request) -> Any:
    return await json_body(request, "400-201")


async def _call(services: Services, namespace: str, guid: str, wait: bool = False) -> Call:
    call = services.calls.get(namespace, guid)
    if call is None and wait:
        call = await services.wait_for_call(namespace, guid)
    if call is None:
        raise ApiError(400, "400-203", "No call with specified guid found")
    if call.ending:
        raise ApiError(409, "409-203", "SIPREC BYE being processed")
    if call.pending:
        raise ApiError(409, "409-202", "Another API request for same guid is pending")
    return call


async def start_streaming(request: web.Request) -> web.Response:
    request.app[AUTH].authenticate(request, "control")
    services = request.app[SERVICES]
    config = services.config
    start = parse_start(
        await _body(request), services.languages, config.redaction.always_redact, config.siprec.guid_source
    )
    pulled = start.namespace == "amazonconnect" and services.connect is not None
    new_pull = pulled and services.calls.get(start.namespace, start.guid) is None
    if pulled and services.connect is not None:
        services.connect.call_for(start.guid)  # Connect media is pulled from KVS once started: the call is made here
    call = await _call(services, start.namespace, start.guid, wait=True)
    if call.transcribing:
        raise ApiError(409, "409-201", "Call transcription already started")
    if new_pull and services.draining:  # a new contact's reader is new work, which a draining node refuses
        leg = call.leg_for(start.customer_id, start.agent_id)
        response = _streams(call, leg, summary=False, status=SHUTTING_DOWN)
        services.calls.remove(call.namespace, call.guid)  # refused: the contact leaves no call behind
        log.warning("start-streaming refused: draining", extra={"call_id": call.guid})
        return web.json_response({"isOk": False, "autotranscribeResponse": response})
    language = start.params.language or call.media_language
    if language and not supported(language, services.languages):  # the media's (AudioHook open, Twilio <Parameter>)
        raise ApiError(400, "400-202", f"autotranscribeParams: language {language[:20]!r} is not supported")
    if services.overloaded():  # ASR is too far behind for more streams: refused, as a capacity status per role
        leg = call.leg_for(start.customer_id, start.agent_id)
        log.warning("start-streaming refused: ASR backlog over asr.max_backlog", extra={"call_id": call.guid})
        services.metrics.errors.labels("5002").inc()
        streams = _streams(call, leg, summary=False, status=NO_INSTANCES)
        return web.json_response({"isOk": False, "autotranscribeResponse": streams})
    call.pending = True
    try:
        call.extra.update(start.extra)
        leg = await services.begin_transcription(call, start.customer_id, start.agent_id, start.params)
    except ApiError:
        raise
    except Exception as error:
        log.exception("start-streaming failed", extra={"call_id": call.guid})
        raise ApiError(500, "500-201", "MG AutoTranscribe or AutoTranscribe internal error") from error
    finally:
        call.pending = False
    if call.media_error is not None:  # a pulled stream (Amazon Connect) failed at once: not started, say why
        await call.end(services.now())
        log.warning("start-streaming: media failed (%s)", call.media_error.code, extra={"call_id": call.guid})
        return web.json_response({"isOk": False, "autotranscribeResponse": _streams(call, leg, summary=False)})
    log.info("transcription started leg=%s", leg.id, extra={"call_id": call.guid, "ingress": call.namespace})
    return web.json_response({"isOk": True, "autotranscribeResponse": _streams(call, leg, summary=False)})


async def stop_streaming(request: web.Request) -> web.Response:
    request.app[AUTH].authenticate(request, "control")
    services = request.app[SERVICES]
    namespace, guid = parse_call(await _body(request), services.config.siprec.guid_source)
    call = await _call(services, namespace, guid)
    if not call.transcribing:
        raise ApiError(409, "409-201", "Call transcription already stopped")
    call.pending = True
    try:
        for hook in call.on_stopping:
            await hook(call)
        leg = await call.end(services.now())
    except Exception as error:
        log.exception("stop-streaming failed", extra={"call_id": call.guid})
        raise ApiError(500, "500-201", "MG AutoTranscribe or AutoTranscribe internal error") from error
    finally:
        call.pending = False
    log.info("transcription stopped", extra={"call_id": call.guid, "ingress": call.namespace})
    return web.json_response({"isOk": True, "autotranscribeResponse": _streams(call, leg, summary=True)})


def _streams(call: Call, leg: Leg, summary: bool, status: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    error = call.media_error
    if status is None:
        status = OK_STATUS if error is None else {"code": error.code, "description": error.description}
    for role, participant in leg.participants.items():
        entry: dict[str, Any] = {"streamId": participant.stream_id, "status": status}
        if summary:
            stats = participant.stats
            entry["summary"] = {
                "totalAudioBytes": call.media_samples[role] * 2,  # all received, started or not, as 16-bit PCM
                "audioDurationMs": stats.audio_ms,
                "streamingSeconds": round(stats.streaming_s),
                "transcripts": stats.transcripts,
            }
        out[role] = entry
    return out


def add_routes(app: web.Application) -> None:
    for path in ("/mg-autotranscribe/v1/start-streaming", "/mg-autotranscribe/v1/start-streaming/"):
        app.router.add_post(path, start_streaming)
    for path in ("/mg-autotranscribe/v1/stop-streaming", "/mg-autotranscribe/v1/stop-streaming/"):
        app.router.add_post(path, stop_streaming)
