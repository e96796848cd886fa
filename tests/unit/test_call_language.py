"""Which language a call's streams are decoded in: the start's, else the media's, else en-US; updates follow."""

from __future__ import annotations

from asr.frame import Pcm
from mediagw.core.media import CallMedia
from mediagw.core.record import Participant, TranscriptionParams
from tests.core import begin


class Heard:
    """A participant's transcription that records the languages it is switched to."""

    def __init__(self) -> None:
        self.languages: list[str] = []

    def push(self, samples: Pcm) -> None:
        pass

    def set_language(self, code: str) -> None:
        self.languages.append(code)

    async def finish(self) -> int:
        return 0


def started(params: TranscriptionParams, media_language: str = "") -> tuple[CallMedia, dict[str, Heard]]:
    media = CallMedia("genesysaudiohook", "c0ffee00-0000-4000-8000-000000000000")
    media.media_language = media_language
    made: dict[str, Heard] = {}

    def factory(_: CallMedia, participant: Participant) -> Heard:
        made[participant.role] = Heard()
        return made[participant.role]

    return begin(media, params, factory), made


def test_the_starts_language_wins_then_the_medias_then_english() -> None:
    assert started(TranscriptionParams(language="es-US"), "en-US")[0].language == "es"
    assert started(TranscriptionParams(), "es-MX")[0].language == "es"
    assert started(TranscriptionParams())[0].language == "en"


def test_a_media_update_moves_running_streams_unless_the_start_named_a_language() -> None:
    media, heard = started(TranscriptionParams(), "en-US")
    assert media.media_language_changed("es-US")
    assert media.language == "es" and [h.languages for h in heard.values()] == [["es"], ["es"]]
    named, heard = started(TranscriptionParams(language="en-US"))
    assert not named.media_language_changed("es-US")
    assert named.language == "en" and all(h.languages == [] for h in heard.values())
