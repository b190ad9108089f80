// Computes the expectations of socketio_packets.json with the reference Socket.IO codec (socket.io-parser, as
// installed in tests/node_modules). Run from tests/: `node vectors/gen_socketio_packets.mjs` (`--check`: compare
// only). Each case keeps its inputs; see tagged.mjs.
//
// encode: `packet` → the Encoder's output (a header string, then the attachments), its UTF-8 bytes when it is not
// ASCII, the WebSocket frames that carry it (Engine.IO "4" before text), and those frames fed to a new Decoder.
// decode / decode_error: `inputs` fed one by one to a Decoder (built with `decoder_options`, if any) → the packets
// it emitted, the first error it threw (with the index of the input) and whether it still awaits attachments.

import { hex, reference, regenerate, tag, untag, versionOf } from "./tagged.mjs";

const { Encoder, Decoder } = reference("socket.io-parser");

function feed(inputs, options) {
  const decoder = new Decoder(options);
  const decoded = [];
  decoder.on("decoded", (packet) => decoded.push(tag(packet)));
  let error = null;
  for (const [index, input] of inputs.entries()) {
    try {
      decoder.add(input);
    } catch (e) {
      error = { input_index: index, name: e.name, message: e.message };
      break;
    }
  }
  return { decoded, error, awaiting_attachments: !error && Boolean(decoder.reconstructor) };
}

function expect(c) {
  if (c.kind === "encode") {
    const encoded = new Encoder().encode(untag(c.packet));
    const fields = { encoded: encoded.map(tag), encoded_utf8_hex: undefined };
    if (/[^\x00-\x7f]/.test(encoded[0])) fields.encoded_utf8_hex = hex(Buffer.from(encoded[0], "utf8"));
    fields.wire_websocket = encoded.map((part) =>
      typeof part === "string" ? { frame: "text", text: `4${part}` } : { frame: "binary", hex: hex(part) },
    );
    // What the WebSocket frames bring to a Node server: the text, and each attachment as a Buffer.
    fields.roundtrip = feed(encoded.map((part) => (typeof part === "string" ? part : Buffer.from(hex(part), "hex"))));
    return fields;
  }
  if (c.kind === "decode" || c.kind === "decode_error") return feed(untag(c.inputs), c.decoder_options);
  throw new Error(`${c.id}: unknown kind ${c.kind}`);
}

await regenerate("socketio_packets.json", `socket.io-parser@${versionOf("socket.io-parser")}`, expect);
