"""emcache_hashing: which memcached node owns a key.

:class:`Rendezvous` routes keys exactly as the emcache 1.x client does, over
nodes named by plain strings. Three more hashers route keys as other clients
of the same cluster do: :class:`Ketama` as libmemcached and pylibmc,
:class:`PymemcacheRendezvous` as pymemcache's ``HashClient`` and
:class:`Crc32Modulo` as gomemcache; :class:`Server` tells the first two the
host and port they hash. :class:`Hasher` is the protocol any node selector
implements. The package depends on mmh3 alone.
"""

from emcache_hashing.__about__ import __version__
from emcache_hashing._hasher import Hasher
from emcache_hashing._ketama import Ketama
from emcache_hashing._modulo import Crc32Modulo
from emcache_hashing._pymemcache import PymemcacheRendezvous
from emcache_hashing._rendezvous import Rendezvous
from emcache_hashing._servers import Server
from emcache_hashing.errors import NoNodesError

__all__ = [
    "Crc32Modulo",
    "Hasher",
    "Ketama",
    "NoNodesError",
    "PymemcacheRendezvous",
    "Rendezvous",
    "Server",
    "__version__",
]

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("emcache_hashing."):
        _obj.__module__ = __name__
del _name, _obj
