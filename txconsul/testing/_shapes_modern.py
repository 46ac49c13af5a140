# -*- test-case-name: tests.test_api_modern_robust -*-
"""
The Go structs the newer endpoints decode their bodies into, for
:func:`txconsul.testing._gojson.decode_body` (Consul's ``decodeBody``:
unknown fields and wrong JSON types are 400s with Go's texts).
"""

from __future__ import annotations

from ._gojson import AnyValue, Bool, Field, Int, List, Map, Opaque, Struct, String, Uint

_S = String()
_RAFT = [Field("CreateIndex", Uint()), Field("ModifyIndex", Uint())]

#: api.AgentToken (api/agent.go), PUT /v1/agent/token/:type.
AGENT_TOKEN = Struct("AgentToken", [Field("Token", _S)], "api.AgentToken")

#: structs.ConnectAuthorizeRequest (agent/structs/connect.go), CE fields.
CONNECT_AUTHORIZE = Struct(
    "ConnectAuthorizeRequest",
    [Field("Target", _S), Field("ClientCertURI", _S), Field("ClientCertSerial", _S)],
    "structs.ConnectAuthorizeRequest",
)

#: agent.keyringArgs (agent/operator_endpoint.go).
KEYRING_ARGS = Struct(
    "keyringArgs",
    [
        Field("Key", _S),
        Field("Token", _S),
        Field("RelayFactor", Uint("uint8", 8)),
        Field("LocalOnly", Bool()),
    ],
    "agent.keyringArgs",
)

#: structs.Intention (agent/structs/intention.go), PUT /v1/connect/intentions/exact.
INTENTION = Struct(
    "Intention",
    [
        Field("ID", _S),
        Field("Description", _S),
        Field("SourcePeer", _S),
        Field("SourceNS", _S),
        Field("SourceName", _S),
        Field("DestinationNS", _S),
        Field("DestinationName", _S),
        Field("SourcePartition", _S),
        Field("DestinationPartition", _S),
        Field("SourceType", _S),
        Field("Action", _S),
        Field("Permissions", List(Opaque("structs.IntentionPermission"))),
        Field("LegacyMeta", Map(_S), json="Meta"),
        Field("Precedence", Int()),
        Field("CreatedAt", AnyValue()),
        Field("UpdatedAt", AnyValue()),
        Field("Hash", AnyValue()),
        *_RAFT,
    ],
    "structs.Intention",
)

#: structs.ACLLoginParams (agent/structs/acl.go), POST /v1/acl/login.
ACL_LOGIN = Struct(
    "ACLLoginParams",
    [Field("AuthMethod", _S), Field("BearerToken", _S), Field("Meta", Map(_S))],
    "structs.ACLLoginParams",
)
