"""Two-party payment calls end to end, through Twilio Media Streams and SIPREC (JSON).

    python -m bench.payment_calls                  # 24 generated calls, each played through Twilio and SIPREC
    python -m bench.payment_calls --fixtures DIR   # write the calls the end-to-end test plays

Each call has an agent (one voice) asking for a card number, its security code and a PIN in varied phrasings,
and a customer (another voice, espeak-ng or flite, at 104 to 200 words a minute) answering, some with the
card and its code in one breath. Default settings: redaction on. A call leaks when any stored customer
utterance (GET messages, which is the store) shows a digit of the card other than its last four, or any digit
of the code or the PIN. Over-masking counts the utterances that hold no secret but came out with a mask.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import soundfile

from asr.frame import Pcm
from bench.card_clips import RATES, VOICES
from bench.common import API_HEADERS, GatewayProcess
from bench.redaction_corpus import card
from bench.speech import speak
from mediagw.simulators.siprec_call import SiprecCall
from mediagw.simulators.twilio import call_sid, media_stream_url, play_call, stereo_tracks
from tests.gateway import API_ID, API_SECRET, free_port

CARD_QUESTIONS = [
    "Can I have your credit card number please?",
    "What's the full card number?",
    "Go ahead with the long number on the front of the card.",
    "And the card number.",
]
CVV_QUESTIONS = [
    "And the security code on the back?",
    "What's the three digit code on the back of the card?",
    "Can I get the CVV please.",
    "And the security code.",
]
PIN_QUESTIONS = ["What is the PIN on the account?", "And your four digit PIN please.", "Can you confirm the PIN?"]
WORDS = "zero one two three four five six seven eight nine".split()
GAP_MS = 700
ROLES = ["customer", "agent"]  # the channels of every call's audio


@dataclass(frozen=True)
class Turn:
    role: str
    text: str
    secret: str  # "card", "cvv", "pin", or "" for none
    start_ms: int = 0
    end_ms: int = 0


@dataclass(frozen=True)
class PaymentCall:
    name: str
    card: str
    cvv: str
    pin: str
    turns: tuple[Turn, ...]


def reading(digits: str, rng: random.Random) -> str:
    style = rng.choice(["spaced", "groups", "words", "commas"])
    if style == "spaced":
        return " ".join(digits)
    if style == "words":
        return " ".join(WORDS[int(d)] for d in digits)
    if style == "commas":
        return ", ".join(" ".join(digits[i : i + 4]) for i in range(0, len(digits), 4))
    return ", ".join(" ".join(digits[i : i + 2]) for i in range(0, len(digits), 2))


def script(index: int, rng: random.Random) -> PaymentCall:
    number = card(rng)
    cvv = "".join(rng.choice("0123456789") for _ in range(4 if number[:2] in ("34", "37") else 3))
    pin = "".join(rng.choice("0123456789") for _ in range(4))
    turns = [
        Turn("agent", "Thank you for calling. How can I help you today?", ""),
        Turn("customer", "Hi, I would like to pay my bill.", ""),
        Turn("agent", rng.choice(CARD_QUESTIONS), ""),
    ]
    if rng.random() < 0.3:  # the card and its code in one breath
        turns.append(Turn("customer", f"Sure, {reading(number, rng)}, and the code is {reading(cvv, rng)}.", "card"))
    else:
        turns.append(Turn("customer", f"Yes, it's {reading(number, rng)}.", "card"))
        turns += [Turn("agent", rng.choice(CVV_QUESTIONS), ""), Turn("customer", reading(cvv, rng), "cvv")]
    turns += [
        Turn("agent", rng.choice(PIN_QUESTIONS), ""),
        Turn("customer", f"It is {reading(pin, rng)}.", "pin"),
        Turn("agent", "Thank you, the payment went through. Anything else?", ""),
        Turn("customer", "No, that's all. Thanks a lot.", ""),
    ]
    return PaymentCall(f"payment-{index:02d}", number, cvv, pin, tuple(turns))


def render(
    call: PaymentCall, rng: random.Random, voices: list[tuple[str, str]], rates: list[float]
) -> tuple[np.ndarray[Any, np.dtype[np.int16]], PaymentCall]:
    """The call's two channels (customer, agent) and its turns with their times."""
    voices = rng.sample(voices, 2)
    rate = {role: rng.choice(rates) for role in ROLES}
    pieces, turns, cursor = [], [], 1500
    for turn in call.turns:
        engine, voice = voices[ROLES.index(turn.role)]
        samples = speak(turn.text, engine, voice, rate[turn.role])
        pieces.append((turn.role, cursor, samples))
        end = cursor + len(samples) // 8
        turns.append(Turn(turn.role, turn.text, turn.secret, cursor, end))
        cursor = end + GAP_MS
    audio = np.zeros(((cursor + 1500) * 8, 2), dtype=np.int16)
    for role, start, samples in pieces:
        audio[start * 8 : start * 8 + len(samples), ROLES.index(role)] = samples
    return audio, PaymentCall(call.name, call.card, call.cvv, call.pin, tuple(turns))


def generate(
    count: int, seed: int = 24, voices: list[tuple[str, str]] = VOICES, rates: list[float] = RATES
) -> list[tuple[np.ndarray[Any, np.dtype[np.int16]], PaymentCall]]:
    rng = random.Random(seed)
    return [render(script(index, rng), rng, voices, rates) for index in range(count)]


_SHOWN = re.compile(r"\d|\b(?:zero|one|two|three|four|five|six|seven|eight|nine)\b", re.IGNORECASE)


def shown(text: str) -> str:
    """The digits `text` shows, written or as number words."""
    return "".join(m if m.isdigit() else str(WORDS.index(m.lower())) for m in _SHOWN.findall(text))


def outcome(call: PaymentCall, stored: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether the call leaked a secret digit, and which utterances were masked without holding a secret."""
    customer = [m for m in stored if m["sender"]["role"] == "customer"]
    digits = "".join(shown(m["text"]) for m in customer)
    leaked = digits not in ("", call.card[-4:]) and not call.card[-4:].endswith(digits)
    secret_spans = [(t.start_ms, t.end_ms) for t in call.turns if t.secret]
    over = [
        m["text"]
        for m in stored
        if "#" in m["text"] and not any(_overlaps(m["autotranscribeResponse"], span) for span in secret_spans)
    ]
    return {"call": call.name, "leaked": leaked, "shown": digits, "overmasked": over, "utterances": len(stored)}


def _overlaps(response: dict[str, Any], span: tuple[int, int]) -> bool:
    return bool(response["start"] < span[1] and span[0] < response["end"])


async def through_twilio(session: aiohttp.ClientSession, base_url: str, audio: Pcm, call: PaymentCall) -> Any:
    """Play the call as Twilio does, started before the first word; its stored messages."""
    sid = call_sid()
    url = await media_stream_url(session, base_url, API_ID, API_SECRET)
    tracks = stereo_tracks([audio[:, 0], audio[:, 1]], ROLES)
    start = {"namespace": "twilio", "guid": sid, "customerId": "c-1", "agentId": "a-1"}

    async def started() -> None:
        await _control(session, base_url, "start", start)

    await play_call(session, url, tracks, sid, realtime=False, on_started=started, started_after_ms=500, settle_s=0.2)
    await _control(session, base_url, "stop", {"namespace": "twilio", "guid": sid})
    return await _messages(session, base_url, sid)


async def through_siprec(
    session: aiohttp.ClientSession, base_url: str, srs: tuple[str, int], audio: Pcm, call: PaymentCall, guid: str
) -> Any:
    """Play the call as an SBC's recording (customer first), at 8 times real time; its stored messages."""
    async with SiprecCall(srs, guid) as sip:
        assert await sip.invite() == 200
        start = {"namespace": "siprec", "guid": guid, "customerId": "c-1", "agentId": "a-1"}
        await _control(session, base_url, "start", start | {"siprecParams": {"mediaLineOrder": "CUSTOMER_FIRST"}})
        await sip.play(audio, speed=8.0)
        assert await sip.bye() == 200
    for _ in range(600):  # the BYE's flush: stop-streaming answers 409-203 until it is done
        answer = await _control(session, base_url, "stop", {"namespace": "siprec", "guid": guid})
        if answer.get("error", {}).get("code") != "409-203":
            break
        await asyncio.sleep(0.05)  # a poll's interval, bounded by the loop above
    return await _messages(session, base_url, guid)


async def _control(session: aiohttp.ClientSession, base_url: str, kind: str, body: dict[str, Any]) -> Any:
    url = f"{base_url}/mg-autotranscribe/v1/{kind}-streaming"
    async with session.post(url, json=body, headers=API_HEADERS) as response:
        return await response.json()


async def _messages(session: aiohttp.ClientSession, base_url: str, guid: str) -> list[dict[str, Any]]:
    url = f"{base_url}/conversation/v1/conversation/messages"
    async with session.get(url, params={"externalId": guid}, headers=API_HEADERS) as response:
        return list((await response.json())["messages"])


def siprec_guid(index: int) -> str:
    return f"{2542391662063156 + index:020d}"


async def run(calls: list[tuple[Any, PaymentCall]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data:
        sip_port = free_port()
        gateway = GatewayProcess({"MEDIAGW_SIPREC__PORT": str(sip_port)}, Path(data))
        try:
            async with aiohttp.ClientSession() as session:
                results: dict[str, list[dict[str, Any]]] = {"twilio": [], "siprec": []}
                for index, (audio, call) in enumerate(calls):
                    stored = await through_twilio(session, gateway.base_url, audio, call)
                    results["twilio"].append(outcome(call, stored))
                    srs = ("127.0.0.1", sip_port)
                    stored = await through_siprec(session, gateway.base_url, srs, audio, call, siprec_guid(index))
                    results["siprec"].append(outcome(call, stored))
        finally:
            gateway.stop()
    return {
        ingress: {
            "calls": len(found),
            "leaking_calls": sum(r["leaked"] for r in found),
            "overmasked_utterances": sum(len(r["overmasked"]) for r in found),
            "utterances": sum(r["utterances"] for r in found),
            "leaks": [r for r in found if r["leaked"]],
            "overmasked": [t for r in found for t in r["overmasked"]],
        }
        for ingress, found in results.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=24)
    parser.add_argument("--fixtures", type=Path, help="write the end-to-end test's calls to this folder and stop")
    args = parser.parse_args()
    if args.fixtures:
        args.fixtures.mkdir(parents=True, exist_ok=True)
        index = []
        clear = [("espeak-ng", "en-us"), ("flite", "slt"), ("flite", "rms")]  # the test checks masks, not the ASR
        for audio, call in generate(2, seed=7, voices=clear, rates=[1.0]):
            soundfile.write(args.fixtures / f"{call.name}.ogg", audio, 8000, format="OGG", subtype="OPUS")
            index.append(asdict(call))
        (args.fixtures / "calls.json").write_text(json.dumps(index, indent=1) + "\n")
        return
    report = asyncio.run(run(generate(args.calls)))
    print(json.dumps({"benchmark": "payment_calls", "voices": len(VOICES), **report}, indent=1))


if __name__ == "__main__":
    main()
