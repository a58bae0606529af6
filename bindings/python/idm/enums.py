"""Every public enum of the C headers, with the exact C values.

Members are named like the C enumerators without their prefix
(IDM_CARD_EMPLOYEE -> CardType.EMPLOYEE).  C_ENUMS says which C enum each
class mirrors and which prefix it drops; C_RENAMED lists the two
enumerators whose names cannot simply lose the prefix.
tests/test_declarations.py checks all of it against the headers.
"""

import enum

__all__ = [
    "ErrorCode", "LogLevel", "OptionType", "IdentityState", "CardType", "CardOption",
    "Production", "CardState", "CertState", "OrderKind", "OrderState", "OrderCardOutcome",
    "ObjectType", "KeyType", "KeyUsage", "RevocationReason", "PivSlot", "CardKeyAlg",
    "MgmtKeyAlg", "PivObject", "ProductionStep", "BureauStatus", "NotificationKind",
    "CardFace", "RenderFormat",
]


class ErrorCode(enum.IntEnum):
    """idm_err (<idm/error.h>): the result of every int-returning function."""
    OK = 0
    INVALID_ARG = -1
    NO_MEMORY = -2
    STATE = -3
    NOT_FOUND = -4
    EXISTS = -5
    CANCELLED = -6
    BACKEND = -7
    STORE = -8
    CRYPTO = -9
    CARD = -10
    IO = -11
    PARSE = -12
    UNSUPPORTED = -13
    TIMEOUT = -14
    DISABLED = -15
    INTERNAL = -16
    INTEGRITY = -17


class LogLevel(enum.IntEnum):
    """idm_log_level (<idm/context.h>); a higher value is more verbose."""
    ERROR = 0
    WARNING = 1
    INFO = 2
    DEBUG = 3


class OptionType(enum.IntEnum):
    """idm_option_type (<idm/options.h>)."""
    BOOL = 0
    INT = 1
    STRING = 2


class IdentityState(enum.IntEnum):
    """idm_identity_state (<idm/identity.h>)."""
    REGISTERED = 0
    ACTIVE = 1
    INACTIVE = 2
    TERMINATED = 3


class CardType(enum.IntEnum):
    """idm_card_type (<idm/card.h>)."""
    EMPLOYEE = 0
    CONTRACTOR = 1
    VISITOR = 2
    VISITOR_NON_PERSONAL = 3
    NON_PERSONAL = 4
    TEMPORARY = 5


class CardOption(enum.IntEnum):
    """idm_card_option (<idm/card.h>): Physical ID or Digital ID."""
    PHYSICAL = 0
    DIGITAL = 1


class Production(enum.IntEnum):
    """idm_production (<idm/card.h>): where a card is produced."""
    LOCAL = 0
    EXTERNAL = 1


class CardState(enum.IntEnum):
    """idm_card_state (<idm/card.h>): the union of the three production graphs."""
    REGISTERED = 0
    REQUESTED = 1
    APPROVED = 2
    REJECTED = 3
    ABORTED = 4
    ISSUED = 5
    FAILED = 6
    ACTIVE = 7
    INACTIVE = 8
    LOCKED = 9
    EXPIRED = 10
    PROCESSING = 11
    ORDERED = 12
    IN_PRODUCTION = 13
    PRODUCED = 14
    UNASSIGNED = 15
    ASSIGNED = 16


class CertState(enum.IntEnum):
    """idm_cert_state (<idm/certificate.h>)."""
    VALID = 0
    ON_HOLD = 1
    REVOKED = 2
    EXPIRED = 3


class OrderKind(enum.IntEnum):
    """idm_order_kind (<idm/order.h>)."""
    MASS_PRODUCTION = 0
    EXTERNAL = 1


class OrderState(enum.IntEnum):
    """idm_order_state (<idm/order.h>)."""
    OPEN = 0
    RUNNING = 1
    COMPLETED = 2
    ABORTED = 3


class OrderCardOutcome(enum.IntEnum):
    """idm_order_card_outcome (<idm/order.h>)."""
    PENDING = 0
    CLAIMED = 1
    PRODUCED = 2
    SKIPPED = 3
    FAILED = 4


class ObjectType(enum.IntEnum):
    """idm_object_type (<idm/audit.h>): what an audit event is about."""
    IDENTITY = 0
    CARD = 1
    ORDER = 2
    CERTIFICATE = 3
    OPTION = 4
    CA = 5


class KeyType(enum.IntEnum):
    """idm_key_type (<idm/ca.h>): key types of the built-in CA's own key."""
    EC_P256 = 0
    EC_P384 = 1
    RSA_2048 = 2
    RSA_3072 = 3


class KeyUsage(enum.IntEnum):
    """idm_key_usage (<idm/ca.h>): selects the certificate profile."""
    AUTHENTICATION = 0
    SIGNATURE = 1
    ENCRYPTION = 2
    CARD_AUTHENTICATION = 3


class RevocationReason(enum.IntEnum):
    """idm_revocation_reason (<idm/ca.h>): CRL reason codes of RFC 5280."""
    UNSPECIFIED = 0
    KEY_COMPROMISE = 1
    CA_COMPROMISE = 2
    AFFILIATION_CHANGED = 3
    SUPERSEDED = 4
    CESSATION_OF_OPERATION = 5
    CERTIFICATE_HOLD = 6
    PRIVILEGE_WITHDRAWN = 9


class PivSlot(enum.IntEnum):
    """idm_piv_slot (<idm/encoder.h>): PIV key references."""
    AUTHENTICATION = 0x9A
    SIGNATURE = 0x9C
    KEY_MANAGEMENT = 0x9D
    CARD_AUTHENTICATION = 0x9E


class CardKeyAlg(enum.IntEnum):
    """idm_card_key_alg (<idm/encoder.h>): PIV algorithm identifiers of card keys."""
    RSA_2048 = 0x07
    EC_P256 = 0x11


class MgmtKeyAlg(enum.IntEnum):
    """idm_mgmt_key_alg (<idm/encoder.h>).  IDM_MGMT_KEY_3DES is TDES here."""
    TDES = 0x03
    AES128 = 0x08
    AES192 = 0x0A
    AES256 = 0x0C


class PivObject(enum.IntEnum):
    """idm_piv_object (<idm/encoder.h>): BER-TLV tags of the PIV data objects."""
    CHUID = 0x5FC102
    CCC = 0x5FC107
    PRINTED_INFO = 0x5FC109
    CERT_AUTHENTICATION = 0x5FC105
    CERT_SIGNATURE = 0x5FC10A
    CERT_KEY_MANAGEMENT = 0x5FC10B
    CERT_CARD_AUTHENTICATION = 0x5FC101


class ProductionStep(enum.IntFlag):
    """idm_production_step (<idm/production.h>): bits, OR-ed by idm_process_steps()."""
    READINESS = 0x01
    ISSUE = 0x02
    PRODUCE = 0x04
    VERIFY = 0x08
    COMPLETE = 0x10


class BureauStatus(enum.IntEnum):
    """idm_bureau_status (<idm/producer.h>)."""
    IN_PRODUCTION = 0
    PRODUCED = 1
    FAILED = 2


class NotificationKind(enum.IntEnum):
    """idm_notification_kind (<idm/notifier.h>)."""
    CARD_ORDERED = 0
    CARD_PRODUCED = 1
    CARD_ACTIVATED = 2


class CardFace(enum.IntEnum):
    """idm_card_face (<idm/layout.h>): a face of a card."""
    FRONT = 0
    BACK = 1


class RenderFormat(enum.IntEnum):
    """idm_render_format (<idm/layout.h>): what Layout.render() produces."""
    PNG = 0
    PDF = 1


# C enum name -> (class, prefix its enumerators drop)
C_ENUMS = {
    "idm_err": (ErrorCode, "IDM_ERR_"),
    "idm_log_level": (LogLevel, "IDM_LOG_"),
    "idm_option_type": (OptionType, "IDM_OPTION_"),
    "idm_identity_state": (IdentityState, "IDM_IDENTITY_"),
    "idm_card_type": (CardType, "IDM_CARD_"),
    "idm_card_option": (CardOption, "IDM_CARD_"),
    "idm_production": (Production, "IDM_PRODUCTION_"),
    "idm_card_state": (CardState, "IDM_CARD_"),
    "idm_cert_state": (CertState, "IDM_CERT_"),
    "idm_order_kind": (OrderKind, "IDM_ORDER_"),
    "idm_order_state": (OrderState, "IDM_ORDER_"),
    "idm_order_card_outcome": (OrderCardOutcome, "IDM_OUTCOME_"),
    "idm_object_type": (ObjectType, "IDM_OBJECT_"),
    "idm_key_type": (KeyType, "IDM_KEY_"),
    "idm_key_usage": (KeyUsage, "IDM_USAGE_"),
    "idm_revocation_reason": (RevocationReason, "IDM_REVOKE_"),
    "idm_piv_slot": (PivSlot, "IDM_PIV_SLOT_"),
    "idm_card_key_alg": (CardKeyAlg, "IDM_CARD_KEY_"),
    "idm_mgmt_key_alg": (MgmtKeyAlg, "IDM_MGMT_KEY_"),
    "idm_piv_object": (PivObject, "IDM_PIV_OBJECT_"),
    "idm_production_step": (ProductionStep, "IDM_STEP_"),
    "idm_bureau_status": (BureauStatus, "IDM_BUREAU_"),
    "idm_notification_kind": (NotificationKind, "IDM_NOTIFY_"),
    "idm_card_face": (CardFace, "IDM_FACE_"),
    "idm_render_format": (RenderFormat, "IDM_RENDER_"),
}

# C enumerator -> member name, where dropping the prefix does not give one
C_RENAMED = {
    "IDM_OK": "OK",               # the one idm_err value without IDM_ERR_
    "IDM_MGMT_KEY_3DES": "TDES",  # "3DES" is not an identifier
}


def member_name(c_name, prefix):
    """The Python member name of a C enumerator of an enum with this prefix."""
    if c_name in C_RENAMED:
        return C_RENAMED[c_name]
    if not c_name.startswith(prefix):
        raise ValueError(f"{c_name} does not start with {prefix}")
    return c_name[len(prefix):]
