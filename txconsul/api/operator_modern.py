# -*- test-case-name: tests.test_api_modern_operator -*-
"""
The newer operator endpoints (Raft peers, autopilot, keyring, usage) and
``coordinate.update``, named after py-consul's and mixed into
:class:`~txconsul.api.operator.Operator` and
:class:`~txconsul.api.coordinate.Coordinate`.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from .._http import ConsulResponse, Param
from ._base import Endpoint, Request, check_cas, check_str, decode_bool, decode_true, endpoint

__all__ = ["CoordinateExtras", "OperatorExtras"]


def _true(response: ConsulResponse) -> bool:
    """``True`` for any 2xx answer, whatever its body."""
    return True


class OperatorExtras(Endpoint):
    """Raft peers, autopilot, the gossip keyring and usage."""

    @endpoint
    def raft_remove_peer(
        self,
        address: Optional[str] = None,
        peer_id: Optional[str] = None,
        token: Optional[str] = None,
        *,
        dc: Optional[str] = None,
    ) -> Request:
        """
        Remove a server from the Raft configuration by ``address``
        (``'ip:port'``) or ``peer_id`` (exactly one); fires ``True``.
        Needs ``operator:write``.
        """
        if (address is None) == (peer_id is None):
            raise ValueError("give exactly one of address or peer_id")
        params: list[Param] = (
            [("address", check_str(address, "address"))]
            if address is not None
            else [("id", check_str(peer_id, "peer_id"))]
        )
        return Request("DELETE", "/v1/operator/raft/peer", params, decode=decode_true)

    @endpoint
    def raft_transfer_leader(
        self, peer_id: Optional[str] = None, token: Optional[str] = None, *, dc: Optional[str] = None
    ) -> Request:
        """
        Move Raft leadership to ``peer_id`` (or a peer Consul picks); fires
        ``True``.  Needs ``operator:write``.
        """
        params: list[Param] = [("id", check_str(peer_id, "peer_id"))] if peer_id is not None else []
        return Request("POST", "/v1/operator/raft/transfer-leader", params, decode=_true)

    @endpoint
    def autopilot_configuration(self, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """
        The autopilot configuration: ``{'CleanupDeadServers',
        'LastContactThreshold', 'MaxTrailingLogs', 'MinQuorum',
        'ServerStabilizationTime', ..., 'CreateIndex', 'ModifyIndex'}``.
        Needs ``operator:read``.
        """
        return Request("GET", "/v1/operator/autopilot/configuration")

    @endpoint
    def update_autopilot_configuration(
        self,
        cleanup_dead_servers: Optional[bool] = None,
        last_contact_threshold: Optional[str] = None,
        max_trailing_logs: Optional[int] = None,
        min_quorum: Optional[int] = None,
        server_stabilization_time: Optional[str] = None,
        redundancy_zone_tag: Optional[str] = None,
        disable_upgrade_migration: Optional[bool] = None,
        upgrade_version_tag: Optional[str] = None,
        cas: Optional[int] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """
        Replace the autopilot configuration; fires ``True``, or with
        ``cas`` whether the configuration's ``ModifyIndex`` still matched.
        Needs ``operator:write``.

        Consul replaces the whole configuration: a field left ``None`` is
        not sent and Consul stores its zero value.  Read, change and write
        back (with ``cas``) to change one field.
        """
        body: dict[str, Any] = {}
        for key, value, kind in (
            ("CleanupDeadServers", cleanup_dead_servers, bool),
            ("LastContactThreshold", last_contact_threshold, str),
            ("MaxTrailingLogs", max_trailing_logs, int),
            ("MinQuorum", min_quorum, int),
            ("ServerStabilizationTime", server_stabilization_time, str),
            ("RedundancyZoneTag", redundancy_zone_tag, str),
            ("DisableUpgradeMigration", disable_upgrade_migration, bool),
            ("UpgradeVersionTag", upgrade_version_tag, str),
        ):
            if value is None:
                continue
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise TypeError(f"{key} must be a {kind.__name__}, not {type(value).__name__}")
            body[key] = value
        raw_cas = check_cas(cas)
        params: list[Param] = [("cas", raw_cas)] if raw_cas is not None else []
        return Request(
            "PUT", "/v1/operator/autopilot/configuration", params, json_body=body, decode=decode_bool
        )

    @endpoint
    def autopilot_health(self, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """
        The servers' health as autopilot sees it: ``{'Healthy',
        'FailureTolerance', 'Servers': [...]}``.  Consul's 429 (unhealthy)
        carries the same body and is returned, not raised.
        """
        return Request("GET", "/v1/operator/autopilot/health", expect=(200, 429))

    @endpoint
    def autopilot_state(self, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """
        Autopilot's full state (Go's ``AutopilotState``): ``{'Healthy',
        'FailureTolerance', 'Servers': {id: {...}}, 'Leader', 'Voters'}``.
        """
        return Request("GET", "/v1/operator/autopilot/state")

    @staticmethod
    def _keyring(
        method: str, key: Optional[str], relay_factor: Optional[int], local_only: Optional[bool] = None
    ) -> Request:
        params: list[Param] = []
        if relay_factor is not None:
            if (
                isinstance(relay_factor, bool)
                or not isinstance(relay_factor, int)
                or not 0 <= relay_factor <= 5
            ):
                raise ValueError(f"invalid relay_factor {relay_factor!r}: must be 0 to 5")
            params.append(("relay-factor", str(relay_factor)))
        if local_only is not None:
            params.append(("local-only", "true" if local_only else "false"))
        if key is None:
            return Request(method, "/v1/operator/keyring", params, use_dc=False)
        return Request(
            method,
            "/v1/operator/keyring",
            params,
            json_body={"Key": check_str(key, "key")},
            decode=decode_true,
            use_dc=False,
        )

    @endpoint
    def keyring_list(
        self,
        relay_factor: Optional[int] = None,
        local_only: Optional[bool] = None,
        token: Optional[str] = None,
    ) -> Request:
        """
        The gossip keys of every pool: ``[{'WAN', 'Datacenter', 'Keys':
        {key: nodes}, 'PrimaryKeys', 'NumNodes'}]``.  Needs ``keyring:read``.
        """
        return self._keyring("GET", None, relay_factor, local_only)

    @endpoint
    def keyring_install(
        self, key: str, relay_factor: Optional[int] = None, token: Optional[str] = None
    ) -> Request:
        """Install a new base64 gossip key on every member; fires ``True``.  Needs ``keyring:write``."""
        return self._keyring("POST", key, relay_factor)

    @endpoint
    def keyring_use(
        self, key: str, relay_factor: Optional[int] = None, token: Optional[str] = None
    ) -> Request:
        """Make an installed key the primary one; fires ``True``."""
        return self._keyring("PUT", key, relay_factor)

    @endpoint
    def keyring_remove(
        self, key: str, relay_factor: Optional[int] = None, token: Optional[str] = None
    ) -> Request:
        """Remove a (non-primary) key from every member; fires ``True``."""
        return self._keyring("DELETE", key, relay_factor)

    @endpoint
    def usage(
        self, global_: Optional[bool] = None, stale: Optional[bool] = None, token: Optional[str] = None
    ) -> Request:
        """
        Service and node counts: ``{'Usage': {dc: {'Services',
        'ServiceInstances', 'ConnectServiceInstances', 'Nodes', ...}}, ...}``.
        Needs ``operator:read``.
        """
        params: list[Param] = []
        if global_:
            params.append(("global", "true"))
        if stale:
            params.append(("stale", None))
        return Request("GET", "/v1/operator/usage", params)


class CoordinateExtras(Endpoint):
    """``coordinate.update``."""

    @endpoint
    def update(
        self,
        node: str,
        coord: Mapping[str, Any],
        segment: Optional[str] = None,
        dc: Optional[str] = None,
        token: Optional[str] = None,
    ) -> Request:
        """
        Set a node's LAN coordinate (``PUT /v1/coordinate/update``); fires
        ``True``.  Needs ``node:write``.

        :param coord: ``{'Vec': [8 floats], 'Error', 'Adjustment',
            'Height'}``, as :meth:`txconsul.api.coordinate.Coordinate.node` returns it.
        :param segment: the network segment (Enterprise).
        """
        if not isinstance(coord, Mapping):
            raise TypeError(f"coord must be a dict, not {type(coord).__name__}")
        vec = coord.get("Vec")
        if not isinstance(vec, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in vec
        ):
            raise ValueError("coord['Vec'] must be a list of numbers")
        body = {
            "Node": check_str(node, "node"),
            "Segment": check_str(segment, "segment", allow_empty=True) if segment is not None else "",
            "Coord": dict(coord),
        }
        return Request("PUT", "/v1/coordinate/update", json_body=body, decode=decode_true)
