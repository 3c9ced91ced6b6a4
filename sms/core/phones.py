"""Phone number validation with Google's libphonenumber (the ``phonenumbers`` package).

What is accepted and refused, and why: docs/phones.md. How providers write numbers (in their
requests, reports and uplinks) is ``providers.numbers``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult, phonenumberutil

from providers.base import Region
from providers.numbers import MAINLAND_COUNTRY_CODE, MAINLAND_PREFIX, is_mainland_e164, written_number

MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
# After NFKC (full-width ０-９, ＋, －, （）, the ideographic space become their ASCII forms): ASCII
# digits, one leading ``+`` (``(+86)`` too) and the separators people write. Anything else
# (letters, so no ``tel:`` or ``x123`` extension; digits of other scripts; ``#``, ``*``) is
# refused rather than left to libphonenumber, which would drop it or read it as digits.
_MOBILE_TEXT = re.compile(r"\(?\+?[0-9 ().\-]+", re.ASCII)

# A Douyin (抖店) phone ciphertext, as seed 003's ``post_tel`` example: ``$`` search index ``$``
# encrypted number (base64, ``*`` and a key part) ``$`` version ``$$``. It is stored and sent as
# given (only fw199 can address it) and never shown whole in logs or the admin.
DOUYIN_CIPHERTEXT_PREFIX = "$"
DOUYIN_CIPHERTEXT_MAX_LENGTH = 512
_DOUYIN_CIPHERTEXT = re.compile(r"\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=*]+\$[0-9]+\$\$", re.ASCII)


class InvalidPhone(ValueError):
    """The text is not a mobile number we can send to; ``why`` says so in a few words (``wrong
    length``, ``unallocated``, ``premium-rate number`` …: docs/phones.md)."""

    def __init__(self, message: str, *, why: str = "not a phone number") -> None:
        super().__init__(message)
        self.why = why


# What a number of each type other than mobile is called when it is refused: premium-rate and
# shared-cost ranges cost the sender (and pay whoever holds them), the others cannot take an SMS.
NOT_MOBILE_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "premium-rate number",
    PhoneNumberType.SHARED_COST: "shared-cost number",
    PhoneNumberType.TOLL_FREE: "toll-free number",
    PhoneNumberType.FIXED_LINE: "fixed-line number",
    PhoneNumberType.VOIP: "VoIP number",
    PhoneNumberType.PERSONAL_NUMBER: "personal number",
    PhoneNumberType.PAGER: "pager number",
    PhoneNumberType.UAN: "UAN (company) number",
    PhoneNumberType.VOICEMAIL: "voicemail number",
}


def refusal_reason(number: phonenumbers.PhoneNumber) -> str | None:
    """Why libphonenumber's data refuses a parsed number as an SMS recipient, or None for a
    mobile: ``wrong length`` (no number of its country has that many digits), ``unallocated`` (a
    possible length, but in no range of the country's plan), or its type when it is not mobile
    (``NOT_MOBILE_TYPES``: ``premium-rate number``, ``shared-cost number`` …)."""
    if not phonenumbers.is_valid_number(number):
        # Local-only lengths (a number without its area code) count as wrong: we send to whole numbers.
        possible = phonenumbers.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE
        return "unallocated" if possible else "wrong length"
    kind = phonenumbers.number_type(number)
    if kind in MOBILE_TYPES:
        return None
    return NOT_MOBILE_TYPES.get(kind, "not a mobile number")


@dataclass(frozen=True)
class Phone:
    # +8613112341234; a Douyin phone ciphertext as given (``is_douyin_ciphertext``)
    e164: str
    national: str  # 13112341234 for mainland numbers, the E.164 form otherwise, a ciphertext as given
    country_code: int

    @property
    def is_douyin_ciphertext(self) -> bool:
        return is_douyin_ciphertext(self.e164)


def is_douyin_ciphertext(phone: str) -> bool:
    """Whether a given or stored number is a Douyin phone ciphertext (it starts with ``$``)."""
    return phone.startswith(DOUYIN_CIPHERTEXT_PREFIX)


def region_of(e164: str) -> Region:
    """The routing region of a stored number: mainland (+86, and a Douyin phone ciphertext: a
    Douyin shop's buyer, reached through a domestic gateway) or international."""
    if is_mainland_e164(e164) or is_douyin_ciphertext(e164):
        return Region.MAINLAND
    return Region.INTERNATIONAL


def parse_douyin_ciphertext(raw: str) -> Phone:
    """A Douyin phone ciphertext, kept as given: it must have seed 003's shape (``$…$…$1$$``) and
    at most ``DOUYIN_CIPHERTEXT_MAX_LENGTH`` characters. Never read as a mainland number."""
    text = str(raw)
    if len(text) > DOUYIN_CIPHERTEXT_MAX_LENGTH:
        raise InvalidPhone(
            f"a Douyin phone ciphertext is at most {DOUYIN_CIPHERTEXT_MAX_LENGTH} characters, not {len(text)}"
        )
    if not _DOUYIN_CIPHERTEXT.fullmatch(text):
        raise InvalidPhone("not a Douyin phone ciphertext: $index$data$version$$, base64 between the $")
    return Phone(e164=text, national=text, country_code=MAINLAND_COUNTRY_CODE)


# A bare mainland mobile as bulk senders write it: 11 ASCII digits starting with 1.
_PLAIN_MAINLAND = re.compile(r"1[0-9]{10}", re.ASCII)
_CN_METADATA = phonenumbers.PhoneMetadata.metadata_for_region("CN")


def _plain_mainland_mobile(text: str) -> Phone | None:
    """The fast path of ``parse_mobile`` for 11 plain digits: libphonenumber's own number-type
    rule for China applied to them directly (``_number_type_helper``, what ``number_type`` runs
    after parsing), without parsing, which costs most of the 40 µs a number takes (a 10,000-mobile
    message spent 0.4 s here). The same answer as the full path, checked number by number over
    every 4-digit prefix (tests/sms/test_phone_rules.py); anything else takes the full path."""
    if not _PLAIN_MAINLAND.fullmatch(text):
        return None
    if phonenumberutil._number_type_helper(text, _CN_METADATA) not in MOBILE_TYPES:
        return None
    return Phone(e164=f"{MAINLAND_PREFIX}{text}", national=text, country_code=MAINLAND_COUNTRY_CODE)


def parse_mobile(raw: str | int) -> Phone:
    """Parse a mobile number: mainland numbers bare (``13112341234``) or ``+86…``; other
    countries only with their ``+CC`` (or ``00CC``) prefix (they route to the international
    provider). Full-width digits are read as digits; letters and other scripts' digits are
    refused (docs/phones.md)."""
    plain = _plain_mainland_mobile(raw if isinstance(raw, str) else str(raw))
    if plain is not None:
        return plain
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if not text:
        raise InvalidPhone("empty phone number", why="empty")
    if not _MOBILE_TEXT.fullmatch(text):
        raise InvalidPhone(f"{raw!r} is not a phone number: only digits, a leading + and spaces, - . ( )")
    text = re.sub(r"[ ().\-]", "", text)
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, "CN")
    except NumberParseException as exc:
        raise InvalidPhone(f"{raw!r} is not a phone number") from exc
    why = refusal_reason(number)
    if why is not None:
        raise InvalidPhone(f"{raw!r} is not a valid mobile number: {why}", why=why)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = str(number.national_number) if number.country_code == MAINLAND_COUNTRY_CODE else e164
    return Phone(e164=e164, national=national, country_code=number.country_code)


def phone_hash(e164: str) -> str:
    """The keyed hash an opt-out is matched by (``SMS_PHONE_HASH_KEY``): HMAC-SHA256 of the
    number in E.164, hex. It outlives the number's erasure and cannot be reversed without the key."""
    return hmac.new(settings.SMS_PHONE_HASH_KEY.encode(), e164.encode(), hashlib.sha256).hexdigest()


def mask(phone: str) -> str:
    """``13112341234`` → ``131****1234``: the only form a phone number takes in logs. A Douyin
    phone ciphertext keeps its first four characters after the ``$`` (``$Dcwm****``)."""
    if is_douyin_ciphertext(phone.strip()):
        return f"{phone.strip()[:5]}****"
    digits = phone.strip()
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:-8]}****{digits[-4:]}"


def display_mobile(phone: str) -> str:
    """A number as the API lists it: a mainland number's 11 digits (``+8613112341234`` and
    ``8613112341234`` → ``13112341234``; a masked ``131****1234`` stays masked), others as given
    (a Douyin phone ciphertext, and anything written with more than digits and a ``+``)."""
    text = phone.strip()
    number = written_number(text)
    return number.national if number.plain and number.mainland else text


@functools.cache
def calling_code_regions() -> dict[str, str]:
    """Every calling code with its main region's English name and ISO code, for the console's
    region filter and tables: ``{"+86": "China (CN)", "+1": "United States (US, +24 more)", ...}``;
    non-geographic codes (``+800``) say so."""
    from phonenumbers import geocoder

    named = {}
    for code, regions in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()):
        main = phonenumbers.region_code_for_country_code(code)
        example = phonenumbers.example_number(main) if main not in ("ZZ", "001") else None
        name = geocoder.country_name_for_number(example, "en") if example else ""
        if not name:
            named[f"+{code}"] = "non-geographic"
            continue
        more = f", +{len(regions) - 1} more" if len(regions) > 1 else ""
        named[f"+{code}"] = f"{name} ({main}{more})"
    return named
