"""placeholder"""
from ._base import Endpoint
class Session(Endpoint):
    """placeholder"""
