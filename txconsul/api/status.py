"""placeholder"""
from ._base import Endpoint
class Status(Endpoint):
    """placeholder"""
