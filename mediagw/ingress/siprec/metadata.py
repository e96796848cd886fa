"""Sans-I/O SIPREC recording metadata (RFC 7865, application/rs-metadata+xml) and multipart bodies (RFC 2046).

The XML comes from the SRC, across a trust boundary: it is parsed by defusedxml with DTDs refused, so
entity expansion and external entities never run, and its size is capped before parsing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

NAMESPACE = "urn:ietf:params:xml:ns:recording:1"
CONTENT_TYPE = "application/rs-metadata+xml"
MAX_METADATA_BYTES = 256 * 1024
_RECORDING_NAMESPACES = (NAMESPACE, "")  # some SRCs leave the namespace out
_PARAMETER = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')


class MetadataError(ValueError):
    """Recording metadata or a multipart body that cannot be read (the INVITE gets a 400)."""


@dataclass
class MetadataParticipant:
    participant_id: str
    aors: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    sends: list[str] = field(default_factory=list)  # stream ids
    receives: list[str] = field(default_factory=list)


@dataclass
class MetadataStream:
    stream_id: str
    label: str
    session_id: str | None = None


@dataclass
class RecordingMetadata:
    session_ids: list[str] = field(default_factory=list)
    participants: list[MetadataParticipant] = field(default_factory=list)
    streams: list[MetadataStream] = field(default_factory=list)
    # Vendor extensions by local name (`ucid`), and per participant as `<participant_id>.<local name>`.
    extension_data: dict[str, str] = field(default_factory=dict)
    data_mode: str | None = None  # "complete" or "partial" (an update lists only what changed)

    def stream_for_label(self, label: str) -> MetadataStream | None:
        return next((stream for stream in self.streams if stream.label == label), None)

    def participant(self, participant_id: str) -> MetadataParticipant | None:
        return next((p for p in self.participants if p.participant_id == participant_id), None)

    def participant_for_label(self, label: str) -> MetadataParticipant | None:
        """The participant sending the stream that the SDP m-line with `a=label:<label>` carries."""
        stream_ids = {stream.stream_id for stream in self.streams if stream.label == label}
        return next((p for p in self.participants if stream_ids.intersection(p.sends)), None)


@dataclass
class BodyPart:
    content_type: str  # the part's Content-Type header as sent, parameters included
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def media_type(self) -> str:
        """`type/subtype` in lower case, without parameters."""
        return self.content_type.split(";", 1)[0].strip().lower()


def parse_metadata(data: bytes | str) -> RecordingMetadata:
    """Reads a complete or partial metadata document; what it leaves out stays empty."""
    size = len(data.encode() if isinstance(data, str) else data)
    if size > MAX_METADATA_BYTES:
        raise MetadataError(f"recording metadata is {size} bytes, over the {MAX_METADATA_BYTES}-byte limit")
    try:
        root: ET.Element = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as error:
        reason = type(error).__name__
        raise MetadataError(f"recording metadata refused: {reason} (DTDs and entities are not allowed)") from error
    except ET.ParseError as error:
        raise MetadataError(f"recording metadata is not well-formed XML: {error}") from None
    namespace, local = _split(root.tag)
    if local != "recording" or namespace not in _RECORDING_NAMESPACES:
        raise MetadataError(f"recording metadata root is {root.tag!r}, expected {{{NAMESPACE}}}recording")
    return _Reader().read(root)


class _Reader:
    def __init__(self) -> None:
        self.metadata = RecordingMetadata()
        self._participants: dict[str, MetadataParticipant] = {}

    def read(self, root: ET.Element) -> RecordingMetadata:
        for child, local in _recording_children(root):
            if local == "datamode":
                self.metadata.data_mode = _text(child)
            elif local == "session":
                self._read_session(child)
            elif local == "sessionrecordingassoc":
                self._add_session_id(child.get("session_id"))
            elif local == "participant":
                self._read_participant(child)
            elif local == "participantstreamassoc":
                self._read_sends(child, self._participant(_attribute(child, "participant_id")))
            elif local == "stream":
                self._read_stream(child)
        self._read_extensions(root, None)
        self.metadata.participants = list(self._participants.values())
        return self.metadata

    def _read_session(self, element: ET.Element) -> None:
        self._add_session_id(element.get("session_id") or element.get("id"))
        self._read_extensions(element, None)

    def _add_session_id(self, session_id: str | None) -> None:
        if session_id and session_id not in self.metadata.session_ids:
            self.metadata.session_ids.append(session_id)

    def _read_participant(self, element: ET.Element) -> None:
        participant = self._participant(_attribute(element, "participant_id", "id"))
        for child, local in _recording_children(element):
            if local == "nameid":  # <nameID aor="..."><name>...</name></nameID>
                _append_new(participant.aors, child.get("aor"))
                for name, name_local in _recording_children(child):
                    if name_local == "name":
                        _append_new(participant.names, _text(name))
            elif local == "aor":  # the pre-RFC drafts' form
                _append_new(participant.aors, _text(child))
            elif local == "name":
                _append_new(participant.names, _text(child))
        self._read_sends(element, participant)
        self._read_extensions(element, participant.participant_id)

    def _read_sends(self, element: ET.Element, participant: MetadataParticipant) -> None:
        for child, local in _recording_children(element):
            if local == "send":
                _append_new(participant.sends, _text(child))
            elif local == "recv":
                _append_new(participant.receives, _text(child))

    def _read_stream(self, element: ET.Element) -> None:
        stream_id = _attribute(element, "stream_id", "id")
        label = next((_text(c) for c, local in _recording_children(element) if local == "label"), None)
        session_id = element.get("session_id") or element.get("session")
        self.metadata.streams.append(MetadataStream(stream_id, label or "", session_id))

    def _participant(self, participant_id: str) -> MetadataParticipant:
        if participant_id not in self._participants:
            self._participants[participant_id] = MetadataParticipant(participant_id)
        return self._participants[participant_id]

    def _read_extensions(self, element: ET.Element, participant_id: str | None) -> None:
        """Foreign-namespace leaves under <extensiondata>, or directly under `element`."""
        for child in element:
            if not isinstance(child.tag, str):
                continue
            namespace, local = _split(child.tag)
            if local.lower() == "extensiondata":
                leaves = [leaf for leaf in child.iter() if leaf is not child]
            elif namespace not in _RECORDING_NAMESPACES:
                leaves = list(child.iter())
            else:
                continue
            for leaf in leaves:
                text = _text(leaf)
                if text and isinstance(leaf.tag, str) and len(leaf) == 0:
                    self._add_extension(_split(leaf.tag)[1], text, participant_id)

    def _add_extension(self, name: str, text: str, participant_id: str | None) -> None:
        self.metadata.extension_data.setdefault(name, text)
        if participant_id is not None:
            self.metadata.extension_data.setdefault(f"{participant_id}.{name}", text)


def _split(tag: str) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree tag."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _recording_children(element: ET.Element) -> Iterator[tuple[ET.Element, str]]:
    """Children in the recording namespace with their lower-cased local names (`dataMode` and `datamode` both occur)."""
    for child in element:
        if isinstance(child.tag, str):
            namespace, local = _split(child.tag)
            if namespace in _RECORDING_NAMESPACES:
                yield child, local.lower()


def _text(element: ET.Element) -> str:
    return (element.text or "").strip()


def _attribute(element: ET.Element, name: str, *aliases: str) -> str:
    """The attribute's value, or an alias's (drafts before RFC 7865 used `id`); MetadataError if absent."""
    value = next((v for n in (name, *aliases) if (v := element.get(n))), None)
    if not value:
        raise MetadataError(f"<{_split(element.tag)[1]}> has no {name} attribute")
    return value


def _append_new(values: list[str], value: str | None) -> None:
    if value and value not in values:
        values.append(value)


def split_multipart(content_type: str, body: bytes) -> list[BodyPart]:
    """The parts of a multipart body, byte-exact (RFC 2046 §5.1.1); a single-part body is one part."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not media_type.startswith("multipart/"):
        return [BodyPart(content_type.strip(), {"content-type": content_type.strip()}, body)]
    boundary = _parameters(content_type).get("boundary")
    if not boundary:
        raise MetadataError(f"{media_type} body has no boundary parameter")
    # The CRLF before a delimiter belongs to the delimiter, so a part's body ends where its bytes end.
    delimiter = re.compile(rb"(?:\A|\r?\n)--" + re.escape(boundary.encode()) + rb"(--)?[ \t]*(?:\r?\n|\Z)")
    parts: list[BodyPart] = []
    start: int | None = None  # None: still in the preamble
    for match in delimiter.finditer(body):
        if start is not None:
            parts.append(_body_part(body[start : match.start()]))
        if match.group(1):  # the close delimiter: what follows is the epilogue
            return parts
        start = match.end()
    if start is None:
        raise MetadataError(f"{media_type} body has no delimiter for boundary {boundary!r}")
    raise MetadataError(f"{media_type} body has no closing delimiter for boundary {boundary!r}")


def _parameters(content_type: str) -> dict[str, str]:
    parameters = {}
    for name, value in _PARAMETER.findall(content_type):
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        parameters[name.lower()] = value
    return parameters


def _body_part(data: bytes) -> BodyPart:
    if data.startswith((b"\r\n", b"\n")):  # no headers at all
        head, body = b"", data[2 if data.startswith(b"\r\n") else 1 :]
    else:
        ends = [(i, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := data.find(sep)) >= 0]
        index, length = min(ends) if ends else (len(data), 0)
        head, body = data[:index], data[index + length :]
    headers: dict[str, str] = {}
    name = ""
    for line in head.decode("utf-8", "replace").splitlines():
        if line[:1] in (" ", "\t") and name:  # a folded continuation
            headers[name] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            headers[name] = value.strip()
    return BodyPart(headers.get("content-type", "text/plain"), headers, body)
