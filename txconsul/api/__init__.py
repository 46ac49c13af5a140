"""
Endpoint groups: one module per Consul HTTP API area.
"""
