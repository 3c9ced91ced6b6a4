"""How providers write phone numbers, in one place: what we send them (a mainland number's 11
digits, others in E.164) and how they name a number in reports and uplinks, read into one parsed
form, ``WrittenNumber``.

A provider writes a number as E.164 (``+8613812341234``, ``+447911123456``), as a mainland
number's 11 digits with or without ``86`` (``13812341234``, ``8613812341234``), or masked as
seed 002's pulled reports and uplinks show it (``138****1234``). Checking what a user gives us is
not this: that is ``sms.core.phones.parse_mobile`` (libphonenumber).
"""

from __future__ import annotations

from dataclasses import dataclass

MAINLAND_COUNTRY_CODE = 86
MAINLAND_PREFIX = f"+{MAINLAND_COUNTRY_CODE}"
_MAINLAND_DIGITS = str(MAINLAND_COUNTRY_CODE)
# Fewer digits than this (the visible ones of a masked number, the end of a number written
# without its start) fit too many numbers to tell which one is meant.
MIN_VISIBLE_DIGITS = 7


def is_mainland_e164(e164: str) -> bool:
    """Whether a stored E.164 number is a mainland China number (the domestic providers' kind)."""
    return e164.startswith(MAINLAND_PREFIX)


def mainland_digits(phone_e164: str) -> str:
    """Mainland numbers as their 11 digits (how domestic providers take and report them); other
    numbers unchanged."""
    return phone_e164[len(MAINLAND_PREFIX) :] if is_mainland_e164(phone_e164) else phone_e164


@dataclass(frozen=True)
class WrittenNumber:
    """A number as a provider wrote it (``written_number``)."""

    # Its digits and mask stars, in order; the ``+`` and any separators dropped.
    chars: str
    # A ``+`` before its first digit: E.164, the country code written.
    plus: bool
    # Nothing but digits, mask stars and that ``+`` was written (no separators, no letters).
    plain: bool
    # Nothing was written at all: it says nothing about which number is meant.
    blank: bool

    @property
    def masked(self) -> bool:
        return "*" in self.chars

    @property
    def national(self) -> str:
        """Its characters without a written mainland country code (``86`` before 11 more)."""
        if len(self.chars) == 13 and self.chars.startswith(_MAINLAND_DIGITS):
            return self.chars[2:]
        return self.chars

    @property
    def mainland(self) -> bool:
        """Written as a mainland mobile: 11 characters from a ``1``, after ``86`` or not (with a
        ``+``, only after ``86``: ``+13812341234`` is a number of country 1). Masked ones too."""
        national = self.national
        written_code = national != self.chars
        return len(national) == 11 and national.startswith("1") and (written_code or not self.plus)

    @property
    def head(self) -> str:
        """A masked number's digits before the mask, as written (``86`` included)."""
        return self.chars.split("*", 1)[0] if self.masked else ""

    @property
    def tail(self) -> str:
        """A masked number's digits after the mask."""
        return self.chars.rsplit("*", 1)[1] if self.masked else ""

    @property
    def e164(self) -> str:
        """The E.164 number it names ("" when masked or when no digit was written): a mainland
        mobile's ``+86`` and 11 digits, any other number its digits after a ``+`` (written or not)."""
        if self.masked or not self.chars:
            return ""
        return f"{MAINLAND_PREFIX}{self.national}" if self.mainland else f"+{self.chars}"

    @property
    def e164_head(self) -> str:
        """What the E.164 form of a masked number starts with: ``+86138`` for ``138****1234``
        (and for ``86138****1234``), ``+4479`` for ``+4479****3456``."""
        if not self.masked:
            return ""
        if self.mainland:
            return f"{MAINLAND_PREFIX}{self.national.split('*', 1)[0]}"
        return f"+{self.head}"

    @property
    def identifying(self) -> bool:
        """Whether enough of a masked number is visible to look it up: a head, a tail and
        ``MIN_VISIBLE_DIGITS`` digits between them."""
        return bool(self.head) and bool(self.tail) and len(self.head) + len(self.tail) >= MIN_VISIBLE_DIGITS

    @property
    def tells_apart(self) -> bool:
        """Whether it can pick one number out of others: digits written in full, or a mask
        ``identifying`` enough. Blank, all stars or a mask with too little left cannot (each
        ``fits`` any number, or too many), so nothing is looked up by them."""
        return self.identifying if self.masked else bool(self.chars)

    @property
    def key(self) -> str:
        """The number as uplink keys compare it, the same masked or not: a mainland mobile's first
        three and last four digits (``138*1234`` for ``13812341234``, ``+8613812341234`` and
        ``138****1234``), any other number its characters. It ignores the ``+``, as it always has:
        stored uplink keys hash it (``InboundMessage.natural_key``)."""
        national = self.national
        if len(national) == 11 and national.startswith("1"):
            return f"{national[:3]}*{national[-4:]}"
        return national

    def fits(self, e164: str) -> bool:
        """Whether this can be the stored number ``e164``: the same digits (with or without the
        country code), the last 7 or more of them, or a masked form whose visible digits agree.
        A blank number says nothing and fits."""
        if self.blank:
            return True
        record_digits = "".join(char for char in e164 if char.isdigit())
        if self.masked:
            head, tail = self.head, self.tail
            national = record_digits[len(_MAINLAND_DIGITS) :] if is_mainland_e164(e164) else record_digits
            return any(
                candidate.startswith(head)
                and candidate.endswith(tail)
                and len(head) + len(tail) < len(candidate)
                for candidate in (record_digits, national)
            )
        digits = self.chars
        if not digits:
            return False
        ends_alike = record_digits.endswith(digits) and len(digits) >= MIN_VISIBLE_DIGITS
        return digits == record_digits or ends_alike


def written_number(text: str) -> WrittenNumber:
    """Read a number as a provider wrote it (module docstring). Never raises: what is not a number
    reads as one with no digits."""
    stripped = text.strip()
    chars = []
    plus = False
    plain = True
    for char in stripped:
        if char.isdigit() or char == "*":
            chars.append(char)
        elif char == "+" and not chars:
            plus = True
        else:
            plain = False
    return WrittenNumber(chars="".join(chars), plus=plus, plain=plain, blank=not stripped)


def phone_key(phone: str) -> str:
    """A number as uplink keys compare it (``WrittenNumber.key``)."""
    return written_number(phone).key
