"""Drawing fakes from reserved spaces: seeded streams, vectorised, never reading a real value.

`ReservedFaker` draws n fakes of a kind from its own random stream (`_column_seed`: seed, column,
chunk); `TakenValues` remembers, as 64-bit hashes, the fakes earlier chunks of a table drew so
unique identifiers stay unique across chunks. Only fakes are ever compared, with each other.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable

import numpy as np
import pandas as pd

from synth_platform.lib.deidentify.refill.family_names import family_names
from synth_platform.lib.deidentify.refill.formats import (
    CARD_FORMATS,
    MAC_FORMATS,
    NAME_FORMATS,
    SSN_FORMATS,
    _iban_format,
    _phone_pattern,
)
from synth_platform.lib.deidentify.refill.kinds import (
    CHANCE_DIGIT_MATCHES,
    DEFAULT_ID_FORMAT,
    DEFAULT_INTEGER_ID_FORMAT,
    IBAN_LENGTHS,
    IPV4_DOC_BLOCKS,
    IPV6_DOC_PREFIX,
    MAC_DOC_PREFIX,
    MAX_INTEGER_ID_DIGITS,
    UK_DRAMA_RANGES,
)

_EMAIL_DOMAINS = np.array(["example.com", "example.net", "example.org"], dtype=object)
#: Redraw rounds spent making fakes distinct from each other (never from real values).
_UNIQUE_ROUNDS = 60
#: Uniqueness is only asked of a space at least this many times larger than the rows.
_UNIQUE_HEADROOM = 4


def _chunk_rng(entropy: int | list[int], chunk: int = 0) -> np.random.Generator:
    """The random stream of one chunk of a table: chunk 0 uses `entropy` itself (a table that fits
    in one chunk is refilled exactly as a whole frame is), chunk i > 0 a child stream spawned from
    it with key i (`SeedSequence` spawn keys: independent of chunk 0 and of each other)."""
    if chunk == 0:
        return np.random.default_rng(entropy)
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(int(chunk),)))


def _column_seed(seed: int, column: str, chunk: int = 0) -> np.random.Generator:
    return _chunk_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(str(column).encode())], chunk)


class TakenValues:
    """The fakes a column already holds in earlier chunks of the same table, as 64-bit hashes.

    A table written in chunks must keep its unique identifiers unique across chunks, not just
    within one: each chunk's fakes are checked against these and redrawn on a match. Only fakes
    are ever stored or compared (never a real value). Eight bytes a row, kept sorted so a check
    is a binary search; a hash collision between two different fakes only costs a needless redraw.
    """

    def __init__(self) -> None:
        self._sorted = np.empty(0, dtype=np.uint64)

    def __len__(self) -> int:
        return len(self._sorted)

    @staticmethod
    def hashes(values: np.ndarray) -> np.ndarray:
        """64-bit hashes of fakes (text), the same in every process (a fixed hash key)."""
        return pd.util.hash_array(np.asarray(values, dtype=object))

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Which of `values` an earlier chunk already drew."""
        if not len(self._sorted) or not len(values):
            return np.zeros(len(values), dtype=bool)
        return self.contains_hashes(self.hashes(values))

    def contains_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """Which of these hashes (`hashes`) an earlier chunk already drew: a worker process
        hashes its chunk's fakes, the parent checks them here without the values."""
        if not len(self._sorted) or not len(hashes):
            return np.zeros(len(hashes), dtype=bool)
        # searched in sorted order (then put back): the binary searches walk the table in step
        # instead of jumping across it, twice as fast on a table of millions
        hashes = np.asarray(hashes, dtype=np.uint64)
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        at = np.minimum(np.searchsorted(self._sorted, ordered), len(self._sorted) - 1)
        found = np.empty(len(hashes), dtype=bool)
        found[order] = self._sorted[at] == ordered
        return found

    def add(self, values: np.ndarray) -> None:
        """Remember a chunk's fakes (two sorted runs merged: linear time with a stable sort)."""
        self.add_hashes(self.hashes(values))

    def add_hashes(self, hashes: np.ndarray) -> None:
        """Remember a chunk's fakes by their hashes (`hashes`)."""
        merged = np.concatenate([self._sorted, np.sort(np.asarray(hashes, dtype=np.uint64))])
        merged.sort(kind="stable")
        self._sorted = merged


def _fill(pattern: str, digits: np.ndarray) -> np.ndarray:
    """Each row's digit string poured into the '#' positions of `pattern`, literals kept."""
    width = pattern.count("#")
    matrix = np.frombuffer("".join(digits.tolist()).encode(), dtype=np.uint8).reshape(len(digits), width)
    out = np.empty((len(digits), len(pattern)), dtype=np.uint8)
    slots = [i for i, c in enumerate(pattern) if c == "#"]
    for i, char in enumerate(pattern):
        if char != "#":
            out[:, i] = ord(char)
    out[:, slots] = matrix
    return np.array(out.view(f"S{len(pattern)}").ravel().astype(str), dtype=object)


def _sex_starts(sexes: pd.Series | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Which rows' sex starts with 'f' / with 'm' (lower-cased; missing: neither), worked out once
    per distinct value (a handful) rather than per row."""
    if sexes is None:
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    codes, distinct = pd.factorize(sexes)
    text = pd.Series(distinct).astype("string").str.lower().fillna("")
    flags = [np.append(text.str.startswith(p).to_numpy(dtype=bool), False) for p in ("f", "m")]
    return flags[0][codes], flags[1][codes]  # code -1 (missing) takes the appended False


def _email_part(names: np.ndarray) -> np.ndarray:
    """Each name lower-cased with everything but a-z and '.' removed, computed per distinct name."""
    codes, distinct = pd.factorize(np.asarray(names, dtype=object))
    cleaned = pd.Series(distinct, dtype=object).str.lower().str.replace(r"[^a-z.]", "", regex=True)
    return cleaned.to_numpy(dtype=object)[codes]


class ReservedFaker:
    """Draws fake identifiers of a kind from reserved spaces, vectorised, from its own seeded
    stream. It holds no real value and takes none: its output depends only on its arguments."""

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        total: int | None = None,
        start: int = 0,
        taken: TakenValues | None = None,
    ):
        """`total`: the rows of the whole table (spaces are sized for it, not for one chunk);
        `start`: the table row this draw begins at (running numbers continue across chunks);
        `taken`: the fakes earlier chunks drew (kept distinct from across the whole table)."""
        self.rng = rng
        self.total = total
        self.start = int(start)
        self.taken = taken

    def _table_rows(self, n: int) -> int:
        return max(n, self.total or 0, 1)

    # -- helpers ---------------------------------------------------------------------------

    def _pick(self, pool: np.ndarray, k: int) -> np.ndarray:
        return pool[self.rng.integers(0, len(pool), k)]

    def _digits(self, k: int, width: int) -> np.ndarray:
        """k strings of `width` random digits."""
        if width <= 0:
            return np.full(k, "", dtype=object)
        matrix = self.rng.integers(0, 10, (k, width), dtype=np.uint8) + 48
        return np.array(matrix.view(f"S{width}").ravel().astype(str), dtype=object)

    def _distinct(self, make: Callable[[int], np.ndarray], n: int, capacity: float) -> np.ndarray:
        """n fakes, repeats among them redrawn while the space is roomy enough (never a check
        against any real value: only the fakes are compared with each other)."""
        values = make(n)
        if capacity < _UNIQUE_HEADROOM * self._table_rows(n):
            return values
        taken = self.taken if self.taken is not None else TakenValues()
        for _ in range(_UNIQUE_ROUNDS):
            repeated = pd.Series(values).duplicated().to_numpy() | taken.contains(values)
            if not repeated.any():
                break
            values[repeated] = make(int(repeated.sum()))
        if self.taken is not None:
            self.taken.add(values)
        return values

    # -- names and addresses: drawn independently of the data -----------------------------

    @staticmethod
    def _name_pools() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from faker.providers.person.en_US import Provider

        female = np.array(sorted(Provider.first_names_female), dtype=object)
        male = np.array(sorted(Provider.first_names_male), dtype=object)
        # family names are invented, outside every shipped name dictionary: no full name can equal
        # a real one (lib.pii.name_dictionaries.fictional_family_names; read from the file made of
        # them when it matches: `family_names`)
        return female, male, family_names()

    def given_and_family(self, sexes: pd.Series | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Given names that follow the synthetic row's sex (when the table has one), family names."""
        female, male, last = self._name_pools()
        female_rows, male_rows = _sex_starts(sexes, n)
        any_first = np.where(self.rng.random(n) < 0.5, self._pick(female, n), self._pick(male, n))
        first = np.where(female_rows, self._pick(female, n), any_first)
        first = np.where(male_rows, self._pick(male, n), first)
        return first.astype(object), self._pick(last, n)

    @staticmethod
    def format_names(given: np.ndarray, family: np.ndarray, fmt: str | None) -> np.ndarray:
        if fmt in (None, "Given Family"):
            return given + " " + family
        if fmt == "Family, Given":
            return family + ", " + given
        if fmt == "FAMILY, Given":
            return pd.Series(family).str.upper().to_numpy(dtype=object) + ", " + given
        raise ValueError(f"unknown name format {fmt!r}; accepted formats: {', '.join(NAME_FORMATS)}")

    def single_names(self, kind: str, n: int, fmt: str | None) -> np.ndarray:
        female, male, last = self._name_pools()
        pool = np.concatenate([female, male]) if kind == "first_name" else last
        out = self._pick(pool, n)
        return pd.Series(out).str.upper().to_numpy(dtype=object) if fmt == "UPPER" else out

    def street_addresses(self, n: int) -> np.ndarray:
        from faker.providers.address.en_US import Provider

        surnames = self.rng.choice(family_names(), 400, replace=False)
        streets = np.array(
            [f"{name} {suffix}" for name in surnames for suffix in Provider.street_suffixes[:25]],
            dtype=object,
        )
        number = self.rng.integers(1, 99_999, n).astype(str).astype(object)
        unit = np.where(
            self.rng.random(n) < 0.3, " Apt. " + self.rng.integers(1, 999, n).astype(str).astype(object), ""
        )
        return number + " " + self._pick(streets, n) + unit

    def lorem(self, n: int) -> np.ndarray:
        """Lorem-ipsum sentences: the refill of a dropped free-text column keeps no real word."""
        from faker.providers.lorem.la import Provider

        words = np.array(Provider.word_list, dtype=object)
        lengths = self.rng.integers(4, 13, n)
        out = pd.Series(self._pick(words, n)).str.capitalize().to_numpy(dtype=object)
        for position in range(1, 12):
            more = lengths > position
            out[more] = out[more] + " " + self._pick(words, int(more.sum()))
        return out + "."

    # -- unique identifiers: reserved spaces -----------------------------------------------

    def emails(self, given: np.ndarray, family: np.ndarray, fmt: str | None) -> np.ndarray:
        """`given.family<row>@example.(com|net|org)`: the running number (the row's number in the whole
        table, so chunks never repeat one) makes each distinct."""
        n = len(given)
        # lower-case letters and dots only, cleaned once per distinct name (a few thousand), not per
        # row: the cleaning works character by character, so cleaning the parts is cleaning the whole
        local = pd.Series(_email_part(given) + "." + _email_part(family), dtype=object)
        local = local.str.strip(".").replace("", "user")
        number = pd.Series(np.arange(self.start, self.start + n)).astype(str)  # the table's row number
        out = (local + number + "@" + self._pick(_EMAIL_DOMAINS, n)).to_numpy(dtype=object)
        return pd.Series(out).str.upper().to_numpy(dtype=object) if fmt == "UPPER" else out

    def nanp_digits(self, n: int) -> np.ndarray:
        """10 national digits `NPA 555 01XX`: 555-0100..0199 is fictional in every area code."""
        area = self.rng.integers(200, 1000, n)
        area = np.where(area % 100 == 11, area + 1, area)  # no N11 service codes
        return area.astype(str).astype(object) + "55501" + self._digits(n, 2)

    def uk_digits(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(11 national digits, the usual spacing) in Ofcom's drama ranges."""
        which = self.rng.integers(0, len(UK_DRAMA_RANGES), n)
        prefixes = np.array([r[0] for r in UK_DRAMA_RANGES], dtype=object)[which]
        shown = np.array([r[1] for r in UK_DRAMA_RANGES], dtype=object)[which]
        tail = self._digits(n, 3)
        return prefixes + tail, shown + tail

    def phones(self, n: int, fmt: str | None, numeric: bool = False) -> np.ndarray:
        if numeric:  # a whole-number column: the digits alone
            if fmt is not None and _phone_pattern(fmt) in ("uk", "uk_international"):
                return "44" + pd.Series(self.uk_digits(n)[0]).str[1:].to_numpy(dtype=object)
            return self.nanp_digits(n)
        if fmt == "uk":
            return self.uk_digits(n)[1]
        region = "nanp" if fmt in (None, "nanp") else _phone_pattern(fmt)
        pattern = "###-###-####" if fmt in (None, "nanp") else fmt
        if region == "nanp":
            digits = self.nanp_digits(n)
        else:
            digits = self.uk_digits(n)[0]
            if region == "uk_international":  # +44 and the national digits without their 0
                digits = pd.Series(digits).str[1:].to_numpy(dtype=object)
        return _fill(pattern, digits)

    def ssns(self, n: int, fmt: str | None, numeric: bool = False) -> np.ndarray:
        """`AAA-00-SSSS`: the SSA has never issued group 00 (nor area 000, 666 or 9xx, nor serial
        0000), so none is a person's SSN; ITINs (area 9xx) use groups 50-65, 70-88, 90-92 and
        94-99 and ATINs group 93, so none is a taxpayer number either. Ten million values."""
        digits = self._distinct(lambda k: self._digits(k, 3) + "00" + self._digits(k, 4), n, 1e7)
        if numeric:
            return digits
        return _fill(fmt or SSN_FORMATS[0], digits)

    def cards(self, n: int, fmt: str | None, numeric: bool = False) -> np.ndarray:
        """16 digits, Luhn-valid, with major industry identifier 0 (first digit): ISO/IEC 7812
        reserves MII 0 for ISO/TC 68 and other industry assignments, no payment card carries it.
        A whole-number column cannot hold a leading 0, so there the number starts with 9 and its
        check digit is deliberately wrong: every issued card passes Luhn, these never do."""

        def make(k: int) -> np.ndarray:
            body = self.rng.integers(0, 10, (k, 15))
            body[:, 0] = 9 if numeric else 0
            reversed_ = body[:, ::-1]
            doubled = reversed_[:, ::2] * 2
            doubled = np.where(doubled > 9, doubled - 9, doubled)
            total = doubled.sum(axis=1) + reversed_[:, 1::2].sum(axis=1)
            check = (10 - total % 10) % 10
            if numeric:
                check = (check + 1 + self.rng.integers(0, 9, k)) % 10  # any digit but the right one
            digits = np.concatenate([body, check[:, None]], axis=1).astype(np.uint8) + 48
            return np.array(digits.view("S16").ravel().astype(str), dtype=object)

        digits = self._distinct(make, n, 1e14)
        return digits if numeric else _fill(fmt or CARD_FORMATS[0], digits)

    def ibans(self, n: int, fmt: str | None) -> np.ndarray:
        """`CC00` + digits that fail the ISO 7064 MOD 97-10 check. ISO 13616 check digits are
        98 - (number mod 97), always 02..98, so no bank writes 00; and since 00 would still pass
        a bare `mod 97 == 1` test when the right digits are 97, the account digits are also
        chosen so that the check fails: every validator rejects these, no real IBAN is one."""
        country, grouped = _iban_format(fmt) or ("DE", False)
        width = IBAN_LENGTHS[country] - 4
        tail = np.array([int(d) for c in country for d in str(ord(c) - 55)] + [0, 0], dtype=np.int64)

        def make(k: int) -> np.ndarray:
            bban = self.rng.integers(0, 10, (k, width))
            remainder = np.zeros(k, dtype=np.int64)
            for column in np.concatenate([bban, np.broadcast_to(tail, (k, len(tail)))], axis=1).T:
                remainder = (remainder * 10 + column) % 97
            passes = remainder == 1  # 'CC00' would pass mod 97: move the last digit, then it cannot
            bban[passes, -1] = (bban[passes, -1] + 1) % 10
            digits = (bban.astype(np.uint8) + 48).view(f"S{width}").ravel().astype(str)
            return country + "00" + np.array(digits, dtype=object)

        out = self._distinct(make, n, 10.0**width)
        if grouped:
            out = pd.Series(out).str.replace(r"(.{4})(?!$)", r"\1 ", regex=True).to_numpy(dtype=object)
        return out

    def ips(self, n: int, fmt: str | None) -> np.ndarray:
        if fmt == "ipv6":
            out = np.full(n, IPV6_DOC_PREFIX, dtype=object)
            for _ in range(6):
                out = (
                    out
                    + ":"
                    + pd.Series(self.rng.integers(0, 65536, n)).map("{:x}".format).to_numpy(dtype=object)
                )
            return out
        block = self._pick(np.array(IPV4_DOC_BLOCKS, dtype=object), n)
        return block + "." + self.rng.integers(1, 255, n).astype(str).astype(object)

    def macs(self, n: int, fmt: str | None) -> np.ndarray:
        fmt = fmt or MAC_FORMATS[0]
        last = pd.Series(self.rng.integers(0, 256, n)).map("{:02x}".format).to_numpy(dtype=object)
        if fmt == "xxxx.xxxx.xxxx":
            return "0000.5e00.53" + last
        separator = "-" if "-" in fmt else ":"
        prefix = separator.join(f"{b:02x}" for b in MAC_DOC_PREFIX) + separator
        out = prefix + last
        return pd.Series(out).str.upper().to_numpy(dtype=object) if fmt[0] == "X" else out

    def wallets(self, n: int, fmt: str | None) -> np.ndarray:
        if fmt == "ethereum":
            hexdigits = np.array(list("0123456789abcdef"), dtype=object)
            out = np.full(n, "0x" + "0" * 24, dtype=object)
            for _ in range(16):
                out = out + self._pick(hexdigits, n)
            return out
        return self._distinct(self._bitcoin, n, 2.0**160)

    def _bitcoin(self, k: int) -> np.ndarray:
        """Legacy (P2PKH) addresses whose 4-byte checksum has its last byte flipped: a real
        address always carries the right double-SHA-256 checksum, these never do."""
        payload = np.zeros((k, 25), dtype=np.uint8)
        payload[:, 1:21] = self.rng.integers(0, 256, (k, 20), dtype=np.uint8)
        heads = payload[:, :21].tobytes()
        checks = b"".join(
            hashlib.sha256(hashlib.sha256(heads[i * 21 : (i + 1) * 21]).digest()).digest()[:4]
            for i in range(k)
        )
        payload[:, 21:] = np.frombuffer(checks, dtype=np.uint8).reshape(k, 4)
        payload[:, 24] ^= 0x01
        return _base58(payload)

    def urls(self, n: int) -> np.ndarray:
        return self._distinct(lambda k: "https://www.example.com/u/" + self._digits(k, 10), n, 1e10)

    def ids(self, n: int, fmt: str | None, integer: bool = False) -> tuple[np.ndarray, str]:
        """Generic ids (the key, record ids, national ids, unexplained text): the plan's pattern,
        `SYN-` + at least 10 digits by default -- no real id carries the declared prefix. A plan that asks
        for another prefix declares that the source's ids never carry it: the refill cannot check
        that without reading them, and the gate's leak check does not compare fakes inside their
        declared space either (they do not depend on the data, so an equal real id is chance, not a
        leak; `privacy.reserved_spaces`). A wrong declaration therefore yields fakes that may look
        like real customers' ids: the plan's approver owns that choice. Whole-
        number columns get negative numbers (the minus sign is the prefix: keys are never negative).
        A pattern too small for the rows gets more digits (it never runs out). Returns the
        fakes and the pattern used."""
        pattern = fmt or (DEFAULT_INTEGER_ID_FORMAT if integer else DEFAULT_ID_FORMAT)
        rows = self._table_rows(n)
        while _id_digits_too_few(pattern.count("#"), rows, integer, declared=fmt is not None):
            at = pattern.rindex("#") + 1
            pattern = pattern[:at] + "#" + pattern[at:]
        width = pattern.count("#")

        def make(k: int) -> np.ndarray:  # first digit non-zero: the width is the declared one
            return self.rng.integers(1, 10, k).astype(str).astype(object) + self._digits(k, width - 1)

        digits = self._distinct(make, n, 9 * 10.0 ** (width - 1))
        return _fill(pattern, digits), pattern


def _id_digits_too_few(width: int, rows: int, integer: bool, declared: bool = False) -> bool:
    """Whether an id pattern of `width` digits is too narrow for `rows` fakes: distinct fakes need
    headroom; the default patterns also keep chance digit equalities with a real table of the
    same size rare (`CHANCE_DIGIT_MATCHES`; a declared pattern is the plan's choice, widened only
    for headroom); whole-number ids stop at what an int64 holds."""
    if integer and width >= MAX_INTEGER_ID_DIGITS:
        return False
    space = 9 * 10.0 ** (width - 1)
    if space < _UNIQUE_HEADROOM * rows:
        return True
    return not declared and float(rows) * rows / space > CHANCE_DIGIT_MATCHES


_BASE58 = np.frombuffer(b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", dtype=np.uint8)


def _base58(payload: np.ndarray) -> np.ndarray:
    """Base58 text of each row of bytes (leading zero bytes as '1'), by vectorised long division:
    32-bit limbs divided by 58**5 at a time, so a million addresses take a second or two."""
    k, width = payload.shape
    padded = np.zeros((k, -(-width // 4) * 4), dtype=np.uint8)
    padded[:, padded.shape[1] - width :] = payload
    limbs = np.ascontiguousarray(padded.view(">u4").astype(np.uint64).T)  # (limbs, k), big-endian limbs
    places = int(np.ceil(width * np.log(256) / np.log(58)))
    chunks = -(-places // 5)
    divisor = np.uint64(58**5)
    digits = np.zeros((chunks * 5, k), dtype=np.uint8)  # most significant first
    for chunk in range(chunks - 1, -1, -1):
        remainder = np.zeros(k, dtype=np.uint64)
        for limb in range(limbs.shape[0]):
            current = (remainder << np.uint64(32)) + limbs[limb]
            limbs[limb] = current // divisor
            remainder = current % divisor
        for place in range(4, -1, -1):
            digits[chunk * 5 + place] = (remainder % np.uint64(58)).astype(np.uint8)
            remainder //= np.uint64(58)
    text = np.ascontiguousarray(_BASE58[digits.T]).view(f"S{chunks * 5}").ravel().astype(str)
    zeros = (payload != 0).argmax(axis=1)  # leading zero bytes: one '1' each, as base58check writes
    ones = pd.Series(np.array(["1" * int(z) for z in range(width + 1)], dtype=object)[zeros])
    return (ones + pd.Series(text, dtype=object).str.lstrip("1")).to_numpy(dtype=object)
