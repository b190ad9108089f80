// Computes the expectations of socketio_msgpack_packets.json with the reference MessagePack parser
// (socket.io-msgpack-parser and the notepack.io it uses, as installed in tests/node_modules). Run from tests/:
// `node vectors/gen_socketio_msgpack_packets.mjs` (`--check`: compare only). Each case keeps its inputs; see
// tagged.mjs.
//
// encode: `value` (a packet) → its bytes, the polling form of that binary message ("b" + base64) and those bytes
// fed to a new Decoder (the packets it emitted, or the error it threw).
// decode / decode_error: `input_hex` (a binary message) or `input_text` (a text one) → the same.

import { hex, reference, regenerate, tag, untag, versionOf } from "./tagged.mjs";

const { Encoder, Decoder } = reference("socket.io-msgpack-parser");
const notepack = `notepack.io@${versionOf("notepack.io")}`;

function feed(input) {
  const decoder = new Decoder();
  const decoded = [];
  decoder.on("decoded", (packet) => decoded.push(tag(packet)));
  try {
    decoder.add(input);
  } catch (e) {
    return { decoded, error: { name: e.name, message: e.message } };
  }
  return { decoded, error: null };
}

function expect(c) {
  if (c.kind === "encode") {
    const [bytes] = new Encoder().encode(untag(c.value));
    const { decoded, error } = feed(bytes);
    return {
      encodings: { [notepack]: hex(bytes) },
      polling: `b${Buffer.from(bytes).toString("base64")}`,
      decoded,
      decode_error: error,
    };
  }
  if (c.kind === "decode" || c.kind === "decode_error") {
    return feed(c.input_text ?? Buffer.from(c.input_hex, "hex"));
  }
  throw new Error(`${c.id}: unknown kind ${c.kind}`);
}

const parser = `socket.io-msgpack-parser@${versionOf("socket.io-msgpack-parser")}`;
await regenerate("socketio_msgpack_packets.json", `${parser} (${notepack})`, expect);
