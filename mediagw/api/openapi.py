"""The OpenAPI description of every HTTP endpoint, served at /openapi.json (a test keeps it in step with the routes)."""

from __future__ import annotations

from typing import Any, cast

from aiohttp import web

NAMESPACES = ("siprec", "twilio", "genesysaudiohook", "amazonconnect", "webrtc")  # the reference's four, and WHIP
ERROR = {"$ref": "#/components/responses/Error"}
AUTH: list[dict[str, list[str]]] = [{"apiId": [], "apiSecret": []}]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    ok: dict[str, Any] | None,
    *,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    errors: tuple[int, ...] = (400, 401, 429),
    secured: bool = True,
    ok_status: str = "200",
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {ok_status: {"description": "OK"}}}
    if ok is not None:
        operation["responses"][ok_status].update(_json(ok))
    for status in sorted({*errors, 403} if secured else set(errors)):  # 403: outside the app's scopes
        operation["responses"][str(status)] = ERROR
    if body is not None:
        operation["requestBody"] = {"required": True, **_json(body)}
    if params:
        operation["parameters"] = params
    if secured:
        operation["security"] = AUTH
    return operation


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


STRING = {"type": "string"}
STATUS = {"type": "object", "properties": {"code": {"type": "integer"}, "description": STRING}}
SUMMARY = {
    "type": "object",
    "properties": {
        k: {"type": "integer"} for k in ("totalAudioBytes", "audioDurationMs", "streamingSeconds", "transcripts")
    },
}
READY = {"type": "object", "properties": {"status": STRING, "inProgress": {"type": "integer"}}}
STREAMS = {
    "type": "object",
    "properties": {
        "isOk": {"type": "boolean"},
        "autotranscribeResponse": {
            "type": "object",
            "properties": {
                role: {"type": "object", "properties": {"streamId": STRING, "status": STATUS, "summary": SUMMARY}}
                for role in ("customer", "agent")
            },
        },
    },
}
START = {
    "type": "object",
    "required": ["namespace", "guid", "customerId", "agentId"],
    "properties": {
        "namespace": {"type": "string", "enum": list(NAMESPACES)},
        "guid": STRING,
        "customerId": STRING,
        "agentId": STRING,
        "autotranscribeParams": {
            "type": "object",
            "properties": {
                "language": STRING,
                "detailedToken": {"type": "boolean"},
                "audioRecordingAllowed": {"type": "boolean"},
                "redactionOutput": {"type": "string", "enum": ["redacted", "unredacted", "redacted_and_unredacted"]},
                "smartFormatting": {"type": "boolean"},
            },
        },
        "siprecParams": {
            "type": "object",
            "properties": {"mediaLineOrder": {"type": "string", "enum": ["CUSTOMER_FIRST", "AGENT_FIRST"]}},
        },
        "twilioParams": {"type": "object", "properties": {"trackMap": {"type": "object"}}},
        "webrtcParams": {
            "type": "object",
            "properties": {"trackRoles": {"type": "array", "items": {"type": "string", "enum": ["customer", "agent"]}}},
        },
        "amazonConnectParams": {
            "type": "object",
            "properties": {
                "streamArn": STRING,
                "startSelectorType": {"type": "string", "enum": ["NOW", "FRAGMENT_NUMBER"]},
                "afterFragmentNumber": STRING,
            },
        },
    },
}
STOP = {
    "type": "object",
    "required": ["namespace", "guid"],
    "properties": {"namespace": {"type": "string", "enum": list(NAMESPACES)}, "guid": STRING},
}
ENTITY = {
    "type": "object",
    "properties": {
        "id": STRING,
        "name": STRING,
        "description": STRING,
        "active": {"type": "boolean"},
        "label": STRING,
        "category": STRING,
        "activeByDefault": {"type": "boolean"},
        "maskStyle": {"type": "string", "enum": ["all", "last4"]},
        "examples": {"type": "array", "items": STRING},
        "needsModel": {"type": "boolean"},
    },
}
ENTITIES = {
    "type": "object",
    "properties": {
        "redactionEntities": {"type": "array", "items": ENTITY},
        "nextCursor": {"type": ["string", "null"]},
        "prevCursor": {"type": ["string", "null"]},
    },
}
VOCABULARY = {
    "type": "object",
    "required": ["phrase"],
    "properties": {"id": STRING, "phrase": STRING, "soundsLike": {"type": "array", "items": STRING, "maxItems": 5}},
}
VOCABULARIES = {
    "type": "object",
    "properties": {
        "customVocabularies": {"type": "array", "items": VOCABULARY},
        "nextCursor": {"type": ["string", "null"]},
        "prevCursor": {"type": ["string", "null"]},
    },
}


def _entity_paths(list_path: str, one_path: str) -> dict[str, Any]:
    return {
        list_path: {
            "get": _op(
                "List redaction entities",
                ENTITIES,
                params=[
                    {"name": "active", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]}},
                    {"name": "details", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]}},
                ],
            )
        },
        one_path: {
            "get": _op("Retrieve a redaction entity", ENTITY, params=[_path_param("entityId")], errors=(401, 404, 429)),
            "patch": _op(
                "Turn a redaction entity on or off",
                ENTITY,
                params=[_path_param("entityId")],
                body={"type": "object", "properties": {"active": {"type": "boolean"}}},
                errors=(400, 401, 403, 404, 409, 429),  # 409: the entity needs the `ner` extra
            ),
        },
    }


def _vocabulary_paths(prefix: str) -> dict[str, Any]:
    one = [_path_param("customVocabularyId")]
    return {
        prefix: {
            "get": _op(
                "List custom vocabularies",
                VOCABULARIES,
                params=[
                    {"name": "cursor", "in": "query", "schema": STRING},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                ],
            ),
            "post": _op("Create a custom vocabulary", VOCABULARY, body=VOCABULARY),
        },
        prefix + "/{customVocabularyId}": {
            "get": _op("Retrieve a custom vocabulary", VOCABULARY, params=one, errors=(401, 404, 429)),
            "delete": _op("Delete a custom vocabulary", None, params=one, errors=(401, 404, 429), ok_status="204"),
        },
    }


def _console_paths() -> dict[str, Any]:
    """The ops console (mediagw/console/): its page, and the API its page calls with the session cookie."""
    html = {"200": {"description": "The console's page", "content": {"text/html": {"schema": STRING}}}}
    page = {
        "get": {
            "summary": "The ops console (a browser page)",
            "responses": {**html, "302": {"description": "To /console/"}},
        }
    }

    def cookie(operation: dict[str, Any]) -> dict[str, Any]:
        return {**operation, "security": [{"consoleSession": []}]}

    call = [_path_param("namespace"), _path_param("guid")]
    fields = cast(dict[str, Any], START["properties"])
    call_body = {"type": "object", "properties": {k: v for k, v in fields.items() if k not in ("namespace", "guid")}}
    session = {"type": "object", "properties": {"loggedIn": {"type": "boolean"}, "appId": STRING, "csrfToken": STRING}}
    prefix = "/console/api"
    return {
        "/console": page,
        "/console/": page,
        "/console/static/{name}": {
            "get": {
                "summary": "The console page's scripts, style and icon",
                "parameters": [_path_param("name")],
                "responses": {"200": {"description": "The file"}, "404": ERROR},
            }
        },
        f"{prefix}/login": {
            "post": _op(
                "Log in to the console with an app's id and secret (sets the session cookie)",
                session,
                body={
                    "type": "object",
                    "required": ["appId", "secret"],
                    "properties": {"appId": STRING, "secret": STRING},
                },
                errors=(400, 401, 403, 415, 429),
                secured=False,
            )
        },
        f"{prefix}/logout": {"post": cookie(_op("Log out of the console", None, errors=(401, 403), secured=False))},
        f"{prefix}/session": {"get": _op("The console's session, if any", session, errors=(), secured=False)},
        f"{prefix}/events": {
            "get": cookie(
                {
                    "summary": "The live call feed (server-sent events: snapshot, call, removed, media, transcript)",
                    "parameters": [{"name": "call", "in": "query", "schema": STRING}],
                    "responses": {
                        "200": {"description": "Events", "content": {"text/event-stream": {"schema": STRING}}},
                        "400": ERROR,
                        "401": ERROR,
                        "403": ERROR,
                    },
                }
            )
        },
        f"{prefix}/health": {
            "get": cookie(
                _op(
                    "The health plots' last 15 minutes (scope operations)",
                    {"type": "object"},
                    errors=(401, 403),
                    secured=False,
                )
            )
        },
        f"{prefix}/calls/{{namespace}}/{{guid}}/start": {
            "post": cookie(
                _op(
                    "Start transcription from the console",
                    STREAMS,
                    body=call_body,
                    params=call,
                    errors=(400, 401, 403, 409, 429, 500),
                    secured=False,
                )
            )
        },
        f"{prefix}/calls/{{namespace}}/{{guid}}/stop": {
            "post": cookie(
                _op(
                    "Stop transcription from the console",
                    STREAMS,
                    params=call,
                    errors=(400, 401, 403, 409, 429, 500),
                    secured=False,
                )
            )
        },
    }


def _webrtc_paths() -> dict[str, Any]:
    """WHIP (RFC 9725; mediagw/ingress/webrtc/): the SDP bodies are application/sdp, authorised by a bearer token."""
    sdp = {"content": {"application/sdp": {"schema": STRING}}}
    whip_url = {"type": "object", "properties": dict.fromkeys(("whipUrl", "token", "guid"), STRING)}
    guid, resource = [_path_param("guid")], [_path_param("guid"), _path_param("resource")]
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]

    def whip(summary: str, ok: str, errors: tuple[int, ...], params: list[dict[str, Any]]) -> dict[str, Any]:
        operation = _op(summary, None, params=params, errors=errors, secured=False, ok_status=ok)
        return {**operation, "security": bearer}

    publish = whip("Publish: an SDP offer in, the answer and the session's Location out", "201", (), guid)
    publish["responses"].update({str(s): ERROR for s in (400, 401, 409, 413, 415, 503)})
    publish["requestBody"] = {"required": True, **sdp}
    publish["responses"]["201"].update(sdp)
    trickle = whip("Trickle ICE candidates (ICE restarts: 422)", "204", (400, 401, 404, 413, 415, 422), resource)
    trickle["requestBody"] = {"required": True, "content": {"application/trickle-ice-sdpfrag": {"schema": STRING}}}
    preflight = {"summary": "CORS preflight", "responses": {"204": {"description": "OK"}}}
    return {
        "/mg-webrtc/v1/whip-url": {
            "post": _op("A WHIP endpoint and its bearer token (scope streaming)", whip_url, errors=(400, 401, 429, 503))
        },
        "/mg-webrtc/v1/whip/{guid}": {"post": publish, "options": {**preflight, "parameters": guid}},
        "/mg-webrtc/v1/whip/{guid}/{resource}": {
            "delete": whip("End the session (its utterance in progress is transcribed)", "200", (401, 404), resource),
            "patch": trickle,
            "options": {**preflight, "parameters": resource},
        },
        "/mg-webrtc/demo/": {"get": {"summary": "The WebRTC sample page", "responses": {"200": {"description": "OK"}}}},
    }


def build() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/autotranscribe/v1/streaming-url": {
            "post": _op(
                "Get a streaming URL for the direct WebSocket API",
                {"type": "object", "properties": {"streamingUrl": STRING}},
                body={"type": "object", "properties": {"externalId": STRING}},
                errors=(400, 401, 429, 503),  # 503: the node is draining
            )
        },
        "/mg-autotranscribe/v1/twilio-media-stream-url": {
            "get": _op(
                "Get the URL Twilio Media Streams should be sent to",
                {"type": "object", "properties": {"streamingUrl": STRING}},
                errors=(400, 401, 429, 503),  # 400: a Host header not in server.allowed_hosts; 503: draining
            )
        },
        "/mg-autotranscribe/v1/start-streaming": {
            "post": _op(
                "Start or resume transcription of a call", STREAMS, body=START, errors=(400, 401, 409, 429, 500)
            )
        },
        "/mg-autotranscribe/v1/stop-streaming": {
            "post": _op("Stop or pause transcription of a call", STREAMS, body=STOP, errors=(400, 401, 409, 429, 500))
        },
        "/conversation/v1/conversation/messages": {
            "get": _op(
                "List messages with an externalId",
                {"type": "object", "properties": {"messages": {"type": "array"}}},
                params=[
                    {"name": "externalId", "in": "query", "required": True, "schema": STRING},
                    {"name": "namespace", "in": "query", "schema": STRING},
                ],
            )
        },
        "/v1/health": {
            "get": _op(
                "Check the gateway's health",
                {
                    "type": "object",
                    "properties": {
                        "healthCheck": {"type": "string", "enum": ["SUCCESS", "FAILED"]},
                        "problems": {"type": "array", "items": STRING},
                        "asr": {
                            "type": "object",
                            "description": "The loaded model and the languages a start may name",
                            "properties": {"model": STRING, "languages": {"type": "array", "items": STRING}},
                        },
                    },
                },
                errors=(),
                secured=False,
            )
        },
        "/v1/ready": {
            "get": {
                "summary": "Check whether the gateway takes new work (readiness: 503 while it drains or is unhealthy)",
                "responses": {
                    "200": {"description": "Ready", **_json(READY)},
                    "503": {"description": "Draining or unhealthy", **_json(READY)},
                },
            }
        },
        "/v1/drain": {
            "post": _op(
                "Drain: refuse new work, keep serving the calls in progress (scope operations)",
                READY,
                errors=(401, 429),
                ok_status="202",
            )
        },
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "OK"}}}},
        "/openapi.json": {"get": {"summary": "This description", "responses": {"200": {"description": "OK"}}}},
        **_entity_paths(
            "/configuration/v1/redaction/redaction-entities", "/configuration/v1/redaction/redaction-entity/{entityId}"
        ),
        **_entity_paths("/configuration/v1/redaction-entities", "/configuration/v1/redaction-entities/{entityId}"),
        **_vocabulary_paths("/configuration/v1/auto-transcribe/custom-vocabularies"),
        **_vocabulary_paths("/configuration/v1/custom-vocabularies"),
        **_console_paths(),
        **_webrtc_paths(),
    }
    for path in (
        "/mg-autotranscribe/v1/start-streaming",
        "/mg-autotranscribe/v1/stop-streaming",
        "/autotranscribe/v1/streaming-url",
    ):
        paths[path + "/"] = paths[path]  # the reference writes both
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mediagw",
            "version": "0.1.0",
            "description": "Media gateway and speech pipeline with the AutoTranscribe API. The direct "
            "WebSocket API is at the path in websocket_api.path, Twilio Media Streams at twilio.path and Genesys "
            "AudioHook at audiohook.path (Transcription Connector: audiohook.connector_path), WebRTC over WHIP at "
            "/mg-webrtc/v1/whip/{guid}; SIPREC is SIP on "
            "siprec.port (see README).",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiId": {"type": "apiKey", "in": "header", "name": "asapp-api-id"},
                "apiSecret": {"type": "apiKey", "in": "header", "name": "asapp-api-secret"},
                "consoleSession": {"type": "apiKey", "in": "cookie", "name": "mediagw_console"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
            "responses": {
                "Error": {
                    "description": "Error",
                    **_json(
                        {
                            "type": "object",
                            "required": ["error"],
                            "properties": {
                                "error": {
                                    "type": "object",
                                    "required": ["requestId", "message", "code"],
                                    "properties": {"requestId": STRING, "message": STRING, "code": STRING},
                                }
                            },
                        }
                    ),
                }
            },
        },
    }


DOCUMENT = build()


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)
