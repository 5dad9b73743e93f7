"""What the marks the safeguards leave in stored data mean, for the person recorded.

Every placeholder a safeguard can write (``<EMAIL_ADDRESS>``, ``<PASSWORD>``, ...) and every
kind of hidden screen area, explained once; the viewer's legend shows this. Kept complete by
a test against the detectors' own lists (:data:`~workprint.policy.model.MANDATORY_ENTITIES`,
:data:`~workprint.policy.model.OPTIONAL_ENTITIES`, the redactor's priorities).
"""

from __future__ import annotations

#: placeholder name -> what was there
PLACEHOLDERS: dict[str, str] = {
    "PASSWORD": "a password: typed into a password field or a password prompt, or written as "
                "password=... (the keys leave only this mark, not how many there were)",
    "SECRET": "a secret such as an API key, access token, bearer token or a value that looks "
              "random enough to be one",
    "PRIVATE_KEY": "a private key or certificate block",
    "AWS_ACCESS_KEY": "an AWS access key",
    "GITHUB_TOKEN": "a GitHub token",
    "SLACK_TOKEN": "a Slack token or webhook address",
    "JWT": "a login token (JSON Web Token)",
    "EMAIL_ADDRESS": "an email address",
    "PHONE_NUMBER": "a phone number",
    "CREDIT_CARD": "a payment card number",
    "IBAN_CODE": "a bank account number (IBAN)",
    "US_SSN": "a US social security number",
    "IP_ADDRESS": "a network (IP) address",
    "HOME_PATH": "a home folder path, which names a person's account",
    "USERNAME": "your login name",
    "HOSTNAME": "this computer's name",
    "MAC_ADDRESS": "a network hardware (MAC) address (if your policy asks for it)",
    "CRYPTO": "a cryptocurrency wallet address (if your policy asks for it)",
    "UUID": "a unique identifier (UUID) (if your policy asks for it)",
    "URL": "a web address (if your policy asks for it)",
}

#: A placeholder not listed above comes from a rule of the organisation's policy.
CUSTOM = "a value matched by a rule of your organisation's policy (the name says which)"

#: hidden screen areas and missing screenshots -> why
AREAS: dict[str, str] = {
    "black rectangle over a window": "a window of an app or site your policy does not record "
                                     "(or the recording indicator itself): blacked out before "
                                     "the screenshot was stored",
    "black box over text": "text recognised on the screen as a password, secret or personal "
                           "value (the same detectors as for typed text), painted over before "
                           "the screenshot was stored",
    "no screenshot before a step": "the screenshot was dropped because it could not be made "
                                   "safe in time (windows moving, text not yet checked): when in "
                                   "doubt, nothing is kept",
}


def legend() -> dict:
    return {"placeholders": [{"name": n, "placeholder": f"<{n}>", "meaning": m}
                             for n, m in PLACEHOLDERS.items()],
            "custom": CUSTOM,
            "areas": [{"name": n, "meaning": m} for n, m in AREAS.items()]}
