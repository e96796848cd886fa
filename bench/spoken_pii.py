"""Spoken names and addresses through the real model: clips read by espeak-ng and flite voices, transcribed by
the bundled model, then formatted and redacted after the agent's question, with every entity on and, as the
baseline in the same run, with the reference nine (JSON on stdout).

    python -m bench.spoken_pii [--clips 42]

A clip leaks when a word of its name, street, city or its ZIP is left readable. Secrets the model did not hear
(it mangles names) cannot leak; `heard` counts those it wrote.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from dataclasses import dataclass

from faker import Faker

from asr.recognizer import RecognitionRequest, Recognizer
from bench.redaction_breadth import cpu_name
from bench.speech import speak
from mediagw.app import load_recognizer
from mediagw.config import load_config
from redaction.context import ConversationContext
from redaction.entities import REFERENCE, EntityId
from redaction.itn import to_written
from redaction.redactor import RedactionOptions, Redactor

VOICES = [("espeak-ng", "en-us"), ("espeak-ng", "en-gb"), ("espeak-ng", "en-us+f3"), ("flite", "slt"),
          ("flite", "rms"), ("flite", "awb"), ("flite", "kal")]  # fmt: skip


@dataclass(frozen=True)
class Clip:
    question: str
    answer: str
    secrets: tuple[str, ...]
    engine: str
    voice: str


def clips(n: int, seed: int = 11) -> list[Clip]:
    fake, rnd = Faker("en_US"), random.Random(seed)
    fake.seed_instance(seed)
    out = []
    for i in range(n):
        first, last, street = fake.first_name(), fake.last_name(), fake.street_name()
        city, state, zipcode, number = fake.city(), fake.state(), fake.zipcode(), rnd.randint(10, 9999)
        engine, voice = VOICES[i % len(VOICES)]
        if i % 3 == 0:
            out.append(Clip("Can I have your full name please?", f"Sure, it's {first} {last}.", (first, last),
                            engine, voice))  # fmt: skip
        elif i % 3 == 1:
            answer = f"It's {number} {street}, {city}, {state}, {zipcode}."
            out.append(Clip("What is the address on the account?", answer, (street.split()[0], city.split()[-1],
                            zipcode), engine, voice))  # fmt: skip
        else:
            answer = f"Hi, this is {first} {last}, I live at {number} {street} in {city}."
            out.append(Clip("How can I help you today?", answer, (first, last, street.split()[0]), engine, voice))
    return out


def shown(text: str, secrets: tuple[str, ...]) -> list[str]:
    words = set(re.findall(r"[a-z0-9]+", text.lower()))
    return [s for s in secrets if s.lower() in words]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=42)
    args = parser.parse_args()
    recognizer: Recognizer = load_recognizer(load_config(environ={}))
    redactor = Redactor(RedactionOptions())
    every, rows = frozenset(EntityId), []
    started = time.perf_counter()
    for clip in clips(args.clips):
        heard = recognizer.recognize(RecognitionRequest(speak(clip.answer, clip.engine, clip.voice, 1.0, 0.3))).text
        row = {
            "voice": f"{clip.engine}:{clip.voice}",
            "heard": heard.strip(),
            "heard_secrets": shown(heard, clip.secrets),
        }
        for name, active in (("all", every), ("reference_nine", REFERENCE)):
            context = ConversationContext()
            redactor.redact(clip.question, "agent", active, context, now=0.0)
            text = redactor.redact(to_written(heard), "customer", active, context, now=3.0).text
            row[name] = {"text": text, "leaked": shown(text, clip.secrets)}
        rows.append(row)
    heard_any = [r for r in rows if r["heard_secrets"]]
    print(json.dumps({
        "benchmark": "spoken_pii",
        "cpu": cpu_name(),
        "clips": len(rows),
        "clips_whose_secrets_the_model_wrote": len(heard_any),
        "leaking_clips_all_entities": sum(bool(r["all"]["leaked"]) for r in rows),
        "leaking_clips_reference_nine": sum(bool(r["reference_nine"]["leaked"]) for r in rows),
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
