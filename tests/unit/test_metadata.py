"""Recording metadata (RFC 7865) as Acme Packet and Cisco send it, hostile XML refused, multipart split exactly."""

from __future__ import annotations

import pytest

from mediagw.ingress.siprec.metadata import (
    MAX_METADATA_BYTES,
    MetadataError,
    MetadataStream,
    parse_metadata,
    split_multipart,
)

CALLER, AGENT = "cVGbXUdVEemAbgAAAAAAAA==", "cVGbXUdVEemAcAAAAAAAAA=="
STREAM_1, STREAM_2 = "cVGbXUdVEemAbwAAAAAAAA==", "cVGbXUdVEemAcQAAAAAAAA=="
SESSION = "cVGbXUdVEemAbQAAAAAAAA=="

# Oracle (Acme Packet) SBC: send/recv in <participantstreamassoc>, vendor data in <extensiondata>.
ACME = f"""<?xml version='1.0' encoding='UTF-8'?>
<recording xmlns='urn:ietf:params:xml:ns:recording:1'>
  <datamode>complete</datamode>
  <session session_id="{SESSION}">
    <associate-time>2019-06-13T17:12:32</associate-time>
    <extensiondata xmlns:apkt="http://acmepacket.com/siprec/extensiondata">
      <apkt:ucid>00FA080018803B69810C5E;encoding=hex</apkt:ucid>
      <apkt:callerOrig>true</apkt:callerOrig>
    </extensiondata>
  </session>
  <participant participant_id="{CALLER}">
    <nameID aor="sip:+15551230001@10.1.1.10">
      <name>Alice Caller</name>
    </nameID>
    <associate-time>2019-06-13T17:12:32</associate-time>
    <extensiondata xmlns:apkt="http://acmepacket.com/siprec/extensiondata">
      <apkt:callingParty>true</apkt:callingParty>
    </extensiondata>
  </participant>
  <participant participant_id="{AGENT}">
    <nameID aor="sip:4001@pbx.example.com">
      <name>Agent 4001</name>
    </nameID>
    <associate-time>2019-06-13T17:12:32</associate-time>
    <extensiondata xmlns:apkt="http://acmepacket.com/siprec/extensiondata">
      <apkt:callingParty>false</apkt:callingParty>
    </extensiondata>
  </participant>
  <stream stream_id="{STREAM_1}" session_id="{SESSION}">
    <label>1</label>
  </stream>
  <stream stream_id="{STREAM_2}" session_id="{SESSION}">
    <label>2</label>
  </stream>
  <participantstreamassoc participant_id="{CALLER}">
    <send>{STREAM_1}</send>
    <recv>{STREAM_2}</recv>
  </participantstreamassoc>
  <participantstreamassoc participant_id="{AGENT}">
    <send>{STREAM_2}</send>
    <recv>{STREAM_1}</recv>
  </participantstreamassoc>
</recording>
"""

# Cisco style: dataMode, send/recv inside <participant>, <ExtensionData> with nested vendor elements.
CISCO = """<?xml version="1.0" encoding="UTF-8"?>
<recording xmlns="urn:ietf:params:xml:ns:recording:1" xmlns:ccm="http://cisco.com/siprec/ccm">
  <dataMode>complete</dataMode>
  <session session_id="ED5A0F1E0F7411EA80AC96F96A0A7E3A">
    <sipSessionID>a4e3d0e06d3b5fc9a1d6a4f7b2c1e0f9;remote=00000000000000000000000000000000</sipSessionID>
    <start-time>2019-12-16T06:18:57.396Z</start-time>
    <ExtensionData>
      <ccm:callData>
        <ccm:guid>33B6C936-01ED2571-846E0000-00222222</ccm:guid>
        <ccm:callingNumber>5551230001</ccm:callingNumber>
      </ccm:callData>
    </ExtensionData>
  </session>
  <participant participant_id="ED5A0F1E0F7411EA80AD96F96A0A7E3A">
    <nameID aor="sip:5551230001@10.10.10.1"/>
    <send>ED5A0F1E0F7411EA80AF96F96A0A7E3A</send>
    <recv>ED5A0F1E0F7411EA80B096F96A0A7E3A</recv>
    <ccm:deviceName>SEP001122334455</ccm:deviceName>
  </participant>
  <participant participant_id="ED5A0F1E0F7411EA80AE96F96A0A7E3A">
    <nameID aor="sip:2001@cucm.example.com"/>
    <send>ED5A0F1E0F7411EA80B096F96A0A7E3A</send>
    <recv>ED5A0F1E0F7411EA80AF96F96A0A7E3A</recv>
  </participant>
  <participantsessionassoc participant_id="ED5A0F1E0F7411EA80AD96F96A0A7E3A"
      session_id="ED5A0F1E0F7411EA80AC96F96A0A7E3A">
    <associate-time>2019-12-16T06:18:57.396Z</associate-time>
  </participantsessionassoc>
  <stream stream_id="ED5A0F1E0F7411EA80AF96F96A0A7E3A" session_id="ED5A0F1E0F7411EA80AC96F96A0A7E3A">
    <label>1</label>
  </stream>
  <stream stream_id="ED5A0F1E0F7411EA80B096F96A0A7E3A" session_id="ED5A0F1E0F7411EA80AC96F96A0A7E3A">
    <label>2</label>
  </stream>
</recording>
"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<recording xmlns="urn:ietf:params:xml:ns:recording:1"><session session_id="&lol4;"/></recording>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE recording [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<recording xmlns="urn:ietf:params:xml:ns:recording:1"><session session_id="&xxe;"/></recording>
"""


def test_acme_packet_metadata() -> None:
    metadata = parse_metadata(ACME.encode())
    assert metadata.data_mode == "complete"
    assert metadata.session_ids == [SESSION]
    assert metadata.streams == [MetadataStream(STREAM_1, "1", SESSION), MetadataStream(STREAM_2, "2", SESSION)]
    caller, agent = metadata.participants
    assert caller.participant_id == CALLER and caller.aors == ["sip:+15551230001@10.1.1.10"]
    assert caller.names == ["Alice Caller"]
    assert (caller.sends, caller.receives) == ([STREAM_1], [STREAM_2])
    assert (agent.sends, agent.receives) == ([STREAM_2], [STREAM_1])
    assert metadata.participant_for_label("1") is caller
    assert metadata.participant_for_label("2") is agent
    assert metadata.participant_for_label("3") is None
    assert metadata.extension_data["ucid"] == "00FA080018803B69810C5E;encoding=hex"
    assert metadata.extension_data["callerOrig"] == "true"
    assert metadata.extension_data[f"{CALLER}.callingParty"] == "true"
    assert metadata.extension_data[f"{AGENT}.callingParty"] == "false"


def test_cisco_metadata() -> None:
    metadata = parse_metadata(CISCO)
    assert metadata.data_mode == "complete"
    assert metadata.session_ids == ["ED5A0F1E0F7411EA80AC96F96A0A7E3A"]
    caller, callee = metadata.participants
    assert caller.aors == ["sip:5551230001@10.10.10.1"] and caller.names == []
    assert metadata.participant_for_label("1") is caller
    assert metadata.participant_for_label("2") is callee
    assert metadata.extension_data["guid"] == "33B6C936-01ED2571-846E0000-00222222"
    assert metadata.extension_data["callingNumber"] == "5551230001"
    assert metadata.extension_data["ED5A0F1E0F7411EA80AD96F96A0A7E3A.deviceName"] == "SEP001122334455"
    assert "sipSessionID" not in metadata.extension_data  # recording-namespace elements are not extensions


def test_partial_update_and_missing_namespace() -> None:
    update = """<recording><dataMode>partial</dataMode>
      <participantstreamassoc participant_id="p9"><send>s9</send></participantstreamassoc>
      <stream stream_id="s9" session="x"><label>3</label></stream></recording>"""
    metadata = parse_metadata(update)
    assert metadata.data_mode == "partial" and metadata.session_ids == []
    assert metadata.streams == [MetadataStream("s9", "3", "x")]
    participant = metadata.participant_for_label("3")
    assert participant is not None and participant.participant_id == "p9" and participant.aors == []


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_entities_and_dtds_are_refused(document: str) -> None:
    with pytest.raises(MetadataError, match="refused"):
        parse_metadata(document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"<recording xmlns='urn:ietf:params:xml:ns:recording:1'><session>", "not well-formed"),
        (b"", "not well-formed"),
        (b"<html/>", "root is 'html'"),
        (b"<recording xmlns='urn:other'/>", "root is"),
        (b"<recording><stream><label>1</label></stream></recording>", "<stream> has no stream_id attribute"),
        (b"<recording>" + b" " * MAX_METADATA_BYTES + b"</recording>", "limit"),
    ],
)
def test_malformed_metadata_is_refused(document: bytes, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        parse_metadata(document)


SDP = (
    b"v=0\r\no=SBC 1561 1 IN IP4 192.0.2.10\r\ns=SIPREC\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    b"m=audio 20000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\na=label:1\r\n"
    b"m=audio 20002 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\na=label:2\r\n"
)
BOUNDARY = "OSS-unique boundary-42"
SIPREC_BODY = (
    b"This is a multi-part message in MIME format.\r\n"
    + f"--{BOUNDARY}\r\n".encode()
    + b"Content-Type: application/sdp\r\n\r\n"
    + SDP
    + f"\r\n--{BOUNDARY}\r\n".encode()
    + b"Content-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n"
    + ACME.encode()
    + f"\r\n--{BOUNDARY}--\r\n".encode()
    + b"epilogue, ignored\r\n"
)


def test_multipart_siprec_body_split_byte_exact() -> None:
    sdp, metadata = split_multipart(f'multipart/mixed;boundary="{BOUNDARY}"', SIPREC_BODY)
    assert sdp.content_type == "application/sdp" and sdp.body == SDP
    assert metadata.media_type == "application/rs-metadata+xml"
    assert metadata.headers["content-disposition"] == "recording-session"
    assert metadata.body == ACME.encode()
    assert parse_metadata(metadata.body).participant_for_label("2") is not None


def test_multipart_unquoted_boundary_and_no_preamble() -> None:
    body = b"--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--b1\r\n\r\nplain\r\n--b1--"
    first, second = split_multipart("Multipart/Mixed; charset=utf-8; boundary=b1", body)
    assert first.body == b"v=0\r\n" and first.media_type == "application/sdp"
    assert second.content_type == "text/plain" and second.headers == {} and second.body == b"plain"


def test_a_boundary_prefix_inside_content_is_not_a_delimiter() -> None:
    body = b"--b1\r\nContent-Type: text/plain\r\n\r\n--b1x is text\r\n--b1--\r\n"
    (part,) = split_multipart("multipart/mixed; boundary=b1", body)
    assert part.body == b"--b1x is text"


def test_single_part_body_is_one_part() -> None:
    (part,) = split_multipart("application/sdp", SDP)
    assert part.media_type == "application/sdp" and part.body == SDP


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("multipart/mixed", SIPREC_BODY, "no boundary parameter"),
        (f'multipart/mixed; boundary="{BOUNDARY}"', SIPREC_BODY.split(b"\r\n--OSS-unique boundary-42--")[0], "closing"),
        ("multipart/mixed; boundary=other", SIPREC_BODY, "no delimiter"),
    ],
)
def test_bad_multipart_bodies(content_type: str, body: bytes, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        split_multipart(content_type, body)
