"""Two gateway nodes sharing one Redis (and, for settings, one PostgreSQL): what one node learns, the other knows.
Spike arrest counts an app's requests to both; a signed AudioHook upgrade accepted by one is a replay to the other;
a vocabulary phrase and an entity changed through one node's configuration API reach the other by themselves."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
import pytest

from mediagw.config import AudioHookKey
from mediagw.simulators.audiohook import EXAMPLE_ORGANIZATION_ID, upgrade_headers
from redaction.entities import EntityId
from tests.e2e.api import HEADERS
from tests.gateway import GatewayThread
from tests.waits import eventually

pytestmark = pytest.mark.e2e
SECRET = "a-cluster-wide-test-secret"
KEY, CLIENT_SECRET = "genesys-key", "c2VjcmV0LXNoYXJlZC13aXRoLWdlbmVzeXM="
PATH = "/mg-genesysaudiohook-autotranscribe/"


def two_nodes(gateway_factory: Any, redis_url: str, **sections: dict[str, Any]) -> tuple[GatewayThread, GatewayThread]:
    auth = {"token_secret": SECRET, **sections.pop("auth", {})}
    cluster = {"cluster": {"redis_url": redis_url}, "auth": auth, **sections}
    return gateway_factory(**cluster), gateway_factory(**cluster)


async def test_spike_arrest_counts_an_apps_requests_on_every_node(gateway_factory: Any, redis_url: str) -> None:
    node_a, node_b = two_nodes(gateway_factory, redis_url, auth={"requests_per_second": 5.0})

    async def status(session: aiohttp.ClientSession, node: GatewayThread) -> int:
        url = f"{node.base_url}/conversation/v1/conversation/messages"
        async with session.get(url, params={"externalId": "none"}, headers=HEADERS) as response:
            return response.status

    async with aiohttp.ClientSession() as session:  # 4 at once to each: within either node's own bucket of 5
        statuses = await asyncio.gather(*(status(session, node) for node in (node_a, node_b) * 4))
    assert statuses.count(200) >= 5 and statuses.count(429) >= 1, statuses  # 5 a second for both together


async def test_a_signed_upgrade_accepted_by_one_node_is_a_replay_to_the_other(
    gateway_factory: Any, redis_url: str
) -> None:
    keys = (AudioHookKey(KEY, CLIENT_SECRET),)
    node_a, node_b = two_nodes(gateway_factory, redis_url, audiohook={"api_keys": keys})
    # behind one load balancer both nodes are reached as the same authority, which the signature covers
    headers, _ = upgrade_headers(
        "ws://gateway.example" + PATH, EXAMPLE_ORGANIZATION_ID, str(uuid.uuid4()), str(uuid.uuid4()), KEY, CLIENT_SECRET
    )
    headers["Host"] = "gateway.example"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(node_a.base_url.replace("http", "ws") + PATH, headers=headers):
            pass
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with session.ws_connect(node_b.base_url.replace("http", "ws") + PATH, headers=headers):
                pass
    assert refused.value.status == 401


async def test_configuration_changed_on_one_node_reaches_the_other(
    gateway_factory: Any, redis_url: str, postgres_url: str
) -> None:
    node_a, node_b = two_nodes(gateway_factory, redis_url, store={"url": postgres_url})
    assert EntityId.PASSWORD in node_b.services.entity_settings.active
    async with aiohttp.ClientSession() as session:
        base = f"{node_a.base_url}/configuration/v1"
        vocabulary = {"phrase": "Zyxtrel", "soundsLike": ["zix trell"]}
        async with session.post(f"{base}/custom-vocabularies", json=vocabulary, headers=HEADERS) as response:
            assert response.status in (200, 201), await response.text()
        async with session.patch(
            f"{base}/redaction-entities/PASSWORD", json={"active": False}, headers=HEADERS
        ) as response:
            assert response.status == 200, await response.text()
    await eventually(lambda: "Zyxtrel" in node_b.services.custom_vocabulary.hotwords(), what="the phrase on node B")
    await eventually(lambda: EntityId.PASSWORD not in node_b.services.entity_settings.active, what="PASSWORD off")
