"""
Tests for the newer operator endpoints (Raft peers, autopilot, keyring,
usage): the client (txconsul.api.operator) against FakeConsul, in memory.
"""

from __future__ import annotations

import base64

from txconsul import ACLPermissionDenied, BadRequest, ConsulException

from .modern_case import ACLModernCase, ModernCase, put_service


class RaftTests(ModernCase):
    """raft_remove_peer and raft_transfer_leader on a single server."""

    def server(self) -> dict:
        """The fake's one Raft server."""
        return self.ok(self.consul.operator.raft_config())["Servers"][0]

    def test_remove_unknown(self) -> None:
        """Removing an unknown address or ID fails with Consul's text."""
        err = self.fails(self.consul.operator.raft_remove_peer(address="10.0.0.9:8300"), ConsulException)
        self.assertIn('address "10.0.0.9:8300" was not found in the Raft configuration', str(err))
        err = self.fails(self.consul.operator.raft_remove_peer(peer_id="nope"), ConsulException)
        self.assertIn('id "nope" was not found in the Raft configuration', str(err))

    def test_remove_only_voter(self) -> None:
        """Removing the only voter is refused, as Raft refuses it."""
        err = self.fails(self.consul.operator.raft_remove_peer(peer_id=self.server()["ID"]), ConsulException)
        self.assertIn("need at least one voter", str(err))
        self.assertEqual(len(self.ok(self.consul.operator.raft_config())["Servers"]), 1)

    def test_remove_arguments(self) -> None:
        """Exactly one of address and peer_id."""
        self.assertRaises(ValueError, self.consul.operator.raft_remove_peer)
        self.assertRaises(ValueError, self.consul.operator.raft_remove_peer, "a:1", "id")
        self.fails(self.consul.request("DELETE", "/v1/operator/raft/peer"), BadRequest)
        d = self.consul.request("DELETE", "/v1/operator/raft/peer", {"id": "a", "address": "b:1"})
        self.assertIn("Must specify only one of ?id or ?address", str(self.fails(d, BadRequest)))

    def test_transfer_leader(self) -> None:
        """A lone server has no peer to hand leadership to."""
        self.assertIn(
            "cannot find peer", str(self.fails(self.consul.operator.raft_transfer_leader(), ConsulException))
        )
        d = self.consul.operator.raft_transfer_leader(self.server()["ID"])
        self.assertIn("to itself", str(self.fails(d, ConsulException)))


class AutopilotTests(ModernCase):
    """Autopilot configuration, health and state."""

    def test_defaults(self) -> None:
        """A new server has Consul's default autopilot configuration."""
        config = self.ok(self.consul.operator.autopilot_configuration())
        self.assertEqual(
            (
                config["CleanupDeadServers"],
                config["LastContactThreshold"],
                config["MaxTrailingLogs"],
                config["ServerStabilizationTime"],
            ),
            (True, "200ms", 250, "10s"),
        )

    def test_update_replaces_whole(self) -> None:
        """An update stores the given fields and zeroes the others, as Consul does."""
        self.assertIs(
            self.ok(
                self.consul.operator.update_autopilot_configuration(
                    cleanup_dead_servers=False, last_contact_threshold="1s", max_trailing_logs=10
                )
            ),
            True,
        )
        config = self.ok(self.consul.operator.autopilot_configuration())
        self.assertEqual(
            (
                config["CleanupDeadServers"],
                config["LastContactThreshold"],
                config["MaxTrailingLogs"],
                config["ServerStabilizationTime"],
            ),
            (False, "1s", 10, "0s"),
        )

    def test_cas(self) -> None:
        """With cas, the update applies only at the current ModifyIndex."""
        index = self.ok(self.consul.operator.autopilot_configuration())["ModifyIndex"]
        op = self.consul.operator
        self.assertIs(self.ok(op.update_autopilot_configuration(min_quorum=3, cas=index + 1)), False)
        self.assertIs(self.ok(op.update_autopilot_configuration(min_quorum=3, cas=index)), True)
        self.assertEqual(self.ok(op.autopilot_configuration())["MinQuorum"], 3)

    def test_bad_values(self) -> None:
        """Wrong types fail at the call; a bad duration is a 400 from the fake."""
        op = self.consul.operator
        self.assertRaises(TypeError, op.update_autopilot_configuration, max_trailing_logs="many")
        self.assertRaises(ValueError, op.update_autopilot_configuration, cas=-2)
        err = self.fails(op.update_autopilot_configuration(last_contact_threshold="soon"), BadRequest)
        self.assertIn("Error parsing autopilot config", str(err))

    def test_health_and_state(self) -> None:
        """The lone server is the healthy leader and only voter."""
        health = self.ok(self.consul.operator.autopilot_health())
        self.assertTrue(health["Healthy"])
        (server,) = health["Servers"]
        self.assertTrue(server["Leader"] and server["Voter"])
        state = self.ok(self.consul.operator.autopilot_state())
        self.assertEqual(state["Voters"], [state["Leader"]])
        self.assertEqual(state["Servers"][state["Leader"]]["Status"], "leader")


class KeyringTests(ModernCase):
    """keyring_list, install, use and remove."""

    new_key = base64.b64encode(b"k" * 32).decode()

    def keys(self) -> tuple[dict, dict]:
        """The LAN pool's keys and primary keys."""
        lan = [r for r in self.ok(self.consul.operator.keyring_list()) if not r["WAN"]][0]
        return lan["Keys"], lan["PrimaryKeys"]

    def test_rotate(self) -> None:
        """Install a key, make it primary, remove the old one."""
        (old,) = list(self.keys()[0])
        op = self.consul.operator
        self.assertIs(self.ok(op.keyring_install(self.new_key)), True)
        self.assertEqual(set(self.keys()[0]), {old, self.new_key})
        self.ok(op.keyring_use(self.new_key))
        self.assertEqual(self.keys()[1], {self.new_key: 1})
        self.ok(op.keyring_remove(old))
        self.assertEqual(self.keys()[0], {self.new_key: 1})

    def test_list_pools(self) -> None:
        """The list has the WAN and LAN pools; local_only keeps the LAN one."""
        self.assertEqual([r["WAN"] for r in self.ok(self.consul.operator.keyring_list())], [True, False])
        self.assertEqual(
            [r["WAN"] for r in self.ok(self.consul.operator.keyring_list(local_only=True))], [False]
        )

    def test_errors(self) -> None:
        """Removing the primary key, using an unknown key or installing a bad one fail with memberlist's texts."""
        op = self.consul.operator
        primary = list(self.keys()[1])[0]
        self.assertIn(
            "Removing the primary key is not allowed",
            str(self.fails(op.keyring_remove(primary), ConsulException)),
        )
        self.assertIn("not in the keyring", str(self.fails(op.keyring_use(self.new_key), ConsulException)))
        short = base64.b64encode(b"x" * 5).decode()
        self.assertIn(
            "key size must be 16, 24 or 32 bytes", str(self.fails(op.keyring_install(short), ConsulException))
        )
        self.assertRaises(ValueError, op.keyring_list, relay_factor=9)


class UsageTests(ModernCase):
    """usage."""

    def test_counts(self) -> None:
        """usage counts services, instances, Connect instances and nodes."""
        put_service(self.fake, "web1", "web")
        put_service(self.fake, "web2", "web")
        put_service(
            self.fake, "web-proxy", "web-proxy", kind="connect-proxy", proxy={"DestinationServiceName": "web"}
        )
        usage = self.ok(self.consul.operator.usage())["Usage"]["dc1"]
        self.assertEqual((usage["Services"], usage["ServiceInstances"], usage["Nodes"]), (3, 4, 1))
        self.assertEqual(usage["ConnectServiceInstances"]["connect-proxy"], 1)
        self.assertEqual(usage["BillableServiceInstances"], 2)


class OperatorACLTests(ACLModernCase):
    """The operator and keyring ACLs."""

    def test_reads_and_writes(self) -> None:
        """operator:read reads autopilot and usage but cannot write; keyring needs keyring rules."""
        reader = self.client('operator = "read"')
        self.ok(reader.operator.autopilot_configuration())
        self.ok(reader.operator.usage())
        self.fails(reader.operator.update_autopilot_configuration(min_quorum=1), ACLPermissionDenied)
        self.fails(reader.operator.raft_transfer_leader(), ACLPermissionDenied)
        self.fails(reader.operator.keyring_list(), ACLPermissionDenied)
        self.ok(self.client('keyring = "read"').operator.keyring_list())
