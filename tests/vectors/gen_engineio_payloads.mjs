// Computes the expectations of engineio_payloads.json with the reference Engine.IO codec (engine.io-parser, as
// installed in tests/node_modules). Run from tests/: `node vectors/gen_engineio_payloads.mjs` (`--check`: compare
// only). Each case keeps its inputs; see tagged.mjs.
//
// encode: `packets` → the HTTP long-polling payload, its UTF-8 bytes and length, and the payload decoded back
// (for an empty list the reference never calls back: `callback_called` false, `payload` null).
// decode: `payload` → its UTF-8 bytes and the decoded packets.

import { hex, reference, regenerate, tag, untag, versionOf } from "./tagged.mjs";

const parser = reference("engine.io-parser");

const decoded = (payload) => parser.decodePayload(payload, "nodebuffer").map(tag);

function expect(c) {
  if (c.kind === "encode") {
    let payload = null;
    let called = false;
    parser.encodePayload(untag(c.packets), (encoded) => {
      called = true;
      payload = encoded;
    });
    if (!called) return { callback_called: false, payload: null };
    return {
      payload,
      utf8_hex: hex(Buffer.from(payload, "utf8")),
      content_length: Buffer.byteLength(payload, "utf8"),
      decoded: decoded(payload),
    };
  }
  if (c.kind === "decode") return { utf8_hex: hex(Buffer.from(c.payload, "utf8")), decoded: decoded(c.payload) };
  throw new Error(`${c.id}: unknown kind ${c.kind}`);
}

await regenerate("engineio_payloads.json", `engine.io-parser@${versionOf("engine.io-parser")}`, expect);
