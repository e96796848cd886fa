"""The store's queries, written once in SQLite's placeholder style; the PostgreSQL backend numbers them
(`store_schema.numbered`). Both dialects accept every statement here as written."""

from __future__ import annotations

import json
from typing import Any

from mediagw.outputs.store_schema import StoredUtterance

INSERT_CONVERSATION = (
    "INSERT INTO conversations (id, external_id, namespace, created_at, updated_at) VALUES (?,?,?,?,?)"
    " ON CONFLICT (namespace, external_id) DO UPDATE SET updated_at = excluded.updated_at"
)
INSERT_LEG = "INSERT INTO legs (id, conversation_id, agent_id, customer_id, started_at) VALUES (?,?,?,?,?)"
INSERT_STREAM = (
    "INSERT INTO streams (id, leg_id, role, participant_id, created_at) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING"
)
INSERT_UTTERANCE = (
    "INSERT INTO utterances (id, conversation_id, stream_id, start_ms, end_ms, text, unredacted_text, message,"
    " created_at) VALUES (?,?,?,?,?,?,?,?,?)"
)
MARK_SPOOLED_DELIVERED = "UPDATE untranscribed SET state = 'delivered', utterance_id = ?, updated_at = ? WHERE id = ?"
# a node settles its own deliveries only (node is empty outside a cluster: every one)
SETTLE_DELIVERIES = "UPDATE deliveries SET outcome = ?, detail = ?, at = ? WHERE outcome = ? AND node = ?"
ADD_VOCABULARY = "INSERT INTO custom_vocabularies (id, phrase, sounds_like, created_at) VALUES (?,?,?,?)"
PUT_SETTING = (
    "INSERT INTO settings (key, value, updated_at) VALUES (?,?,?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
)
EXPORT = """
    SELECT u.seq, u.created_at, c.external_id, c.namespace, s.leg_id, u.stream_id, s.role, s.participant_id, u.id,
           u.start_ms, u.end_ms, u.text, u.conversation_id
    FROM utterances u JOIN conversations c ON c.id = u.conversation_id JOIN streams s ON s.id = u.stream_id
    WHERE u.created_at >= ? AND u.created_at < ? AND u.seq > ? ORDER BY u.seq LIMIT ?
"""
ADD_UNTRANSCRIBED = (
    "INSERT INTO untranscribed (id, stream_id, start_ms, end_ms, audio_start_ms, audio_file, settings, state,"
    " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
PENDING = (
    "SELECT u.id, u.stream_id, u.start_ms, u.end_ms, u.audio_start_ms, u.audio_file, u.settings,"
    " u.attempts, c.namespace, c.external_id, s.role, s.participant_id FROM untranscribed u"
    " JOIN streams s ON s.id = u.stream_id JOIN legs l ON l.id = s.leg_id"
    " JOIN conversations c ON c.id = l.conversation_id"
    " WHERE u.state = ? ORDER BY u.created_at, u.start_ms LIMIT ?"
)


def latest_leg(null_safe_equals: str) -> str:
    """The conversation's latest leg for this agent (SQLite's `IS`, PostgreSQL's `IS NOT DISTINCT FROM`)."""
    return (
        f"SELECT id FROM legs WHERE conversation_id = ? AND agent_id {null_safe_equals} ?"
        " ORDER BY started_at DESC LIMIT 1"
    )


def messages_query(namespace: str | None, external_id: str, limit: int) -> tuple[str, tuple[Any, ...]]:
    query = (
        "SELECT u.id, c.external_id, u.stream_id, s.role, s.participant_id, u.start_ms, u.end_ms, u.text,"
        " u.unredacted_text, u.message, u.created_at FROM utterances u"
        " JOIN conversations c ON c.id = u.conversation_id JOIN streams s ON s.id = u.stream_id"
        " WHERE c.external_id = ?" + (" AND c.namespace = ?" if namespace else "") + " ORDER BY u.seq LIMIT ?"
    )
    return query, (external_id, namespace, limit) if namespace else (external_id, limit)


def stored_utterance(row: Any) -> StoredUtterance:
    uid, external_id, stream_id, role, participant, start_ms, end_ms, text, unredacted, message, created = row
    return StoredUtterance(
        uid, external_id, stream_id, role, participant, start_ms, end_ms, text, unredacted, json.loads(message), created
    )
