"""AWS Lambda for an Amazon Connect contact flow: pause or end transcription of this contact (hold, survey).

Environment as for start_streaming.py. Place it before "Stop media streaming", on hold, or before a
post-call survey.
"""

from __future__ import annotations

from typing import Any

from start_streaming import post


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, str]:
    contact_id = event["Details"]["ContactData"]["ContactId"]
    return {"result": post("stop-streaming", {"namespace": "amazonconnect", "guid": contact_id})}
