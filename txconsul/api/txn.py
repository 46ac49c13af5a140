"""placeholder"""
from ._base import Endpoint
class Txn(Endpoint):
    """placeholder"""
