# -*- test-case-name: tests.test_fake_decode -*-
"""
The Go struct shapes Consul decodes request bodies into (non-ACL
endpoints), for :mod:`txconsul.testing._gojson`.

Field lists follow hashicorp/consul (1.21) ``agent/structs/structs.go``,
``agent/structs/check_type.go``, ``agent/structs/check_definition.go``,
``agent/structs/service_definition.go``, ``api/txn.go``,
``agent/structs/prepared_query.go`` and ``agent/structs/operator.go``.
Community edition: ``acl.EnterpriseMeta`` is an empty struct there, so
``Namespace``/``Partition`` are unknown fields.  Structs whose insides the
fake does not model (Connect proxy configuration, check definitions echoed
back) are :class:`~txconsul.testing._gojson.Opaque`: an object is accepted
as is, another JSON kind is refused.
"""

from __future__ import annotations

from txconsul.testing._gojson import (
    AnyValue,
    Bool,
    Duration,
    Field,
    Float,
    Int,
    List,
    Map,
    Opaque,
    Ptr,
    String,
    Struct,
    Uint,
)

_S = String()
_CHECK_ID = String("types.CheckID")
_NODE_ID = String("types.NodeID")
_KIND = String("structs.ServiceKind")
_STRINGS = List(_S)
_META = Map(_S)
_RAFT = [Field("CreateIndex", Uint()), Field("ModifyIndex", Uint())]

WEIGHTS = Struct("Weights", [Field("Passing", Int()), Field("Warning", Int())], "structs.Weights")
SERVICE_ADDRESS = Struct(
    "ServiceAddress", [Field("Address", _S), Field("Port", Int())], "structs.ServiceAddress"
)
LOCALITY = Struct("Locality", [Field("Region", _S), Field("Zone", _S)], "structs.Locality")
PROXY = Opaque("structs.ConnectProxyConfig")
CONNECT = Opaque("structs.ServiceConnect")
_HEADER = Map(List(_S))

#: The fields CheckType and CheckDefinition share (check_type.go).
_CHECK_COMMON = [
    Field("ScriptArgs", _STRINGS),
    Field("HTTP", _S),
    Field("H2PING", _S),
    Field("H2PingUseTLS", Bool()),
    Field("Header", _HEADER),
    Field("Method", _S),
    Field("Body", _S),
    Field("DisableRedirects", Bool()),
    Field("TCP", _S),
    Field("TCPUseTLS", Bool()),
    Field("UDP", _S),
    Field("AliasNode", _S),
    Field("AliasService", _S),
    Field("DockerContainerID", _S),
    Field("Shell", _S),
    Field("GRPC", _S),
    Field("GRPCUseTLS", Bool()),
    Field("OSService", _S),
    Field("TLSServerName", _S),
    Field("TLSSkipVerify", Bool()),
    Field("SuccessBeforePassing", Int()),
    Field("FailuresBeforeWarning", Int()),
    Field("FailuresBeforeCritical", Int()),
    Field("OutputMaxSize", Int()),
    # The aux struct's interface{} durations hide Alias's time.Duration ones.
    Field("Interval", Duration()),
    Field("Timeout", Duration()),
    Field("TTL", Duration()),
    Field("DeregisterCriticalServiceAfter", Duration()),
    # Translated snake_case spellings (json tags on the aux struct).
    Field("Args", _STRINGS, "args"),
    Field("ScriptArgsSnake", _STRINGS, "script_args"),
    Field("DeregisterCriticalServiceAfterSnake", Duration(), "deregister_critical_service_after"),
    Field("DockerContainerIDSnake", _S, "docker_container_id"),
    Field("TLSServerNameSnake", _S, "tls_server_name"),
    Field("TLSSkipVerifySnake", Bool(), "tls_skip_verify"),
    Field("GRPCUseTLSSnake", Bool(), "grpc_use_tls"),
    Field("H2PingUseTLSSnake", Bool(), "h2ping_use_tls"),
]

#: structs.CheckType as its UnmarshalJSON decodes it (check_type.go): an
#: anonymous aux struct, so errors name the struct "".
CHECK_TYPE = Struct(
    "",
    [
        Field("CheckID", _CHECK_ID),
        Field("Name", _S),
        Field("Status", _S),
        Field("Notes", _S),
        Field("ProxyHTTP", _S),
        Field("ProxyGRPC", _S),
        Field("ServiceID", _S),
        Field("ServiceIDSnake", _S, "service_id"),
        *_CHECK_COMMON,
    ],
    "structs.CheckType",
    custom=True,
)

#: structs.CheckDefinition (check_definition.go), PUT /v1/agent/check/register.
CHECK_DEFINITION = Struct(
    "",
    [
        Field("ID", _CHECK_ID),
        Field("Name", _S),
        Field("Notes", _S),
        Field("ServiceID", _S),
        Field("Token", _S),
        Field("Status", _S),
        Field("ServiceIDSnake", _S, "service_id"),
        Field("DisableRedirectsSnake", Bool(), "disable_redirects"),
        *_CHECK_COMMON,
    ],
    "structs.CheckDefinition",
    custom=True,
)

#: structs.ServiceDefinition (service_definition.go), PUT /v1/agent/service/register.
SERVICE_DEFINITION = Struct(
    "",
    [
        Field("Kind", _KIND),
        Field("ID", _S),
        Field("Name", _S),
        Field("Tags", _STRINGS),
        Field("Address", _S),
        Field("TaggedAddresses", Map(SERVICE_ADDRESS)),
        Field("Meta", _META),
        Field("Port", Int()),
        Field("Ports", List(AnyValue(), "structs.ServicePorts")),
        Field("SocketPath", _S),
        Field("Check", CHECK_TYPE),
        Field("Checks", List(Ptr(CHECK_TYPE), "structs.CheckTypes")),
        Field("Weights", Ptr(WEIGHTS)),
        Field("Token", _S),
        Field("EnableTagOverride", Bool()),
        Field("Locality", Ptr(LOCALITY)),
        Field("Proxy", Ptr(PROXY)),
        Field("Connect", Ptr(CONNECT)),
        Field("EnableTagOverrideSnake", Bool(), "enable_tag_override"),
        Field("TaggedAddressesSnake", Map(SERVICE_ADDRESS), "tagged_addresses"),
    ],
    "structs.ServiceDefinition",
    custom=True,
)

#: The agent's checkUpdate (agent_endpoint.go), PUT /v1/agent/check/update/.
CHECK_UPDATE = Struct("checkUpdate", [Field("Status", _S), Field("Output", _S)], "agent.checkUpdate")

#: structs.NodeService (structs.go): the Service of a catalog registration.
NODE_SERVICE = Struct(
    "NodeService",
    [
        Field("Kind", _KIND),
        Field("ID", _S),
        Field("Service", _S),
        Field("Tags", _STRINGS),
        Field("Address", _S),
        Field("TaggedAddresses", Map(SERVICE_ADDRESS)),
        Field("Meta", _META),
        Field("Port", Int()),
        Field("SocketPath", _S),
        Field("Weights", Ptr(WEIGHTS)),
        Field("EnableTagOverride", Bool()),
        Field("Locality", Ptr(LOCALITY)),
        Field("Proxy", PROXY),
        Field("Connect", CONNECT),
        Field("PeerName", _S),
        *_RAFT,
    ],
    "structs.NodeService",
)

#: structs.HealthCheck (structs.go): a check of a catalog registration.
HEALTH_CHECK = Struct(
    "HealthCheck",
    [
        Field("Node", _S),
        Field("CheckID", _CHECK_ID),
        Field("Name", _S),
        Field("Status", _S),
        Field("Notes", _S),
        Field("Output", _S),
        Field("ServiceID", _S),
        Field("ServiceName", _S),
        Field("ServiceTags", _STRINGS),
        Field("Type", _S),
        Field("Interval", _S),
        Field("Timeout", _S),
        Field("ExposedPort", Int()),
        Field("PeerName", _S),
        Field("Definition", Opaque("structs.HealthCheckDefinition")),
        *_RAFT,
    ],
    "structs.HealthCheck",
)

#: structs.RegisterRequest (structs.go), PUT /v1/catalog/register.
REGISTER_REQUEST = Struct(
    "RegisterRequest",
    [
        Field("Datacenter", _S),
        Field("ID", _NODE_ID),
        Field("Node", _S),
        Field("Address", _S),
        Field("TaggedAddresses", _META),
        Field("NodeMeta", _META),
        Field("Service", Ptr(NODE_SERVICE)),
        Field("Check", Ptr(HEALTH_CHECK)),
        Field("Checks", List(Ptr(HEALTH_CHECK), "structs.HealthChecks")),
        Field("Locality", Ptr(LOCALITY)),
        Field("SkipNodeUpdate", Bool()),
        Field("PeerName", _S),
        Field("Token", _S),  # promoted from the embedded WriteRequest
        *_RAFT,
    ],
    "structs.RegisterRequest",
)

#: structs.DeregisterRequest (structs.go), PUT /v1/catalog/deregister; its
#: UnmarshalJSON also accepts the obsolete ``Address``.
DEREGISTER_REQUEST = Struct(
    "",
    [
        Field("Address", _S),
        Field("Datacenter", _S),
        Field("Node", _S),
        Field("ServiceID", _S),
        Field("CheckID", _CHECK_ID),
        Field("PeerName", _S),
        Field("Token", _S),
    ],
    "structs.DeregisterRequest",
    custom=True,
)

#: structs.Session (structs.go), PUT /v1/session/create.  Its UnmarshalJSON
#: uses plain json.Unmarshal: unknown fields are ignored (not strict).
SESSION = Struct(
    "",
    [
        Field("ID", _S),
        Field("Name", _S),
        Field("Node", _S),
        Field("LockDelay", Duration()),
        Field("Behavior", String("structs.SessionBehavior")),
        Field("TTL", _S),
        Field("NodeChecks", _STRINGS),
        Field(
            "ServiceChecks",
            List(Struct("ServiceCheck", [Field("ID", _S), Field("Namespace", _S)], "structs.ServiceCheck")),
        ),
        Field("Checks", List(_CHECK_ID, "[]types.CheckID")),
        *_RAFT,
    ],
    "structs.Session",
    custom=True,
)

#: serf coordinate.Coordinate.
COORDINATE = Struct(
    "Coordinate",
    [
        Field("Vec", List(Float())),
        Field("Error", Float()),
        Field("Adjustment", Float()),
        Field("Height", Float()),
    ],
    "coordinate.Coordinate",
)

#: structs.CoordinateUpdateRequest (structs.go), PUT /v1/coordinate/update.
COORDINATE_UPDATE = Struct(
    "CoordinateUpdateRequest",
    [
        Field("Datacenter", _S),
        Field("Node", _S),
        Field("Segment", _S),
        Field("Coord", Ptr(COORDINATE)),
        Field("Partition", _S),
        Field("Token", _S),
    ],
    "structs.CoordinateUpdateRequest",
)

# -- /v1/txn (api/txn.go types, decoded by agent/txn_endpoint.go) -----------

_TXN_KV = Struct(
    "KVTxnOp",
    [
        Field("Verb", String("api.KVOp")),
        Field("Key", _S),
        Field("Value", String("[]uint8")),
        Field("Flags", Uint()),
        Field("Index", Uint()),
        Field("Session", _S),
        Field("Namespace", _S),
        Field("Partition", _S),
    ],
    "api.KVTxnOp",
)

_API_WEIGHTS = Struct("AgentWeights", [Field("Passing", Int()), Field("Warning", Int())], "api.AgentWeights")
_API_SERVICE_ADDRESS = Struct(
    "ServiceAddress", [Field("Address", _S), Field("Port", Int())], "api.ServiceAddress"
)

#: api.AgentService, the Service of a txn service op.
TXN_SERVICE = Struct(
    "AgentService",
    [
        Field("Kind", String("api.ServiceKind")),
        Field("ID", _S),
        Field("Service", _S),
        Field("Tags", _STRINGS),
        Field("Meta", _META),
        Field("Port", Int()),
        Field("Address", _S),
        Field("SocketPath", _S),
        Field("TaggedAddresses", Map(_API_SERVICE_ADDRESS)),
        Field("Weights", _API_WEIGHTS),
        Field("EnableTagOverride", Bool()),
        Field("CreateIndex", Uint()),
        Field("ModifyIndex", Uint()),
        Field("ContentHash", _S),
        Field("Proxy", Ptr(Opaque("api.AgentServiceConnectProxyConfig"))),
        Field("Connect", Ptr(Opaque("api.AgentServiceConnect"))),
        Field("PeerName", _S),
        Field("Namespace", _S),
        Field("Partition", _S),
        Field("Datacenter", _S),
        Field("Locality", Ptr(Struct("Locality", [Field("Region", _S), Field("Zone", _S)], "api.Locality"))),
    ],
    "api.AgentService",
)

_TXN_NODE = Struct(
    "Node",
    [
        Field("ID", _S),
        Field("Node", _S),
        Field("Address", _S),
        Field("Datacenter", _S),
        Field("TaggedAddresses", _META),
        Field("Meta", _META),
        Field("CreateIndex", Uint()),
        Field("ModifyIndex", Uint()),
        Field("Partition", _S),
        Field("PeerName", _S),
        Field("Locality", Ptr(Struct("Locality", [Field("Region", _S), Field("Zone", _S)], "api.Locality"))),
    ],
    "api.Node",
)

_TXN_CHECK = Struct(
    "HealthCheck",
    [
        Field("Node", _S),
        Field("CheckID", _S),
        Field("Name", _S),
        Field("Status", _S),
        Field("Notes", _S),
        Field("Output", _S),
        Field("ServiceID", _S),
        Field("ServiceName", _S),
        Field("ServiceTags", _STRINGS),
        Field("Type", _S),
        Field("Namespace", _S),
        Field("Partition", _S),
        Field("ExposedPort", Int()),
        Field("PeerName", _S),
        Field("Definition", Opaque("api.HealthCheckDefinition")),
        Field("CreateIndex", Uint()),
        Field("ModifyIndex", Uint()),
    ],
    "api.HealthCheck",
)

TXN_OP = Struct(
    "TxnOp",
    [
        Field("KV", Ptr(_TXN_KV)),
        Field(
            "Node",
            Ptr(
                Struct(
                    "NodeTxnOp",
                    [Field("Verb", String("api.NodeOp")), Field("Node", _TXN_NODE)],
                    "api.NodeTxnOp",
                )
            ),
        ),
        Field(
            "Service",
            Ptr(
                Struct(
                    "ServiceTxnOp",
                    [
                        Field("Verb", String("api.ServiceOp")),
                        Field("Node", _S),
                        Field("Service", TXN_SERVICE),
                    ],
                    "api.ServiceTxnOp",
                )
            ),
        ),
        Field(
            "Check",
            Ptr(
                Struct(
                    "CheckTxnOp",
                    [Field("Verb", String("api.CheckOp")), Field("Check", _TXN_CHECK)],
                    "api.CheckTxnOp",
                )
            ),
        ),
    ],
    "api.TxnOp",
)

#: api.TxnOps: the body of PUT /v1/txn.
TXN_OPS = List(Ptr(TXN_OP), "api.TxnOps")

# -- prepared queries (agent/structs/prepared_query.go) ---------------------

_FAILOVER = Struct(
    "QueryFailoverOptions",
    [
        Field("NearestN", Int()),
        Field("Datacenters", _STRINGS),
        Field(
            "Targets",
            List(
                Struct(
                    "QueryFailoverTarget",
                    [
                        Field("Peer", _S),
                        Field("Datacenter", _S),
                        Field("Partition", _S),
                        Field("Namespace", _S),
                    ],
                    "structs.QueryFailoverTarget",
                )
            ),
        ),
    ],
    "structs.QueryFailoverOptions",
)

_SERVICE_QUERY = Struct(
    "ServiceQuery",
    [
        Field("Service", _S),
        Field("SamenessGroup", _S),
        Field("Failover", _FAILOVER),
        Field("IgnoreCheckIDs", List(_CHECK_ID, "[]types.CheckID")),
        Field("OnlyPassing", Bool()),
        Field("Near", _S),
        Field("Tags", _STRINGS),
        Field("NodeMeta", _META),
        Field("ServiceMeta", _META),
        Field("Peer", _S),
        Field("Connect", Struct("QueryConnect", [Field("Enabled", Bool())], "structs.QueryConnect")),
    ],
    "structs.ServiceQuery",
)

#: structs.PreparedQuery, POST/PUT /v1/query[/<id>].
PREPARED_QUERY = Struct(
    "PreparedQuery",
    [
        Field("ID", _S),
        Field("Name", _S),
        Field("Session", _S),
        Field("Token", _S),
        Field(
            "Template",
            Struct(
                "QueryTemplateOptions",
                [Field("Type", _S), Field("Regexp", _S), Field("RemoveEmptyTags", Bool())],
                "structs.QueryTemplateOptions",
            ),
        ),
        Field("Service", _SERVICE_QUERY),
        Field("DNS", Struct("QueryDNSOptions", [Field("TTL", _S)], "structs.QueryDNSOptions")),
        *_RAFT,
    ],
    "structs.PreparedQuery",
)

#: api.AutopilotConfiguration, PUT /v1/operator/autopilot/configuration
#: (its durations are api.ReadableDuration: a string or nanoseconds).
AUTOPILOT_CONFIGURATION = Struct(
    "AutopilotConfiguration",
    [
        Field("CleanupDeadServers", Bool()),
        Field("LastContactThreshold", Ptr(Duration())),
        Field("MaxTrailingLogs", Uint()),
        Field(
            "MinQuorum",
            Uint("uint"),
        ),
        Field("ServerStabilizationTime", Ptr(Duration())),
        Field("RedundancyZoneTag", _S),
        Field("DisableUpgradeMigration", Bool()),
        Field("UpgradeVersionTag", _S),
        Field("CreateIndex", Uint()),
        Field("ModifyIndex", Uint()),
    ],
    "api.AutopilotConfiguration",
)
