// Computes the expectations of cluster_messages.json with the codecs the reference cluster adapters use, as
// installed in tests/node_modules: notepack.io 3 (the redis adapter's and the redis emitter's own copies) and
// @msgpack/msgpack (the redis streams adapter's). Run from tests/: `node vectors/gen_cluster_messages.mjs`
// (`--check`: compare only). Each case keeps its inputs; see tagged.mjs.
//
// codec: `value` through both codecs → their bytes and those bytes decoded again (or the error encoding threw).
// classic / emitter: `value` published on `channel` as `encoding` → msgpack: notepack's bytes, decoded again;
// json: the JSON text.
// cluster: a ClusterAdapter message `value` → @msgpack/msgpack's bytes (the streams adapter's pub/sub payload),
// notepack's too when the sharded redis adapter would use it (binary data in a type that may carry some),
// else the sharded adapter's JSON text; the streams adapter's XADD fields for a message it puts on its stream;
// and `usage`, which of these each adapter sends.
// streams_session: a session the streams adapter persists → its @msgpack/msgpack bytes, decoded, and base64.

import { errorOf, hex, reference, regenerate, tag, untag, versionOf } from "./tagged.mjs";

const notepack = reference("notepack.io", "@socket.io/redis-adapter");
const emitterNotepack = reference("notepack.io", "@socket.io/redis-emitter");
const msgpack = reference("@msgpack/msgpack");
const { hasBinary } = reference("@socket.io/redis-streams-adapter/dist/util");
const { MessageType } = reference("socket.io-adapter");

const NOTEPACK = `notepack.io@${versionOf("notepack.io", "@socket.io/redis-adapter")}`;
const MSGPACK = `@msgpack/msgpack@${versionOf("@msgpack/msgpack")}`;
if (versionOf("notepack.io", "@socket.io/redis-emitter") !== versionOf("notepack.io", "@socket.io/redis-adapter")) {
  throw new Error("the redis adapter and the redis emitter use different notepack.io versions");
}

/** The message types both redis adapters check for binary data before choosing an encoding. */
const MAY_CARRY_BINARY = [
  MessageType.BROADCAST,
  MessageType.BROADCAST_ACK,
  MessageType.FETCH_SOCKETS_RESPONSE,
  MessageType.SERVER_SIDE_EMIT,
  MessageType.SERVER_SIDE_EMIT_RESPONSE,
];
/** The requests the streams adapter puts on its stream; the rest of what it publishes goes over pub/sub. */
const ON_THE_STREAM = [
  MessageType.BROADCAST,
  MessageType.SOCKETS_JOIN,
  MessageType.SOCKETS_LEAVE,
  MessageType.DISCONNECT_SOCKETS,
];

const bytesOf = (encoded) => Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);

function codecs(value, list) {
  const encodings = {};
  const decoded = {};
  const errors = {};
  for (const [name, codec] of list) {
    try {
      const bytes = bytesOf(codec.encode(value));
      encodings[name] = hex(bytes);
      decoded[name] = tag(codec.decode(bytes));
    } catch (e) {
      errors[name] = errorOf(e);
    }
  }
  return { encodings, decoded, errors };
}

function expect(c) {
  const value = untag(c.value);
  if (c.kind === "codec") {
    const { encodings, decoded, errors } = codecs(value, [
      [NOTEPACK, notepack],
      [MSGPACK, msgpack],
    ]);
    return { encodings, decoded, encode_errors: Object.keys(errors).length ? errors : undefined };
  }
  if (c.kind === "classic" || c.kind === "emitter") {
    if (c.encoding === "json") return { json: JSON.stringify(value) };
    const { encodings, decoded } = codecs(value, [[NOTEPACK, c.kind === "classic" ? notepack : emitterNotepack]]);
    return { encodings, decoded };
  }
  if (c.kind === "cluster") {
    const binary = MAY_CARRY_BINARY.includes(value.type) && hasBinary(value.data);
    const ephemeral = value.type === MessageType.BROADCAST && value.data?.requestId !== undefined;
    const onTheStream = ON_THE_STREAM.includes(value.type) && !ephemeral;
    const { encodings, decoded } = codecs(value, binary ? [[NOTEPACK, notepack], [MSGPACK, msgpack]] : [[MSGPACK, msgpack]]);
    const fields = { encodings, decoded, json: binary ? null : JSON.stringify(value), streams_xadd_fields: undefined };
    if (onTheStream) {
      const entry = [["uid", value.uid], ["nsp", value.nsp], ["type", String(value.type)]];
      if (value.data) {
        const data = binary ? bytesOf(msgpack.encode(value.data)).toString("base64") : JSON.stringify(value.data);
        entry.push(["data", data]);
      }
      fields.streams_xadd_fields = entry;
    }
    const sharded = binary ? `notepack (${NOTEPACK})` : "JSON text";
    const streams = onTheStream ? "XADD entry (streams_xadd_fields)" : `pub/sub payload ${MSGPACK}`;
    fields.usage = `sharded redis adapter: ${sharded}; redis streams adapter: ${streams}`;
    return fields;
  }
  if (c.kind === "streams_session") {
    const { encodings, decoded } = codecs(value, [[MSGPACK, msgpack]]);
    return { encodings, decoded, base64: Buffer.from(encodings[MSGPACK], "hex").toString("base64") };
  }
  throw new Error(`${c.id}: unknown kind ${c.kind}`);
}

await regenerate("cluster_messages.json", `${NOTEPACK}, ${MSGPACK}`, expect);
