// Computes the expectations of engineio_packets.json with the reference Engine.IO codec (engine.io-parser, as
// installed in tests/node_modules). Run from tests/: `node vectors/gen_engineio_packets.mjs` (`--check`: compare
// only). Each case keeps its inputs; see tagged.mjs.
//
// packet: `packet` → its WebSocket frame, its polling text, each decoded back, and its WebTransport bytes.
// decode: `input` (a string: a text frame; $bytes: a binary frame) → the decoded packet.
// webtransport_decode: `input_hex` fed to the WebTransport decoder stream with `max_payload` → its packets.

import { hex, reference, regenerate, tag, untag, versionOf } from "./tagged.mjs";

const parser = reference("engine.io-parser");

function encode(packet, supportsBinary) {
  let out;
  parser.encodePacket(packet, supportsBinary, (encoded) => {
    out = encoded;
  });
  if (out === undefined) throw new Error("encodePacket did not answer synchronously");
  return out;
}

const decode = (data) => tag(parser.decodePacket(data, "nodebuffer"));

async function throughStream(stream, chunks) {
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const out = [];
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      out.push(value);
    }
  })();
  for (const chunk of chunks) await writer.write(chunk);
  await writer.close();
  await reading;
  return out;
}

async function expect(c) {
  if (c.kind === "packet") {
    const packet = untag(c.packet);
    const frame = encode(packet, true);
    const polling = encode(packet, false);
    const websocket =
      typeof frame === "string"
        ? { frame: "text", text: frame, utf8_hex: hex(Buffer.from(frame, "utf8")) }
        : { frame: "binary", hex: hex(frame) };
    const webtransport = await throughStream(parser.createPacketEncoderStream(), [packet]);
    return {
      websocket,
      polling,
      decoded_from_websocket: decode(frame),
      decoded_from_polling: decode(polling),
      webtransport_hex: webtransport.map(hex).join(""),
    };
  }
  if (c.kind === "decode") return { decoded: decode(untag(c.input)) };
  if (c.kind === "webtransport_decode") {
    const stream = parser.createPacketDecoderStream(c.max_payload, "nodebuffer");
    const packets = await throughStream(stream, [new Uint8Array(Buffer.from(c.input_hex, "hex"))]);
    return { decoded: packets.map(tag) };
  }
  throw new Error(`${c.id}: unknown kind ${c.kind}`);
}

await regenerate("engineio_packets.json", `engine.io-parser@${versionOf("engine.io-parser")}`, expect);
