"""
The benchmark workloads (standard library only): what each client calls, what
the canned server answers, and how an answer is checked.

Every client with python-consul's API (txconsul, python-consul, py-consul)
runs the same calls; the floor client sends the same requests as raw bytes
and only decodes the JSON, so its answers are checked on the raw shapes.

=============  ===========================================  =================
workload       call                                          answer
=============  ===========================================  =================
kv_get         ``kv.get('foo')``                             1 key, 93 bytes
kv_put         ``kv.put('foo', 'bar')``                      ``true``
health         ``health.service('web', passing=True)``       1 instance
kv_recurse     ``kv.get('big/', recurse=True)``              1,000 keys
health100      ``health.service('big', passing=True)``       100 instances
=============  ===========================================  =================
"""

import base64
import json

WORKLOADS = ("kv_get", "kv_put", "health", "kv_recurse", "health100")

INDEX = 42
_HEADERS = [
    ("Content-Type", "application/json"),
    ("X-Consul-Index", "42"),
    ("X-Consul-KnownLeader", "true"),
    ("X-Consul-LastContact", "0"),
]


def _kv(key, value, index):
    return {
        "LockIndex": 0,
        "Key": key,
        "Flags": 0,
        "Value": base64.b64encode(value).decode("ascii"),
        "CreateIndex": index,
        "ModifyIndex": index,
    }


def _instance(service, i):
    """One health entry, shaped like Consul 1.x's (about 1.3 KB of JSON)."""
    node = f"node-{i:04d}"
    addr = f"10.0.{i // 250}.{i % 250 + 1}"
    return {
        "Node": {
            "ID": f"{i:08x}-1111-2222-3333-444455556666",
            "Node": node,
            "Address": addr,
            "Datacenter": "dc1",
            "TaggedAddresses": {"lan": addr, "wan": addr},
            "Meta": {"consul-network-segment": ""},
            "CreateIndex": 5,
            "ModifyIndex": 6,
        },
        "Service": {
            "ID": f"{service}-{i}",
            "Service": service,
            "Tags": ["v1", "primary"],
            "Address": addr,
            "Meta": {"version": "1.2.3"},
            "Port": 8080,
            "Weights": {"Passing": 1, "Warning": 1},
            "EnableTagOverride": False,
            "CreateIndex": 7,
            "ModifyIndex": 7,
        },
        "Checks": [
            {
                "Node": node,
                "CheckID": "serfHealth",
                "Name": "Serf Health Status",
                "Status": "passing",
                "Notes": "",
                "Output": "Agent alive and reachable",
                "ServiceID": "",
                "ServiceName": "",
                "ServiceTags": [],
                "Type": "",
                "CreateIndex": 5,
                "ModifyIndex": 5,
            },
            {
                "Node": node,
                "CheckID": f"service:{service}-{i}",
                "Name": f"Service '{service}' check",
                "Status": "passing",
                "Notes": "",
                "Output": "HTTP GET http://localhost:8080/health: 200 OK",
                "ServiceID": f"{service}-{i}",
                "ServiceName": service,
                "ServiceTags": ["v1", "primary"],
                "Type": "http",
                "CreateIndex": 8,
                "ModifyIndex": 9,
            },
        ],
    }


def _compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


#: (method, path) -> body the canned server answers (with _HEADERS).
ROUTES = {
    ("GET", "/v1/kv/foo"): _compact([_kv("foo", b"bar", INDEX)]),
    ("PUT", "/v1/kv/foo"): b"true",
    ("GET", "/v1/health/service/web"): _compact([_instance("web", 0)]),
    ("GET", "/v1/kv/big/"): _compact(
        [_kv(f"big/key-{i:04d}", b"value-%04d" % i, INDEX) for i in range(1000)]
    ),
    ("GET", "/v1/health/service/big"): _compact([_instance("big", i) for i in range(100)]),
}

#: workload -> (method, path with query, body) the floor client sends.
REQUESTS = {
    "kv_get": ("GET", "/v1/kv/foo", None),
    "kv_put": ("PUT", "/v1/kv/foo", b"bar"),
    "health": ("GET", "/v1/health/service/web?passing=1", None),
    "kv_recurse": ("GET", "/v1/kv/big/?recurse=1", None),
    "health100": ("GET", "/v1/health/service/big?passing=1", None),
}


def headers():
    """The canned answer's headers, as (name, value) pairs."""
    return list(_HEADERS)


def call(client, workload):
    """Issue ``workload``'s call on a client with python-consul's API."""
    if workload == "kv_get":
        return client.kv.get("foo")
    if workload == "kv_put":
        return client.kv.put("foo", "bar")
    if workload == "health":
        return client.health.service("web", passing=True)
    if workload == "kv_recurse":
        return client.kv.get("big/", recurse=True)
    if workload == "health100":
        return client.health.service("big", passing=True)
    raise ValueError(workload)


_SIZES = {"health": 1, "kv_recurse": 1000, "health100": 100}


def check(workload, result, raw=False):
    """
    Raise unless ``result`` is the canned answer.  ``raw``: the floor client's
    ``(index, json)`` without base64 decoding.
    """
    if workload == "kv_put":
        if result is not True:
            raise AssertionError(f"kv_put: {result!r}")
        return
    index, data = result
    if int(index) != INDEX:
        raise AssertionError(f"{workload}: index {index!r}")
    if workload == "kv_get":
        if isinstance(data, list) and raw:
            data = data[0]
        want = "YmFy" if raw else b"bar"
        if data is None or data.get("Value") != want:
            raise AssertionError(f"kv_get: {data!r}")
        return
    if not isinstance(data, list) or len(data) != _SIZES[workload]:
        raise AssertionError(f"{workload}: {type(data).__name__} of {len(data or ())}")
    if workload == "kv_recurse":
        want = "dmFsdWUtMDAwMA==" if raw else b"value-0000"
        if data[0]["Value"] != want:
            raise AssertionError(f"kv_recurse: {data[0]!r}")
