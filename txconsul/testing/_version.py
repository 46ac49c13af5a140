# -*- test-case-name: tests.test_fake_version -*-
"""
The Consul version a FakeConsul answers as, and what depends on it.

The fake is one Consul release line at a time.  By default it is the current
one (:data:`CURRENT`); ``FakeConsul(legacy_acl=True)`` makes it a Consul 1.10
(:data:`LEGACY_ACL`), the last release with the legacy ACL API, so code that
still calls ``/v1/acl/create`` and friends can be tested.
"""

from __future__ import annotations

import attr

__all__ = ["CURRENT", "LEGACY_ACL", "Profile"]


@attr.s(frozen=True, slots=True, auto_attribs=True)
class Profile:
    """
    A Consul release the fake emulates.

    :ivar version: what ``/v1/agent/self`` reports (``Config.Version``) and
        the node's ``consul-version`` meta carries.
    :ivar legacy_acl: the ACL system of Consul 1.10: the legacy
        ``/v1/acl/create``... endpoints next to the token API, the "Master
        Token", 403 ``ACL not found`` for a missing token or policy, plain
        ``Permission denied`` texts.
    """

    version: str
    legacy_acl: bool

    @property
    def node_version_meta(self) -> bool:
        """Whether the agent puts ``consul-version`` in its node meta (not in 1.10)."""
        return not self.legacy_acl

    @property
    def raft_configuration_index(self) -> int:
        """``Index`` of ``/v1/operator/raft/configuration`` on a single dev server."""
        # agent/consul/operator_raft_endpoint.go RaftGetConfiguration: recent
        # releases leave the reply's Index at 0; 1.10 reported the future's
        # index (1 on a dev server).
        return 1 if self.legacy_acl else 0


#: The current release line (hashicorp/consul ``.release/versions.hcl`` lists
#: 2.1 as the newest active line; ``version/VERSION`` on main is 2.2.0-dev).
CURRENT = Profile(version="2.1.0", legacy_acl=False)

#: The last Consul release with the legacy ACL system (removed in 1.11).
LEGACY_ACL = Profile(version="1.10.12", legacy_acl=True)
