"""Marketing (template type 3) and scheduled sends: sending hours, how far ahead a send may be
scheduled, opt-out replies and the opt-out instruction a template must carry
(docs/api-platform.md, "Marketing")."""

from __future__ import annotations

from gm_server_notify.settings.environment import env, env_hours, env_list

# --- Sending hours and scheduled sends ------------------------------------------------------------
# Marketing is sent only within these hours, China time; a batch accepted outside them is held
# (scheduled) and released at the next opening.
SMS_MARKETING_HOURS = env_hours("SMS_MARKETING_HOURS", "08:00-21:00")
# POST v1/message's send_at: at most this many days ahead.
SMS_SEND_AT_MAX_DAYS = env.int("SMS_SEND_AT_MAX_DAYS", default=30)

# --- Opting out -------------------------------------------------------------------------------------
# A reply whose text (NFKC, trimmed, case-folded) is one of these opts its number out of the
# marketing of the signature it answered (sms/marketing/optout.py).
SMS_OPT_OUT_KEYWORDS = [
    keyword.casefold()
    for keyword in env_list("SMS_OPT_OUT_KEYWORDS", "T,TD,N,R,退订,取消,拒收,unsubscribe,stop")
]
# A marketing template must carry an opt-out instruction: 回T退订, 退订回T, 拒收请回复R, 回TD退订, or
# one of these more (templates_mgmt.services.OPT_OUT_HINTS).
SMS_OPT_OUT_HINTS = env_list("SMS_OPT_OUT_HINTS")
