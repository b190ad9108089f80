"""Values written and read the way a JavaScript peer does: the codecs the parsers and the cluster adapters share.

* :mod:`aiosocketio.codecs.errors` - the two codec errors (:class:`~aiosocketio.codecs.errors.EncodeError`,
  :class:`~aiosocketio.codecs.errors.DecodeError`).
* :mod:`aiosocketio.codecs.js_values` - what JavaScript makes of a Python value: ``undefined``
  (:data:`~aiosocketio.codecs.js_values.UNDEFINED`), property names, key order, number text, dates.
* :mod:`aiosocketio.codecs.js_json` - JSON text as ``JSON.stringify`` writes it and ``JSON.parse`` reads it.
* :mod:`aiosocketio.codecs.js_msgpack` - MessagePack as notepack.io 3 and @msgpack/msgpack write and read it
  (needs the ``msgpack`` package; nothing imports it unless a cluster adapter or the emitter is used).

Layering: these modules import nothing else of aiosocketio but :mod:`aiosocketio.exceptions`; the parsers
(:mod:`aiosocketio.parsers`) and the cluster messages (:mod:`aiosocketio.adapters.messages`) build on them.
This package imports none of its modules itself, so importing one never loads ``msgpack``. All of them are
pure: no asyncio, sockets or clocks.
"""
