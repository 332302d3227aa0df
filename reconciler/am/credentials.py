"""Which keys of an Alertmanager config hold a credential: the one list the diff's redaction,
the import's "a credential would be committed" notes and the "who is mailed" summary use.

`SECRET_FIELDS` are the fields Alertmanager 0.25 itself keeps secret (its `Secret` and
`SecretURL` types, shown as `<secret>` by /api/v2/status) and those of the HTTP client
settings it embeds (prometheus/common: basic_auth.password, bearer_token,
authorization.credentials, oauth2.client_secret; sigv4.secret_key). `CREDENTIAL_WORDS` widens
that to any key whose last word is one of them (`x_api_key`, `my_password`), so a field a later
Alertmanager adds is covered too: in doubt, a value is hidden. A `*_file` key names a file,
not a secret, and is not one.
"""

from __future__ import annotations

import re

SECRET_FIELDS = frozenset({
    # global
    "smtp_auth_password", "smtp_auth_secret", "slack_api_url", "opsgenie_api_key", "wechat_api_secret",
    "victorops_api_key",
    # receivers' configs
    "auth_password", "auth_secret",          # email
    "service_key", "routing_key",            # pagerduty
    "api_url",                               # slack (a SecretURL: the token is in it)
    "api_key",                               # opsgenie, victorops
    "api_secret",                            # wechat
    "user_key", "token",                     # pushover
    "bot_token",                             # telegram
    "webhook_url",                           # discord (a SecretURL)
    # http_config and sigv4 (prometheus/common)
    "password", "bearer_token", "credentials", "client_secret", "secret_key",
})
CREDENTIAL_WORDS = ("password", "secret", "token", "key", "credentials", "api_url", "webhook_url")
"""A key whose last words are one of these holds a credential."""
KEY_PATTERN = r"(?:[A-Za-z0-9]+_)*(?:" + "|".join(CREDENTIAL_WORDS) + r")"
"""A credential key as a regular expression (for a redaction that reads text, not values)."""
_KEY = re.compile(KEY_PATTERN)


def is_credential(key: object) -> bool:
    """Whether a value under `key` is a credential, wherever in a config it stands."""
    return isinstance(key, str) and (key in SECRET_FIELDS or _KEY.fullmatch(key) is not None)
