"""emcache_protocol: the memcached text protocol, sans I/O.

Encoders validate their arguments and return a typed :class:`Request` (its bytes,
and the reply it expects); a :class:`ResponseParser` turns received bytes into
the typed reply of each request. Nothing here
touches a socket, an event loop or a clock.

:data:`COMPILED` tells whether the reply parser runs compiled: the wheel built
with ``HATCH_BUILD_HOOK_ENABLE_MYPYC=1`` compiles it with mypyc from this same
source; the default wheel is pure Python.
"""

from emcache_protocol.__about__ import __version__
from emcache_protocol._commands import (
    MAX_COMMAND_LINE,
    auth_command,
    cache_memlimit_command,
    config_get_cluster_command,
    delete_command,
    flush_all_command,
    incr_decr_command,
    retrieval_command,
    retrieval_commands,
    stats_command,
    storage_command,
    touch_command,
    verbosity_command,
    version_command,
)
from emcache_protocol._keys import MAX_KEY_LENGTH, validate_key
from emcache_protocol._meta_batch import command_ends, meta_batch_command, meta_noop_command
from emcache_protocol._meta_commands import (
    MAX_BINARY_KEY_LENGTH,
    MAX_OPAQUE_LENGTH,
    MetaArithmeticMode,
    MetaSetMode,
    meta_arithmetic_command,
    meta_delete_command,
    meta_get_command,
    meta_set_command,
)
from emcache_protocol._meta_replies import MetaResult, MetaStatus
from emcache_protocol._parser import ResponseParser
from emcache_protocol._replies import (
    NEED_DATA,
    ClusterConfig,
    ConfigNode,
    ErrorReply,
    NeedData,
    ReplyKind,
    StatsReply,
    Status,
    Value,
    VersionReply,
)
from emcache_protocol._requests import (
    ConfigRequest,
    IncrDecrRequest,
    MetaBatchRequest,
    MetaNoopRequest,
    MetaRequest,
    Request,
    RetrievalRequest,
    StatsRequest,
    StatusRequest,
    VersionRequest,
)
from emcache_protocol._scan import COMPILED
from emcache_protocol.errors import ProtocolError, ProtocolValidationError

__all__ = [  # noqa: RUF022 - plain sorted(), as test_public_api checks
    "COMPILED",
    "ClusterConfig",
    "ConfigNode",
    "ConfigRequest",
    "ErrorReply",
    "IncrDecrRequest",
    "MAX_BINARY_KEY_LENGTH",
    "MAX_COMMAND_LINE",
    "MAX_KEY_LENGTH",
    "MAX_OPAQUE_LENGTH",
    "MetaArithmeticMode",
    "MetaBatchRequest",
    "MetaNoopRequest",
    "MetaRequest",
    "MetaResult",
    "MetaSetMode",
    "MetaStatus",
    "NEED_DATA",
    "NeedData",
    "ProtocolError",
    "ProtocolValidationError",
    "ReplyKind",
    "Request",
    "ResponseParser",
    "RetrievalRequest",
    "StatsReply",
    "StatsRequest",
    "Status",
    "StatusRequest",
    "Value",
    "VersionReply",
    "VersionRequest",
    "__version__",
    "auth_command",
    "cache_memlimit_command",
    "command_ends",
    "config_get_cluster_command",
    "delete_command",
    "flush_all_command",
    "incr_decr_command",
    "meta_arithmetic_command",
    "meta_batch_command",
    "meta_delete_command",
    "meta_get_command",
    "meta_noop_command",
    "meta_set_command",
    "retrieval_command",
    "retrieval_commands",
    "stats_command",
    "storage_command",
    "touch_command",
    "validate_key",
    "verbosity_command",
    "version_command",
]

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("emcache_protocol."):
        _obj.__module__ = __name__
del _name, _obj
