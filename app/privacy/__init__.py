"""Protection of cardholders' personal information (Art. 16): keys, field encryption, blind indexes,
masking, encrypted column types, the process-wide set-up and the audit hash chain. Pure library code,
no Flask."""
from app.privacy.audit_chain import (
    GENESIS,
    ChainReport,
    canonical,
    chain_key,
    entry_hash,
    legacy_entry_hash,
    seal,
    verify_chain,
)
from app.privacy.blind import BLIND_INDEX_LENGTH, KINDS, BlindIndexer, normalise
from app.privacy.crypto import DecryptionError, FieldCipher
from app.privacy.keys import KeyRing, KeyRingError
from app.privacy.masking import mask_address, mask_card_number, mask_id_number, mask_name, mask_phone
from app.privacy.runtime import blind_index, configure, configure_from
from app.privacy.types import EncryptedBytes, EncryptedText, get_cipher, set_cipher

__all__ = [
    "BLIND_INDEX_LENGTH",
    "GENESIS",
    "KINDS",
    "BlindIndexer",
    "ChainReport",
    "DecryptionError",
    "EncryptedBytes",
    "EncryptedText",
    "FieldCipher",
    "KeyRing",
    "KeyRingError",
    "blind_index",
    "canonical",
    "configure",
    "configure_from",
    "entry_hash",
    "get_cipher",
    "legacy_entry_hash",
    "mask_address",
    "mask_card_number",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "normalise",
    "seal",
    "set_cipher",
    "chain_key",
    "verify_chain",
]
