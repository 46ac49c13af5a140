# -*- test-case-name: tests.test_api_modern_templated -*-
"""
ACL templated policies (Consul 1.17+): ``consul.acl.templated_policy``
(py-consul 1.8's ``list``, ``read`` and ``preview``), and the
``templated_policies`` argument that tokens and roles take.

A templated policy is a builtin rule set (``builtin/service``,
``builtin/node``, ``builtin/dns``...) that a token or role links by name,
with its variables (``{'Name': 'web'}``); Consul renders it into a
synthetic policy.  These endpoints need ``acl:read``; they do not block.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from ._base import Endpoint, Request, check_str, endpoint, path_segment

__all__ = ["ACLTemplatedPolicy", "templated_policies"]


def _template_path(name: Any) -> str:
    # Template names hold a slash ("builtin/service"): each segment is escaped.
    text = check_str(name, "name")
    if not text:
        raise ValueError("name must not be empty")
    return "/".join(path_segment(part, "name") for part in text.split("/"))


def _variables(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a dict such as {{'Name': 'web'}}, not {type(value).__name__}")
    out = {}
    for key, item in value.items():
        if str(key).lower() != "name":
            raise ValueError(f"{what} takes only 'Name' (the builtin templates' one variable), not {key!r}")
        out["Name"] = check_str(item, f"{what} Name")
    return out


def templated_policies(items: Any) -> list[dict[str, Any]]:
    """
    Validate a ``templated_policies`` argument: each entry a template name
    (``'builtin/dns'``), a ``(name, variable_name)`` pair
    (``('builtin/service', 'web')``) or a dict as Consul spells it
    (``{'TemplateName': ..., 'TemplateVariables': {'Name': ...},
    'Datacenters': [...]}``).
    """
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise TypeError(
            "templated_policies must be a list of template names, (name, variable) pairs or dicts"
        )
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, (str, bytes)):
            out.append({"TemplateName": check_str(item, "templated_policies entry")})
        elif isinstance(item, tuple):
            if len(item) != 2:
                raise ValueError("templated_policies pairs are (template name, the Name variable)")
            out.append(
                {
                    "TemplateName": check_str(item[0], "templated_policies template name"),
                    "TemplateVariables": {"Name": check_str(item[1], "templated_policies Name")},
                }
            )
        elif isinstance(item, Mapping):
            entry = dict(item)
            if "TemplateName" not in entry:
                raise ValueError("templated_policies entries given as dicts need a 'TemplateName'")
            entry["TemplateName"] = check_str(entry["TemplateName"], "templated_policies TemplateName")
            if entry.get("TemplateVariables") is not None:
                entry["TemplateVariables"] = _variables(entry["TemplateVariables"], "TemplateVariables")
            if entry.get("Datacenters") is not None:
                dcs = entry["Datacenters"]
                if isinstance(dcs, (str, bytes)) or not isinstance(dcs, Iterable):
                    raise TypeError("templated_policies Datacenters must be a list of names")
                entry["Datacenters"] = [check_str(dc, "templated_policies datacenter") for dc in dcs]
            out.append(entry)
        else:
            raise TypeError(
                f"templated_policies entries must be names, (name, variable) pairs or dicts, not {type(item).__name__}"
            )
    return out


class ACLTemplatedPolicy(Endpoint):
    """Templated policies: ``consul.acl.templated_policy`` (also ``templated_policies``)."""

    @endpoint
    def list(self, token: Optional[str] = None) -> Request:
        """Every builtin template: fires with ``{name: {'TemplateName', 'Schema', 'Template', 'Description'}}``."""
        return Request("GET", "/v1/acl/templated-policies")

    @endpoint
    def read(self, name: str, token: Optional[str] = None) -> Request:
        """
        One template by name (``'builtin/service'``): fires with its
        ``TemplateName``, ``Schema`` (JSON Schema text of its variables),
        ``Template`` and ``Description``.  An unknown name fails with
        :class:`~txconsul.BadRequest`, as Consul answers 400.
        """
        return Request("GET", "/v1/acl/templated-policy/name/" + _template_path(name))

    @endpoint
    def preview(
        self,
        name: str,
        template_variables: Optional[Mapping[str, str]] = None,
        token: Optional[str] = None,
    ) -> Request:
        """
        The policy a template renders to with these variables
        (``{'Name': 'web'}``): fires with the synthetic policy (``ID``,
        ``Name``, ``Description``, ``Rules``...).  Missing or invalid
        variables fail with :class:`~txconsul.BadRequest` naming them.
        """
        body = {} if template_variables is None else _variables(template_variables, "template_variables")
        return Request("POST", "/v1/acl/templated-policy/preview/" + _template_path(name), json_body=body)
