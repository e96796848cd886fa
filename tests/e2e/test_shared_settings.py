"""Two gateway nodes on one PostgreSQL and one Redis: a vocabulary phrase added and a redaction entity turned off
through one node's configuration API reach the other node's recognition and redaction by themselves."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from redaction.entities import EntityId
from tests.e2e.api import HEADERS
from tests.gateway import GatewayThread
from tests.waits import eventually

pytestmark = pytest.mark.e2e


async def test_configuration_changed_on_one_node_reaches_the_other(
    gateway_factory: Any, redis_url: str, postgres_url: str
) -> None:
    cluster = {
        "cluster": {"redis_url": redis_url},
        "auth": {"token_secret": "a-cluster-wide-test-secret"},
        "store": {"url": postgres_url},
    }
    node_a: GatewayThread = gateway_factory(**cluster)
    node_b: GatewayThread = gateway_factory(**cluster)
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
