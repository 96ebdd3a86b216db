"""Vietnamese place names: a gazetteer of provinces and a matcher for named districts.

Canonical forms returned by ``extract_places``:

* a province or centrally-run city: its name without "tỉnh"/"thành phố" ("Hà Tĩnh",
  "Hà Nội"), except Ho Chi Minh City, which is "Thành phố Hồ Chí Minh" (the bare
  "Hồ Chí Minh" is almost always the President: "tư tưởng Hồ Chí Minh");
* a lower-level unit written with its kind: the kind in lower case, then the name with
  canonical tone marks: "huyện Hàm Thuận Bắc", "quận 9", "thị xã Kỳ Anh",
  "thành phố Sơn La", "xã Phiêng Pằn". A provincial city or town that carries its
  province's name ("thành phố Sơn La") also yields the province ("Sơn La").

>>> extract_places("Thành phố Sơn La hoàn thành ...; huyện Hàm Thuận Bắc, tỉnh Bình Thuận")
('thành phố Sơn La', 'Sơn La', 'huyện Hàm Thuận Bắc', 'Bình Thuận')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache, lru_cache

from corpus.text import canonical_tones, nfc, search_key, strip_diacritics

__all__ = [
    "POST_2025_PROVINCES",
    "PROVINCES",
    "extract_places",
    "is_place_name",
    "place_variants",
    "site_places",
]

HCMC = "Thành phố Hồ Chí Minh"

# The 63 provinces and centrally-run cities before the 2025 merger, with common variants.
PROVINCES: dict[str, tuple[str, ...]] = {
    "An Giang": (),
    "Bà Rịa - Vũng Tàu": ("Bà Rịa Vũng Tàu", "BR-VT", "BRVT"),
    "Bắc Giang": (),
    "Bắc Kạn": ("Bắc Cạn",),
    "Bạc Liêu": (),
    "Bắc Ninh": (),
    "Bến Tre": (),
    "Bình Định": (),
    "Bình Dương": (),
    "Bình Phước": (),
    "Bình Thuận": (),
    "Cà Mau": (),
    "Cao Bằng": (),
    "Cần Thơ": (),
    "Đà Nẵng": (),
    "Đắk Lắk": ("Đắc Lắc", "Đăk Lăk", "Đắk Lắc", "Daklak", "Dak Lak"),
    "Đắk Nông": ("Đăk Nông", "Đắc Nông", "Dak Nong"),
    "Điện Biên": (),
    "Đồng Nai": (),
    "Đồng Tháp": (),
    "Gia Lai": (),
    "Hà Giang": (),
    "Hà Nam": (),
    "Hà Nội": ("Hanoi",),
    "Hà Tĩnh": (),
    "Hải Dương": (),
    "Hải Phòng": (),
    "Hậu Giang": (),
    "Hòa Bình": (),
    HCMC: (
        "TP.HCM",
        "TPHCM",
        "TP HCM",
        "TP. Hồ Chí Minh",
        "Thành phố Hồ Chí Minh",
        "thành phố Hồ Chí Minh",
        "TP.Hồ Chí Minh",
    ),
    "Hưng Yên": (),
    "Khánh Hòa": (),
    "Kiên Giang": (),
    "Kon Tum": ("Kontum",),
    "Lai Châu": (),
    "Lâm Đồng": (),
    "Lạng Sơn": (),
    "Lào Cai": (),
    "Long An": (),
    "Nam Định": (),
    "Nghệ An": (),
    "Ninh Bình": (),
    "Ninh Thuận": (),
    "Phú Thọ": (),
    "Phú Yên": (),
    "Quảng Bình": (),
    "Quảng Nam": (),
    "Quảng Ngãi": (),
    "Quảng Ninh": (),
    "Quảng Trị": (),
    "Sóc Trăng": (),
    "Sơn La": (),
    "Tây Ninh": (),
    "Thái Bình": (),
    "Thái Nguyên": (),
    "Thanh Hóa": (),
    "Thừa Thiên Huế": ("Thừa Thiên - Huế", "TP Huế", "TP. Huế", "thành phố Huế"),
    "Tiền Giang": (),
    "Trà Vinh": (),
    "Tuyên Quang": (),
    "Vĩnh Long": (),
    "Vĩnh Phúc": (),
    "Yên Bái": (),
}

# The 34 provincial-level units after the 2025 merger: all keep one of the names above
# (Thừa Thiên Huế became the centrally-run city of Huế).
POST_2025_PROVINCES: frozenset[str] = frozenset(
    {
        "Hà Nội", "Thừa Thiên Huế", "Lai Châu", "Điện Biên", "Sơn La", "Lạng Sơn",
        "Quảng Ninh", "Thanh Hóa", "Nghệ An", "Hà Tĩnh", "Cao Bằng", "Tuyên Quang",
        "Lào Cai", "Thái Nguyên", "Phú Thọ", "Bắc Ninh", "Hưng Yên", "Hải Phòng",
        "Ninh Bình", "Quảng Trị", "Đà Nẵng", "Quảng Ngãi", "Gia Lai", "Khánh Hòa",
        "Lâm Đồng", "Đắk Lắk", HCMC, "Đồng Nai", "Tây Ninh", "Cần Thơ", "Vĩnh Long",
        "Đồng Tháp", "Cà Mau", "An Giang",
    }
)  # fmt: skip

_CENTRAL_CITIES = frozenset({"Hà Nội", "Hải Phòng", "Đà Nẵng", "Cần Thơ", HCMC})

# Lower-level unit kinds, as token sequences (search form) -> canonical kind.
_KINDS: dict[tuple[str, ...], str] = {
    ("huyện",): "huyện",
    ("quận",): "quận",
    ("thị", "xã"): "thị xã",
    ("thị", "trấn"): "thị trấn",
    ("thành", "phố"): "thành phố",
    ("tp",): "thành phố",
    ("xã",): "xã",
    ("phường",): "phường",
}
_NUMBERED_KINDS = frozenset({"quận", "phường"})
_CITY_KINDS = frozenset({"thành phố", "thị xã"})
_MAX_NAME_TOKENS = 4
# First words that make "Huyện Đoàn ...", "Xã Hội ..." organisations, not places.
_NOT_PLACE_START = frozenset({"ủy", "đoàn", "hội", "đảng", "ban", "mặt", "đội", "chi", "khối"})
# A province name right after one of these is part of a person's name ("Nguyễn Thái Bình").
_PERSON_NAME_WORDS = (
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
    "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Lương", "Trương", "Đinh", "Tô", "Tạ", "Văn", "Thị",
    "Hữu", "Đức", "Đình", "Công", "Quốc", "Ngọc", "Xuân", "Kim", "Hồng", "Bá", "Duy",
    "Trọng", "Thế", "Mạnh", "Thúy", "Thu",
)  # fmt: skip
_NAME_WORDS = frozenset(search_key(w) for w in _PERSON_NAME_WORDS)
# Tokens that may be written in lower case inside a province variant.
_LOWER_OK = frozenset({"thành", "phố"})

_TOKEN_RE = re.compile(r"[^\W_]+")
_NAME_GAP = re.compile(r"^\s+$|^\s*-\s*$")  # between words of one name
_VARIANT_GAP = re.compile(r"^[\s.\-–]{0,3}$")  # "TP.HCM", "Bà Rịa - Vũng Tàu"


@lru_cache(maxsize=1 << 16)
def _key(token: str) -> str:
    return search_key(token)


@cache
def _variants() -> dict[tuple[str, ...], str]:
    table: dict[tuple[str, ...], str] = {}
    for canonical, variants in PROVINCES.items():
        names = (canonical,) if canonical != HCMC else ()
        for name in (*names, *variants):
            table[tuple(_key(t) for t in _TOKEN_RE.findall(name))] = canonical
    return table


@cache
def _max_variant_len() -> int:
    return max(len(k) for k in _variants())


@cache
def _variant_starts() -> frozenset[str]:
    return frozenset(k[0] for k in _variants())


_KIND_STARTS = frozenset(k[0] for k in _KINDS)


def _capitalised(token: str) -> bool:
    return token[:1].isupper()


def _title_word(token: str) -> bool:
    return token[:1].isupper() and (len(token) == 1 or token[1:] == token[1:].lower())


def is_place_name(text: str) -> bool:
    """True when ``text`` is exactly a province name or variant ("Hà Tĩnh", "TP.HCM")."""
    key = tuple(_key(t) for t in _TOKEN_RE.findall(nfc(text)))
    return key in _variants()


def _match_province(
    toks: list[re.Match[str]], keys: list[str], text: str, i: int
) -> tuple[str, int] | None:
    """Longest province variant starting at token i: (canonical, tokens used) or None."""
    if keys[i] not in _variant_starts():
        return None
    table = _variants()
    for n in range(min(_max_variant_len(), len(toks) - i), 0, -1):
        canonical = table.get(tuple(keys[i : i + n]))
        if canonical is None:
            continue
        gaps_ok = all(
            _VARIANT_GAP.match(text[toks[j].end() : toks[j + 1].start()])
            for j in range(i, i + n - 1)
        )
        caps_ok = all(
            _capitalised(toks[j].group()) or keys[j] in _LOWER_OK for j in range(i, i + n)
        )
        if gaps_ok and caps_ok:
            return canonical, n
    return None


def _part_of_person_name(toks: list[re.Match[str]], keys: list[str], text: str, i: int) -> bool:
    if i == 0:
        return False
    prev = toks[i - 1]
    return (
        _capitalised(prev.group())
        and keys[i - 1] in _NAME_WORDS
        and text[prev.end() : toks[i].start()].isspace()
    )


def _match_unit(
    toks: list[re.Match[str]], keys: list[str], text: str, i: int
) -> tuple[str, str, int] | None:
    """A named unit at token i ("huyện Hàm Thuận Bắc"): (kind, name, tokens used) or None."""
    if keys[i] not in _KIND_STARTS:
        return None
    for kind_toks, kind in _KINDS.items():
        n = len(kind_toks)
        if tuple(keys[i : i + n]) != kind_toks or i + n >= len(toks):
            continue
        gaps = [text[toks[j].end() : toks[j + 1].start()] for j in range(i, i + n)]
        if not all(g.isspace() for g in gaps[:-1]):
            continue
        last_gap = gaps[-1]
        if not (last_gap.isspace() or (kind_toks == ("tp",) and _VARIANT_GAP.match(last_gap))):
            continue
        j = i + n
        first = toks[j].group()
        if first.isdigit():
            if kind in _NUMBERED_KINDS and len(first) <= 2:
                return kind, str(int(first)), n + 1
            return None
        if not _title_word(first) or keys[j] in _NOT_PLACE_START:
            return None
        end = j + 1
        while (
            end < len(toks)
            and end - j < _MAX_NAME_TOKENS
            and _title_word(toks[end].group())
            and not toks[end].group().isdigit()
            and _NAME_GAP.match(text[toks[end - 1].end() : toks[end].start()])
        ):
            end += 1
        name = " ".join(canonical_tones(t.group()) for t in toks[j:end])
        return kind, name, end - i
    return None


def extract_places(text: str) -> tuple[str, ...]:
    """Provinces and named lower-level units, canonical, deduplicated, in order of first
    mention (see the module docstring for the forms)."""
    text = nfc(text)
    toks = list(_TOKEN_RE.finditer(text))
    keys = [_key(t.group()) for t in toks]
    found: list[str] = []
    seen: set[str] = set()

    def add(name: str) -> None:
        k = search_key(name)
        if k not in seen:
            seen.add(k)
            found.append(name)

    i = 0
    while i < len(toks):
        province = _match_province(toks, keys, text, i)
        if province and not _part_of_person_name(toks, keys, text, i):
            add(province[0])
            i += province[1]
            continue
        unit = _match_unit(toks, keys, text, i)
        if unit:
            kind, name, used = unit
            as_province = _variants().get(tuple(_key(t) for t in _TOKEN_RE.findall(name)))
            if as_province and kind == "thành phố" and as_province in _CENTRAL_CITIES:
                add(as_province)
            else:
                add(f"{kind} {name}")
                if as_province and kind in _CITY_KINDS:
                    add(as_province)
            i += used
            continue
        i += 1
    return tuple(found)


@cache
def _site_names() -> tuple[tuple[str, str], ...]:
    """(run-together ASCII form, canonical) of every province name and variant of 5 letters
    or more: "hatinh", "tphcm", "sonla" (shorter ones match inside unrelated words)."""
    out: list[tuple[str, str]] = []
    for canonical, variants in PROVINCES.items():
        for name in (canonical, *variants):
            flat = re.sub(r"[^a-z]", "", strip_diacritics(name))
            if len(flat) >= 5:
                out.append((flat, canonical))
    return tuple(out)


def place_variants(canonicals: Iterable[str]) -> list[str]:
    """Each province with the variants it is written as ("TP.HCM", "TPHCM", …)."""
    return [v for c in dict.fromkeys(canonicals) for v in (c, *PROVINCES.get(c, ()))]


def site_places(site: str) -> tuple[str, ...]:
    """Provinces a publisher's site name or address names, run together as site names are:
    "Baohatinh.vn" -> ("Hà Tĩnh",), "https://thanhuytphcm.vn/..." -> ("Thành phố Hồ Chí
    Minh",). A provincial paper or party site reports on its province, which the article
    itself may never name."""
    host = re.sub(r"^[a-z]+://", "", strip_diacritics(site)).split("/")[0]
    flat = re.sub(r"[^a-z]", "", host.rsplit(".", 1)[0] if "." in host else host)
    found: list[str] = []
    for name, canonical in _site_names():
        if name in flat and canonical not in found:
            found.append(canonical)
    return tuple(found)
