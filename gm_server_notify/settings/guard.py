"""The tenant guard's pumping rule: how many verify codes one tenant may send into one number
prefix in an hour before that prefix is paused for it, and for how long (docs/api-platform.md,
"Capabilities, countries and the pumping guard"; the defaults' reasons in docs/security.md)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from gm_server_notify.settings.environment import env

# More verify codes (template type 1) than this to one prefix within an hour pause the prefix for
# the tenant; 0 turns the rule off.
SMS_PUMPING_MAX_PER_PREFIX_HOUR = env.int("SMS_PUMPING_MAX_PER_PREFIX_HOUR", default=20)
# The prefix: the calling code and the national number without its last this many digits (4: a
# block of 10,000 numbers, whatever the country's number length; in China the first 7 of 11 digits,
# an HLR block, 1391234xxxx).
SMS_PUMPING_RANGE_DIGITS = env.int("SMS_PUMPING_RANGE_DIGITS", default=4)
# A pause lasts this long unless an operator lifts it first.
SMS_PUMPING_PAUSE_HOURS = env.float("SMS_PUMPING_PAUSE_HOURS", default=24.0)
if SMS_PUMPING_MAX_PER_PREFIX_HOUR < 0:
    raise ImproperlyConfigured("SMS_PUMPING_MAX_PER_PREFIX_HOUR must be 0 (off) or more")
if not 1 <= SMS_PUMPING_RANGE_DIGITS <= 8:
    raise ImproperlyConfigured("SMS_PUMPING_RANGE_DIGITS must be between 1 and 8")
if not 0 < SMS_PUMPING_PAUSE_HOURS <= 24 * 366:
    raise ImproperlyConfigured("SMS_PUMPING_PAUSE_HOURS must be more than 0 and at most a year")
