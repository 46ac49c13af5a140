"""
Endpoint groups: one module per Consul HTTP API area.
"""

__all__: list[str] = []
