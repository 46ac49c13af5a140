# -*- test-case-name: tests.test_api_modern_agent -*-
"""
The agent's newer groups: ``consul.agent.token`` (``/v1/agent/token/``) and
``consul.agent.connect`` (``/v1/agent/connect/``), named after py-consul's
``Agent.Token`` and ``Agent.Connect``.

Agent endpoints answer from the agent itself: they take no ``dc``.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.internet.defer import Deferred

from .._duration import DurationLike
from .._http import ConsulResponse
from ._base import Endpoint, check_str, decode_json, decode_true, path_segment

#: The token kinds ``PUT /v1/agent/token/<type>`` accepts (agent/agent_endpoint.go
#: ``AgentToken``; ``acl_token``, ``acl_agent_token``, ``agent_master``... are
#: older spellings Consul still accepts, sent through :meth:`AgentToken.set` as is).
TOKEN_TYPES = frozenset(
    {
        "default",
        "agent",
        "agent_recovery",
        "replication",
        "config_file_service_registration",
        "acl_token",
        "acl_agent_token",
        "acl_agent_master_token",
        "agent_master",
        "acl_replication_token",
    }
)


def data_or_meta(d: "Deferred[tuple[Any, Any]]", meta: bool) -> "Deferred[Any]":
    """
    Shape a blocking read for methods that py-consul returns as data only:
    the data alone, or ``(QueryMeta, data)`` with ``meta=True``.
    """
    if meta:
        return d
    return d.addCallback(lambda pair: pair[1])


class AgentToken(Endpoint):
    """
    Set the ACL tokens the local agent uses (``PUT /v1/agent/token/<type>``),
    as py-consul's ``consul.agent.token``.  Every call needs ``agent:write``
    and fails with :class:`~txconsul.ACLDisabled` when ACLs are off.
    """

    #: The accepted ``token_type`` values.
    VALID_TOKEN_TYPES = TOKEN_TYPES

    def set(self, token_type: str, secret: str, token: Optional[str] = None) -> "Deferred[bool]":
        """
        Set the agent's ``token_type`` token to ``secret`` (``''`` clears
        it); fires ``True``.

        :param token_type: ``'default'``, ``'agent'``, ``'agent_recovery'``,
            ``'replication'`` or ``'config_file_service_registration'``.
        :raises ValueError: for another type, before any request.
        """
        token_type = check_str(token_type, "token_type")
        if token_type not in TOKEN_TYPES:
            raise ValueError(
                f"invalid token_type {token_type!r}: use one of "
                "'default', 'agent', 'agent_recovery', 'replication', "
                "'config_file_service_registration'"
            )
        secret = check_str(secret, "secret", allow_empty=True)
        return self._transport.request(
            "PUT",
            "/v1/agent/token/" + token_type,
            json_body={"Token": secret},
            token=token,
            use_dc=False,
        ).addCallback(decode_true)

    def set_default(self, secret: str, token: Optional[str] = None) -> "Deferred[bool]":
        """Set the default token (used for requests that carry none)."""
        return self.set("default", secret, token)

    def set_agent(self, secret: str, token: Optional[str] = None) -> "Deferred[bool]":
        """Set the token of the agent's own operations (anti-entropy...)."""
        return self.set("agent", secret, token)

    def set_agent_recovery(self, secret: str, token: Optional[str] = None) -> "Deferred[bool]":
        """Set the agent recovery token (``agent_master`` before Consul 1.11)."""
        return self.set("agent_recovery", secret, token)

    def set_replication(self, secret: str, token: Optional[str] = None) -> "Deferred[bool]":
        """Set the ACL replication token."""
        return self.set("replication", secret, token)

    def set_config_file_service_registration(self, secret: str, token: Optional[str] = None) -> "Deferred[bool]":
        """Set the token of services registered from configuration files."""
        return self.set("config_file_service_registration", secret, token)


class AgentConnectCA(Endpoint):
    """The agent's Connect CA view: ``consul.agent.connect.ca``."""

    def roots(
        self,
        *,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        token: Optional[str] = None,
        meta: bool = False,
    ) -> "Deferred[Any]":
        """
        The trusted CA roots, from the agent's cache: ``{'ActiveRootID',
        'TrustDomain', 'Roots': [{'ID', 'Name', 'RootCert', 'Active', ...}]}``.

        Blocking: pass ``index`` (with ``meta=True`` the call fires with
        ``(QueryMeta, data)``, whose ``.index`` is the next ``index``).
        """
        d = self._read(
            "/v1/agent/connect/ca/roots",
            decode_json,
            index=index,
            wait=wait,
            token=token,
            meta=True,
        )
        return data_or_meta(d, meta)

    def leaf(
        self,
        service: str,
        token: Optional[str] = None,
        *,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        meta: bool = False,
    ) -> "Deferred[Any]":
        """
        A leaf certificate for ``service`` (a service *name*), signed by the
        active root: ``{'SerialNumber', 'CertPEM', 'PrivateKeyPEM',
        'Service', 'ServiceURI', 'ValidAfter', 'ValidBefore', ...}``.
        Needs ``service:write`` on the service.

        Blocking: pass ``index`` (and ``meta=True`` to get the
        ``(QueryMeta, data)`` pair); it answers when the certificate is
        renewed or the root rotates.
        """
        d = self._read(
            "/v1/agent/connect/ca/leaf/" + path_segment(service, "service"),
            decode_json,
            index=index,
            wait=wait,
            token=token,
            meta=True,
        )
        return data_or_meta(d, meta)


class AgentConnect(Endpoint):
    """Agent Connect endpoints: ``consul.agent.connect``."""

    def __init__(self, transport: Any) -> None:
        super().__init__(transport)
        #: CA roots and leaf certificates (:class:`AgentConnectCA`).
        self.ca = AgentConnectCA(transport)

    def authorize(
        self,
        target: str,
        client_cert_uri: str,
        client_cert_serial: str,
        token: Optional[str] = None,
    ) -> "Deferred[dict[str, Any]]":
        """
        Whether a client presenting ``client_cert_uri`` (a SPIFFE service
        URI such as ``spiffe://<trust-domain>/ns/default/dc/dc1/svc/web``)
        may connect to ``target``, by the intentions: ``{'Authorized':
        bool, 'Reason': str}``.  Needs ``service:write`` on ``target``.
        """
        body = {
            "Target": check_str(target, "target"),
            "ClientCertURI": check_str(client_cert_uri, "client_cert_uri"),
            "ClientCertSerial": check_str(client_cert_serial, "client_cert_serial", allow_empty=True),
        }
        # agent/http_register.go registers the endpoint for POST only.
        return self._transport.request(
            "POST", "/v1/agent/connect/authorize", json_body=body, token=token, use_dc=False
        ).addCallback(decode_json)


def decode_text(response: ConsulResponse) -> str:
    """The body as UTF-8 text."""
    return response.body.decode("utf-8", "replace")


