"""Give a sampled table its source's shape again, refilling identifiers from public inputs only.

Sampling yields the masked schema: direct identifiers gone, quasi-identifiers generalised.
Consumers want the production shape, so direct-identifier columns (and the key) are refilled
with fake values of the same kind, and generalised columns are drawn back into their original
format (a ZIP3 gets two random digits, a birth year a random day).

**The refill never reads a real identifier.** `restore_source_shape` is a function of the
sampled (synthetic) frame, the spec, the approved plan's per-column treatment (detected type
and display format) and the seed -- nothing else. Nothing is learnt from raw values (no id
template, no width, no country), and no fake is compared with, or redrawn against, a real one.
Comparing would itself leak: if fakes were redrawn until they differ from every real SSN, then
P(a person's SSN appears | person in the source) = 0 while P(... | absent) ~ m / |space|, so
the output would reveal who is present; and a format learnt from the ids would change when one
odd id is added. Instead:

* **unique identifiers come from spaces that cannot hold a real value, by construction** (see
  `RESERVED_SPACES`): documentation IP blocks (RFC 5737, RFC 3849); fictional telephone ranges
  (NANP 555-0100..0199 in every area code, Ofcom's drama ranges); the reserved e-mail domains
  of RFC 2606; SSNs with group 00 (the SSA never issues group 00, and ITINs / ATINs use groups
  50-65, 70-88, 90-92, 94-99 / 93, so none is any taxpayer number); card numbers with major
  industry identifier 0 (no payment card is issued under it); IBANs with check digits 00
  (ISO 13616 issues 02..98) that also fail the MOD 97-10 check; MACs in the IANA
  documentation block 00:00:5E:00:53:xx (RFC 7042); Bitcoin addresses with a broken checksum;
  URLs under example.com; generic ids and the key behind a declared prefix (`SYN-` + digits by
  default; negative numbers in whole-number columns). No coincidence with a real value is
  possible, so there is nothing to check. (Ethereum addresses, on request, start with 96 zero
  bits: not impossible by construction, but no key with such an address is known or findable.)
* **names and street addresses** are built from invented family names
  (`name_dictionaries.fictional_family_names`: pronounceable words outside every shipped name
  dictionary) with real given names and street suffixes, drawn *independently of the data*:
  never compared with, never redrawn against, real values. A full name or street cannot equal
  one built from real dictionary surnames; a single given name can, but it is then exactly as
  likely whether or not that person is in the source -- which is what differential privacy
  needs -- and a given name alone identifies nobody;
* a dropped free-text column is refilled with lorem-ipsum words: no real word can reach it.

**Formats** come from the approved plan (`ColumnTreatment.format`) or the detected type's
default, never from the data: `accepted_formats` lists what a person can ask for per type
(names 'Given Family' / 'Family, Given' / 'FAMILY, Given'; SSN '###-##-####' / '#########';
cards in groups of four or not; e-mail 'lower' / 'UPPER'; phones as '#'-patterns kept inside
the fictional ranges; ids as a prefix + '#' digits), and `check_formats(plan, spec)` raises a
clear ValueError naming the column and the accepted formats for anything else. Uniqueness
within the table is kept where the space allows (ids, the key, e-mails, SSNs, cards, IBANs,
IPv6, wallets, URLs), by redrawing repeats among the fakes themselves -- never against data.
A table refilled in chunks (`SourceShape`, the synthetic stage) stays unique across ALL its
chunks: each unique column keeps 64-bit hashes of the fakes earlier chunks drew (`TakenValues`)
and redraws a match; e-mails carry the row's number in the whole table.

Everything is vectorised with numpy / pandas: a million rows take seconds, not minutes. Each
column draws from its own random stream (seed + column name), so one column's refill does not
depend on which other columns exist.

The package: `kinds` (refill kinds, reserved spaces), `formats` (accepted formats and their
checks), `space_patterns` (reserved spaces as regexes for the gate), `reserved_faker` (drawing
fakes; `TakenValues`), `shape` (`refill_column`, `SourceShape`, `restore_source_shape`) and
`parallel` (a table's chunks filled by worker processes, reconciled in order by the parent).
"""

from synth_platform.lib.deidentify.masking import ColumnTreatment
from synth_platform.lib.deidentify.refill.formats import (
    ADDRESS_FORMATS,
    CARD_FORMATS,
    EMAIL_FORMATS,
    IP_FORMATS,
    MAC_FORMATS,
    NAME_FORMATS,
    PHONE_FORMATS,
    SINGLE_NAME_FORMATS,
    SSN_FORMATS,
    TEXT_FORMATS,
    URL_FORMATS,
    WALLET_FORMATS,
    accepted_formats,
    check_format,
    check_formats,
    format_regex,
)
from synth_platform.lib.deidentify.refill.kinds import (
    ADDRESS_TYPES,
    CHANCE_DIGIT_MATCHES,
    DEFAULT_ID_FORMAT,
    DEFAULT_INTEGER_ID_FORMAT,
    IBAN_LENGTHS,
    IPV4_DOC_BLOCKS,
    IPV6_DOC_PREFIX,
    MAC_DOC_PREFIX,
    MAX_INTEGER_ID_DIGITS,
    NAME_TYPES,
    NUMERIC_COLUMN_TYPES,
    RESERVED_SPACES,
    SINGLE_NAME_TYPES,
    TEXT_TYPES,
    UK_DRAMA_RANGES,
    refill_kind,
)
from synth_platform.lib.deidentify.refill.reserved_faker import ReservedFaker, TakenValues
from synth_platform.lib.deidentify.refill.shape import (
    DISTINCT_KINDS,
    SourceShape,
    refill_column,
    restore_source_shape,
)
from synth_platform.lib.deidentify.refill.space_patterns import raw_reserved_regex, reserved_space_regex
from synth_platform.lib.gate.identifier_match import (  # re-exported for the gate's leak check
    MIN_IDENTIFYING_LENGTH,
    ForbiddenValues,
    forbidden_values,
    identifier_forms,
    is_common_value,
    is_digit_identifier,
    normalize_identifier,
)
from synth_platform.lib.pii.name_dictionaries import fictional_family_names
from synth_platform.lib.spec import DatasetSpec

__all__ = [
    "ADDRESS_FORMATS",
    "ADDRESS_TYPES",
    "CARD_FORMATS",
    "CHANCE_DIGIT_MATCHES",
    "DEFAULT_ID_FORMAT",
    "DEFAULT_INTEGER_ID_FORMAT",
    "DISTINCT_KINDS",
    "EMAIL_FORMATS",
    "IBAN_LENGTHS",
    "IPV4_DOC_BLOCKS",
    "IPV6_DOC_PREFIX",
    "IP_FORMATS",
    "MAC_DOC_PREFIX",
    "MAC_FORMATS",
    "MAX_INTEGER_ID_DIGITS",
    "MIN_IDENTIFYING_LENGTH",
    "NAME_FORMATS",
    "NAME_TYPES",
    "NUMERIC_COLUMN_TYPES",
    "PHONE_FORMATS",
    "RESERVED_SPACES",
    "SINGLE_NAME_FORMATS",
    "SINGLE_NAME_TYPES",
    "SSN_FORMATS",
    "TEXT_FORMATS",
    "TEXT_TYPES",
    "UK_DRAMA_RANGES",
    "URL_FORMATS",
    "WALLET_FORMATS",
    "ColumnTreatment",
    "DatasetSpec",
    "ForbiddenValues",
    "ReservedFaker",
    "SourceShape",
    "TakenValues",
    "accepted_formats",
    "check_format",
    "check_formats",
    "fictional_family_names",
    "forbidden_values",
    "format_regex",
    "identifier_forms",
    "is_common_value",
    "is_digit_identifier",
    "normalize_identifier",
    "raw_reserved_regex",
    "refill_column",
    "refill_kind",
    "reserved_space_regex",
    "restore_source_shape",
]
