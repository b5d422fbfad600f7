"""What kind of fake each refilled column gets, and the reserved spaces fakes come from.

The refill's vocabulary, shared by its other modules: detected types grouped into refill kinds
(`refill_kind`), and the public reserved spaces (documentation IP blocks, fictional phone ranges,
RFC 2606 domains, never-issued SSN groups and card prefixes, ...) with why none can hold a real
value (`RESERVED_SPACES`). Constants only: nothing here reads data.
"""

from __future__ import annotations

NAME_TYPES = frozenset({"full_name", "name", "person_name"})
SINGLE_NAME_TYPES = frozenset({"first_name", "last_name"})
ADDRESS_TYPES = frozenset({"street_address", "address"})
TEXT_TYPES = frozenset({"free_text", "prose", "notes", "note", "comment"})
NUMERIC_COLUMN_TYPES = frozenset({"integer", "float"})

#: Documentation IPv4 blocks (RFC 5737): TEST-NET-1, -2, -3. No host on the internet has one.
IPV4_DOC_BLOCKS = ("192.0.2", "198.51.100", "203.0.113")
#: Documentation IPv6 prefix (RFC 3849).
IPV6_DOC_PREFIX = "2001:db8"
#: Documentation MAC block (RFC 7042, IANA unicast 00-00-5E-00-53-00 .. FF).
MAC_DOC_PREFIX = (0x00, 0x00, 0x5E, 0x00, 0x53)
#: Ofcom's numbers reserved for drama (never allocated to a subscriber): national digits before
#: the three free digits, and how the range is usually written.
UK_DRAMA_RANGES = (
    ("07700900", "07700 900"),
    ("02079460", "020 7946 0"),
    ("01134960", "0113 496 0"),
    ("01144960", "0114 496 0"),
    ("01154960", "0115 496 0"),
    ("01164960", "0116 496 0"),
    ("01174960", "0117 496 0"),
    ("01184960", "0118 496 0"),
    ("01214960", "0121 496 0"),
    ("01314960", "0131 496 0"),
    ("01414960", "0141 496 0"),
    ("01514960", "0151 496 0"),
    ("01614960", "0161 496 0"),
    ("01914980", "0191 498 0"),
    ("01632960", "01632 960"),
)
#: IBAN lengths of countries whose account part is all digits (a fake's country is the plan's).
IBAN_LENGTHS = {"DE": 22, "AT": 20, "CH": 21, "PL": 28, "PT": 25, "SE": 24, "DK": 18, "FI": 18}
IBAN_LENGTHS |= {"CZ": 24, "SK": 24, "SI": 19, "HR": 21, "EE": 20}
DEFAULT_ID_FORMAT = "SYN-##########"
#: At most this many expected chance equalities between the digits of a fake id and the digits of
#: a real identifier (a phone's national digits, say) of a source as large as the synthetic table:
#: the gate's leak check compares digit forms across columns, and a million 10-digit fakes meet a
#: million 10-digit phones about a hundred times by chance. Ids get digits until rows**2 / space
#: is below this (13 digits at 50,000 rows, 17 at ten million).
CHANCE_DIGIT_MATCHES = 0.001
#: Whole-number ids are negative int64s: at most this many digits.
MAX_INTEGER_ID_DIGITS = 18
DEFAULT_INTEGER_ID_FORMAT = "-##########"

#: Why each kind of fake cannot be a real value (for the run's metadata and the evidence pack).
RESERVED_SPACES = {
    "name": "real given names + invented family names outside every shipped name dictionary",
    "street_address": "invented street names (outside every shipped name dictionary) + street suffixes",
    "email": "reserved domains example.com / example.net / example.org (RFC 2606)",
    "phone": "fictional numbers: NANP 555-0100..0199 in any area code; UK Ofcom drama ranges",
    "ssn": "group 00: never issued by the SSA, and not a valid ITIN or ATIN",
    "credit_card": "major industry identifier 0 (never issued to a payment card), Luhn-valid; "
    "in whole-number columns a Luhn-invalid number (no issued card fails Luhn)",
    "iban": "check digits 00 (ISO 13616 only issues 02..98) and a failing MOD 97-10 check",
    "ip_address": "documentation blocks 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32",
    "mac_address": "documentation block 00:00:5E:00:53:00/24 (RFC 7042)",
    "crypto_wallet": "Bitcoin addresses with a deliberately wrong base58check checksum; Ethereum "
    "addresses with 96 leading zero bits (no known key has one)",
    "url": "https://www.example.com/ (RFC 2606)",
    "text": "lorem-ipsum words",
    "id": "a declared prefix (default 'SYN-'); negative numbers in whole-number columns",
}


def refill_kind(detected_type: str | None, column_type: str = "string") -> str:
    """The family of fakes a column gets: 'name', 'single_name', 'street_address', 'email',
    'phone', 'ssn', 'credit_card', 'iban', 'ip_address', 'mac_address', 'crypto_wallet', 'url',
    'text', or 'id' (generic ids: national ids, record keys, unexplained text, unknown types)."""
    if detected_type in NAME_TYPES:
        return "name"
    if detected_type in SINGLE_NAME_TYPES:
        return "single_name"
    if detected_type in ADDRESS_TYPES:
        return "street_address"
    if detected_type in TEXT_TYPES:
        return "text"
    if detected_type in (
        "email",
        "phone",
        "ssn",
        "credit_card",
        "iban",
        "ip_address",
        "mac_address",
        "crypto_wallet",
        "url",
    ):
        return detected_type
    return "integer_id" if column_type in NUMERIC_COLUMN_TYPES else "id"
