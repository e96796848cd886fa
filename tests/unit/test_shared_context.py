"""The redaction context across nodes (mediagw/shared/context.py): two text stages, as two nodes have, sharing
only the tests' redis-server; the agent's question on one shapes the redaction of the customer's answer on the
other, and what Redis holds names entities, never words."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from mediagw.app import build_text_stage
from mediagw.backends.redis_link import client
from mediagw.config import load_config
from mediagw.postprocess import TextStage
from mediagw.shared.context import RedisContexts
from mediagw.shared.link import PREFIX, SharedRedis
from tests.redis_server import RedisServer
from tests.waits import eventually

QUESTION, ANSWER = "Can you tell me the PIN on the account?", "it's 4 8 1 9"


def node_stage() -> TextStage:
    return build_text_stage(load_config(environ={}))[1]


async def say(stage: TextStage, conversation: str, role: str, text: str) -> tuple[str, bool]:
    """One utterance through a stream's turn and text stage, as the pipeline runs it: (text out, on time)."""
    turns = stage.turns(conversation, role, 2.0, lambda: None)
    turn = turns.open(asyncio.get_running_loop().time())
    on_time = await turns.wait(turn)
    output = stage.process(
        text, conversation_id=conversation, role=role, smart_formatting=True, output="redacted", fail_safe=not on_time
    )
    await turns.publish()
    turns.close(turn)
    return output.text, on_time


@pytest.fixture
async def two_nodes(redis_url: str) -> AsyncIterator[tuple[TextStage, TextStage]]:
    links = [await SharedRedis.open(redis_url) for _ in range(2)]
    stages = [node_stage(), node_stage()]
    for stage, link in zip(stages, links, strict=True):
        stage.contexts = RedisContexts(link, 30.0)
    yield stages[0], stages[1]
    for link in links:
        await link.close()


async def test_alone_the_answer_keeps_its_digits() -> None:
    text, _ = await say(node_stage(), "c1", "customer", ANSWER)
    assert "4819" in text.replace(" ", "")  # the control: without the question nothing asks for a PIN


async def test_the_question_on_one_node_masks_the_answer_on_the_other(
    two_nodes: tuple[TextStage, TextStage], redis_url: str
) -> None:
    node_a, node_b = two_nodes
    question, _ = await say(node_a, "c2", "agent", QUESTION)
    answer, on_time = await say(node_b, "c2", "customer", ANSWER)
    assert on_time and not any(c.isdigit() for c in answer), answer
    follow_up, _ = await say(node_b, "c2", "customer", "thanks, what now")  # answered: the request closes
    redis: Redis = client(redis_url)
    try:
        stored = await redis.hgetall(f"{PREFIX}redaction:c2")
        ttl_ms = await redis.pttl(f"{PREFIX}redaction:c2")
    finally:
        await redis.aclose()
    assert set(stored) == {b"customer"}
    request = json.loads(stored[b"customer"])
    assert set(request) == {"entities", "wall", "answers_left", "not_a_card", "answering"}  # no words
    assert set(request["entities"]) <= {"PIN"} and request["answers_left"] < 3  # B's answers reached Redis
    assert 0 < ttl_ms <= 35_000


async def test_context_unreadable_redacts_fail_safe(redis_server: RedisServer) -> None:
    if not redis_server.running:
        redis_server.start()
    link = await SharedRedis.open(redis_server.url())
    stage = node_stage()
    stage.contexts = RedisContexts(link, 30.0)
    try:
        redis_server.stop()
        answer, on_time = await say(stage, "c3", "customer", ANSWER)
        assert not on_time and not any(c.isdigit() for c in answer), answer  # as if the PIN was asked for
        assert not link.healthy
    finally:
        redis_server.start()
        await link.close()


async def test_an_answer_waits_for_the_question_still_in_its_text_stage_on_the_other_node(
    two_nodes: tuple[TextStage, TextStage], redis_url: str
) -> None:
    node_a, node_b = two_nodes
    loop = asyncio.get_running_loop()
    asking = node_a.turns("c4", "agent", 2.0, lambda: None)
    question = asking.open(loop.time())  # the question closed first; its transcript is not ready yet
    answering = node_b.turns("c4", "customer", 2.0, lambda: None)
    answer = answering.open(loop.time() + 0.01)
    waited = asyncio.create_task(answering.wait(answer))
    redis: Redis = client(redis_url)
    try:  # node A's open question is in Redis, where node B looks for it
        await eventually(lambda: redis.zcard(f"{PREFIX}turns:c4"), what="node A's open turn in Redis")
    finally:
        await redis.aclose()
    done, _ = await asyncio.wait({waited}, timeout=0.3)
    assert not done  # node B waits for node A's earlier turn, however long its text stage takes
    node_a.process(QUESTION, conversation_id="c4", role="agent", smart_formatting=True, output="redacted")
    await asking.publish()
    asking.close(question)
    assert await waited  # on time: the question's context arrived
    text = node_b.process(ANSWER, conversation_id="c4", role="customer", smart_formatting=True, output="redacted")
    assert not any(c.isdigit() for c in text.text), text
