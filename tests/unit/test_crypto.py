"""Encryption at rest (AES-GCM bound to its owner) and keyed fingerprints."""

from __future__ import annotations

import pytest

from web.auth.crypto import AES_KEY_BYTES, DecryptionError, Keyed, Sealed, SecretBox, derive_key

MASTER = "unit-test-master-key-0123456789abcdef"
OTHER_MASTER = "another-master-key-0123456789abcdefgh"
PURPOSE = "totp-secret-at-rest"
PLAINTEXT = b"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(derive_key(MASTER, PURPOSE))


def flip_byte(sealed: Sealed, index: int) -> Sealed:
    body = bytearray(sealed.ciphertext)
    body[index] ^= 0x01
    return Sealed(sealed.key_id, bytes(body))


def test_seal_then_open_gives_the_plaintext_back(box: SecretBox) -> None:
    sealed = box.seal(PLAINTEXT, owner="user:1")
    assert box.open(sealed, owner="user:1") == PLAINTEXT


def test_the_ciphertext_does_not_contain_the_plaintext(box: SecretBox) -> None:
    assert PLAINTEXT not in box.seal(PLAINTEXT, owner="user:1").ciphertext


def test_the_sealed_value_carries_the_box_key_id(box: SecretBox) -> None:
    assert box.seal(PLAINTEXT, owner="user:1").key_id == box.key_id


def test_a_ciphertext_moved_to_another_owner_does_not_open(box: SecretBox) -> None:
    sealed = box.seal(PLAINTEXT, owner="user:1")
    with pytest.raises(DecryptionError):
        box.open(sealed, owner="user:2")


@pytest.mark.parametrize("index", [0, 11, 12, 20, -1], ids=["nonce-first", "nonce-last", "body-first", "body", "tag-last"])
def test_a_tampered_byte_does_not_open(box: SecretBox, index: int) -> None:
    sealed = box.seal(PLAINTEXT, owner="user:1")
    with pytest.raises(DecryptionError):
        box.open(flip_byte(sealed, index), owner="user:1")


def test_a_truncated_ciphertext_does_not_open(box: SecretBox) -> None:
    sealed = box.seal(PLAINTEXT, owner="user:1")
    with pytest.raises(DecryptionError):
        box.open(Sealed(sealed.key_id, sealed.ciphertext[:-1]), owner="user:1")


def test_another_master_key_has_another_key_id(box: SecretBox) -> None:
    other = SecretBox(derive_key(OTHER_MASTER, PURPOSE))
    assert other.key_id != box.key_id


def test_another_master_key_does_not_open(box: SecretBox) -> None:
    sealed = box.seal(PLAINTEXT, owner="user:1")
    other = SecretBox(derive_key(OTHER_MASTER, PURPOSE))
    with pytest.raises(DecryptionError):
        other.open(sealed, owner="user:1")


def test_another_master_key_does_not_open_even_with_a_forged_key_id(box: SecretBox) -> None:
    sealed = box.seal(PLAINTEXT, owner="user:1")
    other = SecretBox(derive_key(OTHER_MASTER, PURPOSE))
    with pytest.raises(DecryptionError):
        other.open(Sealed(other.key_id, sealed.ciphertext), owner="user:1")


def test_two_seals_of_the_same_plaintext_use_different_nonces(box: SecretBox) -> None:
    first = box.seal(PLAINTEXT, owner="user:1").ciphertext
    second = box.seal(PLAINTEXT, owner="user:1").ciphertext
    assert first[:12] != second[:12]
    assert first != second


def test_derive_key_is_256_bits_and_repeatable() -> None:
    key = derive_key(MASTER, PURPOSE)
    assert len(key) == AES_KEY_BYTES == 32
    assert derive_key(MASTER, PURPOSE) == key


def test_derive_key_differs_per_purpose() -> None:
    purposes = ["totp-secret-at-rest", "session-sealed-values", "keyed-fingerprints", "csrf-token-signing"]
    keys = {derive_key(MASTER, purpose) for purpose in purposes}
    assert len(keys) == len(purposes)


def test_derive_key_differs_per_master_key() -> None:
    assert derive_key(MASTER, PURPOSE) != derive_key(OTHER_MASTER, PURPOSE)


def test_a_box_for_another_purpose_does_not_open(box: SecretBox) -> None:
    sealed = box.seal(PLAINTEXT, owner="user:1")
    session_box = SecretBox(derive_key(MASTER, "session-sealed-values"))
    with pytest.raises(DecryptionError):
        session_box.open(Sealed(session_box.key_id, sealed.ciphertext), owner="user:1")


def test_keyed_matches_its_own_digest() -> None:
    keyed = Keyed(derive_key(MASTER, "keyed-fingerprints"))
    assert keyed.matches("recovery:abcd", keyed.digest("recovery:abcd"))


def test_keyed_does_not_match_another_message() -> None:
    keyed = Keyed(derive_key(MASTER, "keyed-fingerprints"))
    assert not keyed.matches("recovery:abce", keyed.digest("recovery:abcd"))


def test_keyed_does_not_match_a_digest_under_another_key() -> None:
    keyed = Keyed(derive_key(MASTER, "keyed-fingerprints"))
    other = Keyed(derive_key(OTHER_MASTER, "keyed-fingerprints"))
    assert other.digest("recovery:abcd") != keyed.digest("recovery:abcd")
    assert not keyed.matches("recovery:abcd", other.digest("recovery:abcd"))


def test_keyed_digest_is_sha256_hex() -> None:
    digest = Keyed(derive_key(MASTER, "keyed-fingerprints")).digest("x")
    assert len(digest) == 64 and int(digest, 16) >= 0


@pytest.mark.parametrize("ciphertext", [b"", b"short", b"x" * 27])
def test_a_ciphertext_shorter_than_nonce_and_tag_raises_decryption_error(ciphertext: bytes) -> None:
    box = SecretBox(derive_key("unit-test-master-key-0123456789abcdef", "totp-secret-at-rest"))
    with pytest.raises(DecryptionError):
        box.open(Sealed(box.key_id, ciphertext), owner="user:1")
