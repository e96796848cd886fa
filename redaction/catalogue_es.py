"""The Spanish (es-US) words of the catalogue's entities beyond the reference nine: cue words, the cues of a name
("me llamo", "a nombre de"), the words around an answer, and Mexican and US street addresses as a caller says them
in Spanish ("calle Juárez número 120, colonia Centro, código postal 45000").

Patterns are matched on folded text (lower case, no accents: `folded`), as the Spanish tables of the reference
nine are (redaction/spanish.py), because Whisper writes "dirección" and "direccion" on the same line. Folding
keeps offsets: one character in, one out.
"""

from __future__ import annotations

import re
from functools import cache

from redaction.entities import EntityId
from redaction.numbers_es import fold

E = EntityId


def folded(text: str) -> str:
    """`fold` character by character, so that an offset into the folded text is one into `text`."""
    return "".join((fold(c) or c)[0] for c in text)


_PET = r"(?:primera? )?mascota"
# Folded patterns. English loan words US Spanish speakers use ("el routing", "el zip code") are listed too; the
# English cues are not read on Spanish text ("sin" is "without", "pan" is bread).
CUES: dict[EntityId, str] = {
    E.NAME: rf"\bnombre\b(?! de (?:su |tu |mi )?{_PET}| de usuario| de la calle)|\bapellidos?\b(?! de soltera)|"
    r"como se llama|con quien (?:hablo|tengo el gusto)|me llamo|a nombre de|titular de la cuenta|deletre\w*",
    E.ADDRESS: r"direccion|domicilio|donde vive|vivo en|vive en|vivimos en|me mude a|\bcalle\b|\bavenida\b|"
    r"\bcolonia\b|apartamento|departamento|\bapto\b|\bdepto\b|numero (?:de casa|exterior|interior)",
    E.ZIP: r"codigo postal|\bc\.? ?p\.?(?= |$)|zip",
    E.AGE: r"\bedad\b|cuantos anos|\banos\b",
    E.DATE: r"\bfecha\b|\bcuando\b",
    E.SECURITY_ANSWER: rf"apellido de soltera|nombre de (?:su |tu |mi )?{_PET}|primera mascota|"
    r"pregunta (?:de seguridad|secreta)|respuesta (?:de seguridad|secreta)|"
    r"(?:comida|color|pelicula|libro|equipo|maestr[oa]|cancion) favorit[oa]|primer (?:carro|coche|auto|trabajo)|"
    r"(?:ciudad|donde) nacio|mejor amig[oa]|escuela primaria|calle donde crecio",
    E.USERNAME: r"nombre de usuario|\busuario\b|\blogin\b|inicio de sesion|iniciar sesion|user ?name",
    E.CARD_EXPIRY: r"vencimiento|\bvence\b|expiracion|\bexpira\b|valida hasta",
    E.BANK_ACCOUNT_NUMBER: r"\bbanco\b|bancari[oa]|cuenta de cheques|\bcheques\b|ahorros|deposito directo|"
    r"cuenta de banco",
    E.BANK_ROUTING_NUMBER: r"\bruta\b|numero de transito|routing|\baba\b",
    E.IBAN: r"\biban\b",
    E.SWIFT_BIC: r"\bswift\b|\bbic\b",
    E.ACCOUNT_NUMBER: r"numero de (?:la )?cuenta|cuenta numero|numero de (?:cliente|socio|miembro|poliza|contrato)|"
    r"\bpoliza\b",
    E.CRYPTO: r"billetera|monedero|bitcoin|\bbtc\b|ethereum|cripto",
    E.DRIVER_LICENSE: r"licencia|permiso de (?:conducir|manejar)",
    E.PASSPORT_NUMBER: r"pasaporte|passport",
    E.ITIN: r"\bitin\b|contribuyente",
    E.EIN: r"\bein\b|empleador|numero patronal",
    E.MEDICARE_MBI: r"medicare|\bmbi\b",
    E.NPI: r"\bnpi\b|numero de proveedor|proveedor nacional",
    E.DEA_NUMBER: r"\bdea\b",
    E.VIN: r"\bvin\b|numero de (?:identificacion del )?vehiculo|numero de serie del (?:carro|coche|auto|vehiculo)",
    E.LICENSE_PLATE: r"\bplacas?\b|matricula",
    E.MILITARY_ID: r"identificacion militar|\bdod\b",
    E.MX_CURP: r"\bcurp\b|c u r p|clave unica",
    E.MX_RFC: r"\brfc\b|r f c|erre efe ce|registro federal",
    E.ES_DNI: r"\bdni\b|d n i|documento (?:nacional )?de identidad|\bdocumento\b",
    E.ES_NIE: r"\bnie\b|n i e|extranjero",
    E.UK_NINO: r"seguro nacional|\bnino\b",
    E.UK_NHS: r"\bnhs\b",
    E.CA_SIN: r"seguro social canadiense|social insurance",
    E.IN_PAN: r"\bpan card\b|numero pan",
    E.IN_AADHAAR: r"aadh?aar",
    E.AU_TFN: r"\btfn\b",
    E.AU_ABN: r"\babn\b",
    E.IT_FISCAL_CODE: r"codice fiscale|codigo fiscal",
    E.MEDICAL_RECORD_NUMBER: r"expediente|historia clinica|numero de (?:paciente|registro medico)",
    E.HEALTH_PLAN_ID: r"numero de (?:afiliado|asegurado|seguro medico)|tarjeta del seguro|plan de salud|"
    r"seguro medico",
    E.IP_ADDRESS: r"\bip\b|direccion ip",
    E.MAC_ADDRESS: r"\bmac\b",
    E.URL: r"pagina|sitio web|\bweb\b|enlace|\blink\b|\burl\b",
}


@cache
def cue_pattern(entity: EntityId) -> re.Pattern[str]:
    return re.compile(CUES[entity])


# After a strong cue any words but NOT_NAMES are a name; after a weak cue only Capitalised words are (folded).
STRONG_NAME_CUE = re.compile(
    r"\b(?:me llamo|mi nombre (?:completo )?es|nombre es|a nombre de|mi apellido es|apellido es|mis apellidos son|"
    r"apellidos son|se llama|el titular es|la titular es|se escribe|deletreado)\s+"
)
WEAK_NAME_CUE = re.compile(
    r"\b(?:soy|habla|hablando con|habla con|senora|senorita|senor|sra\.?|srta\.?|sr\.?|don|dona|dr\.?|dra\.?)\s+"
)
NOT_NAMES = frozenset(
    fold(word)
    for word in "a al ante con contra de del desde en entre hacia hasta para por segun sin sobre tras y e o u ni "
    "que pero porque pues como cuando donde el la lo los las un una unos unas mi mis tu tus su sus nuestro nuestra "
    "este esta ese esa yo usted ustedes ella el nosotros le les me se te es soy era fue estoy esta son si no ya "
    "muy bien mal gracias hola buenos buenas dias tardes noches claro bueno ok okay pues este eh cliente senor "
    "senora titular nombre apellido apellidos completo llamo llamando llamaba quiero necesito tengo quisiera "
    "aqui ahora hoy manana tambien todavia solo usuario cuenta tarjeta numero pago factura servicio ayuda "
    "problema pregunta quien quienes cual cuales mexico estados unidos lunes martes miercoles jueves viernes "
    "sabado domingo".split()
)
# Words around an answer that are not the answer (folded).
FILLER = frozenset(
    fold(word)
    for word in "si claro bueno ok okay pues este eh em mm a ver es era seria mi mis su el la lo los las de del "
    "y que me llamo nombre completo apellido apellidos soy yo aqui tiene se llama llamaba creo por favor gracias "
    "mire oiga senor senora senorita vivo en vive direccion domicilio mascota madre soltera respuesta usuario "
    "como no perdon sea o sea pues nada mama papa padre perro perrito gato gatito primera mascota llamaba "
    "llamaban abuela abuelo".split()
)
ENDS_ANSWER = frozenset(fold(w) for w in "y pero porque entonces que quiero necesito tengo llamo para".split())

_STREET = (
    r"(?:calle|c\/|avenida|av\.?|avda\.?|boulevard|bulevar|blvd\.?|calzada|camino|carretera|paseo|privada|"
    r"callejon|cerrada|circuito|andador|prolongacion|periferico|glorieta)"
)
_NAME = r"[^\W\d_][\w'.-]*"
_NUMBER = (
    r"(?:(?:numero|num\.?|no\.?|n\.?o|\#)\s*)?\d{1,6}(?: \d{1,5})*(?:\s?[a-z]\b)?"  # "4 8 3 4" read digit by digit
)
_UNIT = r"(?:interior|int\.?|apartamento|apto\.?|departamento|depto\.?|piso|local|casa)"
_ZIP = r"(?:codigo postal|c\.?\s?p\.?)(?:\s+(?:es|era))?[,:]?\s+(?:\d{5}|(?:\d ){4}\d)"
# A street word, one to four words of its name, and the number; then what may follow in one breath: a unit,
# a colonia and a postal code.
ADDRESS = re.compile(
    rf"\b{_STREET}\s+(?:{_NAME}\s+){{0,3}}?{_NAME},?\s+{_NUMBER}"
    rf"(?:,?\s+{_UNIT}\s*(?:numero\s+)?[\w-]{{1,5}})?"
    rf"(?:,?\s+(?:colonia|col\.?|fraccionamiento|fracc\.?|barrio)\s+(?:{_NAME}\s+){{0,2}}{_NAME})?"
    rf"(?:,?\s+{_ZIP})?"
    # "el 1234 de la calle Main", as a US address is said in Spanish
    rf"|\b\d{{1,6}}\s+de\s+la\s+{_STREET}\s+(?:{_NAME}\s+){{0,2}}{_NAME}"
)
VALUE_CUE = re.compile(
    r"\b(?:vivo en|vivimos en|vive en|me mude a|nos mudamos a|mi direccion es|la direccion es|direccion es|"
    r"mi domicilio es|el domicilio es)\s+"
)
# "tengo 45 años", "mi padre tiene 80 años", "45 años de edad", "edad de 45" (folded; three groups, as English's)
AGE = re.compile(
    r"\b(?:tengo|tiene|tenia|tenemos|cumpli|cumple|cumplo|cumplio)\s+(\d{1,3})\s+anos\b(?!\s+(?:de|con|en)\b(?! edad))"
    r"|\b(\d{1,3})\s+anos de edad\b|\bedad(?:\s+es)?(?:\s+de)?\s+(\d{1,3})\b"
)
ZIP = re.compile(
    r"(?:codigo postal|\bc\.?\s?p\.?|zip(?: code)?)(?:\s+(?:es|era))?[,:]?\s+(?P<zip>\d{5}|(?:\d ){4}\d)(?![\w-])"
)

# Letters of a code spelled by their Spanish names (folded). Left out as common words: "de", "te", "ve", and
# one-letter words, which are letters of a code anyway.
LETTER_NAMES = {
    "be": "B", "ce": "C", "efe": "F", "ge": "G", "hache": "H", "jota": "J", "ka": "K", "ele": "L", "eme": "M",
    "ene": "N", "pe": "P", "cu": "Q", "erre": "R", "ere": "R", "ese": "S", "uve": "V", "equis": "X", "ye": "Y",
    "zeta": "Z", "seta": "Z",
}  # fmt: skip
# Short words that are never a group of a code, even next to digits (folded).
SHORT_WORDS = frozenset(
    "el la los las un una es en de del al lo le se me te mi su tu mis sus que por con sin son era muy mas pero "
    "ese esa eso este esta ya hay si no nos les ok bueno pues".split()
)
