"""source.verify reads a commit's signature headers as git does (`git cat-file commit`):
exactly one `gpgsig` header holding one SSH signature, else a refusal; and trusts only a
verifier's own words naming an allowed principal."""

from __future__ import annotations

import pytest

from reconciler.io.git_source import signature_header_problem, trusted_signer

SSH = b"-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQAAADMAAAALc3NoLWVk\nMjU1MTk=\n-----END SSH SIGNATURE-----"
PGP = b"-----BEGIN PGP SIGNATURE-----\n\niHUEABYKAB0WIQ=\n=abcd\n-----END PGP SIGNATURE-----"
X509 = b"-----BEGIN SIGNED MESSAGE-----\nMIAGCSqGSIb3\n-----END SIGNED MESSAGE-----"


def header(name: bytes, block: bytes) -> bytes:
    lines = block.split(b"\n")
    return name + b" " + lines[0] + b"".join(b"\n " + line for line in lines[1:])


def commit(*headers: bytes, message: bytes = b"subject\n") -> bytes:
    top = [b"tree " + b"4" * 40, b"parent " + b"5" * 40, b"author A <a@x> 1 +0000", b"committer A <a@x> 1 +0000"]
    return b"\n".join(top + list(headers)) + b"\n\n" + message


def test_one_ssh_signature_header_is_read_as_signed():
    assert signature_header_problem(commit(header(b"gpgsig", SSH))) is None


@pytest.mark.parametrize("raw, words", [
    (commit(), "is not signed"),
    (commit(header(b"gpgsig", PGP), header(b"gpgsig", SSH)), "carries 2 signature headers (gpgsig, gpgsig)"),
    (commit(header(b"gpgsig", SSH), header(b"gpgsig", PGP)), "carries 2 signature headers"),
    (commit(header(b"gpgsig", SSH), header(b"gpgsig", SSH)), "carries 2 signature headers"),
    (commit(header(b"gpgsig", SSH), header(b"gpgsig-sha256", SSH)), "carries 2 signature headers (gpgsig, gpgsig-sha256)"),
    (commit(header(b"gpgsig-sha256", SSH)), "carries a signature header 'gpgsig-sha256', not 'gpgsig'"),
    (commit(header(b"gpgsig", PGP)), "carries an OpenPGP signature"),
    (commit(header(b"gpgsig", X509)), "carries an X.509 signature"),
    (commit(header(b"gpgsig", SSH + b"\n" + PGP)), "carries an OpenPGP signature"),  # two blocks in one header
    (commit(header(b"gpgsig", SSH + b"\ntrailing words")), "carries a non-SSH signature"),
    (commit(header(b"gpgsig", b"x" + SSH)), "carries a non-SSH signature"),
])
def test_anything_but_exactly_one_ssh_signature_header_is_refused(raw, words):
    problem = signature_header_problem(raw)
    assert problem is not None and words in problem


def test_a_signature_in_the_message_is_not_a_header():
    """git stops reading headers at the first empty line; so does the check."""
    raw = commit(header(b"gpgsig", SSH), message=b"subject\n\ngpgsig " + PGP + b"\n")
    assert signature_header_problem(raw) is None


@pytest.mark.parametrize("status, said, signer", [
    (0, 'Good "git" signature for ops@example.com with ED25519 key SHA256:abc\n',
     "ops@example.com (ED25519 key SHA256:abc)"),
    (0, 'Good "git" signature with ED25519 key SHA256:abc\nNo principal matched.\n', None),  # no principal
    (1, 'Good "git" signature for ops@example.com with ED25519 key SHA256:abc\n', None),  # git said no
    (0, "", None),
    (0, 'gpg: Good signature from "Mallory <author@example.com>" [unknown]\n', None),
    (0, 'x Good "git" signature for ops@example.com with ED25519 key SHA256:abc\n', None),  # not its own line
])
def test_trust_needs_exit_0_and_the_verifier_naming_a_principal(status, said, signer):
    assert trusted_signer(status, said) == signer
