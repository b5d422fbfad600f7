"""Value detectors: what a text column holds, judged by its values alone.

Each detector measures two shares of a column's sampled values: how many are *valid*
(the checksum, registry or parser of the type accepts them: Luhn for cards, ISO 13616
for IBANs, `phonenumbers` for phones, `ipaddress` for IPs, python-stdnum for national
IDs, base58check for Bitcoin) and how many merely have the type's *shape* (digits and
separators of a card number whose check digit a spreadsheet broke, an IP address that
lost a dot). Real columns are messy, so a type is accepted when most values are valid,
or when a clear share is valid and nearly all have the shape: a random number passes
a check digit one time in ten, which keeps look-alikes (amounts, product codes, ZIP-like
numbers) out.

Person names have no pattern; they are found by dictionary membership of their words
(first and last names pooled from Faker's locale lists, `name_dictionaries`) on columns
with enough distinct values, plus the shape of a name (letters, capitalised, 1-4 words).
Free text (notes, comments) is scanned for embedded e-mails, phones, card numbers, SSNs
and names.

Every result is a share or a count: no detector returns or formats a value.
Cost is bounded: at most `MAX_VALUES` sampled values per column, and the slow parsers
(`phonenumbers`, stdnum, dates) see at most `MAX_PARSED` of them.
"""

from __future__ import annotations

import importlib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from synth_platform.lib.pii.name_dictionaries import dictionaries, fold

MAX_VALUES = 1500
MAX_PARSED = 300
ACCEPT_VALID = 0.8  # a type is accepted when this share of values is valid ...
SHAPE_MIN = 0.8  # ... or when this share has its shape and at least the type's `min_valid` is valid

#: Detected types and the class they put a column in.
DIRECT_TYPES = frozenset(
    {
        "email",
        "url",
        "phone",
        "ssn",
        "national_id",
        "credit_card",
        "iban",
        "ip_address",
        "mac_address",
        "crypto_wallet",
        "street_address",
        "full_name",
        "first_name",
        "last_name",
        "free_text",
        "record_id",
        "unexplained_text",
    }
)
QUASI_TYPES = frozenset({"zip_code", "date_of_birth"})
#: Types whose values are common: a fake value may coincide with a real person's by chance.
COMMON_VALUE_TYPES = frozenset({"full_name", "first_name", "last_name"})

_EMAIL = re.compile(r"[A-Za-z0-9._%+'\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_URL = re.compile(r"(?i)(?:(?:https?|ftp)://[^\s/]+\.[^\s]+|www\.[^\s/]+\.[a-z]{2,}\S*)")
_MAC = re.compile(r"(?:[0-9A-Fa-f]{2}[:\-]){5}[0-9A-Fa-f]{2}|(?:[0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}")
_ETH = re.compile(r"0x[0-9a-fA-F]{40}")
_BTC_SHAPE = re.compile(r"[13][1-9A-HJ-NP-Za-km-z]{25,34}|(?:bc1|tb1)[0-9a-z]{11,71}")
_IP_SHAPE = re.compile(r"[0-9.]{4,15}|[0-9A-Fa-f:]{2,39}:[0-9A-Fa-f:.]*")
_CARD_SCI = re.compile(r"\d(?:\.\d+)?[eE]\+?1[2-8]")  # 4.11111E+15: a card number through a spreadsheet
_IBAN_SHAPE = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{10,32}")
_SSN_SHAPE = re.compile(r"\d{3}[- ]?\d{2}[- ]?\d{4}")
_SSN_VALID = re.compile(
    r"(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}|(?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4}"
)
_NINO = re.compile(r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Z]")
_PHONE_SHAPE = re.compile(
    r"(?:\+|00)?[\d\s().\-/]{6,22}(?:\s*(?:x|ext\.?|extension|#)\s*\d{1,6})?", re.IGNORECASE
)
_PHONE_EXT = re.compile(r"\s*(?:x|ext\.?|extension|#)\s*\d{1,6}$", re.IGNORECASE)
_NOT_PHONE = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}|[+-]?\d+[.,]\d{1,2}|\d{5}-\d{4}|\d{3}-\d{2}-\d{4}"
)
_DATE_SHAPE = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|\d{1,2}[ .\-]?[A-Za-z]{3,9}[ .\-,]+\d{4}|[A-Za-z]{3,9}\.? \d{1,2},? \d{4}"
)
_TIME_PART = re.compile(r"\d{1,2}:\d{2}")
_ZIP = re.compile(
    r"\d{5}(?:-\d{4})?"  # US
    r"|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"  # UK
    r"|[A-Z]\d[A-Z] ?\d[A-Z]\d"  # CA
    r"|\d{4} ?[A-Z]{2}"  # NL
    r"|\d{2}-\d{3}"  # PL
)
_ID_SHAPE = re.compile(r"[A-Za-z0-9 .\-/]{8,20}")
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(
    r"[+-]?[$€£]?(?:\d{1,3}(?:[,.' ]\d{3})+(?:[.,]\d+)?|\d+[.,]\d*|\d*[.,]\d+|\d+)(?:[eE][+-]?\d+)?%?"
)
_STREET_WORDS = (
    r"street|st|road|rd|avenue|ave|lane|ln|drive|dr|court|ct|way|place|pl|boulevard|blvd|terrace|ter|circle|"
    r"cir|parkway|pkwy|square|sq|highway|hwy|crescent|close|grove|gardens|row|walk|hill|park|fort|stream|"
    r"straße|strasse|str|weg|allee|platz|gasse|ring|damm|ufer|laan|straat|gracht|singel|plein|kade|dijk|"
    r"gatan|vägen|gränd|stigen|vej|gade|alle|rue|chemin|allée|impasse|quai|avenue|via|viale|piazza|corso|"
    r"vicolo|largo|contrada|incrocio|calle|avenida|paseo|pasaje|plaza|camino|carrer|rua|travessa|praça|"
    r"alameda|ulica|ul|aleja|al|osiedle|utca|út|tér|sokak|cadde|mahalle|jalan|gang|nagar|marg|colony|baan|"
    r"hof|steeg|pad|dreef|lei|wal|markt|fazenda|setor|favela|residencial|pátio|vila|quadra|conjunto|lagoa|"
    r"ladeira|parque|chácara|sítio|loteamento|morro|vereda|viela|trecho|núcleo|recanto|jardim|estrada|"
    r"cañada|ronda|rambla|urbanización|callejón|acceso|glorieta|vía|travesía|cuesta|plazuela|arroyo|"
    r"stretto|borgo|rotonda|piazzale|vial|point|run|forges|stravenue|mews|view|gate|green|end|side"
)
_STREET_NUMBER_FIRST = re.compile(
    rf"(?i)\d{{1,6}}[a-z]?,? (?:[\w.'\-]+ ){{0,5}}(?:{_STREET_WORDS})\.?(?:\b.*)?|"
    r"\d{1,6} [A-Z][\w.'\-]+(?: [\w.'\-]+){1,5}"
)
_STREET_NAME_FIRST = re.compile(
    rf"(?i)(?:[\w.'\-]+,? ){{0,5}}[\w.'\-]*(?:{_STREET_WORDS})\.?,? ?"
    r"(?:[\w.'\-]+,? ){0,5}\d{1,5}[a-z]?\b.*"
    r"|(?:studio|flat|apartment|unit|suite|apt\.?) \d{1,5}[a-z]?, .+"
)
_NAME_SHAPE = re.compile(r"[^\W\d_](?:[^\W\d_]|[.'\u2019\-]|,? )*")
_TITLE_WORDS = (
    "mr mrs ms miss dr prof sir madam mx herr frau sr sra srta mme mlle m dott ing univ pan pani dipl mag "
    "van de der da di del von le la dos das do ten ter den"
)
_TITLES = frozenset(_TITLE_WORDS.split())
_SUFFIX_WORDS = "jr sr ii iii iv md phd dds dvm mba ba bsc msc esq b sc m a eng ma llm meng beng bba"
_SUFFIXES = frozenset(_SUFFIX_WORDS.split())
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019\-][^\W\d_]+)*")

_EMBEDDED_EMAIL = re.compile(r"[A-Za-z0-9._%+'\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_EMBEDDED_PHONE = re.compile(
    r"(?<![\w.])(?:\+|00)?\d[\d ().\-]{7,18}\d(?:\s*(?:x|ext\.?)\s*\d{1,6})?(?![\w])"
)
_EMBEDDED_CARD = re.compile(r"(?<!\d)(?:\d[ \-]?){12,18}\d(?!\d)")
_EMBEDDED_SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
_EMBEDDED_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,4})?\b")
_EMBEDDED_NAME = re.compile(r"\b([A-Z][a-z'\u2019\-]+)\s+([A-Z][a-z'\u2019\-]+)\b")

#: python-stdnum schemes tried for national identity numbers (the common European and
#: American ones); each has a check digit or a registry structure that random numbers fail.
NATIONAL_ID_SCHEMES = (
    "fr.nir",
    "de.idnr",
    "es.dni",
    "es.nie",
    "it.codicefiscale",
    "nl.bsn",
    "br.cpf",
    "pl.pesel",
    "se.personnummer",
    "in_.aadhaar",
    "ca.sin",
    "gb.nhs",
    "fi.hetu",
    "no.fodselsnummer",
    "be.nn",
    "ro.cnp",
    "pt.cc",
)


@dataclass(frozen=True)
class Detection:
    """A type the values support, with the shares that support it (never a value)."""

    kind: str
    share: float  # share of sampled values valid for the type
    shape_share: float  # share with the type's shape, valid or not
    detail: str = ""  # e.g. the stdnum scheme of a national id, or what free text embeds

    @property
    def pii_class(self) -> str:
        if self.kind in DIRECT_TYPES:
            return "direct_identifier"
        if self.kind in QUASI_TYPES:
            return "quasi_identifier"
        return "other"

    def describe(self) -> str:
        text = f"{self.share:.1%} of values are valid {self.kind}"
        if self.shape_share > self.share + 0.005:
            text += f" ({self.shape_share:.1%} have its shape)"
        return text + (f" [{self.detail}]" if self.detail else "")


def _full(pattern: re.Pattern, text: pd.Series) -> np.ndarray:
    match = pattern.fullmatch
    return np.fromiter((match(v) is not None for v in text.tolist()), dtype=bool, count=len(text))


def _per_value(check: Callable[[str], bool], text: pd.Series) -> np.ndarray:
    out = np.zeros(len(text), dtype=bool)
    for i, value in enumerate(text):
        try:
            out[i] = bool(check(value))
        except Exception:  # validators raise on garbage: that is simply "not valid"
            out[i] = False
    return out


def _luhn(digits: pd.Series) -> np.ndarray:
    """Vectorised Luhn check of digit strings."""
    out = np.zeros(len(digits), dtype=bool)
    lengths = digits.str.len().to_numpy()
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        if length < 2:
            continue
        matrix = np.frombuffer("".join(digits.iloc[rows]).encode(), dtype=np.uint8).reshape(len(rows), length)
        matrix = (matrix - 48).astype(np.int64)[:, ::-1]
        doubled = matrix[:, 1::2] * 2
        doubled = np.where(doubled > 9, doubled - 9, doubled)
        out[rows] = (matrix[:, ::2].sum(axis=1) + doubled.sum(axis=1)) % 10 == 0
    return out


# --------------------------------------------------------------------------------------------
# Detectors: each returns (valid, shape) boolean arrays over the sampled values
# --------------------------------------------------------------------------------------------


def _email(text):
    return _full(_EMAIL, text), text.str.contains(r"\S@\S", regex=True).to_numpy(dtype=bool)


def _url(text):
    valid = _full(_URL, text)
    return valid, valid


def _mac(text):
    valid = _full(_MAC, text)
    return valid, valid


def _ip(text):
    def is_ip(value: str) -> bool:
        ipaddress.ip_address(value)
        return True

    valid = _per_value(is_ip, text)
    return valid, valid | _full(_IP_SHAPE, text)


def _crypto_wallet(text):
    from stdnum import bitcoin

    text = text.iloc[:MAX_PARSED]
    eth = _full(_ETH, text)
    shaped = _full(_BTC_SHAPE, text)
    btc = np.zeros(len(text), dtype=bool)
    rows = np.flatnonzero(shaped)
    btc[rows] = _per_value(bitcoin.is_valid, text.iloc[rows])
    return eth | btc, eth | shaped


def _credit_card(text):
    digits = text.str.replace(r"[ \-]", "", regex=True)
    shaped = digits.str.fullmatch(r"\d{12,19}").fillna(False).to_numpy(dtype=bool)
    valid = np.zeros(len(text), dtype=bool)
    if shaped.any():
        valid[shaped] = _luhn(digits[shaped])
    return valid, shaped | _full(_CARD_SCI, text)


def _iban(text):
    from stdnum import iban

    compact = text.str.replace(" ", "", regex=False).str.upper()
    shaped = _full(_IBAN_SHAPE, compact)
    valid = np.zeros(len(text), dtype=bool)
    rows = np.flatnonzero(shaped)
    valid[rows] = _per_value(iban.is_valid, compact.iloc[rows])
    return valid, shaped


def _ssn(text):
    return _full(_SSN_VALID, text), _full(_SSN_SHAPE, text)


@lru_cache(maxsize=1)
def _schemes() -> list[tuple[str, Callable[[str], bool]]]:
    out = []
    for name in NATIONAL_ID_SCHEMES:
        try:
            out.append((name, importlib.import_module(f"stdnum.{name}").is_valid))
        except ImportError:  # an older python-stdnum: one scheme fewer
            continue
    return out


def _national_id(text) -> tuple[np.ndarray, np.ndarray, str]:
    """The stdnum scheme (or UK NI number shape) most values pass, on at most MAX_PARSED values."""
    candidates = text.iloc[:MAX_PARSED]
    nino = _full(_NINO, candidates.str.upper())
    shaped = _full(_ID_SHAPE, candidates) & candidates.str.contains(r"\d").to_numpy(dtype=bool)
    best, best_name = nino, "gb.nino"
    for name, check in _schemes():
        if _per_value(check, candidates.iloc[:40]).mean() < 0.3:  # cheap first look
            continue
        valid = _per_value(check, candidates)
        if valid.mean() > best.mean():
            best, best_name = valid, name
    return best, shaped | nino, best_name


_PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "PL", "SE", "IN", "CA", "AU", "CH", "MX")


def _phone(text) -> tuple[np.ndarray, np.ndarray]:
    """Phone-shaped values, validated by `phonenumbers` (international, or one of the common
    regions when there is no country code), on at most MAX_PARSED values."""
    import phonenumbers

    text = text.iloc[:MAX_PARSED]
    bare = text.str.replace(_PHONE_EXT, "", regex=True)
    digits = bare.str.replace(r"\D", "", regex=True)
    n_digits = digits.str.len().to_numpy()
    separated = bare.str.contains(r"[\s().\-/+]", regex=True).to_numpy(dtype=bool)
    shaped = (
        _full(_PHONE_SHAPE, text)
        & ~_full(_NOT_PHONE, text)
        & (n_digits >= 7)
        & (n_digits <= 15)
        & (separated | ((n_digits >= 9) & (n_digits <= 11)))
    )
    valid = np.zeros(len(text), dtype=bool)
    for row in np.flatnonzero(shaped):
        value = bare.iloc[row].strip()
        if value.startswith("00"):
            value = "+" + value[2:]
        for region in (None,) if value.startswith("+") else _PHONE_REGIONS:
            try:
                if phonenumbers.is_valid_number(phonenumbers.parse(value, region)):
                    valid[row] = True
                    break
            except phonenumbers.NumberParseException:
                break
    return valid, shaped


def _product_codes(text) -> bool:
    """EAN/UPC/GTIN barcodes: digit strings whose check digit holds (a product, not a person)."""
    from stdnum import ean

    candidates = text.iloc[:MAX_PARSED]
    shaped = _full(re.compile(r"\d{8}|\d{12,14}"), candidates)
    if shaped.mean() < SHAPE_MIN:
        return False
    return bool(_per_value(ean.is_valid, candidates).mean() >= ACCEPT_VALID)


def _street_address(text):
    valid = _full(_STREET_NUMBER_FIRST, text) | _full(_STREET_NAME_FIRST, text)
    return valid, valid


def _zip(text):
    valid = _full(_ZIP, text.str.upper())
    return valid, valid


def _dates(text: pd.Series) -> tuple[np.ndarray, pd.Series]:
    text = text.iloc[:MAX_PARSED]
    shaped = _full(_DATE_SHAPE, text)
    parsed = pd.to_datetime(text.where(shaped), errors="coerce", format="mixed")
    return shaped, parsed


def birth_date_like(dates: pd.Series, has_time: bool = False) -> bool:
    """Dates that read as birth dates: in the past, since 1900, spread over decades, no clock time."""
    dates = dates.dropna()
    if len(dates) < 5 or has_time:
        return False
    now = pd.Timestamp.now()
    years = dates.dt.year
    return bool(
        (years >= 1900).mean() > 0.98
        and (dates <= now).mean() > 0.98
        and years.quantile(0.9) - years.quantile(0.1) >= 10
        and now.year - years.median() >= 5
        and dates.nunique() >= min(50, 0.3 * len(dates))
    )


# --------------------------------------------------------------------------------------------
# Names and free text
# --------------------------------------------------------------------------------------------


def _words(value: str) -> list[str]:
    return [fold(w) for w in _WORD.findall(value)]


def _known(word: str, names: frozenset[str]) -> bool:
    """A word, or a part of a double-barrelled one, is in the dictionary."""
    return word in names or any(part in names for part in word.split("-") if part)


def name_shares(text: pd.Series) -> dict[str, float]:
    """Shares of values that read as a first name, a last name, a full name; and name-shaped."""
    first, last = dictionaries()
    shaped = _full(_NAME_SHAPE, text)
    n = len(text)
    if n == 0:
        return {"first_name": 0.0, "last_name": 0.0, "full_name": 0.0, "shape": 0.0}
    counts = {"first_name": 0, "last_name": 0, "full_name": 0}
    for value in text[shaped]:
        words = [w for w in _words(value) if w not in _TITLES and w not in _SUFFIXES]
        if len(words) == 1:
            counts["first_name"] += _known(words[0], first)
            counts["last_name"] += _known(words[0], last)
        elif 2 <= len(words) <= 5:
            if "," in value:  # "Smith, John"
                words = words[1:] + words[:1]
            has_first = _known(words[0], first) or (len(words) > 2 and _known(words[1], first))
            if has_first and (_known(words[-1], last) or _known(words[-1], first)):
                counts["full_name"] += 1
    return {k: v / n for k, v in counts.items()} | {"shape": float(shaped.mean())}


def is_free_text(text: pd.Series) -> bool:
    """Prose rather than codes or categories: several words per value on average."""
    if text.empty:
        return False
    words = text.str.count(r"\S+")
    return bool(words.mean() >= 4 and text.str.len().mean() >= 20)


def scan_free_text(text: pd.Series) -> dict[str, float]:
    """Share of values embedding each kind of identifier (e-mail, phone, card, SSN, IBAN, name)."""
    if text.empty:
        return {}
    first, last = dictionaries()
    found: dict[str, np.ndarray] = {
        "email": text.str.contains(_EMBEDDED_EMAIL).to_numpy(dtype=bool),
        "ssn": text.str.contains(_EMBEDDED_SSN).to_numpy(dtype=bool),
        "iban": text.str.contains(_EMBEDDED_IBAN).to_numpy(dtype=bool),
    }
    cards = np.zeros(len(text), dtype=bool)
    phones = np.zeros(len(text), dtype=bool)
    names = np.zeros(len(text), dtype=bool)
    for i, value in enumerate(text):
        for match in _EMBEDDED_CARD.findall(value):
            digits = re.sub(r"\D", "", match)
            if 13 <= len(digits) <= 19 and _luhn(pd.Series([digits]))[0]:
                cards[i] = True
        for match in _EMBEDDED_PHONE.findall(value):
            digits = re.sub(r"\D", "", _PHONE_EXT.sub("", match))
            if 7 <= len(digits) <= 15 and not _NOT_PHONE.fullmatch(match.strip()):
                phones[i] = True
        for given, family in _EMBEDDED_NAME.findall(value):
            if fold(given) in first and fold(family) in last:
                names[i] = True
                break
    found |= {"credit_card": cards, "phone": phones & ~found["ssn"], "person_name": names}
    return {kind: float(hits.mean()) for kind, hits in found.items() if hits.any()}


# --------------------------------------------------------------------------------------------
# The verdict for one text column
# --------------------------------------------------------------------------------------------

#: (type, detector, least valid share when nearly all values have the shape); first match wins.
_DETECTORS: list[tuple[str, Callable, float]] = [
    ("email", _email, 0.5),
    ("iban", _iban, 0.5),
    ("crypto_wallet", _crypto_wallet, 0.5),
    ("credit_card", _credit_card, 0.3),
    ("mac_address", _mac, 0.5),
    ("ip_address", _ip, 0.5),
    ("url", _url, 0.5),
    ("ssn", _ssn, 0.5),
]


_DIGIT_TYPES = frozenset({"iban", "crypto_wallet", "credit_card", "mac_address", "ip_address", "ssn"})
_HAS_DIGIT = re.compile(r"\d")


def _accepted(valid_share: float, shape_share: float, min_valid: float) -> bool:
    return valid_share >= ACCEPT_VALID or (valid_share >= min_valid and shape_share >= SHAPE_MIN)


def sample_text(values: pd.Series, max_values: int = MAX_VALUES, seed: int = 0) -> pd.Series:
    """Non-null values as stripped strings, at most `max_values` of them (seeded sample)."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    if len(text) > max_values:
        text = text.sample(max_values, random_state=seed)
    return text.reset_index(drop=True)


def _digit_rich(text: pd.Series, uniqueness: float) -> Detection | None:
    """National ids, phones, dates, postcodes and numbers: the types whose values carry digits."""
    valid, shape, scheme = _national_id(text)
    ssn_plain = float(_full(_SSN_SHAPE, text).mean())
    if ssn_plain < 0.8 and _accepted(valid.mean(), shape.mean(), 0.5):
        return Detection("national_id", float(valid.mean()), float(shape.mean()), scheme)

    if _product_codes(text):
        return Detection("product_code", 1.0, 1.0, "GTIN/EAN check digits")

    valid, shape = _phone(text)
    if _accepted(valid.mean(), shape.mean(), 0.3):
        return Detection("phone", float(valid.mean()), float(shape.mean()))

    dates_shaped, parsed = _dates(text)
    if dates_shaped.mean() >= ACCEPT_VALID:
        has_time = bool(text.str.contains(_TIME_PART).mean() > 0.5)
        kind = "date_of_birth" if birth_date_like(parsed, has_time) else "date"
        return Detection(kind, float(parsed.notna().mean()), float(dates_shaped.mean()))

    zip_valid, _ = _zip(text)
    if zip_valid.mean() >= ACCEPT_VALID:
        return Detection("zip_code", float(zip_valid.mean()), float(zip_valid.mean()))

    integer_share = float(_full(_INTEGER, text).mean())
    if integer_share >= 0.95:
        if uniqueness >= 1.0 and len(text) >= 20:  # a key: every sampled value distinct
            return Detection("record_id", integer_share, integer_share, "every value a distinct whole number")
        return Detection("number", integer_share, integer_share)
    decimal_share = float(_full(_DECIMAL, text).mean())
    if decimal_share >= 0.95:
        return Detection("number", decimal_share, 1.0)
    return None


def detect(text: pd.Series, uniqueness: float, distinct: int) -> Detection | None:
    """The type that best explains a text column's values, or None.

    `text` is what `sample_text` returns; `uniqueness` and `distinct` are measured on the
    column's sample so that names and free text can demand enough distinct values.
    """
    if text.empty:
        return None
    values = text.tolist()
    digit_share = float(np.mean([_HAS_DIGIT.search(v) is not None for v in values]))
    at_share = float(np.mean(["@" in v for v in values]))
    for kind, detector, min_valid in _DETECTORS:
        if (kind == "email" and at_share < 0.3) or (kind in _DIGIT_TYPES and digit_share < 0.5):
            continue  # a type whose valid values all have an @ / digits cannot be most of this column
        valid, shape = detector(text)
        if _accepted(valid.mean(), shape.mean(), min_valid):
            return Detection(kind, float(valid.mean()), float(shape.mean()))

    if digit_share >= 0.5:
        found = _digit_rich(text, uniqueness)
        if found is not None:
            return found

    street, _ = _street_address(text)
    enough_distinct = distinct >= min(50, max(10, 0.3 * len(text)))
    if street.mean() >= ACCEPT_VALID and uniqueness >= 0.2:
        return Detection("street_address", float(street.mean()), float(street.mean()))

    if enough_distinct and not is_free_text(text):
        shares = name_shares(text)
        if shares["shape"] >= SHAPE_MIN:
            if shares["full_name"] >= 0.6:
                return Detection("full_name", shares["full_name"], shares["shape"])
            if max(shares["first_name"], shares["last_name"]) >= 0.6:
                kind = "first_name" if shares["first_name"] >= shares["last_name"] else "last_name"
                return Detection(kind, shares[kind], shares["shape"])

    if is_free_text(text):
        embedded = scan_free_text(text)
        detail = ", ".join(f"{share:.1%} embed {kind}" for kind, share in sorted(embedded.items()))
        if embedded:
            return Detection("free_text", max(embedded.values()), 1.0, detail)
        return Detection("prose", 0.0, 1.0, "no embedded identifier found in sampled values")
    return None


def detect_numeric(values: pd.Series) -> Detection | None:
    """Whole-number columns that hold card or phone numbers (a spreadsheet made them numbers).

    Only checksum- or registry-validated types at a high share count: a numeric column is
    never taken for an identifier by its shape alone (`fnlwgt`, amounts, counts).
    """
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    if numbers.empty or not (numbers == np.floor(numbers)).all() or numbers.abs().max() >= 1e19:
        return None
    text = numbers.astype("int64").astype(str).reset_index(drop=True)
    if len(text) > MAX_VALUES:
        text = text.sample(MAX_VALUES, random_state=0).reset_index(drop=True)
    valid, _ = _credit_card(text)
    if valid.mean() >= 0.9:
        return Detection("credit_card", float(valid.mean()), float(valid.mean()))
    if text.str.len().median() >= 10:
        valid, _ = _phone(text)
        if valid.mean() >= 0.9:
            return Detection("phone", float(valid.mean()), float(valid.mean()))
    return None
