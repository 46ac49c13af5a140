# -*- test-case-name: tests.test_coordinate_operator -*-
"""
Operator endpoints: ``/v1/operator/``.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.internet.defer import Deferred

from .._http import Param, check_consistency
from ._base import Endpoint, check_str, decode_json, decode_true


class Operator(Endpoint):
    """Operator endpoints, as ``consul.operator``."""

    def raft_config(
        self,
        *,
        dc: Optional[str] = None,
        token: Optional[str] = None,
        consistency: Optional[str] = None,
    ) -> "Deferred[dict[str, Any]]":
        """
        The Raft peer configuration: ``{'Servers': [{'ID', 'Node',
        'Address', 'Leader', 'ProtocolVersion', 'Voter'}], 'Index': n}``.

        Needs ``operator:read``.  ``consistency='stale'`` lets any server
        answer when there is no leader.
        """
        check_consistency(consistency)
        d = self._transport.request(
            "GET",
            "/v1/operator/raft/configuration",
            token=token,
            dc=dc,
            consistency=consistency,
        )
        return d.addCallback(decode_json)

    # -- Raft peers, autopilot, keyring, usage (py-consul's names) -------------

    def raft_remove_peer(
        self,
        address: Optional[str] = None,
        peer_id: Optional[str] = None,
        token: Optional[str] = None,
        *,
        dc: Optional[str] = None,
    ) -> "Deferred[bool]":
        """
        Remove a server from the Raft configuration by ``address``
        (``'ip:port'``) or ``peer_id`` (exactly one); fires ``True``.
        Needs ``operator:write``.
        """
        if (address is None) == (peer_id is None):
            raise ValueError("give exactly one of address or peer_id")
        params: list[Param] = (
            [("address", check_str(address, "address"))] if address is not None
            else [("id", check_str(peer_id, "peer_id"))]
        )
        return self._transport.request(
            "DELETE", "/v1/operator/raft/peer", params, token=token, dc=dc
        ).addCallback(decode_true)

    def raft_transfer_leader(
        self, peer_id: Optional[str] = None, token: Optional[str] = None, *, dc: Optional[str] = None
    ) -> "Deferred[bool]":
        """
        Move Raft leadership to ``peer_id`` (or a peer Consul picks); fires
        ``True``.  Needs ``operator:write``.
        """
        params: list[Param] = [("id", check_str(peer_id, "peer_id"))] if peer_id is not None else []
        return self._transport.request(
            "POST", "/v1/operator/raft/transfer-leader", params, token=token, dc=dc
        ).addCallback(lambda _: True)

    def autopilot_configuration(
        self, token: Optional[str] = None, dc: Optional[str] = None
    ) -> "Deferred[dict[str, Any]]":
        """
        The autopilot configuration: ``{'CleanupDeadServers',
        'LastContactThreshold', 'MaxTrailingLogs', 'MinQuorum',
        'ServerStabilizationTime', ..., 'CreateIndex', 'ModifyIndex'}``.
        Needs ``operator:read``.
        """
        return self._transport.request(
            "GET", "/v1/operator/autopilot/configuration", token=token, dc=dc
        ).addCallback(decode_json)

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
    ) -> "Deferred[bool]":
        """
        Replace the autopilot configuration; fires ``True``, or with
        ``cas`` whether the configuration's ``ModifyIndex`` still matched.
        Needs ``operator:write``.

        Consul replaces the whole configuration: a field left ``None``
        is sent as absent and Consul stores its zero value.  Read, change
        and write back (with ``cas``) to change one field.
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
        params: list[Param] = []
        if cas is not None:
            if isinstance(cas, bool) or not isinstance(cas, int) or cas < 0:
                raise ValueError(f"invalid cas {cas!r}: must be an int >= 0")
            params.append(("cas", str(cas)))
        return self._transport.request(
            "PUT", "/v1/operator/autopilot/configuration", params, json_body=body, token=token, dc=dc
        ).addCallback(lambda response: bool(response.json()))

    def autopilot_health(self, token: Optional[str] = None, dc: Optional[str] = None) -> "Deferred[dict[str, Any]]":
        """
        The servers' health as autopilot sees it: ``{'Healthy',
        'FailureTolerance', 'Servers': [...]}``.  Consul's 429 (unhealthy)
        carries the same body and is returned, not raised.
        """
        return self._transport.request(
            "GET", "/v1/operator/autopilot/health", token=token, dc=dc, expect=(200, 429)
        ).addCallback(decode_json)

    def autopilot_state(self, token: Optional[str] = None, dc: Optional[str] = None) -> "Deferred[dict[str, Any]]":
        """
        Autopilot's full state (Go's ``AutopilotState``): ``{'Healthy',
        'FailureTolerance', 'Servers': {id: {...}}, 'Leader', 'Voters'}``.
        """
        return self._transport.request(
            "GET", "/v1/operator/autopilot/state", token=token, dc=dc
        ).addCallback(decode_json)

    def _keyring(self, method: str, key: Optional[str], relay_factor: Optional[int], token: Optional[str],
                 local_only: Optional[bool] = None) -> "Deferred[Any]":
        params: list[Param] = []
        if relay_factor is not None:
            if isinstance(relay_factor, bool) or not isinstance(relay_factor, int) or not 0 <= relay_factor <= 5:
                raise ValueError(f"invalid relay_factor {relay_factor!r}: must be 0 to 5")
            params.append(("relay-factor", str(relay_factor)))
        if local_only is not None:
            params.append(("local-only", "true" if local_only else "false"))
        if key is None:
            return self._transport.request(
                method, "/v1/operator/keyring", params, token=token, use_dc=False
            ).addCallback(decode_json)
        return self._transport.request(
            method, "/v1/operator/keyring", params, json_body={"Key": check_str(key, "key")},
            token=token, use_dc=False,
        ).addCallback(decode_true)

    def keyring_list(
        self, relay_factor: Optional[int] = None, local_only: Optional[bool] = None, token: Optional[str] = None
    ) -> "Deferred[list[dict[str, Any]]]":
        """
        The gossip keys of every pool: ``[{'WAN', 'Datacenter', 'Keys':
        {key: nodes}, 'PrimaryKeys', 'NumNodes'}]``.  Needs ``keyring:read``.
        """
        return self._keyring("GET", None, relay_factor, token, local_only)

    def keyring_install(self, key: str, relay_factor: Optional[int] = None, token: Optional[str] = None) -> "Deferred[bool]":
        """Install a new base64 gossip key on every member; fires ``True``.  Needs ``keyring:write``."""
        return self._keyring("POST", key, relay_factor, token)

    def keyring_use(self, key: str, relay_factor: Optional[int] = None, token: Optional[str] = None) -> "Deferred[bool]":
        """Make an installed key the primary one; fires ``True``."""
        return self._keyring("PUT", key, relay_factor, token)

    def keyring_remove(self, key: str, relay_factor: Optional[int] = None, token: Optional[str] = None) -> "Deferred[bool]":
        """Remove a (non-primary) key from every member; fires ``True``."""
        return self._keyring("DELETE", key, relay_factor, token)

    def usage(
        self, global_: Optional[bool] = None, stale: Optional[bool] = None, token: Optional[str] = None
    ) -> "Deferred[dict[str, Any]]":
        """
        Service and node counts: ``{'Usage': {dc: {'Services',
        'ServiceInstances', 'ConnectServiceInstances', 'Nodes', ...}}, ...}``.
        Needs ``operator:read``.
        """
        params: list[Param] = []
        if global_:
            params.append(("global", "true"))
        return self._transport.request(
            "GET", "/v1/operator/usage", params, token=token,
            consistency="stale" if stale else None,
        ).addCallback(decode_json)
