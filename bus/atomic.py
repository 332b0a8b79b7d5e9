"""An atomic, idempotent batch of Redis writes: one script run, applied once however often it is sent.

The consumer commits each batch's effects this way (live events, the published marks, dead letters, state,
counters and the acknowledgements together). A MULTI/EXEC would be atomic too, but a client that retries it
after losing the connection, which a Cluster client does through a failover, can apply it twice: the
reply is lost, not the transaction. Here every batch carries a random token; the script records the token
with the batch's results, and a batch whose token is already recorded returns those results and changes
nothing. All keys must share one hash slot (bus/keys.py: the ``{cc}`` tag).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import cast

import redis

from bus import keys

TOKEN_KEEP_S = 3600  # longer than any client keeps retrying one call (bus.connection.FAILOVER_BUDGET_S)
CHUNK = 1000  # arguments per command: Lua's unpack() has a stack limit of about 8,000

_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('GET', KEYS[1]) end
local ids = {}
for _, op in ipairs(cjson.decode(ARGV[2])) do
  local command, key, args = op[1], KEYS[op[2]], op[3]
  if command == 'XADD' then
    ids[#ids + 1] = redis.call('XADD', key, 'MAXLEN', '~', args[1], '*', unpack(args, 2))
  else
    redis.call(command, key, unpack(args))
  end
end
local reply = cjson.encode(ids)
redis.call('SET', KEYS[1], reply, 'EX', ARGV[1])
return reply
"""


@dataclass
class AtomicBatch:
    """Writes collected in order, then applied by :meth:`apply` in one script run."""

    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    _keys: list[str] = field(default_factory=list)
    _ops: list[tuple[str, int, list[str]]] = field(default_factory=list)

    def _key(self, key: str) -> int:
        if key not in self._keys:
            self._keys.append(key)
        return self._keys.index(key) + 2  # KEYS[1] is the token's

    def xadd(self, stream: str, fields: dict[str, str], maxlen: int | None = None) -> None:
        """Append an entry; its id is among :meth:`apply`'s results, in the order of the XADDs."""
        args = [str(maxlen or keys.maxlen(stream))]
        for name, value in fields.items():
            args += [name, value]
        self._ops.append(("XADD", self._key(stream), args))

    def hset(self, key: str, mapping: dict[str, str]) -> None:
        self._pairs("HSET", key, list(mapping.items()))

    def zadd(self, key: str, scores: dict[str, float]) -> None:
        self._pairs("ZADD", key, [(repr(score), member) for member, score in scores.items()])

    def hincrby(self, key: str, name: str, amount: int) -> None:
        self._ops.append(("HINCRBY", self._key(key), [name, str(amount)]))

    def xack(self, stream: str, group: str, ids: list[str]) -> None:
        for start in range(0, len(ids), CHUNK):
            self._ops.append(("XACK", self._key(stream), [group, *ids[start:start + CHUNK]]))

    def _pairs(self, command: str, key: str, items: list[tuple[str, str]]) -> None:
        index = self._key(key)
        for start in range(0, len(items), CHUNK // 2):
            args: list[str] = []
            for first, second in items[start:start + CHUNK // 2]:
                args += [first, second]
            self._ops.append((command, index, args))

    def __bool__(self) -> bool:
        return bool(self._ops)

    def apply(self, r: redis.Redis) -> list[str]:
        """Run the batch (once, whatever retries carry it); the ids of its XADDs, in order."""
        script = r.register_script(_SCRIPT)
        reply = script(keys=[keys.BATCH_TOKEN + self.token, *self._keys],
                       args=[TOKEN_KEEP_S, json.dumps(self._ops, ensure_ascii=False)])
        ids = json.loads(cast(str, reply))
        return [str(i) for i in ids] if isinstance(ids, list) else []  # cjson writes an empty list as {}

