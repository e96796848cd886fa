"""AWS Lambda for an Amazon Connect contact flow: ask mediagw to start transcribing this contact.

Place it after "Start media streaming" in the flow. It reads the contact id, the customer audio stream ARN and
the start fragment number from the contact data (`$.ContactId`, `$.MediaStreams.Customer.Audio.StreamARN`,
`$.MediaStreams.Customer.Audio.StartFragmentNumber`) and POSTs start-streaming. Environment: MEDIAGW_URL
(https://mg.example.com), ASAPP_API_ID, ASAPP_API_SECRET; optional AGENT_ID_ATTRIBUTE (a contact attribute
holding the agent's id) and LANGUAGE_ATTRIBUTE (one holding the contact's language, e.g. es-US; the contact's
own LanguageCode, then en-US, otherwise). Standard library only, so it deploys as a single file.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, str]:
    contact = event["Details"]["ContactData"]
    audio = contact["MediaStreams"]["Customer"]["Audio"]
    params: dict[str, str] = {"streamArn": audio["StreamARN"], "startSelectorType": "NOW"}
    if audio.get("StartFragmentNumber"):
        params = {**params, "startSelectorType": "FRAGMENT_NUMBER", "afterFragmentNumber": audio["StartFragmentNumber"]}
    attributes = contact.get("Attributes", {})
    body = {
        "namespace": "amazonconnect",
        "guid": contact["ContactId"],
        "customerId": contact.get("CustomerEndpoint", {}).get("Address", "") or "unknown",
        "agentId": attributes.get(os.environ.get("AGENT_ID_ATTRIBUTE", "agentId"), "unknown"),
        "autotranscribeParams": {"language": language_of(contact)},
        "amazonConnectParams": params,
    }
    return {"result": post("start-streaming", body)}


def language_of(contact: dict[str, Any]) -> str:
    """The language to transcribe: a contact attribute if set, else the flow's "Set voice" language."""
    named = contact.get("Attributes", {}).get(os.environ.get("LANGUAGE_ATTRIBUTE", "language"))
    return str(named or contact.get("LanguageCode") or "en-US")


def post(action: str, body: dict[str, Any]) -> str:
    request = urllib.request.Request(
        f"{os.environ['MEDIAGW_URL'].rstrip('/')}/mg-autotranscribe/v1/{action}",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "asapp-api-id": os.environ["ASAPP_API_ID"],
            "asapp-api-secret": os.environ["ASAPP_API_SECRET"],
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:  # the flow branches on the result; the code is in the logs
        print(f"mediagw {action} answered {error.code}: {error.read()[:500]!r}")
        return "failed"
    if answer.get("isOk"):
        return "ok"
    # e.g. 4080 (the stream is unknown or mediagw may not read it): each stream's status says why
    statuses = {role: s.get("status") for role, s in answer.get("autotranscribeResponse", {}).items()}
    print(f"mediagw {action} did not succeed: {json.dumps(statuses)[:500]}")
    return "failed"
