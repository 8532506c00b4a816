"""Credentials in the formats gatewatch must never log or post, and where in a text to hide them.

Each format has the text to plant and its `core`: the part that is the secret (a key name, a scheme
or a token's public prefix may stay). A text passes when no `WINDOW`-character run of any core
survives in it. All values are fakes shaped like the real thing.
"""

from __future__ import annotations

from collections.abc import Iterator

WINDOW = 6

#: name -> (planted text, core)
SECRET_FORMATS: dict[str, tuple[str, str]] = {
    "aws access key id": ("AKIAIOSFODNN7EXAMPLE", "IOSFODNN7EXAMPLE"),
    "aws session key id": ("ASIAY34FZKBOKMUTVV7A", "Y34FZKBOKMUTVV7A"),
    "aws secret access key field": (
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    "slack bot token": (
        "xoxb-2048581736-4170318627-Zk9pQx3vLm8RtY2wEaF5sDgH",
        "2048581736-4170318627-Zk9pQx3vLm8RtY2wEaF5sDgH",
    ),
    "slack user token": ("xoxp-7305918264-5829147360-9146273058-f3a9c1e7b5d2", "7305918264-5829147360-9146273058"),
    "slack webhook": (
        "https://hooks.slack.com/services/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",
        "T0GWATCH1/B0GWATCH2/q8Rz3LmP0aXc7VbN1kYt5WeJ",
    ),
    "govslack webhook": (
        "https://hooks.slack-gov.com/services/T0GOVWCH1/B0GOVWCH2/Hs7Kd2Pq9Lx4Mz1Nc6Vb3Rt8",
        "T0GOVWCH1/B0GOVWCH2/Hs7Kd2Pq9Lx4Mz1Nc6Vb3Rt8",
    ),
    "github token": ("ghp_Rk3Lm9Qx2Vb7Nc4Zp8Ws1Ty6Ud0Ef5Gh2Ja9K", "Rk3Lm9Qx2Vb7Nc4Zp8Ws1Ty6Ud0Ef5Gh2Ja9K"),
    "github fine-grained token": (
        "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Ab0Cd3",
        "11AQ3RZ7Y0kT9vLm2Xw8Pq_b7Nc4Zs1Gh6Jd3Kf8Lm2Qp5Rt9",
    ),
    "stripe secret key": ("sk_live_51Hx9QpLm3Rt7Vb2Nc8Zw4Ks6Ud0Ef5G", "51Hx9QpLm3Rt7Vb2Nc8Zw4Ks6Ud0Ef5G"),
    "stripe restricted key": ("rk_live_51Hx9QpLm3Rt7Vb2Nc8Zw4Ks6Ud0Ef5H", "51Hx9QpLm3Rt7Vb2Nc8Zw4Ks6Ud0Ef5H"),
    "jwt": (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwiZXhwIjoxODAwMDAwMDAwfQ.Qm9ndXNTaWduYXR1cmVWYWx1ZTEyMw",
        "eyJzdWIiOiJ1c2VyLTQyIiwiZXhwIjoxODAwMDAwMDAwfQ.Qm9ndXNTaWduYXR1cmVWYWx1ZTEyMw",
    ),
    "bearer token": ("Bearer 8f14e45fceea167a5a36dedd4bea2543", "8f14e45fceea167a5a36dedd4bea2543"),
    "authorization header": ("Authorization: Token tok_9Xb2Lm7Qp4Rz1Vc8", "tok_9Xb2Lm7Qp4Rz1Vc8"),
    "basic authorization": ("Authorization: Basic YWRtaW46czNjcjN0LXBhc3M=", "YWRtaW46czNjcjN0LXBhc3M"),
    "bare basic credentials": ("Basic YWRtaW46czNjcjN0LXBhc3M=", "YWRtaW46czNjcjN0LXBhc3M"),
    "cookie header": ("Cookie: session=6b2f9d1c7e4a8b3f0c5d; theme=dark", "6b2f9d1c7e4a8b3f0c5d"),
    "password query field": ("password=Hunter2Hunter2&lang=en", "Hunter2Hunter2"),
    "secret json field": ('"client_secret": "Zq8Wm3Lp7Rt2Xv9N"', "Zq8Wm3Lp7Rt2Xv9N"),
    "token json field in escaped json": ('{\\"access_token\\":\\"at.9Kd3Lm7Qp2\\"}', "9Kd3Lm7Qp2"),
    "api key header": ("x-api-key: 3Xz9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0L", "3Xz9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0L"),
    "azure storage account key": (
        "DefaultEndpointsProtocol=https;AccountName=gw;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2U==;",
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2U",
    ),
    "azure service bus key": ("SharedAccessKeyName=send;SharedAccessKey=k9Lm3Qp7Rz2Vc8Xb4Nw6=", "k9Lm3Qp7Rz2Vc8Xb4Nw6"),
    "azure sas signature": ("?sv=2022-11-02&se=2026-12-01&sig=pQ7rLm3Xz9Vb2Nc8Kd4Wf6%3D", "pQ7rLm3Xz9Vb2Nc8Kd4Wf6"),
}


def placements(secret: str, cut: int) -> Iterator[tuple[str, str]]:
    """(where, text) with the secret at the start, after a letter, after a digit, mid-text, and astride
    `cut` (a sample's length: only the secret's beginning survives the cut)."""
    yield "at the start", f"{secret} trailing words"
    yield "after a letter", f"q{secret} trailing words"
    yield "after a digit", f"5{secret} trailing words"
    yield "mid-text", f"GET /orders?id=7 {secret}; ua=curl/8.4"
    yield "astride the cut", "." * (cut - len(secret) // 2) + secret
    yield "its first 12 characters at the cut", "." * (cut - 12) + secret


def leaked(text: str, core: str) -> list[str]:
    """The WINDOW-character runs of `core` found in `text` (none when nothing of the secret survived)."""
    return [core[i : i + WINDOW] for i in range(len(core) - WINDOW + 1) if core[i : i + WINDOW] in text]
