# -*- test-case-name: tests.test_api_modern_operator -*-
"""
FakeConsul's newer operator endpoints: Raft peer removal and leadership
transfer, autopilot configuration/health/state, the gossip keyring and
usage (agent/operator_endpoint.go, agent/consul/operator_*_endpoint.go).

The fake is a single server, leader and only voter: removing it or moving
leadership away fails as Raft makes it fail.  Its gossip pools are
encrypted with one key from the start (as an agent started with
``-encrypt``), so the keyring can be listed and changed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, Optional

from ._acl import require
from ._core import FakeRequest, HTTPError, Reply, Route, go_quote, parse_common, parse_go_duration, parse_uint
from ._gojson import decode_body
from ._shapes_modern import KEYRING_ARGS

#: agent/consul/config.go DefaultConfig AutopilotConfig.
DEFAULT_AUTOPILOT = {
    "CleanupDeadServers": True,
    "LastContactThreshold": "200ms",
    "MaxTrailingLogs": 250,
    "MinQuorum": 0,
    "ServerStabilizationTime": "10s",
    "RedundancyZoneTag": "",
    "DisableUpgradeMigration": False,
    "UpgradeVersionTag": "",
}

_DURATIONS = ("LastContactThreshold", "ServerStabilizationTime")
_BOOLS = ("CleanupDeadServers", "DisableUpgradeMigration")
_INTS = ("MaxTrailingLogs", "MinQuorum")
_STRINGS = ("RedundancyZoneTag", "UpgradeVersionTag")

#: The Connect service kinds Consul's usage counts.
_CONNECT_KINDS = (
    "api-gateway",
    "connect-native",
    "connect-proxy",
    "ingress-gateway",
    "mesh-gateway",
    "terminating-gateway",
)


def _format_duration(seconds: float) -> str:
    """Go's ``time.Duration.String`` for the values autopilot holds."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:g}ms"
    out = ""
    whole = seconds
    hours = int(whole // 3600)
    whole -= hours * 3600
    minutes = int(whole // 60)
    whole -= minutes * 60
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    out += f"{whole:g}s"
    return out


class OperatorModernPart:
    """
    Raft peers, autopilot, keyring and usage of a FakeConsul.

    :ivar autopilot: the autopilot configuration (durations as Go strings).
    :ivar keys: the installed gossip keys (base64), the primary first.
    """

    def __init__(self, core: Any, peers: Any) -> None:
        self.core = core
        self._peers = peers
        self.autopilot: dict[str, Any] = dict(DEFAULT_AUTOPILOT)
        self.autopilot_index = core.index
        self.autopilot_create_index = core.index
        # Derived from the node's identity, so the seeded ID generator is untouched.
        seed = f"{core.node_name}/{core.datacenter}".encode("utf-8")
        key = base64.b64encode(hashlib.sha256(seed).digest()).decode("ascii")
        self.keys: list[str] = [key]
        self.primary = key
        self._started = core.clock.seconds()

    def routes(self) -> list[Route]:
        """The newer operator routes."""
        return [
            Route("/v1/operator/raft/peer", ("DELETE",), self._remove_peer, parse=False),
            Route("/v1/operator/raft/transfer-leader", ("POST",), self._transfer_leader, parse=False),
            # agent/operator_endpoint.go: GET calls s.parse; PUT reads ?dc
            # only, after decoding the body and ?cas.
            Route(
                "/v1/operator/autopilot/configuration",
                ("GET", "PUT"),
                self._autopilot_configuration,
                check_dc=False,
                parse=False,
            ),
            Route("/v1/operator/autopilot/health", ("GET",), self._autopilot_health),
            Route("/v1/operator/autopilot/state", ("GET",), self._autopilot_state),
            Route(
                "/v1/operator/keyring",
                ("GET", "POST", "PUT", "DELETE"),
                self._keyring,
                check_dc=False,
                parse=False,
            ),
            Route("/v1/operator/usage", ("GET",), self._usage),
        ]

    def _server(self) -> dict[str, Any]:
        return self._peers.operator.raft_configuration()["Servers"][0]

    # -- raft ---------------------------------------------------------------------

    def _remove_peer(self, req: FakeRequest) -> Reply:
        # agent/operator_endpoint.go OperatorRaftPeer: presence, not value.
        has_id, has_address = req.has("id"), req.has("address")
        peer_id = req.get("id") or ""
        address = req.get("address") or ""
        if not has_id and not has_address:
            raise HTTPError(
                400, "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove"
            )
        if has_id and has_address:
            raise HTTPError(400, "Must specify only one of ?id or ?address")
        require(req, "operator", "", "write")
        server = self._server()
        if has_id:
            if peer_id != server["ID"]:
                raise HTTPError(500, f"id {go_quote(peer_id)} was not found in the Raft configuration")
        elif address != server["Address"]:
            raise HTTPError(500, f"address {go_quote(address)} was not found in the Raft configuration")
        # hashicorp/raft checkConfiguration: removing the only voter is refused.
        raise HTTPError(500, "need at least one voter in configuration: {[]}")

    def _transfer_leader(self, req: FakeRequest) -> Reply:
        require(req, "operator", "", "write")
        peer_id = req.get("id") or ""
        if peer_id and peer_id == self._server()["ID"]:
            raise HTTPError(500, "cannot transfer leadership to itself")
        # hashicorp/raft leadershipTransfer: no other voter to hand over to.
        raise HTTPError(500, "cannot find peer")

    # -- autopilot ------------------------------------------------------------------

    def autopilot_body(self) -> dict[str, Any]:
        """The configuration with its indexes."""
        body = dict(self.autopilot)
        body["CreateIndex"] = self.autopilot_create_index
        body["ModifyIndex"] = self.autopilot_index
        return body

    def _autopilot_configuration(self, req: FakeRequest) -> Reply:
        if req.method == "GET":
            parse_common(req)
            self.core.check_dc(req)
            require(req, "operator", "", "read")
            return Reply(self.autopilot_body())
        body = req.json()
        if body is not None and not isinstance(body, dict):
            raise HTTPError(
                400,
                "Error parsing autopilot config: json: cannot unmarshal into Go value of type api.AutopilotConfiguration",
            )
        new = self._decode_autopilot(body or {})
        cas: Optional[int] = None
        if req.has("cas"):
            try:
                cas = parse_uint(req.get("cas") or "")
            except ValueError as e:
                raise HTTPError(400, f"Error parsing cas value: {e}")
        self.core.check_dc(req)
        require(req, "operator", "", "write")
        if cas is not None and cas != self.autopilot_index:
            return Reply(False)
        self.autopilot = new
        self.autopilot_index = self.core.next_index()
        return Reply(True)

    @staticmethod
    def _decode_autopilot(body: dict[str, Any]) -> dict[str, Any]:
        """
        The handler decodes into a zero ``api.AutopilotConfiguration``: a
        field the body leaves out is reset to its zero value.
        """
        canon = {k.lower(): v for k, v in body.items() if isinstance(k, str)}
        out: dict[str, Any] = {}
        for name in DEFAULT_AUTOPILOT:
            value = canon.get(name.lower())
            if name in _DURATIONS:
                if value is None:
                    out[name] = "0s"
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[name] = _format_duration(value / 1e9)
                elif isinstance(value, str):
                    try:
                        out[name] = _format_duration(parse_go_duration(value))
                    except ValueError:
                        raise HTTPError(
                            400, f"Error parsing autopilot config: time: invalid duration {go_quote(value)}"
                        )
                else:
                    raise HTTPError(400, f"Error parsing autopilot config: invalid duration for {name}")
            elif name in _BOOLS:
                if value is not None and not isinstance(value, bool):
                    raise HTTPError(
                        400,
                        f"Error parsing autopilot config: json: cannot unmarshal into Go struct field AutopilotConfiguration.{name} of type bool",
                    )
                out[name] = bool(value)
            elif name in _INTS:
                if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                    raise HTTPError(
                        400,
                        f"Error parsing autopilot config: json: cannot unmarshal into Go struct field AutopilotConfiguration.{name} of type uint64",
                    )
                out[name] = value or 0
            else:
                if value is not None and not isinstance(value, str):
                    raise HTTPError(
                        400,
                        f"Error parsing autopilot config: json: cannot unmarshal into Go struct field AutopilotConfiguration.{name} of type string",
                    )
                out[name] = value or ""
        return out

    def _server_health(self) -> dict[str, Any]:
        from ._ca import go_time
        from ._agent_modern import fake_version

        server = self._server()
        return {
            "ID": server["ID"],
            "Name": server["Node"],
            "Address": server["Address"],
            "SerfStatus": "alive",
            "Version": fake_version(self.core),
            "Leader": True,
            "LastContact": "0s",
            "LastTerm": 2,
            "LastIndex": self.core.index,
            "Healthy": True,
            "Voter": True,
            "StableSince": go_time(self._started),
        }

    def _autopilot_health(self, req: FakeRequest) -> Reply:
        require(req, "operator", "", "read")
        # A 429 would mean unhealthy; the lone server is always healthy.
        return Reply({"Healthy": True, "FailureTolerance": 0, "Servers": [self._server_health()]})

    def _autopilot_state(self, req: FakeRequest) -> Reply:
        require(req, "operator", "", "read")
        health = self._server_health()
        from ._agent_modern import fake_version

        server = {
            "ID": health["ID"],
            "Name": health["Name"],
            "Address": health["Address"],
            "NodeStatus": "alive",
            "Version": fake_version(self.core),
            "LastContact": "0s",
            "LastTerm": health["LastTerm"],
            "LastIndex": health["LastIndex"],
            "Healthy": True,
            "StableSince": health["StableSince"],
            "ReadReplica": False,
            "Status": "leader",
            "Meta": {"consul-network-segment": "", "consul-version": fake_version(self.core)},
            "NodeType": "voter",
        }
        return Reply(
            {
                "Healthy": True,
                "FailureTolerance": 0,
                "OptimisticFailureTolerance": 0,
                "Servers": {health["ID"]: server},
                "Leader": health["ID"],
                "Voters": [health["ID"]],
            }
        )

    # -- keyring -------------------------------------------------------------------------

    def keyring(self) -> list[dict[str, Any]]:
        """The list answer: the WAN pool, then the LAN pool."""
        out = []
        for wan in (True, False):
            # structs.KeyringResponse (Partition is omitempty).
            out.append(
                {
                    "WAN": wan,
                    "Datacenter": self.core.datacenter,
                    "Segment": "",
                    "Messages": None,
                    "Keys": {k: 1 for k in self.keys},
                    "PrimaryKeys": {self.primary: 1},
                    "NumNodes": 1,
                    "Error": "",
                }
            )
        return out

    def _keyring(self, req: FakeRequest) -> Reply:
        # agent/operator_endpoint.go OperatorKeyringEndpoint: the body of a
        # write is decoded first, then ?relay-factor and ?local-only.
        key = ""
        if req.method != "GET":
            args = decode_body(KEYRING_ARGS, req.body) if req.body.strip() else {}
            key = args.get("Key") or ""
        relay = req.get("relay-factor")
        if relay:
            try:
                factor = int(relay)
            except ValueError:
                raise HTTPError(
                    400,
                    f"Error parsing relay factor: strconv.Atoi: parsing {go_quote(relay)}: invalid syntax",
                )
            if not 0 <= factor <= 5:
                raise HTTPError(400, "Invalid relay-factor: Relay factor must be in range: [0, 5]")
        local_only = False
        raw_local = req.get("local-only")
        if raw_local:
            from ._catalog import parse_bool

            value = parse_bool(raw_local)
            if value is None:
                raise HTTPError(
                    400,
                    f"Error parsing local-only: strconv.ParseBool: parsing {go_quote(raw_local)}: invalid syntax",
                )
            local_only = value
            if local_only and req.method != "GET":
                raise HTTPError(400, "Invalid use of local-only: local-only can only be set for GET requests")
        if req.method == "GET":
            require(req, "keyring", "", "read")
            listed = self.keyring()
            return Reply([r for r in listed if not r["WAN"]] if local_only else listed)
        require(req, "keyring", "", "write")
        error = self._change(req.method, key)
        if error:
            dc = self.core.datacenter
            raise HTTPError(
                500, f"2 errors occurred:\n\t* WAN error: {error}\n\t* {dc} (LAN) error: {error}\n\n"
            )
        return Reply(b"", json=False)

    def _change(self, method: str, key: str) -> str:
        """Apply a keyring change; the memberlist error text, or ``''``."""
        if method == "POST":
            try:
                raw = base64.b64decode(key, validate=True)
            except (binascii.Error, ValueError) as e:
                return f"Failed to decode key from base64: {e}"
            if len(raw) not in (16, 24, 32):
                return "key size must be 16, 24 or 32 bytes"
            if key not in self.keys:
                self.keys.append(key)
            return ""
        if key not in self.keys:
            return "Requested key is not in the keyring"
        if method == "PUT":
            self.primary = key
            return ""
        if key == self.primary:
            return "Removing the primary key is not allowed"
        self.keys.remove(key)
        return ""

    # -- usage -----------------------------------------------------------------------------

    def _usage(self, req: FakeRequest) -> Any:
        require(req, "operator", "", "read")
        catalog = self._peers.catalog

        def compute() -> tuple[int, Reply]:
            index = max(catalog.services_index, catalog.nodes_index, 1)
            services = catalog.services.values()
            connect = dict.fromkeys(_CONNECT_KINDS, 0)
            billable = 0
            for svc in services:
                kind = svc.get("Kind") or ""
                if (svc.get("Connect") or {}).get("Native"):
                    connect["connect-native"] += 1
                if kind in connect:
                    connect[kind] += 1
                elif svc["Service"] != "consul":
                    billable += 1
            usage = {
                "Services": len({s["Service"] for s in services}),
                "ServiceInstances": len(catalog.services),
                "ConnectServiceInstances": connect,
                "BillableServiceInstances": billable,
                "Nodes": len(catalog.nodes),
            }
            body = {
                "Usage": {self.core.datacenter: usage},
                "Index": index,
                "LastContact": 0,
                "KnownLeader": True,
                "ConsistencyLevel": "leader",
                "NotModified": False,
                "Backend": 0,
                "ResultsFilteredByACLs": False,
            }
            return index, Reply(body, index=index)

        return self.core.blocking(req, compute)
