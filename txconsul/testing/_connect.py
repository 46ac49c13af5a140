# -*- test-case-name: tests.test_api_modern_connect -*-
"""
FakeConsul's Connect: the built-in CA (``/v1/connect/ca/roots``,
``/v1/connect/ca/configuration``), the agent's view of it
(``/v1/agent/connect/ca/roots``, ``/v1/agent/connect/ca/leaf/<service>``),
``/v1/agent/connect/authorize`` and exact-match intentions
(``/v1/connect/intentions``, ``.../exact``, ``.../check``, ``.../match``).

A dev agent runs Connect with the built-in ``consul`` CA provider and has an
active root from the start.  The fake makes that root (a real self-signed EC
certificate) the first time anyone asks for roots or a leaf, so FakeConsuls
that never touch Connect pay nothing; the root's indexes are those of the
agent's start.

Intentions are stored, as in Consul 1.9+, as ``service-intentions`` config
entries (one per destination, with a ``Sources`` list), so they show in
``/v1/config/service-intentions`` too.  ACLs: ``intentions`` access is
checked as ``service`` access on the destination (the fake's rules keep no
``intentions =`` level), CA configuration as ``operator``.
"""

from __future__ import annotations

import copy
import re
from urllib.parse import quote
from typing import Any, Optional

from ._acl import require
from ._ca import go_time, make_leaf, make_root
from ._config_entries import trust_domain
from ._core import FakeRequest, HTTPError, Reply, Route, parse_common, parse_go_duration
from ._gojson import decode_body
from ._shapes_modern import CONNECT_AUTHORIZE, INTENTION

#: agent/connect/ca/provider_consul.go / structs.CommonCAProviderConfig defaults.
DEFAULT_CA_CONFIG = {
    "LeafCertTTL": "72h",
    "IntermediateCertTTL": "8760h",
    "RootCertTTL": "87600h",
    "PrivateKeyType": "ec",
    "PrivateKeyBits": 256,
}

#: agent/connect/uri.go: ``spiffe://<host>/ns/<ns>/dc/<dc>/svc/<service>``.
_SERVICE_URI = re.compile(r"^spiffe://([^/]+)/ns/([^/]+)/dc/([^/]+)/svc/([^/]+)$")
_OTHER_URI = re.compile(
    r"^spiffe://([^/]+)(/agent/client/dc/[^/]+/id/[^/]+|/gateway/mesh/dc/[^/]+|/mesh|/server/dc/[^/]+)?$"
)


def precedence(source: str, destination: str) -> int:
    """structs.Intention.UpdatePrecedence for the default namespace."""
    if destination != "*":
        return 9 if source != "*" else 8
    return 6 if source != "*" else 5


def intention_string(ixn: dict[str, Any]) -> str:
    """structs.Intention.String (Consul 1.9+; CE service names carry no namespace)."""
    id_part = f"ID: {ixn['ID']}, " if ixn.get("ID") else ""
    if ixn.get("Permissions"):
        detail = f"Permissions: {len(ixn['Permissions'])}"
    else:
        detail = "Action: " + str(ixn.get("Action", "")).upper()
    return f"{ixn['SourceName']} => {ixn['DestinationName']} ({id_part}Precedence: {ixn['Precedence']}, {detail})"


class ConnectPart:
    """
    The CA and intentions of a FakeConsul.

    :ivar roots: every CA root (the active one last), as Consul's ``CARoot``
        objects (the private keys kept aside).
    :ivar ca_config: the CA provider configuration.
    :ivar leaves: service name -> the agent's current leaf certificate.
    """

    def __init__(self, core: Any, peers: Any) -> None:
        self.core = core
        self._peers = peers
        self.roots: list[dict[str, Any]] = []
        self._root_keys: dict[str, dict[str, Any]] = {}
        self.roots_index = core.index
        self.ca_config: dict[str, Any] = {
            "Provider": "consul",
            "Config": dict(DEFAULT_CA_CONFIG),
            "State": None,
            "ForceWithoutCrossSigning": False,
            "CreateIndex": core.index,
            "ModifyIndex": core.index,
        }
        self.leaves: dict[str, dict[str, Any]] = {}
        self._serial = 1
        self._renewals: dict[str, Any] = {}

    def routes(self) -> list[Route]:
        """CA, agent Connect and intention routes."""
        return [
            Route("/v1/connect/ca/roots", ("GET",), self._ca_roots),
            Route("/v1/connect/ca/configuration", ("GET", "PUT"), self._ca_configuration),
            Route("/v1/agent/connect/ca/roots", ("GET",), self._agent_roots),
            Route("/v1/agent/connect/ca/leaf/", ("GET",), self._agent_leaf),
            Route("/v1/agent/connect/authorize", ("POST",), self._authorize, check_dc=False, parse=False),
            Route("/v1/connect/intentions", ("GET",), self._intention_list),
            Route(
                "/v1/connect/intentions/exact",
                ("GET", "PUT", "DELETE"),
                self._intention_exact,
                check_dc=False,
                parse=False,
            ),
            Route("/v1/connect/intentions/check", ("GET",), self._intention_check),
            Route("/v1/connect/intentions/match", ("GET",), self._intention_match),
        ]

    # -- the CA ------------------------------------------------------------------

    def _new_serial(self) -> int:
        self._serial += 1
        return self._serial

    def ensure_root(self) -> dict[str, Any]:
        """The active root, made on first use (``cryptography`` is imported then)."""
        if not self.roots:
            self._add_root(self.roots_index)
        return self.roots[-1]

    def _add_root(self, idx: int) -> None:
        core = self.core
        td = trust_domain(self._peers)
        cluster = td.split(".")[0]
        config = self.ca_config["Config"]
        ttl = parse_go_duration(str(config.get("RootCertTTL", "87600h")))
        serial = self._new_serial()
        # provider_consul.go: "pri-<random>.consul.ca.<cluster id prefix>.consul".
        cn = f"pri-{core.new_uuid()[:8]}.consul.ca.{cluster[:8]}.consul"
        made = make_root(
            cn,
            td,
            serial,
            core.clock.seconds(),
            ttl,
            str(config.get("PrivateKeyType", "ec")),
            int(config.get("PrivateKeyBits", 256)),
        )
        for root in self.roots:
            root["Active"] = False
        root = {
            "ID": made["id"],
            "Name": "Consul CA Primary Cert",
            "SerialNumber": serial,
            "SigningKeyID": made["signing_key_id"],
            # Empty: the root belongs to the current trust domain.
            "ExternalTrustDomain": "",
            "NotBefore": go_time(made["not_before"]),
            "NotAfter": go_time(made["not_after"]),
            "RootCert": made["cert_pem"],
            "IntermediateCerts": None,
            "Active": True,
            "PrivateKeyType": config.get("PrivateKeyType", "ec"),
            "PrivateKeyBits": config.get("PrivateKeyBits", 256),
            "CreateIndex": idx,
            "ModifyIndex": idx,
        }
        self._root_keys[root["ID"]] = made
        self.roots.append(root)
        self.roots_index = idx

    def rotate(self) -> dict[str, Any]:
        """Make a new active root (the old ones stay, inactive); leaves are reissued on next read."""
        self.ensure_root()
        self._add_root(self.core.next_index())
        self.leaves.clear()
        return self.roots[-1]

    def roots_body(self) -> dict[str, Any]:
        """structs.IndexedCARoots (its QueryMeta is not serialized)."""
        active = self.ensure_root()
        return {
            "ActiveRootID": active["ID"],
            "TrustDomain": trust_domain(self._peers),
            "Roots": copy.deepcopy(self.roots),
        }

    def _roots_reply(self, req: FakeRequest, pem: bool) -> Any:
        def compute() -> tuple[int, Reply]:
            body = self.roots_body()
            index = max(self.roots_index, 1)
            if pem:
                text = "".join(r["RootCert"] for r in body["Roots"])
                return index, Reply(
                    text.encode("ascii"),
                    json=False,
                    index=index,
                    headers={"Content-Type": "application/pem-certificate-chain"},
                )
            return index, Reply(body, index=index)

        return self.core.blocking(req, compute)

    def _ca_roots(self, req: FakeRequest) -> Any:
        # agent/connect_ca_endpoint.go ConnectCARoots: ``?pem=<bool>``; a
        # bare or empty ``pem`` is false.
        pem = False
        raw = req.get("pem") or ""
        if raw:
            from ._catalog import parse_bool

            value = parse_bool(raw)
            if value is None:
                raise HTTPError(400, "The 'pem' query parameter must be a boolean value")
            pem = value
        return self._roots_reply(req, pem)

    def _agent_roots(self, req: FakeRequest) -> Any:
        return self._roots_reply(req, False)

    def _ca_configuration(self, req: FakeRequest) -> Any:
        if req.method == "GET":
            require(req, "operator", "", "read")
            # CAConfiguration.ClusterID is not serialized (json:"-").
            body = copy.deepcopy(self.ca_config)
            return Reply(body, index=body["ModifyIndex"])
        body = req.json()
        if not isinstance(body, dict):
            raise HTTPError(
                400,
                "Request decode failed: json: cannot unmarshal into Go value of type structs.CAConfiguration",
            )
        require(req, "operator", "", "write")
        provider = body.get("Provider") or ""
        if provider != "consul":
            # The fake only runs the built-in provider.
            raise HTTPError(500, f"unknown CA provider {provider!r}")
        new_config = dict(DEFAULT_CA_CONFIG)
        given = body.get("Config") or {}
        if not isinstance(given, dict):
            raise HTTPError(400, "Request decode failed: Config must be an object")
        new_config.update(given)
        self._validate_config(new_config)
        old = self.ca_config["Config"]
        rotate = any(
            new_config.get(k) != old.get(k)
            for k in ("PrivateKeyType", "PrivateKeyBits", "PrivateKey", "RootCert")
        )
        idx = self.core.next_index()
        self.ca_config = {
            "Provider": "consul",
            "Config": new_config,
            "State": None,
            "ForceWithoutCrossSigning": bool(body.get("ForceWithoutCrossSigning", False)),
            "CreateIndex": self.ca_config["CreateIndex"],
            "ModifyIndex": idx,
        }
        if rotate and self.roots:
            self._add_root(idx)
            self.leaves.clear()
        return Reply(b"", json=False)

    @staticmethod
    def _validate_config(config: dict[str, Any]) -> None:
        """structs.CommonCAProviderConfig.Validate (agent/structs/connect_ca.go), in its order."""
        from ._operator_modern import _format_duration as go_duration

        ttls = {}
        for name in ("LeafCertTTL", "RootCertTTL", "IntermediateCertTTL"):
            raw = config.get(name)
            try:
                ttls[name] = parse_go_duration(str(raw))
            except ValueError:
                raise HTTPError(500, f'error decoding config: time: invalid duration "{raw}"')
        leaf, root, inter = ttls["LeafCertTTL"], ttls["RootCertTTL"], ttls["IntermediateCertTTL"]
        if root < inter:
            raise HTTPError(
                500,
                "root cert TTL is set and is not greater than intermediate cert ttl. "
                f"root cert ttl: {go_duration(root)}, intermediate cert ttl: {go_duration(inter)}",
            )
        if leaf < 3600:
            raise HTTPError(500, "leaf cert TTL must be greater or equal than 1h0m0s")
        if leaf > 365 * 24 * 3600:
            raise HTTPError(500, "leaf cert TTL must be less than 8760h0m0s")
        if inter < 3 * 3600:
            raise HTTPError(500, "Intermediate Cert TTL must be greater or equal than 3h")
        if inter < 3 * leaf:
            raise HTTPError(
                500,
                f"Intermediate Cert TTL must be greater or equal than 3 * LeafCertTTL (>={go_duration(3 * leaf)}).",
            )
        kind = config.get("PrivateKeyType")
        bits = config.get("PrivateKeyBits")
        if kind == "ec":
            if bits not in (224, 256, 384, 521):
                raise HTTPError(500, "EC key length must be one of (224, 256, 384, 521) bits")
        elif kind == "rsa":
            if bits not in (2048, 4096):
                raise HTTPError(500, "RSA key length must be 2048 or 4096 bits")
        else:
            raise HTTPError(500, "private key type must be either 'ec' or 'rsa'")

    # -- leaf certificates --------------------------------------------------------

    def leaf(self, service: str) -> dict[str, Any]:
        """The agent's current leaf certificate for ``service`` (issued on demand)."""
        cert = self.leaves.get(service)
        if cert is not None:
            return cert
        root = self.ensure_root()
        made = self._root_keys[root["ID"]]
        core = self.core
        td = trust_domain(self._peers)
        # connect.SpiffeIDService.URI: a url.URL, so the path is escaped as Go escapes paths.
        path = f"/ns/default/dc/{core.datacenter}/svc/{service}"
        uri = f"spiffe://{td}" + quote(path, safe="$&+,/:;=@-._~")
        ttl = parse_go_duration(str(self.ca_config["Config"].get("LeafCertTTL", "72h")))
        now = core.clock.seconds()
        # The agent generates the leaf key like the active root's
        # (agent/leafcert: GeneratePrivateKeyWithConfig).
        issued = make_leaf(
            made, uri, self._new_serial(), now, ttl, root["PrivateKeyType"], root["PrivateKeyBits"]
        )
        idx = core.next_index()
        cert = {
            "SerialNumber": issued["serial"],
            "CertPEM": issued["cert_pem"],
            "PrivateKeyPEM": issued["key_pem"],
            "Service": service,
            "ServiceURI": uri,
            "ValidAfter": go_time(issued["not_before"]),
            "ValidBefore": go_time(issued["not_after"]),
            "CreateIndex": idx,
            "ModifyIndex": idx,
        }
        self.leaves[service] = cert
        # leafcert: renewal is due in the last part of the lifetime; the
        # fake renews at 3/4 of it and wakes blocked readers.
        clock: Any = core.clock
        old = self._renewals.pop(service, None)
        if old is not None and old.active():
            old.cancel()
        self._renewals[service] = clock.callLater(ttl * 0.75, self._renew, service)
        return cert

    def stop(self) -> None:
        """Cancel the pending leaf renewals (their timers run on the fake's clock)."""
        for call in self._renewals.values():
            if call.active():
                call.cancel()
        self._renewals.clear()

    def _renew(self, service: str) -> None:
        self._renewals.pop(service, None)
        if self.leaves.pop(service, None) is not None:
            self.leaf(service)
            self.core.changed()

    def _agent_leaf(self, req: FakeRequest) -> Any:
        service = req.tail
        if not service:
            raise HTTPError(400, "Missing service name")
        require(req, "service", service, "write")

        def compute() -> tuple[int, Reply]:
            cert = self.leaf(service)
            return cert["ModifyIndex"], Reply(copy.deepcopy(cert), index=cert["ModifyIndex"])

        return self.core.blocking(req, compute)

    # -- authorize ----------------------------------------------------------------------

    def _authorize(self, req: FakeRequest) -> Reply:
        body = decode_body(CONNECT_AUTHORIZE, req.body) if req.body.strip() else {}
        target = body.get("Target") or ""
        if not target:
            raise HTTPError(400, "Target service must be specified")
        uri = body.get("ClientCertURI") or ""
        match = _SERVICE_URI.match(uri) if isinstance(uri, str) else None
        if match is None:
            if isinstance(uri, str) and _OTHER_URI.match(uri):
                raise HTTPError(400, "ClientCertURI not a valid Service identifier")
            raise HTTPError(400, "ClientCertURI not a valid Connect identifier")
        source = match.group(4)
        require(req, "service", target, "write")
        # agent/connect_auth.go ConnectAuthorize: the first matching
        # intention (by precedence) decides; L7 ones deny.
        for ixn in self.matches("destination", target):
            if ixn["SourceName"] in (source, "*"):
                if ixn.get("Permissions"):
                    return Reply(
                        {"Authorized": False, "Reason": f"Matched L7 intention: {intention_string(ixn)}"}
                    )
                return Reply(
                    {
                        "Authorized": ixn.get("Action") == "allow",
                        "Reason": f"Matched L4 intention: {intention_string(ixn)}",
                    }
                )
        acl = self._peers.acl
        if not acl.enabled:
            return Reply({"Authorized": True, "Reason": "ACLs disabled, access is allowed by default"})
        return Reply(
            {"Authorized": acl.default_policy == "allow", "Reason": "Default behavior configured by ACLs"}
        )

    # -- intentions ---------------------------------------------------------------------

    @property
    def _entries(self) -> Any:
        return self._peers.config_entries

    def intentions(self) -> list[dict[str, Any]]:
        """Every intention, as the ``Intention`` objects the API returns."""
        out = []
        for entry in self._entries.of_kind("service-intentions"):
            for src in entry.get("Sources") or []:
                out.append(self._intention(entry, src))
        return out

    def _intention(self, entry: dict[str, Any], src: dict[str, Any]) -> dict[str, Any]:
        dest = entry["Name"]
        name = src.get("Name") or ""
        ixn: dict[str, Any] = {
            "ID": src.get("LegacyID") or "",
            "SourceNS": "default",
            "SourceName": name,
            "DestinationNS": "default",
            "DestinationName": dest,
            "SourceType": src.get("Type") or "consul",
        }
        if src.get("Action"):
            ixn["Action"] = src["Action"]
        if src.get("Permissions"):
            ixn["Permissions"] = copy.deepcopy(src["Permissions"])
        if src.get("Description"):
            ixn["Description"] = src["Description"]
        meta = src.get("LegacyMeta") or {}
        if meta:
            ixn["Meta"] = dict(meta)
        ixn["Precedence"] = precedence(name, dest)
        ixn["CreateIndex"] = entry["CreateIndex"]
        ixn["ModifyIndex"] = entry["ModifyIndex"]
        return ixn

    def matches(self, by: str, name: str) -> list[dict[str, Any]]:
        """structs.IntentionMatch: those matching ``name`` (or ``*``), by precedence."""
        key = "SourceName" if by == "source" else "DestinationName"
        found = [i for i in self.intentions() if i[key] in (name, "*")]
        found.sort(key=lambda i: (-i["Precedence"], i["SourceName"], i["DestinationName"]))
        return found

    def _index(self) -> int:
        return max(self._entries.table_index, 1)

    def _source_dest(self, req: FakeRequest, nonempty: bool = False) -> tuple[str, str]:
        """
        ``?source`` and ``?destination``, each given exactly once (and not
        empty, for the exact writes' ``parseIntentionQueryExact``).  The
        handlers (agent/intentions_endpoint.go) return a plain error, so a
        missing one is a 500.
        """
        found = []
        for name in ("source", "destination"):
            values = req.getall(name)
            if len(values) != 1 or (nonempty and not values[0]):
                raise HTTPError(500, f"required query parameter '{name}' not set")
            found.append(values[0])
        return found[0], found[1]

    def _intention_list(self, req: FakeRequest) -> Any:
        from ._catalog import apply_filter

        def compute() -> tuple[int, Reply]:
            visible = [
                i for i in self.intentions() if req.authz.allowed("service", i["DestinationName"], "read")
            ]
            return self._index(), Reply(apply_filter(req, visible), index=self._index())

        return self.core.blocking(req, compute)

    def _intention_exact(self, req: FakeRequest) -> Any:
        # IntentionGetExact calls s.parse first; the writes check the
        # source and destination, then read ?dc only (parseDC), and PUT
        # decodes its body before the RPC refuses another datacenter.
        if req.method == "GET":
            parse_common(req)
            self.core.check_dc(req)
        source, destination = self._source_dest(req, nonempty=req.method != "GET")
        if req.method == "GET":
            require(req, "service", destination, "read")

            def compute() -> tuple[int, Reply]:
                for ixn in self.intentions():
                    if ixn["SourceName"] == source and ixn["DestinationName"] == destination:
                        return self._index(), Reply(ixn, index=self._index())
                return self._index(), Reply(
                    "Intention not found", status=404, json=False, index=self._index()
                )

            return self.core.blocking(req, compute)
        if req.method == "DELETE":
            self.core.check_dc(req)
            require(req, "service", destination, "write")
            self._remove_source(destination, source)
            return Reply(True)
        body = decode_body(INTENTION, req.body) if req.body.strip() else {}
        self.core.check_dc(req)
        require(req, "service", destination, "write")
        action = body.get("Action") or ""
        permissions = body.get("Permissions") or []
        if permissions and action:
            raise HTTPError(500, "Action must be empty if Permissions are specified")
        if not permissions and action not in ("allow", "deny"):
            # structs.Intention.Validate.
            raise HTTPError(500, "Action must be set to 'allow' or 'deny'")
        # structs.SourceIntention: Precedence is computed on write.
        src: dict[str, Any] = {
            "Name": source,
            "Precedence": precedence(source, destination),
            "Type": body.get("SourceType") or "consul",
        }
        if action:
            src["Action"] = action
        if permissions:
            src["Permissions"] = copy.deepcopy(permissions)
        if body.get("Description"):
            src["Description"] = body["Description"]
        if body.get("LegacyMeta"):
            src["LegacyMeta"] = dict(body["LegacyMeta"])
        entry = self._entries.get("service-intentions", destination) or {
            "Kind": "service-intentions",
            "Name": destination,
            "Sources": [],
        }
        sources = [s for s in entry.get("Sources") or [] if s.get("Name") != source]
        sources.append(src)
        entry["Sources"] = sorted(
            sources, key=lambda s: (-precedence(s.get("Name") or "", destination), s.get("Name") or "")
        )
        self._entries.put(entry)
        return Reply(True)

    def _remove_source(self, destination: str, source: str) -> None:
        entry = self._entries.get("service-intentions", destination)
        if entry is None:
            return
        sources = [s for s in entry.get("Sources") or [] if s.get("Name") != source]
        if len(sources) == len(entry.get("Sources") or []):
            return
        if sources:
            entry["Sources"] = sources
            self._entries.put(entry)
        else:
            self._entries.delete("service-intentions", destination)

    def _intention_check(self, req: FakeRequest) -> Any:
        source, destination = self._source_dest(req)
        require(req, "service", destination, "read")
        allowed: Optional[bool] = None
        for ixn in self.matches("destination", destination):
            if ixn["SourceName"] in (source, "*"):
                # state/intention.go IntentionDecision: L7 permissions
                # cannot be judged from names alone, so they deny.
                allowed = ixn.get("Action") == "allow" and not ixn.get("Permissions")
                break
        if allowed is None:
            acl = self._peers.acl
            allowed = (not acl.enabled) or acl.default_policy == "allow"
        return Reply({"Allowed": allowed})

    def _intention_match(self, req: FakeRequest) -> Any:
        # agent/intentions_endpoint.go IntentionMatch returns plain errors: 500s.
        given = req.getall("by")
        if len(given) != 1:
            raise HTTPError(500, "required query parameter 'by' not set")
        by = given[0]
        if by not in ("source", "destination"):
            raise HTTPError(500, "'by' parameter must be one of 'source' or 'destination'")
        names = req.getall("name")
        if not names:
            raise HTTPError(500, "required query parameter 'name' not set")

        def compute() -> tuple[int, Reply]:
            out = {}
            for name in names:
                out[name] = [
                    i
                    for i in self.matches(by, name)
                    if req.authz.allowed("service", i["DestinationName"], "read")
                ]
            return self._index(), Reply(out, index=self._index())

        return self.core.blocking(req, compute)
