"""The Spanish (es-US) words redaction reads: keyword phrases, an agent's way of asking, digit homophones, and
the patterns of last fours, dates of birth and passwords. Written by hand; the number words themselves come
from num2words (redaction/numbers_es.py).

Words are matched folded (lower case, no accents: redaction.numbers_es.fold), because Whisper writes "código"
and "codigo", "número" and "numero" on the same line.
"""

from __future__ import annotations

import re

from redaction.entities import EntityId
from redaction.numbers_es import digit_values, fold

E = EntityId

# Keyword phrases of each entity, as an agent or a caller names them (folded when compiled). English loan words
# that US Spanish speakers use ("el CVV", "su social", "el PIN") are listed too.
PHRASES: dict[EntityId, tuple[str, ...]] = {
    E.CREDIT_CARD_NUMBER: (
        "tarjeta", "tarjetas", "targeta", "número de tarjeta", "número de la tarjeta", "tarjeta de crédito",
        "tarjeta de débito", "crédito", "débito", "número largo", "número del frente", "números de la tarjeta",
        "fecha de vencimiento", "vencimiento", "fecha de expiración", "expiración", "válida hasta", "visa",
        "mastercard", "master card", "amex", "american express", "discover", "credit card", "card number",
    ),
    E.CVV: (
        "código de seguridad", "código de verificación", "número de seguridad", "número de verificación", "cvv",
        "cvv2", "cvc", "csc", "c v v", "ce ve ve", "se ve ve", "ce be be", "tres dígitos", "3 dígitos",
        "código de tres dígitos", "código de atrás", "dígitos de atrás",
        "número de atrás", "números de atrás", "parte de atrás", "reverso de la tarjeta", "dorso de la tarjeta",
        "código del reverso", "security code",
    ),
    E.PIN: (
        "pin", "nip", "n i p", "clave", "clave secreta", "clave personal", "número secreto", "número de pin",
        "número de identificación personal", "código pin", "pin number",
    ),
    E.SSN: (
        "seguro social", "número de seguro social", "social", "ssn", "s s n", "ese ese ene", "social security",
        "número de social",
    ),
    E.PASSWORD: ("contraseña", "contraseñas", "clave de acceso", "código de acceso", "password", "passcode"),
    E.DOB: (
        "fecha de nacimiento", "nacimiento", "nací", "nació", "nacido", "nacida", "cumpleaños", "día que nació",
        "date of birth",
    ),
}  # fmt: skip
# Small words dropped before matching, so that "el número de su tarjeta" matches "número de tarjeta".
FUNCTION_WORDS = frozenset("de del la el los las su sus tu tus mi mis un una al lo le".split())
# What Whisper writes for a keyword's word on a phone line (folded). Words of five letters or more also match
# within one edit.
MISHEARD: dict[str, frozenset[str]] = {
    word: frozenset(heard)
    for word, heard in {
        "pin": ("pines", "ping", "pim", "bin"),
        "nip": ("nib", "nips"),
        "cvv": ("cvb", "cbv", "cbb", "cv", "cvd"),
        "ve": ("be", "v", "b", "uve"),
        "ce": ("se", "c"),
        "atras": ("tras", "atra"),
        "numero": ("numeros", "num", "no"),
    }.items()
}
# Phrases of an agent asking for something (folded): the customer's next answer is read as the reply.
ASKING = (
    "me da", "me puede dar", "me podria dar", "me puede proporcionar", "me proporciona", "me podria proporcionar",
    "me dice", "me puede decir", "me podria decir", "digame", "cual es", "cuales son", "me confirma", "confirme",
    "me puede confirmar", "verificar", "necesito", "ocupo", "por favor", "adelante", "me lee", "leame",
    "me regala", "me indica", "indiqueme", "me facilita", "me permite",
)  # fmt: skip
# Words around digits read out that are no part of an answer's content (folded).
READING_WORDS = frozenset(
    "y eh em este es son era el la lo los las que resto ultimo ultimos luego si claro bueno ok okay vale pues "
    "seria ahi ahora mira".split()
)

# What Whisper writes for a spoken digit when it writes neither the digit nor its word (folded); they count only
# inside a run of digits. "hueve" and "eis" were heard from Whisper base on espeak-ng Spanish digits at 8 kHz
# mu-law; the others are misspellings of the same sounds. Heard too, and left out because they are common words:
# "no" and "más" for "dos", "es" for "seis", "sin" for "cinco".
HOMOPHONE_DIGITS: dict[str, str] = {
    "sero": "0", "zero": "0", "seros": "0", "dose": "2", "tre": "3", "trez": "3", "quatro": "4", "cuatros": "4",
    "kuatro": "4", "sinco": "5", "zinco": "5", "cinko": "5", "seiz": "6", "seys": "6", "sei": "6", "eis": "6",
    "siette": "7", "sete": "7", "hocho": "8", "nuebe": "9", "nueb": "9", "hueve": "9",
}  # fmt: skip
DIGIT_WORDS: dict[str, str] = {**HOMOPHONE_DIGITS, **digit_values()}
ONE_WORDS = frozenset({"uno"})  # a digit only when a CVV, PIN or SSN is asked for, or while a card is read
JOINER_WORDS = frozenset({"y", "eh", "em", "mm", "este", "ah", "guion", "luego", "pues"})
LETTER_WORDS = frozenset({"a", "y", "o", "e", "u"})  # one-letter words, not letters spelled between digits
# "los 16 dígitos", "tres dígitos", "los últimos cuatro": counts, not digits read out.
COUNT = (
    r"(?:\d+|tres|cuatro|cinco|seis|nueve|diez|once|doce|trece|catorce|quince|diecis[eé]is|diecinueve)"
    r"(?=[ -]?d[ií]gitos?\b)|(?<=ltimos )(?:cuatro|4|seis|6)\b"
)

KEYWORDS: dict[EntityId, re.Pattern[str]] = {
    E.PHONE_NUMBER: re.compile(
        r"\b(?:tel[eé]fono|celular|m[oó]vil|n[uú]mero de contacto|llamarl[eao]|comunicarnos|contactarl[eao]|fax|"
        r"whatsapp)\b",
        re.IGNORECASE,
    ),
    E.EMAIL: re.compile(r"\b(?:correo|e-?mail|mail)\b", re.IGNORECASE),
}
NOT_A_CARD = re.compile(
    r"\b(?:referencia|rastreo|seguimiento|pedido|orden|confirmaci[oó]n|factura|p[oó]liza|miembro|socio|caso|"
    r"ticket|reporte|cuenta|serie|reclamo|reclamaci[oó]n|reserva|reservaci[oó]n|env[ií]o|transacci[oó]n|gu[ií]a|"
    r"folio)\b",
    re.IGNORECASE,
)
LAST_FOUR = re.compile(
    r"(?:\b(?:termina|terminada|terminado|acaba)\s+en|\b[uú]ltimos\s+(?:cuatro|4)(?:\s+d[ií]gitos)?"
    r"(?:\s+(?:son|es|de))?)\s*[:,]?\s*$",
    re.IGNORECASE,
)
_MONTHS = (
    r"(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|sep?tiembre|octubre|noviembre|diciembre"
    r"|ene|feb|mar|abr|jun|jul|ago|sept?|oct|nov|dic)\.?"
)
DATE = re.compile(
    rf"\b\d{{1,2}}\s+de\s+{_MONTHS}(?:\s+(?:de|del)\s+\d{{4}})?(?!\w)"
    rf"|\b{_MONTHS}\s+\d{{1,2}}(?:,?\s+(?:de\s+|del\s+)?\d{{4}})?\b"
    r"|\b\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b",
    re.IGNORECASE,
)
PASSWORD_VALUE = re.compile(
    r"\b(?:contrase[nñ]a|clave de acceso|c[oó]digo de acceso|password)(?:\s+(?:es|era|ser[ií]a|sería))?\s*[:,]?"
    r"\s+(\S+(?:\s+\S+){0,3})",
    re.IGNORECASE,
)
WORD = re.compile(r"[\w'@.+-]+")  # a word of a password answer
FILLER = frozenset(
    fold(word)
    for word in "si sí claro bueno ok okay este pues es era mi la el lo que y de contraseña clave password creo "
    "por favor aquí tiene gracias ah eh mire es la ya seria sería".split()
)
