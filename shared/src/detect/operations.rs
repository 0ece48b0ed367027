//! The KMS operations keytrail knows, defined once: the name CloudTrail records as
//! `eventName`, what the call does with a key, and the `EventName` dimension value of
//! `KMSApiCalls`. The metrics, key resolution, the review's unused-key logic and the
//! catalog's predicates all read this table.

/// What a KMS operation does with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// Uses the key's material: what "the key was used" means for the review.
    Cryptographic,
    /// Changes a key, its policy, grants, aliases, tags, rotation or key store.
    Lifecycle,
    /// Reads metadata (describe, get, list), or needs no key (`GenerateRandom`).
    Read,
}

/// One KMS API operation.
#[derive(Debug, PartialEq, Eq)]
pub struct Operation {
    /// The API name, as CloudTrail records it in `eventName`.
    pub name: &'static str,
    pub kind: OpKind,
}

impl Operation {
    pub fn is_cryptographic(&self) -> bool {
        self.kind == OpKind::Cryptographic
    }

    /// `GenerateDataKey` and its variants (without plaintext, key pairs).
    pub fn generates_data_key(&self) -> bool {
        self.name.starts_with("GenerateDataKey")
    }

    /// The `EventName` dimension value of `KMSApiCalls` for this operation.
    pub fn dimension(&self) -> &'static str {
        self.name
    }
}

/// The `EventName` dimension value of every call that is not in [`OPERATIONS`].
pub const OTHER_OPERATION: &str = "Other";

macro_rules! operations {
    ($($konst:ident = $name:literal: $kind:ident,)*) => {
        /// The operation names, for the catalog's predicates and key resolution.
        pub mod op {
            $(pub const $konst: &str = $name;)*
        }

        /// Every known operation, sorted by name (looked up by binary search).
        pub static OPERATIONS: &[Operation] = &[
            $(Operation { name: $name, kind: OpKind::$kind },)*
        ];
    };
}

operations! {
    CANCEL_KEY_DELETION = "CancelKeyDeletion": Lifecycle,
    CONNECT_CUSTOM_KEY_STORE = "ConnectCustomKeyStore": Lifecycle,
    CREATE_ALIAS = "CreateAlias": Lifecycle,
    CREATE_CUSTOM_KEY_STORE = "CreateCustomKeyStore": Lifecycle,
    CREATE_GRANT = "CreateGrant": Lifecycle,
    CREATE_KEY = "CreateKey": Lifecycle,
    DECAPSULATE = "Decapsulate": Cryptographic,
    DECRYPT = "Decrypt": Cryptographic,
    DELETE_ALIAS = "DeleteAlias": Lifecycle,
    DELETE_CUSTOM_KEY_STORE = "DeleteCustomKeyStore": Lifecycle,
    DELETE_EXPIRED_KEY_MATERIAL = "DeleteExpiredKeyMaterial": Lifecycle,
    DELETE_IMPORTED_KEY_MATERIAL = "DeleteImportedKeyMaterial": Lifecycle,
    DELETE_KEY = "DeleteKey": Lifecycle,
    DERIVE_SHARED_SECRET = "DeriveSharedSecret": Cryptographic,
    DESCRIBE_CUSTOM_KEY_STORES = "DescribeCustomKeyStores": Read,
    DESCRIBE_KEY = "DescribeKey": Read,
    DISABLE_KEY = "DisableKey": Lifecycle,
    DISABLE_KEY_ROTATION = "DisableKeyRotation": Lifecycle,
    DISCONNECT_CUSTOM_KEY_STORE = "DisconnectCustomKeyStore": Lifecycle,
    ENABLE_KEY = "EnableKey": Lifecycle,
    ENABLE_KEY_ROTATION = "EnableKeyRotation": Lifecycle,
    ENCAPSULATE = "Encapsulate": Cryptographic,
    ENCRYPT = "Encrypt": Cryptographic,
    GENERATE_DATA_KEY = "GenerateDataKey": Cryptographic,
    GENERATE_DATA_KEY_PAIR = "GenerateDataKeyPair": Cryptographic,
    GENERATE_DATA_KEY_PAIR_WITHOUT_PLAINTEXT = "GenerateDataKeyPairWithoutPlaintext": Cryptographic,
    GENERATE_DATA_KEY_WITHOUT_PLAINTEXT = "GenerateDataKeyWithoutPlaintext": Cryptographic,
    GENERATE_MAC = "GenerateMac": Cryptographic,
    GENERATE_RANDOM = "GenerateRandom": Read,
    GET_KEY_LAST_USAGE = "GetKeyLastUsage": Read,
    GET_KEY_POLICY = "GetKeyPolicy": Read,
    GET_KEY_ROTATION_STATUS = "GetKeyRotationStatus": Read,
    GET_PARAMETERS_FOR_IMPORT = "GetParametersForImport": Read,
    GET_PUBLIC_KEY = "GetPublicKey": Read,
    IMPORT_KEY_MATERIAL = "ImportKeyMaterial": Lifecycle,
    LIST_ALIASES = "ListAliases": Read,
    LIST_GRANTS = "ListGrants": Read,
    LIST_KEY_POLICIES = "ListKeyPolicies": Read,
    LIST_KEY_ROTATIONS = "ListKeyRotations": Read,
    LIST_KEYS = "ListKeys": Read,
    LIST_RESOURCE_TAGS = "ListResourceTags": Read,
    LIST_RETIRABLE_GRANTS = "ListRetirableGrants": Read,
    PUT_KEY_POLICY = "PutKeyPolicy": Lifecycle,
    RE_ENCRYPT = "ReEncrypt": Cryptographic,
    REPLICATE_KEY = "ReplicateKey": Lifecycle,
    RETIRE_GRANT = "RetireGrant": Lifecycle,
    REVOKE_GRANT = "RevokeGrant": Lifecycle,
    ROTATE_KEY = "RotateKey": Lifecycle,
    ROTATE_KEY_ON_DEMAND = "RotateKeyOnDemand": Lifecycle,
    SCHEDULE_KEY_DELETION = "ScheduleKeyDeletion": Lifecycle,
    SIGN = "Sign": Cryptographic,
    SYNCHRONIZE_MULTI_REGION_KEY = "SynchronizeMultiRegionKey": Lifecycle,
    TAG_RESOURCE = "TagResource": Lifecycle,
    UNTAG_RESOURCE = "UntagResource": Lifecycle,
    UPDATE_ALIAS = "UpdateAlias": Lifecycle,
    UPDATE_CUSTOM_KEY_STORE = "UpdateCustomKeyStore": Lifecycle,
    UPDATE_KEY_DESCRIPTION = "UpdateKeyDescription": Lifecycle,
    UPDATE_PRIMARY_REGION = "UpdatePrimaryRegion": Lifecycle,
    VERIFY = "Verify": Cryptographic,
    VERIFY_MAC = "VerifyMac": Cryptographic,
}

/// The known operation of an `eventName`.
pub fn operation(name: &str) -> Option<&'static Operation> {
    OPERATIONS
        .binary_search_by(|o| o.name.cmp(name))
        .ok()
        .map(|i| &OPERATIONS[i])
}

/// The `EventName` dimension value for an event name: its own for a known operation,
/// [`OTHER_OPERATION`] for anything else (the metric's values stay bounded).
pub fn operation_dimension(name: &str) -> &'static str {
    operation(name).map_or(OTHER_OPERATION, Operation::dimension)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_found() {
        for w in OPERATIONS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        for o in OPERATIONS {
            assert_eq!(operation(o.name), Some(o));
            assert_eq!(operation_dimension(o.name), o.name);
        }
        assert_eq!(operation("Frobnicate"), None);
        assert_eq!(operation_dimension("Frobnicate"), OTHER_OPERATION);
        assert_eq!(operation_dimension(""), OTHER_OPERATION);
    }

    #[test]
    fn kinds() {
        let crypto: Vec<&str> = OPERATIONS
            .iter()
            .filter(|o| o.is_cryptographic())
            .map(|o| o.name)
            .collect();
        assert_eq!(crypto.len(), 14, "{crypto:?}");
        for n in [
            op::DECRYPT,
            op::RE_ENCRYPT,
            op::SIGN,
            op::DERIVE_SHARED_SECRET,
            op::ENCAPSULATE,
            op::DECAPSULATE,
        ] {
            assert!(operation(n).is_some_and(Operation::is_cryptographic), "{n}");
        }
        for n in [op::GENERATE_RANDOM, op::DESCRIBE_KEY, op::LIST_KEYS] {
            assert_eq!(operation(n).map(|o| o.kind), Some(OpKind::Read), "{n}");
        }
        for n in [op::SCHEDULE_KEY_DELETION, op::DELETE_KEY] {
            assert_eq!(operation(n).map(|o| o.kind), Some(OpKind::Lifecycle), "{n}");
        }
        let data_key: Vec<&str> = OPERATIONS
            .iter()
            .filter(|o| o.generates_data_key())
            .map(|o| o.name)
            .collect();
        assert_eq!(data_key.len(), 4, "{data_key:?}");
    }
}
