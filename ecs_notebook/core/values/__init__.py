"""Values: content fingerprints (and, later, exact pickle-free codecs) for what notebooks hold."""

from __future__ import annotations

from .fingerprint import Fingerprint, fingerprint, fingerprint_info, is_identity_fingerprint

__all__ = ["Fingerprint", "fingerprint", "fingerprint_info", "is_identity_fingerprint"]
