"""
twistd plugins' options and services: ``consul-fake`` and ``consul-watch``.
"""
